//! Bounds on what one request may ask of libhdf5.
//!
//! A shape comes from a request (a write past the end, `truncate`, a `.npy`
//! header, a sidecar) and libhdf5 trusts it: a dataset grown to 2^62 bytes
//! costs nothing at once, but shrinking it later makes libhdf5 visit every
//! chunk position on the way (about 90 ns each here), which for 2^46 chunks
//! never ends, with its process-wide lock held. So every extent a dataset
//! takes through the mount is checked first, with overflow-checked
//! arithmetic, against the limits below (docs/SEMANTICS.md §10.13).

/// Most bytes a dataset may hold after a change through the mount (16 TiB,
/// ext4's largest file).
pub const MAX_DATASET_BYTES: u64 = 1 << 44;

/// Most chunk positions a chunked dataset's extent may span after a change
/// through the mount: shrinking it then visits at most this many (~1.5 s).
pub const MAX_CHUNKS: u64 = 1 << 24;

use crate::model::hyperslab::element_count;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtentError {
    /// The element or byte count does not fit in 64 bits: not a real shape.
    #[error("shape {0:?} has more elements or bytes than 2^64")]
    Overflow(Vec<u64>),
    #[error("shape {shape:?} would hold {bytes} bytes, over the limit of {MAX_DATASET_BYTES}")]
    TooManyBytes { shape: Vec<u64>, bytes: u64 },
    #[error(
        "shape {shape:?} would span {chunks} chunks of {chunk:?}, over the limit of {MAX_CHUNKS}"
    )]
    TooManyChunks {
        shape: Vec<u64>,
        chunk: Vec<u64>,
        chunks: u64,
    },
}

impl ExtentError {
    /// Whether the shape is nonsense (EINVAL) rather than too large (EFBIG).
    pub fn is_invalid(&self) -> bool {
        matches!(self, ExtentError::Overflow(_))
    }
}

/// Check the extent `shape` of a dataset of `itemsize`-byte elements, stored
/// in chunks of `chunk` (None if not chunked). Returns its size in bytes.
pub fn check_extent(
    shape: &[u64],
    itemsize: u64,
    chunk: Option<&[u64]>,
) -> Result<u64, ExtentError> {
    let bytes = element_count(shape)
        .and_then(|n| n.checked_mul(itemsize))
        .ok_or_else(|| ExtentError::Overflow(shape.to_vec()))?;
    if bytes > MAX_DATASET_BYTES {
        return Err(ExtentError::TooManyBytes {
            shape: shape.to_vec(),
            bytes,
        });
    }
    if let Some(chunk) = chunk {
        // Each factor is at most the axis length, and the product of those
        // fits (it is at most the element count, or an axis is 0).
        let chunks = shape
            .iter()
            .zip(chunk)
            .map(|(s, c)| s.div_ceil((*c).max(1)))
            .try_fold(1u64, |n, d| n.checked_mul(d))
            .unwrap_or(u64::MAX);
        if chunks > MAX_CHUNKS {
            return Err(ExtentError::TooManyChunks {
                shape: shape.to_vec(),
                chunk: chunk.to_vec(),
                chunks,
            });
        }
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_shapes_pass_with_their_size() {
        assert_eq!(check_extent(&[10, 3], 8, None), Ok(240));
        assert_eq!(check_extent(&[], 4, None), Ok(4));
        assert_eq!(check_extent(&[0, 5], 4, Some(&[16, 5])), Ok(0));
        assert_eq!(
            check_extent(&[1 << 40], 1, Some(&[1 << 20])),
            Ok(1 << 40),
            "1 TiB in 1 MiB chunks"
        );
    }

    #[test]
    fn overflowing_shapes_are_invalid() {
        let e = check_extent(&[1 << 32, 1 << 32], 1, None).unwrap_err();
        assert!(e.is_invalid(), "{e}");
        let e = check_extent(&[1 << 62], 8, Some(&[1024])).unwrap_err();
        assert!(e.is_invalid(), "2^62 float64: {e}");
        assert_eq!(element_count(&[u64::MAX, 2]), None);
        assert_eq!(element_count(&[u64::MAX, 0]), Some(0));
    }

    #[test]
    fn huge_extents_are_too_big() {
        let e = check_extent(&[1 << 62], 1, Some(&[4096])).unwrap_err();
        assert!(!e.is_invalid());
        assert!(matches!(e, ExtentError::TooManyBytes { .. }), "{e}");
        let e = check_extent(&[(1 << 24) + 1], 1, Some(&[1])).unwrap_err();
        assert!(matches!(e, ExtentError::TooManyChunks { chunks, .. } if chunks == (1 << 24) + 1));
        assert!(check_extent(&[1 << 24], 1, Some(&[1])).is_ok());
        assert!(check_extent(&[1 << 12, 1 << 13], 1, Some(&[1, 1])).is_err());
        assert!(check_extent(&[(1 << 44) + 1], 1, None).is_err());
    }
}
