//! Files, objects, links, datasets and attributes.
//!
//! Objects are always opened by their path from the root of the mounted file
//! (the names by which the filesystem reached them), so soft and external links
//! are resolved by libhdf5 itself, exactly as h5py resolves them.

use std::ffi::CString;
use std::os::raw::{c_char, c_uint, c_void};
use std::path::Path;

use hdf5_sys::h5::{hsize_t, H5_index_t, H5_iter_order_t};
use hdf5_sys::h5a::*;
use hdf5_sys::h5d::*;
use hdf5_sys::h5f::*;
use hdf5_sys::h5g::H5Gget_create_plist;
use hdf5_sys::h5i::hid_t;
use hdf5_sys::h5i::{H5I_type_t, H5Iget_file_id, H5Iget_type};
use hdf5_sys::h5l::*;
use hdf5_sys::h5o::*;
use hdf5_sys::h5p::*;
use hdf5_sys::h5s::*;
use hdf5_sys::h5t::{H5Tequal, H5Tget_create_plist};
use hdf5_sys::h5z::H5Zfilter_avail;

use super::handle::{check, locked, ErrorKind, H5Error, Hid, Result};
use super::hyperslab::element_range_to_blocks;
use super::types::{describe, memory_type, TypeDesc};
use super::value::{decode_all, Value};

/// A path inside the file, as raw link-name bytes joined by '/'.
pub type H5Path = Vec<u8>;

/// Where an object is: its path from the root (used for messages, and to open
/// objects of external files), and for objects of the mounted file its
/// address, which stays valid across renames and unlinks of other names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loc {
    pub path: H5Path,
    pub addr: Option<u64>,
}

impl Loc {
    pub fn path(path: &[u8]) -> Loc {
        Loc {
            path: path.to_vec(),
            addr: None,
        }
    }
}

fn c_path(path: &[u8]) -> Result<CString> {
    CString::new(path.to_vec())
        .map_err(|_| H5Error::new(ErrorKind::NotFound, "name contains a NUL byte"))
}

fn show(path: &[u8]) -> String {
    String::from_utf8_lossy(path).into_owned()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectKind {
    Group,
    Dataset,
    Datatype,
    Other,
}

/// Identity and bookkeeping of one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObjectInfo {
    pub kind: ObjectKind,
    /// Which file holds the object: 0 for the mounted file, else a hash of
    /// the external file's name (libhdf5's own file numbers change each time
    /// an external file is reopened, so they cannot identify objects).
    pub file: u64,
    pub addr: u64,
    /// Number of hard links to the object.
    pub links: u32,
    /// Modification time in seconds since the epoch; 0 where the file keeps none.
    pub mtime: i64,
}

