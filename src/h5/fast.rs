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

use std::collections::{HashMap, HashSet, VecDeque};
use std::fs::File;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};

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

/// Append `len` bytes of `file` at `offset` to `out`, reading straight into
/// its spare capacity (no zeroing first: reads are up to 1 MiB each). A file
/// shorter than that is an `UnexpectedEof` error and leaves `out` as it was.
pub fn pread_append(
    out: &mut Vec<u8>,
    file: &File,
    len: usize,
    offset: u64,
) -> std::io::Result<()> {
    if offset
        .checked_add(len as u64)
        .is_none_or(|end| end > i64::MAX as u64)
    {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "read past the largest file offset",
        ));
    }
    let start = out.len();
    out.reserve(len);
    let mut done = 0usize;
    while done < len {
        let spare = out.spare_capacity_mut();
        let want = len - done;
        // SAFETY: the kernel writes at most `want` bytes into the spare
        // capacity reserved above (`want` <= its length); `set_len` below only
        // covers bytes it reported written.
        let n = unsafe {
            libc::pread(
                file.as_raw_fd(),
                spare.as_mut_ptr().cast(),
                want.min(spare.len()),
                (offset + done as u64) as libc::off_t,
            )
        };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            out.truncate(start);
            return Err(e);
        }
        if n == 0 {
            out.truncate(start);
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        // SAFETY: `n` bytes after the old length were just initialised.
        unsafe { out.set_len(out.len() + n as usize) };
        done += n as usize;
    }
    Ok(())
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A number that identifies one open dataset in the chunk cache.
pub fn next_dataset_id() -> u64 {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

type ChunkKey = (u64, Vec<u64>);

/// Decoded chunks, most recently used kept, within a byte budget. A chunk
/// being decoded is marked, so others wait for it instead of decoding it twice.
pub struct ChunkCache {
    budget: usize,
    inner: Mutex<CacheInner>,
    decoded: Condvar,
}

#[derive(Default)]
struct CacheInner {
    map: HashMap<ChunkKey, Arc<Vec<u8>>>,
    order: VecDeque<ChunkKey>,
    bytes: usize,
    inflight: HashSet<ChunkKey>,
}

/// Chunks decoded ahead of a sequential reader, in the background.
const PREFETCH: u64 = 2;

impl ChunkCache {
    pub fn new(budget: usize) -> ChunkCache {
        ChunkCache {
            budget,
            inner: Mutex::new(CacheInner::default()),
            decoded: Condvar::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CacheInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The chunk from the cache, else made by `make` (once, however many ask).
    fn get_or_make(
        &self,
        key: &ChunkKey,
        make: impl FnOnce() -> Result<Vec<u8>>,
    ) -> Result<Arc<Vec<u8>>> {
        let mut c = self.lock();
        loop {
            if let Some(d) = c.map.get(key) {
                return Ok(d.clone());
            }
            if !c.inflight.contains(key) {
                break;
            }
            c = self.decoded.wait(c).unwrap_or_else(|e| e.into_inner());
        }
        c.inflight.insert(key.clone());
        drop(c);
        let made = make().map(Arc::new);
        let mut c = self.lock();
        c.inflight.remove(key);
        if let Ok(d) = &made {
            self.insert(&mut c, key.clone(), d.clone());
        }
        drop(c);
        self.decoded.notify_all();
        made
    }

    /// Whether the chunk is cached or being decoded.
    fn known(&self, key: &ChunkKey) -> bool {
        let c = self.lock();
        c.map.contains_key(key) || c.inflight.contains(key)
    }

    fn insert(&self, c: &mut CacheInner, key: ChunkKey, data: Arc<Vec<u8>>) {
        if data.len() > self.budget || c.map.contains_key(&key) {
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
        self: &Arc<Self>,
        file: &Arc<File>,
        base: u64,
        cache: &Arc<ChunkCache>,
        first: u64,
        end: u64,
    ) -> Option<Result<Vec<u8>>> {
        let layout = self.fast.as_ref()?;
        let itemsize = self.meta.ty.size();
        let end = end.min(self.meta.npoints());
        if first >= end {
            return Some(Ok(Vec::new()));
        }
        Some(match layout {
            FastLayout::Contiguous { addr } => {
                let mut buf = Vec::new();
                let len = ((end - first) as usize) * itemsize;
                pread_append(&mut buf, file, len, addr + first * itemsize as u64)
                    .map(|_| buf)
                    .map_err(|e| self.io_error(e))
            }
            FastLayout::Chunked { chunk, steps, .. } => {
                if steps.is_empty() && chunk.len() == 1 {
                    self.read_unfiltered_1d(file, base, first, end, chunk[0])
                } else {
                    self.read_chunked(file, base, cache, first, end)
                }
            }
        })
    }

    fn io_error(&self, e: std::io::Error) -> H5Error {
        H5Error::new(
            ErrorKind::Other,
            format!("{}: read failed: {e}", String::from_utf8_lossy(&self.path)),
        )
    }

    fn fill(&self) -> &[u8] {
        match &self.fast {
            Some(FastLayout::Chunked { fill, .. }) => fill,
            _ => &[],
        }
    }

    /// Unfiltered 1-D chunks: each chunk's part of the range is one run in
    /// the file, read straight into place (no chunk cache needed).
    fn read_unfiltered_1d(
        &self,
        file: &File,
        base: u64,
        first: u64,
        end: u64,
        chunk: u64,
    ) -> Result<Vec<u8>> {
        let itemsize = self.meta.ty.size() as u64;
        let mut out = Vec::with_capacity(((end - first) * itemsize) as usize);
        let mut at = first;
        while at < end {
            let grid = at / chunk.max(1);
            let stop = ((grid + 1) * chunk).min(end);
            match self.chunk_location(&[grid], &[chunk])? {
                Some((addr, _, _)) => {
                    let from = base + addr + (at - grid * chunk) * itemsize;
                    pread_append(&mut out, file, ((stop - at) * itemsize) as usize, from)
                        .map_err(|e| self.io_error(e))?;
                }
                None => {
                    for _ in at..stop {
                        out.extend_from_slice(self.fill());
                    }
                }
            }
            at = stop;
        }
        Ok(out)
    }

    /// One whole chunk, decoded (the fill value if it was never written).
    fn load_chunk(&self, file: &File, base: u64, grid: &[u64]) -> Result<Vec<u8>> {
        let Some(FastLayout::Chunked { chunk, steps, fill }) = &self.fast else {
            return Err(H5Error::new(ErrorKind::Other, "not a chunked dataset"));
        };
        let itemsize = self.meta.ty.size();
        let chunk_bytes = chunk.iter().product::<u64>() as usize * itemsize;
        match self.chunk_location(grid, chunk)? {
            None => Ok(fill.repeat(chunk_bytes / itemsize.max(1))),
            Some((addr, size, mask)) => {
                // A damaged chunk index must not make us allocate beyond the file.
                let file_len = file.metadata().map_err(|e| self.io_error(e))?.len();
                let at = base
                    .checked_add(addr)
                    .filter(|a| a.checked_add(size).is_some_and(|end| end <= file_len));
                let Some(at) = at else {
                    return Err(self.io_error(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        format!(
                            "chunk {grid:?} at {addr} ({size} bytes) lies past the end of the file"
                        ),
                    )));
                };
                let mut stored = Vec::new();
                pread_append(&mut stored, file, size as usize, at).map_err(|e| self.io_error(e))?;
                decode(stored, steps, mask, chunk_bytes).map_err(|e| {
                    H5Error::new(
                        ErrorKind::Other,
                        format!(
                            "{}: chunk {grid:?}: {e}",
                            String::from_utf8_lossy(&self.path)
                        ),
                    )
                })
            }
        }
    }

    fn read_chunked(
        self: &Arc<Self>,
        file: &Arc<File>,
        base: u64,
        cache: &Arc<ChunkCache>,
        first: u64,
        end: u64,
    ) -> Result<Vec<u8>> {
        let Some(FastLayout::Chunked { chunk, .. }) = &self.fast else {
            return Err(H5Error::new(ErrorKind::Other, "not a chunked dataset"));
        };
        let itemsize = self.meta.ty.size();
        let shape = self.meta.shape.clone().unwrap_or_default();
        let blocks = element_range_to_blocks(&shape, first, end);
        // Chunks in first-touched order, each once (a request may span many).
        let mut seen = HashSet::new();
        let needed: Vec<Vec<u64>> = blocks
            .iter()
            .flat_map(|b| chunks_of_block(b, chunk))
            .filter(|g| seen.insert(g.clone()))
            .collect();
        let load = |grid: &Vec<u64>| -> Result<(Vec<u64>, Arc<Vec<u8>>)> {
            let d = cache.get_or_make(&(self.uid, grid.clone()), || {
                self.load_chunk(file, base, grid)
            })?;
            Ok((grid.clone(), d))
        };
        let chunks: HashMap<Vec<u64>, Arc<Vec<u8>>> = if needed.len() > 1 {
            needed.par_iter().map(load).collect::<Result<_>>()?
        } else {
            needed.iter().map(load).collect::<Result<_>>()?
        };
        if let Some(last) = needed.last() {
            self.prefetch_after(last, chunk, &shape, file, base, cache);
        }
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

    /// Decode the chunks after `last` (in C order over the chunk grid) in
    /// the background, for a reader going on sequentially.
    fn prefetch_after(
        self: &Arc<Self>,
        last: &[u64],
        chunk: &[u64],
        shape: &[u64],
        file: &Arc<File>,
        base: u64,
        cache: &Arc<ChunkCache>,
    ) {
        let grid_dims: Vec<u64> = shape
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
            let (ds, file, cache, grid) = (self.clone(), file.clone(), cache.clone(), next.clone());
            rayon::spawn(move || {
                let _ = cache.get_or_make(&(ds.uid, grid.clone()), || {
                    ds.load_chunk(&file, base, &grid)
                });
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn temp_file(bytes: &[u8]) -> File {
        let path = std::env::temp_dir().join(format!(
            "h5fs-pread-{}-{}",
            std::process::id(),
            next_dataset_id()
        ));
        File::create(&path).unwrap().write_all(bytes).unwrap();
        let f = File::open(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        f
    }

    #[test]
    fn pread_append_reads_at_offset_after_existing_bytes() {
        let data: Vec<u8> = (0..=255u8).cycle().take(3 << 20).collect();
        let f = temp_file(&data);
        let mut out = b"head".to_vec();
        pread_append(&mut out, &f, (2 << 20) + 3, 5).unwrap();
        assert_eq!(&out[..4], b"head");
        assert_eq!(&out[4..], &data[5..5 + (2 << 20) + 3]);
        pread_append(&mut out, &f, 0, 7).unwrap();
        assert_eq!(out.len(), 4 + (2 << 20) + 3);
        let e = pread_append(&mut out, &f, 8, u64::MAX - 4).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
    }

    #[test]
    fn pread_append_past_the_end_is_eof_and_leaves_out_alone() {
        let f = temp_file(b"0123456789");
        let mut out = b"xy".to_vec();
        let e = pread_append(&mut out, &f, 8, 4).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof);
        assert_eq!(out, b"xy");
        pread_append(&mut out, &f, 6, 4).unwrap();
        assert_eq!(out, b"xy456789");
    }
}
