//! A directory mount: `h5fs DIR MNT` (or `h5fs s3://BUCKET/PREFIX/ MNT`,
//! the tree coming from a [`Backing`]). Directories of DIR are directories,
//! HDF5 files (by signature) are directories holding the file's tree as a
//! single-file mount shows it, other files and symlinks are themselves,
//! read-only. Nothing is opened at mount.
//!
//! Each HDF5 file is a *slot*: an [`Fs`] opened on first use, in libhdf5
//! workers all files share (each worker keeps a bounded number of files
//! open and reopens one when asked again). Past `max_open` slots in use,
//! the least recently used one is let go: it is no longer found by name
//! (the next lookup opens the file anew), the kernel is asked to drop its
//! entry, and the slot is freed when the kernel has forgotten every inode
//! of it. A file replaced in DIR (another device and inode, size or mtime)
//! is a new slot; the old one answers ESTALE to new opens.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use log::{debug, warn};

use super::backing::{Backing, Kind, Meta, Plain};
use super::inodes::{Inodes, Key};
use super::Ident;
use super::OpenCache;
use crate::fs::{
    Attr, DirView, Error, Fs, FsOptions, OpenMode, Result, SetAttr, Shared, StatFs, Xattr,
};
use crate::model::Driver;
use crate::tree::{DirEntry, EntryType, Ino, Listing};

/// Handles of HDF5 files carry their slot above this many bits; plain
/// files' handles have slot 0.
const SLOT_SHIFT: u32 = 40;

/// Most directory listings of DIR kept at once.
const LISTINGS: usize = 1024;

/// Options of a directory mount.
pub struct DirOptions {
    /// Each file's options (read-only; read-ahead off).
    pub file: FsOptions,
    /// How each file is opened (driver sec2 or url, bounds, caches).
    pub access: crate::model::Access,
    /// Most files in use at once.
    pub max_open: usize,
}

struct Slot {
    /// Path relative to DIR.
    rel: PathBuf,
    ident: Ident,
    fs: Arc<Fs>,
    /// Where the kernel found it: the directory's inode and the name.
    parent: u64,
    name: OsString,
    used: u64,
    /// No longer found by name (let go, or its file was replaced).
    retired: bool,
    /// Its file was replaced: new opens are ESTALE.
    replaced: bool,
    /// Inodes of it the kernel holds.
    inodes: u64,
}

#[derive(Default)]
struct Slots {
    by_id: HashMap<u32, Slot>,
    /// The slot each path names now.
    current: HashMap<PathBuf, u32>,
    next: u32,
    clock: u64,
}

