//! Open files: what each handle is, opening, reading through a handle,
//! closing (which applies staged bytes), fsync.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::ahead::{self, ReadAhead};
use super::error::show;
use super::shape::max_rows;
use super::stage::{Applied, Staging, Target};
use super::{lock, Error, Fs, Result};
use crate::encode::sidecar::Representation;
use crate::tree::names::Suffix;
use crate::tree::{DirEntry, EntryType, Ino, NodeKind, Tree, View};

/// How a file is opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpenMode {
    pub write: bool,
    pub truncate: bool,
}

/// One open file.
#[derive(Clone)]
pub(super) enum Handle {
    /// Reads the file's bytes; a sequential reader may read ahead
    /// (see [`super::FsOptions::read_ahead`]).
    Reader {
        ino: Ino,
        ahead: Option<Arc<ReadAhead>>,
    },
    /// Reads a file that exists only as staged bytes (being created); never
    /// applies them.
    StagedReader {
        ino: Ino,
        staging: Arc<Mutex<Staging>>,
    },
    /// Writes straight into the dataset.
    Writer { ino: Ino },
    /// Writes into staged bytes, applied whole at close and fsync.
    Stager {
        ino: Ino,
        staging: Arc<Mutex<Staging>>,
    },
}

impl Handle {
    pub(super) fn ino(&self) -> Ino {
        match self {
            Handle::Reader { ino, .. }
            | Handle::StagedReader { ino, .. }
            | Handle::Writer { ino }
            | Handle::Stager { ino, .. } => *ino,
        }
    }

    fn staging(&self) -> Option<&Arc<Mutex<Staging>>> {
        match self {
            Handle::StagedReader { staging, .. } | Handle::Stager { staging, .. } => Some(staging),
            _ => None,
        }
    }
}

/// Open file handles and the staging they share per inode.
#[derive(Default)]
pub struct Handles {
    next: AtomicU64,
    open: Mutex<HashMap<u64, Handle>>,
    pub(super) staging: Mutex<HashMap<Ino, Arc<Mutex<Staging>>>>,
    /// Serialises every change, so a read-modify-write of a partial element
    /// is atomic.
    pub(super) write_lock: Mutex<()>,
}

impl Handles {
    /// Files being written in `dir` that are not datasets yet.
    pub fn pending_entries(&self, dir: Ino, tree: &Tree) -> Vec<DirEntry> {
        let staging = lock(&self.staging);
        let mut out: Vec<DirEntry> = staging
            .values()
            .filter_map(|s| match &lock(s).target {
                Target::New {
                    parent,
                    file_name,
                    ino,
                    ..
                } if *parent == dir => Some(DirEntry {
                    name: file_name.clone(),
                    ino: *ino,
                    kind: EntryType::File,
                }),
                _ => None,
            })
            .collect();
        out.retain(|e| tree.pending(dir, &e.name) == Some(e.ino));
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    pub fn staged_len(&self, ino: Ino) -> Option<u64> {
        lock(&self.staging).get(&ino).map(|s| lock(s).len())
    }

    pub(super) fn add(&self, handle: Handle) -> u64 {
        if let Some(s) = handle.staging() {
            lock(s).handles += 1;
        }
        let fh = self.next.fetch_add(1, Ordering::SeqCst) + 1;
        lock(&self.open).insert(fh, handle);
        fh
    }

    fn get(&self, fh: u64) -> Result<Handle> {
        lock(&self.open).get(&fh).cloned().ok_or(Error::BadHandle)
    }
}

impl Fs {
    pub(super) fn new_staging(
        &self,
        target: Target,
        initial: &[u8],
    ) -> Result<Arc<Mutex<Staging>>> {
        let s = Staging::new(target, initial).map_err(|e| {
            Error::Io(format!(
                "cannot create a staging file in {}: {e}",
                std::env::temp_dir().display()
            ))
        })?;
        Ok(Arc::new(Mutex::new(s)))
    }

    /// The staging shared by every handle of `ino`, made with `make` if none.
    fn staging_for(
        &self,
        ino: Ino,
        make: impl FnOnce() -> Result<Arc<Mutex<Staging>>>,
    ) -> Result<Arc<Mutex<Staging>>> {
        let mut map = lock(&self.handles.staging);
        if let Some(s) = map.get(&ino) {
            return Ok(s.clone());
        }
        let s = make()?;
        map.insert(ino, s.clone());
        Ok(s)
    }

