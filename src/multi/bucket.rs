//! The objects under an S3 prefix as a directory mount's tree (§16.1):
//! each `/`-separated level of keys is a directory, listed when first
//! needed and trusted for the refresh time; an object with the HDF5
//! signature is an HDF5 file, any other a plain file. Which objects are
//! HDF5 is found with small range requests when a listing or a lookup needs
//! it, and kept for as long as the object keeps its ETag. Nothing is opened
//! as HDF5 until it is looked into.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use log::warn;

use super::backing::{Backing, Kind, Meta, Plain};
use super::Ident;
use crate::direct::{ByteSource, RemoteFile};
use crate::fs::{Error, Result, TreePlace};
use crate::model::Access;
use crate::remote::{Bucket, Item, Settings};
use crate::source::Source;
use crate::tree::{DirEntry, EntryType};

/// Most levels kept listed at once.
const LEVELS: usize = 1024;
/// Most objects whose kind is remembered.
const SNIFFED: usize = 1 << 20;

type Level = Arc<Vec<(String, Item)>>;

/// Which object, as it is now: its path, ETag and size.
type Version = (String, Option<String>, u64);

pub struct BucketTree {
    bucket: Bucket,
    settings: Settings,
    refresh: Duration,
    /// When the mount began: the time of levels (which have none of their own).
    started: SystemTime,
    levels: Mutex<HashMap<PathBuf, (Instant, Level)>>,
    /// Whether each object is HDF5, by version.
    sniffed: Mutex<HashMap<Version, bool>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn hash(parts: &[&str]) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    parts.hash(&mut h);
    h.finish()
}

impl BucketTree {
    pub fn new(bucket: Bucket, settings: Settings, refresh: Duration) -> BucketTree {
        BucketTree {
            bucket,
            settings,
            refresh,
            started: SystemTime::now(),
            levels: Mutex::new(HashMap::new()),
            sniffed: Mutex::new(HashMap::new()),
        }
    }

    /// `rel` as a key's end (names of the tree are the keys' own, UTF-8).
    fn text(rel: &Path) -> Result<&str> {
        rel.to_str().ok_or(Error::NotFound)
    }

    fn level(&self, rel: &Path) -> Result<Level> {
        if let Some((at, l)) = lock(&self.levels).get(rel) {
            if at.elapsed() < self.refresh {
                return Ok(l.clone());
            }
        }
        let text = Self::text(rel)?;
        let items = self.bucket.list(text).map_err(|e| {
            warn!("listing {}: {e}", self.bucket.url(text));
            Error::Io(e)
        })?;
        let l = Arc::new(items);
        let mut c = lock(&self.levels);
        if c.len() >= LEVELS {
            c.clear();
        }
        c.insert(rel.to_path_buf(), (Instant::now(), l.clone()));
        Ok(l)
    }

    /// Whether each object is HDF5; those not known are read, all at once.
    /// An object that cannot be read is a plain file (its reads will say
    /// why).
    fn kinds(&self, objects: Vec<Version>) -> Vec<bool> {
        let unknown: Vec<Version> = {
            let s = lock(&self.sniffed);
            objects
                .iter()
                .filter(|v| !s.contains_key(*v))
                .cloned()
                .collect()
        };
        if !unknown.is_empty() {
            let found = self.bucket.sniff(&unknown);
            let mut s = lock(&self.sniffed);
            if s.len() + unknown.len() > SNIFFED {
                s.clear();
            }
            for (v, r) in unknown.into_iter().zip(found) {
                match r {
                    Ok(hdf5) => {
                        s.insert(v, hdf5);
                    }
                    Err(e) => warn!("{}: shown as a plain file: {e}", self.bucket.url(&v.0)),
                }
            }
        }
        let s = lock(&self.sniffed);
        objects
            .iter()
            .map(|v| s.get(v).copied().unwrap_or(false))
            .collect()
    }

    fn version(dir: &Path, name: &str, item: &Item) -> Option<Version> {
        match item {
            Item::Object { size, etag, .. } => {
                let rel = dir.join(name).to_string_lossy().into_owned();
                Some((rel, etag.clone(), *size))
            }
            Item::Prefix => None,
        }
    }
}

