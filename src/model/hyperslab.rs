//! Byte ranges of a dataset's C-order byte stream as HDF5 hyperslabs.
//!
//! A read of `len` bytes at `offset` covers whole elements `[first, end)`;
//! the partial elements at either edge are read whole and trimmed. The element
//! range is then cut into at most `2 * rank - 1` rectangular blocks whose
//! union, walked in C order, is exactly that range.

/// Element count of `shape`, None if it overflows.
pub fn element_count(shape: &[u64]) -> Option<u64> {
    shape.iter().try_fold(1u64, |n, d| n.checked_mul(*d))
}

/// Elements covering a byte range, and how many leading bytes of the first to skip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ElementSpan {
    pub first: u64,
    pub end: u64,
    pub skip: u64,
    /// Bytes to return (already clipped to the end of the data).
    pub len: u64,
}

/// Map `len` bytes at `offset` onto elements of `itemsize` bytes, `npoints` in all.
/// Returns None when nothing is left to read (at or past the end, or len 0).
pub fn byte_range_to_elements(
    offset: u64,
    len: u64,
    itemsize: u64,
    npoints: u64,
) -> Option<ElementSpan> {
    let total = itemsize.checked_mul(npoints)?;
    if itemsize == 0 || len == 0 || offset >= total {
        return None;
    }
    let stop = offset.saturating_add(len).min(total);
    let first = offset / itemsize;
    let end = stop.div_ceil(itemsize);
    Some(ElementSpan {
        first,
        end,
        skip: offset - first * itemsize,
        len: stop - offset,
    })
}

/// One rectangular selection: `start` and `count` per dimension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    pub start: Vec<u64>,
    pub count: Vec<u64>,
}

/// Cut the C-order element range `[first, end)` of an array of `shape` into blocks,
/// in ascending order. A scalar (empty shape) has the single element 0.
pub fn element_range_to_blocks(shape: &[u64], first: u64, end: u64) -> Vec<Block> {
    let total: u64 = shape.iter().product();
    let end = end.min(total);
    let mut out = Vec::new();
    if first < end {
        split(shape, &mut Vec::new(), first, end, &mut out);
    }
    out
}

fn split(shape: &[u64], prefix: &mut Vec<u64>, a: u64, b: u64, out: &mut Vec<Block>) {
    let Some((_, rest)) = shape.split_first() else {
        out.push(Block {
            start: prefix.clone(),
            count: vec![1; prefix.len()],
        });
        return;
    };
    let inner: u64 = rest.iter().product();
    let (r0, r1) = (a / inner, (b - 1) / inner);
    if r0 == r1 {
        prefix.push(r0);
        split(rest, prefix, a - r0 * inner, b - r0 * inner, out);
        prefix.pop();
        return;
    }
    let mut first_full = r0;
    if a % inner != 0 {
        prefix.push(r0);
        split(rest, prefix, a % inner, inner, out);
        prefix.pop();
        first_full += 1;
    }
    let end_full = b / inner;
    if end_full > first_full {
        let mut start = prefix.clone();
        start.push(first_full);
        start.extend(std::iter::repeat_n(0, rest.len()));
        let mut count = vec![1; prefix.len()];
        count.push(end_full - first_full);
        count.extend_from_slice(rest);
        out.push(Block { start, count });
    }
    if b % inner != 0 {
        prefix.push(end_full);
        split(rest, prefix, 0, b % inner, out);
        prefix.pop();
    }
}

/// The chunks (as chunk-grid coordinates) that `block` touches, in C order.
pub fn chunks_of_block(block: &Block, chunk: &[u64]) -> Vec<Vec<u64>> {
    let ranges: Vec<(u64, u64)> = (0..chunk.len())
        .map(|d| {
            let c = chunk[d].max(1);
            let lo = block.start[d] / c;
            let hi = (block.start[d] + block.count[d]).saturating_sub(1) / c;
            (lo, hi)
        })
        .collect();
    let mut out = Vec::new();
    if block.count.contains(&0) {
        return out;
    }
    let mut idx: Vec<u64> = ranges.iter().map(|r| r.0).collect();
    loop {
        out.push(idx.clone());
        let mut d = idx.len();
        loop {
            if d == 0 {
                return out;
            }
            d -= 1;
            if idx[d] < ranges[d].1 {
                idx[d] += 1;
                for (k, r) in ranges.iter().enumerate().skip(d + 1) {
                    idx[k] = r.0;
                }
                break;
            }
        }
    }
}

