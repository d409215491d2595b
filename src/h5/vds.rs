//! Virtual datasets: their mappings read from a creation property list, and
//! set on one for a new dataset.

use std::ffi::CString;
use std::os::raw::c_char;

use hdf5_sys::h5::hsize_t;
use hdf5_sys::h5d::{H5Dget_space, H5Dopen2};
use hdf5_sys::h5f::{H5Fopen, H5F_ACC_RDONLY};
use hdf5_sys::h5i::hid_t;
use hdf5_sys::h5p::*;
use hdf5_sys::h5s::*;

use super::file::H5File;
use super::handle::{check, Hid};
use super::space::{apply, extent, selection};
use crate::model::{ErrorKind, H5Error, Result, VirtualSource};

/// The mappings of a virtual dataset's creation list; empty if they cannot be read.
pub(super) unsafe fn read_sources(dcpl: hid_t) -> Vec<VirtualSource> {
    let mut count = 0usize;
    if H5Pget_virtual_count(dcpl, &mut count) < 0 {
        return Vec::new();
    }
    (0..count)
        .filter_map(|i| {
            let vspace = Hid::new("H5Pget_virtual_vspace", H5Pget_virtual_vspace(dcpl, i)).ok()?;
            let src = Hid::new("H5Pget_virtual_srcspace", H5Pget_virtual_srcspace(dcpl, i)).ok()?;
            Some(VirtualSource {
                file: name_of(|p, n| H5Pget_virtual_filename(dcpl, i, p, n))?,
                dataset: name_of(|p, n| H5Pget_virtual_dsetname(dcpl, i, p, n))?,
                source_shape: None,
                source_select: selection(src.id()),
                select: selection(vspace.id()),
            })
        })
        .collect()
}

/// A name from a libhdf5 getter that reports its length when given no buffer.
unsafe fn name_of(get: impl Fn(*mut c_char, usize) -> isize) -> Option<String> {
    let n = usize::try_from(get(std::ptr::null_mut(), 0)).ok()?;
    let mut buf = vec![0u8; n + 1];
    if get(buf.as_mut_ptr().cast(), buf.len()) < 0 {
        return None;
    }
    buf.truncate(n);
    Some(String::from_utf8_lossy(&buf).into_owned())
}

impl H5File {
    /// Add `sources` to `dcpl`, a new virtual dataset's creation list, whose
    /// dataspace is `space` (of extent `shape`). Called under the lock.
    pub(super) unsafe fn set_sources(
        &self,
        dcpl: hid_t,
        space: hid_t,
        shape: &[u64],
        sources: &[VirtualSource],
        what: &str,
    ) -> Result<()> {
        for (i, src) in sources.iter().enumerate() {
            let what = format!("{what}: source {i}");
            let invalid = |m: &str| H5Error::new(ErrorKind::Invalid, format!("sources[{i}]: {m}"));
            let vspace = Hid::new("H5Scopy", H5Scopy(space))?;
            apply(
                vspace.id(),
                shape,
                &src.select,
                &format!("sources[{i}]: select"),
            )?;
            let src_shape = match &src.source_shape {
                Some(s) => s.clone(),
                None => match self.source_extent(src) {
                    Ok(s) => s,
                    Err(e) => src.fallback_source_shape(shape).ok_or_else(|| {
                        invalid(&format!(
                            "cannot read the source's shape ({}); give \"source_shape\"",
                            e.msg
                        ))
                    })?,
                },
            };
            let unlimited: Vec<bool> = match src.source_select.slab(&src_shape) {
                Ok(Some(s)) => s.count.iter().map(|c| c.is_none()).collect(),
                _ => vec![false; src_shape.len()],
            };
            let srcspace = if src_shape.is_empty() {
                Hid::new("H5Screate", H5Screate(H5S_class_t::H5S_SCALAR))?
            } else {
                let max: Vec<hsize_t> = src_shape
                    .iter()
                    .zip(&unlimited)
                    .map(|(d, u)| if *u { H5S_UNLIMITED } else { *d })
                    .collect();
                Hid::new(
                    "H5Screate_simple",
                    H5Screate_simple(src_shape.len() as i32, src_shape.as_ptr(), max.as_ptr()),
                )?
            };
            apply(
                srcspace.id(),
                &src_shape,
                &src.source_select,
                &format!("sources[{i}]: source_select"),
            )?;
            let file = CString::new(src.file.as_bytes()).map_err(|_| invalid("file: NUL byte"))?;
            let dset =
                CString::new(src.dataset.as_bytes()).map_err(|_| invalid("dataset: NUL byte"))?;
            check(
                &what,
                H5Pset_virtual(
                    dcpl,
                    vspace.id(),
                    file.as_ptr(),
                    dset.as_ptr(),
                    srcspace.id(),
                ),
            )?;
        }
        Ok(())
    }

    /// The extent of a mapping's source dataset, from its file (this file
    /// for `.`, a relative name from this file's directory), opened read-only.
    unsafe fn source_extent(&self, src: &VirtualSource) -> Result<Vec<u64>> {
        let dset = CString::new(src.dataset.as_bytes())
            .map_err(|_| H5Error::new(ErrorKind::Invalid, "dataset: NUL byte"))?;
        let other;
        let file = if src.file == "." {
            self.id()
        } else {
            let path = self
                .path
                .parent()
                .unwrap_or(std::path::Path::new("."))
                .join(&src.file);
            let c = CString::new(path.as_os_str().as_encoded_bytes())
                .map_err(|_| H5Error::new(ErrorKind::Invalid, "file: NUL byte"))?;
            other = Hid::new(
                &format!("cannot open {}", src.file),
                H5Fopen(c.as_ptr(), H5F_ACC_RDONLY, H5P_DEFAULT),
            )?;
            other.id()
        };
        let ds = Hid::new(
            &format!("cannot open {}", src.dataset),
            H5Dopen2(file, dset.as_ptr(), H5P_DEFAULT),
        )?;
        let space = Hid::new("H5Dget_space", H5Dget_space(ds.id()))?;
        extent(space.id())
            .0
            .ok_or_else(|| H5Error::new(ErrorKind::Invalid, "the source has a null dataspace"))
    }
}
