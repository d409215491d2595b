//! Changes to the file: data writes and resizes, new datasets, groups, links
//! and attributes. Every function is one locked sequence of libhdf5 calls that
//! either completes or fails with nothing changed (where libhdf5 allows).

use std::ffi::CString;
use std::os::raw::c_void;

use hdf5::globals as g;
use hdf5_sys::h5::hsize_t;
use hdf5_sys::h5a::*;
use hdf5_sys::h5d::*;
use hdf5_sys::h5f::*;
use hdf5_sys::h5g::H5Gcreate2;
use hdf5_sys::h5i::hid_t;
use hdf5_sys::h5l::*;
use hdf5_sys::h5p::*;
use hdf5_sys::h5s::*;
use hdf5_sys::h5t::{
    hvl_t, H5T_class_t, H5Tarray_create2, H5Tcopy, H5Tcreate, H5Tenum_create, H5Tenum_insert,
    H5Tinsert, H5Tset_tag, H5Tvlen_create,
};
use hdf5_sys::h5z::H5Z_FLAG_OPTIONAL;

use super::handle::{check, locked, ErrorKind, H5Error, Hid, Result};
use super::object::{Dataset, H5File, Loc};
use super::types::{cstring, memory_type, ByteOrder, TypeDesc};

/// LZF's registered filter number (h5py's built-in compressor).
const LZF_FILTER: i32 = 32000;

/// Element data to write, in the memory layout h5py would use.
#[derive(Debug, Clone, PartialEq)]
pub enum ElementData {
    /// Fixed-size elements packed back to back.
    Fixed(Vec<u8>),
    /// Variable-length strings, one per element.
    Strings(Vec<Vec<u8>>),
    /// Variable-length sequences: each element's items, packed in the base type's layout.
    Sequences(Vec<Vec<u8>>),
}

impl ElementData {
    fn count(&self, itemsize: usize) -> usize {
        match self {
            ElementData::Fixed(b) => b.len() / itemsize.max(1),
            ElementData::Strings(v) | ElementData::Sequences(v) => v.len(),
        }
    }
}

/// What a new dataset looks like.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateSpec {
    pub ty: TypeDesc,
    /// None for a null dataspace.
    pub shape: Option<Vec<u64>>,
    /// None entries are unlimited.
    pub maxshape: Vec<Option<u64>>,
    pub chunks: Option<Vec<u64>>,
    pub gzip: Option<u32>,
    pub lzf: bool,
    pub shuffle: bool,
    /// The fill value in the memory layout of `ty`.
    pub fill: Option<Vec<u8>>,
}

fn show(path: &[u8]) -> String {
    String::from_utf8_lossy(path).into_owned()
}

fn c_path(path: &[u8]) -> Result<CString> {
    CString::new(path.to_vec())
        .map_err(|_| H5Error::new(ErrorKind::Other, "name contains a NUL byte"))
}