pub struct DirMount {
    tree: Box<dyn Backing>,
    opts: DirOptions,
    shared: Shared,
    inodes: Mutex<Inodes>,
    slots: Mutex<Slots>,
    /// Open plain files, by handle.
    plain: Mutex<HashMap<u64, Arc<dyn Plain>>>,
    next_fh: AtomicU64,
    /// Listings of DIR's directories, each trusted for the refresh time.
    listings: Mutex<HashMap<PathBuf, (Instant, Arc<Listing>)>>,
    /// Entries the kernel should drop (files let go), sent by a thread.
    evicted: Mutex<Option<mpsc::Sender<(u64, OsString)>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl DirMount {
    pub fn new(tree: Box<dyn Backing>, opts: DirOptions, shared: Shared) -> DirMount {
        DirMount {
            tree,
            opts,
            shared,
            inodes: Mutex::new(Inodes::default()),
            slots: Mutex::new(Slots {
                next: 1,
                ..Slots::default()
            }),
            plain: Mutex::new(HashMap::new()),
            next_fh: AtomicU64::new(1),
            listings: Mutex::new(HashMap::new()),
            evicted: Mutex::new(None),
        }
    }

    pub fn refresh(&self) -> Duration {
        self.opts.file.refresh
    }

    /// Invalidations go to the kernel from a thread of their own: a request
    /// handler must not wait on the kernel.
    pub fn set_notifier(&self, n: fuser::Notifier) {
        let (tx, rx) = mpsc::channel::<(u64, OsString)>();
        let spawned = std::thread::Builder::new()
            .name("h5fs-evict".into())
            .spawn(move || {
                for (parent, name) in rx {
                    if let Err(e) = n.inval_entry(fuser::INodeNo(parent), &name) {
                        debug!("kernel entry {name:?} not dropped: {e}");
                    }
                }
            });
        if spawned.is_ok() {
            *lock(&self.evicted) = Some(tx);
        }
    }

    fn key(&self, ino: u64) -> Result<Key> {
        lock(&self.inodes).key(ino).cloned().ok_or(Error::NotFound)
    }

    /// The file of slot `id`, counted as used.
    fn slot_fs(&self, id: u32) -> Result<Arc<Fs>> {
        let mut s = lock(&self.slots);
        s.clock += 1;
        let clock = s.clock;
        let slot = s.by_id.get_mut(&id).ok_or(Error::NotFound)?;
        slot.used = clock;
        Ok(slot.fs.clone())
    }

    fn show(&self, rel: &Path) -> String {
        self.tree.show(rel)
    }

    fn attr_of(&self, ino: u64, m: &Meta) -> Attr {
        let o = &self.opts.file;
        let (kind, perm) = match m.kind {
            Kind::Dir => (EntryType::Directory, 0o555),
            Kind::Symlink => (EntryType::Symlink, 0o777),
            Kind::File => (EntryType::File, 0o444),
        };
        let perm = if kind == EntryType::Symlink {
            perm
        } else {
            perm & !(o.umask as u16)
        };
        Attr {
            ino,
            kind,
            size: if kind == EntryType::Directory {
                0
            } else {
                m.size
            },
            nlink: if kind == EntryType::Directory { 2 } else { 1 },
            perm,
            uid: o.uid,
            gid: o.gid,
            mtime: m.mtime,
        }
    }

    /// An attribute from a file's own inode, with the mount's inode for it
    /// (remembered, with one more lookup, when `count`).
    fn outer(&self, slot: u32, mut a: Attr, count: bool) -> Attr {
        let key = Key::Inner(slot, a.ino);
        let mut t = lock(&self.inodes);
        a.ino = if count {
            let (ino, new) = t.remember(key);
            if new {
                drop(t);
                if let Some(s) = lock(&self.slots).by_id.get_mut(&slot) {
                    s.inodes += 1;
                }
            }
            ino
        } else {
            t.peek(&key).unwrap_or_else(|| hint(slot, a.ino))
        };
        a
    }

    pub fn lookup(&self, parent: u64, name: &[u8]) -> Result<Attr> {
        match self.key(parent)? {
            // The file's own lookup logs its failures.
            Key::Inner(slot, ino) => {
                let fs = self.slot_fs(slot)?;
                fs.lookup(ino, name).map(|a| self.outer(slot, a, true))
            }
            Key::Path(dir) => {
                let r = self.lookup_path(parent, &dir, name);
                if let Err(e) = &r {
                    if !matches!(e, Error::NotFound | Error::NameTooLong) {
                        let p = dir.join(OsStr::from_bytes(name));
                        warn!("lookup {}: {} ({e})", self.show(&p), e.errno_name());
                    }
                }
                r
            }
        }
    }

    fn lookup_path(&self, parent: u64, dir: &Path, name: &[u8]) -> Result<Attr> {
        if name.len() > crate::tree::names::NAME_MAX {
            return Err(Error::NameTooLong);
        }
        let name = OsStr::from_bytes(name);
        let rel = dir.join(name);
        let m = self.tree.stat(&rel, true)?;
        if m.hdf5 {
            match self.slot_for(parent, &rel, name, &m) {
                Ok((slot, fs)) => {
                    return fs
                        .getattr(crate::tree::ROOT)
                        .map(|a| self.outer(slot, a, true))
                }
                Err(e) => warn!(
                    "{}: cannot open as HDF5, shown as a plain file: {e}",
                    self.show(&rel)
                ),
            }
        }
        let (ino, _) = lock(&self.inodes).remember(Key::Path(rel));
        Ok(self.attr_of(ino, &m))
    }

    /// The slot of the HDF5 file at `rel`, opened if no slot has it as it
    /// is now.
    fn slot_for(
        &self,
        parent: u64,
        rel: &Path,
        name: &OsStr,
        m: &Meta,
    ) -> std::result::Result<(u32, Arc<Fs>), String> {
        let ident = m.ident;
        {
            let mut s = lock(&self.slots);
            s.clock += 1;
            let clock = s.clock;
            if let Some(&id) = s.current.get(rel) {
                let slot = s.by_id.get_mut(&id).expect("current slots exist");
                // A file an SWMR writer extends is the same file as it
                // grows, and so is one this mount changes (on rw mounts).
                let growing = (slot.fs.refresh_interval().is_some() || self.writable())
                    && (slot.ident.dev, slot.ident.ino) == (ident.dev, ident.ino);
                if slot.ident == ident || growing {
                    slot.used = clock;
                    return Ok((id, slot.fs.clone()));
                }
                debug!("{}: replaced; opened anew", self.show(rel));
                slot.replaced = true;
                s.current.remove(rel);
                self.retire(&mut s, id);
            }
        }
        let (source, place) = self.tree.source(rel, &self.opts.access);
        let mut opts = self.opts.file.clone();
        opts.tree = place;
        // A writable file has a worker of its own (only one process may
        // have it open for writing); read-only ones share the pool.
        let fs = if opts.writable {
            Fs::new(&source, opts)
        } else {
            // A local file is opened only while its path names it still;
            // a remote one is pinned to its ETag by the driver.
            let pin = (source.access.driver != Driver::Url).then_some((ident.dev, ident.ino));
            Fs::in_directory(&source, opts, &self.shared, pin)
        }
        .map_err(|e| e.msg)?;
        let fs = Arc::new(fs);
        let mut s = lock(&self.slots);
        // Another request may have opened it meanwhile.
        if let Some(&id) = s.current.get(rel) {
            if s.by_id[&id].ident == ident {
                return Ok((id, s.by_id[&id].fs.clone()));
            }
        }
        let id = s.next;
        s.next = s.next.checked_add(1).ok_or("too many files opened")?;
        s.clock += 1;
        let used = s.clock;
        s.by_id.insert(
            id,
            Slot {
                rel: rel.to_path_buf(),
                ident,
                fs: fs.clone(),
                parent,
                name: name.to_os_string(),
                used,
                retired: false,
                replaced: false,
                inodes: 0,
            },
        );
        s.current.insert(rel.to_path_buf(), id);
        self.let_go_past_max(&mut s, id);
        Ok((id, fs))
    }

    /// Past `max_open` slots in use, let the least recently used go.
    fn let_go_past_max(&self, s: &mut Slots, keep: u32) {
        while s.current.len() > self.opts.max_open.max(1) {
            let Some(oldest) = s
                .current
                .values()
                .copied()
                .filter(|&id| id != keep)
                .min_by_key(|id| s.by_id[id].used)
            else {
                return;
            };
            let rel = s.by_id[&oldest].rel.clone();
            s.current.remove(&rel);
            self.retire(s, oldest);
        }
    }

    /// No longer found by name: freed at once if the kernel holds none of
    /// its inodes, else once it forgets them (it is asked to).
    fn retire(&self, s: &mut Slots, id: u32) {
        let Some(slot) = s.by_id.get_mut(&id) else {
            return;
        };
        slot.retired = true;
        if slot.inodes == 0 {
            s.by_id.remove(&id);
            return;
        }
        if let Some(tx) = lock(&self.evicted).as_ref() {
            let _ = tx.send((slot.parent, slot.name.clone()));
        }
    }

    pub fn forget(&self, ino: u64, n: u64) {
        let Some(Key::Inner(slot, _)) = lock(&self.inodes).forget(ino, n) else {
            return;
        };
        let mut s = lock(&self.slots);
        if let Some(sl) = s.by_id.get_mut(&slot) {
            sl.inodes = sl.inodes.saturating_sub(1);
            if sl.inodes == 0 && sl.retired {
                s.by_id.remove(&slot);
            }
        }
    }

    pub fn getattr(&self, ino: u64) -> Result<Attr> {
        match self.key(ino)? {
            Key::Inner(slot, i) => {
                let fs = self.slot_fs(slot)?;
                fs.getattr(i).map(|mut a| {
                    a.ino = ino;
                    a
                })
            }
            Key::Path(rel) => Ok(self.attr_of(ino, &self.tree.stat(&rel, false)?)),
        }
    }

    pub fn read_only<T>(&self, ino: u64) -> Result<T> {
        let what = match lock(&self.inodes).key(ino) {
            Some(Key::Path(p)) => self.show(p),
            Some(Key::Inner(slot, _)) => lock(&self.slots)
                .by_id
                .get(slot)
                .map(|s| self.show(&s.rel))
                .unwrap_or_default(),
            None => format!("(inode {ino})"),
        };
        warn!("{what}: EROFS (a directory mount is read-only)");
        Err(Error::ReadOnly)
    }

    pub fn readlink(&self, ino: u64) -> Result<Vec<u8>> {
        match self.key(ino)? {
            Key::Inner(slot, i) => self.slot_fs(slot)?.readlink(i),
            Key::Path(rel) => self.tree.read_link(&rel),
        }
    }

    pub fn access(&self, ino: u64, write: bool) -> Result<()> {
        match self.key(ino)? {
            Key::Inner(slot, i) if self.writable() => self.slot_fs(slot)?.access(i, write),
            _ if write => Err(Error::ReadOnly),
            _ => self.getattr(ino).map(|_| ()),
        }
    }

    /// Whether the files' trees may change (`-o rw`); the tree of DIR
    /// itself never does.
    pub fn writable(&self) -> bool {
        self.opts.file.writable
    }

    /// A change in directory `parent` that makes an entry: done by the file
    /// holding it (its inode for the new entry given out); EROFS in DIR.
    pub fn make<T>(
        &self,
        parent: u64,
        f: impl FnOnce(&Arc<Fs>, Ino) -> Result<(Attr, T)>,
    ) -> Result<(Attr, T)> {
        match self.key(parent)? {
            Key::Inner(slot, p) if self.writable() => {
                let fs = self.slot_fs(slot)?;
                self.check_writable(slot)?;
                f(&fs, p).map(|(a, t)| (self.outer(slot, a, true), t))
            }
            _ => self.read_only(parent),
        }
    }

    /// A change of entries of directory `parent` (or of inode `parent`):
    /// done by the file holding it; EROFS in DIR.
    pub fn change<T>(&self, parent: u64, f: impl FnOnce(&Arc<Fs>, Ino) -> Result<T>) -> Result<T> {
        match self.key(parent)? {
            Key::Inner(slot, p) if self.writable() => {
                let fs = self.slot_fs(slot)?;
                self.check_writable(slot)?;
                f(&fs, p)
            }
            _ => self.read_only(parent),
        }
    }

    /// A change that names two places (rename, link): both in one file, else
    /// EXDEV (EROFS when both are in DIR).
    pub fn change_two<T>(
        &self,
        a: u64,
        b: u64,
        f: impl FnOnce(&Arc<Fs>, Ino, Ino) -> Result<T>,
    ) -> Result<T> {
        match (self.key(a)?, self.key(b)?) {
            (Key::Inner(sa, ia), Key::Inner(sb, ib)) if sa == sb && self.writable() => {
                let fs = self.slot_fs(sa)?;
                self.check_writable(sa)?;
                f(&fs, ia, ib)
            }
            (Key::Path(_), Key::Path(_)) => self.read_only(a),
            _ if !self.writable() => self.read_only(a),
            _ => Err(Error::CrossDevice(
                "across two HDF5 files, or a file and the directory".into(),
            )),
        }
    }

    /// fsync of a directory: inside a file of a `rw` mount, the file is
    /// flushed to disk (§10.12); DIR's own directories have nothing to flush.
    pub fn fsyncdir(&self, ino: u64) -> Result<()> {
        match self.key(ino)? {
            Key::Inner(slot, _) if self.writable() => self.slot_fs(slot)?.fsyncdir(),
            _ => Ok(()),
        }
    }

    /// A file the caller may not write is refused before libhdf5 tries.
    fn check_writable(&self, slot: u32) -> Result<()> {
        let rel = match lock(&self.slots).by_id.get(&slot) {
            Some(s) => s.rel.clone(),
            None => return Err(Error::NotFound),
        };
        self.tree.can_write(&rel).map_err(Error::Access)
    }

    /// A new name in `new_parent` for `ino`, in the same file only.
    pub fn link(&self, ino: u64, new_parent: u64, new_name: &[u8]) -> Result<Attr> {
        let slot = match self.key(ino)? {
            Key::Inner(slot, _) => slot,
            Key::Path(_) => return self.read_only(ino),
        };
        let a = self.change_two(ino, new_parent, |fs, i, p| fs.link(i, p, new_name))?;
        Ok(self.outer(slot, a, true))
    }

    /// The mount's handle for a file's handle `fh`, opened in directory
    /// `parent` of that file.
    pub fn handle_of(&self, parent: u64, fh: u64) -> u64 {
        match lock(&self.inodes).key(parent) {
            Some(Key::Inner(slot, _)) => (u64::from(*slot) << SLOT_SHIFT) | fh,
            _ => fh,
        }
    }

    /// truncate and the like, inside a file; `stat` shows the mount's inode.
    pub fn setattr(&self, ino: u64, set: SetAttr) -> Result<Attr> {
        self.change(ino, |fs, i| fs.setattr(i, set)).map(|mut a| {
            a.ino = ino;
            a
        })
    }

    pub fn open(&self, ino: u64, mode: OpenMode) -> Result<(u64, OpenCache)> {
        if mode.write && !self.writable() {
            return self.read_only(ino);
        }
        match self.key(ino)? {
            Key::Inner(slot, i) => {
                let fs = {
                    let mut s = lock(&self.slots);
                    let sl = s.by_id.get_mut(&slot).ok_or(Error::NotFound)?;
                    if sl.replaced {
                        return Err(Error::Stale(format!(
                            "{}: the file was replaced; look it up again",
                            self.show(&sl.rel)
                        )));
                    }
                    sl.fs.clone()
                };
                let cache = if fs.refresh_interval().is_some() {
                    OpenCache::Direct
                } else {
                    OpenCache::Keep
                };
                let fh = fs.open(i, mode)?;
                Ok(((u64::from(slot) << SLOT_SHIFT) | fh, cache))
            }
            Key::Path(_) if mode.write => self.read_only(ino),
            Key::Path(rel) => {
                let f = self.tree.open(&rel)?;
                let fh = self.next_fh.fetch_add(1, Ordering::Relaxed);
                lock(&self.plain).insert(fh, f);
                // A plain file may change in DIR: no pages kept across opens.
                Ok((fh, OpenCache::Fresh))
            }
        }
    }

    /// Run `f` on the file of handle `fh` with the file's own handle.
    pub fn by_handle<T>(&self, fh: u64, f: impl FnOnce(&Arc<Fs>, u64) -> Result<T>) -> Result<T> {
        let slot = (fh >> SLOT_SHIFT) as u32;
        if slot == 0 {
            return Err(Error::BadHandle);
        }
        f(&self.slot_fs(slot)?, fh & ((1 << SLOT_SHIFT) - 1))
    }

    pub fn read(&self, fh: u64, offset: u64, size: u32) -> Result<Vec<u8>> {
        if fh >> SLOT_SHIFT != 0 {
            return self.by_handle(fh, |fs, h| fs.read(h, offset, size));
        }
        let f = lock(&self.plain)
            .get(&fh)
            .cloned()
            .ok_or(Error::BadHandle)?;
        f.read(offset, size)
            .map_err(|e| Error::Io(format!("read: {e}")))
    }

    pub fn flush(&self, fh: u64) -> Result<()> {
        if fh >> SLOT_SHIFT == 0 {
            return Ok(());
        }
        self.by_handle(fh, |fs, h| fs.flush(h))
    }

    pub fn fsync(&self, fh: u64) -> Result<()> {
        if fh >> SLOT_SHIFT == 0 {
            return Ok(());
        }
        self.by_handle(fh, |fs, h| fs.fsync(h))
    }

    pub fn release(&self, fh: u64) -> Result<()> {
        if fh >> SLOT_SHIFT == 0 {
            lock(&self.plain).remove(&fh);
            return Ok(());
        }
        self.by_handle(fh, |fs, h| fs.release(h))
    }

    pub fn readdir(&self, ino: u64) -> Result<DirView> {
        match self.key(ino)? {
            Key::Inner(slot, i) => {
                let fs = self.slot_fs(slot)?;
                let view = fs.readdir(i)?;
                let t = lock(&self.inodes);
                let entries = view
                    .listing
                    .entries
                    .iter()
                    .chain(view.pending.iter())
                    .map(|e| DirEntry {
                        name: e.name.clone(),
                        ino: t
                            .peek(&Key::Inner(slot, e.ino))
                            .unwrap_or_else(|| hint(slot, e.ino)),
                        kind: e.kind,
                    })
                    .collect();
                Ok(DirView {
                    listing: Arc::new(Listing::new(entries)),
                    pending: Vec::new(),
                })
            }
            Key::Path(rel) => Ok(DirView {
                listing: self.dir_listing(&rel)?,
                pending: Vec::new(),
            }),
        }
    }

    /// The entries of DIR's directory `rel`, in name order, kept for the
    /// refresh time.
    fn dir_listing(&self, rel: &Path) -> Result<Arc<Listing>> {
        if let Some((at, l)) = lock(&self.listings).get(rel) {
            if at.elapsed() < self.refresh() {
                return Ok(l.clone());
            }
        }
        let entries = self.tree.list(rel)?;
        let l = Arc::new(Listing::new(entries));
        let mut c = lock(&self.listings);
        if c.len() >= LISTINGS {
            c.clear();
        }
        c.insert(rel.to_path_buf(), (Instant::now(), l.clone()));
        Ok(l)
    }

    pub fn statfs(&self) -> StatFs {
        StatFs {
            blocks: 0,
            files: lock(&self.inodes).count() as u64,
            bsize: 4096,
            namelen: crate::tree::names::NAME_MAX as u32,
        }
    }

    pub fn getxattr(&self, ino: u64, name: &[u8], size: u32) -> Result<Xattr> {
        match self.key(ino)? {
            Key::Inner(slot, i) => self.slot_fs(slot)?.getxattr(i, name, size),
            Key::Path(_) => Err(Error::NoAttr),
        }
    }

    pub fn listxattr(&self, ino: u64, size: u32) -> Result<Xattr> {
        match self.key(ino)? {
            Key::Inner(slot, i) => self.slot_fs(slot)?.listxattr(i, size),
            Key::Path(_) => Ok(if size == 0 {
                Xattr::Size(0)
            } else {
                Xattr::Data(Vec::new())
            }),
        }
    }
}

/// An informative inode number (d_ino of a listing) for a file's inode the
/// kernel has not looked up: never one the mount gives out.
fn hint(slot: u32, ino: Ino) -> u64 {
    (1 << 63) | (u64::from(slot) << 32) | (ino & 0xffff_ffff)
}
