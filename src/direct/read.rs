//! A dataset's direct read plan, and reads by it.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use rayon::prelude::*;

use super::cache::ChunkCache;
use super::filters::{decode, pipeline, Step};
use super::source::ByteSource;
use crate::model::hyperslab::{chunks_of_block, copy_chunk_into_block, element_range_to_blocks};
use crate::model::{ChunkData, ChunkPlace, DatasetInfo, DirectLayout, ErrorKind, H5Error, Result};

/// Chunks smaller than this (decoded) are read by libhdf5: fetching each
/// from a worker would cost more than libhdf5's own per-chunk work.
pub const MIN_DIRECT_CHUNK: u64 = 64 << 10;

/// Chunks decoded ahead of a sequential reader, in the background.
const PREFETCH: u64 = 2;

/// Chunks located ahead of a sequential reader, in one question to the
/// worker asked in the background: a worker that must first fetch part of
/// the chunk index (from a remote file, say) then holds up no read.
const LOCATE_AHEAD: usize = 64;

/// Where a dataset's chunks come from (a libhdf5 worker).
pub trait ChunkSource: Send + Sync {
    /// The chunk at chunk-grid position `grid`, as stored.
    fn chunk(&self, grid: &[u64]) -> Result<ChunkData>;

    /// Where the chunks at `grids` are stored, None for one never written.
    fn locate(&self, grids: &[Vec<u64>]) -> Result<Vec<Option<ChunkPlace>>>;
}

/// What a direct read uses besides its plan.
pub struct DirectIo {
    pub source: Arc<dyn ByteSource>,
    pub chunks: Arc<dyn ChunkSource>,
    pub cache: Arc<ChunkCache>,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Chunks are read where they lie (not fetched from a worker) when the
/// dataset spans at most this many chunk positions: libhdf5 1.10.8 finds a
/// chunk's address by walking its whole index (about 15 ns per chunk of the
/// dataset, measured), so addresses are asked once per chunk and kept, and
/// only for datasets with few enough chunks (locating all 2,048 costs about
/// 60 ms). Unfiltered chunks of datasets with more are read by libhdf5,
/// filtered ones fetched from a worker.
pub const MAX_LOCATED_CHUNKS: u64 = 1 << 11;

/// Multi-dimensional unfiltered chunks are read whole (and cached) when no
/// larger than this; larger ones are read by libhdf5, which reads only the
/// rows asked for. One-dimensional ones are always read in place. Filtered
/// chunks larger than this are fetched from a worker, not read in place.
pub const MAX_WHOLE_CHUNK: u64 = 8 << 20;

/// Chunk positions and where they are stored (file offsets, user block
/// included), None for a chunk never written.
type Places = HashMap<Vec<u64>, Option<ChunkPlace>>;

#[derive(Debug)]
enum Kind {
    Contiguous {
        offset: u64,
    },
    /// Filtered chunks, read as stored (where they lie, if `found`, else
    /// from a worker) and decoded here.
    Chunked {
        chunk: Vec<u64>,
        steps: Vec<Step>,
        found: Option<Mutex<Places>>,
    },
    /// Unfiltered chunks, read where they lie in the file.
    Located {
        chunk: Vec<u64>,
        /// One element of the fill value, for chunks never written.
        fill: Vec<u8>,
        /// Addresses (file offsets) and sizes asked so far.
        found: Mutex<Places>,
    },
}

/// How one open dataset is read directly.
#[derive(Debug)]
pub struct Plan {
    /// Identifies this open dataset in the chunk cache.
    uid: u64,
    /// For messages.
    path: String,
    itemsize: usize,
    shape: Vec<u64>,
    /// Bytes before the HDF5 data in the file (chunk addresses count from there).
    base: u64,
    kind: Kind,
    /// A background [`Plan::locate_ahead`] is under way.
    locating: AtomicBool,
}

impl Plan {
    /// The direct plan for a dataset of a file whose HDF5 data starts at
    /// byte `base`, if it has one worth taking.
    pub fn new(info: &DatasetInfo, path: &[u8], base: u64) -> Option<Plan> {
        let meta = &info.meta;
        let itemsize = meta.ty.size();
        let shape = meta.shape.clone().filter(|s| !s.is_empty())?;
        let kind = match info.direct.as_ref()? {
            DirectLayout::Contiguous { offset } => Kind::Contiguous { offset: *offset },
            DirectLayout::Chunked { chunk, fill } => {
                let filters: Vec<(i32, Vec<u32>)> = meta
                    .filters
                    .iter()
                    .map(|f| (f.id, f.params.clone()))
                    .collect();
                let steps = pipeline(&filters, itemsize)?;
                let bytes =
                    crate::model::hyperslab::element_count(chunk)?.checked_mul(itemsize as u64)?;
                if chunk.len() != shape.len() || fill.len() != itemsize {
                    return None;
                }
                let positions = shape
                    .iter()
                    .zip(chunk)
                    .try_fold(1u64, |n, (s, c)| n.checked_mul(s.div_ceil((*c).max(1))))?;
                if bytes < MIN_DIRECT_CHUNK {
                    return None;
                }
                if steps.is_empty()
                    && positions <= MAX_LOCATED_CHUNKS
                    && (chunk.len() == 1 || bytes <= MAX_WHOLE_CHUNK)
                {
                    Kind::Located {
                        chunk: chunk.clone(),
                        fill: fill.clone(),
                        found: Mutex::new(HashMap::new()),
                    }
                } else if !steps.is_empty() {
                    Kind::Chunked {
                        chunk: chunk.clone(),
                        steps,
                        // Larger chunks come from a worker, which checks
                        // them against its memory limit.
                        found: (positions <= MAX_LOCATED_CHUNKS && bytes <= MAX_WHOLE_CHUNK)
                            .then(|| Mutex::new(HashMap::new())),
                    }
                } else {
                    return None;
                }
            }
        };
        Some(Plan {
            uid: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            path: String::from_utf8_lossy(path).into_owned(),
            itemsize,
            shape,
            base,
            kind,
            locating: AtomicBool::new(false),
        })
    }

