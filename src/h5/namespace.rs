//! Changes to the file as a whole: flushing to disk, groups, links and new
//! datasets. Every function is one locked sequence of libhdf5 calls that
//! either completes or fails with nothing changed (where libhdf5 allows).

use std::ffi::CString;
use std::os::raw::c_void;

use hdf5::globals as g;
use hdf5_sys::h5::hsize_t;
use hdf5_sys::h5d::*;
use hdf5_sys::h5f::*;
use hdf5_sys::h5g::H5Gcreate2;
use hdf5_sys::h5l::*;
use hdf5_sys::h5p::*;
use hdf5_sys::h5s::*;
use hdf5_sys::h5t::hvl_t;
use hdf5_sys::h5z::H5Z_FLAG_OPTIONAL;

use super::file::{c_path, show, H5File};
use super::handle::{check, locked, Hid};
use super::types::{creation_type, memory_type};
use crate::model::{filter_id, CreateSpec, ElementData, ErrorKind, H5Error, Loc, Result, TypeDesc};

/// Write `data` (elements described by `ty`, memory type `mt`) with `write`,
/// building the pointer arrays variable-length data needs.
pub(super) unsafe fn with_buffer<T>(
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
            )
        })?;
        // fsync applies to the file, whichever descriptor names it: the
        // driver's own handle is not always a descriptor (stdio's is a FILE*),
        // and a family or split file is several.
        for part in self.parts() {
            std::fs::File::open(&part)
                .and_then(|f| f.sync_all())
                .map_err(|e| {
                    H5Error::new(ErrorKind::Other, format!("fsync {}: {e}", part.display()))
                })?;
        }
        Ok(())
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
            if !spec.sources.is_empty() {
                let shape = spec.shape.as_deref().unwrap_or(&[]);
                self.set_sources(dcpl.id(), space.id(), shape, &spec.sources, &what)?;
            } else if let Some(chunks) = &spec.chunks {
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
                            filter_id::LZF,
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
}
