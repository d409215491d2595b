//! The thin FUSE adapter: each handler calls the core ([`crate::multi::Mount`],
//! one file's [`crate::fs::Fs`] or a directory of files) and either replies
//! or maps the error to its errno. No rules live here.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use fuser::{
    Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation, INodeNo, InitFlags,
    KernelConfig, LockOwner, OpenAccMode, OpenFlags, ReplyAttr, ReplyData, ReplyDirectory,
    ReplyEmpty, ReplyEntry, ReplyOpen, ReplyStatfs, ReplyXattr, Request, TimeOrNow,
};

use crate::fs::{Attr, Error, OpenMode, RenameFlags, SetAttr, Xattr};
use crate::multi::{Mount, OpenCache};
use crate::tree::EntryType;

/// The file does not change under a read-only mount, so the kernel may cache
/// names and attributes for long; under a writable one it must ask each time.
const TTL_RO: Duration = Duration::from_secs(3600);
const TTL_RW: Duration = Duration::ZERO;

/// Largest read and write request, and the block size `stat` reports (so
/// `cat` and `cp` read 1 MiB at a time).
const IO_SIZE: u32 = 1 << 20;

pub struct H5Fuse {
    fs: Arc<Mount>,
    writable: bool,
    /// Reads bypass the kernel page cache (`-o direct_io`).
    direct_io: bool,
    ttl: Duration,
}

impl H5Fuse {
    pub fn new(fs: Arc<Mount>, writable: bool, direct_io: bool) -> Self {
        // Files that change under the mount (an SWMR writer's, a directory's):
        // names and sizes are asked again after the refresh time.
        let changing = fs.refresh_interval();
        H5Fuse {
            fs,
            writable,
            direct_io,
            ttl: match (writable, changing) {
                (true, _) => TTL_RW,
                (false, Some(t)) => t,
                (false, None) => TTL_RO,
            },
        }
    }

    fn entry(&self, reply: ReplyEntry, r: Result<Attr, Error>) {
        match r {
            Ok(a) => reply.entry(&self.ttl, &to_file_attr(&a), Generation(0)),
            Err(e) => reply.error(errno(&e)),
        }
    }

    /// Reads of a read-only mount may be cached by the kernel across opens;
    /// a writable mount goes to h5fs every time (sizes change by whole rows),
    /// and so does `-o direct_io` (faster single reads, no cache for re-reads).
    /// A file that grows meanwhile (an SWMR writer's) is read past the
    /// kernel's cache, where a cached page past the old end would hide the
    /// new bytes; a plain file of a directory mount drops cached pages at
    /// open.
    fn open_flags(&self, cache: OpenCache) -> FopenFlags {
        if self.writable || self.direct_io || cache == OpenCache::Direct {
            FopenFlags::FOPEN_DIRECT_IO
        } else if cache == OpenCache::Keep {
            FopenFlags::FOPEN_KEEP_CACHE
        } else {
            FopenFlags::empty()
        }
    }
}

fn empty(reply: ReplyEmpty, r: Result<(), Error>) {
    match r {
        Ok(()) => reply.ok(),
        Err(e) => reply.error(errno(&e)),
    }
}

fn errno(e: &Error) -> Errno {
    Errno::from_i32(e.errno())
}

fn file_type(kind: EntryType) -> FileType {
    match kind {
        EntryType::Directory => FileType::Directory,
        EntryType::File => FileType::RegularFile,
        EntryType::Symlink => FileType::Symlink,
    }
}

fn to_file_attr(a: &Attr) -> FileAttr {
    FileAttr {
        ino: INodeNo(a.ino),
        size: a.size,
        blocks: a.size.div_ceil(512),
        atime: a.mtime,
        mtime: a.mtime,
        ctime: a.mtime,
        crtime: a.mtime,
        kind: file_type(a.kind),
        perm: a.perm,
        nlink: a.nlink,
        uid: a.uid,
        gid: a.gid,
        rdev: 0,
        flags: 0,
        blksize: IO_SIZE,
    }
}

