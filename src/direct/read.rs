//! A dataset's direct read plan, and reads by it.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rayon::prelude::*;

use super::cache::ChunkCache;
use super::filters::{decode, pipeline, Step};
use super::source::ByteSource;
use crate::model::hyperslab::{chunks_of_block, copy_chunk_into_block, element_range_to_blocks};
use crate::model::{ChunkData, DatasetInfo, DirectLayout, ErrorKind, H5Error, Result};

/// Chunks smaller than this (decoded) are read by libhdf5: fetching each
/// from a worker would cost more than libhdf5's own per-chunk work.
pub const MIN_DIRECT_CHUNK: u64 = 64 << 10;

/// Chunks decoded ahead of a sequential reader, in the background.
const PREFETCH: u64 = 2;

/// Where a dataset's stored chunks come from (a libhdf5 worker).
pub trait ChunkSource: Send + Sync {
    /// The chunk at chunk-grid position `grid`.
    fn chunk(&self, grid: &[u64]) -> Result<ChunkData>;
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

#[derive(Debug)]
enum Kind {
    Contiguous { offset: u64 },
    Chunked { chunk: Vec<u64>, steps: Vec<Step> },
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
    kind: Kind,
}

impl Plan {
    /// The direct plan for a dataset, if it has one worth taking.
    pub fn new(info: &DatasetInfo, path: &[u8]) -> Option<Plan> {
        let meta = &info.meta;
        let itemsize = meta.ty.size();
        let shape = meta.shape.clone().filter(|s| !s.is_empty())?;
        let kind = match info.direct.as_ref()? {
            DirectLayout::Contiguous { offset } => Kind::Contiguous { offset: *offset },
            DirectLayout::Chunked { chunk } => {
                let filters: Vec<(i32, Vec<u32>)> = meta
                    .filters
                    .iter()
                    .map(|f| (f.id, f.params.clone()))
                    .collect();
                let steps = pipeline(&filters, itemsize)?;
                let bytes =
                    crate::model::hyperslab::element_count(chunk)?.checked_mul(itemsize as u64)?;
                if steps.is_empty() || bytes < MIN_DIRECT_CHUNK || chunk.len() != shape.len() {
                    return None;
                }
                Kind::Chunked {
                    chunk: chunk.clone(),
                    steps,
                }
            }
        };
        Some(Plan {
            uid: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            path: String::from_utf8_lossy(path).into_owned(),
            itemsize,
            shape,
            kind,
        })
    }

    fn error(&self, msg: impl std::fmt::Display) -> H5Error {
        H5Error::new(ErrorKind::Other, format!("{}: {msg}", self.path))
    }

    /// Elements `[first, end)` in C order (clipped to the dataset).
    pub fn read(
        self: &Arc<Self>,
        source: &Arc<dyn ByteSource>,
        chunks: &Arc<dyn ChunkSource>,
        cache: &Arc<ChunkCache>,
        first: u64,
        end: u64,
    ) -> Result<Vec<u8>> {
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
                source
                    .read_at(&mut buf, len, at)
                    .map_err(|e| self.error(format!("read failed: {e}")))?;
                Ok(buf)
            }
            Kind::Chunked { chunk, .. } => self.read_chunked(chunks, cache, chunk, first, end),
        }
    }

    /// One whole chunk, decoded.
    fn load_chunk(&self, chunks: &dyn ChunkSource, grid: &[u64]) -> Result<Vec<u8>> {
        let Kind::Chunked { chunk, steps, .. } = &self.kind else {
            return Err(self.error("not chunked"));
        };
        let size =
            crate::model::hyperslab::element_count(chunk).unwrap_or(0) as usize * self.itemsize;
        match chunks.chunk(grid)? {
            ChunkData::Stored { filter_mask, bytes } => decode(bytes, steps, filter_mask, size)
                .map_err(|e| self.error(format!("chunk {grid:?}: {e}"))),
            ChunkData::Decoded(bytes) if bytes.len() == size => Ok(bytes),
            ChunkData::Decoded(bytes) => Err(self.error(format!(
                "chunk {grid:?} came as {} bytes, expected {size}",
                bytes.len()
            ))),
        }
    }

    fn read_chunked(
        self: &Arc<Self>,
        chunks: &Arc<dyn ChunkSource>,
        cache: &Arc<ChunkCache>,
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
        let load = |grid: &Vec<u64>| -> Result<(Vec<u64>, Arc<Vec<u8>>)> {
            let d = cache.get_or_make(&(self.uid, grid.clone()), || {
                self.load_chunk(chunks.as_ref(), grid)
            })?;
            Ok((grid.clone(), d))
        };
        let loaded: HashMap<Vec<u64>, Arc<Vec<u8>>> = if needed.len() > 1 {
            needed.par_iter().map(load).collect::<Result<_>>()?
        } else {
            needed.iter().map(load).collect::<Result<_>>()?
        };
        if let Some(last) = needed.last() {
            self.prefetch_after(last, chunk, chunks, cache);
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
    fn prefetch_after(
        self: &Arc<Self>,
        last: &[u64],
        chunk: &[u64],
        chunks: &Arc<dyn ChunkSource>,
        cache: &Arc<ChunkCache>,
    ) {
        let grid_dims: Vec<u64> = self
            .shape
            .iter()
            .zip(chunk)
            .map(|(s, c)| s.div_ceil((*c).max(1)))
            .collect();
        let mut next = last.to_vec();
        for _ in 0..PREFETCH {
            // C-order successor on the chunk grid.
            let mut d = next.len();
            loop {
                if d == 0 {
                    return;
                }
                d -= 1;
                next[d] += 1;
                if next[d] < grid_dims[d] {
                    break;
                }
                next[d] = 0;
            }
            let key = (self.uid, next.clone());
            if cache.known(&key) {
                continue;
            }
            let (plan, chunks, cache) = (self.clone(), chunks.clone(), cache.clone());
            rayon::spawn(move || {
                let grid = key.1.clone();
                let _ = cache.get_or_make(&key, || plan.load_chunk(chunks.as_ref(), &grid));
            });
        }
    }
}
