//! One file on a read-only mount that another program may rewrite, extend
//! or replace (without SWMR): docs/SEMANTICS.md §9.2.
//!
//! When a request comes and the last look is `refresh` old, the file's
//! identity (device, inode, size, mtime of each part) is read again. If it
//! changed, the file is opened anew as a new [`Fs`] whose objects below the
//! root have inodes the old one never gave, so nothing the kernel still
//! holds of the old tree can reach the new one. An old tree with open
//! handles is kept until they are closed: they read through it (its
//! workers still have the old file open), and requests on its inodes
//! (`fstat`) are its; requests on inodes of trees let go get `ESTALE`. If the
//! file cannot be opened anew (a writer is half-way), the old tree stays and
//! the next look tries again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};

use super::{Ident, OpenCache};
use crate::fs::{Error, Fs, FsOptions, OpenMode, Result};
use crate::source::Source;
use crate::tree::{object_ino, Ino, ROOT};

/// Handles carry their tree's generation above these bits.
const GEN_SHIFT: u32 = 40;

pub struct Watched {
    source: Source,
    opts: FsOptions,
    refresh: Duration,
    state: RwLock<State>,
    /// Open handles per generation (locked after `state` where both are).
    open: Mutex<HashMap<u64, usize>>,
    /// When the file's identity is read again, and the last failure to
    /// open it anew (logged once).
    next_look: Mutex<(Instant, Option<String>)>,
}

struct State {
    current: Arc<Fs>,
    generation: u64,
    /// The current tree's first inode below the root.
    first_ino: Ino,
    ident: Vec<Option<Ident>>,
    /// Earlier trees that still have open handles, with their inodes below
    /// the root (`first..end`).
    earlier: HashMap<u64, Earlier>,
}

struct Earlier {
    fs: Arc<Fs>,
    inodes: std::ops::Range<Ino>,
}

/// A tree serving one request: the watch cannot replace the current tree
/// while a request is served (so no tree gives inodes after it is replaced).
pub struct Served<'a> {
    _state: RwLockReadGuard<'a, State>,
    fs: Arc<Fs>,
}