    fn error(&self, msg: impl std::fmt::Display) -> H5Error {
        H5Error::new(ErrorKind::Other, format!("{}: {msg}", self.path))
    }

    /// Elements `[first, end)` in C order (clipped to the dataset).
    pub fn read(self: &Arc<Self>, io: &Arc<DirectIo>, first: u64, end: u64) -> Result<Vec<u8>> {
        let total = crate::model::hyperslab::element_count(&self.shape).unwrap_or(0);
        let end = end.min(total);
        if first >= end {
            return Ok(Vec::new());
        }
        match &self.kind {
            Kind::Contiguous { offset } => {
                let mut buf = Vec::new();
                let len = (end - first) as usize * self.itemsize;
                let at = offset
                    .checked_add(first * self.itemsize as u64)
                    .ok_or_else(|| self.error("offset past any file"))?;
                self.pread(io, &mut buf, len, at)?;
                Ok(buf)
            }
            Kind::Located { chunk, .. } if chunk.len() == 1 => {
                self.read_located_1d(io, chunk[0], first, end)
            }
            Kind::Chunked { chunk, .. } | Kind::Located { chunk, .. } => {
                self.read_chunked(io, chunk, first, end)
            }
        }
    }

    fn pread(&self, io: &DirectIo, out: &mut Vec<u8>, len: usize, at: u64) -> Result<()> {
        io.source
            .read_at(out, len, at)
            .map_err(|e| self.error(format!("read failed: {e}")))
    }

