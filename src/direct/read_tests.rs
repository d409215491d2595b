//! Direct reads of unfiltered chunks, against a file in memory.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use super::*;
use crate::direct::{ByteSource, ChunkCache};
use crate::model::{ByteOrder, DatasetMeta, Filter, Layout, TypeDesc, Value};

/// A file in memory that counts the reads made of it.
struct Bytes {
    data: Vec<u8>,
    reads: AtomicUsize,
}

impl ByteSource for Bytes {
    fn read_at(&self, out: &mut Vec<u8>, len: usize, offset: u64) -> std::io::Result<()> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        let at = offset as usize;
        let piece = self
            .data
            .get(at..at + len)
            .ok_or(std::io::ErrorKind::UnexpectedEof)?;
        out.extend_from_slice(piece);
        Ok(())
    }

    fn size(&self) -> std::io::Result<u64> {
        Ok(self.data.len() as u64)
    }
}

/// Chunk places (address, stored size) by grid position, counting the
/// positions asked for; chunks fetched from it come as all 8s.
struct Places {
    places: HashMap<Vec<u64>, (u64, u64)>,
    asked: AtomicUsize,
    fetched: AtomicUsize,
}

impl ChunkSource for Places {
    fn chunk(&self, _grid: &[u64]) -> Result<ChunkData> {
        self.fetched.fetch_add(1, Ordering::Relaxed);
        Ok(ChunkData::Decoded(vec![8; C as usize]))
    }

    fn locate(&self, grids: &[Vec<u64>]) -> Result<Vec<Option<ChunkPlace>>> {
        self.asked.fetch_add(grids.len(), Ordering::Relaxed);
        Ok(grids
            .iter()
            .map(|g| {
                self.places.get(g).map(|&(addr, size)| ChunkPlace {
                    addr,
                    size,
                    filter_mask: 0,
                })
            })
            .collect())
    }
}

/// A u8 dataset of `shape` in `chunk`s through `filters`, fill value 9.
fn u8_info(shape: &[u64], chunk: &[u64], filters: Vec<Filter>) -> DatasetInfo {
    DatasetInfo {
        meta: DatasetMeta {
            ty: TypeDesc::Int {
                size: 1,
                signed: false,
                order: ByteOrder::Little,
            },
            shape: Some(shape.to_vec()),
            maxshape: Some(shape.iter().map(|s| Some(*s)).collect()),
            layout: Layout::Chunked,
            chunks: Some(chunk.to_vec()),
            filters,
            fill: Value::Int(9),
            sources: Vec::new(),
        },
        direct: Some(DirectLayout::Chunked {
            chunk: chunk.to_vec(),
            fill: vec![9],
        }),
    }
}

fn deflate() -> Filter {
    Filter {
        id: 1,
        name: "deflate".into(),
        params: vec![4],
        available: true,
    }
}

/// A u8 dataset of `shape` in `chunk`s with fill value 9, whose chunks lie
/// at `places` (address counted from a user block of `base` bytes).
fn setup(
    shape: &[u64],
    chunk: &[u64],
    data: Vec<u8>,
    places: &[(Vec<u64>, (u64, u64))],
    base: u64,
) -> (Arc<Plan>, Arc<DirectIo>, Arc<Bytes>, Arc<Places>) {
    setup_with(shape, chunk, data, places, base, Vec::new())
}

fn setup_with(
    shape: &[u64],
    chunk: &[u64],
    data: Vec<u8>,
    places: &[(Vec<u64>, (u64, u64))],
    base: u64,
    filters: Vec<Filter>,
) -> (Arc<Plan>, Arc<DirectIo>, Arc<Bytes>, Arc<Places>) {
    let info = u8_info(shape, chunk, filters);
    let plan = Arc::new(Plan::new(&info, b"/d", base).expect("a located plan"));
    assert!(
        matches!(
            plan.kind,
            Kind::Located { .. } | Kind::Chunked { found: Some(_), .. }
        ),
        "{plan:?}"
    );
    let bytes = Arc::new(Bytes {
        data,
        reads: AtomicUsize::new(0),
    });
    let chunks = Arc::new(Places {
        places: places.iter().cloned().collect(),
        asked: AtomicUsize::new(0),
        fetched: AtomicUsize::new(0),
    });
    let io = Arc::new(DirectIo {
        source: bytes.clone(),
        chunks: chunks.clone(),
        cache: Arc::new(ChunkCache::new(64 << 20)),
    });
    (plan, io, bytes, chunks)
}

