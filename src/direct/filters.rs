//! Decoding stored chunks without libhdf5, for the filters we can undo
//! exactly: deflate (by libdeflate) and shuffle. A pipeline with any other
//! filter is read through libhdf5 instead, so the bytes are never wrong.

/// One step of a dataset's filter pipeline that h5fs decodes itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Deflate,
    /// Byte shuffle of elements of this many bytes.
    Shuffle(usize),
}

use crate::model::filter_id;

/// The decodable pipeline for filters `(id, params)` in storage order, or None.
pub fn pipeline(filters: &[(i32, Vec<u32>)], itemsize: usize) -> Option<Vec<Step>> {
    filters
        .iter()
        .map(|(id, params)| match *id {
            filter_id::DEFLATE => Some(Step::Deflate),
            filter_id::SHUFFLE => Some(Step::Shuffle(
                params.first().map_or(itemsize, |p| *p as usize).max(1),
            )),
            _ => None,
        })
        .collect()
}

/// Undo `steps` (in storage order; bit i of `skipped` set = step i was not
/// applied to this chunk) on `stored`, giving `size` bytes.
pub fn decode(
    stored: Vec<u8>,
    steps: &[Step],
    skipped: u32,
    size: usize,
) -> Result<Vec<u8>, String> {
    let mut data = stored;
    for (i, step) in steps.iter().enumerate().rev() {
        if skipped & (1 << i) != 0 {
            continue;
        }
        data = match step {
            Step::Deflate => inflate(&data, size)?,
            Step::Shuffle(n) => unshuffle(&data, *n),
        };
    }
    if data.len() < size {
        return Err(format!(
            "chunk decodes to {} bytes, expected {size}",
            data.len()
        ));
    }
    data.truncate(size);
    Ok(data)
}

/// zlib stream to exactly `size` bytes (a chunk never inflates to more).
fn inflate(data: &[u8], size: usize) -> Result<Vec<u8>, String> {
    let mut out = vec![0u8; size];
    let mut d = libdeflater::Decompressor::new();
    let n = d
        .zlib_decompress(data, &mut out)
        .map_err(|e| format!("deflate: {e:?}"))?;
    out.truncate(n);
    Ok(out)
}

/// Undo HDF5's shuffle: byte j of every element was stored together.
/// Trailing bytes that do not fill an element are kept as they are.
pub fn unshuffle(data: &[u8], elem: usize) -> Vec<u8> {
    if elem <= 1 || data.len() < elem {
        return data.to_vec();
    }
    let n = data.len() / elem;
    let mut out = vec![0u8; data.len()];
    // Gather each element from its byte planes: one sequential pass over the
    // output; the common sizes get a fixed-size inner loop.
    match elem {
        2 => gather::<2>(data, &mut out, n),
        4 => gather::<4>(data, &mut out, n),
        8 => gather::<8>(data, &mut out, n),
        _ => {
            for (i, el) in out[..n * elem].chunks_exact_mut(elem).enumerate() {
                for (j, b) in el.iter_mut().enumerate() {
                    *b = data[j * n + i];
                }
            }
        }
    }
    out[n * elem..].copy_from_slice(&data[n * elem..]);
    out
}

fn gather<const E: usize>(data: &[u8], out: &mut [u8], n: usize) {
    let planes: [&[u8]; E] = std::array::from_fn(|j| &data[j * n..(j + 1) * n]);
    for (i, el) in out[..n * E].chunks_exact_mut(E).enumerate() {
        for j in 0..E {
            el[j] = planes[j][i];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shuffle(data: &[u8], elem: usize) -> Vec<u8> {
        let n = data.len() / elem;
        let mut out = vec![0u8; data.len()];
        for i in 0..n {
            for j in 0..elem {
                out[j * n + i] = data[i * elem + j];
            }
        }
        out[n * elem..].copy_from_slice(&data[n * elem..]);
        out
    }

    fn zlib(data: &[u8]) -> Vec<u8> {
        let mut c = libdeflater::Compressor::new(libdeflater::CompressionLvl::new(4).unwrap());
        let mut out = vec![0u8; c.zlib_compress_bound(data.len())];
        let n = c.zlib_compress(data, &mut out).unwrap();
        out.truncate(n);
        out
    }

    #[test]
    fn shuffle_round_trips_with_a_tail() {
        let data: Vec<u8> = (0..103).map(|i| (i * 7) as u8).collect();
        for elem in [2, 3, 4, 8, 16] {
            assert_eq!(
                unshuffle(&shuffle(&data, elem), elem),
                data,
                "element size {elem}"
            );
        }
        assert_eq!(unshuffle(&data, 1), data);
    }

    #[test]
    fn shuffle_then_deflate_decodes() {
        let data: Vec<u8> = (0..4000u32).flat_map(|i| (i / 3).to_le_bytes()).collect();
        let stored = zlib(&shuffle(&data, 4));
        let steps = [Step::Shuffle(4), Step::Deflate];
        assert_eq!(decode(stored.clone(), &steps, 0, data.len()).unwrap(), data);
        // A chunk stored without the deflate step (bit 1 set).
        let unzipped = shuffle(&data, 4);
        assert_eq!(decode(unzipped, &steps, 0b10, data.len()).unwrap(), data);
        assert!(decode(b"not zlib".to_vec(), &steps, 0, data.len()).is_err());
    }

    #[test]
    fn only_known_filters_make_a_pipeline() {
        assert_eq!(
            pipeline(&[(2, vec![8]), (1, vec![4])], 8),
            Some(vec![Step::Shuffle(8), Step::Deflate])
        );
        assert_eq!(pipeline(&[(32008, vec![])], 4), None);
        assert_eq!(pipeline(&[(3, vec![])], 4), None);
        assert_eq!(pipeline(&[], 4), Some(vec![]));
    }
}