    /// Where the chunks at `grids` lie (file offsets), asking the worker only
    /// for those not asked before; None if never written.
    fn located(&self, io: &DirectIo, grids: &[Vec<u64>]) -> Result<Vec<Option<ChunkPlace>>> {
        let found = self
            .places()
            .ok_or_else(|| self.error("chunks not located"))?;
        let missing: Vec<Vec<u64>> = {
            let f = found.lock().unwrap_or_else(|e| e.into_inner());
            grids
                .iter()
                .filter(|g| !f.contains_key(*g))
                .cloned()
                .collect()
        };
        if !missing.is_empty() {
            let places = io.chunks.locate(&missing)?;
            if places.len() != missing.len() {
                return Err(self.error("a libhdf5 worker located the wrong number of chunks"));
            }
            let mut f = found.lock().unwrap_or_else(|e| e.into_inner());
            for (g, p) in missing.into_iter().zip(places) {
                let p = p.map(|p| ChunkPlace {
                    addr: self.base.saturating_add(p.addr),
                    ..p
                });
                f.insert(g, p);
            }
        }
        let f = found.lock().unwrap_or_else(|e| e.into_inner());
        Ok(grids.iter().map(|g| f.get(g).copied().flatten()).collect())
    }

    /// Unfiltered 1-D chunks: each chunk's part of the range is one run in
    /// the file, read straight into place.
    fn read_located_1d(
        self: &Arc<Self>,
        io: &Arc<DirectIo>,
        chunk: u64,
        first: u64,
        end: u64,
    ) -> Result<Vec<u8>> {
        let Kind::Located { fill, .. } = &self.kind else {
            return Err(self.error("chunks not located"));
        };
        let chunk = chunk.max(1);
        let itemsize = self.itemsize as u64;
        let grids: Vec<Vec<u64>> = (first / chunk..=(end - 1) / chunk)
            .map(|g| vec![g])
            .collect();
        let places = self.located(io, &grids)?;
        self.locate_ahead(io, &grids[0], &grids[grids.len() - 1]);
        let mut out = Vec::with_capacity(((end - first) * itemsize) as usize);
        // A run of the file not yet read: (offset, length). Runs of chunks
        // stored one after another are read with one pread.
        let mut run: Option<(u64, u64)> = None;
        let mut at = first;
        for (grid, place) in grids.iter().zip(places) {
            let g = grid[0];
            let stop = ((g + 1) * chunk).min(end);
            let skip = (at - g * chunk) * itemsize;
            let len = (stop - at) * itemsize;
            match place {
                // An unfiltered chunk is stored whole: the run lies inside it.
                Some(p) if skip + len <= p.size => {
                    let from = p
                        .addr
                        .checked_add(skip)
                        .ok_or_else(|| self.error(format!("chunk {g} lies past any file")))?;
                    run = match run {
                        Some((o, l)) if o.checked_add(l) == Some(from) => Some((o, l + len)),
                        Some((o, l)) => {
                            self.pread(io, &mut out, l as usize, o)?;
                            Some((from, len))
                        }
                        None => Some((from, len)),
                    };
                }
                Some(p) => {
                    return Err(self.error(format!(
                        "chunk {g} is stored in {} bytes, too few for its elements",
                        p.size
                    )))
                }
                None => {
                    if let Some((o, l)) = run.take() {
                        self.pread(io, &mut out, l as usize, o)?;
                    }
                    for _ in at..stop {
                        out.extend_from_slice(fill);
                    }
                }
            }
            at = stop;
        }
        if let Some((o, l)) = run {
            self.pread(io, &mut out, l as usize, o)?;
        }
        Ok(out)
    }

    /// One whole chunk, decoded.
    fn load_chunk(&self, io: &DirectIo, grid: &[u64]) -> Result<Vec<u8>> {
        let size = self.chunk_bytes();
        match &self.kind {
            Kind::Chunked { steps, found, .. } => {
                match self.stored_chunk(io, grid, found.is_some())? {
                    ChunkData::Stored { filter_mask, bytes } => {
                        decode(bytes, steps, filter_mask, size)
                            .map_err(|e| self.error(format!("chunk {grid:?}: {e}")))
                    }
                    ChunkData::Decoded(bytes) if bytes.len() == size => Ok(bytes),
                    ChunkData::Decoded(bytes) => Err(self.error(format!(
                        "chunk {grid:?} came as {} bytes, expected {size}",
                        bytes.len()
                    ))),
                }
            }
            Kind::Located { fill, .. } => match self.located(io, &[grid.to_vec()])?[0] {
                Some(p) if p.size == size as u64 => {
                    let mut out = Vec::new();
                    self.pread(io, &mut out, size, p.addr)?;
                    Ok(out)
                }
                Some(p) => Err(self.error(format!(
                    "chunk {grid:?} is stored in {} bytes, expected {size}",
                    p.size
                ))),
                None => Ok(fill.repeat(size / self.itemsize.max(1))),
            },
            Kind::Contiguous { .. } => Err(self.error("not chunked")),
        }
    }

