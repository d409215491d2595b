//! What a mount serves: one HDF5 file ([`Fs`] as it is, or [`Watched`] for
//! changes by other programs), or a directory
//! tree in which every HDF5 file is a directory holding that file's tree
//! ([`dir`]). The FUSE adapter speaks to [`Mount`] only.
//!
//! - [`dir`]: the directory mount: paths of the tree, files opened on first
//!   use in shared libhdf5 workers, at most `max_open` kept, and the
//!   kernel's inodes translated to each file's own;
//! - [`inodes`]: the directory mount's inode table, with lookup counts;
//! - [`watched`]: a single file that may change under a read-only mount,
//!   opened anew when it does.

mod backing;
mod bucket;
mod dir;
mod inodes;
mod watched;

use std::sync::Arc;
use std::time::Duration;

use crate::fs::{Attr, DirView, Fs, OpenMode, RenameFlags, Result, SetAttr, StatFs, Xattr};
use crate::tree::Ino;

pub use backing::{Backing, LocalTree};
pub use bucket::BucketTree;
pub use dir::{DirMount, DirOptions};
pub use watched::Watched;

/// How the kernel may cache what it reads of an open file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenCache {
    /// Keep cached pages across opens (the file does not change).
    Keep,
    /// Drop cached pages at open (the file may have changed since).
    Fresh,
    /// No page cache: every read reaches h5fs (the file grows meanwhile).
    Direct,
}

enum Inner {
    Single(Arc<Fs>),
    Watched(Box<Watched>),
    Dir(Box<DirMount>),
}

/// What identifies a file's contents: a file with other values is another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ident {
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i128,
}

impl Ident {
    fn new(dev: u64, ino: u64, size: u64, mtime_ns: i128) -> Ident {
        Ident {
            dev,
            ino,
            size,
            mtime_ns,
        }
    }

    fn of(m: &std::fs::Metadata) -> Ident {
        use std::os::unix::fs::MetadataExt;
        Ident {
            dev: m.dev(),
            ino: m.ino(),
            size: m.len(),
            mtime_ns: i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
        }
    }
}

pub struct Mount {
    inner: Inner,
}

/// Call `$single` with `$fs` the file's tree that serves inode `$ino`, or
/// the directory mount's `$multi`. For a watched file `$how` is
/// [`Watched::fs`] (`ESTALE` for an inode of an earlier tree) or, for
/// requests that find no new inodes, [`Watched::fs_held`] (an earlier tree
/// serves its own inodes while it has open handles).
macro_rules! route {
    ($self:ident, $how:ident($ino:expr), $fs:ident => $single:expr, $dir:ident => $multi:expr) => {
        match &$self.inner {
            Inner::Single($fs) => $single,
            Inner::Watched(w) => {
                let served = w.$how($ino)?;
                let $fs = &*served;
                $single
            }
            Inner::Dir($dir) => $multi,
        }
    };
}

/// As [`route!`] for requests on an open handle `$fh`.
macro_rules! route_fh {
    ($self:ident, $fh:ident, $fs:ident => $single:expr, $dir:ident => $multi:expr) => {
        match &$self.inner {
            Inner::Single($fs) => $single,
            Inner::Watched(w) => {
                let (served, $fh) = w.by_handle($fh)?;
                let $fs = &*served;
                $single
            }
            Inner::Dir($dir) => $multi,
        }
    };
}

impl Mount {
    pub fn single(fs: Arc<Fs>) -> Mount {
        Mount {
            inner: Inner::Single(fs),
        }
    }

    /// A single file another program may change under the read-only mount.
    pub fn watched(w: Watched) -> Mount {
        Mount {
            inner: Inner::Watched(Box::new(w)),
        }
    }

    pub fn directory(d: DirMount) -> Mount {
        Mount {
            inner: Inner::Dir(Box::new(d)),
        }
    }

    /// How long the kernel may keep names and attributes; None: as long as
    /// a read-only mount of an unchanging file allows.
    pub fn refresh_interval(&self) -> Option<Duration> {
        match &self.inner {
            Inner::Single(fs) => fs.refresh_interval(),
            Inner::Watched(w) => Some(w.refresh()),
            Inner::Dir(d) => Some(d.refresh()),
        }
    }

    /// Once the session runs: lets the directory mount ask the kernel to
    /// drop what it holds of files it closes.
    pub fn set_notifier(&self, n: fuser::Notifier) {
        if let Inner::Dir(d) = &self.inner {
            d.set_notifier(n);
        }
    }

    pub fn lookup(&self, parent: Ino, name: &[u8]) -> Result<Attr> {
        route!(self, fs(parent), fs => fs.lookup(parent, name), d => d.lookup(parent, name))
    }

    /// The kernel forgets `n` lookups of `ino`.
    pub fn forget(&self, ino: Ino, n: u64) {
        if let Inner::Dir(d) = &self.inner {
            d.forget(ino, n);
        }
    }

    pub fn getattr(&self, ino: Ino) -> Result<Attr> {
        route!(self, fs_held(ino), fs => fs.getattr(ino), d => d.getattr(ino))
    }

    pub fn setattr(&self, ino: Ino, set: SetAttr) -> Result<Attr> {
        route!(self, fs(ino), fs => fs.setattr(ino, set), d => d.setattr(ino, set))
    }

    pub fn readlink(&self, ino: Ino) -> Result<Vec<u8>> {
        route!(self, fs_held(ino), fs => fs.readlink(ino), d => d.readlink(ino))
    }

    pub fn access(&self, ino: Ino, write: bool) -> Result<()> {
        route!(self, fs_held(ino), fs => fs.access(ino, write), d => d.access(ino, write))
    }

