//! The filesystem core: every operation as a plain function returning
//! `Result<T, Error>`, with one mapping from [`Error`] to errno.
//!
//! This layer knows the mapping rules (docs/SEMANTICS.md) and nothing of FUSE.
//! Reading lives here; changes (on `-o rw` mounts) in [`write`], and writes
//! that are applied when the file is closed in [`stage`].

mod ahead;
mod limits;
mod stage;
mod write;

pub use write::{OpenMode, SetAttr};

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use log::{error, warn};

use crate::direct::{ByteSource, ChunkCache, ChunkSource, LocalFile, Plan};
use crate::encode::sidecar::{datatype_file, sidecar, AttrResult, Representation};
use crate::encode::text::render;
use crate::encode::xattr::{attr_value, name_list};
use crate::model::hyperslab::byte_range_to_elements;
use crate::model::{
    ChunkData, DatasetMeta, ErrorKind, FileFacts, H5Error, LinkKind, Loc, ObjectKind,
};
use crate::tree::names::{external_link_text, plan_entries, soft_link_text};
use crate::tree::{DirEntry, EntryType, Found, Ino, Listing, Node, NodeKind, Target, Tree, ROOT};
use crate::worker::{WorkerConfig, Workers};

/// The inode shown for the sidecar name of a just-removed dataset.
pub const GHOST_INO: Ino = u64::MAX - 1;

/// Largest value Linux passes through getxattr (XATTR_SIZE_MAX).
pub const XATTR_SIZE_MAX: usize = 65536;

/// Open datasets kept ready for reads; past this many the cache starts over.
const DATASET_CACHE: usize = 256;
/// Most elements a text view renders: it is built whole in memory.
const MAX_TEXT_ELEMENTS: u64 = 1 << 24;
/// Bytes of rendered sidecars and text views kept; past this the cache starts over.
const CONTENT_CACHE_BYTES: usize = 64 << 20;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("no such file or directory")]
    NotFound,
    #[error("not a directory")]
    NotDir,
    #[error("is a directory")]
    IsDir,
    #[error("not a symbolic link")]
    NotSymlink,
    #[error("no such attribute")]
    NoAttr,
    #[error("attribute value of {0} bytes exceeds the xattr size limit")]
    AttrTooBig(usize),
    #[error("read-only file system")]
    ReadOnly,
    #[error("file exists")]
    Exists,
    #[error("directory not empty")]
    NotEmpty,
    #[error("operation not permitted: {0}")]
    NotPermitted(String),
    #[error("invalid: {0}")]
    Invalid(String),
    #[error("file too large: {0}")]
    TooBig(String),
    #[error("xattr namespace not supported")]
    NotSupported,
    #[error("bad file handle")]
    BadHandle,
    #[error("name longer than 255 bytes")]
    NameTooLong,
    /// HDF5 could not do it; the message names the HDF5 path.
    #[error("{0}")]
    Io(String),
}

impl Error {
    pub fn errno(&self) -> i32 {
        match self {
            Error::NotFound => libc::ENOENT,
            Error::NotDir => libc::ENOTDIR,
            Error::IsDir => libc::EISDIR,
            Error::NotSymlink => libc::EINVAL,
            Error::NoAttr => libc::ENODATA,
            Error::AttrTooBig(_) => libc::E2BIG,
            Error::ReadOnly => libc::EROFS,
            Error::Exists => libc::EEXIST,
            Error::NotEmpty => libc::ENOTEMPTY,
            Error::NotPermitted(_) => libc::EPERM,
            Error::Invalid(_) => libc::EINVAL,
            Error::TooBig(_) => libc::EFBIG,
            Error::NotSupported => libc::EOPNOTSUPP,
            Error::BadHandle => libc::EBADF,
            Error::NameTooLong => libc::ENAMETOOLONG,
            Error::Io(_) => libc::EIO,
        }
    }
}

