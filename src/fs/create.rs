//! New and replaced datasets on `-o rw` mounts: files created through the
//! mount, and staged bytes applied at close (docs/SEMANTICS.md §10.5-10.8).
//!
//! Whatever replaces an existing dataset (a fixed-size dataset rewritten
//! whole, a text view rewritten, a byte file retyped by its sidecar, a byte
//! file renamed onto a dataset, a `.npy` over a dataset) is built aside, as a
//! new dataset under a temporary name in the same group, and put in place in
//! one step only when complete ([`crate::h5::H5File::replace_link`]); if
//! anything fails before, the temporary dataset is removed and the old one is
//! untouched. New datasets from `.npy` streams are built aside the same way,
//! so a failed copy never leaves a half-written dataset under the name.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use log::info;

use super::error::{io, show};
use super::handles::Handle;
use super::limits::check_extent;
use super::read::{OpenDataset, MAX_TEXT_ELEMENTS};
use super::shape::{element_data, extent_error, max_rows, row_bytes, with_rows};
use super::stage::{Applied, Staging, Target};
use super::{join, lock, Attr, Error, Fs, Result};
use crate::encode::bytes::encode_values;
use crate::encode::dtype::type_from_descr;
use crate::encode::json::values_from_json;
use crate::encode::npy::{parse_header, NpyError};
use crate::encode::sidecar::{parse_sidecar_spec, Compression, Representation, SidecarSpec};
use crate::encode::text::{parse_text_view, TextFormat};
use crate::model::{
    filter_id, CreateSpec, DatasetMeta, ErrorKind, H5Error, Loc, TypeDesc, VirtualSource,
};
use crate::tree::names::{split_suffix, Suffix};
use crate::tree::{Ino, Node, NodeKind};

/// Chunk size aimed at for new growable datasets.
const CHUNK_TARGET: u64 = 1 << 20;
/// Chunk size of datasets made from plain files (bytes).
const BYTE_CHUNK: u64 = 64 << 10;
/// Largest piece copied into a dataset at once.
const COPY_PIECE: u64 = 8 << 20;
/// Largest text view rewritten: it is parsed whole in memory.
pub const MAX_TEXT_REWRITE: u64 = 256 << 20;
/// Largest sidecar read (to create, retype or resize a dataset).
pub(super) const MAX_SIDECAR: u64 = 16 << 20;

static NEXT_TEMP: AtomicU64 = AtomicU64::new(1);

/// The bytes a dataset is made from.
pub(super) enum Source<'a> {
    /// Given whole.
    Bytes(&'a [u8]),
    /// Staged in a temporary file.
    Staged(&'a Staging),
    /// A byte dataset of the file (a byte file renamed), `len` bytes.
    Dataset {
        loc: &'a Loc,
        path: &'a [u8],
        len: u64,
    },
}

impl Source<'_> {
    fn len(&self) -> u64 {
        match self {
            Source::Bytes(b) => b.len() as u64,
            Source::Staged(st) => st.len(),
            Source::Dataset { len, .. } => *len,
        }
    }

    /// Bytes `[at, at + n)` (fewer at the end).
    fn read(&self, fs: &Fs, at: u64, n: u64) -> Result<Vec<u8>> {
        match self {
            Source::Bytes(b) => {
                let start = (at as usize).min(b.len());
                let end = start.saturating_add(n as usize).min(b.len());
                Ok(b[start..end].to_vec())
            }
            Source::Staged(st) => st
                .read_at(at, n as usize)
                .map_err(|e| Error::Io(format!("staging file: {e}"))),
            Source::Dataset { loc, path, len } => {
                let end = at.saturating_add(n).min(*len);
                fs.file
                    .h5
                    .read_elements(loc, at, end)
                    .map_err(|e| io(path, e))
            }
        }
    }

    /// All the bytes, refused over `limit` (they are parsed whole).
    pub(super) fn whole(&self, fs: &Fs, limit: u64, what: &str, path: &[u8]) -> Result<Vec<u8>> {
        if self.len() > limit {
            return Err(Error::TooBig(format!(
                "{}: {} bytes for {what}, which is read whole; at most {limit}",
                show(path),
                self.len()
            )));
        }
        self.read(fs, 0, self.len())
    }

    /// Copy bytes `[from, len)` into dataset `to` from its first byte, in
    /// whole elements of `itemsize` bytes.
    fn copy_into(&self, fs: &Fs, to: &Loc, itemsize: u64, from: u64) -> Result<()> {
        let piece = (COPY_PIECE / itemsize.max(1)).max(1) * itemsize.max(1);
        let mut pos = from;
        while pos < self.len() {
            let n = piece.min(self.len() - pos);
            match self {
                Source::Bytes(_) | Source::Staged(_) => {
                    let bytes = self.read(fs, pos, n)?;
                    fs.file
                        .h5
                        .write_elements(to, (pos - from) / itemsize.max(1), &bytes)
                        .map_err(|e| io(&to.path, e))?;
                }
                // Byte to byte inside the worker: nothing comes here.
                Source::Dataset { loc, .. } => fs
                    .file
                    .h5
                    .copy_bytes(loc, pos, to, pos - from, n)
                    .map_err(|e| io(&to.path, e))?,
            }
            pos += n;
        }
        Ok(())
    }
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
        sources: Vec::new(),
    }
}

