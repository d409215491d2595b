//! Chunk bytes in a Zarr array's codecs, for the chunks that are not stored
//! that way: a chunk a filter skipped (its filter mask), a chunk never
//! written of an array whose absent chunks are served (§13 of SEMANTICS).
//!
//! [`encode`] applies the array's filters in order, then its compressor:
//! shuffle (HDF5's and numcodecs' byte transpose), zlib (by libdeflate),
//! and for blosc and zstd, whose encoders h5fs does not carry, frames that
//! hold the bytes uncompressed, which their decoders read as they are:
//! a blosc frame flagged "memcpyed" (16-byte header, then the bytes) and a
//! zstd frame of raw blocks (at most 128 KiB each) with the content size.

use super::zarr::{Codec, Pipeline};

/// `raw` (a chunk's bytes as h5py has them) encoded by `p`.
pub fn encode(raw: Vec<u8>, p: &Pipeline) -> Result<Vec<u8>, String> {
    let mut data = raw;
    for codec in p.filters.iter().chain(p.compressor.as_ref()) {
        data = match codec {
            Codec::Shuffle { elementsize } => shuffle(&data, *elementsize as usize),
            Codec::Zlib { level } => zlib(&data, *level)?,
            Codec::Blosc { .. } => blosc_stored(&data)?,
            Codec::Zstd { .. } => zstd_stored(&data),
        };
    }
    Ok(data)
}

/// Byte j of every element together, element by element; a tail shorter
/// than an element stays as it is.
pub fn shuffle(data: &[u8], elem: usize) -> Vec<u8> {
    if elem <= 1 || data.len() < elem {
        return data.to_vec();
    }
    let n = data.len() / elem;
    let mut out = data.to_vec();
    for (i, e) in data[..n * elem].chunks_exact(elem).enumerate() {
        for (j, b) in e.iter().enumerate() {
            out[j * n + i] = *b;
        }
    }
    out
}

fn zlib(data: &[u8], level: u32) -> Result<Vec<u8>, String> {
    let lvl = libdeflater::CompressionLvl::new(level.min(9) as i32)
        .map_err(|e| format!("zlib level {level}: {e:?}"))?;
    let mut c = libdeflater::Compressor::new(lvl);
    let mut out = vec![0u8; c.zlib_compress_bound(data.len())];
    let n = c
        .zlib_compress(data, &mut out)
        .map_err(|e| format!("zlib: {e:?}"))?;
    out.truncate(n);
    Ok(out)
}

/// blosc 1 frame flags: the bytes are copied, not compressed.
const BLOSC_MEMCPYED: u8 = 0x02;
const BLOSC_HEADER: usize = 16;

fn blosc_stored(data: &[u8]) -> Result<Vec<u8>, String> {
    let n = u32::try_from(data.len())
        .ok()
        .filter(|n| *n <= u32::MAX - BLOSC_HEADER as u32)
        .ok_or("chunk too large for a blosc frame")?;
    let mut out = Vec::with_capacity(data.len() + BLOSC_HEADER);
    // version 2, compressor format version 1, flags, type size 1.
    out.extend_from_slice(&[2, 1, BLOSC_MEMCPYED, 1]);
    out.extend_from_slice(&n.to_le_bytes()); // bytes decoded
    out.extend_from_slice(&n.max(1).to_le_bytes()); // block size
    out.extend_from_slice(&(n + BLOSC_HEADER as u32).to_le_bytes()); // frame size
    out.extend_from_slice(data);
    Ok(out)
}

const ZSTD_MAGIC: u32 = 0xFD2F_B528;
const ZSTD_MAX_BLOCK: usize = 128 << 10;

fn zstd_stored(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 16 + 3 * (data.len() / ZSTD_MAX_BLOCK + 1));
    out.extend_from_slice(&ZSTD_MAGIC.to_le_bytes());
    // Frame header: 8-byte content size, single segment, no checksum or dictionary.
    out.push(0xE0);
    out.extend_from_slice(&(data.len() as u64).to_le_bytes());
    let mut blocks = data.chunks(ZSTD_MAX_BLOCK).peekable();
    if blocks.peek().is_none() {
        out.extend_from_slice(&[1, 0, 0]);
    }
    while let Some(b) = blocks.next() {
        let last = u32::from(blocks.peek().is_none());
        // Block header: last flag, type 0 (raw), size.
        let head = last | (b.len() as u32) << 3;
        out.extend_from_slice(&head.to_le_bytes()[..3]);
        out.extend_from_slice(b);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unshuffle(data: &[u8], elem: usize) -> Vec<u8> {
        let n = data.len() / elem;
        let mut out = data.to_vec();
        for i in 0..n {
            for j in 0..elem {
                out[i * elem + j] = data[j * n + i];
            }
        }
        out
    }

    #[test]
    fn shuffle_is_hdf5s_transpose() {
        let data: Vec<u8> = (0..10).collect();
        assert_eq!(shuffle(&data, 4), vec![0, 4, 1, 5, 2, 6, 3, 7, 8, 9]);
        for elem in [2, 3, 4, 8, 12] {
            let data: Vec<u8> = (0..96u8).collect();
            assert_eq!(unshuffle(&shuffle(&data, elem), elem), data, "{elem}");
        }
    }

    #[test]
    fn zlib_inflates_back() {
        let data: Vec<u8> = (0..5000u32).map(|i| (i % 7) as u8).collect();
        let z = zlib(&data, 6).unwrap();
        assert_eq!(&z[..1], &[0x78]);
        let mut out = vec![0u8; data.len()];
        let n = libdeflater::Decompressor::new()
            .zlib_decompress(&z, &mut out)
            .unwrap();
        assert_eq!(&out[..n], &data[..]);
    }

    #[test]
    fn stored_frames() {
        let b = blosc_stored(b"abcd").unwrap();
        assert_eq!(b[..4], [2, 1, 2, 1]);
        assert_eq!(u32::from_le_bytes(b[4..8].try_into().unwrap()), 4);
        assert_eq!(u32::from_le_bytes(b[12..16].try_into().unwrap()), 20);
        assert_eq!(&b[16..], b"abcd");
        let z = zstd_stored(b"xyz");
        assert_eq!(z[..4], [0x28, 0xb5, 0x2f, 0xfd]);
        assert_eq!(z[4], 0xE0);
        assert_eq!(u64::from_le_bytes(z[5..13].try_into().unwrap()), 3);
        // One last raw block of 3 bytes.
        assert_eq!(z[13..16], [1 | 3 << 3, 0, 0]);
        assert_eq!(&z[16..], b"xyz");
        // Large: blocks of 128 KiB, only the last marked last.
        let big = vec![7u8; 300 << 10];
        let z = zstd_stored(&big);
        assert_eq!(z.len(), 13 + 3 * 3 + big.len());
        assert_eq!(z[13] & 1, 0);
        assert_eq!(zstd_stored(b"")[13..], [1, 0, 0]);
    }

    #[test]
    fn pipelines_apply_in_order() {
        let p = Pipeline {
            filters: vec![Codec::Shuffle { elementsize: 2 }],
            compressor: Some(Codec::Blosc {
                cname: "lz4",
                clevel: 5,
                shuffle: 1,
            }),
            strip_checksum: false,
        };
        let out = encode(vec![1, 2, 3, 4], &p).unwrap();
        assert_eq!(&out[16..], &[1, 3, 2, 4]);
    }
}