/// Log an HDF5 failure once, where it becomes an errno; the line always
/// starts with the HDF5 path of the object concerned.
fn io(path: &[u8], e: H5Error) -> Error {
    let path = show(path);
    let msg = if e.msg.starts_with(&path) {
        e.msg
    } else {
        format!("{path}: {}", e.msg)
    };
    error!("{msg}");
    Error::Io(msg)
}

/// Turn a failed dataset read into EIO, naming a missing filter if that is why.
fn read_error(path: &[u8], ds: &OpenDataset, e: H5Error) -> Error {
    let missing = ds.meta.missing_filters();
    if missing.is_empty() {
        return io(path, e);
    }
    let names: Vec<String> = missing
        .iter()
        .map(|f| {
            if f.name.is_empty() {
                format!("{}", f.id)
            } else {
                format!("{} ({})", f.id, f.name)
            }
        })
        .collect();
    let msg = format!(
        "{}: needs filter {} which is not available (install the plugin and set HDF5_PLUGIN_PATH)",
        show(path),
        names.join(", ")
    );
    error!("{msg}");
    Error::Io(msg)
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

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
}

/// A dataset as the filesystem uses it: where it is, what it is, and how
/// its bytes may be read directly.
pub struct OpenDataset {
    pub loc: Loc,
    pub meta: DatasetMeta,
    plan: Option<Arc<Plan>>,
}

/// A dataset's chunks, fetched from the libhdf5 workers.
struct WorkerChunks {
    workers: Arc<Workers>,
    loc: Loc,
}

impl ChunkSource for WorkerChunks {
    fn chunk(&self, grid: &[u64]) -> crate::model::Result<ChunkData> {
        let mut v = self.workers.read_chunks(&self.loc, &[grid.to_vec()])?;
        v.pop()
            .ok_or_else(|| H5Error::new(ErrorKind::Other, "a libhdf5 worker sent no chunk"))
    }
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

/// A directory's entries: those in the file, then files being written.
pub struct DirView {
    pub listing: Arc<Listing>,
    pub pending: Vec<DirEntry>,
}

/// Open datasets and rendered contents. A value is built outside the lock
/// (opening a dataset takes the HDF5 lock) and kept only if no change was
/// recorded meanwhile: otherwise a value read before a change could be
/// stored after it, and a stale shape would outlive the change (a later
/// write would then shrink the dataset back).
#[derive(Default)]
struct Caches {
    /// Bumped by every invalidation.
    generation: u64,
    datasets: HashMap<Ino, Arc<OpenDataset>>,
    contents: HashMap<Ino, Arc<Vec<u8>>>,
    content_bytes: usize,
}

impl Caches {
    /// Forget the open dataset `ino` and every rendered content.
    fn changed(&mut self, ino: Ino) {
        self.generation += 1;
        self.datasets.remove(&ino);
        self.clear_contents();
    }

    /// Forget every open dataset and rendered content.
    fn clear(&mut self) {
        self.generation += 1;
        self.datasets.clear();
        self.clear_contents();
    }

    fn clear_contents(&mut self) {
        self.generation += 1;
        self.contents.clear();
        self.content_bytes = 0;
    }

    /// Keep `ds` as dataset `ino` if nothing changed since `generation`.
    fn keep_dataset(&mut self, generation: u64, ino: Ino, ds: &Arc<OpenDataset>) {
        if self.generation != generation {
            return;
        }
        if self.datasets.len() >= DATASET_CACHE {
            self.datasets.clear();
        }
        self.datasets.insert(ino, ds.clone());
    }