fn reply_xattr(reply: ReplyXattr, result: Result<Xattr, Error>) {
    match result {
        Ok(Xattr::Size(n)) => reply.size(n),
        Ok(Xattr::Data(v)) => reply.data(&v),
        Err(e) => reply.error(errno(&e)),
    }
}

impl Filesystem for H5Fuse {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> std::io::Result<()> {
        // O_TRUNC arrives with open, so a fixed-size dataset can be replaced whole.
        let _ = config.add_capabilities(InitFlags::FUSE_ATOMIC_O_TRUNC);
        // Requests of up to 1 MiB (the kernel allows 256 pages): fewer, larger
        // hyperslab reads and writes. Smaller kernel limits are kept as they are.
        let _ = config.set_max_readahead(IO_SIZE);
        let _ = config.set_max_write(IO_SIZE);
        Ok(())
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        self.entry(reply, self.fs.lookup(parent.0, name.as_bytes()));
    }

    fn forget(&self, _req: &Request, ino: INodeNo, nlookup: u64) {
        self.fs.forget(ino.0, nlookup);
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        match self.fs.getattr(ino.0) {
            Ok(a) => reply.attr(&self.ttl, &to_file_attr(&a)),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        _mode: Option<u32>,
        _uid: Option<u32>,
        _gid: Option<u32>,
        size: Option<u64>,
        _atime: Option<TimeOrNow>,
        _mtime: Option<TimeOrNow>,
        _ctime: Option<std::time::SystemTime>,
        _fh: Option<FileHandle>,
        _crtime: Option<std::time::SystemTime>,
        _chgtime: Option<std::time::SystemTime>,
        _bkuptime: Option<std::time::SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        match self.fs.setattr(ino.0, SetAttr { size }) {
            Ok(a) => reply.attr(&self.ttl, &to_file_attr(&a)),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn readlink(&self, _req: &Request, ino: INodeNo, reply: ReplyData) {
        match self.fs.readlink(ino.0) {
            Ok(t) => reply.data(&t),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        let mode = OpenMode {
            write: flags.acc_mode() != OpenAccMode::O_RDONLY,
            truncate: flags.0 & libc::O_TRUNC != 0,
        };
        match self.fs.open(ino.0, mode) {
            Ok((fh, cache)) => reply.opened(FileHandle(fh), self.open_flags(cache)),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn create(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        _mode: u32,
        _umask: u32,
        _flags: i32,
        reply: fuser::ReplyCreate,
    ) {
        match self.fs.create(parent.0, name.as_bytes()) {
            Ok((a, fh)) => reply.created(
                &self.ttl,
                &to_file_attr(&a),
                Generation(0),
                FileHandle(fh),
                self.open_flags(OpenCache::Keep),
            ),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn read(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        match self.fs.read(fh.0, offset, size) {
            Ok(data) => reply.data(&data),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn write(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: fuser::WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: fuser::ReplyWrite,
    ) {
        match self.fs.write(fh.0, offset, data) {
            Ok(n) => reply.written(n),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        empty(reply, self.fs.flush(fh.0));
    }

    fn fsync(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        empty(reply, self.fs.fsync(fh.0));
    }

    fn fsyncdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        empty(reply, self.fs.fsyncdir(ino.0));
    }

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        empty(reply, self.fs.release(fh.0));
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let view = match self.fs.readdir(ino.0) {
            Ok(v) => v,
            Err(e) => return reply.error(errno(&e)),
        };
        // Offsets: 1 is ".", 2 is "..", 3 + i is entry i (file entries, then pending ones).
        let dots: [(u64, &[u8]); 2] = [(1, b"."), (2, b"..")];
        for (off, name) in dots {
            if offset < off && reply.add(ino, off, FileType::Directory, OsStr::from_bytes(name)) {
                return reply.ok();
            }
        }
        let skip = offset.saturating_sub(2) as usize;
        let all = view.listing.entries.iter().chain(view.pending.iter());
        for (i, entry) in all.enumerate().skip(skip) {
            let full = reply.add(
                INodeNo(entry.ino),
                3 + i as u64,
                file_type(entry.kind),
                OsStr::from_bytes(&entry.name),
            );
            if full {
                break;
            }
        }
        reply.ok();
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        let s = self.fs.statfs();
        reply.statfs(s.blocks, 0, 0, s.files, 0, s.bsize, s.namelen, s.bsize);
    }

    fn getxattr(&self, _req: &Request, ino: INodeNo, name: &OsStr, size: u32, reply: ReplyXattr) {
        reply_xattr(reply, self.fs.getxattr(ino.0, name.as_bytes(), size));
    }

    fn listxattr(&self, _req: &Request, ino: INodeNo, size: u32, reply: ReplyXattr) {
        reply_xattr(reply, self.fs.listxattr(ino.0, size));
    }

    fn setxattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        name: &OsStr,
        value: &[u8],
        flags: i32,
        _position: u32,
        reply: ReplyEmpty,
    ) {
        let create = flags & libc::XATTR_CREATE != 0;
        let replace = flags & libc::XATTR_REPLACE != 0;
        empty(
            reply,
            self.fs
                .setxattr(ino.0, name.as_bytes(), value, create, replace),
        );
    }

    fn removexattr(&self, _req: &Request, ino: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        empty(reply, self.fs.removexattr(ino.0, name.as_bytes()));
    }

    fn mkdir(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        _mode: u32,
        _umask: u32,
        reply: ReplyEntry,
    ) {
        self.entry(reply, self.fs.mkdir(parent.0, name.as_bytes()));
    }

    fn mknod(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        _mode: u32,
        _umask: u32,
        _rdev: u32,
        reply: ReplyEntry,
    ) {
        self.entry(reply, self.fs.mknod(parent.0, name.as_bytes()));
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        empty(reply, self.fs.unlink(parent.0, name.as_bytes()));
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        empty(reply, self.fs.rmdir(parent.0, name.as_bytes()));
    }

    fn symlink(
        &self,
        _req: &Request,
        parent: INodeNo,
        link_name: &OsStr,
        target: &Path,
        reply: ReplyEntry,
    ) {
        self.entry(
            reply,
            self.fs.symlink(
                parent.0,
                link_name.as_bytes(),
                target.as_os_str().as_bytes(),
            ),
        );
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: fuser::RenameFlags,
        reply: ReplyEmpty,
    ) {
        let flags = RenameFlags {
            exchange: flags.contains(fuser::RenameFlags::RENAME_EXCHANGE),
            no_replace: flags.contains(fuser::RenameFlags::RENAME_NOREPLACE),
        };
        empty(
            reply,
            self.fs.rename(
                parent.0,
                name.as_bytes(),
                newparent.0,
                newname.as_bytes(),
                flags,
            ),
        );
    }

    fn link(
        &self,
        _req: &Request,
        ino: INodeNo,
        newparent: INodeNo,
        newname: &OsStr,
        reply: ReplyEntry,
    ) {
        self.entry(reply, self.fs.link(ino.0, newparent.0, newname.as_bytes()));
    }

    fn access(&self, _req: &Request, ino: INodeNo, mask: fuser::AccessFlags, reply: ReplyEmpty) {
        empty(
            reply,
            self.fs
                .access(ino.0, mask.contains(fuser::AccessFlags::W_OK)),
        );
    }

    fn ioctl(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _flags: fuser::IoctlFlags,
        _cmd: u32,
        _in_data: &[u8],
        _out_size: u32,
        reply: fuser::ReplyIoctl,
    ) {
        reply.error(Errno::ENOTTY);
    }
}