const C: u64 = MIN_DIRECT_CHUNK;

#[test]
fn one_dimensional_chunks_are_read_in_place_and_adjacent_ones_together() {
    // Chunk 0 at 100, chunk 1 right after it, chunk 2 elsewhere, chunk 3
    // never written; a user block of 50 bytes before all addresses.
    let mut data = vec![0u8; (6 * C) as usize];
    let fillc = |d: &mut Vec<u8>, at: u64, v: u8| {
        d[at as usize..(at + C) as usize].fill(v);
    };
    fillc(&mut data, 150, 1);
    fillc(&mut data, 150 + C, 2);
    fillc(&mut data, 50 + 4 * C, 3);
    let places = [
        (vec![0], (100, C)),
        (vec![1], (100 + C, C)),
        (vec![2], (4 * C, C)),
    ];
    let (plan, io, bytes, chunks) = setup(&[4 * C - 7], &[C], data, &places, 50);
    let got = plan.read(&io, 5, 4 * C).unwrap();
    let mut want = Vec::new();
    for v in [1u8, 2, 3, 9] {
        want.extend(std::iter::repeat_n(v, C as usize));
    }
    assert_eq!(got, want[5..(4 * C - 7) as usize]);
    // Chunks 0 and 1 in one read, chunk 2 in another.
    assert_eq!(bytes.reads.load(Ordering::Relaxed), 2);
    assert_eq!(chunks.asked.load(Ordering::Relaxed), 4);
    // Places are asked once per chunk.
    let got = plan.read(&io, C - 1, C + 1).unwrap();
    assert_eq!(got, [1, 2]);
    assert_eq!(chunks.asked.load(Ordering::Relaxed), 4);
}

#[test]
fn a_chunk_stored_too_short_is_an_error_not_a_short_read() {
    let data = vec![1u8; (2 * C) as usize];
    let (plan, io, _, _) = setup(&[C], &[C], data, &[(vec![0], (0, C - 1))], 0);
    let err = plan.read(&io, 0, C).unwrap_err();
    assert!(err.to_string().contains("too few"), "{err}");
}

#[test]
fn a_chunk_past_the_end_of_the_file_is_an_error() {
    let data = vec![1u8; C as usize];
    let (plan, io, _, _) = setup(&[C], &[C], data, &[(vec![0], (C, C))], 0);
    assert!(plan.read(&io, 0, 10).is_err());
}

#[test]
fn multi_dimensional_chunks_are_read_whole_with_fill_for_missing_ones() {
    // A 2-D dataset of 2x2 chunks of (C/256, 256); the last one never written;
    // edge chunks partial.
    let (rows, cols) = (C / 256, 256u64);
    let shape = [2 * rows - 3, 2 * cols - 5];
    let mut data = Vec::new();
    let mut places = Vec::new();
    for (i, grid) in [[0u64, 0], [0, 1], [1, 0]].iter().enumerate() {
        places.push((grid.to_vec(), (data.len() as u64, C)));
        // Element (r, c) of the chunk holds (i * 50 + r + c) % 251.
        for r in 0..rows {
            for c in 0..cols {
                data.push(((i as u64 * 50 + r + c) % 251) as u8);
            }
        }
    }
    let (plan, io, _, _) = setup(&shape, &[rows, cols], data, &places, 0);
    let total = shape[0] * shape[1];
    let got = plan.read(&io, 0, total).unwrap();
    assert_eq!(got.len() as u64, total);
    for r in 0..shape[0] {
        for c in 0..shape[1] {
            let (gr, gc) = (r / rows, c / cols);
            let want = match (gr, gc) {
                (1, 1) => 9,
                _ => {
                    let i = gr * 2 + gc;
                    ((i * 50 + r % rows + c % cols) % 251) as u8
                }
            };
            assert_eq!(got[(r * shape[1] + c) as usize], want, "({r}, {c})");
        }
    }
}

#[test]
fn small_or_many_unfiltered_chunks_are_left_to_libhdf5() {
    let info = |shape: u64, chunk: u64| u8_info(&[shape], &[chunk], Vec::new());
    assert!(Plan::new(&info(1000, 10), b"/d", 0).is_none());
    assert!(Plan::new(&info(C * (MAX_LOCATED_CHUNKS + 1), C), b"/d", 0).is_none());
    assert!(Plan::new(&info(C * MAX_LOCATED_CHUNKS, C), b"/d", 0).is_some());
}

