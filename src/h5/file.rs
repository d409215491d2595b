//! An open file: opening and reopening it, objects by location, links.
//!
//! Objects of the mounted file are opened by address (stable across renames
//! of other names); objects of external files by their path from the root of
//! the mounted file, so soft and external links are resolved by libhdf5
//! itself, exactly as h5py resolves them. External files are always opened
//! read-only.

use std::ffi::CString;
use std::os::raw::{c_char, c_uint, c_void};
use std::path::{Path, PathBuf};

use hdf5_sys::h5::{herr_t, hsize_t, H5_index_t, H5_iter_order_t};
use hdf5_sys::h5f::*;
use hdf5_sys::h5g::H5Gget_create_plist;
use hdf5_sys::h5i::hid_t;
use hdf5_sys::h5l::*;
use hdf5_sys::h5o::*;
use hdf5_sys::h5p::*;

use super::handle::{check, last_error, locked, Hid};
use super::types::describe;
use crate::model::{
    member_name, Access, Driver, ErrorKind, FileFacts, H5Error, Link, LinkKind, Loc, ObjectInfo,
    ObjectKind, Result, TypeDesc,
};

pub(super) fn c_path(path: &[u8]) -> Result<CString> {
    CString::new(path.to_vec())
        .map_err(|_| H5Error::new(ErrorKind::NotFound, "name contains a NUL byte"))
}

pub(super) fn show(path: &[u8]) -> String {
    String::from_utf8_lossy(path).into_owned()
}

/// An open HDF5 file.
pub struct H5File {
    hid: Hid,
    /// libhdf5's number for this file, to tell its objects from external ones.
    fileno: u64,
    pub(super) path: PathBuf,
    writable: bool,
    /// Driver, bounds, caches, SWMR: kept for reopening.
    access: Access,
    /// Link access for every traversal: external files are opened read-only,
    /// even when this file is open for writing.
    lapl: Hid,
}

impl H5File {
    /// Open the file, read-only or for reading and writing.
    pub fn open(path: &Path, writable: bool, access: &Access) -> Result<H5File> {
        let (hid, fileno) = open_raw(path, writable, access, None)?;
        H5File::opened(hid, fileno, path, writable, access)
    }

    fn opened(
        hid: Hid,
        fileno: u64,
        path: &Path,
        writable: bool,
        access: &Access,
    ) -> Result<H5File> {
        let lapl = locked(|| unsafe {
            let lapl = Hid::new("H5Pcreate", H5Pcreate(*hdf5::globals::H5P_LINK_ACCESS))?;
            check(
                "H5Pset_elink_acc_flags",
                H5Pset_elink_acc_flags(lapl.id(), H5F_ACC_RDONLY),
            )?;
            Ok::<_, H5Error>(lapl)
        })?;
        Ok(H5File {
            hid,
            fileno,
            path: path.to_path_buf(),
            writable,
            access: access.clone(),
            lapl,
        })
    }

    /// The files on disk that hold this file: a family's members that
    /// exist now (libhdf5 adds members as the file grows), a split pair, or
    /// the file itself.
    pub(super) fn parts(&self) -> Vec<PathBuf> {
        let with = |ext: &str| {
            let mut p = self.path.clone().into_os_string();
            p.push(ext);
            PathBuf::from(p)
        };
        match &self.access.driver {
            Driver::Family { .. } => {
                let pattern = self.path.to_string_lossy();
                (0..)
                    .map_while(|i| member_name(&pattern, i).map(PathBuf::from))
                    .take_while(|p| p.exists())
                    .collect()
            }
            Driver::Split { meta_ext, raw_ext } => vec![with(meta_ext), with(raw_ext)],
            _ => vec![self.path.clone()],
        }
    }

    pub fn facts(&self) -> Result<FileFacts> {
        let root = self.info(b"/")?;
        locked(|| unsafe {
            let mut base: hsize_t = 0;
            let fcpl = Hid::new("H5Fget_create_plist", H5Fget_create_plist(self.id()))?;
            H5Pget_userblock(fcpl.id(), &mut base);
            let mut info = H5F_info2_t::default();
            let superblock = if H5Fget_info2(self.id(), &mut info) >= 0 {
                info.super_.version
            } else {
                0
            };
            let mut size: hsize_t = 0;
            H5Fget_filesize(self.id(), &mut size);
            let (note, member_size) = super::access::describe(self.id(), &self.access);
            Ok(FileFacts {
                root,
                base,
                size,
                superblock,
                member_size,
                note,
            })
        })
    }

