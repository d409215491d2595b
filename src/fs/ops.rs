//! The requests, one method each, as a FUSE adapter (or a test) calls them.
//!
//! Each takes the request gate for the duration: shared for reads, and for
//! changes shared with the file open for writing ([`Fs::begin_change`]);
//! closing a handle takes the change gate only when it has staged bytes to
//! apply. Each failure is logged once here, with the operation, the HDF5
//! path and the errno (see [`super::error::Failures`]). The methods below
//! them in the other modules take no gate and log nothing, so they can call
//! each other freely.

use std::sync::Arc;

use super::data::SetAttr;
use super::handles::OpenMode;
use super::read::DirView;
use super::stage::Applied;
use super::{Attr, Error, Fs, Result, StatFs};
use crate::tree::Ino;

/// What getxattr and listxattr answer: the size of the value, when the
/// caller asked for the size (a buffer of 0 bytes), or the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Xattr {
    Size(u32),
    Data(Vec<u8>),
}

/// rename(2)'s flags.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RenameFlags {
    pub exchange: bool,
    pub no_replace: bool,
}

/// The xattr size protocol: a 0-byte buffer asks for the size; a buffer
/// smaller than the value is ERANGE.
fn sized(value: Vec<u8>, size: u32) -> Result<Xattr> {
    if size == 0 {
        Ok(Xattr::Size(value.len() as u32))
    } else if value.len() > size as usize {
        Err(Error::Range(value.len()))
    } else {
        Ok(Xattr::Data(value))
    }
}

impl Fs {
    /// Log a failure of request `op` about `what` once; pass the result on.
    fn report<T>(&self, op: &str, what: impl FnOnce() -> String, r: Result<T>) -> Result<T> {
        if let Err(e) = &r {
            self.failures.report(op, &what(), e);
        }
        r
    }

    fn reading<T>(
        &self,
        op: &str,
        what: impl FnOnce() -> String,
        f: impl FnOnce() -> Result<T>,
    ) -> Result<T> {
        let r = {
            let _g = self.gate();
            f()
        };
        self.report(op, what, r)
    }

    fn changing<T>(
        &self,
        op: &str,
        what: impl FnOnce() -> String,
        f: impl FnOnce() -> Result<T>,
    ) -> Result<T> {
        let r = self.begin_change().and_then(|_g| f());
        self.report(op, what, r)
    }

    /// The inode a handle is open on, for log lines.
    fn shown_handle(&self, fh: u64) -> String {
        match self.handle(fh) {
            Ok(h) => self.shown(h.ino()),
            Err(_) => format!("(handle {fh})"),
        }
    }

    pub fn lookup(&self, parent: Ino, name: &[u8]) -> Result<Attr> {
        self.reading(
            "lookup",
            || self.shown_in(parent, name),
            || self.find(parent, name),
        )
    }

    pub fn getattr(&self, ino: Ino) -> Result<Attr> {
        self.reading("getattr", || self.shown(ino), || self.attr(ino))
    }

    /// truncate / ftruncate (mode, owner and times are accepted and not stored).
    pub fn setattr(&self, ino: Ino, set: SetAttr) -> Result<Attr> {
        let what = || self.shown(ino);
        if set.size.is_some() {
            self.changing("truncate", what, || self.set_attr(ino, set))
        } else {
            self.reading("setattr", what, || self.set_attr(ino, set))
        }
    }

    pub fn readlink(&self, ino: Ino) -> Result<Vec<u8>> {
        self.reading("readlink", || self.shown(ino), || self.link_text(ino))
    }

    pub fn access(&self, ino: Ino, write: bool) -> Result<()> {
        self.reading(
            "access",
            || self.shown(ino),
            || {
                if write {
                    self.writable()?;
                }
                self.attr(ino).map(|_| ())
            },
        )
    }

    pub fn open(&self, ino: Ino, mode: OpenMode) -> Result<u64> {
        let what = || self.shown(ino);
        if mode.write {
            self.changing("open", what, || self.open_file(ino, mode))
        } else {
            self.reading("open", what, || self.open_file(ino, mode))
        }
    }

    pub fn create(&self, parent: Ino, name: &[u8]) -> Result<(Attr, u64)> {
        self.changing(
            "create",
            || self.shown_in(parent, name),
            || self.create_file(parent, name),
        )
    }

    pub fn read(self: &Arc<Self>, fh: u64, offset: u64, size: u32) -> Result<Vec<u8>> {
        self.reading(
            "read",
            || self.shown_handle(fh),
            || self.read_handle(fh, offset, size),
        )
    }

    pub fn write(&self, fh: u64, offset: u64, data: &[u8]) -> Result<u32> {
        self.changing(
            "write",
            || self.shown_handle(fh),
            || self.write_at(fh, offset, data),
        )
    }

    /// A close(2) of a descriptor: staged bytes are applied.
    pub fn flush(&self, fh: u64) -> Result<()> {
        let what = || self.shown_handle(fh);
        if self.has_pending_changes(fh) {
            self.changing("close", what, || self.apply_handle(fh, Applied::AtClose))
        } else {
            self.reading("close", what, || self.apply_handle(fh, Applied::AtClose))
        }
    }

