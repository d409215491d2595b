//! Fast reads that bypass libhdf5's data path where that gives the same bytes.
//!
//! When a dataset's memory type equals its file type (no conversion), its
//! bytes are the stored bytes:
//! - contiguous storage: one `pread` at the dataset's address;
//! - chunked storage whose filters we can undo (none, deflate, shuffle):
//!   chunks are located through libhdf5 (a short call under its lock), read
//!   with `pread`, decoded outside the lock in parallel, and cached.
//!
//! Everything else (conversions, other filters, compact, virtual or external
//! storage) goes through `H5Dread`. Only read-only mounts use this: on a
//! writable one libhdf5 may hold changes not yet on disk.

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use rayon::prelude::*;

use hdf5_sys::h5::{haddr_t, hsize_t, HADDR_UNDEF};
use hdf5_sys::h5d::H5Dget_chunk_info_by_coord;

use super::filters::{decode, Step};
use super::handle::{locked, ErrorKind, H5Error, Result};
use super::hyperslab::{chunks_of_block, copy_chunk_into_block, element_range_to_blocks};
use super::object::Dataset;

/// How a dataset's bytes can be read directly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FastLayout {
    /// Stored contiguously at this offset in the file (`H5Dget_offset`
    /// includes any user block; chunk addresses do not, and get `base` added).
    Contiguous { addr: u64 },
    /// Stored in chunks of this shape, with these decodable filter steps, and
    /// this fill value (one element) for chunks never written.
    Chunked {
        chunk: Vec<u64>,
        steps: Vec<Step>,
        fill: Vec<u8>,
    },
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A number that identifies one open dataset in the chunk cache.
pub fn next_dataset_id() -> u64 {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

type ChunkKey = (u64, Vec<u64>);

/// Decoded chunks, most recently used kept, within a byte budget.
pub struct ChunkCache {
    budget: usize,
    inner: Mutex<CacheInner>,
}

#[derive(Default)]
struct CacheInner {
    map: HashMap<ChunkKey, Arc<Vec<u8>>>,
    order: VecDeque<ChunkKey>,
    bytes: usize,
}

impl ChunkCache {
    pub fn new(budget: usize) -> ChunkCache {
        ChunkCache {
            budget,
            inner: Mutex::new(CacheInner::default()),
        }
    }

    fn get(&self, key: &ChunkKey) -> Option<Arc<Vec<u8>>> {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .map
            .get(key)
            .cloned()
    }

    fn put(&self, key: ChunkKey, data: Arc<Vec<u8>>) {
        if data.len() > self.budget {
            return;
        }
        let mut c = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if c.map.contains_key(&key) {
            return;
        }
        c.bytes += data.len();
        c.order.push_back(key.clone());
        c.map.insert(key, data);
        while c.bytes > self.budget {
            let Some(old) = c.order.pop_front() else {
                break;
            };
            if let Some(d) = c.map.remove(&old) {
                c.bytes -= d.len();
            }
        }
    }
}

impl Dataset {
    /// Where chunk `grid` (chunk-grid coordinates) is stored: address,
    /// stored size and skipped-filter mask; None if never written.
    fn chunk_location(&self, grid: &[u64], chunk: &[u64]) -> Result<Option<(u64, u64, u32)>> {
        let offset: Vec<hsize_t> = grid.iter().zip(chunk).map(|(g, c)| g * c).collect();
        locked(|| unsafe {
            let mut mask: u32 = 0;
            let mut addr: haddr_t = 0;
            let mut size: hsize_t = 0;
            let r = H5Dget_chunk_info_by_coord(
                self.obj.id(),
                offset.as_ptr(),
                &mut mask,
                &mut addr,
                &mut size,
            );
            if r < 0 {
                return Err(H5Error::last(&format!(
                    "{}: cannot locate chunk",
                    String::from_utf8_lossy(&self.path)
                )));
            }
            Ok((addr != HADDR_UNDEF).then_some((addr, size, mask)))
        })
    }

    /// Read elements `[first, end)` directly if the dataset allows it
    /// (see the module docs); None means "use `read_elements`".
    pub fn read_fast(
        &self,
        file: &File,
        base: u64,
        cache: &ChunkCache,
        first: u64,
        end: u64,
    ) -> Option<Result<Vec<u8>>> {
        let layout = self.fast.as_ref()?;
        let itemsize = self.meta.ty.size();
        let end = end.min(self.meta.npoints());
        if first >= end {
            return Some(Ok(Vec::new()));
        }
        let io = |e: std::io::Error| {
            H5Error::new(
                ErrorKind::Other,
                format!("{}: read failed: {e}", String::from_utf8_lossy(&self.path)),
            )
        };
        Some(match layout {
            FastLayout::Contiguous { addr } => {
                let mut buf = vec![0u8; ((end - first) as usize) * itemsize];
                file.read_exact_at(&mut buf, addr + first * itemsize as u64)
                    .map(|_| buf)
                    .map_err(io)
            }
            FastLayout::Chunked { chunk, steps, fill } => {
                self.read_chunked(file, base, cache, first, end, chunk, steps, fill)
            }
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn read_chunked(
        &self,
        file: &File,
        base: u64,
        cache: &ChunkCache,
        first: u64,
        end: u64,
        chunk: &[u64],
        steps: &[Step],
        fill: &[u8],
    ) -> Result<Vec<u8>> {
        let itemsize = self.meta.ty.size();
        let shape = self.meta.shape.clone().unwrap_or_default();
        let chunk_bytes = chunk.iter().product::<u64>() as usize * itemsize;
        let blocks = element_range_to_blocks(&shape, first, end);
        let mut needed: Vec<Vec<u64>> = Vec::new();
        for b in &blocks {
            for g in chunks_of_block(b, chunk) {
                if !needed.contains(&g) {
                    needed.push(g);
                }
            }
        }
        let load = |grid: &Vec<u64>| -> Result<(Vec<u64>, Arc<Vec<u8>>)> {
            let key = (self.uid, grid.clone());
            if let Some(d) = cache.get(&key) {
                return Ok((grid.clone(), d));
            }
            let data = match self.chunk_location(grid, chunk)? {
                None => fill.repeat(chunk_bytes / itemsize.max(1)),
                Some((addr, size, mask)) => {
                    let mut stored = vec![0u8; size as usize];
                    file.read_exact_at(&mut stored, base + addr).map_err(|e| {
                        H5Error::new(ErrorKind::Other, format!("chunk read failed: {e}"))
                    })?;
                    decode(&stored, steps, mask, chunk_bytes).map_err(|e| {
                        H5Error::new(
                            ErrorKind::Other,
                            format!(
                                "{}: chunk {grid:?}: {e}",
                                String::from_utf8_lossy(&self.path)
                            ),
                        )
                    })?
                }
            };
            let data = Arc::new(data);
            cache.put(key, data.clone());
            Ok((grid.clone(), data))
        };
        let chunks: HashMap<Vec<u64>, Arc<Vec<u8>>> = if needed.len() > 1 {
            needed.par_iter().map(load).collect::<Result<_>>()?
        } else {
            needed.iter().map(load).collect::<Result<_>>()?
        };
        let mut out = vec![0u8; ((end - first) as usize) * itemsize];
        let mut pos = 0usize;
        for b in &blocks {
            let n = b.count.iter().product::<u64>() as usize * itemsize;
            for g in chunks_of_block(b, chunk) {
                if let Some(data) = chunks.get(&g) {
                    copy_chunk_into_block(&mut out[pos..pos + n], b, data, &g, chunk, itemsize);
                }
            }
            pos += n;
        }
        Ok(out)
    }
}