/// The datatype to store `ty` with in a new dataset or attribute.
pub(crate) unsafe fn creation_type(ty: &TypeDesc) -> Result<Hid> {
    let copy = |t: hid_t| Hid::new("H5Tcopy", H5Tcopy(t));
    match ty {
        TypeDesc::Int {
            size,
            signed,
            order,
        } => {
            let be = *order == ByteOrder::Big;
            let t = match (size, signed, be) {
                (1, true, _) => *g::H5T_STD_I8LE,
                (1, false, _) => *g::H5T_STD_U8LE,
                (2, true, false) => *g::H5T_STD_I16LE,
                (2, true, true) => *g::H5T_STD_I16BE,
                (2, false, false) => *g::H5T_STD_U16LE,
                (2, false, true) => *g::H5T_STD_U16BE,
                (4, true, false) => *g::H5T_STD_I32LE,
                (4, true, true) => *g::H5T_STD_I32BE,
                (4, false, false) => *g::H5T_STD_U32LE,
                (4, false, true) => *g::H5T_STD_U32BE,
                (8, true, false) => *g::H5T_STD_I64LE,
                (8, true, true) => *g::H5T_STD_I64BE,
                (8, false, false) => *g::H5T_STD_U64LE,
                (8, false, true) => *g::H5T_STD_U64BE,
                _ => {
                    return Err(H5Error::new(
                        ErrorKind::Unsupported,
                        format!("{size}-byte integer"),
                    ))
                }
            };
            copy(t)
        }
        TypeDesc::Bool => {
            let t = Hid::new("H5Tenum_create", H5Tenum_create(*g::H5T_NATIVE_INT8))?;
            for (name, v) in [(c"FALSE", 0i8), (c"TRUE", 1i8)] {
                check(
                    "H5Tenum_insert",
                    H5Tenum_insert(t.id(), name.as_ptr(), (&v as *const i8).cast()),
                )?;
            }
            Ok(t)
        }
        TypeDesc::Enum { base, members } => {
            let b = creation_type(base)?;
            let t = Hid::new("H5Tenum_create", H5Tenum_create(b.id()))?;
            let size = base.size();
            for (name, v) in members {
                let mut raw = (*v as i64).to_le_bytes().to_vec();
                raw.truncate(size);
                if matches!(
                    **base,
                    TypeDesc::Int {
                        order: ByteOrder::Big,
                        ..
                    }
                ) {
                    raw.reverse();
                }
                let n = cstring(name);
                check(
                    "H5Tenum_insert",
                    H5Tenum_insert(t.id(), n.as_ptr(), raw.as_ptr().cast()),
                )?;
            }
            Ok(t)
        }
        TypeDesc::Bitfield { size, order } => {
            let be = *order == ByteOrder::Big;
            let t = match (size, be) {
                (1, _) => *g::H5T_STD_B8LE,
                (2, false) => *g::H5T_STD_B16LE,
                (2, true) => *g::H5T_STD_B16BE,
                (4, false) => *g::H5T_STD_B32LE,
                (4, true) => *g::H5T_STD_B32BE,
                (8, false) => *g::H5T_STD_B64LE,
                _ => *g::H5T_STD_B64BE,
            };
            copy(t)
        }
        TypeDesc::Opaque { size, tag } => {
            let t = Hid::new("H5Tcreate", H5Tcreate(H5T_class_t::H5T_OPAQUE, *size))?;
            if !tag.is_empty() {
                let c = cstring(tag);
                check("H5Tset_tag", H5Tset_tag(t.id(), c.as_ptr()))?;
            }
            Ok(t)
        }
        TypeDesc::NumpyTagged { descr, size } => {
            let t = Hid::new("H5Tcreate", H5Tcreate(H5T_class_t::H5T_OPAQUE, *size))?;
            let c = cstring(&format!("NUMPY:{descr}"));
            check("H5Tset_tag", H5Tset_tag(t.id(), c.as_ptr()))?;
            Ok(t)
        }
        TypeDesc::Compound { size, fields } => {
            let t = Hid::new("H5Tcreate", H5Tcreate(H5T_class_t::H5T_COMPOUND, *size))?;
            for f in fields {
                let ft = creation_type(&f.ty)?;
                let n = cstring(&f.name);
                check(
                    "H5Tinsert",
                    H5Tinsert(t.id(), n.as_ptr(), f.offset, ft.id()),
                )?;
            }
            Ok(t)
        }
        TypeDesc::Array { base, dims } => {
            let b = creation_type(base)?;
            let d: Vec<hsize_t> = dims.iter().map(|x| *x as hsize_t).collect();
            Hid::new(
                "H5Tarray_create",
                H5Tarray_create2(b.id(), d.len() as u32, d.as_ptr()),
            )
        }
        TypeDesc::VarLen { base } => {
            let b = creation_type(base)?;
            Hid::new("H5Tvlen_create", H5Tvlen_create(b.id()))
        }
        // The memory types h5py reads these with are also what h5py stores.
        TypeDesc::Float { .. }
        | TypeDesc::Complex { .. }
        | TypeDesc::FixedString { .. }
        | TypeDesc::VarString { .. }
        | TypeDesc::ObjectRef
        | TypeDesc::RegionRef => {
            let placeholder = copy(*g::H5T_STD_U8LE)?;
            memory_type(ty, placeholder.id())
        }
        TypeDesc::Unsupported { reason } => {
            Err(H5Error::new(ErrorKind::Unsupported, reason.clone()))
        }
    }
}