/// gzip level, lzf, shuffle of a dataset's filter pipeline.
fn filters_of(meta: &DatasetMeta) -> (Option<u32>, bool, bool) {
    let has = |id| meta.filters.iter().find(|f| f.id == id);
    let gzip = has(filter_id::DEFLATE).map(|f| f.params.first().copied().unwrap_or(4));
    (
        gzip,
        has(filter_id::LZF).is_some(),
        has(filter_id::SHUFFLE).is_some(),
    )
}

/// Check that a new dataset's shape and chunks are within the limits.
fn check_new(path: &[u8], spec: &CreateSpec) -> Result<()> {
    if let Some(shape) = &spec.shape {
        check_extent(shape, spec.ty.size() as u64, spec.chunks.as_deref())
            .map_err(|e| extent_error(path, e))?;
    }
    Ok(())
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
    let sources = spec.sources.clone().unwrap_or_default();
    if !sources.is_empty() {
        check_virtual(spec, &shape, &sources)?;
    }
    let chunks = match &spec.chunks {
        _ if !sources.is_empty() => None,
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
    if chunks.is_none() && sources.is_empty() && (growable || gzip.is_some() || lzf || shuffle) {
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
        sources,
    })
}

/// A virtual dataset has no chunks or filters of its own, and each mapping's
/// selections must fit the spaces they select in.
fn check_virtual(
    spec: &SidecarSpec,
    shape: &[u64],
    sources: &[VirtualSource],
) -> Result<(), String> {
    if spec.chunks.is_some() {
        return Err("a virtual dataset cannot be chunked".into());
    }
    let filtered = !matches!(spec.compression, None | Some(Compression::None));
    if filtered || spec.shuffle == Some(true) {
        return Err("a virtual dataset cannot be compressed or shuffled".into());
    }
    for (i, src) in sources.iter().enumerate() {
        src.select
            .slab(shape)
            .map_err(|e| format!("sources[{i}]: select: {e}"))?;
        if let Some(src_shape) = &src.source_shape {
            src.source_select
                .slab(src_shape)
                .map_err(|e| format!("sources[{i}]: source_select: {e}"))?;
        }
    }
    Ok(())
}