    /// Keep `bytes` as the content of `ino` if nothing changed since `generation`.
    fn keep_content(&mut self, generation: u64, ino: Ino, bytes: &Arc<Vec<u8>>) {
        if self.generation != generation {
            return;
        }
        if self.content_bytes + bytes.len() > CONTENT_CACHE_BYTES {
            self.contents.clear();
            self.content_bytes = 0;
        }
        self.content_bytes += bytes.len();
        self.contents.insert(ino, bytes.clone());
    }
}

pub struct Fs {
    /// Every libhdf5 call goes to these worker processes.
    h5: Arc<Workers>,
    /// The file's superblock version (from 3 on it marks writers).
    superblock: u32,
    tree: Tree,
    opts: FsOptions,
    file_mtime: SystemTime,
    file_size: u64,
    caches: Mutex<Caches>,
    handles: write::Handles,
    /// Identity of the root group.
    root_key: (u64, u64),
    /// The file's bytes for direct reads (read-only mounts only).
    direct: Option<Arc<dyn ByteSource>>,
    /// Decoded chunks of direct reads.
    chunks: Arc<ChunkCache>,
    /// Threads reading ahead (see [`FsOptions::read_ahead`]).
    read_ahead: Option<ahead::Workers>,
    /// Every request holds this shared while it uses HDF5 objects; reopening
    /// the file (see [`Fs::sync_to_disk`]) holds it exclusively.
    gate: std::sync::RwLock<()>,
}

/// A mutex's guard, also after a panic elsewhere while it was held: every
/// value kept under these locks stays consistent between statements.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn show(path: &[u8]) -> String {
    String::from_utf8_lossy(path).into_owned()
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

/// The attribute named by xattr `name`: None outside the `user.` namespace,
/// EINVAL for an empty name (as ext4 answers `user.`).
fn user_attr_name(name: &[u8]) -> Option<Result<&[u8]>> {
    let attr = name.strip_prefix(b"user.")?;
    Some(if attr.is_empty() {
        Err(Error::Invalid("empty attribute name (user.)".into()))
    } else {
        Ok(attr)
    })
}

fn join(dir: &[u8], name: &[u8]) -> Vec<u8> {
    let mut p = dir.to_vec();
    if !p.ends_with(b"/") {
        p.push(b'/');
    }
    p.extend_from_slice(name);
    p
}

impl Fs {
    /// Open `path` read-only. Nothing below the root is read yet.
    pub fn new(path: &Path, opts: FsOptions) -> Result<Fs, H5Error> {
        let mut cfg = opts.workers.clone();
        if opts.writable {
            // Only one process may have the file open for writing.
            cfg.max_workers = 1;
        }
        let (h5, facts) = Workers::open(cfg, path.to_path_buf(), opts.writable)?;
        let FileFacts {
            root,
            size,
            superblock,
            ..
        } = facts;
        let meta = std::fs::metadata(path).ok();
        let fs = Fs {
            tree: Tree::new((root.file, root.addr), root.links, root.mtime),
            root_key: (root.file, root.addr),
            direct: if opts.writable {
                None
            } else {
                LocalFile::open(path)
                    .ok()
                    .map(|f| Arc::new(f) as Arc<dyn ByteSource>)
            },
            chunks: Arc::new(ChunkCache::new(opts.chunk_cache_bytes)),
            read_ahead: if opts.read_ahead && !opts.writable {
                Some(ahead::Workers::start(2).map_err(|e| {
                    H5Error::new(
                        ErrorKind::Other,
                        format!("cannot start read-ahead threads: {e}"),
                    )
                })?)
            } else {
                None
            },
            file_mtime: meta
                .as_ref()
                .and_then(|m| m.modified().ok())
                .unwrap_or(UNIX_EPOCH),
            file_size: size,
            h5: Arc::new(h5),
            superblock,
            opts,
            caches: Mutex::new(Caches::default()),
            handles: write::Handles::default(),
            gate: std::sync::RwLock::new(()),
        };
        // A file that marks itself open for writing stays unmarked until the
        // first change, so a crash of an idle mount leaves it clean.
        if fs.opts.writable && fs.marks_writers() {
            fs.h5.reopen(false)?;
        }
        Ok(fs)
    }

    /// Whether the file carries an "open for writing" mark while open so
    /// (superblock version 3 and later).
    fn marks_writers(&self) -> bool {
        self.superblock >= 3
    }