/// Write `data` (elements described by `ty`, memory type `mt`) with `write`,
/// building the pointer arrays variable-length data needs.
unsafe fn with_buffer<T>(
    ty: &TypeDesc,
    data: &ElementData,
    f: impl FnOnce(*const c_void) -> Result<T>,
) -> Result<T> {
    match data {
        ElementData::Fixed(b) => f(b.as_ptr().cast()),
        ElementData::Strings(strings) => {
            // C strings end at the first NUL; HDF5 variable-length strings cannot hold one.
            let owned: Vec<CString> = strings
                .iter()
                .map(|s| {
                    let end = s.iter().position(|b| *b == 0).unwrap_or(s.len());
                    CString::new(&s[..end]).unwrap_or_default()
                })
                .collect();
            let ptrs: Vec<*const i8> = owned.iter().map(|c| c.as_ptr()).collect();
            f(ptrs.as_ptr().cast())
        }
        ElementData::Sequences(seqs) => {
            let base_size = match ty {
                TypeDesc::VarLen { base } => base.size().max(1),
                _ => 1,
            };
            // hvl_t { len, p }: len counts base elements, packed by the caller.
            let vls: Vec<hvl_t> = seqs
                .iter()
                .map(|s| hvl_t {
                    len: s.len() / base_size,
                    p: s.as_ptr() as *mut c_void,
                })
                .collect();
            f(vls.as_ptr().cast())
        }
    }
}

impl H5File {
    /// Flush everything to the file and the file to disk.
    pub fn flush(&self) -> Result<()> {
        locked(|| unsafe {
            check(
                "H5Fflush",
                H5Fflush(self.id(), H5F_scope_t::H5F_SCOPE_GLOBAL),
            )?;
            Ok(())
        })
    }

    /// Flush, then fsync the file descriptor under libhdf5's file driver.
    pub fn sync(&self) -> Result<()> {
        locked(|| unsafe {
            check(
                "H5Fflush",
                H5Fflush(self.id(), H5F_scope_t::H5F_SCOPE_GLOBAL),
            )?;
            let mut handle: *mut c_void = std::ptr::null_mut();
            check(
                "H5Fget_vfd_handle",
                H5Fget_vfd_handle(self.id(), H5P_DEFAULT, &mut handle),
            )?;
            if !handle.is_null() {
                // The sec2 driver's handle is a pointer to its int descriptor.
                let fd = *(handle as *const i32);
                if libc::fsync(fd) != 0 {
                    return Err(H5Error::new(
                        ErrorKind::Other,
                        format!("fsync: {}", std::io::Error::last_os_error()),
                    ));
                }
            }
            Ok(())
        })
    }

    pub fn create_group(&self, path: &[u8]) -> Result<()> {
        let c = c_path(path)?;
        locked(|| unsafe {
            let gcpl = Hid::new("H5Pcreate", H5Pcreate(*g::H5P_GROUP_CREATE))?;
            // New groups keep their members in the order they are made.
            H5Pset_link_creation_order(gcpl.id(), H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED);
            Hid::new(
                &format!("{}: cannot create group", show(path)),
                H5Gcreate2(self.id(), c.as_ptr(), H5P_DEFAULT, gcpl.id(), H5P_DEFAULT),
            )?;
            Ok(())
        })
    }

    pub fn delete_link(&self, path: &[u8]) -> Result<()> {
        let c = c_path(path)?;
        locked(|| unsafe {
            check(
                &format!("{}: cannot delete", show(path)),
                H5Ldelete(self.id(), c.as_ptr(), H5P_DEFAULT),
            )?;
            Ok(())
        })
    }

    pub fn move_link(&self, from: &[u8], to: &[u8]) -> Result<()> {
        let (a, b) = (c_path(from)?, c_path(to)?);
        locked(|| unsafe {
            check(
                &format!("{}: cannot move to {}", show(from), show(to)),
                H5Lmove(
                    self.id(),
                    a.as_ptr(),
                    self.id(),
                    b.as_ptr(),
                    H5P_DEFAULT,
                    H5P_DEFAULT,
                ),
            )?;
            Ok(())
        })
    }

