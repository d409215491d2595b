//! Where a file's bytes come from for direct reads: a local file today;
//! the seam for object storage.

use std::fs::File;
use std::path::Path;

/// Random access to a file's bytes.
pub trait ByteSource: Send + Sync {
    /// Append `len` bytes at `offset` to `out`. A source shorter than that is
    /// an `UnexpectedEof` error, and `out` is left as it was.
    fn read_at(&self, out: &mut Vec<u8>, len: usize, offset: u64) -> std::io::Result<()>;

    /// The source's length in bytes now.
    fn size(&self) -> std::io::Result<u64>;
}

/// A local file, read with `pread`.
pub struct LocalFile(File);

impl LocalFile {
    pub fn open(path: &Path) -> std::io::Result<LocalFile> {
        File::open(path).map(LocalFile)
    }
}

impl ByteSource for LocalFile {
    fn read_at(&self, out: &mut Vec<u8>, len: usize, offset: u64) -> std::io::Result<()> {
        crate::sys::pread_append(out, &self.0, len, offset)
    }

    fn size(&self) -> std::io::Result<u64> {
        self.0.metadata().map(|m| m.len())
    }
}