impl Fs {
    /// Create a new file `name` in `parent` and open it for writing.
    pub(super) fn create_file(&self, parent: Ino, name: &[u8]) -> Result<(Attr, u64)> {
        self.writable()?;
        let dir = self.group_node(parent)?;
        super::check_name(name)?;
        self.tree.remove_ghost(parent, name);
        if self.find(parent, name).is_ok() {
            return Err(Error::Exists);
        }
        let path = join(&dir.path, name);
        let _w = lock(&self.handles.write_lock);
        // NAME.npy is a dataset from a .npy stream; NAME.json for a NAME not
        // in the group describes a new dataset, and for a byte file made
        // through the mount gives it its type.
        let pending = split_suffix(name).filter(|(suffix, base)| match suffix {
            Suffix::Npy => true,
            Suffix::Sidecar => match self.entry(parent, base) {
                Ok(e) => self.is_created_raw_ino(e.ino),
                Err(_) => true,
            },
        });
        if let Some((from, base)) = pending {
            let ino = self.tree.add_pending(parent, name, path);
            let target = Target::New {
                from,
                parent,
                name: base.to_vec(),
                file_name: name.to_vec(),
                ino,
            };
            let staging = self.new_staging(target, &[])?;
            lock(&self.handles.staging).insert(ino, staging.clone());
            let fh = self.handles.add(Handle::Stager { ino, staging });
            return Ok((self.attr(ino)?, fh));
        }
        // Any other file becomes bytes: a growable 1-D uint8 dataset.
        let h5 = self.h5(&dir);
        h5.create_dataset(&path, &bytes_spec())
            .map_err(|e| io(&path, e))?;
        info!("{}: created as a byte dataset", show(&path));
        let info = h5.info_in(&dir.loc(), name).map_err(|e| io(&path, e))?;
        lock(&self.created_raw).insert((info.file, info.addr));
        self.changed_dir(parent);
        let entry = self.entry(parent, name)?;
        let fh = self.handles.add(Handle::Writer { ino: entry.ino });
        Ok((self.attr(entry.ino)?, fh))
    }

    /// Apply staged bytes to their target, once per change. A file being
    /// created leaves the listing once a close applies it, whether that
    /// made the dataset or failed (the kernel's release comes later).
    pub(super) fn apply(&self, s: &Arc<Mutex<Staging>>, when: Applied) -> Result<()> {
        let _w = lock(&self.handles.write_lock);
        let mut st = lock(s);
        if !st.dirty {
            return Ok(());
        }
        st.dirty = false;
        let result = self.apply_target(&st);
        if result.is_err() {
            // Every later close and fsync reports it too, until new bytes come.
            st.dirty = true;
        }
        if let Target::New {
            parent,
            file_name,
            ino,
            ..
        } = &st.target
        {
            if result.is_ok() || when == Applied::AtClose {
                self.tree.remove_pending_ino(*parent, file_name, *ino);
            }
        }
        result
    }

    fn apply_target(&self, st: &Staging) -> Result<()> {
        match st.target.clone() {
            Target::ReplaceRaw { ino } => self.apply_replace(ino, st),
            Target::RewriteText { ino } => self.apply_text(ino, &Source::Staged(st)),
            Target::RewriteSidecar { dataset } => {
                let node = self.node(dataset)?;
                let bytes = Source::Staged(st).whole(self, MAX_SIDECAR, "a sidecar", &node.path)?;
                self.apply_sidecar(dataset, &bytes)
            }
            Target::New {
                from: Suffix::Npy,
                parent,
                name,
                ..
            } => self.apply_npy(parent, &name, &Source::Staged(st)),
            Target::New {
                from: Suffix::Sidecar,
                parent,
                name,
                ..
            } => self.apply_new_sidecar(parent, &name, &Source::Staged(st)),
        }
    }

    /// A temporary path in the group at `dir` for a dataset being built.
    fn temp_path(dir: &[u8]) -> Vec<u8> {
        let n = NEXT_TEMP.fetch_add(1, Ordering::Relaxed);
        join(
            dir,
            format!(".h5fs-new-{}-{n}", std::process::id()).as_bytes(),
        )
    }