    pub fn hard_link(&self, target: &Loc, path: &[u8]) -> Result<()> {
        let obj = self.open_object(target)?;
        let c = c_path(path)?;
        locked(|| unsafe {
            check(
                &format!("{}: cannot link to {}", show(path), show(&target.path)),
                H5Lcreate_hard(
                    obj.id(),
                    c".".as_ptr(),
                    self.id(),
                    c.as_ptr(),
                    H5P_DEFAULT,
                    H5P_DEFAULT,
                ),
            )?;
            Ok(())
        })
    }

    pub fn soft_link(&self, value: &[u8], path: &[u8]) -> Result<()> {
        let (v, c) = (c_path(value)?, c_path(path)?);
        locked(|| unsafe {
            check(
                &format!("{}: cannot create soft link", show(path)),
                H5Lcreate_soft(v.as_ptr(), self.id(), c.as_ptr(), H5P_DEFAULT, H5P_DEFAULT),
            )?;
            Ok(())
        })
    }

    pub fn create_dataset(&self, path: &[u8], spec: &CreateSpec) -> Result<()> {
        let c = c_path(path)?;
        let what = format!("{}: cannot create dataset", show(path));
        locked(|| unsafe {
            let ftype = creation_type(&spec.ty)?;
            let space = match &spec.shape {
                None => Hid::new("H5Screate", H5Screate(H5S_class_t::H5S_NULL))?,
                Some(s) if s.is_empty() => {
                    Hid::new("H5Screate", H5Screate(H5S_class_t::H5S_SCALAR))?
                }
                Some(s) => {
                    let max: Vec<hsize_t> = spec
                        .maxshape
                        .iter()
                        .map(|m| m.unwrap_or(H5S_UNLIMITED))
                        .collect();
                    Hid::new(
                        "H5Screate_simple",
                        H5Screate_simple(s.len() as i32, s.as_ptr(), max.as_ptr()),
                    )?
                }
            };
            let dcpl = Hid::new("H5Pcreate", H5Pcreate(*g::H5P_DATASET_CREATE))?;
            if let Some(chunks) = &spec.chunks {
                check(
                    &what,
                    H5Pset_chunk(dcpl.id(), chunks.len() as i32, chunks.as_ptr()),
                )?;
                if spec.shuffle {
                    check(&what, H5Pset_shuffle(dcpl.id()))?;
                }
                if let Some(level) = spec.gzip {
                    check(&what, H5Pset_deflate(dcpl.id(), level))?;
                }
                if spec.lzf {
                    check(
                        &what,
                        H5Pset_filter(
                            dcpl.id(),
                            LZF_FILTER,
                            H5Z_FLAG_OPTIONAL,
                            0,
                            std::ptr::null(),
                        ),
                    )?;
                }
            }
            if let Some(fill) = &spec.fill {
                let mt = memory_type(&spec.ty, ftype.id())?;
                check(
                    &what,
                    H5Pset_fill_value(dcpl.id(), mt.id(), fill.as_ptr().cast()),
                )?;
            }
            Hid::new(
                &what,
                H5Dcreate2(
                    self.id(),
                    c.as_ptr(),
                    ftype.id(),
                    space.id(),
                    H5P_DEFAULT,
                    dcpl.id(),
                    H5P_DEFAULT,
                ),
            )?;
            Ok(())
        })
    }

    /// Create attribute `name` on the object at `loc` (replacing one of that name).
    pub fn create_attr(
        &self,
        loc: &Loc,
        name: &[u8],
        ty: &TypeDesc,
        shape: &[u64],
        data: &ElementData,
    ) -> Result<()> {
        let obj = self.open_object(loc)?;
        let c = c_path(name)?;
        let what = format!("{} attribute {}: cannot write", show(&loc.path), show(name));
        locked(|| unsafe {
            if H5Aexists(obj.id(), c.as_ptr()) > 0 {
                check(&what, H5Adelete(obj.id(), c.as_ptr()))?;
            }
            let ftype = creation_type(ty)?;
            let space = if shape.is_empty() {
                Hid::new("H5Screate", H5Screate(H5S_class_t::H5S_SCALAR))?
            } else {
                Hid::new(
                    "H5Screate_simple",
                    H5Screate_simple(shape.len() as i32, shape.as_ptr(), std::ptr::null()),
                )?
            };
            let attr = Hid::new(
                &what,
                H5Acreate2(
                    obj.id(),
                    c.as_ptr(),
                    ftype.id(),
                    space.id(),
                    H5P_DEFAULT,
                    H5P_DEFAULT,
                ),
            )?;
            let mt = memory_type(ty, ftype.id())?;
            with_buffer(ty, data, |buf| {
                check(&what, H5Awrite(attr.id(), mt.id(), buf))?;
                Ok(())
            })
        })
    }