    /// The last close of a handle.
    pub fn release(&self, fh: u64) -> Result<()> {
        let what = self.shown_handle(fh);
        if self.has_pending_changes(fh) {
            self.changing("release", || what, || self.release_handle(fh))
        } else {
            self.reading("release", || what, || self.release_handle(fh))
        }
    }

    /// fsync: apply staged writes, then flush the HDF5 file to disk.
    pub fn fsync(&self, fh: u64) -> Result<()> {
        let r = self
            .begin_change()
            .and_then(|_g| self.apply_handle(fh, Applied::AtSync))
            .and_then(|()| self.sync_to_disk());
        self.report("fsync", || self.shown_handle(fh), r)
    }

    pub fn fsyncdir(&self) -> Result<()> {
        let r = self.sync_to_disk();
        self.report("fsyncdir", || "/".into(), r)
    }

    pub fn readdir(&self, ino: Ino) -> Result<DirView> {
        self.reading("readdir", || self.shown(ino), || self.dir_view(ino))
    }

    pub fn statfs(&self) -> StatFs {
        let _g = self.gate();
        self.stats()
    }

    pub fn getxattr(&self, ino: Ino, name: &[u8], size: u32) -> Result<Xattr> {
        self.reading(
            "getxattr",
            || format!("{} {}", self.shown(ino), String::from_utf8_lossy(name)),
            || sized(self.attr_text(ino, name)?, size),
        )
    }

    pub fn listxattr(&self, ino: Ino, size: u32) -> Result<Xattr> {
        self.reading(
            "listxattr",
            || self.shown(ino),
            || sized(self.attr_list(ino)?, size),
        )
    }

    pub fn setxattr(
        &self,
        ino: Ino,
        name: &[u8],
        value: &[u8],
        create_only: bool,
        replace_only: bool,
    ) -> Result<()> {
        self.changing(
            "setxattr",
            || format!("{} {}", self.shown(ino), String::from_utf8_lossy(name)),
            || self.set_attribute(ino, name, value, create_only, replace_only),
        )
    }

    pub fn removexattr(&self, ino: Ino, name: &[u8]) -> Result<()> {
        self.changing(
            "removexattr",
            || format!("{} {}", self.shown(ino), String::from_utf8_lossy(name)),
            || self.remove_attribute(ino, name),
        )
    }

    pub fn mkdir(&self, parent: Ino, name: &[u8]) -> Result<Attr> {
        self.changing(
            "mkdir",
            || self.shown_in(parent, name),
            || self.make_group(parent, name),
        )
    }

    /// Device files, FIFOs and sockets have no HDF5 form.
    pub fn mknod(&self, parent: Ino, name: &[u8]) -> Result<Attr> {
        let r = self.writable().and_then(|()| {
            Err(Error::NotPermitted(
                "only regular files, directories and symlinks can be made".into(),
            ))
        });
        self.report("mknod", || self.shown_in(parent, name), r)
    }

    pub fn unlink(&self, parent: Ino, name: &[u8]) -> Result<()> {
        self.changing(
            "unlink",
            || self.shown_in(parent, name),
            || self.unlink_entry(parent, name),
        )
    }

    pub fn rmdir(&self, parent: Ino, name: &[u8]) -> Result<()> {
        self.changing(
            "rmdir",
            || self.shown_in(parent, name),
            || self.remove_group(parent, name),
        )
    }

    pub fn symlink(&self, parent: Ino, name: &[u8], target: &[u8]) -> Result<Attr> {
        self.changing(
            "symlink",
            || self.shown_in(parent, name),
            || self.make_symlink(parent, name, target),
        )
    }

    pub fn rename(
        &self,
        parent: Ino,
        name: &[u8],
        new_parent: Ino,
        new_name: &[u8],
        flags: RenameFlags,
    ) -> Result<()> {
        self.changing(
            "rename",
            || {
                format!(
                    "{} -> {}",
                    self.shown_in(parent, name),
                    self.shown_in(new_parent, new_name)
                )
            },
            || {
                if flags.exchange {
                    return Err(Error::Invalid("RENAME_EXCHANGE is not supported".into()));
                }
                self.rename_entry(parent, name, new_parent, new_name, flags.no_replace)
            },
        )
    }

    pub fn link(&self, ino: Ino, new_parent: Ino, new_name: &[u8]) -> Result<Attr> {
        self.changing(
            "link",
            || self.shown_in(new_parent, new_name),
            || self.make_hard_link(ino, new_parent, new_name),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xattr_size_protocol() {
        assert_eq!(sized(b"abc".to_vec(), 0).unwrap(), Xattr::Size(3));
        assert_eq!(
            sized(b"abc".to_vec(), 3).unwrap(),
            Xattr::Data(b"abc".to_vec())
        );
        assert_eq!(sized(b"abc".to_vec(), 2).unwrap_err().errno(), libc::ERANGE);
    }
}
