//! The filesystem core: every request as a plain method returning
//! `Result<T, Error>`, with one mapping from [`Error`] to errno. It knows the
//! mapping rules (docs/SEMANTICS.md) and nothing of FUSE.
//!
//! - [`ops`]: the requests, one method each: each takes the request gate,
//!   calls the core, and logs a failure once;
//! - [`read`]: listings, lookups, attributes of inodes, reads, rendered
//!   contents; [`xattr`]: extended attributes both ways;
//! - on `-o rw` mounts: [`handles`] (open files and their states),
//!   [`data`] (writes and size changes), [`create`] (new and replaced
//!   datasets, staged bytes applied), [`namespace`] (mkdir, unlink, rename,
//!   links), with [`stage`] holding bytes applied whole at close and
//!   [`limits`] bounding what a request may ask of libhdf5;
//! - [`caches`], [`ahead`] (read-ahead for `-o direct_io`), [`error`].
//!
//! Every libhdf5 call goes to the file's worker processes
//! ([`crate::worker`]); the core never touches libhdf5 itself.
//!
//! Lock order, where several are held: the request gate (`Fs::gate`), then
//! the change lock (`Handles::write_lock`), then a staging's lock, then the
//! short-lived table locks (handles, staging map, caches, tree), which are
//! never held across a call to a worker.

mod ahead;
mod caches;
mod create;
mod data;
mod error;
mod handles;
mod limits;
mod namespace;
mod ops;
mod read;
mod shape;
mod stage;
mod treelinks;
mod userblock;
mod views;
mod xattr;
mod zarr;
mod zcatalog;

pub use data::SetAttr;
pub use error::{Error, Result};
pub use handles::OpenMode;
pub use ops::{RenameFlags, Xattr};
pub use read::DirView;

use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::direct::{ByteSource, ChunkCache, FamilyFile, LocalFile, MemoryFile, RemoteFile};
use crate::model::{Driver, ErrorKind, FileFacts, H5Error};
use crate::source::Source;
use crate::tree::{EntryType, Ino, Node, NodeKind, Tree, View, ROOT};
use crate::worker::{WorkerConfig, Workers};
use caches::Caches;
use error::{io, show, Failures};

/// The inode shown for the sidecar name of a just-removed dataset.
pub const GHOST_INO: Ino = u64::MAX - 1;

/// Largest value Linux passes through getxattr (XATTR_SIZE_MAX).
pub const XATTR_SIZE_MAX: usize = 65536;

#[derive(Debug, Clone)]
pub struct FsOptions {
    pub uid: u32,
    pub gid: u32,
    pub umask: u32,
    /// Mounted with `-o rw`.
    pub writable: bool,
    /// Budget of the decoded-chunk cache.
    pub chunk_cache_bytes: usize,
    /// Read the next range of a sequential reader while its current one is
    /// answered (for reads that bypass the kernel's page cache; read-only
    /// mounts only, where bytes read ahead cannot go stale).
    pub read_ahead: bool,
    /// How the libhdf5 worker processes run.
    pub workers: WorkerConfig,
    /// The files shown beside each dataset.
    pub views: Vec<View>,
    /// Show the file as a Zarr v2 store (`-o zarr`).
    pub zarr: bool,
    /// How long sizes are trusted when the file may change under the mount
    /// (opened for SWMR reading).
    pub refresh: std::time::Duration,
    /// Where the file is in a directory mount: external links to other
    /// files of the tree become symlinks to their directories.
    pub tree: Option<TreePlace>,
}