    /// Overwrite the value of an existing attribute, keeping its type and shape.
    pub fn write_attr(
        &self,
        loc: &Loc,
        name: &[u8],
        ty: &TypeDesc,
        data: &ElementData,
    ) -> Result<()> {
        let obj = self.open_object(loc)?;
        let c = c_path(name)?;
        let what = format!("{} attribute {}: cannot write", show(&loc.path), show(name));
        locked(|| unsafe {
            let attr = Hid::new(&what, H5Aopen(obj.id(), c.as_ptr(), H5P_DEFAULT))?;
            let ftype = Hid::new(&what, H5Aget_type(attr.id()))?;
            let mt = memory_type(ty, ftype.id())?;
            with_buffer(ty, data, |buf| {
                check(&what, H5Awrite(attr.id(), mt.id(), buf))?;
                Ok(())
            })
        })
    }

    pub fn delete_attr(&self, loc: &Loc, name: &[u8]) -> Result<()> {
        let obj = self.open_object(loc)?;
        let c = c_path(name)?;
        locked(|| unsafe {
            check(
                &format!(
                    "{} attribute {}: cannot delete",
                    show(&loc.path),
                    show(name)
                ),
                H5Adelete(obj.id(), c.as_ptr()),
            )?;
            Ok(())
        })
    }
}

impl Dataset {
    /// Write elements `[first, first + n)` in C order from h5py-layout bytes.
    pub fn write_elements(&self, first: u64, bytes: &[u8]) -> Result<()> {
        let itemsize = self.meta.ty.size() as u64;
        let n = bytes.len() as u64 / itemsize.max(1);
        let Some(shape) = &self.meta.shape else {
            return Err(H5Error::new(
                ErrorKind::Other,
                format!("{}: has no elements", show(&self.path)),
            ));
        };
        if n == 0 {
            return Ok(());
        }
        let mt = self.mem_type_hid()?;
        locked(|| unsafe {
            let fspace = self.select(shape, first, first + n)?;
            let mspace = Hid::new(
                "H5Screate_simple",
                H5Screate_simple(1, &n, std::ptr::null()),
            )?;
            check(
                &format!("{}: write failed", show(&self.path)),
                H5Dwrite(
                    self.obj.id(),
                    mt.id(),
                    mspace.id(),
                    fspace.id(),
                    H5P_DEFAULT,
                    bytes.as_ptr().cast(),
                ),
            )?;
            Ok(())
        })
    }

    /// Write every element (the count must match the current shape).
    pub fn write_all(&self, data: &ElementData) -> Result<()> {
        let n = self.meta.npoints() as usize;
        if data.count(self.meta.ty.size()) != n {
            return Err(H5Error::new(
                ErrorKind::Other,
                format!(
                    "{}: {} elements given for {n}",
                    show(&self.path),
                    data.count(self.meta.ty.size())
                ),
            ));
        }
        if n == 0 {
            return Ok(());
        }
        let mt = self.mem_type_hid()?;
        locked(|| unsafe {
            with_buffer(&self.meta.ty, data, |buf| {
                check(
                    &format!("{}: write failed", show(&self.path)),
                    H5Dwrite(self.obj.id(), mt.id(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf),
                )?;
                Ok(())
            })
        })
    }

    /// Change the dataset's extent (within its maxshape).
    pub fn set_extent(&self, dims: &[u64]) -> Result<()> {
        locked(|| unsafe {
            check(
                &format!("{}: cannot resize", show(&self.path)),
                H5Dset_extent(self.obj.id(), dims.as_ptr()),
            )?;
            Ok(())
        })
    }
}
