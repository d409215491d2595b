//! Where a directory mount's tree comes from: a local directory
//! ([`LocalTree`]), or the objects under an S3 prefix
//! (`BucketTree`). The mount asks for names, listings,
//! plain files' bytes and what opens an HDF5 file; it never touches the
//! tree itself.

use std::fs::{File, Metadata};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use super::Ident;
use crate::fs::{Error, Result, TreePlace};
use crate::model::Access;
use crate::sniff::is_hdf5;
use crate::source::Source;
use crate::tree::{DirEntry, EntryType};

/// What a path of the tree is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Dir,
    File,
    Symlink,
}

#[derive(Debug, Clone)]
pub struct Meta {
    pub kind: Kind,
    pub size: u64,
    pub mtime: SystemTime,
    /// What tells this file from one that replaces it.
    pub ident: Ident,
    /// A file with the HDF5 signature (shown as a directory).
    pub hdf5: bool,
}

/// An open plain file.
pub trait Plain: Send + Sync {
    /// Up to `size` bytes at `offset`: fewer at the file's end (as it is
    /// now, for a file that changes).
    fn read(&self, offset: u64, size: u32) -> std::io::Result<Vec<u8>>;
}

impl Plain for File {
    fn read(&self, offset: u64, size: u32) -> std::io::Result<Vec<u8>> {
        let mut buf = vec![0u8; size as usize];
        let mut got = 0;
        while got < buf.len() {
            match self.read_at(&mut buf[got..], offset + got as u64) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        buf.truncate(got);
        Ok(buf)
    }
}

pub trait Backing: Send + Sync {
    /// `rel` (relative to the tree's top) as messages show it.
    fn show(&self, rel: &Path) -> String {
        if rel.as_os_str().is_empty() {
            return ".".into();
        }
        rel.display().to_string()
    }

    /// What `rel` is now (symlinks not followed); whether a file is HDF5
    /// only if `sniff` (else `hdf5` is false).
    fn stat(&self, rel: &Path, sniff: bool) -> Result<Meta>;

    /// The entries of directory `rel`, in name order; HDF5 files are
    /// directories. Their inode numbers only inform (d_ino).
    fn list(&self, rel: &Path) -> Result<Vec<DirEntry>>;

    /// The text of symlink `rel`.
    fn read_link(&self, rel: &Path) -> Result<Vec<u8>>;

    /// Plain file `rel`, open for reading.
    fn open(&self, rel: &Path) -> Result<Arc<dyn Plain>>;

    /// What opens the HDF5 file at `rel`, and its place in the tree when
    /// links between the tree's files are shown as symlinks (§15.4).
    fn source(&self, rel: &Path, access: &Access) -> (Source, Option<TreePlace>);

    /// Whether the caller may change the file at `rel`.
    fn can_write(&self, rel: &Path) -> std::result::Result<(), String>;
}

/// A local directory, canonical.
pub struct LocalTree {
    root: PathBuf,
}

impl LocalTree {
    pub fn new(root: PathBuf) -> LocalTree {
        LocalTree { root }
    }

    fn error(&self, rel: &Path, e: std::io::Error) -> Error {
        match e.kind() {
            std::io::ErrorKind::NotFound => Error::NotFound,
            std::io::ErrorKind::PermissionDenied => {
                Error::Access(format!("{}: {e}", self.show(rel)))
            }
            _ => Error::Io(format!("{}: {e}", self.show(rel))),
        }
    }
}

fn kind_of(m: &Metadata) -> Option<Kind> {
    if m.is_dir() {
        Some(Kind::Dir)
    } else if m.is_file() {
        Some(Kind::File)
    } else if m.file_type().is_symlink() {
        Some(Kind::Symlink)
    } else {
        None
    }
}

impl Backing for LocalTree {
    fn stat(&self, rel: &Path, sniff: bool) -> Result<Meta> {
        let full = self.root.join(rel);
        let m = std::fs::symlink_metadata(&full).map_err(|e| self.error(rel, e))?;
        // Devices, sockets and pipes are not shown.
        let kind = kind_of(&m).ok_or(Error::NotFound)?;
        Ok(Meta {
            kind,
            size: m.len(),
            mtime: m.modified().unwrap_or(UNIX_EPOCH),
            ident: Ident::of(&m),
            hdf5: sniff && kind == Kind::File && is_hdf5(&full, m.len()),
        })
    }

    fn list(&self, rel: &Path) -> Result<Vec<DirEntry>> {
        let full = self.root.join(rel);
        let rd = std::fs::read_dir(&full).map_err(|e| self.error(rel, e))?;
        let mut entries = Vec::new();
        for e in rd.flatten() {
            let Ok(m) = e.metadata() else { continue };
            let kind = match kind_of(&m) {
                Some(Kind::Dir) => EntryType::Directory,
                Some(Kind::File) if is_hdf5(&e.path(), m.len()) => EntryType::Directory,
                Some(Kind::File) => EntryType::File,
                Some(Kind::Symlink) => EntryType::Symlink,
                None => continue,
            };
            entries.push(DirEntry {
                name: e.file_name().as_bytes().to_vec(),
                ino: m.ino().max(2),
                kind,
            });
        }
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(entries)
    }

    fn read_link(&self, rel: &Path) -> Result<Vec<u8>> {
        std::fs::read_link(self.root.join(rel))
            .map(|t| t.as_os_str().as_bytes().to_vec())
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::InvalidInput => Error::NotSymlink,
                _ => self.error(rel, e),
            })
    }

    fn open(&self, rel: &Path) -> Result<Arc<dyn Plain>> {
        File::open(self.root.join(rel))
            .map(|f| Arc::new(f) as _)
            .map_err(|e| self.error(rel, e))
    }

    fn source(&self, rel: &Path, access: &Access) -> (Source, Option<TreePlace>) {
        let full = self.root.join(rel);
        let source = Source {
            name: full.clone(),
            parts: vec![full],
            access: access.clone(),
        };
        let place = TreePlace {
            root: self.root.clone(),
            file: rel.to_path_buf(),
        };
        (source, Some(place))
    }

    fn can_write(&self, rel: &Path) -> std::result::Result<(), String> {
        crate::sys::can_write(&self.root.join(rel))
            .map_err(|e| format!("{}: not writable by you ({e})", self.show(rel)))
    }
}