    fn caches(&self) -> std::sync::MutexGuard<'_, Caches> {
        lock(&self.caches)
    }

    fn node(&self, ino: Ino) -> Result<Arc<Node>> {
        self.tree.node(ino).ok_or(Error::NotFound)
    }

    /// The entries of directory `ino`, with files being written in it.
    pub fn readdir(&self, ino: Ino) -> Result<DirView> {
        self.tree.clear_ghosts(ino);
        let listing = self.listing(ino)?;
        let pending = self.handles.pending_entries(ino, &self.tree);
        Ok(DirView { listing, pending })
    }

    /// The entries of directory `ino` that are in the file, built on first use.
    fn listing(&self, ino: Ino) -> Result<Arc<Listing>> {
        let node = self.node(ino)?;
        if node.kind != NodeKind::Group {
            return Err(Error::NotDir);
        }
        if let Some(l) = self.tree.listing(ino) {
            return Ok(l);
        }
        // Soft links in a group of an external file name paths in that
        // file, which is not mounted as such: follow them, as h5py does.
        let follow_soft = node.file != 0;
        let links = self
            .h5
            .listing(&node.loc(), follow_soft)
            .map_err(|e| io(&node.path, e))?;
        let mut resolved = Vec::with_capacity(links.len());
        for (link, info) in links {
            let path = join(&node.path, &link.name);
            let target = match (&link.kind, info) {
                (LinkKind::Soft(value), None) => Target::Symlink(soft_link_text(&node.path, value)),
                (LinkKind::Hard | LinkKind::External { .. } | LinkKind::Soft(_), Some(info)) => {
                    match info {
                        // The root cannot appear under another name (the kernel
                        // refuses a second name for the mountpoint's inode).
                        Ok(info) if (info.file, info.addr) == self.root_key => {
                            Target::Symlink(soft_link_text(&node.path, b"/"))
                        }
                        Ok(info) if info.kind != ObjectKind::Other => Target::Object {
                            // Byte files made through this mount show no sidecar yet.
                            is_dataset: info.kind == ObjectKind::Dataset
                                && !self.handles.is_created_raw((info.file, info.addr)),
                            id: Found {
                                kind: info.kind,
                                key: (info.file, info.addr),
                                path,
                                links: info.links,
                                mtime: info.mtime,
                            },
                        },
                        Ok(_) => {
                            warn!("{}: object of unknown type left out", show(&path));
                            continue;
                        }
                        Err(e) => match &link.kind {
                            LinkKind::External { file, path: target } => {
                                warn!("external link not followed: {e}");
                                Target::Symlink(external_link_text(file, target))
                            }
                            LinkKind::Soft(value) => Target::Symlink(value.clone()),
                            _ => {
                                error!("object cannot be opened, left out: {e}");
                                continue;
                            }
                        },
                    }
                }
                _ => {
                    warn!(
                        "{}: link of a user-defined class, or whose value cannot be read, left out",
                        show(&path)
                    );
                    continue;
                }
            };
            resolved.push((link.name, target));
        }
        let (plan, skipped) = plan_entries(resolved);
        for name in skipped {
            warn!(
                "{}: name cannot be shown (empty, '.', '..' or over 255 bytes), left out",
                show(&join(&node.path, &name))
            );
        }
        Ok(self.tree.insert_listing(ino, plan))
    }

    pub fn lookup(&self, parent: Ino, name: &[u8]) -> Result<Attr> {
        if name.len() > crate::tree::names::NAME_MAX {
            return Err(Error::NameTooLong);
        }
        let listing = self.listing(parent)?;
        if let Some(entry) = listing.get(name) {
            return self.getattr(entry.ino);
        }
        match self.tree.pending(parent, name) {
            Some(ino) => self.getattr(ino),
            None if self.tree.is_ghost(parent, name) => Ok(Attr {
                ino: GHOST_INO,
                kind: EntryType::File,
                size: 0,
                nlink: 1,
                perm: 0o444,
                uid: self.opts.uid,
                gid: self.opts.gid,
                mtime: self.file_mtime,
            }),
            None => Err(Error::NotFound),
        }
    }

