//! Changes through a `-o rw` mount: data writes and resizes, new datasets,
//! the namespace, and attributes. The rules are in docs/SEMANTICS.md (write
//! section); each operation either completes or fails with nothing changed.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use log::{error, info};

use super::ahead::{self, ReadAhead};
use super::limits::{check_extent, ExtentError};
use super::stage::{Staging, Target};
use super::OpenDataset;
use super::{io, join, lock, show, Attr, Error, Fs, Result};
use crate::encode::bytes::encode_values;
use crate::encode::dtype::{descr, type_from_descr};
use crate::encode::json::{value_to_json, values_from_json};
use crate::encode::npy::{parse_header, NpyError};
use crate::encode::sidecar::{parse_sidecar_spec, Compression, Representation, SidecarSpec};
use crate::encode::text::{parse_text_view, TextFormat};
use crate::encode::xattr::{infer_new_attr, parse_attr_text};
use crate::model::{CreateSpec, DatasetMeta, ElementData, Layout, TypeDesc, Value};
use crate::tree::names::SIDECAR_SUFFIX;
use crate::tree::{DirEntry, EntryType, Ino, Node, NodeKind, Tree};

/// How a file is opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpenMode {
    pub write: bool,
    pub truncate: bool,
}

/// The parts of setattr h5fs acts on; mode, owner and times are accepted and
/// not stored (HDF5 has nowhere to keep them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SetAttr {
    pub size: Option<u64>,
}

/// Chunk size aimed at for new growable datasets.
const CHUNK_TARGET: u64 = 1 << 20;
/// Chunk size of datasets made from plain files (bytes).
const BYTE_CHUNK: u64 = 64 << 10;
/// Largest piece copied from staging into a dataset at once.
const COPY_PIECE: u64 = 8 << 20;

#[derive(Clone)]
struct Handle {
    ino: Ino,
    /// Opened for writing: only such handles apply staged bytes.
    writable: bool,
    staged: Option<Arc<Mutex<Staging>>>,
    /// Read-ahead of a read-only handle (see [`FsOptions::read_ahead`]).
    ahead: Option<Arc<ReadAhead>>,
}

/// Open file handles and the staging they share per inode.
#[derive(Default)]
pub struct Handles {
    next: AtomicU64,
    open: Mutex<HashMap<u64, Handle>>,
    staging: Mutex<HashMap<Ino, Arc<Mutex<Staging>>>>,
    /// Serialises every change, so a read-modify-write of a partial element is atomic.
    write_lock: Mutex<()>,
    /// Byte datasets made from plain files during this mount, by identity:
    /// they show no sidecar, a sidecar written for one retypes it, and a
    /// rename may apply their bytes elsewhere.
    created_raw: Mutex<std::collections::HashSet<(u64, u64)>>,
}

impl Handles {
    pub fn is_created_raw(&self, key: (u64, u64)) -> bool {
        lock(&self.created_raw).contains(&key)
    }

