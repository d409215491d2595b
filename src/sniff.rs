//! Which files of a directory mount are HDF5: those with the HDF5
//! signature where libhdf5 looks for it, at byte 0 or at a user block's
//! end (512, 1024, 2048... bytes), whatever their names.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// The 8 bytes that start an HDF5 superblock.
pub const SIGNATURE: [u8; 8] = *b"\x89HDF\r\n\x1a\n";

/// Where libhdf5 looks for the signature in a file of `len` bytes.
pub fn offsets(len: u64) -> impl Iterator<Item = u64> {
    std::iter::once(0)
        .chain((9..63).map(|p| 1u64 << p))
        .take_while(move |&at| at.saturating_add(8) <= len)
}

/// Whether the file at `path` (of `len` bytes) is HDF5 by its signature.
/// A file that cannot be read is not.
pub fn is_hdf5(path: &Path, len: u64) -> bool {
    let Ok(f) = File::open(path) else {
        return false;
    };
    let mut buf = [0u8; 8];
    offsets(len).any(|at| f.read_exact_at(&mut buf, at).is_ok() && buf == SIGNATURE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_at_zero_or_a_power_of_two_from_512() {
        assert_eq!(offsets(7).count(), 0);
        assert_eq!(offsets(8).collect::<Vec<_>>(), [0]);
        assert_eq!(offsets(520).collect::<Vec<_>>(), [0, 512]);
        assert_eq!(offsets(4100).collect::<Vec<_>>(), [0, 512, 1024, 2048]);
        assert_eq!(offsets(4104).count(), 5);
        assert_eq!(offsets(u64::MAX).count(), 55);
        let d = std::env::temp_dir().join(format!("h5fs-sniff-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let mut ub = vec![7u8; 1024];
        ub.extend_from_slice(&SIGNATURE);
        std::fs::write(d.join("ub"), &ub).unwrap();
        std::fs::write(d.join("plain"), b"CDF\x01 not hdf5 at all......").unwrap();
        let mut late = vec![0u8; 700];
        late.extend_from_slice(&SIGNATURE);
        std::fs::write(d.join("late"), &late).unwrap();
        assert!(is_hdf5(&d.join("ub"), ub.len() as u64));
        assert!(!is_hdf5(&d.join("plain"), 26));
        assert!(
            !is_hdf5(&d.join("late"), late.len() as u64),
            "700 is no boundary"
        );
        assert!(!is_hdf5(&d.join("missing"), 100));
        std::fs::remove_dir_all(&d).unwrap();
    }
}