    /// Open `ino`; returns the file handle.
    pub(super) fn open_file(&self, ino: Ino, mode: OpenMode) -> Result<u64> {
        let node = self.node(ino)?;
        if node.kind == NodeKind::Group {
            return Err(Error::IsDir);
        }
        if !mode.write {
            if node.kind == NodeKind::Dataset {
                let ds = self.dataset(ino, &node)?;
                if let Some(reason) = ds.meta.ty.unsupported() {
                    return Err(Error::Io(format!(
                        "{}: type cannot be shown: {reason}",
                        show(&node.path)
                    )));
                }
            }
            // A reader sees the file, not bytes another handle is staging,
            // except for a file that exists only as staged bytes.
            let staged = match node.kind {
                NodeKind::Pending => lock(&self.handles.staging).get(&ino).cloned(),
                _ => None,
            };
            let handle = match staged {
                Some(staging) => Handle::StagedReader { ino, staging },
                None => Handle::Reader {
                    ino,
                    ahead: self.read_ahead.as_ref().map(|w| w.read_ahead()),
                },
            };
            return Ok(self.handles.add(handle));
        }
        self.writable()?;
        self.changeable(&node)?;
        let _w = lock(&self.handles.write_lock);
        // Whether the bytes written are staged, and from what.
        let fresh = |target: Target, initial: &[u8]| -> Result<Arc<Mutex<Staging>>> {
            let s = self.staging_for(ino, || self.new_staging(target, initial))?;
            if mode.truncate {
                lock(&s)
                    .set_len(0)
                    .map_err(|e| Error::Io(format!("staging file: {e}")))?;
            }
            Ok(s)
        };
        let current = |node| -> Result<Vec<u8>> {
            Ok(if mode.truncate {
                Vec::new()
            } else {
                self.rendered(ino, node)?.to_vec()
            })
        };
        let staged = match &node.kind {
            NodeKind::Dataset => {
                let ds = self.dataset(ino, &node)?;
                match Representation::of(&ds.meta.ty) {
                    Representation::Unavailable => {
                        return Err(Error::Io(format!(
                            "{}: type cannot be written",
                            show(&node.path)
                        )))
                    }
                    Representation::Text(_) => {
                        Some(fresh(Target::RewriteText { ino }, &current(&node)?)?)
                    }
                    Representation::Raw if mode.truncate => {
                        if max_rows(&ds.meta).is_some() {
                            self.resize_rows(ino, &node, &ds, 0)?;
                            None
                        } else {
                            // Fixed size: the new bytes replace the old ones at close, whole.
                            Some(fresh(Target::ReplaceRaw { ino }, &[])?)
                        }
                    }
                    Representation::Raw => lock(&self.handles.staging).get(&ino).cloned(),
                }
            }
            NodeKind::View {
                dataset,
                view: View::Sidecar,
                ..
            } => Some(fresh(
                Target::RewriteSidecar { dataset: *dataset },
                &current(&node)?,
            )?),
            NodeKind::View {
                view: View::Npy,
                dir,
                name,
                ..
            } => {
                // Written whole, it replaces the dataset, as a new NAME.npy would.
                if !mode.truncate {
                    return Err(Error::NotPermitted(format!(
                        "{}.npy: a .npy view is written whole, as a new dataset: open it with O_TRUNC (as cp and np.save do)",
                        show(&node.path)
                    )));
                }
                Some(fresh(
                    Target::New {
                        from: Suffix::Npy,
                        parent: *dir,
                        name: name.clone(),
                        file_name: View::Npy.name(name),
                        ino,
                    },
                    &[],
                )?)
            }
            // Written in place; its size is fixed, so O_TRUNC changes nothing.
            NodeKind::View {
                view: View::UserBlock,
                ..
            } => None,
            NodeKind::View { view, .. } => {
                return Err(Error::Access(format!(
                    "{}: the {} header view is read-only",
                    show(&node.path),
                    view.option_name()
                )))
            }
            NodeKind::Pending => {
                let s = lock(&self.handles.staging).get(&ino).cloned();
                if let (Some(s), true) = (&s, mode.truncate) {
                    lock(s)
                        .set_len(0)
                        .map_err(|e| Error::Io(format!("staging file: {e}")))?;
                }
                s
            }
            NodeKind::Datatype => {
                return Err(Error::NotPermitted(format!(
                    "{}: committed datatypes cannot be written",
                    show(&node.path)
                )))
            }
            NodeKind::Array | NodeKind::Chunk { .. } => return Err(Error::ReadOnly),
            NodeKind::Symlink { .. } | NodeKind::Group => {
                return Err(Error::Invalid("not a file".into()))
            }
        };
        Ok(self.handles.add(match staged {
            Some(staging) => Handle::Stager { ino, staging },
            None => Handle::Writer { ino },
        }))
    }