    /// Files being written in `dir` that are not datasets yet.
    pub fn pending_entries(&self, dir: Ino, tree: &Tree) -> Vec<DirEntry> {
        let staging = lock(&self.staging);
        let mut out: Vec<DirEntry> = staging
            .values()
            .filter_map(|s| match &lock(s).target {
                Target::NewNpy {
                    parent,
                    file_name,
                    ino,
                    ..
                }
                | Target::NewSidecar {
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

    fn add(
        &self,
        ino: Ino,
        writable: bool,
        staged: Option<Arc<Mutex<Staging>>>,
        ahead: Option<Arc<ReadAhead>>,
    ) -> u64 {
        if let Some(s) = &staged {
            lock(s).handles += 1;
        }
        let fh = self.next.fetch_add(1, Ordering::SeqCst) + 1;
        lock(&self.open).insert(
            fh,
            Handle {
                ino,
                writable,
                staged,
                ahead,
            },
        );
        fh
    }
}

fn element_data(ty: &TypeDesc, values: &[Value]) -> Result<ElementData, String> {
    match ty {
        TypeDesc::VarString { .. } => Ok(ElementData::Strings(
            values
                .iter()
                .map(|v| match v {
                    Value::Str(s) => Ok(s.clone()),
                    other => Err(format!("expected a string, got {}", value_to_json(other))),
                })
                .collect::<Result<_, _>>()?,
        )),
        TypeDesc::VarLen { base } if !base.is_variable() => Ok(ElementData::Sequences(
            values
                .iter()
                .map(|v| match v {
                    Value::List(items) => encode_values(base, items),
                    other => Err(format!("expected a list, got {}", value_to_json(other))),
                })
                .collect::<Result<_, _>>()?,
        )),
        t if !t.is_variable() => Ok(ElementData::Fixed(encode_values(t, values)?)),
        _ => Err("values of this type cannot be written".into()),
    }
}

/// The bytes of one row (all axes but the first) of a dataset.
fn row_bytes(meta: &DatasetMeta) -> u64 {
    let shape = meta.shape.as_deref().unwrap_or(&[]);
    meta.ty.size() as u64 * shape.iter().skip(1).product::<u64>()
}

/// How many rows axis 0 may hold, if the dataset can be resized at all.
fn max_rows(meta: &DatasetMeta) -> Option<u64> {
    let shape = meta.shape.as_ref()?;
    if meta.layout != Layout::Chunked || shape.is_empty() {
        return None;
    }
    Some(
        meta.maxshape
            .as_ref()?
            .first()
            .copied()
            .flatten()
            .unwrap_or(u64::MAX),
    )
}

/// Chunk shape for a new growable dataset of `shape` (rank >= 1).
pub fn auto_chunks(shape: &[u64], itemsize: u64) -> Vec<u64> {
    let inner: u64 = shape
        .iter()
        .skip(1)
        .fold(itemsize.max(1), |n, d| n.saturating_mul((*d).max(1)));
    let rows_target = (CHUNK_TARGET / inner).max(1);
    // Small arrays get small chunks, so a tiny dataset does not take a megabyte.
    let small = shape[0]
        .max(1)
        .next_power_of_two()
        .max((64 << 10) / inner)
        .max(1);
    let mut chunks = vec![rows_target.min(small)];
    chunks.extend(shape.iter().skip(1).map(|d| (*d).max(1)));
    chunks
}

/// A shape refused by [`check_extent`]: EINVAL if it is nonsense, EFBIG if too large.
fn extent_error(path: &[u8], e: ExtentError) -> Error {
    let msg = format!("{}: {e}", show(path));
    if e.is_invalid() {
        Error::Invalid(msg)
    } else {
        Error::TooBig(msg)
    }
}

/// Check that a new dataset's shape and chunks are within the limits.
fn check_new(path: &[u8], spec: &CreateSpec) -> Result<()> {
    if let Some(shape) = &spec.shape {
        check_extent(shape, spec.ty.size() as u64, spec.chunks.as_deref())
            .map_err(|e| extent_error(path, e))?;
    }
    Ok(())
}

impl Fs {
    fn writable(&self) -> Result<()> {
        if self.opts.writable {
            Ok(())
        } else {
            Err(Error::ReadOnly)
        }
    }

    /// Forget what is cached about dataset `ino` (after its data or attributes changed).
    fn changed(&self, ino: Ino) {
        self.caches().changed(ino);
    }

    /// Forget cached listings and sidecars after the namespace of `dir` changed.
    fn changed_dir(&self, dir: Ino) {
        self.tree.invalidate(dir);
        self.caches().clear_contents();
    }

    fn group_node(&self, ino: Ino) -> Result<Arc<Node>> {
        let node = self.node(ino)?;
        if node.kind != NodeKind::Group {
            return Err(Error::NotDir);
        }
        if node.file != 0 {
            return Err(Error::NotPermitted(format!(
                "{} is in an external file, which is mounted read-only",
                show(&node.path)
            )));
        }
        Ok(node)
    }

    fn new_staging(&self, target: Target, initial: &[u8]) -> Result<Arc<Mutex<Staging>>> {
        let s = Staging::new(target, initial).map_err(|e| {
            error!(
                "cannot create a staging file in {}: {e}",
                std::env::temp_dir().display()
            );
            Error::Io(e.to_string())
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
    pub fn open(&self, ino: Ino, mode: OpenMode) -> Result<u64> {
        let node = self.node(ino)?;
        if node.kind == NodeKind::Group {
            return Err(Error::IsDir);
        }
        if !mode.write {
            if node.kind == NodeKind::Dataset {
                let ds = self.dataset(ino, &node)?;
                if let Some(reason) = ds.meta.ty.unsupported() {
                    error!("{}: type cannot be shown: {reason}", show(&node.path));
                    return Err(Error::Io(reason.to_string()));
                }
            }
            // A reader sees the file, not bytes another handle is staging,
            // except for a file that exists only as staged bytes.
            let staged = match node.kind {
                NodeKind::Pending => lock(&self.handles.staging).get(&ino).cloned(),
                _ => None,
            };
            let ahead = match (&self.read_ahead, &staged) {
                (Some(w), None) => Some(w.read_ahead()),
                _ => None,
            };
            return Ok(self.handles.add(ino, false, staged, ahead));
        }
        self.writable()?;
        self.changeable(&node)?;
        let _w = lock(&self.handles.write_lock);
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
                        let initial = if mode.truncate {
                            Vec::new()
                        } else {
                            self.rendered(ino, &node)?.to_vec()
                        };
                        let s = self.staging_for(ino, || {
                            self.new_staging(Target::RewriteText { ino }, &initial)
                        })?;
                        if mode.truncate {
                            lock(&s).set_len(0).map_err(|e| Error::Io(e.to_string()))?;
                        }
                        Some(s)
                    }
                    Representation::Raw if mode.truncate => {
                        if max_rows(&ds.meta).is_some() {
                            self.resize_rows(ino, &node, &ds, 0)?;
                            None
                        } else {
                            // Fixed size: the new bytes replace the old ones at close, whole.
                            let s = self.staging_for(ino, || {
                                self.new_staging(Target::ReplaceRaw { ino }, &[])
                            })?;
                            lock(&s).set_len(0).map_err(|e| Error::Io(e.to_string()))?;
                            Some(s)
                        }
                    }
                    Representation::Raw => lock(&self.handles.staging).get(&ino).cloned(),
                }
            }
            NodeKind::Sidecar { dataset } => {
                let initial = if mode.truncate {
                    Vec::new()
                } else {
                    self.rendered(ino, &node)?.to_vec()
                };
                let dataset = *dataset;
                let s = self.staging_for(ino, || {
                    self.new_staging(Target::RewriteSidecar { dataset }, &initial)
                })?;
                if mode.truncate {
                    lock(&s).set_len(0).map_err(|e| Error::Io(e.to_string()))?;
                }
                Some(s)
            }
            NodeKind::Pending => {
                let s = lock(&self.handles.staging).get(&ino).cloned();
                if let (Some(s), true) = (&s, mode.truncate) {
                    lock(s).set_len(0).map_err(|e| Error::Io(e.to_string()))?;
                }
                s
            }
            NodeKind::Datatype => {
                return Err(Error::NotPermitted(format!(
                    "{}: committed datatypes cannot be written",
                    show(&node.path)
                )))
            }
            NodeKind::Symlink { .. } | NodeKind::Group => {
                return Err(Error::Invalid("not a file".into()))
            }
        };
        Ok(self.handles.add(ino, true, staged, None))
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

    /// Create a new file `name` in `parent` and open it for writing.
    pub fn create(&self, parent: Ino, name: &[u8]) -> Result<(Attr, u64)> {
        self.writable()?;
        let dir = self.group_node(parent)?;
        super::check_name(name)?;
        self.tree.remove_ghost(parent, name);
        if self.lookup(parent, name).is_ok() {
            return Err(Error::Exists);
        }
        let path = join(&dir.path, name);
        let _w = lock(&self.handles.write_lock);
        let stem = |suffix: &[u8]| -> Option<Vec<u8>> {
            name.strip_suffix(suffix)
                .filter(|s| !s.is_empty())
                .map(|s| s.to_vec())
        };
        let pending = if let Some(base) = stem(b".npy") {
            Some((base, true))
        } else if let Some(base) = stem(SIDECAR_SUFFIX) {
            // NAME.json for a NAME not in the group describes a new dataset;
            // for a byte file made through the mount it gives it its type.
            match self.entry(parent, &base) {
                Ok(e) if !self.is_created_raw_ino(e.ino) => None,
                _ => Some((base, false)),
            }
        } else {
            None
        };
        if let Some((base, is_npy)) = pending {
            let ino = self.tree.add_pending(parent, name, path);
            let target = if is_npy {
                Target::NewNpy {
                    parent,
                    name: base,
                    file_name: name.to_vec(),
                    ino,
                }
            } else {
                Target::NewSidecar {
                    parent,
                    name: base,
                    file_name: name.to_vec(),
                    ino,
                }
            };
            let s = self.new_staging(target, &[])?;
            lock(&self.handles.staging).insert(ino, s.clone());
            let fh = self.handles.add(ino, true, Some(s), None);
            return Ok((self.getattr(ino)?, fh));
        }
        // Any other file becomes bytes: a growable 1-D uint8 dataset.
        self.h5
            .create_dataset(&path, &bytes_spec())
            .map_err(|e| io(&path, e))?;
        info!("{}: created as a byte dataset", show(&path));
        let info = self
            .h5
            .info_in(&dir.loc(), name)
            .map_err(|e| io(&path, e))?;
        lock(&self.handles.created_raw).insert((info.file, info.addr));
        self.changed_dir(parent);
        let entry = self.entry(parent, name)?;
        let fh = self.handles.add(entry.ino, true, None, None);
        Ok((self.getattr(entry.ino)?, fh))
    }

    fn is_created_raw_ino(&self, ino: Ino) -> bool {
        self.node(ino)
            .map(|n| self.handles.is_created_raw((n.file, n.addr)))
            .unwrap_or(false)
    }

    fn handle(&self, fh: u64) -> Result<Handle> {
        lock(&self.handles.open)
            .get(&fh)
            .cloned()
            .ok_or(Error::BadHandle)
    }

    /// The staging a handle may apply (only handles opened for writing may).
    fn writer_staging(&self, fh: u64) -> Result<Option<Arc<Mutex<Staging>>>> {
        let open = lock(&self.handles.open);
        let h = open.get(&fh).ok_or(Error::BadHandle)?;
        Ok(if h.writable { h.staged.clone() } else { None })
    }

    /// Read through a handle: staged bytes where the handle stages, else the
    /// file's, read ahead for a sequential reader where the handle does that.
    pub fn read_handle(self: &Arc<Self>, fh: u64, offset: u64, size: u32) -> Result<Vec<u8>> {
        let Handle {
            ino, staged, ahead, ..
        } = self.handle(fh)?;
        if let Some(s) = staged {
            return lock(&s)
                .read_at(offset, size as usize)
                .map_err(|e| Error::Io(e.to_string()));
        }
        let Some(ra) = ahead else {
            return self.read(ino, offset, size);
        };
        let data = match ra.take(offset, size as u64) {
            Some(d) => d,
            None => self.read(ino, offset, size)?,
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
            workers.run(move || fill.with(fs.read(ino, at, n as u32).ok()));
        }
        Ok(data)
    }

    pub fn write(&self, fh: u64, offset: u64, data: &[u8]) -> Result<u32> {
        self.writable()?;
        let Handle { ino, staged, .. } = self.handle(fh)?;
        if let Some(s) = staged {
            lock(&s)
                .write_at(offset, data)
                .map_err(|e| Error::Io(e.to_string()))?;
            return Ok(data.len() as u32);
        }
        let node = self.node(ino)?;
        if node.kind != NodeKind::Dataset {
            return Err(Error::Invalid("not a dataset".into()));
        }
        let _w = lock(&self.handles.write_lock);
        self.write_raw(ino, &node, offset, data)?;
        Ok(data.len() as u32)
    }

    /// pwrite on a raw dataset: a hyperslab write of the covered elements,
    /// growing axis 0 first when the write ends past the current size.
    fn write_raw(&self, ino: Ino, node: &Node, offset: u64, data: &[u8]) -> Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        let mut ds = self.dataset(ino, node)?;
        if Representation::of(&ds.meta.ty) != Representation::Raw {
            return Err(Error::Invalid("not a raw dataset".into()));
        }
        let itemsize = ds.meta.ty.size() as u64;
        let total = ds.meta.npoints() * itemsize;
        let end = offset.checked_add(data.len() as u64).ok_or_else(|| {
            Error::TooBig(format!(
                "{}: offset {offset} is past any size",
                show(&node.path)
            ))
        })?;
        if end > total {
            let row = row_bytes(&ds.meta).max(1);
            self.resize_rows(ino, node, &ds, end.div_ceil(row))?;
            ds = self.dataset(ino, node)?;
        }
        let first = offset / itemsize;
        let last = end.div_ceil(itemsize);
        let head = offset % itemsize;
        if head == 0 && end % itemsize == 0 {
            return self
                .h5
                .write_elements(&ds.loc, first, data)
                .map_err(|e| io(&node.path, e));
        }
        // Partial elements at the edges: read them, patch, write back whole.
        let mut buf = vec![0u8; ((last - first) * itemsize) as usize];
        let edge = |at: u64| {
            self.h5
                .read_elements(&ds.loc, at, at + 1)
                .map_err(|e| io(&node.path, e))
        };
        if head != 0 {
            buf[..itemsize as usize].copy_from_slice(&edge(first)?);
        }
        if end % itemsize != 0 {
            let n = buf.len();
            buf[n - itemsize as usize..].copy_from_slice(&edge(last - 1)?);
        }
        buf[head as usize..head as usize + data.len()].copy_from_slice(data);
        self.h5
            .write_elements(&ds.loc, first, &buf)
            .map_err(|e| io(&node.path, e))
    }

    /// Set axis 0 of dataset `ino` to `rows` (EFBIG beyond what it can hold).
    fn resize_rows(&self, ino: Ino, node: &Node, ds: &OpenDataset, rows: u64) -> Result<()> {
        let shape = ds.meta.shape.clone().unwrap_or_default();
        let Some(max) = max_rows(&ds.meta) else {
            return Err(Error::TooBig(format!(
                "{}: {} dataset cannot change size",
                show(&node.path),
                if shape.is_empty() {
                    "a scalar or empty"
                } else {
                    ds.meta.layout.name()
                }
            )));
        };
        if rows > max {
            return Err(Error::TooBig(format!(
                "{}: {rows} rows exceed the maximum of {max}",
                show(&node.path)
            )));
        }
        if shape[0] == rows {
            return Ok(());
        }
        let mut dims = shape;
        dims[0] = rows;
        check_extent(&dims, ds.meta.ty.size() as u64, ds.meta.chunks.as_deref())
            .map_err(|e| extent_error(&node.path, e))?;
        self.h5
            .set_extent(&ds.loc, &dims)
            .map_err(|e| io(&node.path, e))?;
        self.changed(ino);
        Ok(())
    }

    /// truncate / ftruncate: resize axis 0 to whole rows.
    pub fn setattr(&self, ino: Ino, set: SetAttr) -> Result<Attr> {
        if let Some(size) = set.size {
            self.writable()?;
            let _w = lock(&self.handles.write_lock);
            if let Some(s) = lock(&self.handles.staging).get(&ino).cloned() {
                lock(&s)
                    .set_len(size)
                    .map_err(|e| Error::Io(e.to_string()))?;
                return self.getattr(ino);
            }
            let node = self.node(ino)?;
            self.changeable(&node)?;
            match node.kind {
                NodeKind::Dataset => self.truncate_dataset(ino, &node, size)?,
                NodeKind::Group => return Err(Error::IsDir),
                _ => {
                    return Err(Error::NotPermitted(format!(
                        "{}: only datasets can be truncated",
                        show(&node.path)
                    )))
                }
            }
        } else if !self.opts.writable {
            return Err(Error::ReadOnly);
        }
        self.getattr(ino)
    }

    fn truncate_dataset(&self, ino: Ino, node: &Node, size: u64) -> Result<()> {
        let ds = self.dataset(ino, node)?;
        match Representation::of(&ds.meta.ty) {
            Representation::Raw => {}
            Representation::Text(_) if size == 0 => {
                return self.apply_text(ino, node, &ds, b"");
            }
            _ => {
                return Err(Error::Invalid(format!(
                    "{}: a text view can only be truncated to 0",
                    show(&node.path)
                )))
            }
        }
        let current = ds.meta.npoints() * ds.meta.ty.size() as u64;
        if size == current {
            return Ok(());
        }
        let row = row_bytes(&ds.meta);
        if row == 0 || size % row != 0 {
            return Err(Error::Invalid(format!(
                "{}: {size} bytes is not a whole number of {row}-byte rows",
                show(&node.path)
            )));
        }
        self.resize_rows(ino, node, &ds, size / row)
    }

    /// close(): apply staged writes; errors are returned to close().
    pub fn flush(&self, fh: u64) -> Result<()> {
        match self.writer_staging(fh)? {
            Some(s) => self.apply(&s),
            None => Ok(()),
        }
    }

    /// fsync: apply staged writes, then flush the HDF5 file to disk. Takes
    /// the request gate itself (the caller holds none).
    pub fn fsync(&self, fh: u64) -> Result<()> {
        {
            let _g = self.begin_change()?;
            self.flush(fh)?;
        }
        if self.opts.writable {
            self.sync_to_disk()?;
        }
        Ok(())
    }

    /// Whether closing `fh` will change the file (staged bytes to apply).
    pub fn has_pending_changes(&self, fh: u64) -> bool {
        self.writer_staging(fh)
            .ok()
            .flatten()
            .is_some_and(|s| lock(&s).dirty)
    }

    pub fn release(&self, fh: u64) -> Result<()> {
        let h = lock(&self.handles.open)
            .remove(&fh)
            .ok_or(Error::BadHandle)?;
        let Some(s) = h.staged else {
            return Ok(());
        };
        let result = if h.writable { self.apply(&s) } else { Ok(()) };
        let last = {
            let mut st = lock(&s);
            st.handles = st.handles.saturating_sub(1);
            st.handles == 0
        };
        if last {
            lock(&self.handles.staging).remove(&h.ino);
            let target = lock(&s).target.clone();
            if let Target::NewNpy {
                parent, file_name, ..
            }
            | Target::NewSidecar {
                parent, file_name, ..
            } = target
            {
                self.tree.remove_pending(parent, &file_name);
            }
        }
        result
    }

    /// Apply staged bytes to their target, once per change.
    fn apply(&self, s: &Arc<Mutex<Staging>>) -> Result<()> {
        let _w = lock(&self.handles.write_lock);
        let mut st = lock(s);
        if !st.dirty {
            return Ok(());
        }
        st.dirty = false;
        let result = match st.target.clone() {
            Target::ReplaceRaw { ino } => self.apply_replace(ino, &st),
            Target::RewriteText { ino } => {
                let node = self.node(ino)?;
                let ds = self.dataset(ino, &node)?;
                let bytes = st.read_all().map_err(|e| Error::Io(e.to_string()))?;
                self.apply_text(ino, &node, &ds, &bytes)
            }
            Target::RewriteSidecar { dataset } => {
                let bytes = st.read_all().map_err(|e| Error::Io(e.to_string()))?;
                self.apply_sidecar(dataset, &bytes)
            }
            Target::NewNpy { parent, name, .. } => self.apply_npy(parent, &name, &st),
            Target::NewSidecar { parent, name, .. } => {
                let bytes = st.read_all().map_err(|e| Error::Io(e.to_string()))?;
                self.apply_new_sidecar(parent, &name, &bytes)
            }
        };
        if let Err(e) = &result {
            error!("{e}");
            // Every later close and fsync reports it too, until new bytes come.
            st.dirty = true;
        }
        result
    }

    fn apply_replace(&self, ino: Ino, st: &Staging) -> Result<()> {
        let node = self.node(ino)?;
        let ds = self.dataset(ino, &node)?;
        let itemsize = ds.meta.ty.size() as u64;
        let size = ds.meta.npoints() * itemsize;
        if st.len() != size {
            return Err(Error::Invalid(format!(
                "{}: {} bytes written but the dataset holds {size} and cannot change size; it keeps its previous contents",
                show(&node.path),
                st.len()
            )));
        }
        self.copy_in(&node, &ds, st, 0)?;
        self.changed(ino);
        Ok(())
    }

    /// Copy the staged bytes from `from` on into `ds`, in whole elements.
    fn copy_in(&self, node: &Node, ds: &OpenDataset, st: &Staging, from: u64) -> Result<()> {
        let itemsize = ds.meta.ty.size() as u64;
        let piece = (COPY_PIECE / itemsize).max(1) * itemsize;
        let mut pos = from;
        while pos < st.len() {
            let chunk = st
                .read_at(pos, piece.min(st.len() - pos) as usize)
                .map_err(|e| Error::Io(e.to_string()))?;
            self.h5
                .write_elements(&ds.loc, (pos - from) / itemsize, &chunk)
                .map_err(|e| io(&node.path, e))?;
            pos += chunk.len() as u64;
        }
        Ok(())
    }

    fn apply_text(&self, ino: Ino, node: &Node, ds: &OpenDataset, bytes: &[u8]) -> Result<()> {
        let Representation::Text(format) = Representation::of(&ds.meta.ty) else {
            return Err(Error::Invalid("not a text dataset".into()));
        };
        let invalid = |m: String| Error::Invalid(format!("{}: {m}", show(&node.path)));
        let values = parse_text_view(format, &ds.meta.ty, bytes).map_err(invalid)?;
        let data = element_data(&ds.meta.ty, &values).map_err(invalid)?;
        let n = values.len() as u64;
        let ds = if n != ds.meta.npoints() {
            let shape = ds.meta.shape.clone().unwrap_or_default();
            let row: u64 = shape.iter().skip(1).product();
            if shape.is_empty() || row == 0 || n % row != 0 {
                return Err(invalid(format!(
                    "{n} lines do not fill whole rows of shape {shape:?}"
                )));
            }
            self.resize_rows(ino, node, ds, n / row)?;
            self.dataset(ino, node)?
        } else {
            self.dataset(ino, node)?
        };
        self.h5
            .write_all(&ds.loc, data)
            .map_err(|e| io(&node.path, e))?;
        self.changed(ino);
        if format == TextFormat::Lines {
            info!("{}: rewrote {n} strings", show(&node.path));
        }
        Ok(())
    }

    /// A rewritten sidecar may change the shape (a resize); anything else
    /// HDF5 cannot change in place is refused.
    fn apply_sidecar(&self, dataset: Ino, bytes: &[u8]) -> Result<()> {
        let node = self.node(dataset)?;
        let ds = self.dataset(dataset, &node)?;
        let invalid = |m: String| Error::Invalid(format!("{}.json: {m}", show(&node.path)));
        let spec = parse_sidecar_spec(bytes).map_err(invalid)?;
        let meta = &ds.meta;
        let elem_dims: Vec<u64> = match &meta.ty {
            TypeDesc::Array { base, dims } => crate::encode::dtype::flatten_array(base, dims)
                .1
                .iter()
                .map(|d| *d as u64)
                .collect(),
            _ => Vec::new(),
        };
        let current_elem = match &meta.ty {
            TypeDesc::Array { base, dims } => {
                crate::encode::dtype::flatten_array(base, dims).0.clone()
            }
            t => t.clone(),
        };
        if let Some(t) = &spec.dtype {
            if descr(t) != descr(&current_elem) {
                return Err(invalid("dtype cannot change".into()));
            }
        }
        if spec.chunks.is_some() && spec.chunks != meta.chunks {
            return Err(invalid("chunks cannot change".into()));
        }
        let (gzip, lzf, shuffle) = filters_of(meta);
        if let Some(c) = &spec.compression {
            let same = match c {
                Compression::None => gzip.is_none() && !lzf,
                Compression::Gzip(l) => gzip == Some(*l),
                Compression::Lzf => lzf,
            };
            if !same {
                return Err(invalid("compression cannot change".into()));
            }
        }
        if spec.shuffle.is_some_and(|s| s != shuffle) {
            return Err(invalid("shuffle cannot change".into()));
        }
        let strip =
            |v: &Vec<u64>| -> Vec<u64> { v[..v.len().saturating_sub(elem_dims.len())].to_vec() };
        if let Some(m) = &spec.maxshape {
            let m: Vec<Option<u64>> = m[..m.len().saturating_sub(elem_dims.len())].to_vec();
            if Some(&m) != meta.maxshape.as_ref() {
                return Err(invalid("maxshape cannot change".into()));
            }
        }
        if let Some(fv) = &spec.fillvalue {
            if *fv != value_to_json(&meta.fill) && !fv.is_null() {
                return Err(invalid("fillvalue cannot change".into()));
            }
        }
        let Some(shape) = spec.shape.as_ref().map(strip) else {
            return Ok(());
        };
        let current = meta.shape.clone().unwrap_or_default();
        if shape == current {
            return Ok(());
        }
        if shape.len() != current.len() || meta.layout != Layout::Chunked {
            return Err(Error::TooBig(format!(
                "{}: cannot take shape {shape:?} (it is {current:?}, {})",
                show(&node.path),
                meta.layout.name()
            )));
        }
        let max = meta.maxshape.clone().unwrap_or_default();
        if shape
            .iter()
            .zip(&max)
            .any(|(s, m)| m.is_some_and(|m| *s > m))
        {
            return Err(Error::TooBig(format!(
                "{}: shape {shape:?} exceeds maxshape",
                show(&node.path)
            )));
        }
        check_extent(&shape, meta.ty.size() as u64, meta.chunks.as_deref())
            .map_err(|e| extent_error(&node.path, e))?;
        self.h5
            .set_extent(&ds.loc, &shape)
            .map_err(|e| io(&node.path, e))?;
        self.changed(dataset);
        Ok(())
    }

    fn apply_npy(&self, parent: Ino, name: &[u8], st: &Staging) -> Result<()> {
        let dir = self.group_node(parent)?;
        let path = join(&dir.path, name);
        let invalid = |m: String| Error::Invalid(format!("{}.npy: {m}", show(&path)));
        let mut want = 4096usize;
        let header = loop {
            let head = st.read_at(0, want).map_err(|e| Error::Io(e.to_string()))?;
            match parse_header(&head) {
                Ok(h) => break h,
                Err(NpyError::Incomplete) if (head.len() as u64) < st.len() && want < (1 << 24) => {
                    want *= 4
                }
                Err(e) => return Err(invalid(e.to_string())),
            }
        };
        if header.fortran_order {
            return Err(invalid(
                "Fortran-ordered arrays are not supported; save with C order".into(),
            ));
        }
        let ty = type_from_descr(&header.descr).map_err(invalid)?;
        let itemsize = ty.size() as u64;
        let data_len =
            check_extent(&header.shape, itemsize, None).map_err(|e| extent_error(&path, e))?;
        if st.len() != header.data_offset as u64 + data_len {
            return Err(invalid(format!(
                "{} data bytes for shape {:?} of {}-byte elements, expected {data_len}",
                st.len().saturating_sub(header.data_offset as u64),
                header.shape,
                itemsize
            )));
        }
        let spec = if header.shape.is_empty() {
            CreateSpec {
                ty,
                shape: Some(vec![]),
                maxshape: vec![],
                chunks: None,
                gzip: None,
                lzf: false,
                shuffle: false,
                fill: None,
            }
        } else {
            let mut maxshape: Vec<Option<u64>> = header.shape.iter().map(|d| Some(*d)).collect();
            maxshape[0] = None;
            CreateSpec {
                chunks: Some(auto_chunks(&header.shape, itemsize)),
                ty,
                shape: Some(header.shape.clone()),
                maxshape,
                gzip: None,
                lzf: false,
                shuffle: false,
                fill: None,
            }
        };
        check_new(&path, &spec)?;
        self.replace_with_new(parent, name, &path, &spec)?;
        let entry = self.entry(parent, name)?;
        let node = self.node(entry.ino)?;
        let ds = self.dataset(entry.ino, &node)?;
        self.copy_in(&node, &ds, st, header.data_offset as u64)?;
        self.changed(entry.ino);
        info!(
            "{}: created from a .npy stream, shape {:?}",
            show(&path),
            header.shape
        );
        Ok(())
    }

    fn apply_new_sidecar(&self, parent: Ino, name: &[u8], bytes: &[u8]) -> Result<()> {
        let dir = self.group_node(parent)?;
        let path = join(&dir.path, name);
        let invalid = |m: String| Error::Invalid(format!("{}.json: {m}", show(&path)));
        let spec = parse_sidecar_spec(bytes).map_err(invalid)?;
        let create = spec_to_create(&spec).map_err(invalid)?;
        check_new(&path, &create)?;
        let Ok(existing) = self.entry(parent, name) else {
            self.h5
                .create_dataset(&path, &create)
                .map_err(|e| io(&path, e))?;
            self.changed_dir(parent);
            info!("{}: created from a sidecar", show(&path));
            return Ok(());
        };
        // A byte file made through the mount takes the type the sidecar gives:
        // its bytes must be exactly the new shape's.
        if !self.is_created_raw_ino(existing.ino) {
            return Err(invalid(format!("{} exists", show(name))));
        }
        let node = self.node(existing.ino)?;
        let ds = self.dataset(existing.ino, &node)?;
        let raw = self
            .h5
            .read_elements(&ds.loc, 0, ds.meta.npoints())
            .map_err(|e| io(&path, e))?;
        let want = create
            .shape
            .as_ref()
            .map_or(0, |s| s.iter().product::<u64>())
            * create.ty.size() as u64;
        if raw.len() as u64 != want {
            return Err(invalid(format!(
                "{} holds {} bytes, the sidecar's shape and dtype need {want}",
                show(name),
                raw.len()
            )));
        }
        let st = Staging::new(Target::ReplaceRaw { ino: 0 }, &raw)
            .map_err(|e| Error::Io(e.to_string()))?;
        // Attributes set on the byte file (cp -a copies them before the sidecar) stay.
        let attrs = self.attrs_of(&node);
        self.replace_with_new(parent, name, &path, &create)?;
        let entry = self.entry(parent, name)?;
        let node = self.node(entry.ino)?;
        let ds = self.dataset(entry.ino, &node)?;
        self.copy_in(&node, &ds, &st, 0)?;
        for (attr_name, attr) in attrs {
            let Ok(a) = attr else { continue };
            let shape = a.shape.clone().unwrap_or_default();
            match element_data(&a.ty, &a.values) {
                Ok(data) if a.shape.is_some() => {
                    self.h5
                        .create_attr(&node.loc(), &attr_name, &a.ty, &shape, data)
                        .map_err(|e| io(&path, e))?;
                }
                _ => error!(
                    "{}: attribute {} not kept on retyping",
                    show(&path),
                    show(&attr_name)
                ),
            }
        }
        self.changed(entry.ino);
        info!("{}: retyped by its sidecar", show(&path));
        Ok(())
    }

    /// Create dataset `name` in `parent`, replacing a dataset of that name.
    fn replace_with_new(
        &self,
        parent: Ino,
        name: &[u8],
        path: &[u8],
        spec: &CreateSpec,
    ) -> Result<()> {
        if let Ok(old) = self.entry(parent, name) {
            let node = self.node(old.ino)?;
            if node.kind != NodeKind::Dataset {
                return Err(Error::Exists);
            }
            self.delete(parent, name, &node)?;
        }
        self.h5
            .create_dataset(path, spec)
            .map_err(|e| io(path, e))?;
        self.changed_dir(parent);
        Ok(())
    }

    /// Remove the link `name` of `parent` to object `node`.
    fn delete(&self, parent: Ino, name: &[u8], node: &Node) -> Result<()> {
        let dir = self.node(parent)?;
        let path = join(&dir.path, name);
        let last = node.kind != NodeKind::Pending
            && node.addr != 0
            && self
                .h5
                .info_at(&node.loc())
                .map(|i| i.links <= 1)
                .unwrap_or(false);
        self.h5.delete_link(&path).map_err(|e| io(&path, e))?;
        if last {
            self.tree.forget_object((node.file, node.addr));
        }
        self.caches().clear();
        self.changed_dir(parent);
        Ok(())
    }

    pub fn mkdir(&self, parent: Ino, name: &[u8]) -> Result<Attr> {
        self.writable()?;
        let dir = self.group_node(parent)?;
        super::check_name(name)?;
        if self.lookup(parent, name).is_ok() {
            return Err(Error::Exists);
        }
        let _w = lock(&self.handles.write_lock);
        let path = join(&dir.path, name);
        self.h5.create_group(&path).map_err(|e| io(&path, e))?;
        self.changed_dir(parent);
        self.lookup(parent, name)
    }

    pub fn unlink(&self, parent: Ino, name: &[u8]) -> Result<()> {
        self.writable()?;
        self.group_node(parent)?;
        let _w = lock(&self.handles.write_lock);
        if let Some(ino) = self.tree.pending(parent, name) {
            // A file being written that is not a dataset yet: it is dropped at close.
            self.tree.remove_pending(parent, name);
            if let Some(s) = lock(&self.handles.staging).remove(&ino) {
                lock(&s).dirty = false;
            }
            return Ok(());
        }
        if self.tree.remove_ghost(parent, name) {
            return Ok(());
        }
        let entry = self.entry(parent, name)?;
        let node = self.node(entry.ino)?;
        match node.kind {
            NodeKind::Group => Err(Error::IsDir),
            // Sidecars are views of their dataset: removing one deletes nothing.
            NodeKind::Sidecar { .. } => Ok(()),
            NodeKind::Dataset => {
                let sidecar = crate::tree::names::sidecar_name(name);
                let had_sidecar = self.listing(parent)?.get(&sidecar).is_some_and(|e| {
                    matches!(
                        self.node(e.ino).map(|n| n.kind.clone()),
                        Ok(NodeKind::Sidecar { .. })
                    )
                });
                self.delete(parent, name, &node)?;
                if had_sidecar {
                    self.tree.add_ghost(parent, sidecar);
                }
                Ok(())
            }
            _ => self.delete(parent, name, &node),
        }
    }

    pub fn rmdir(&self, parent: Ino, name: &[u8]) -> Result<()> {
        self.writable()?;
        self.group_node(parent)?;
        let _w = lock(&self.handles.write_lock);
        let entry = self.entry(parent, name)?;
        let node = self.node(entry.ino)?;
        if node.kind != NodeKind::Group {
            return Err(Error::NotDir);
        }
        let links = self.h5.links(&node.loc()).map_err(|e| io(&node.path, e))?;
        if !links.is_empty()
            || !self
                .handles
                .pending_entries(entry.ino, &self.tree)
                .is_empty()
        {
            return Err(Error::NotEmpty);
        }
        self.delete(parent, name, &node)
    }

    pub fn rename(
        &self,
        parent: Ino,
        name: &[u8],
        new_parent: Ino,
        new_name: &[u8],
        no_replace: bool,
    ) -> Result<()> {
        self.writable()?;
        let from_dir = self.group_node(parent)?;
        let to_dir = self.group_node(new_parent)?;
        super::check_name(new_name)?;
        if let Some(ino) = self.tree.pending(parent, name) {
            return self.rename_pending(ino, parent, name, new_parent, new_name);
        }
        let src = self.entry(parent, name)?;
        let src_node = self.node(src.ino)?;
        if matches!(src_node.kind, NodeKind::Sidecar { .. }) {
            return Err(Error::NotPermitted(format!(
                "{}.json: a sidecar moves with its dataset",
                show(&src_node.path)
            )));
        }
        let from = join(&from_dir.path, name);
        let to = join(&to_dir.path, new_name);
        if from == to {
            return Ok(());
        }
        let target = self.lookup(new_parent, new_name).ok();
        if target.is_some() && no_replace {
            return Err(Error::Exists);
        }
        let created_raw = self.is_created_raw_ino(src.ino);
        let _w = lock(&self.handles.write_lock);
        // A file written through the mount and renamed to what it should be
        // (rsync, editors): its bytes go where the name says.
        if created_raw {
            if let Some(done) =
                self.rename_bytes_into(parent, name, &src_node, new_parent, new_name)?
            {
                return Ok(done);
            }
        }
        if let Some(t) = target {
            let t_entry = self.entry(new_parent, new_name)?;
            let t_node = self.node(t_entry.ino)?;
            let src_is_dir = src_node.kind == NodeKind::Group;
            match (&t_node.kind, src_is_dir) {
                (NodeKind::Group, true) => {
                    let links = self
                        .h5
                        .links(&t_node.loc())
                        .map_err(|e| io(&t_node.path, e))?;
                    if !links.is_empty() {
                        return Err(Error::NotEmpty);
                    }
                }
                (NodeKind::Group, false) => return Err(Error::IsDir),
                (_, true) => return Err(Error::NotDir),
                (NodeKind::Sidecar { .. }, false) => {
                    return Err(Error::NotPermitted(format!(
                        "{}: cannot replace a sidecar with another object",
                        show(&to)
                    )))
                }
                _ => {}
            }
            if t.ino == src.ino {
                // Two names of one object: POSIX says do nothing.
                return Ok(());
            }
            self.delete(new_parent, new_name, &t_node)?;
        }
        self.h5.move_link(&from, &to).map_err(|e| io(&from, e))?;
        self.tree.rename_paths(&from, &to);
        self.changed_dir(parent);
        self.changed_dir(new_parent);
        Ok(())
    }

    /// Renaming a byte file made through the mount onto `NAME.npy`, `NAME.json`
    /// or an existing dataset applies its bytes there (as if written there)
    /// and removes it. Returns None when the rename is an ordinary move.
    fn rename_bytes_into(
        &self,
        parent: Ino,
        name: &[u8],
        src: &Node,
        new_parent: Ino,
        new_name: &[u8],
    ) -> Result<Option<()>> {
        let src_ino = self.entry(parent, name)?.ino;
        let ds = self.dataset(src_ino, src)?;
        let read_all = || -> Result<Vec<u8>> {
            let n = ds.meta.npoints();
            self.h5
                .read_elements(&ds.loc, 0, n)
                .map_err(|e| io(&src.path, e))
        };
        let stage_from = |target: Target, bytes: &[u8]| -> Result<Staging> {
            let mut s = Staging::new(target, bytes).map_err(|e| Error::Io(e.to_string()))?;
            s.dirty = true;
            Ok(s)
        };
        let target_entry = self.entry(new_parent, new_name).ok();
        let target_node = target_entry
            .as_ref()
            .map(|e| self.node(e.ino))
            .transpose()?;
        let done = match target_node.as_deref().map(|n| &n.kind) {
            Some(NodeKind::Sidecar { dataset }) => {
                self.apply_sidecar(*dataset, &read_all()?)?;
                true
            }
            Some(NodeKind::Dataset) => {
                let t = target_node.clone().ok_or(Error::NotFound)?;
                let t_ino = target_entry.as_ref().map(|e| e.ino).unwrap_or(0);
                let tds = self.dataset(t_ino, &t)?;
                let bytes = read_all()?;
                match Representation::of(&tds.meta.ty) {
                    Representation::Text(_) => {
                        self.apply_text(t_ino, &t, &tds, &bytes)?;
                        true
                    }
                    Representation::Raw => {
                        let size = tds.meta.npoints() * tds.meta.ty.size() as u64;
                        let row = row_bytes(&tds.meta);
                        let fits = bytes.len() as u64 == size
                            || (max_rows(&tds.meta).is_some()
                                && row > 0
                                && bytes.len() as u64 % row == 0);
                        if fits {
                            if bytes.len() as u64 != size {
                                self.resize_rows(t_ino, &t, &tds, bytes.len() as u64 / row)?;
                            }
                            let tds = self.dataset(t_ino, &t)?;
                            let st = stage_from(Target::ReplaceRaw { ino: t_ino }, &bytes)?;
                            self.copy_in(&t, &tds, &st, 0)?;
                            self.changed(t_ino);
                            true
                        } else {
                            false
                        }
                    }
                    Representation::Unavailable => false,
                }
            }
            None => {
                if let Some(base) = new_name.strip_suffix(b".npy").filter(|b| !b.is_empty()) {
                    let st = stage_from(
                        Target::NewNpy {
                            parent: new_parent,
                            name: base.to_vec(),
                            file_name: new_name.to_vec(),
                            ino: 0,
                        },
                        &read_all()?,
                    )?;
                    self.apply_npy(new_parent, base, &st)?;
                    true
                } else if let Some(base) = new_name
                    .strip_suffix(SIDECAR_SUFFIX)
                    .filter(|b| !b.is_empty())
                {
                    let free = match self.entry(new_parent, base) {
                        Ok(e) => self.is_created_raw_ino(e.ino),
                        Err(_) => true,
                    };
                    if free {
                        self.apply_new_sidecar(new_parent, base, &read_all()?)?;
                        true
                    } else {
                        false
                    }
                } else {
                    false
                }
            }
            _ => false,
        };
        if !done {
            return Ok(None);
        }
        self.delete(parent, name, src)?;
        Ok(Some(()))
    }

    fn rename_pending(
        &self,
        ino: Ino,
        parent: Ino,
        name: &[u8],
        new_parent: Ino,
        new_name: &[u8],
    ) -> Result<()> {
        let s = lock(&self.handles.staging)
            .get(&ino)
            .cloned()
            .ok_or(Error::NotFound)?;
        let to_dir = self.group_node(new_parent)?;
        let mut st = lock(&s);
        let npy = new_name
            .strip_suffix(b".npy")
            .filter(|b| !b.is_empty())
            .map(|b| (b.to_vec(), true));
        let json = new_name
            .strip_suffix(SIDECAR_SUFFIX)
            .filter(|b| !b.is_empty())
            .map(|b| (b.to_vec(), false));
        let Some((base, is_npy)) = npy.or(json) else {
            return Err(Error::NotPermitted(format!(
                "{}: a file being written as .npy or sidecar keeps its suffix",
                show(&join(&to_dir.path, new_name))
            )));
        };
        self.tree.remove_pending(parent, name);
        let new_ino = self
            .tree
            .add_pending(new_parent, new_name, join(&to_dir.path, new_name));
        st.target = if is_npy {
            Target::NewNpy {
                parent: new_parent,
                name: base,
                file_name: new_name.to_vec(),
                ino: new_ino,
            }
        } else {
            Target::NewSidecar {
                parent: new_parent,
                name: base,
                file_name: new_name.to_vec(),
                ino: new_ino,
            }
        };
        drop(st);
        let mut map = lock(&self.handles.staging);
        map.remove(&ino);
        map.insert(new_ino, s);
        Ok(())
    }

    pub fn link(&self, ino: Ino, new_parent: Ino, new_name: &[u8]) -> Result<Attr> {
        self.writable()?;
        let dir = self.group_node(new_parent)?;
        super::check_name(new_name)?;
        let node = self.node(ino)?;
        if !matches!(
            node.kind,
            NodeKind::Dataset | NodeKind::Group | NodeKind::Datatype
        ) || node.file != 0
        {
            return Err(Error::NotPermitted(
                "only objects of the mounted file can be hard-linked".into(),
            ));
        }
        if self.lookup(new_parent, new_name).is_ok() {
            return Err(Error::Exists);
        }
        let _w = lock(&self.handles.write_lock);
        let path = join(&dir.path, new_name);
        self.h5
            .hard_link(&node.loc(), &path)
            .map_err(|e| io(&path, e))?;
        self.changed_dir(new_parent);
        self.lookup(new_parent, new_name)
    }

    /// symlink: a soft link to the same place inside the file.
    pub fn symlink(&self, parent: Ino, name: &[u8], target: &[u8]) -> Result<Attr> {
        self.writable()?;
        let dir = self.group_node(parent)?;
        super::check_name(name)?;
        if self.lookup(parent, name).is_ok() {
            return Err(Error::Exists);
        }
        let value = soft_link_value(&dir.path, target).ok_or_else(|| {
            Error::NotPermitted(format!(
                "{}: symlink target {} leaves the mount",
                show(&join(&dir.path, name)),
                show(target)
            ))
        })?;
        let _w = lock(&self.handles.write_lock);
        let path = join(&dir.path, name);
        self.h5.soft_link(&value, &path).map_err(|e| io(&path, e))?;
        self.changed_dir(parent);
        self.lookup(parent, name)
    }

    fn attr_node(&self, ino: Ino) -> Result<Arc<Node>> {
        let node = self.node(ino)?;
        if !matches!(
            node.kind,
            NodeKind::Dataset | NodeKind::Group | NodeKind::Datatype
        ) {
            return Err(Error::NotPermitted(
                "only groups, datasets and datatypes have attributes".into(),
            ));
        }
        if node.file != 0 {
            return Err(Error::NotPermitted(format!(
                "{} is in an external file",
                show(&node.path)
            )));
        }
        Ok(node)
    }

    /// setxattr: create or modify attribute `user.NAME`.
    pub fn setxattr(
        &self,
        ino: Ino,
        name: &[u8],
        value: &[u8],
        create_only: bool,
        replace_only: bool,
    ) -> Result<()> {
        self.writable()?;
        let attr_name = super::user_attr_name(name).ok_or(Error::NotSupported)??;
        let node = self.attr_node(ino)?;
        let loc = node.loc();
        let _w = lock(&self.handles.write_lock);
        let exists = self.has_attr(&node, attr_name)?;
        if exists && create_only {
            return Err(Error::Exists);
        }
        if !exists && replace_only {
            return Err(Error::NoAttr);
        }
        let invalid = |m: String| {
            Error::Invalid(format!(
                "{} attribute {}: {m}",
                show(&node.path),
                show(attr_name)
            ))
        };
        if exists {
            let current = self
                .h5
                .read_attr(&loc, attr_name)
                .map_err(|e| io(&node.path, e))?;
            let values =
                parse_attr_text(&current.ty, current.shape.as_deref(), value).map_err(invalid)?;
            if current.shape.is_some() {
                let data = element_data(&current.ty, &values).map_err(invalid)?;
                self.h5
                    .write_attr(&loc, attr_name, &current.ty, data)
                    .map_err(|e| io(&node.path, e))?;
            }
        } else {
            let (ty, shape, values) = infer_new_attr(value);
            let data = element_data(&ty, &values).map_err(invalid)?;
            self.h5
                .create_attr(&loc, attr_name, &ty, &shape, data)
                .map_err(|e| io(&node.path, e))?;
        }
        self.changed(ino);
        Ok(())
    }

    pub fn removexattr(&self, ino: Ino, name: &[u8]) -> Result<()> {
        self.writable()?;
        let attr_name = super::user_attr_name(name).ok_or(Error::NotSupported)??;
        let node = self.attr_node(ino)?;
        let _w = lock(&self.handles.write_lock);
        if !self.has_attr(&node, attr_name)? {
            return Err(Error::NoAttr);
        }
        self.h5
            .delete_attr(&node.loc(), attr_name)
            .map_err(|e| io(&node.path, e))?;
        self.changed(ino);
        Ok(())
    }
}

/// The spec of a dataset made from a plain file: growable 1-D bytes.
fn bytes_spec() -> CreateSpec {
    CreateSpec {
        ty: TypeDesc::Int {
            size: 1,
            signed: false,
            order: crate::model::ByteOrder::None,
        },
        shape: Some(vec![0]),
        maxshape: vec![None],
        chunks: Some(vec![BYTE_CHUNK]),
        gzip: None,
        lzf: false,
        shuffle: false,
        fill: None,
    }
}

/// gzip level, lzf, shuffle of a dataset's filter pipeline.
fn filters_of(meta: &DatasetMeta) -> (Option<u32>, bool, bool) {
    let gzip = meta
        .filters
        .iter()
        .find(|f| f.id == 1)
        .map(|f| f.params.first().copied().unwrap_or(4));
    let lzf = meta.filters.iter().any(|f| f.id == 32000);
    let shuffle = meta.filters.iter().any(|f| f.id == 2);
    (gzip, lzf, shuffle)
}

/// A new dataset from a sidecar spec (dtype and shape required).
fn spec_to_create(spec: &SidecarSpec) -> Result<CreateSpec, String> {
    let ty = spec
        .dtype
        .clone()
        .ok_or("a new dataset's sidecar needs \"dtype\"")?;
    let mut shape = spec
        .shape
        .clone()
        .ok_or("a new dataset's sidecar needs \"shape\"")?;
    let mut maxshape = spec
        .maxshape
        .clone()
        .unwrap_or_else(|| shape.iter().map(|d| Some(*d)).collect());
    // A sidecar shows an array type's dimensions at the end of shape and maxshape.
    if let TypeDesc::Array { base, dims } = &ty {
        let n = crate::encode::dtype::flatten_array(base, dims).1.len();
        shape.truncate(shape.len().saturating_sub(n));
        maxshape.truncate(maxshape.len().saturating_sub(n));
    }
    if maxshape.len() != shape.len() {
        return Err("maxshape and shape differ in rank".into());
    }
    let gzip = match spec.compression {
        Some(Compression::Gzip(l)) => Some(l),
        _ => None,
    };
    let lzf = matches!(spec.compression, Some(Compression::Lzf));
    let shuffle = spec.shuffle.unwrap_or(false);
    let growable = maxshape
        .iter()
        .zip(&shape)
        .any(|(m, s)| m.is_none_or(|m| m > *s));
    let chunks = match &spec.chunks {
        Some(c) => Some(c.clone()),
        None if !shape.is_empty() && (growable || gzip.is_some() || lzf || shuffle) => {
            // A chunk may not exceed a fixed maximum extent.
            let auto = auto_chunks(&shape, ty.size() as u64);
            Some(
                auto.iter()
                    .zip(&maxshape)
                    .map(|(c, m)| m.map_or(*c, |m| (*c).min(m.max(1))))
                    .collect(),
            )
        }
        None => None,
    };
    if chunks.is_none() && (growable || gzip.is_some() || lzf || shuffle) {
        return Err("a growable or compressed dataset needs a shape of rank 1 or more".into());
    }
    let fill = match &spec.fillvalue {
        Some(v) if !v.is_null() => {
            let values = values_from_json(&ty, &[], v)?;
            Some(encode_values(&ty, &values)?)
        }
        _ => None,
    };
    Ok(CreateSpec {
        ty,
        shape: Some(shape),
        maxshape,
        chunks,
        gzip,
        lzf,
        shuffle,
        fill,
    })
}

/// The HDF5 soft-link value for a symlink `target` made in group `dir`: the
/// absolute path it points at, or None if it leaves the mount.
pub fn soft_link_value(dir: &[u8], target: &[u8]) -> Option<Vec<u8>> {
    if target.starts_with(b"/") || target.is_empty() {
        return None;
    }
    let mut parts: Vec<&[u8]> = dir
        .split(|b| *b == b'/')
        .filter(|c| !c.is_empty())
        .collect();
    for c in target.split(|b| *b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => {
                parts.pop()?;
            }
            other => parts.push(other),
        }
    }
    let mut out = Vec::new();
    for p in parts {
        out.push(b'/');
        out.extend_from_slice(p);
    }
    if out.is_empty() {
        out.push(b'/');
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlink_targets_stay_inside() {
        assert_eq!(soft_link_value(b"/g", b"x"), Some(b"/g/x".to_vec()));
        assert_eq!(
            soft_link_value(b"/g/h", b"../x/./y"),
            Some(b"/g/x/y".to_vec())
        );
        assert_eq!(soft_link_value(b"/g", b".."), Some(b"/".to_vec()));
        assert_eq!(soft_link_value(b"/g", b"../.."), None);
        assert_eq!(soft_link_value(b"/", b"/etc/passwd"), None);
        assert_eq!(soft_link_value(b"/", b""), None);
    }

    #[test]
    fn chunks_for_new_datasets() {
        assert_eq!(auto_chunks(&[3], 8), vec![8192]);
        assert_eq!(auto_chunks(&[1_000_000], 8), vec![131072]);
        assert_eq!(auto_chunks(&[10, 1000], 8), vec![16, 1000]);
        assert_eq!(auto_chunks(&[5, 1 << 20], 8), vec![1, 1 << 20]);
        assert_eq!(auto_chunks(&[0, 4], 4), vec![4096, 4]);
    }
}