    pub fn open(&self, ino: Ino, mode: OpenMode) -> Result<(u64, OpenCache)> {
        match &self.inner {
            Inner::Single(fs) => {
                let cache = if fs.refresh_interval().is_some() {
                    OpenCache::Direct
                } else {
                    OpenCache::Keep
                };
                fs.open(ino, mode).map(|fh| (fh, cache))
            }
            Inner::Watched(w) => w.open(ino, mode),
            Inner::Dir(d) => d.open(ino, mode),
        }
    }

    pub fn create(&self, parent: Ino, name: &[u8]) -> Result<(Attr, u64)> {
        route!(self, fs(parent), fs => fs.create(parent, name), d => d.make(parent, |fs, p| fs.create(p, name)).map(|(a, fh)| (a, d.handle_of(parent, fh))))
    }

    pub fn read(&self, fh: u64, offset: u64, size: u32) -> Result<Vec<u8>> {
        route_fh!(self, fh, fs => fs.read(fh, offset, size), d => d.read(fh, offset, size))
    }

    pub fn write(&self, fh: u64, offset: u64, data: &[u8]) -> Result<u32> {
        route_fh!(self, fh, fs => fs.write(fh, offset, data), d => d.by_handle(fh, |fs, h| fs.write(h, offset, data)))
    }

    pub fn flush(&self, fh: u64) -> Result<()> {
        route_fh!(self, fh, fs => fs.flush(fh), d => d.flush(fh))
    }

    pub fn release(&self, fh: u64) -> Result<()> {
        match &self.inner {
            Inner::Single(fs) => fs.release(fh),
            Inner::Watched(w) => w.release(fh),
            Inner::Dir(d) => d.release(fh),
        }
    }

    pub fn fsync(&self, fh: u64) -> Result<()> {
        route_fh!(self, fh, fs => fs.fsync(fh), d => d.fsync(fh))
    }

    /// fsync of directory `ino`: the file holding it is flushed to disk.
    pub fn fsyncdir(&self, ino: Ino) -> Result<()> {
        route!(self, fs(ino), fs => fs.fsyncdir(), d => d.fsyncdir(ino))
    }

    pub fn readdir(&self, ino: Ino) -> Result<DirView> {
        route!(self, fs(ino), fs => fs.readdir(ino), d => d.readdir(ino))
    }

    pub fn statfs(&self) -> StatFs {
        match &self.inner {
            Inner::Single(fs) => fs.statfs(),
            Inner::Watched(w) => w.current().statfs(),
            Inner::Dir(d) => d.statfs(),
        }
    }

    pub fn getxattr(&self, ino: Ino, name: &[u8], size: u32) -> Result<Xattr> {
        route!(self, fs_held(ino), fs => fs.getxattr(ino, name, size), d => d.getxattr(ino, name, size))
    }

    pub fn listxattr(&self, ino: Ino, size: u32) -> Result<Xattr> {
        route!(self, fs_held(ino), fs => fs.listxattr(ino, size), d => d.listxattr(ino, size))
    }

    pub fn setxattr(
        &self,
        ino: Ino,
        name: &[u8],
        value: &[u8],
        create_only: bool,
        replace_only: bool,
    ) -> Result<()> {
        route!(self, fs(ino),
            fs => fs.setxattr(ino, name, value, create_only, replace_only),
            d => d.change(ino, |fs, i| fs.setxattr(i, name, value, create_only, replace_only)))
    }

    pub fn removexattr(&self, ino: Ino, name: &[u8]) -> Result<()> {
        route!(self, fs(ino), fs => fs.removexattr(ino, name), d => d.change(ino, |fs, i| fs.removexattr(i, name)))
    }

    pub fn mkdir(&self, parent: Ino, name: &[u8]) -> Result<Attr> {
        route!(self, fs(parent), fs => fs.mkdir(parent, name), d => d.make(parent, |fs, p| fs.mkdir(p, name).map(|a| (a, ()))).map(|(a, ())| a))
    }

    pub fn mknod(&self, parent: Ino, name: &[u8]) -> Result<Attr> {
        route!(self, fs(parent), fs => fs.mknod(parent, name), d => d.make(parent, |fs, p| fs.mknod(p, name).map(|a| (a, ()))).map(|(a, ())| a))
    }

    pub fn unlink(&self, parent: Ino, name: &[u8]) -> Result<()> {
        route!(self, fs(parent), fs => fs.unlink(parent, name), d => d.change(parent, |fs, p| fs.unlink(p, name)))
    }

    pub fn rmdir(&self, parent: Ino, name: &[u8]) -> Result<()> {
        route!(self, fs(parent), fs => fs.rmdir(parent, name), d => d.change(parent, |fs, p| fs.rmdir(p, name)))
    }

    pub fn symlink(&self, parent: Ino, name: &[u8], target: &[u8]) -> Result<Attr> {
        route!(self, fs(parent), fs => fs.symlink(parent, name, target), d => d.make(parent, |fs, p| fs.symlink(p, name, target).map(|a| (a, ()))).map(|(a, ())| a))
    }

    pub fn rename(
        &self,
        parent: Ino,
        name: &[u8],
        new_parent: Ino,
        new_name: &[u8],
        flags: RenameFlags,
    ) -> Result<()> {
        route!(self, fs(parent),
            fs => fs.rename(parent, name, new_parent, new_name, flags),
            d => d.change_two(parent, new_parent, |fs, a, b| fs.rename(a, name, b, new_name, flags)))
    }

    pub fn link(&self, ino: Ino, new_parent: Ino, new_name: &[u8]) -> Result<Attr> {
        route!(self, fs(ino), fs => fs.link(ino, new_parent, new_name), d => d.link(ino, new_parent, new_name))
    }
}