impl Plain for RemoteFile {
    fn read(&self, offset: u64, size: u32) -> std::io::Result<Vec<u8>> {
        let len = ByteSource::size(self)?
            .saturating_sub(offset)
            .min(u64::from(size));
        let mut buf = Vec::with_capacity(len as usize);
        self.read_at(&mut buf, len as usize, offset)?;
        Ok(buf)
    }
}

impl Backing for BucketTree {
    fn show(&self, rel: &Path) -> String {
        self.bucket.url(&rel.to_string_lossy())
    }

    fn stat(&self, rel: &Path, sniff: bool) -> Result<Meta> {
        let (Some(dir), Some(name)) = (rel.parent(), rel.file_name()) else {
            return Ok(Meta {
                kind: Kind::Dir,
                size: 0,
                mtime: self.started,
                ident: Ident::new(0, 0, 0, 0),
                hdf5: false,
            });
        };
        let name = name.to_str().ok_or(Error::NotFound)?;
        let level = self.level(dir)?;
        let i = level
            .binary_search_by(|(n, _)| n.as_str().cmp(name))
            .map_err(|_| Error::NotFound)?;
        let item = &level[i].1;
        Ok(match item {
            Item::Prefix => Meta {
                kind: Kind::Dir,
                size: 0,
                mtime: self.started,
                ident: Ident::new(0, hash(&[Self::text(rel)?]), 0, 0),
                hdf5: false,
            },
            Item::Object { size, mtime, etag } => {
                let v = Self::version(dir, name, item).expect("an object");
                let key = v.0.clone();
                let since = mtime.duration_since(UNIX_EPOCH).unwrap_or_default();
                Meta {
                    kind: Kind::File,
                    size: *size,
                    mtime: *mtime,
                    ident: Ident::new(
                        hash(&[etag.as_deref().unwrap_or("")]),
                        hash(&[&key]),
                        *size,
                        since.as_nanos() as i128,
                    ),
                    hdf5: sniff && self.kinds(vec![v])[0],
                }
            }
        })
    }

    fn list(&self, rel: &Path) -> Result<Vec<DirEntry>> {
        let level = self.level(rel)?;
        let objects: Vec<Version> = level
            .iter()
            .filter_map(|(n, item)| Self::version(rel, n, item))
            .collect();
        let mut hdf5 = self.kinds(objects).into_iter();
        Ok(level
            .iter()
            .map(|(name, item)| DirEntry {
                name: name.as_bytes().to_vec(),
                // Only informative (d_ino): lookups give the inodes.
                ino: hash(&[&rel.join(name).to_string_lossy()]) >> 2 | 2,
                kind: match item {
                    Item::Prefix => EntryType::Directory,
                    Item::Object { .. } if hdf5.next() == Some(true) => EntryType::Directory,
                    Item::Object { .. } => EntryType::File,
                },
            })
            .collect())
    }

    fn read_link(&self, _rel: &Path) -> Result<Vec<u8>> {
        Err(Error::NotSymlink)
    }

    fn open(&self, rel: &Path) -> Result<Arc<dyn Plain>> {
        let url = self.bucket.url(Self::text(rel)?);
        RemoteFile::open(&url, &self.settings)
            .map(|f| Arc::new(f) as _)
            .map_err(|e| match e.to_string() {
                // Deleted since it was listed.
                m if m.ends_with("(HTTP 404)") => Error::NotFound,
                m => Error::Io(m),
            })
    }

    fn source(&self, rel: &Path, access: &Access) -> (Source, Option<TreePlace>) {
        let url = PathBuf::from(self.bucket.url(&rel.to_string_lossy()));
        let source = Source {
            name: url.clone(),
            parts: vec![url],
            access: access.clone(),
        };
        (source, None)
    }

    fn can_write(&self, rel: &Path) -> std::result::Result<(), String> {
        Err(format!("{}: remote files are read-only", self.show(rel)))
    }
}