/// A file's place in a directory mount.
#[derive(Debug, Clone)]
pub struct TreePlace {
    /// The directory mounted, canonical.
    pub root: std::path::PathBuf,
    /// The file's path relative to it.
    pub file: std::path::PathBuf,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attr {
    pub ino: Ino,
    pub kind: EntryType,
    pub size: u64,
    pub nlink: u32,
    pub perm: u16,
    pub uid: u32,
    pub gid: u32,
    pub mtime: SystemTime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatFs {
    pub blocks: u64,
    pub files: u64,
    pub bsize: u32,
    pub namelen: u32,
}

/// What the files of a directory mount share: the libhdf5 workers and the
/// decoded-chunk cache.
pub struct Shared {
    pub pool: Arc<crate::worker::WorkerPool>,
    pub chunks: Arc<ChunkCache>,
}

/// One HDF5 file the mount serves, and everything kept per file.
struct MountedFile {
    /// Every libhdf5 call for this file goes to these worker processes.
    h5: Arc<Workers>,
    /// Superblock version (from 3 on the file marks writers on disk).
    superblock: u32,
    size: u64,
    /// Bytes before the HDF5 data (the user block).
    base: u64,
    mtime: SystemTime,
    /// Identity of the root group.
    root_key: (u64, u64),
    /// The file's bytes for direct reads (read-only mounts only).
    direct: Option<Arc<dyn ByteSource>>,
    /// The file that holds the start of the address space (the user block).
    first_part: std::path::PathBuf,
}

pub struct Fs {
    /// The mounted file. (A mount of many files would hold one per file,
    /// picked by [`Fs::file_of`].)
    file: MountedFile,
    tree: Tree,
    opts: FsOptions,
    caches: Mutex<Caches>,
    handles: handles::Handles,
    /// Byte datasets made from plain files during this mount, by identity:
    /// they show no sidecar, a sidecar written for one retypes it, and a
    /// rename may apply their bytes elsewhere.
    created_raw: Mutex<std::collections::HashSet<(u64, u64)>>,
    /// Decoded chunks of direct reads.
    chunks: Arc<ChunkCache>,
    /// Threads reading ahead (see [`FsOptions::read_ahead`]).
    read_ahead: Option<ahead::Workers>,
    /// Every request holds this shared while it uses HDF5 objects; reopening
    /// the file (see [`Fs::sync_to_disk`]) holds it exclusively.
    gate: std::sync::RwLock<()>,
    failures: Failures,
    /// The Zarr store's catalog (`-o zarr`), made on first use.
    catalog: Mutex<Option<Arc<zcatalog::Catalog>>>,
    /// Set when the file may change under the mount (an SWMR writer has
    /// it): what is kept of it is asked again this often.
    changing: Option<std::time::Duration>,
}

/// A mutex's guard, also after a panic elsewhere while it was held: every
/// value kept under these locks stays consistent between statements.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn join(dir: &[u8], name: &[u8]) -> Vec<u8> {
    let mut p = dir.to_vec();
    if !p.ends_with(b"/") {
        p.push(b'/');
    }
    p.extend_from_slice(name);
    p
}

/// A name a new entry may take: ENAMETOOLONG over 255 bytes, EINVAL for
/// names no directory entry can have.
fn check_name(name: &[u8]) -> Result<()> {
    if name.len() > crate::tree::names::NAME_MAX {
        return Err(Error::NameTooLong);
    }
    if !crate::tree::names::name_ok(name) {
        return Err(Error::Invalid(format!("name {}", show(name))));
    }
    Ok(())
}

/// Workers with `source` open. A file an SWMR writer holds is refused to
/// plain readers: it is opened for SWMR reading then.
fn open_workers(
    source: &Source,
    writable: bool,
    open: impl Fn(crate::model::Access) -> Result<(Workers, FileFacts), H5Error>,
) -> Result<(Workers, FileFacts), H5Error> {
    match open(source.access.clone()) {
        Err(e) if e.kind == ErrorKind::MarkedOpen && !writable && !source.access.swmr => {
            let mut access = source.access.clone();
            access.swmr = true;
            match open(access) {
                Ok(opened) => {
                    log::info!(
                        "{}: open in an SWMR writer: opened for SWMR reading",
                        source.name.display()
                    );
                    Ok(opened)
                }
                Err(_) => Err(e),
            }
        }
        other => other,
    }
}

/// Where direct reads find a local file's bytes: the file, its members, a
/// copy in memory; None where addresses do not map to one run of bytes (a
/// remote object's reader is opened by [`Fs::build`]).
fn direct_source(source: &Source, member_size: u64) -> Option<Arc<dyn ByteSource>> {
    let first = source.first_part();
    let opened: std::io::Result<Arc<dyn ByteSource>> = match &source.access.driver {
        Driver::Split { .. } | Driver::Url => return None,
        Driver::Core => MemoryFile::read(first).map(|f| Arc::new(f) as _),
        Driver::Family { .. } => {
            // All members but the last are whole; libhdf5's figure first.
            let size = match (member_size, source.parts.len()) {
                (0, 1) => u64::MAX,
                (0, _) => std::fs::metadata(first).map(|m| m.len()).unwrap_or(0),
                (n, _) => n,
            };
            FamilyFile::open(&source.parts, size).map(|f| Arc::new(f) as _)
        }
        Driver::Sec2 | Driver::Stdio => LocalFile::open(first).map(|f| Arc::new(f) as _),
    };
    match opened {
        Ok(s) => Some(s),
        Err(e) => {
            log::warn!(
                "{}: direct reads off, every read goes through libhdf5: {e}",
                source.name.display()
            );
            None
        }
    }
}

impl Fs {
    /// Open the file `source` names in worker processes. Nothing below the
    /// root is read yet.
    pub fn new(source: &Source, opts: FsOptions) -> Result<Fs, H5Error> {
        Fs::build(source, opts, None, None)
    }