impl std::ops::Deref for Served<'_> {
    type Target = Arc<Fs>;
    fn deref(&self) -> &Arc<Fs> {
        &self.fs
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Watched {
    /// Watch `source`, served by `fs` (opened with `opts` after its
    /// identity was read as `ident`, see [`Watched::identity`]).
    pub fn new(
        fs: Fs,
        source: Source,
        opts: FsOptions,
        refresh: Duration,
        ident: Vec<Option<Ident>>,
    ) -> Watched {
        Watched {
            state: RwLock::new(State {
                current: Arc::new(fs),
                generation: 0,
                first_ino: ROOT + 1,
                ident,
                earlier: HashMap::new(),
            }),
            open: Mutex::new(HashMap::new()),
            next_look: Mutex::new((Instant::now() + refresh, None)),
            source,
            opts,
            refresh,
        }
    }

    pub fn refresh(&self) -> Duration {
        self.refresh
    }

    fn state(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The tree that serves inode `ino`, after a look at the file if due;
    /// `ESTALE` for an inode of an earlier tree.
    pub fn fs(&self, ino: Ino) -> Result<Served<'_>> {
        self.look();
        let s = self.state();
        self.check(&s, ino)?;
        let fs = s.current.clone();
        Ok(Served { _state: s, fs })
    }

    /// As [`Watched::fs`] for requests that find nothing new (attributes,
    /// symlinks, xattrs): an inode of an earlier tree is served by it while
    /// it has open handles (`fstat` of a file open since). An earlier tree
    /// must give no new inodes: they are the current tree's.
    pub fn fs_held(&self, ino: Ino) -> Result<Served<'_>> {
        self.look();
        let s = self.state();
        let fs = match self.check(&s, ino) {
            Ok(()) => s.current.clone(),
            Err(stale) => {
                let object = object_ino(ino);
                match s.earlier.values().find(|e| e.inodes.contains(&object)) {
                    Some(e) => e.fs.clone(),
                    None => return Err(stale),
                }
            }
        };
        Ok(Served { _state: s, fs })
    }

    /// `ESTALE` for an inode of an earlier tree.
    fn check(&self, s: &State, ino: Ino) -> Result<()> {
        if ino != ROOT && object_ino(ino) < s.first_ino {
            return Err(Error::Stale(format!(
                "{}: the file changed on disk; look the name up again",
                self.source.name.display()
            )));
        }
        Ok(())
    }

    /// The current tree (for requests about the whole mount).
    pub fn current(&self) -> Arc<Fs> {
        self.look();
        self.state().current.clone()
    }

    /// Open `ino`: the handle names the tree it was opened in. Each tree
    /// has inodes of its own, so the kernel may keep its pages across opens,
    /// unless the file opened anew is an SWMR writer's (it grows meanwhile).
    pub fn open(&self, ino: Ino, mode: OpenMode) -> Result<(u64, OpenCache)> {
        self.look();
        let s = self.state();
        self.check(&s, ino)?;
        let fh = s.current.open(ino, mode)?;
        *lock(&self.open).entry(s.generation).or_insert(0) += 1;
        let cache = match s.current.refresh_interval() {
            Some(_) => OpenCache::Direct,
            None => OpenCache::Keep,
        };
        Ok((s.generation << GEN_SHIFT | fh, cache))
    }

    /// The tree of handle `fh`, and the handle as that tree knows it.
    pub fn by_handle(&self, fh: u64) -> Result<(Served<'_>, u64)> {
        let generation = fh >> GEN_SHIFT;
        let s = self.state();
        let fs = if generation == s.generation {
            s.current.clone()
        } else {
            let e = s.earlier.get(&generation).ok_or(Error::BadHandle)?;
            e.fs.clone()
        };
        Ok((Served { _state: s, fs }, fh & ((1 << GEN_SHIFT) - 1)))
    }

    /// Close handle `fh`; an earlier tree goes with its last handle.
    pub fn release(&self, fh: u64) -> Result<()> {
        let r = {
            let (served, local) = self.by_handle(fh)?;
            served.release(local)
        };
        let generation = fh >> GEN_SHIFT;
        let gone = {
            let mut s = self.state.write().unwrap_or_else(|e| e.into_inner());
            let mut open = lock(&self.open);
            let left = open.get_mut(&generation).map(|n| {
                *n = n.saturating_sub(1);
                *n
            });
            if left == Some(0) {
                open.remove(&generation);
                s.earlier.remove(&generation)
            } else {
                None
            }
        };
        // Its workers are stopped here, with no lock held.
        drop(gone);
        r
    }

    /// Read the file's identity again if it is `refresh` old; open the file
    /// anew if it changed.
    fn look(&self) {
        let mut next = lock(&self.next_look);
        let now = Instant::now();
        if now < next.0 {
            return;
        }
        next.0 = now + self.refresh;
        let ident = Watched::identity(&self.source);
        {
            let s = self.state();
            // A file being read with SWMR grows meanwhile: only another
            // file in its place counts.
            let swmr = s.current.refresh_interval().is_some();
            let file = |v: &[Option<Ident>]| -> Vec<Option<(u64, u64)>> {
                v.iter().map(|i| i.map(|i| (i.dev, i.ino))).collect()
            };
            let same = match swmr {
                true => file(&ident) == file(&s.ident),
                false => ident == s.ident,
            };
            if same {
                return;
            }
        }
        let name = self.source.name.display();
        match Watched::open_tree(&self.source, self.opts.clone(), &ident) {
            Ok(fs) => {
                let let_go = {
                    // No request is served meanwhile: the old tree's last
                    // inode is known, and the new one (only its root so
                    // far) numbers from the next.
                    let mut s = self.state.write().unwrap_or_else(|e| e.into_inner());
                    fs.number_from(s.current.next_ino());
                    let old = std::mem::replace(&mut s.current, Arc::new(fs));
                    let old_generation = s.generation;
                    s.generation = (old_generation + 1) % (1 << (64 - GEN_SHIFT));
                    s.ident = ident;
                    let first = s.current.first_ino();
                    let inodes = std::mem::replace(&mut s.first_ino, first)..old.next_ino();
                    if lock(&self.open).contains_key(&old_generation) {
                        s.earlier
                            .insert(old_generation, Earlier { fs: old, inodes });
                        None
                    } else {
                        Some(old)
                    }
                };
                next.1 = None;
                log::info!("{name}: changed on disk: opened anew (inodes below the root renewed)");
                // Its workers are stopped with no lock but the look's held.
                drop(let_go);
            }
            Err(e) => {
                if next.1.as_deref() != Some(&e.msg) {
                    log::warn!(
                        "{name}: changed on disk, and cannot be opened anew yet (still the earlier tree): {}",
                        e.msg
                    );
                    next.1 = Some(e.msg);
                }
            }
        }
    }
}

impl Watched {
    /// The identity of each part of the file (`None` for a part that is
    /// gone), read before the file is opened, so no change is missed.
    pub fn identity(source: &Source) -> Vec<Option<Ident>> {
        source
            .parts
            .iter()
            .map(|p| std::fs::metadata(p).ok().map(|m| Ident::of(&m)))
            .collect()
    }

    /// Open the file whose identity was `ident`. A file of one part opened
    /// by its own name is pinned to it: a worker started later (to read in
    /// parallel, or after a crash) opens it only while the name still
    /// names that file, so no tree reads a file that took its place.
    pub fn open_tree(
        source: &Source,
        opts: FsOptions,
        ident: &[Option<Ident>],
    ) -> std::result::Result<Fs, crate::model::H5Error> {
        match ident {
            [Some(i)] if source.parts.first() == Some(&source.name) => {
                Fs::pinned(source, opts, (i.dev, i.ino))
            }
            _ => Fs::new(source, opts),
        }
    }
}