unsafe fn info_from(raw: &H5O_info1_t) -> ObjectInfo {
    ObjectInfo {
        kind: match raw.type_ {
            H5O_type_t::H5O_TYPE_GROUP => ObjectKind::Group,
            H5O_type_t::H5O_TYPE_DATASET => ObjectKind::Dataset,
            H5O_type_t::H5O_TYPE_NAMED_DATATYPE => ObjectKind::Datatype,
            _ => ObjectKind::Other,
        },
        file: 0,
        addr: raw.addr,
        links: raw.rc,
        // Files keep one recorded time per object, which libhdf5 1.10 reports
        // as ctime (H5Gget_objinfo calls it mtime); newer headers may set mtime.
        mtime: if raw.mtime != 0 { raw.mtime } else { raw.ctime },
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkKind {
    Hard,
    Soft(Vec<u8>),
    External { file: Vec<u8>, path: Vec<u8> },
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub name: Vec<u8>,
    pub kind: LinkKind,
}

/// An open HDF5 file.
///
/// The handle can be swapped by [`H5File::reopen`]; callers make sure no
/// object of the file is open then (the filesystem's request gate).
pub struct H5File {
    hid: std::sync::Mutex<Hid>,
    /// libhdf5's number for this file, to tell its objects from external ones.
    fileno: std::sync::atomic::AtomicU64,
    path: std::path::PathBuf,
    /// Superblock version: from 3 on, a file open for writing is marked so
    /// on disk until closed.
    superblock: u32,
    /// Bytes before the HDF5 data (the user block): addresses count from here.
    base: u64,
    writable: std::sync::atomic::AtomicBool,
    /// Link access for every traversal: external files are opened read-only,
    /// even when this file is open for writing.
    lapl: Hid,
}

impl H5File {
    /// Open the file, read-only or for reading and writing.
    pub fn open(path: &Path, writable: bool) -> Result<H5File> {
        let (hid, fileno) = open_raw(path, writable)?;
        let base = locked(|| unsafe {
            let mut size: hsize_t = 0;
            let fcpl = H5Fget_create_plist(hid.id());
            if fcpl >= 0 {
                H5Pget_userblock(fcpl, &mut size);
                H5Pclose(fcpl);
            }
            size
        });
        let superblock = locked(|| unsafe {
            let mut info = hdf5_sys::h5f::H5F_info2_t::default();
            if H5Fget_info2(hid.id(), &mut info) >= 0 {
                info.super_.version
            } else {
                0
            }
        });
        let lapl = locked(|| unsafe {
            let lapl = Hid::new("H5Pcreate", H5Pcreate(*hdf5::globals::H5P_LINK_ACCESS))?;
            check(
                "H5Pset_elink_acc_flags",
                H5Pset_elink_acc_flags(lapl.id(), H5F_ACC_RDONLY),
            )?;
            Ok::<_, H5Error>(lapl)
        })?;
        Ok(H5File {
            lapl,
            hid: std::sync::Mutex::new(hid),
            fileno: std::sync::atomic::AtomicU64::new(fileno),
            path: path.to_path_buf(),
            superblock,
            base,
            writable: std::sync::atomic::AtomicBool::new(writable),
        })
    }

    /// Close and open the file again, for writing or not. No object of the
    /// file may be open.
    pub fn reopen(&self, writable: bool) -> Result<()> {
        use std::sync::atomic::Ordering::SeqCst;
        let mut guard = self.hid.lock().unwrap_or_else(|e| e.into_inner());
        // Close first: libhdf5 will not open a file twice with other intents.
        let placeholder = Hid::new(
            "H5Pcreate",
            locked(|| unsafe { H5Pcreate(*hdf5::globals::H5P_FILE_ACCESS) }),
        )?;
        drop(std::mem::replace(&mut *guard, placeholder));
        let was = self.writable.load(SeqCst);
        let (hid, fileno, now, result) = match open_raw(&self.path, writable) {
            Ok((hid, fileno)) => (hid, fileno, writable, Ok(())),
            // Keep the file usable as it was (e.g. another process opened it meanwhile).
            Err(e) => {
                let (hid, fileno, now) = match open_raw(&self.path, was) {
                    Ok((h, f)) => (h, f, was),
                    Err(_) => {
                        let (h, f) = open_raw(&self.path, false)?;
                        (h, f, false)
                    }
                };
                (hid, fileno, now, Err(e))
            }
        };
        *guard = hid;
        self.fileno.store(fileno, SeqCst);
        self.writable.store(now, SeqCst);
        result
    }

    /// Offset of HDF5 address 0 in the file (the user block's size).
    pub fn base(&self) -> u64 {
        self.base
    }

    pub fn is_open_for_writing(&self) -> bool {
        self.writable.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Whether the file carries an "open for writing" mark while open so
    /// (superblock version 3 and later).
    pub fn marks_writers(&self) -> bool {
        self.superblock >= 3
    }

    pub fn size(&self) -> u64 {
        locked(|| unsafe {
            let mut s: hsize_t = 0;
            H5Fget_filesize(self.id(), &mut s);
            s
        })
    }

    /// Information about the object at `path` (links followed).
    pub fn info(&self, path: &[u8]) -> Result<ObjectInfo> {
        let c = c_path(path)?;
        self.info_by_name(self.id(), &c, path)
    }

    /// Information about member `name` of the group at `group` (links followed).
    pub fn info_in(&self, group: &Loc, name: &[u8]) -> Result<ObjectInfo> {
        let g = self.open_object(group)?;
        let c = c_path(name)?;
        let mut full = group.path.clone();
        if !full.ends_with(b"/") {
            full.push(b'/');
        }
        full.extend_from_slice(name);
        self.info_by_name(g.id(), &c, &full)
    }

    /// H5Oget_info of `name` relative to `loc_id`, with external files opened read-only.
    fn info_by_name(
        &self,
        loc_id: hid_t,
        name: &std::ffi::CStr,
        shown: &[u8],
    ) -> Result<ObjectInfo> {
        locked(|| unsafe {
            let mut raw = H5O_info1_t::default();
            check(
                &format!("{}: cannot get object info", show(shown)),
                H5Oget_info_by_name2(
                    loc_id,
                    name.as_ptr(),
                    &mut raw,
                    H5O_INFO_BASIC | H5O_INFO_TIME,
                    self.lapl.id(),
                ),
            )?;
            let mut info = info_from(&raw);
            if raw.fileno != self.fileno.load(std::sync::atomic::Ordering::SeqCst) {
                info.file = external_file_key(loc_id, name, self.lapl.id());
            }
            Ok(info)
        })
    }

    /// Information about the object at `loc`.
    pub fn info_at(&self, loc: &Loc) -> Result<ObjectInfo> {
        let obj = self.open_object(loc)?;
        locked(|| unsafe {
            let mut raw = H5O_info1_t::default();
            check(
                &format!("{}: cannot get object info", show(&loc.path)),
                H5Oget_info2(obj.id(), &mut raw, H5O_INFO_BASIC | H5O_INFO_TIME),
            )?;
            let mut info = info_from(&raw);
            if raw.fileno != self.fileno.load(std::sync::atomic::Ordering::SeqCst) {
                info.file = external_file_key(obj.id(), c".", self.lapl.id());
            }
            Ok(info)
        })
    }

    pub(crate) fn open_object(&self, loc: &Loc) -> Result<Hid> {
        let what = format!("{}: cannot open", show(&loc.path));
        if let Some(addr) = loc.addr {
            return locked(|| unsafe { Hid::new(&what, H5Oopen_by_addr(self.id(), addr)) });
        }
        let c = c_path(&loc.path)?;
        locked(|| unsafe { Hid::new(&what, H5Oopen(self.id(), c.as_ptr(), self.lapl.id())) })
    }

    pub(crate) fn id(&self) -> hid_t {
        self.hid.lock().unwrap_or_else(|e| e.into_inner()).id()
    }

    /// The links of the group at `path`, in creation order where the group
    /// tracks it, else in name order (as h5py iterates).
    pub fn links(&self, loc: &Loc) -> Result<Vec<Link>> {
        let path = &loc.path;
        let group = self.open_object(loc)?;
        locked(|| unsafe {
            let gcpl = Hid::new("H5Gget_create_plist", H5Gget_create_plist(group.id()))?;
            let mut flags: c_uint = 0;
            H5Pget_link_creation_order(gcpl.id(), &mut flags);
            let mut names = Vec::new();
            let mut ok = false;
            if flags & H5P_CRT_ORDER_TRACKED != 0 {
                ok = iterate_links(group.id(), H5_index_t::H5_INDEX_CRT_ORDER, &mut names).is_ok();
            }
            if !ok {
                names.clear();
                iterate_links(group.id(), H5_index_t::H5_INDEX_NAME, &mut names)
                    .map_err(|_| H5Error::last(&format!("{}: cannot list group", show(path))))?;
            }
            let mut links = Vec::with_capacity(names.len());
            for (name, ltype, val_size) in names {
                let kind = match ltype {
                    H5L_type_t::H5L_TYPE_HARD => LinkKind::Hard,
                    H5L_type_t::H5L_TYPE_SOFT | H5L_type_t::H5L_TYPE_EXTERNAL => {
                        link_value(group.id(), &name, ltype, val_size).unwrap_or(LinkKind::Other)
                    }
                    _ => LinkKind::Other,
                };
                links.push(Link { name, kind });
            }
            Ok(links)
        })
    }

    pub fn open_dataset(&self, loc: &Loc) -> Result<Dataset> {
        let obj = self.open_object(loc)?;
        locked(|| unsafe { Dataset::from_hid(obj, &loc.path) })
    }

    /// Names of the attributes of the object at `path`, in h5py's order.
    pub fn attr_names(&self, loc: &Loc) -> Result<Vec<Vec<u8>>> {
        let obj = self.open_object(loc)?;
        locked(|| unsafe { attr_names(obj.id(), &loc.path) })
    }

    /// Read one attribute of the object at `path`.
    pub fn read_attr(&self, loc: &Loc, name: &[u8]) -> Result<AttrData> {
        let obj = self.open_object(loc)?;
        locked(|| unsafe { read_attr(obj.id(), &loc.path, name) })
    }

    /// Describe the committed datatype at `path`.
    pub fn datatype(&self, loc: &Loc) -> Result<TypeDesc> {
        let obj = self.open_object(loc)?;
        locked(|| describe(obj.id()))
    }
}

/// Open `path`; returns the handle and libhdf5's number for the file.
fn open_raw(path: &Path, writable: bool) -> Result<(Hid, u64)> {
    let c = CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| H5Error::new(ErrorKind::NotFound, "file name contains a NUL byte"))?;
    let mode = if writable {
        H5F_ACC_RDWR
    } else {
        H5F_ACC_RDONLY
    };
    locked(|| unsafe {
        let hid = Hid::new("H5Fopen", H5Fopen(c.as_ptr(), mode, H5P_DEFAULT))?;
        let mut raw = H5O_info1_t::default();
        check(
            "H5Oget_info (root group)",
            H5Oget_info_by_name2(
                hid.id(),
                c"/".as_ptr(),
                &mut raw,
                H5O_INFO_BASIC,
                H5P_DEFAULT,
            ),
        )?;
        Ok((hid, raw.fileno))
    })
}

/// A stable number for the file holding the object at `path` (its name as
/// libhdf5 opened it), for objects outside the mounted file.
unsafe fn external_file_key(file: hid_t, path: &std::ffi::CStr, lapl: hid_t) -> u64 {
    use std::hash::{Hash, Hasher};
    let obj = H5Oopen(file, path.as_ptr(), lapl);
    let Ok(obj) = Hid::new("H5Oopen", obj) else {
        return u64::MAX;
    };
    let n = H5Fget_name(obj.id(), std::ptr::null_mut(), 0);
    let mut name = vec![0u8; n.max(0) as usize + 1];
    H5Fget_name(obj.id(), name.as_mut_ptr().cast(), name.len());
    let mut h = std::collections::hash_map::DefaultHasher::new();
    name.hash(&mut h);
    // 0 is the mounted file's.
    h.finish().max(1)
}

type RawLink = (Vec<u8>, H5L_type_t, usize);

unsafe extern "C" fn collect_link(
    _group: hid_t,
    name: *const c_char,
    info: *const H5L_info1_t,
    data: *mut c_void,
) -> herr_t {
    let out = &mut *(data as *mut Vec<RawLink>);
    let mut info = *info;
    let val_size = match info.type_ {
        H5L_type_t::H5L_TYPE_SOFT | H5L_type_t::H5L_TYPE_EXTERNAL => *info.u.val_size(),
        _ => 0,
    };
    out.push((
        std::ffi::CStr::from_ptr(name).to_bytes().to_vec(),
        info.type_,
        val_size,
    ));
    0
}

use hdf5_sys::h5::herr_t;

unsafe fn iterate_links(group: hid_t, index: H5_index_t, out: &mut Vec<RawLink>) -> Result<()> {
    let mut idx: hsize_t = 0;
    check(
        "H5Literate",
        H5Literate(
            group,
            index,
            H5_iter_order_t::H5_ITER_INC,
            &mut idx,
            Some(collect_link),
            (out as *mut Vec<RawLink>).cast(),
        ),
    )?;
    Ok(())
}

unsafe fn link_value(
    group: hid_t,
    name: &[u8],
    ltype: H5L_type_t,
    size: usize,
) -> Result<LinkKind> {
    let c = c_path(name)?;
    let mut buf = vec![0u8; size.max(1)];
    check(
        "H5Lget_val",
        H5Lget_val(
            group,
            c.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
            H5P_DEFAULT,
        ),
    )?;
    if ltype == H5L_type_t::H5L_TYPE_SOFT {
        let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
        buf.truncate(end);
        return Ok(LinkKind::Soft(buf));
    }
    let mut flags: c_uint = 0;
    let mut file: *const c_char = std::ptr::null();
    let mut path: *const c_char = std::ptr::null();
    check(
        "H5Lunpack_elink_val",
        H5Lunpack_elink_val(
            buf.as_ptr().cast(),
            buf.len(),
            &mut flags,
            &mut file,
            &mut path,
        ),
    )?;
    let as_vec = |p: *const c_char| {
        if p.is_null() {
            Vec::new()
        } else {
            std::ffi::CStr::from_ptr(p).to_bytes().to_vec()
        }
    };
    Ok(LinkKind::External {
        file: as_vec(file),
        path: as_vec(path),
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    Compact,
    Contiguous,
    Chunked,
    Virtual,
}

impl Layout {
    pub fn name(self) -> &'static str {
        match self {
            Layout::Compact => "compact",
            Layout::Contiguous => "contiguous",
            Layout::Chunked => "chunked",
            Layout::Virtual => "virtual",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    pub id: i32,
    pub name: String,
    pub params: Vec<u32>,
    /// Whether libhdf5 can apply it here (built in or found as a plugin).
    pub available: bool,
}

/// Everything about a dataset except its data and attributes.
#[derive(Debug, Clone, PartialEq)]
pub struct DatasetMeta {
    pub ty: TypeDesc,
    /// None for a null dataspace; empty for a scalar.
    pub shape: Option<Vec<u64>>,
    /// None for a null dataspace; None entries are unlimited.
    pub maxshape: Option<Vec<Option<u64>>>,
    pub layout: Layout,
    pub chunks: Option<Vec<u64>>,
    pub filters: Vec<Filter>,
    pub fill: Value,
}

impl DatasetMeta {
    pub fn npoints(&self) -> u64 {
        self.shape.as_ref().map_or(0, |s| s.iter().product())
    }

    /// Filters this dataset needs that libhdf5 cannot load here.
    pub fn missing_filters(&self) -> Vec<&Filter> {
        self.filters.iter().filter(|f| !f.available).collect()
    }
}

/// An open dataset with the memory type h5py would read it with.
pub struct Dataset {
    pub(super) obj: Hid,
    mem_type: Option<Hid>,
    pub(super) path: H5Path,
    /// How the bytes can be read without libhdf5's data path, if at all.
    pub(super) fast: Option<super::fast::FastLayout>,
    /// Identifies this open dataset in the chunk cache.
    pub(super) uid: u64,
    pub meta: DatasetMeta,
}

impl Dataset {
    unsafe fn from_hid(obj: Hid, path: &[u8]) -> Result<Dataset> {
        let what = |s: &str| format!("{}: {s}", show(path));
        let ftype = Hid::new(&what("cannot get type"), H5Dget_type(obj.id()))?;
        let ty = describe(ftype.id())?;
        let mem_type = if ty.unsupported().is_some() {
            None
        } else {
            Some(memory_type(&ty, ftype.id())?)
        };
        let space = Hid::new(&what("cannot get dataspace"), H5Dget_space(obj.id()))?;
        let (shape, maxshape) = extent(space.id());
        // Sizes are byte offsets (off_t) above: a dataspace whose bytes do
        // not fit is refused here, so every later product is safe.
        if let Some(dims) = &shape {
            let bytes = dims
                .iter()
                .try_fold(ty.size() as u64, |n, d| n.checked_mul(*d))
                .filter(|b| *b <= i64::MAX as u64);
            if bytes.is_none() {
                return Err(H5Error::new(
                    ErrorKind::Unsupported,
                    what(&format!(
                        "dataspace {dims:?} of {}-byte elements is too large to show",
                        ty.size()
                    )),
                ));
            }
        }
        let dcpl = Hid::new(
            &what("cannot get creation list"),
            H5Dget_create_plist(obj.id()),
        )?;
        let layout = match H5Pget_layout(dcpl.id()) {
            H5D_layout_t::H5D_COMPACT => Layout::Compact,
            H5D_layout_t::H5D_CHUNKED => Layout::Chunked,
            H5D_layout_t::H5D_VIRTUAL => Layout::Virtual,
            _ => Layout::Contiguous,
        };
        let chunks = if layout == Layout::Chunked {
            let mut dims = vec![0u64; 32];
            let n = H5Pget_chunk(dcpl.id(), 32, dims.as_mut_ptr());
            (n >= 0).then(|| {
                dims.truncate(n as usize);
                dims
            })
        } else {
            None
        };
        let filters = filters(dcpl.id());
        let fast = match &mem_type {
            Some(mt)
                if H5Tequal(ftype.id(), mt.id()) > 0
                    && shape.as_ref().is_some_and(|s| !s.is_empty()) =>
            {
                fast_layout(
                    obj.id(),
                    dcpl.id(),
                    mt.id(),
                    layout,
                    &chunks,
                    &filters,
                    ty.size(),
                )
            }
            _ => None,
        };
        let fill = match &mem_type {
            Some(mt) if !ty.is_variable() => {
                let mut buf = vec![0u8; ty.size().max(1)];
                if H5Pget_fill_value(dcpl.id(), mt.id(), buf.as_mut_ptr().cast()) >= 0 {
                    decode_all(&ty, &buf, 1, obj.id())
                        .pop()
                        .unwrap_or(Value::Null)
                } else {
                    Value::Null
                }
            }
            _ => Value::Null,
        };
        Ok(Dataset {
            obj,
            mem_type,
            path: path.to_vec(),
            fast,
            uid: super::fast::next_dataset_id(),
            meta: DatasetMeta {
                ty,
                shape,
                maxshape,
                layout,
                chunks,
                filters,
                fill,
            },
        })
    }

    pub(super) fn mem_type_hid(&self) -> Result<&Hid> {
        self.mem_type()
    }

    fn mem_type(&self) -> Result<&Hid> {
        self.mem_type.as_ref().ok_or_else(|| {
            H5Error::new(
                ErrorKind::Unsupported,
                format!(
                    "{}: type cannot be shown: {}",
                    show(&self.path),
                    self.meta.ty.unsupported().unwrap_or("unsupported")
                ),
            )
        })
    }

    /// Read elements `[first, end)` in C order, as h5py's bytes.
    pub fn read_elements(&self, first: u64, end: u64) -> Result<Vec<u8>> {
        let mt = self.mem_type()?;
        let Some(shape) = &self.meta.shape else {
            return Ok(Vec::new());
        };
        let end = end.min(self.meta.npoints());
        if first >= end {
            return Ok(Vec::new());
        }
        let count = end - first;
        let itemsize = self.meta.ty.size();
        let mut buf = vec![0u8; count as usize * itemsize];
        locked(|| unsafe {
            let fspace = self.select(shape, first, end)?;
            let mspace = Hid::new(
                "H5Screate_simple",
                H5Screate_simple(1, &count, std::ptr::null()),
            )?;
            check(
                &format!("{}: read failed", show(&self.path)),
                H5Dread(
                    self.obj.id(),
                    mt.id(),
                    mspace.id(),
                    fspace.id(),
                    H5P_DEFAULT,
                    buf.as_mut_ptr().cast(),
                ),
            )?;
            Ok(buf)
        })
    }

    pub(super) unsafe fn select(&self, shape: &[u64], first: u64, end: u64) -> Result<Hid> {
        let fspace = Hid::new("H5Dget_space", H5Dget_space(self.obj.id()))?;
        if shape.is_empty() {
            check("H5Sselect_all", H5Sselect_all(fspace.id()))?;
            return Ok(fspace);
        }
        check("H5Sselect_none", H5Sselect_none(fspace.id()))?;
        for b in element_range_to_blocks(shape, first, end) {
            check(
                "H5Sselect_hyperslab",
                H5Sselect_hyperslab(
                    fspace.id(),
                    H5S_seloper_t::H5S_SELECT_OR,
                    b.start.as_ptr(),
                    std::ptr::null(),
                    b.count.as_ptr(),
                    std::ptr::null(),
                ),
            )?;
        }
        Ok(fspace)
    }

    /// Decode every element (for text views of variable-length data).
    pub fn read_values(&self) -> Result<Vec<Value>> {
        let mt = self.mem_type()?;
        let n = self.meta.npoints();
        if self.meta.shape.is_none() || n == 0 {
            return Ok(Vec::new());
        }
        let mut buf = vec![0u8; n as usize * self.meta.ty.size()];
        locked(|| unsafe {
            let fspace = Hid::new("H5Dget_space", H5Dget_space(self.obj.id()))?;
            check(
                &format!("{}: read failed", show(&self.path)),
                H5Dread(
                    self.obj.id(),
                    mt.id(),
                    H5S_ALL,
                    H5S_ALL,
                    H5P_DEFAULT,
                    buf.as_mut_ptr().cast(),
                ),
            )?;
            let values = decode_all(&self.meta.ty, &buf, n as usize, self.obj.id());
            if self.meta.ty.is_variable() {
                H5Dvlen_reclaim(mt.id(), fspace.id(), H5P_DEFAULT, buf.as_mut_ptr().cast());
            }
            Ok(values)
        })
    }

    pub fn attr_names(&self) -> Result<Vec<Vec<u8>>> {
        locked(|| unsafe { attr_names(self.obj.id(), &self.path) })
    }

    pub fn read_attr(&self, name: &[u8]) -> Result<AttrData> {
        locked(|| unsafe { read_attr(self.obj.id(), &self.path, name) })
    }
}

/// The fast read path for a dataset, if its storage allows one.
unsafe fn fast_layout(
    dset: hid_t,
    dcpl: hid_t,
    mem_type: hid_t,
    layout: Layout,
    chunks: &Option<Vec<u64>>,
    filters: &[Filter],
    itemsize: usize,
) -> Option<super::fast::FastLayout> {
    use super::fast::FastLayout;
    match layout {
        Layout::Contiguous => {
            if H5Pget_external_count(dcpl) != 0 || !filters.is_empty() {
                return None;
            }
            let addr = H5Dget_offset(dset);
            (addr != hdf5_sys::h5::HADDR_UNDEF).then_some(FastLayout::Contiguous { addr })
        }
        Layout::Chunked => {
            let list: Vec<(i32, Vec<u32>)> =
                filters.iter().map(|f| (f.id, f.params.clone())).collect();
            let steps = super::filters::pipeline(&list, itemsize)?;
            let mut fill = vec![0u8; itemsize];
            if H5Pget_fill_value(dcpl, mem_type, fill.as_mut_ptr().cast()) < 0 {
                fill.fill(0);
            }
            Some(FastLayout::Chunked {
                chunk: chunks.clone()?,
                steps,
                fill,
            })
        }
        _ => None,
    }
}

unsafe fn extent(space: hid_t) -> (Option<Vec<u64>>, Option<Vec<Option<u64>>>) {
    match H5Sget_simple_extent_type(space) {
        H5S_class_t::H5S_NULL => (None, None),
        H5S_class_t::H5S_SCALAR => (Some(Vec::new()), Some(Vec::new())),
        _ => {
            let rank = H5Sget_simple_extent_ndims(space).max(0) as usize;
            let mut dims = vec![0u64; rank];
            let mut max = vec![0u64; rank];
            H5Sget_simple_extent_dims(space, dims.as_mut_ptr(), max.as_mut_ptr());
            let max = max
                .into_iter()
                .map(|m| (m != H5S_UNLIMITED).then_some(m))
                .collect();
            (Some(dims), Some(max))
        }
    }
}

unsafe fn filters(dcpl: hid_t) -> Vec<Filter> {
    let n = H5Pget_nfilters(dcpl).max(0) as u32;
    let mut out = Vec::with_capacity(n as usize);
    for i in 0..n {
        let mut flags: c_uint = 0;
        let mut nparams: usize = 32;
        let mut params = vec![0u32; 32];
        let mut name = vec![0u8; 256];
        let mut config: c_uint = 0;
        let id = H5Pget_filter2(
            dcpl,
            i,
            &mut flags,
            &mut nparams,
            params.as_mut_ptr(),
            name.len(),
            name.as_mut_ptr().cast(),
            &mut config,
        );
        if id < 0 {
            continue;
        }
        params.truncate(nparams.min(32));
        let end = name.iter().position(|b| *b == 0).unwrap_or(name.len());
        name.truncate(end);
        out.push(Filter {
            id,
            name: String::from_utf8_lossy(&name).into_owned(),
            params,
            available: H5Zfilter_avail(id) > 0,
        });
    }
    out
}

/// A decoded attribute.
#[derive(Debug, Clone, PartialEq)]
pub struct AttrData {
    pub ty: TypeDesc,
    /// None for a null dataspace (h5py.Empty); empty for a scalar.
    pub shape: Option<Vec<u64>>,
    pub values: Vec<Value>,
}

unsafe fn attr_names(obj: hid_t, path: &[u8]) -> Result<Vec<Vec<u8>>> {
    let mut raw = H5O_info1_t::default();
    check(
        &format!("{}: cannot count attributes", show(path)),
        H5Oget_info2(obj, &mut raw, H5O_INFO_NUM_ATTRS),
    )?;
    let n = raw.num_attrs;
    let mut order_flags: c_uint = 0;
    let ocpl = match H5Iget_type(obj) {
        H5I_type_t::H5I_GROUP => H5Gget_create_plist(obj),
        H5I_type_t::H5I_DATASET => H5Dget_create_plist(obj),
        H5I_type_t::H5I_DATATYPE => H5Tget_create_plist(obj),
        _ => -1,
    };
    let index = if ocpl >= 0 {
        H5Pget_attr_creation_order(ocpl, &mut order_flags);
        let _own = Hid::new("H5Oget_create_plist", ocpl);
        if order_flags & H5P_CRT_ORDER_TRACKED != 0 {
            H5_index_t::H5_INDEX_CRT_ORDER
        } else {
            H5_index_t::H5_INDEX_NAME
        }
    } else {
        H5_index_t::H5_INDEX_NAME
    };
    let mut names = Vec::with_capacity(n as usize);
    for i in 0..n {
        let mut idx = index;
        let mut len = H5Aget_name_by_idx(
            obj,
            c".".as_ptr(),
            idx,
            H5_iter_order_t::H5_ITER_INC,
            i,
            std::ptr::null_mut(),
            0,
            H5P_DEFAULT,
        );
        if len < 0 && idx == H5_index_t::H5_INDEX_CRT_ORDER {
            idx = H5_index_t::H5_INDEX_NAME;
            len = H5Aget_name_by_idx(
                obj,
                c".".as_ptr(),
                idx,
                H5_iter_order_t::H5_ITER_INC,
                i,
                std::ptr::null_mut(),
                0,
                H5P_DEFAULT,
            );
        }
        let len = check(&format!("{}: cannot name attribute", show(path)), len)?;
        let mut buf = vec![0u8; len as usize + 1];
        H5Aget_name_by_idx(
            obj,
            c".".as_ptr(),
            idx,
            H5_iter_order_t::H5_ITER_INC,
            i,
            buf.as_mut_ptr().cast(),
            buf.len(),
            H5P_DEFAULT,
        );
        buf.truncate(len as usize);
        names.push(buf);
    }
    Ok(names)
}

/// Size in bytes of the file holding `obj` (u64::MAX if libhdf5 cannot say).
unsafe fn file_size(obj: hid_t) -> u64 {
    let file = H5Iget_file_id(obj);
    let Ok(file) = Hid::new("H5Iget_file_id", file) else {
        return u64::MAX;
    };
    let mut size: hsize_t = 0;
    if H5Fget_filesize(file.id(), &mut size) < 0 {
        return u64::MAX;
    }
    size
}

unsafe fn read_attr(obj: hid_t, path: &[u8], name: &[u8]) -> Result<AttrData> {
    let c = c_path(name)?;
    let what = |s: &str| format!("{} attribute {}: {s}", show(path), show(name));
    let attr = Hid::new(&what("cannot open"), H5Aopen(obj, c.as_ptr(), H5P_DEFAULT))?;
    let ftype = Hid::new(&what("cannot get type"), H5Aget_type(attr.id()))?;
    let space = Hid::new(&what("cannot get dataspace"), H5Aget_space(attr.id()))?;
    let ty = describe(ftype.id())?;
    let (shape, _) = extent(space.id());
    if let Some(reason) = ty.unsupported() {
        return Err(H5Error::new(
            ErrorKind::Unsupported,
            what(&format!("type cannot be shown: {reason}")),
        ));
    }
    let Some(dims) = &shape else {
        return Ok(AttrData {
            ty,
            shape,
            values: Vec::new(),
        });
    };
    // Every element is stored in the file, each in at least one byte (a
    // variable-length one in a 16-byte heap reference): a count beyond what
    // the file can hold is a damaged header, refused before allocating.
    let file_len = file_size(obj);
    let n = dims
        .iter()
        .try_fold(1u64, |n, d| n.checked_mul(*d))
        .filter(|n| n.saturating_mul(ty.size().min(16) as u64) <= file_len)
        .ok_or_else(|| {
            H5Error::new(
                ErrorKind::Other,
                what(&format!(
                    "dataspace {dims:?} cannot be stored in a file of {file_len} bytes"
                )),
            )
        })?;
    let mt = memory_type(&ty, ftype.id())?;
    let mut buf = vec![0u8; n as usize * ty.size()];
    if n > 0 {
        check(
            &what("read failed"),
            H5Aread(attr.id(), mt.id(), buf.as_mut_ptr().cast()),
        )?;
    }
    let values = decode_all(&ty, &buf, n as usize, obj);
    if ty.is_variable() && n > 0 {
        H5Dvlen_reclaim(mt.id(), space.id(), H5P_DEFAULT, buf.as_mut_ptr().cast());
    }
    Ok(AttrData { ty, shape, values })
}