    /// As [`Fs::new`], with workers that open the file only while its path
    /// names the file `ident` (device, inode) says, so that a tree never
    /// reads a file that has taken its place (§9.2).
    pub fn pinned(source: &Source, opts: FsOptions, ident: (u64, u64)) -> Result<Fs, H5Error> {
        Fs::build(source, opts, None, Some(ident))
    }

    /// Open one file of a directory mount, in the workers and with the
    /// chunk cache all its files share; `ident`, if given, is the file's
    /// (device, inode), which it must still be whenever a worker opens it.
    pub fn in_directory(
        source: &Source,
        opts: FsOptions,
        shared: &Shared,
        ident: Option<(u64, u64)>,
    ) -> Result<Fs, H5Error> {
        Fs::build(source, opts, Some(shared), ident)
    }

    fn build(
        source: &Source,
        opts: FsOptions,
        shared: Option<&Shared>,
        ident: Option<(u64, u64)>,
    ) -> Result<Fs, H5Error> {
        // A remote object is read by the daemon (direct reads) and by the
        // workers at the one version the daemon found (§16.4).
        let remote = match source.access.driver {
            Driver::Url => {
                let settings = crate::remote::Settings::decode(
                    opts.workers.remote.as_deref().unwrap_or_default(),
                );
                let f = RemoteFile::open(&source.name.to_string_lossy(), &settings)
                    .map_err(|e| H5Error::new(ErrorKind::Other, e.to_string()))?;
                Some(Arc::new(f))
            }
            _ => None,
        };
        let ident = remote.as_ref().map_or(ident, |f| Some((f.version(), 0)));
        let (h5, facts) = match shared {
            Some(s) => open_workers(source, false, |access| {
                Workers::open_in(&s.pool, source.name.clone(), false, access, ident)
            })?,
            None => {
                let mut cfg = opts.workers.clone();
                if opts.writable || source.access.driver == Driver::Core {
                    // Only one process may have the file open for writing;
                    // each worker of a core mount would hold the whole file.
                    cfg.max_workers = 1;
                }
                // A file of a directory mount is opened for writing at its
                // first change only (§15.5).
                let writable = opts.writable && opts.tree.is_none();
                open_workers(source, writable, |access| {
                    Workers::open(cfg.clone(), source.name.clone(), writable, access, ident)
                })?
            }
        };
        let FileFacts {
            root,
            size,
            superblock,
            base,
            member_size,
            note,
        } = facts;
        // One line per file of a directory mount would flood the log.
        let level = if shared.is_some() {
            log::Level::Debug
        } else {
            log::Level::Info
        };
        log::log!(level, "{}: {note}", source.name.display());
        let mtime = source
            .parts
            .iter()
            .filter_map(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
            .max()
            .unwrap_or(UNIX_EPOCH);
        let swmr = h5.access().swmr;
        let refresh = opts.refresh;
        let direct = match remote {
            _ if opts.writable || swmr => None,
            Some(f) => Some(f as Arc<dyn ByteSource>),
            None => direct_source(source, member_size),
        };
        let read_ahead = if opts.read_ahead && !opts.writable {
            Some(ahead::Workers::start(2).map_err(|e| {
                H5Error::new(
                    ErrorKind::Other,
                    format!("cannot start read-ahead threads: {e}"),
                )
            })?)
        } else {
            None
        };
        let fs = Fs {
            file: MountedFile {
                h5: Arc::new(h5),
                first_part: source.first_part().to_path_buf(),
                superblock,
                size,
                base,
                mtime,
                root_key: (root.file, root.addr),
                direct,
            },
            tree: Tree::with_mode((root.file, root.addr), root.links, root.mtime, opts.zarr),
            chunks: match shared {
                Some(s) => s.chunks.clone(),
                None => Arc::new(ChunkCache::new(opts.chunk_cache_bytes)),
            },
            read_ahead,
            opts,
            caches: Mutex::new(Caches::default()),
            handles: handles::Handles::default(),
            created_raw: Mutex::new(Default::default()),
            gate: std::sync::RwLock::new(()),
            failures: Failures::default(),
            catalog: Mutex::new(None),
            changing: swmr.then_some(refresh),
        };
        // A file that marks itself open for writing stays unmarked until the
        // first change, so a crash of an idle mount leaves it clean.
        if fs.opts.writable && fs.marks_writers() && fs.file.h5.is_writable() {
            fs.file.h5.reopen(false)?;
        }
        Ok(fs)
    }

    /// The file that serves `node`.
    fn file_of(&self, _node: &Node) -> &MountedFile {
        &self.file
    }

    /// The worker pool of the file that serves `node`.
    fn h5(&self, node: &Node) -> &Arc<Workers> {
        &self.file_of(node).h5
    }

    /// Whether the file carries an "open for writing" mark while open so
    /// (superblock version 3 and later).
    fn marks_writers(&self) -> bool {
        self.file.superblock >= 3
    }

    fn caches(&self) -> std::sync::MutexGuard<'_, Caches> {
        let mut c = lock(&self.caches);
        if let Some(every) = self.changing {
            c.expire(every);
        }
        c
    }

