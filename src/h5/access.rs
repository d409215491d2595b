//! File access property lists from [`Access`]: the driver, the format
//! bounds, the chunk cache; and what libhdf5 made of them once open.

use std::ffi::CString;

use hdf5_sys::h5::hsize_t;
use hdf5_sys::h5f::{H5F_libver_t, H5Fget_access_plist};
use hdf5_sys::h5i::hid_t;
use hdf5_sys::h5p::*;

use super::handle::{check, Hid};
use crate::model::{Access, Driver, ErrorKind, H5Error, LibVer, Result};

/// Growth step of the core driver's image (libhdf5 reads the whole file at
/// open whatever this is).
const CORE_INCREMENT: usize = 1 << 20;

fn c_text(s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| H5Error::new(ErrorKind::Other, "extension contains a NUL byte"))
}

fn libver(v: LibVer) -> H5F_libver_t {
    match v {
        LibVer::Earliest => H5F_libver_t::H5F_LIBVER_EARLIEST,
        LibVer::V108 => H5F_libver_t::H5F_LIBVER_V18,
        LibVer::V110 => H5F_libver_t::H5F_LIBVER_V110,
    }
}

/// A file access property list for `access`. Call under the lock.
pub(super) unsafe fn fapl(access: &Access) -> Result<Hid> {
    let fapl = Hid::new("H5Pcreate", H5Pcreate(*hdf5::globals::H5P_FILE_ACCESS))?;
    let id = fapl.id();
    match &access.driver {
        Driver::Sec2 => check("H5Pset_fapl_sec2", H5Pset_fapl_sec2(id))?,
        Driver::Stdio => check("H5Pset_fapl_stdio", H5Pset_fapl_stdio(id))?,
        Driver::Core => check("H5Pset_fapl_core", H5Pset_fapl_core(id, CORE_INCREMENT, 0))?,
        Driver::Family { memb_size } => check(
            "H5Pset_fapl_family",
            H5Pset_fapl_family(id, *memb_size, H5P_DEFAULT),
        )?,
        Driver::Url => super::vfd::set_installed(id).map(|()| 0)?,
        Driver::Split { meta_ext, raw_ext } => {
            let (m, r) = (c_text(meta_ext)?, c_text(raw_ext)?);
            check(
                "H5Pset_fapl_split",
                H5Pset_fapl_split(id, m.as_ptr(), H5P_DEFAULT, r.as_ptr(), H5P_DEFAULT),
            )?
        }
    };
    if let Some((low, high)) = access.libver {
        check(
            "H5Pset_libver_bounds",
            H5Pset_libver_bounds(id, libver(low), libver(high)),
        )?;
    }
    let want = access.chunk_cache;
    if want.nslots.is_some() || want.nbytes.is_some() || want.w0.is_some() {
        let (mut mdc, mut nslots, mut nbytes, mut w0) = (0, 0usize, 0usize, 0f64);
        check(
            "H5Pget_cache",
            H5Pget_cache(id, &mut mdc, &mut nslots, &mut nbytes, &mut w0),
        )?;
        let size = |v: Option<u64>, d: usize| {
            v.map_or(Ok(d), usize::try_from)
                .map_err(|_| H5Error::new(ErrorKind::Other, "chunk cache setting too large"))
        };
        check(
            "H5Pset_cache",
            H5Pset_cache(
                id,
                mdc,
                size(want.nslots, nslots)?,
                size(want.nbytes, nbytes)?,
                want.w0.unwrap_or(w0),
            ),
        )?;
    }
    Ok(fapl)
}

/// What the open file `file` runs with, for the log: driver settings and
/// the chunk cache as libhdf5 holds them. Call under the lock.
pub(super) unsafe fn describe(file: hid_t, access: &Access) -> (String, u64) {
    let Ok(fapl) = Hid::new("H5Fget_access_plist", H5Fget_access_plist(file)) else {
        return (String::new(), 0);
    };
    let mut member = 0;
    if let Driver::Family { .. } = access.driver {
        let mut size: hsize_t = 0;
        let mut memb_fapl: hid_t = -1;
        if H5Pget_fapl_family(fapl.id(), &mut size, &mut memb_fapl) >= 0 {
            member = size;
            if memb_fapl >= 0 {
                H5Pclose(memb_fapl);
            }
        }
    }
    let (mut mdc, mut nslots, mut nbytes, mut w0) = (0, 0usize, 0usize, 0f64);
    H5Pget_cache(fapl.id(), &mut mdc, &mut nslots, &mut nbytes, &mut w0);
    let mut note = format!(
        "driver {}, chunk cache {nslots} slots {nbytes} bytes w0 {w0}",
        access.driver.name()
    );
    if member > 0 {
        note.push_str(&format!(", family members of {member} bytes"));
    }
    if access.swmr {
        note.push_str(", SWMR reading");
    }
    (note, member)
}
