//! Writes that can only be applied whole, collected in an anonymous temporary
//! file and applied when the file is closed (or fsynced): new datasets from
//! `.npy` streams or sidecars, rewritten sidecars and text views, and the
//! replacement of a fixed-size dataset's bytes. Staging goes to disk, never to
//! memory, so a dataset of any size can be replaced.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, OpenOptionsExt};

use crate::tree::names::Suffix;
use crate::tree::Ino;

/// Which call applies staged bytes: a close (flush or release) or fsync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    AtClose,
    AtSync,
}

/// What the staged bytes become.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// New contents for the raw dataset `ino`, whose size cannot change.
    ReplaceRaw { ino: Ino },
    /// New text for the text-view dataset `ino`.
    RewriteText { ino: Ino },
    /// A new sidecar for the dataset `dataset` (resize only).
    RewriteSidecar { dataset: Ino },
    /// A new dataset `name` in `parent`, from the file `file_name` being
    /// written there (inode `ino`), a `.npy` stream or a sidecar.
    New {
        from: Suffix,
        parent: Ino,
        name: Vec<u8>,
        file_name: Vec<u8>,
        ino: Ino,
    },
}

pub struct Staging {
    file: File,
    len: u64,
    pub target: Target,
    /// Written to since last applied.
    pub dirty: bool,
    /// Open handles sharing this staging.
    pub handles: usize,
}

fn temp_file() -> io::Result<File> {
    let dir = std::env::temp_dir();
    // O_TMPFILE: an unnamed file that vanishes with its last descriptor.
    OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_TMPFILE)
        .open(&dir)
        .or_else(|_| {
            let name = dir.join(format!(
                ".h5fs-stage-{}-{}",
                std::process::id(),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos())
                    .unwrap_or(0)
            ));
            let f = OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .open(&name)?;
            std::fs::remove_file(&name)?;
            Ok(f)
        })
}

impl Staging {
    pub fn new(target: Target, initial: &[u8]) -> io::Result<Staging> {
        let file = temp_file()?;
        file.write_all_at(initial, 0)?;
        Ok(Staging {
            file,
            len: initial.len() as u64,
            target,
            dirty: false,
            handles: 0,
        })
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.file.write_all_at(data, offset)?;
        self.len = self.len.max(offset + data.len() as u64);
        self.dirty = true;
        Ok(())
    }

    pub fn set_len(&mut self, len: u64) -> io::Result<()> {
        self.file.set_len(len)?;
        self.len = len;
        self.dirty = true;
        Ok(())
    }

    pub fn read_at(&self, offset: u64, size: usize) -> io::Result<Vec<u8>> {
        let end = (offset.saturating_add(size as u64)).min(self.len);
        if offset >= end {
            return Ok(Vec::new());
        }
        let mut buf = vec![0u8; (end - offset) as usize];
        self.file.read_exact_at(&mut buf, offset)?;
        Ok(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Staging {
        fn read_all(&self) -> io::Result<Vec<u8>> {
            self.read_at(0, self.len as usize)
        }
    }

    #[test]
    fn staging_is_a_sparse_growable_buffer() {
        let mut s = Staging::new(Target::RewriteText { ino: 3 }, b"abc").unwrap();
        assert_eq!(s.len(), 3);
        assert!(!s.dirty);
        s.write_at(5, b"xy").unwrap();
        assert!(s.dirty);
        assert_eq!(s.read_all().unwrap(), b"abc\0\0xy");
        assert_eq!(s.read_at(1, 3).unwrap(), b"bc\0");
        assert_eq!(s.read_at(10, 3).unwrap(), b"");
        s.set_len(2).unwrap();
        assert_eq!(s.read_all().unwrap(), b"ab");
    }
}