    /// A filtered chunk as stored: read where it lies if `in_place` and it
    /// was written, else fetched from a worker (which gives a chunk never
    /// written as libhdf5 reads it).
    fn stored_chunk(&self, io: &DirectIo, grid: &[u64], in_place: bool) -> Result<ChunkData> {
        if in_place {
            if let Some(p) = self.located(io, &[grid.to_vec()])?[0] {
                // Deflate and shuffle never grow a chunk by more than a little.
                let most = (self.chunk_bytes() as u64).saturating_mul(2) + 4096;
                if p.size > most {
                    return Err(self.error(format!(
                        "chunk {grid:?} is stored in {} bytes, more than its filters can make",
                        p.size
                    )));
                }
                let mut bytes = Vec::new();
                self.pread(io, &mut bytes, p.size as usize, p.addr)?;
                return Ok(ChunkData::Stored {
                    filter_mask: p.filter_mask,
                    bytes,
                });
            }
        }
        io.chunks.chunk(grid)
    }

    fn chunk_bytes(&self) -> usize {
        match &self.kind {
            Kind::Chunked { chunk, .. } | Kind::Located { chunk, .. } => {
                crate::model::hyperslab::element_count(chunk).unwrap_or(0) as usize * self.itemsize
            }
            Kind::Contiguous { .. } => 0,
        }
    }

    fn read_chunked(
        self: &Arc<Self>,
        io: &Arc<DirectIo>,
        chunk: &[u64],
        first: u64,
        end: u64,
    ) -> Result<Vec<u8>> {
        let blocks = element_range_to_blocks(&self.shape, first, end);
        // Chunks in first-touched order, each once (a request may span many).
        let mut seen = HashSet::new();
        let needed: Vec<Vec<u64>> = blocks
            .iter()
            .flat_map(|b| chunks_of_block(b, chunk))
            .filter(|g| seen.insert(g.clone()))
            .collect();
        if let (Some(_), Some(last)) = (self.places(), needed.last()) {
            // One question to the worker for every chunk of the request and
            // those about to be decoded after it.
            let mut asked = needed.clone();
            asked.extend(successors(last, &self.grid_dims(), PREFETCH as usize));
            self.located(io, &asked)?;
        }
        let load = |grid: &Vec<u64>| -> Result<(Vec<u64>, Arc<Vec<u8>>)> {
            let d = io
                .cache
                .get_or_make(&(self.uid, grid.clone()), || self.load_chunk(io, grid))?;
            Ok((grid.clone(), d))
        };
        let loaded: HashMap<Vec<u64>, Arc<Vec<u8>>> = if needed.len() > 1 {
            needed.par_iter().map(load).collect::<Result<_>>()?
        } else {
            needed.iter().map(load).collect::<Result<_>>()?
        };
        if let (Some(first), Some(last)) = (needed.first(), needed.last()) {
            self.prefetch_after(last, io);
            self.locate_ahead(io, first, last);
        }
        let mut out = vec![0u8; ((end - first) as usize) * self.itemsize];
        let mut pos = 0usize;
        for b in &blocks {
            let n = b.count.iter().product::<u64>() as usize * self.itemsize;
            for g in chunks_of_block(b, chunk) {
                if let Some(data) = loaded.get(&g) {
                    copy_chunk_into_block(
                        &mut out[pos..pos + n],
                        b,
                        data,
                        &g,
                        chunk,
                        self.itemsize,
                    );
                }
            }
            pos += n;
        }
        Ok(out)
    }