    /// The entry `name` of directory `parent` that is in the file.
    fn entry(&self, parent: Ino, name: &[u8]) -> Result<DirEntry> {
        let listing = self.listing(parent)?;
        listing.get(name).cloned().ok_or(Error::NotFound)
    }

    fn dataset(&self, ino: Ino, node: &Node) -> Result<Arc<OpenDataset>> {
        let generation = {
            let c = self.caches();
            if let Some(d) = c.datasets.get(&ino) {
                return Ok(d.clone());
            }
            c.generation
        };
        let loc = node.loc();
        let info = self.h5.dataset(&loc).map_err(|e| io(&node.path, e))?;
        // Direct reads know the mounted file only, not external ones.
        let plan = (self.direct.is_some() && node.file == 0)
            .then(|| Plan::new(&info, &node.path))
            .flatten()
            .map(Arc::new);
        let ds = Arc::new(OpenDataset {
            loc,
            meta: info.meta,
            plan,
        });
        self.caches().keep_dataset(generation, ino, &ds);
        Ok(ds)
    }

    fn attrs_of(&self, node: &Node) -> Vec<AttrResult> {
        match self.h5.attrs(&node.loc()) {
            Ok(attrs) => attrs
                .into_iter()
                .map(|(n, v)| (n, v.map_err(|e| e.msg)))
                .collect(),
            Err(e) => vec![(b"".to_vec(), Err(e.msg))],
        }
    }

    /// The bytes of a file whose contents are rendered whole (sidecars, text
    /// views, committed datatypes), cached.
    fn rendered(&self, ino: Ino, node: &Node) -> Result<Arc<Vec<u8>>> {
        let generation = {
            let c = self.caches();
            if let Some(b) = c.contents.get(&ino) {
                return Ok(b.clone());
            }
            c.generation
        };
        let bytes = match &node.kind {
            NodeKind::Sidecar { dataset } => {
                let ds_node = self.node(*dataset)?;
                let ds = self.dataset(*dataset, &ds_node)?;
                let attrs = self.attrs_of(&ds_node);
                sidecar(&show(&ds_node.path), &ds.meta, &attrs)
            }
            NodeKind::Datatype => {
                let ty = self
                    .h5
                    .datatype(&node.loc())
                    .map_err(|e| io(&node.path, e))?;
                datatype_file(&show(&node.path), &ty)
            }
            NodeKind::Dataset => {
                let ds = self.dataset(ino, node)?;
                match Representation::of(&ds.meta.ty) {
                    Representation::Text(format) => {
                        if ds.meta.npoints() > MAX_TEXT_ELEMENTS {
                            let msg = format!(
                                "{}: {} elements are too many for a text view (at most {MAX_TEXT_ELEMENTS}); read it with h5py",
                                show(&node.path),
                                ds.meta.npoints()
                            );
                            error!("{msg}");
                            return Err(Error::Io(msg));
                        }
                        let values = self
                            .h5
                            .read_values(&ds.loc)
                            .map_err(|e| read_error(&node.path, &ds, e))?;
                        render(format, &values)
                    }
                    _ => return Err(Error::IsDir),
                }
            }
            _ => return Err(Error::IsDir),
        };
        let bytes = Arc::new(bytes);
        self.caches().keep_content(generation, ino, &bytes);
        Ok(bytes)
    }