    /// Build a dataset aside with `make` (given the temporary path; it
    /// creates the dataset there and fills it), then put it in the place of
    /// `old` (a dataset reached at `path`) or, with no `old`, at `path`.
    /// On any failure the temporary dataset is removed and nothing changes.
    fn build_aside(
        &self,
        path: &[u8],
        old: Option<(Ino, &Node)>,
        make: impl FnOnce(&Loc) -> Result<()>,
    ) -> Result<()> {
        let dir = path
            .rsplit_once_byte(b'/')
            .map(|(d, _)| if d.is_empty() { &b"/"[..] } else { d })
            .unwrap_or(b"/");
        let tmp = Loc::path(&Self::temp_path(dir));
        let h5 = &self.file.h5;
        let placed = make(&tmp).and_then(|()| match old {
            Some((ino, node)) => {
                let last = h5
                    .info_at(&node.loc())
                    .map(|i| i.links <= 1)
                    .unwrap_or(false);
                h5.replace_link(path, &tmp.path).map_err(|e| io(path, e))?;
                if last {
                    self.tree.forget_object((node.file, node.addr));
                }
                self.tree.forget_listings_with(ino);
                Ok(())
            }
            None => h5.move_link(&tmp.path, path).map_err(|e| io(path, e)),
        });
        if placed.is_err() {
            // Best effort: the temporary dataset may not even exist.
            let _ = h5.delete_link(&tmp.path);
        }
        self.caches().clear();
        placed
    }

    /// A fixed-size dataset rewritten whole (opened with `O_TRUNC`).
    fn apply_replace(&self, ino: Ino, st: &Staging) -> Result<()> {
        let node = self.node(ino)?;
        let ds = self.dataset(ino, &node)?;
        let size = ds.meta.byte_len();
        if st.len() != size {
            return Err(Error::Invalid(format!(
                "{}: {} bytes written but the dataset holds {size} and cannot change size; it keeps its previous contents",
                show(&node.path),
                st.len()
            )));
        }
        let itemsize = ds.meta.ty.size() as u64;
        self.build_aside(&node.path, Some((ino, &node)), |tmp| {
            self.file
                .h5
                .create_like(&ds.loc, &tmp.path, None)
                .map_err(|e| io(&node.path, e))?;
            Source::Staged(st).copy_into(self, tmp, itemsize, 0)
        })
    }

    /// A text view rewritten whole: its lines become the elements (axis 0
    /// resized to fit), in a replacement built aside.
    pub(super) fn apply_text(&self, ino: Ino, src: &Source) -> Result<()> {
        let node = self.node(ino)?;
        let ds = self.dataset(ino, &node)?;
        let Representation::Text(format) = Representation::of(&ds.meta.ty) else {
            return Err(Error::Invalid("not a text dataset".into()));
        };
        let bytes = src.whole(self, MAX_TEXT_REWRITE, "a text view", &node.path)?;
        let invalid = |m: String| Error::Invalid(format!("{}: {m}", show(&node.path)));
        let values = parse_text_view(format, &ds.meta.ty, &bytes).map_err(invalid)?;
        drop(bytes);
        let n = values.len() as u64;
        if n > MAX_TEXT_ELEMENTS {
            return Err(Error::TooBig(format!(
                "{}: {n} lines, more than a text view may hold ({MAX_TEXT_ELEMENTS})",
                show(&node.path)
            )));
        }
        let data = element_data(&ds.meta.ty, &values).map_err(invalid)?;
        drop(values);
        let shape = if n == ds.meta.npoints() {
            None
        } else {
            let shape = ds.meta.shape.clone().unwrap_or_default();
            let row: u64 = shape.iter().skip(1).product();
            if shape.is_empty() || row == 0 || n % row != 0 {
                return Err(invalid(format!(
                    "{n} lines do not fill whole rows of shape {shape:?}"
                )));
            }
            with_rows(&node, &ds.meta, n / row)?
        };
        self.build_aside(&node.path, Some((ino, &node)), |tmp| {
            let h5 = &self.file.h5;
            h5.create_like(&ds.loc, &tmp.path, shape.as_deref())
                .map_err(|e| io(&node.path, e))?;
            h5.write_all(tmp, data).map_err(|e| io(&node.path, e))
        })?;
        if format == TextFormat::Lines {
            info!("{}: rewrote {n} strings", show(&node.path));
        }
        Ok(())
    }