    /// Close and open the file again, for writing or not. No object of the
    /// file may be open. On failure the file stays open as it was (or
    /// read-only, if even that fails).
    pub fn reopen(&mut self, writable: bool) -> Result<()> {
        // Close first: libhdf5 will not open a file twice with other intents.
        let placeholder = Hid::new(
            "H5Pcreate",
            locked(|| unsafe { H5Pcreate(*hdf5::globals::H5P_FILE_ACCESS) }),
        )?;
        drop(std::mem::replace(&mut self.hid, placeholder));
        let (path, access) = (&self.path, &self.access);
        let (result, opened, now) = match open_raw(path, writable, access, None) {
            Ok(o) => (Ok(()), o, writable),
            Err(e) => match open_raw(path, self.writable, access, None) {
                Ok(o) => (Err(e), o, self.writable),
                Err(_) => (Err(e), open_raw(path, false, access, None)?, false),
            },
        };
        (self.hid, self.fileno) = opened;
        self.writable = now;
        result
    }

    pub fn is_open_for_writing(&self) -> bool {
        self.writable
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
            if raw.fileno != self.fileno {
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
            if raw.fileno != self.fileno {
                info.file = external_file_key(obj.id(), c".", self.lapl.id());
            }
            Ok(info)
        })
    }

    pub(super) fn open_object(&self, loc: &Loc) -> Result<Hid> {
        let what = format!("{}: cannot open", show(&loc.path));
        if let Some(addr) = loc.addr {
            return locked(|| unsafe { Hid::new(&what, H5Oopen_by_addr(self.id(), addr)) });
        }
        let c = c_path(&loc.path)?;
        locked(|| unsafe { Hid::new(&what, H5Oopen(self.id(), c.as_ptr(), self.lapl.id())) })
    }

    pub(super) fn id(&self) -> hid_t {
        self.hid.id()
    }

    /// The links of the group at `loc`, in creation order where the group
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
                    .map_err(|_| last_error(&format!("{}: cannot list group", show(path))))?;
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

    /// Describe the committed datatype at `loc`.
    pub fn datatype(&self, loc: &Loc) -> Result<TypeDesc> {
        let obj = self.open_object(loc)?;
        locked(|| describe(obj.id()))
    }
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

/// Open `name` read-only through h5fs's own driver, which reads it from
/// the source `opener` gives for it (src/h5/vfd.rs).
#[cfg(test)]
pub(super) fn open_with_driver(name: &str, opener: super::vfd::Opener) -> Result<H5File> {
    let path = Path::new(name);
    let access = Access::default();
    let (hid, fileno) = open_raw(path, false, &access, Some(opener))?;
    H5File::opened(hid, fileno, path, false, &access)
}

/// Open `path`; returns the handle and libhdf5's number for the file.
fn open_raw(
    path: &Path,
    writable: bool,
    access: &Access,
    driver: Option<super::vfd::Opener>,
) -> Result<(Hid, u64)> {
    let c = CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| H5Error::new(ErrorKind::NotFound, "file name contains a NUL byte"))?;
    let mode = match (writable, access.swmr) {
        (true, _) => H5F_ACC_RDWR,
        (false, false) => H5F_ACC_RDONLY,
        (false, true) => H5F_ACC_RDONLY | H5F_ACC_SWMR_READ,
    };
    locked(|| unsafe {
        let fapl = super::access::fapl(access)?;
        if let Some(opener) = driver {
            super::vfd::set_on(fapl.id(), opener)?;
        }
        let hid = Hid::new("H5Fopen", H5Fopen(c.as_ptr(), mode, fapl.id()))?;
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

/// Longest soft or external link value read (a damaged header may claim more).
const MAX_LINK_VALUE: usize = 1 << 20;

unsafe fn link_value(
    group: hid_t,
    name: &[u8],
    ltype: H5L_type_t,
    size: usize,
) -> Result<LinkKind> {
    let c = c_path(name)?;
    if size > MAX_LINK_VALUE {
        return Err(H5Error::new(
            ErrorKind::Other,
            format!("link value of {size} bytes"),
        ));
    }
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