    pub fn getattr(&self, ino: Ino) -> Result<Attr> {
        let node = self.node(ino)?;
        let kind = node.kind.entry_type();
        let size = match &node.kind {
            NodeKind::Group => 0,
            NodeKind::Symlink { target } => target.len() as u64,
            NodeKind::Dataset => {
                let ds = self.dataset(ino, &node)?;
                match Representation::of(&ds.meta.ty) {
                    Representation::Raw => ds.meta.npoints() * ds.meta.ty.size() as u64,
                    Representation::Unavailable => 0,
                    // A text view that cannot be read still stats, empty.
                    Representation::Text(_) => {
                        self.rendered(ino, &node).map_or(0, |b| b.len() as u64)
                    }
                }
            }
            NodeKind::Sidecar { .. } | NodeKind::Datatype => {
                self.rendered(ino, &node)?.len() as u64
            }
            NodeKind::Pending => self.handles.staged_len(ino).unwrap_or(0),
        };
        // Write bits on a writable mount, except in external files.
        let w = if self.opts.writable && node.file == 0 {
            0o222
        } else {
            0
        };
        let perm = match kind {
            EntryType::Directory => 0o555 | (w & 0o200),
            EntryType::File => 0o444 | (w & 0o200),
            EntryType::Symlink => 0o777,
        };
        // On a writable mount the link count can change under us.
        let links = if self.opts.writable
            && node.addr != 0
            && !matches!(node.kind, NodeKind::Sidecar { .. })
        {
            self.h5
                .info_at(&node.loc())
                .map(|i| i.links)
                .unwrap_or(node.links)
        } else {
            node.links
        };
        let mtime = if node.mtime > 0 {
            UNIX_EPOCH + Duration::from_secs(node.mtime as u64)
        } else {
            self.file_mtime
        };
        Ok(Attr {
            ino,
            kind,
            size,
            nlink: links.max(1),
            perm: if kind == EntryType::Symlink {
                perm
            } else {
                perm & !(self.opts.umask as u16)
            },
            uid: self.opts.uid,
            gid: self.opts.gid,
            mtime,
        })
    }

    pub fn read(&self, ino: Ino, offset: u64, size: u32) -> Result<Vec<u8>> {
        let node = self.node(ino)?;
        match node.kind {
            NodeKind::Group => return Err(Error::IsDir),
            NodeKind::Symlink { .. } => return Err(Error::NotSymlink),
            NodeKind::Pending => return Ok(Vec::new()),
            NodeKind::Dataset => {
                let ds = self.dataset(ino, &node)?;
                if Representation::of(&ds.meta.ty) == Representation::Raw {
                    let itemsize = ds.meta.ty.size() as u64;
                    let Some(span) =
                        byte_range_to_elements(offset, size as u64, itemsize, ds.meta.npoints())
                    else {
                        return Ok(Vec::new());
                    };
                    let buf = match (&ds.plan, &self.direct) {
                        (Some(plan), Some(source)) => {
                            let chunks: Arc<dyn ChunkSource> = Arc::new(WorkerChunks {
                                workers: self.h5.clone(),
                                loc: ds.loc.clone(),
                            });
                            plan.read(source, &chunks, &self.chunks, span.first, span.end)
                        }
                        _ => self.h5.read_elements(&ds.loc, span.first, span.end),
                    }
                    .map_err(|e| read_error(&node.path, &ds, e))?;
                    let start = span.skip as usize;
                    let mut buf = buf;
                    if start == 0 && buf.len() == span.len as usize {
                        return Ok(buf);
                    }
                    buf.truncate(start + span.len as usize);
                    return Ok(buf.split_off(start));
                }
                if let Some(reason) = ds.meta.ty.unsupported() {
                    error!("{}: type cannot be shown: {reason}", show(&node.path));
                    return Err(Error::Io(reason.to_string()));
                }
            }
            _ => {}
        }
        let bytes = self.rendered(ino, &node)?;
        let start = (offset as usize).min(bytes.len());
        let end = start.saturating_add(size as usize).min(bytes.len());
        Ok(bytes[start..end].to_vec())
    }

    pub fn readlink(&self, ino: Ino) -> Result<Vec<u8>> {
        match &self.node(ino)?.kind {
            NodeKind::Symlink { target } => Ok(target.clone()),
            _ => Err(Error::NotSymlink),
        }
    }