    /// How long the kernel may keep names and sizes when the file may
    /// change under the mount (opened for SWMR reading); None when it
    /// cannot change but through the mount.
    pub fn refresh_interval(&self) -> Option<std::time::Duration> {
        self.changing
    }

    /// The inode of the first object below the root.
    pub fn first_ino(&self) -> Ino {
        self.tree.first_ino()
    }

    /// Number the objects below the root from `first` on, above every inode
    /// an earlier tree of the same mount gave (a file opened anew, §9.2).
    /// Only before anything below the root is found: false otherwise.
    pub fn number_from(&self, first: Ino) -> bool {
        self.tree.number_from(first)
    }

    /// The inode the next object found would get.
    pub fn next_ino(&self) -> Ino {
        self.tree.next_ino()
    }

    fn node(&self, ino: Ino) -> Result<Arc<Node>> {
        self.tree.node(ino).ok_or(Error::NotFound)
    }

    pub fn root(&self) -> Ino {
        ROOT
    }

    fn writable(&self) -> Result<()> {
        if self.opts.writable {
            Ok(())
        } else {
            Err(Error::ReadOnly)
        }
    }

    /// Objects of external files cannot be changed through the mount.
    fn changeable(&self, node: &Node) -> Result<()> {
        if node.file != 0 {
            return Err(Error::NotPermitted(format!(
                "{} is in an external file, which is mounted read-only",
                show(&node.path)
            )));
        }
        Ok(())
    }

    /// Held by every request that reads.
    fn gate(&self) -> std::sync::RwLockReadGuard<'_, ()> {
        self.gate.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Held by every request that changes the file: the file is open for
    /// writing for as long as the guard lives.
    fn begin_change(&self) -> Result<std::sync::RwLockReadGuard<'_, ()>> {
        if !self.opts.writable {
            return Ok(self.gate());
        }
        let h5 = &self.file.h5;
        loop {
            if !h5.is_writable() {
                let _all = self.gate.write().unwrap_or_else(|e| e.into_inner());
                if !h5.is_writable() {
                    self.caches().clear();
                    h5.reopen(true).map_err(|e| io(b"/", e))?;
                }
            }
            let g = self.gate();
            if h5.is_writable() {
                return Ok(g);
            }
        }
    }

    /// Flush the file to disk. A file that marks itself open for writing is
    /// then reopened read-only, so that a crash leaves it clean with every
    /// change made so far (it is reopened for writing at the next change).
    fn sync_to_disk(&self) -> Result<()> {
        // A read-only mount has nothing to write, and must not wait for the
        // requests in flight (a reader may be waiting for a read-ahead).
        if !self.opts.writable {
            return Ok(());
        }
        let _all = self.gate.write().unwrap_or_else(|e| e.into_inner());
        let h5 = &self.file.h5;
        if !h5.is_writable() {
            return Ok(());
        }
        h5.sync().map_err(|e| io(b"/", e))?;
        if self.marks_writers() {
            self.caches().clear();
            h5.reopen(false).map_err(|e| io(b"/", e))?;
        }
        Ok(())
    }

    /// The mount path of inode `ino` as far as it is known, for log lines.
    fn shown(&self, ino: Ino) -> String {
        match self.tree.node(ino) {
            Some(n) => match &n.kind {
                NodeKind::View { view, .. } if view.option_name() == "zarr" => {
                    format!(
                        "{}/{}",
                        show(&n.path).trim_end_matches('/'),
                        show(view.suffix())
                    )
                }
                NodeKind::View { view, .. } => show(&view.name(&n.path)),
                NodeKind::Chunk { index, .. } => format!("{} (chunk {index})", show(&n.path)),
                NodeKind::Symlink { .. } => format!("(symlink, inode {ino})"),
                _ => show(&n.path),
            },
            None if ino == GHOST_INO => "(removed sidecar)".into(),
            None => format!("(inode {ino})"),
        }
    }

    /// The mount path of `name` in directory `parent`, for log lines.
    fn shown_in(&self, parent: Ino, name: &[u8]) -> String {
        match self.tree.node(parent) {
            Some(n) => show(&join(&n.path, name)),
            None => format!("(inode {parent})/{}", show(name)),
        }
    }
}