    pub(super) fn handle(&self, fh: u64) -> Result<Handle> {
        self.handles.get(fh)
    }

    /// Read through a handle: staged bytes where the handle reads those, else
    /// the file's, read ahead for a sequential reader where the handle does
    /// that.
    pub(super) fn read_handle(
        self: &Arc<Self>,
        fh: u64,
        offset: u64,
        size: u32,
    ) -> Result<Vec<u8>> {
        let (ino, ra) = match self.handle(fh)? {
            Handle::StagedReader { staging, .. } | Handle::Stager { staging, .. } => {
                return lock(&staging)
                    .read_at(offset, size as usize)
                    .map_err(|e| Error::Io(format!("staging file: {e}")));
            }
            Handle::Writer { ino } | Handle::Reader { ino, ahead: None } => {
                return self.read_at(ino, offset, size)
            }
            Handle::Reader {
                ino,
                ahead: Some(ra),
            } => (ino, ra),
        };
        let data = match ra.take(offset, size as u64) {
            Some(d) => d,
            None => self.read_at(ino, offset, size)?,
        };
        let Some(workers) = &self.read_ahead else {
            return Ok(data);
        };
        if let Some((at, n)) = ra.next(offset, size as u64, data.len() as u64) {
            let fs = self.clone();
            // No request gate here: read-ahead runs on read-only mounts only,
            // where the file is never reopened, and a reader holding the gate
            // may be waiting for this very job.
            let fill = ahead::Fill::new(ra, at, n);
            workers.run(move || fill.with(fs.read_at(ino, at, n as u32).ok()));
        }
        Ok(data)
    }

    /// The staging a handle applies (only handles opened for writing do).
    fn applied_staging(&self, fh: u64) -> Result<Option<Arc<Mutex<Staging>>>> {
        Ok(match self.handle(fh)? {
            Handle::Stager { staging, .. } => Some(staging),
            _ => None,
        })
    }

    /// close(): apply staged writes; errors are returned to close().
    pub(super) fn apply_handle(&self, fh: u64, when: Applied) -> Result<()> {
        match self.applied_staging(fh)? {
            Some(s) => self.apply(&s, when),
            None => Ok(()),
        }
    }

    /// Whether closing `fh` will change the file (staged bytes to apply).
    pub(super) fn has_pending_changes(&self, fh: u64) -> bool {
        self.applied_staging(fh)
            .ok()
            .flatten()
            .is_some_and(|s| lock(&s).dirty)
    }

    /// The last close of a handle.
    pub(super) fn release_handle(&self, fh: u64) -> Result<()> {
        let h = lock(&self.handles.open)
            .remove(&fh)
            .ok_or(Error::BadHandle)?;
        let Some(s) = h.staging() else {
            return Ok(());
        };
        let result = match &h {
            Handle::Stager { .. } => self.apply(s, Applied::AtClose),
            _ => Ok(()),
        };
        let last = {
            let mut st = lock(s);
            st.handles = st.handles.saturating_sub(1);
            st.handles == 0
        };
        if last {
            lock(&self.handles.staging).remove(&h.ino());
            let target = lock(s).target.clone();
            if let Target::New {
                parent,
                file_name,
                ino,
                ..
            } = target
            {
                self.tree.remove_pending_ino(parent, &file_name, ino);
            }
        }
        result
    }
}