    fn has_attributes(node: &Node) -> bool {
        matches!(
            node.kind,
            NodeKind::Group | NodeKind::Dataset | NodeKind::Datatype
        )
    }

    /// The NUL-separated `user.` names of the object's attributes.
    pub fn listxattr(&self, ino: Ino) -> Result<Vec<u8>> {
        let node = self.node(ino)?;
        if !Self::has_attributes(&node) {
            return Ok(Vec::new());
        }
        let names = self
            .h5
            .attr_names(&node.loc())
            .map_err(|e| io(&node.path, e))?;
        Ok(name_list(&names))
    }

    /// Whether the object has an attribute named `name`.
    fn has_attr(&self, node: &Node, name: &[u8]) -> Result<bool> {
        let names = self
            .h5
            .attr_names(&node.loc())
            .map_err(|e| io(&node.path, e))?;
        Ok(names.iter().any(|n| n == name))
    }

    pub fn getxattr(&self, ino: Ino, name: &[u8]) -> Result<Vec<u8>> {
        let node = self.node(ino)?;
        let attr_name = user_attr_name(name).ok_or(Error::NoAttr)??;
        if !Self::has_attributes(&node) {
            return Err(Error::NoAttr);
        }
        if !self.has_attr(&node, attr_name)? {
            return Err(Error::NoAttr);
        }
        let attr = self
            .h5
            .read_attr(&node.loc(), attr_name)
            .map_err(|e| io(&node.path, e))?;
        let value = attr_value(&attr);
        if value.len() > XATTR_SIZE_MAX {
            let whole = if node.kind == NodeKind::Dataset {
                "it is whole in the sidecar"
            } else {
                "read it with h5py"
            };
            warn!(
                "{} attribute {}: value of {} bytes is over the xattr limit; {whole}",
                show(&node.path),
                show(attr_name),
                value.len()
            );
            return Err(Error::AttrTooBig(value.len()));
        }
        Ok(value)
    }

    pub fn statfs(&self) -> StatFs {
        StatFs {
            blocks: self.file_size.div_ceil(4096),
            files: self.tree.len() as u64,
            bsize: 4096,
            namelen: crate::tree::names::NAME_MAX as u32,
        }
    }

    pub fn root(&self) -> Ino {
        ROOT
    }

    /// Held by every request that reads.
    pub fn gate(&self) -> std::sync::RwLockReadGuard<'_, ()> {
        self.gate.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Held by every request that changes the file: the file is open for
    /// writing for as long as the guard lives.
    pub fn begin_change(&self) -> Result<std::sync::RwLockReadGuard<'_, ()>> {
        if !self.opts.writable {
            return Ok(self.gate());
        }
        loop {
            if !self.h5.is_writable() {
                let _all = self.gate.write().unwrap_or_else(|e| e.into_inner());
                if !self.h5.is_writable() {
                    self.caches().clear();
                    self.h5.reopen(true).map_err(|e| io(b"/", e))?;
                }
            }
            let g = self.gate();
            if self.h5.is_writable() {
                return Ok(g);
            }
        }
    }

    /// Flush the file to disk. A file that marks itself open for writing is
    /// then reopened read-only, so that a crash leaves it clean with every
    /// change made so far (it is reopened for writing at the next change).
    pub fn sync_to_disk(&self) -> Result<()> {
        // A read-only mount has nothing to write, and must not wait for the
        // requests in flight (a reader may be waiting for a read-ahead).
        if !self.opts.writable {
            return Ok(());
        }
        let _all = self.gate.write().unwrap_or_else(|e| e.into_inner());
        if !self.h5.is_writable() {
            return Ok(());
        }
        self.h5.sync().map_err(|e| io(b"/", e))?;
        if self.marks_writers() {
            self.caches().clear();
            self.h5.reopen(false).map_err(|e| io(b"/", e))?;
        }
        Ok(())
    }
}
