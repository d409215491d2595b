//! Byte ranges of a dataset's C-order byte stream as HDF5 hyperslabs.
//!
//! A read of `len` bytes at `offset` covers whole elements `[first, end)`;
//! the partial elements at either edge are read whole and trimmed. The element
//! range is then cut into at most `2 * rank - 1` rectangular blocks whose
//! union, walked in C order, is exactly that range.

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

    #[test]
    fn empty_and_zero_sized_shapes_select_nothing() {
        assert!(element_range_to_blocks(&[0, 5], 0, 5).is_empty());
        assert!(element_range_to_blocks(&[4], 3, 3).is_empty());
    }
}