#[test]
fn deflated_chunks_are_read_in_place_and_missing_ones_fetched() {
    // Two chunks of C bytes: chunk 0 deflated after a user block of 10
    // bytes, chunk 1 never written (the worker gives it: all 8s).
    let plain: Vec<u8> = (0..C).map(|i| (i % 7) as u8).collect();
    let mut c = libdeflater::Compressor::new(libdeflater::CompressionLvl::new(4).unwrap());
    let mut packed = vec![0u8; c.zlib_compress_bound(plain.len())];
    let n = c.zlib_compress(&plain, &mut packed).unwrap();
    packed.truncate(n);
    let mut data = vec![0u8; 10];
    data.extend_from_slice(&packed);
    let places = [(vec![0], (0, n as u64))];
    let (plan, io, bytes, chunks) = setup_with(&[2 * C], &[C], data, &places, 10, vec![deflate()]);
    let got = plan.read(&io, 0, 2 * C).unwrap();
    assert_eq!(&got[..C as usize], &plain[..]);
    assert!(got[C as usize..].iter().all(|b| *b == 8));
    assert_eq!(bytes.reads.load(Ordering::Relaxed), 1);
    assert_eq!(chunks.fetched.load(Ordering::Relaxed), 1);
}

#[test]
fn large_or_many_filtered_chunks_come_from_a_worker() {
    let plan = |shape: u64, chunk: u64| {
        Plan::new(&u8_info(&[shape], &[chunk], vec![deflate()]), b"/d", 0).expect("a direct plan")
    };
    let in_place = |p: &Plan| matches!(p.kind, Kind::Chunked { found: Some(_), .. });
    assert!(in_place(&plan(C * MAX_LOCATED_CHUNKS, C)));
    assert!(!in_place(&plan(C * (MAX_LOCATED_CHUNKS + 1), C)));
    assert!(in_place(&plan(MAX_WHOLE_CHUNK, MAX_WHOLE_CHUNK)));
    assert!(!in_place(&plan(MAX_WHOLE_CHUNK + 1, MAX_WHOLE_CHUNK + 1)));
}

#[test]
fn chunk_positions_step_in_c_order() {
    let dims = [2, 3];
    assert_eq!(
        successors(&[0, 1], &dims, 3),
        vec![vec![0, 2], vec![1, 0], vec![1, 1]]
    );
    assert_eq!(successors(&[1, 1], &dims, 5), vec![vec![1, 2]]);
    assert!(successors(&[1, 2], &dims, 5).is_empty());
    assert_eq!(predecessor(&[1, 0], &dims), Some(vec![0, 2]));
    assert_eq!(predecessor(&[0, 1], &dims), Some(vec![0, 0]));
    assert_eq!(predecessor(&[0, 0], &dims), None);
}

/// Wait for a background [`Plan::locate_ahead`] to end.
fn settled(plan: &Plan) {
    for _ in 0..500 {
        if !plan.locating.load(Ordering::Acquire) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("locating ahead never ended");
}

#[test]
fn a_sequential_reader_has_chunks_located_ahead_and_a_random_one_not() {
    let n = 3 * LOCATE_AHEAD as u64;
    let data: Vec<u8> = (0..n * C).map(|i| (i % 251) as u8).collect();
    let places: Vec<(Vec<u64>, (u64, u64))> = (0..n).map(|g| (vec![g], (g * C, C))).collect();
    let is_known = |plan: &Plan, g: u64| {
        let f = plan.places().unwrap().lock().unwrap();
        f.contains_key(&vec![g])
    };

    let (plan, io, _, chunks) = setup(&[n * C], &[C], data.clone(), &places, 0);
    for g in 0..3 {
        let got = plan.read(&io, g * C, (g + 1) * C).unwrap();
        assert_eq!(got, data[(g * C) as usize..((g + 1) * C) as usize]);
        settled(&plan);
    }
    // Coming from chunk 0, the read of chunk 1 located the next ones.
    assert!(is_known(&plan, 1 + LOCATE_AHEAD as u64));
    assert!(!is_known(&plan, 2 + LOCATE_AHEAD as u64));
    assert_eq!(chunks.asked.load(Ordering::Relaxed), 2 + LOCATE_AHEAD);

    let (plan, io, _, chunks) = setup(&[n * C], &[C], data, &places, 0);
    for g in [100, 7, 150] {
        plan.read(&io, g * C, g * C + 10).unwrap();
        settled(&plan);
    }
    assert_eq!(chunks.asked.load(Ordering::Relaxed), 3);
    assert!(!is_known(&plan, 101));
}
