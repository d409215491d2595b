//! Where a file's bytes come from for direct reads: a local file, a
//! family's members, a copy in memory, a remote object.

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

/// A whole file read into memory (`-o driver=core`).
pub struct MemoryFile(Vec<u8>);

impl MemoryFile {
    pub fn read(path: &Path) -> std::io::Result<MemoryFile> {
        std::fs::read(path).map(MemoryFile)
    }
}

impl ByteSource for MemoryFile {
    fn read_at(&self, out: &mut Vec<u8>, len: usize, offset: u64) -> std::io::Result<()> {
        let range = usize::try_from(offset)
            .ok()
            .and_then(|s| Some(s..s.checked_add(len)?))
            .filter(|r| r.end <= self.0.len())
            .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::UnexpectedEof))?;
        out.extend_from_slice(&self.0[range]);
        Ok(())
    }

    fn size(&self) -> std::io::Result<u64> {
        Ok(self.0.len() as u64)
    }
}

/// A family's members as one run of bytes: member `i` holds the addresses
/// from `i * member_size`. A member shorter than that reads as zeros past
/// its end, as libhdf5 reads it; past the last member's end is the end.
pub struct FamilyFile {
    members: Vec<File>,
    member_size: u64,
}

impl FamilyFile {
    pub fn open(parts: &[std::path::PathBuf], member_size: u64) -> std::io::Result<FamilyFile> {
        if member_size == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "family member size 0",
            ));
        }
        let members = parts.iter().map(File::open).collect::<Result<_, _>>()?;
        Ok(FamilyFile {
            members,
            member_size,
        })
    }
}

impl ByteSource for FamilyFile {
    fn read_at(&self, out: &mut Vec<u8>, len: usize, offset: u64) -> std::io::Result<()> {
        let eof = || std::io::Error::from(std::io::ErrorKind::UnexpectedEof);
        let end = offset.checked_add(len as u64).ok_or_else(eof)?;
        if end > self.size()? {
            return Err(eof());
        }
        let start = out.len();
        let mut at = offset;
        while at < end {
            // The last member holds whatever lies past the others.
            let last = self.members.len() - 1;
            let index = ((at / self.member_size) as usize).min(last);
            let inner = at - index as u64 * self.member_size;
            let room = if index == last {
                u64::MAX
            } else {
                self.member_size - inner
            };
            let n = room.min(end - at) as usize;
            let member = &self.members[index];
            let have = member.metadata()?.len().saturating_sub(inner).min(n as u64) as usize;
            let got = crate::sys::pread_append(out, member, have, inner);
            if let Err(e) = got {
                out.truncate(start);
                return Err(e);
            }
            out.resize(out.len() + (n - have), 0);
            at += n as u64;
        }
        Ok(())
    }

    fn size(&self) -> std::io::Result<u64> {
        let Some(last) = self.members.last() else {
            return Ok(0);
        };
        let before = (self.members.len() as u64 - 1).saturating_mul(self.member_size);
        Ok(before.saturating_add(last.metadata()?.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_family_reads_across_members_and_fills_short_ones() {
        let d = std::env::temp_dir().join(format!("h5fs-family-src-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let parts: Vec<_> = (0..3).map(|i| d.join(format!("m{i}"))).collect();
        std::fs::write(&parts[0], [1u8, 2, 3, 4]).unwrap();
        std::fs::write(&parts[1], [5u8, 6]).unwrap(); // short: 2 zeros follow
        std::fs::write(&parts[2], [9u8, 10, 11]).unwrap();
        let f = FamilyFile::open(&parts, 4).unwrap();
        assert_eq!(f.size().unwrap(), 11);
        let mut out = vec![0xaa];
        f.read_at(&mut out, 9, 2).unwrap();
        assert_eq!(out, [0xaa, 3, 4, 5, 6, 0, 0, 9, 10, 11]);
        let mut out = Vec::new();
        assert!(f.read_at(&mut out, 2, 10).is_err());
        assert!(out.is_empty());
        assert!(f.read_at(&mut out, 1, u64::MAX).is_err());
        let m = MemoryFile(vec![1, 2, 3]);
        m.read_at(&mut out, 2, 1).unwrap();
        assert_eq!(out, [2, 3]);
        assert!(m.read_at(&mut out, 3, 1).is_err());
        std::fs::remove_dir_all(&d).unwrap();
    }
}