    /// A rewritten sidecar may change the shape (a resize); anything else
    /// HDF5 cannot change in place is refused.
    pub(super) fn apply_sidecar(&self, dataset: Ino, bytes: &[u8]) -> Result<()> {
        let node = self.node(dataset)?;
        let ds = self.dataset(dataset, &node)?;
        let invalid = |m: String| Error::Invalid(format!("{}.json: {m}", show(&node.path)));
        let spec = parse_sidecar_spec(bytes).map_err(invalid)?;
        let meta = &ds.meta;
        let (elem_ty, elem_dims) = match &meta.ty {
            TypeDesc::Array { base, dims } => {
                let (t, d) = crate::encode::dtype::flatten_array(base, dims);
                (t.clone(), d.iter().map(|d| *d as u64).collect())
            }
            t => (t.clone(), Vec::new()),
        };
        if let Some(t) = &spec.dtype {
            if crate::encode::dtype::descr(t) != crate::encode::dtype::descr(&elem_ty) {
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
            if *fv != crate::encode::json::value_to_json(&meta.fill) && !fv.is_null() {
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
        if shape.len() != current.len() || meta.layout != crate::model::Layout::Chunked {
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
        // One resize: it happens whole or not at all.
        self.h5(&node)
            .set_extent(&ds.loc, &shape)
            .map_err(|e| io(&node.path, e))?;
        self.changed(dataset);
        Ok(())
    }

    /// The dataset `name` of `parent`, if it is one that may be replaced
    /// (EEXIST for another kind of object).
    fn replaceable(&self, parent: Ino, name: &[u8]) -> Result<Option<(Ino, Arc<Node>)>> {
        let Ok(old) = self.entry(parent, name) else {
            return Ok(None);
        };
        let node = self.node(old.ino)?;
        if node.kind != NodeKind::Dataset {
            return Err(Error::Exists);
        }
        Ok(Some((old.ino, node)))
    }

    /// Dataset `name` of `parent` from a `.npy` stream (replacing a dataset
    /// of that name).
    pub(super) fn apply_npy(&self, parent: Ino, name: &[u8], src: &Source) -> Result<()> {
        let dir = self.group_node(parent)?;
        let path = join(&dir.path, name);
        let invalid = |m: String| Error::Invalid(format!("{}.npy: {m}", show(&path)));
        let mut want = 4096u64;
        let header = loop {
            let head = src.read(self, 0, want)?;
            match parse_header(&head) {
                Ok(h) => break h,
                Err(NpyError::Incomplete)
                    if (head.len() as u64) < src.len() && want < (1 << 24) =>
                {
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
        if src.len() != header.data_offset as u64 + data_len {
            return Err(invalid(format!(
                "{} data bytes for shape {:?} of {}-byte elements, expected {data_len}",
                src.len().saturating_sub(header.data_offset as u64),
                header.shape,
                itemsize
            )));
        }
        let mut spec = CreateSpec {
            ty,
            shape: Some(header.shape.clone()),
            maxshape: header.shape.iter().map(|d| Some(*d)).collect(),
            chunks: None,
            gzip: None,
            lzf: false,
            shuffle: false,
            fill: None,
            sources: Vec::new(),
        };
        if !header.shape.is_empty() {
            // Rank 1 and up: chunked, growable along axis 0.
            spec.maxshape[0] = None;
            spec.chunks = Some(auto_chunks(&header.shape, itemsize));
        }
        check_new(&path, &spec)?;
        let old = self.replaceable(parent, name)?;
        self.build_aside(&path, old.as_ref().map(|(i, n)| (*i, &**n)), |tmp| {
            self.file
                .h5
                .create_dataset(&tmp.path, &spec)
                .map_err(|e| io(&path, e))?;
            src.copy_into(self, tmp, itemsize, header.data_offset as u64)
        })?;
        self.changed_dir(parent);
        info!(
            "{}: created from a .npy stream, shape {:?}",
            show(&path),
            header.shape
        );
        Ok(())
    }

    /// Dataset `name` of `parent` from a new sidecar, or the byte file
    /// `name` made through the mount retyped by it.
    pub(super) fn apply_new_sidecar(&self, parent: Ino, name: &[u8], src: &Source) -> Result<()> {
        let dir = self.group_node(parent)?;
        let path = join(&dir.path, name);
        let bytes = src.whole(self, MAX_SIDECAR, "a sidecar", &path)?;
        let invalid = |m: String| Error::Invalid(format!("{}.json: {m}", show(&path)));
        let spec = parse_sidecar_spec(&bytes).map_err(invalid)?;
        let create = spec_to_create(&spec).map_err(invalid)?;
        check_new(&path, &create)?;
        let h5 = self.h5(&dir);
        let refused = |e: H5Error| match e.kind {
            ErrorKind::Invalid => invalid(e.msg),
            _ => io(&path, e),
        };
        let Ok(existing) = self.entry(parent, name) else {
            h5.create_dataset(&path, &create).map_err(refused)?;
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
        let want = create
            .shape
            .as_ref()
            .map_or(0, |s| s.iter().product::<u64>())
            * create.ty.size() as u64;
        let have = ds.meta.byte_len();
        if have != want {
            return Err(invalid(format!(
                "{} holds {have} bytes, the sidecar's shape and dtype need {want}",
                show(name)
            )));
        }
        let bytes_of = Source::Dataset {
            loc: &ds.loc,
            path: &node.path,
            len: have,
        };
        let itemsize = create.ty.size() as u64;
        self.build_aside(&path, Some((existing.ino, &node)), |tmp| {
            h5.create_dataset(&tmp.path, &create).map_err(refused)?;
            // Attributes set on the byte file (cp -a copies them before the
            // sidecar) stay.
            h5.copy_attrs(&ds.loc, tmp).map_err(|e| io(&path, e))?;
            if !create.sources.is_empty() {
                // A virtual dataset's elements are its sources'.
                return Ok(());
            }
            bytes_of.copy_into(self, tmp, itemsize, 0)
        })?;
        self.changed_dir(parent);
        info!("{}: retyped by its sidecar", show(&path));
        Ok(())
    }

    /// A raw dataset's bytes replaced by `src`'s, if they fit (its size, or
    /// whole rows of a resizable dataset); false if they do not.
    pub(super) fn replace_raw_from(
        &self,
        ino: Ino,
        node: &Node,
        ds: &OpenDataset,
        src: &Source,
    ) -> Result<bool> {
        let len = src.len();
        let row = row_bytes(&ds.meta);
        let shape = if len == ds.meta.byte_len() {
            None
        } else if row > 0 && len % row == 0 && max_rows(&ds.meta).is_some() {
            with_rows(node, &ds.meta, len / row)?
        } else {
            return Ok(false);
        };
        let itemsize = ds.meta.ty.size() as u64;
        self.build_aside(&node.path, Some((ino, node)), |tmp| {
            self.file
                .h5
                .create_like(&ds.loc, &tmp.path, shape.as_deref())
                .map_err(|e| io(&node.path, e))?;
            src.copy_into(self, tmp, itemsize, 0)
        })?;
        Ok(true)
    }
}

/// `rsplit_once` for byte strings.
trait SplitByte {
    fn rsplit_once_byte(&self, b: u8) -> Option<(&[u8], &[u8])>;
}

impl SplitByte for [u8] {
    fn rsplit_once_byte(&self, b: u8) -> Option<(&[u8], &[u8])> {
        let i = self.iter().rposition(|c| *c == b)?;
        Some((&self[..i], &self[i + 1..]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_for_new_datasets() {
        assert_eq!(auto_chunks(&[3], 8), vec![8192]);
        assert_eq!(auto_chunks(&[1_000_000], 8), vec![131072]);
        assert_eq!(auto_chunks(&[10, 1000], 8), vec![16, 1000]);
        assert_eq!(auto_chunks(&[5, 1 << 20], 8), vec![1, 1 << 20]);
        assert_eq!(auto_chunks(&[0, 4], 4), vec![4096, 4]);
    }
}