/// Copy the part of a whole chunk (grid position `grid`, shape `chunk`, C
/// order, `itemsize`-byte elements) that lies in `block` into `out`, which
/// holds the block's elements in C order.
pub fn copy_chunk_into_block(
    out: &mut [u8],
    block: &Block,
    data: &[u8],
    grid: &[u64],
    chunk: &[u64],
    itemsize: usize,
) {
    let rank = chunk.len();
    if rank == 0 {
        out[..itemsize].copy_from_slice(&data[..itemsize]);
        return;
    }
    let origin: Vec<u64> = (0..rank).map(|d| grid[d] * chunk[d]).collect();
    let lo: Vec<u64> = (0..rank).map(|d| block.start[d].max(origin[d])).collect();
    let hi: Vec<u64> = (0..rank)
        .map(|d| (block.start[d] + block.count[d]).min(origin[d] + chunk[d]))
        .collect();
    if (0..rank).any(|d| lo[d] >= hi[d]) {
        return;
    }
    // Strides in elements, C order.
    let mut cstride = vec![1u64; rank];
    let mut bstride = vec![1u64; rank];
    for d in (0..rank - 1).rev() {
        cstride[d] = cstride[d + 1] * chunk[d + 1];
        bstride[d] = bstride[d + 1] * block.count[d + 1];
    }
    let last = rank - 1;
    let run = ((hi[last] - lo[last]) as usize) * itemsize;
    let mut idx = lo.clone();
    loop {
        let c: u64 = (0..rank).map(|d| (idx[d] - origin[d]) * cstride[d]).sum();
        let b: u64 = (0..rank)
            .map(|d| (idx[d] - block.start[d]) * bstride[d])
            .sum();
        let (c, b) = (c as usize * itemsize, b as usize * itemsize);
        out[b..b + run].copy_from_slice(&data[c..c + run]);
        // Next index over all dimensions but the last.
        let mut d = last;
        loop {
            if d == 0 {
                return;
            }
            d -= 1;
            idx[d] += 1;
            if idx[d] < hi[d] {
                break;
            }
            idx[d] = lo[d];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Expand blocks to the C-order linear indices they select.
    fn indices(shape: &[u64], blocks: &[Block]) -> Vec<u64> {
        let mut all = Vec::new();
        for b in blocks {
            let n: u64 = b.count.iter().product();
            for k in 0..n {
                let mut rem = k;
                let mut idx = 0u64;
                let mut coords = vec![0u64; shape.len()];
                for d in (0..shape.len()).rev() {
                    coords[d] = b.start[d] + rem % b.count[d];
                    rem /= b.count[d];
                }
                for d in 0..shape.len() {
                    idx = idx * shape[d] + coords[d];
                }
                all.push(idx);
            }
        }
        all
    }

    #[test]
    fn partial_elements_at_both_edges() {
        let s = byte_range_to_elements(5, 10, 4, 100).unwrap();
        assert_eq!(
            s,
            ElementSpan {
                first: 1,
                end: 4,
                skip: 1,
                len: 10
            }
        );
    }

    #[test]
    fn ranges_past_the_end_are_clipped_or_empty() {
        assert_eq!(byte_range_to_elements(400, 10, 4, 100), None);
        assert_eq!(byte_range_to_elements(1000, 10, 4, 100), None);
        assert_eq!(byte_range_to_elements(0, 0, 4, 100), None);
        let s = byte_range_to_elements(398, 100, 4, 100).unwrap();
        assert_eq!((s.first, s.end, s.skip, s.len), (99, 100, 2, 2));
        assert_eq!(byte_range_to_elements(0, u64::MAX, 8, 3).unwrap().len, 24);
    }

    #[test]
    fn one_dimensional_is_one_block() {
        let b = element_range_to_blocks(&[100], 7, 20);
        assert_eq!(
            b,
            vec![Block {
                start: vec![7],
                count: vec![13]
            }]
        );
    }

    #[test]
    fn scalar_is_the_single_element() {
        let b = element_range_to_blocks(&[], 0, 1);
        assert_eq!(
            b,
            vec![Block {
                start: vec![],
                count: vec![]
            }]
        );
    }

    #[test]
    fn n_dimensional_ranges_select_exactly_the_range_in_order() {
        let shapes: [&[u64]; 4] = [&[4, 5], &[3, 4, 5], &[2, 3, 1, 4], &[1, 7]];
        for shape in shapes {
            let total: u64 = shape.iter().product();
            for a in 0..total {
                for b in a + 1..=total {
                    let blocks = element_range_to_blocks(shape, a, b);
                    assert!(blocks.len() < 2 * shape.len(), "{shape:?} {a}..{b}");
                    assert_eq!(
                        indices(shape, &blocks),
                        (a..b).collect::<Vec<_>>(),
                        "{shape:?} {a}..{b}"
                    );
                }
            }
        }
    }

    #[test]
    fn whole_array_is_one_block() {
        let b = element_range_to_blocks(&[3, 4, 5], 0, 60);
        assert_eq!(
            b,
            vec![Block {
                start: vec![0, 0, 0],
                count: vec![3, 4, 5]
            }]
        );
    }

    /// Assemble elements [a, b) of an array from its chunks, and compare with
    /// reading the array directly.
    #[test]
    fn chunks_assemble_any_range_of_any_shape() {
        let cases: [(&[u64], &[u64]); 4] = [
            (&[10], &[3]),
            (&[5, 7], &[2, 3]),
            (&[3, 4, 5], &[2, 4, 2]),
            (&[4, 6], &[4, 6]),
        ];
        for (shape, chunk) in cases {
            let total: u64 = shape.iter().product();
            // Element value = its linear index, 2 bytes each.
            let value = |coords: &[u64]| -> u16 {
                let mut i = 0u64;
                for d in 0..shape.len() {
                    i = i * shape[d] + coords[d];
                }
                i as u16
            };
            let chunk_data = |grid: &[u64]| -> Vec<u8> {
                let n: u64 = chunk.iter().product();
                let mut out = Vec::new();
                for k in 0..n {
                    let mut rem = k;
                    let mut coords = vec![0u64; chunk.len()];
                    for d in (0..chunk.len()).rev() {
                        coords[d] = grid[d] * chunk[d] + rem % chunk[d];
                        rem /= chunk[d];
                    }
                    // Padding of edge chunks holds junk.
                    let v = if (0..shape.len()).all(|d| coords[d] < shape[d]) {
                        value(&coords)
                    } else {
                        0xEEEE
                    };
                    out.extend_from_slice(&v.to_le_bytes());
                }
                out
            };
            for a in 0..total {
                for b in a + 1..=total {
                    let mut out = vec![0u8; ((b - a) * 2) as usize];
                    let mut base = 0usize;
                    for block in element_range_to_blocks(shape, a, b) {
                        let n = block.count.iter().product::<u64>() as usize * 2;
                        for grid in chunks_of_block(&block, chunk) {
                            copy_chunk_into_block(
                                &mut out[base..base + n],
                                &block,
                                &chunk_data(&grid),
                                &grid,
                                chunk,
                                2,
                            );
                        }
                        base += n;
                    }
                    let want: Vec<u8> = (a..b).flat_map(|i| (i as u16).to_le_bytes()).collect();
                    assert_eq!(out, want, "{shape:?} {chunk:?} {a}..{b}");
                }
            }
        }
    }

    #[test]
    fn empty_and_zero_sized_shapes_select_nothing() {
        assert!(element_range_to_blocks(&[0, 5], 0, 5).is_empty());
        assert!(element_range_to_blocks(&[4], 3, 3).is_empty());
    }
}