    /// Decode the chunks after `last` (in C order over the chunk grid) in
    /// the background, for a reader going on sequentially.
    fn prefetch_after(self: &Arc<Self>, last: &[u64], io: &Arc<DirectIo>) {
        for next in successors(last, &self.grid_dims(), PREFETCH as usize) {
            let key = (self.uid, next);
            if io.cache.known(&key) {
                continue;
            }
            let (plan, io) = (self.clone(), io.clone());
            rayon::spawn(move || {
                let grid = key.1.clone();
                let _ = io.cache.get_or_make(&key, || plan.load_chunk(&io, &grid));
            });
        }
    }

    /// Where chunks were located, for plans that locate them.
    fn places(&self) -> Option<&Mutex<Places>> {
        match &self.kind {
            Kind::Located { found, .. }
            | Kind::Chunked {
                found: Some(found), ..
            } => Some(found),
            _ => None,
        }
    }

    /// Chunk positions along each dimension.
    fn grid_dims(&self) -> Vec<u64> {
        let chunk = match &self.kind {
            Kind::Chunked { chunk, .. } | Kind::Located { chunk, .. } => chunk,
            Kind::Contiguous { .. } => return Vec::new(),
        };
        self.shape
            .iter()
            .zip(chunk)
            .map(|(s, c)| s.div_ceil((*c).max(1)))
            .collect()
    }

    /// For a reader that came to the chunks `first..=last` of a read from
    /// the chunk before them (it is located), locate the next
    /// [`LOCATE_AHEAD`] chunks in one question, in the background, once
    /// fewer than half of them are: a random reader starts nothing.
    fn locate_ahead(self: &Arc<Self>, io: &Arc<DirectIo>, first: &[u64], last: &[u64]) {
        let Some(found) = self.places() else {
            return;
        };
        let dims = self.grid_dims();
        let ahead = successors(last, &dims, LOCATE_AHEAD);
        let wanted: Vec<Vec<u64>> = {
            let f = found.lock().unwrap_or_else(|e| e.into_inner());
            let from_behind = predecessor(first, &dims).is_some_and(|p| f.contains_key(&p));
            let short = ahead
                .get(LOCATE_AHEAD / 2)
                .or(ahead.last())
                .is_some_and(|g| !f.contains_key(g));
            if !from_behind || !short {
                return;
            }
            ahead.into_iter().filter(|g| !f.contains_key(g)).collect()
        };
        if self.locating.swap(true, Ordering::AcqRel) {
            return;
        }
        let (plan, io2) = (self.clone(), io.clone());
        let started = std::thread::Builder::new()
            .name("h5fs-locate".into())
            .spawn(move || {
                // Ends the turn however the thread ends.
                struct Done<'a>(&'a AtomicBool);
                impl Drop for Done<'_> {
                    fn drop(&mut self) {
                        self.0.store(false, Ordering::Release);
                    }
                }
                let _done = Done(&plan.locating);
                // A failure here is met again, and reported, by the read.
                let _ = plan.located(&io2, &wanted);
            });
        if started.is_err() {
            self.locating.store(false, Ordering::Release);
        }
    }
}

/// Up to `n` chunk positions after `grid`, in C order over a grid of
/// `dims` positions per dimension.
fn successors(grid: &[u64], dims: &[u64], n: usize) -> Vec<Vec<u64>> {
    let mut next = grid.to_vec();
    let mut out = Vec::with_capacity(n);
    'outer: while out.len() < n {
        let mut d = next.len();
        loop {
            if d == 0 || dims.len() != next.len() {
                break 'outer;
            }
            d -= 1;
            next[d] += 1;
            if next[d] < dims[d] {
                break;
            }
            next[d] = 0;
        }
        out.push(next.clone());
    }
    out
}

/// The chunk position before `grid` in C order, None for the first.
fn predecessor(grid: &[u64], dims: &[u64]) -> Option<Vec<u64>> {
    let mut prev = grid.to_vec();
    for d in (0..prev.len()).rev() {
        if prev[d] > 0 {
            prev[d] -= 1;
            return Some(prev);
        }
        prev[d] = dims.get(d)?.checked_sub(1)?;
    }
    None
}

#[cfg(test)]
#[path = "read_tests.rs"]
mod tests;
