//! The objects under an S3 prefix (`s3://BUCKET/PREFIX/`), for a mount of
//! the whole prefix: listings one level at a time (the `/` delimiter makes
//! the levels directories), and which objects are HDF5 by their signature,
//! read with small range requests, many at once.

use std::sync::Arc;
use std::time::SystemTime;

use object_store::path::Path as StorePath;
use object_store::{GetOptions, GetRange, ObjectStore};

use super::{bounded, runtime, s3, Settings, REQUEST_LIMIT};
use crate::sniff::{offsets, SIGNATURE};

/// Bytes read at an object's start to find the signature (offsets 0 to
/// 64 KiB); a signature further on costs one request per place.
const HEAD_BYTES: u64 = (64 << 10) + 8;

/// Objects sniffed at once.
const AT_ONCE: usize = 32;

/// One entry of a level of the prefix.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// Keys go on under this name: a directory.
    Prefix,
    Object {
        size: u64,
        mtime: SystemTime,
        etag: Option<String>,
    },
}

pub struct Bucket {
    runtime: &'static tokio::runtime::Runtime,
    store: Arc<dyn ObjectStore>,
    bucket: String,
    /// The prefix mounted: empty, or ending in `/`.
    prefix: String,
    /// No key was under it at open.
    empty: bool,
}

impl Bucket {
    /// The prefix of `url` (`s3://BUCKET`, `s3://BUCKET/` or
    /// `s3://BUCKET/PREFIX/`); the first page of a listing under it (one
    /// request, whatever the number of keys) checks that it can be read.
    pub fn open(url: &str, settings: &Settings) -> Result<Bucket, String> {
        let (bucket, prefix) = s3::split(url)
            .filter(|(_, k)| k.is_empty() || k.ends_with('/'))
            .ok_or_else(|| format!("{url}: not the URL of an S3 prefix (s3://BUCKET/PREFIX/)"))?;
        let (options, retry) = super::client_settings();
        let mut b = Bucket {
            runtime: runtime()?,
            store: s3::store(bucket, settings, options, retry)?.0.into(),
            bucket: bucket.to_string(),
            prefix: prefix.trim_start_matches('/').to_string(),
            empty: true,
        };
        match b.first_key() {
            Ok(key) => {
                b.empty = key.is_none();
                Ok(b)
            }
            Err(e) if e.contains("NoSuchBucket") || e.ends_with("(HTTP 404)") => {
                Err(format!("s3://{bucket}: no such bucket (HTTP 404)"))
            }
            Err(e) if e.ends_with("(HTTP 403)") && settings.anonymous => Err(format!(
                "{e}; without -o anonymous, requests are signed with the AWS credentials"
            )),
            Err(e) => Err(e),
        }
    }

    /// Whether no key was under the prefix when opened.
    pub fn is_empty(&self) -> bool {
        self.empty
    }

    /// A key under the prefix, from the first page of its listing.
    fn first_key(&self) -> Result<Option<String>, String> {
        let at = self.prefix.trim_end_matches('/');
        let at = (!at.is_empty()).then(|| store_path(at));
        let shown = self.url("");
        let mut keys = self.store.list(at.as_ref());
        let first = std::future::poll_fn(move |cx| keys.as_mut().poll_next(cx));
        let key = self
            .runtime
            .block_on(bounded(&shown, REQUEST_LIMIT, async {
                first.await.transpose()
            }))?;
        Ok(key.map(|meta| meta.location.to_string()))
    }

    /// The URL of the object at `rel` (a path below the prefix).
    pub fn url(&self, rel: &str) -> String {
        format!("s3://{}/{}{rel}", self.bucket, self.prefix)
    }

    fn key(&self, rel: &str) -> String {
        format!("{}{rel}", self.prefix)
    }

    /// The level `rel` of the prefix (`""` for its top), by name. A name
    /// that is both an object and a prefix is the prefix (a directory
    /// cannot also be a file); names a path cannot hold are left out.
    pub fn list(&self, rel: &str) -> Result<Vec<(String, Item)>, String> {
        let dir = self.key(rel);
        let dir = dir.trim_end_matches('/');
        let shown = format!("s3://{}/{dir}", self.bucket);
        let at = (!dir.is_empty()).then(|| store_path(dir));
        let store = self.store.clone();
        // All pages of a level: longer than one request may take.
        let listed = self.runtime.block_on(async move {
            bounded(
                &shown,
                REQUEST_LIMIT * 4,
                store.list_with_delimiter(at.as_ref()),
            )
            .await
        })?;
        let mut items: Vec<(String, Item)> = Vec::new();
        for p in &listed.common_prefixes {
            if let Some(name) = p.filename().filter(|n| usable(n)) {
                items.push((name.to_string(), Item::Prefix));
            }
        }
        for o in listed.objects {
            // The object a console makes to stand for the folder itself.
            if o.location.as_ref() == dir {
                continue;
            }
            let Some(name) = o.location.filename().filter(|n| usable(n)) else {
                continue;
            };
            if items.iter().any(|(n, _)| n == name) {
                continue;
            }
            items.push((
                name.to_string(),
                Item::Object {
                    size: o.size,
                    mtime: SystemTime::from(o.last_modified),
                    etag: o.e_tag,
                },
            ));
        }
        items.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(items)
    }

    /// For each object (path below the prefix, ETag, size), whether it
    /// has the HDF5 signature where libhdf5 looks for it; objects are read
    /// [`AT_ONCE`] at a time. An object that cannot be read is an error.
    pub fn sniff(&self, objects: &[(String, Option<String>, u64)]) -> Vec<Result<bool, String>> {
        let mut out = Vec::with_capacity(objects.len());
        for batch in objects.chunks(AT_ONCE) {
            let tasks: Vec<_> = batch
                .iter()
                .map(|(rel, etag, size)| {
                    let (store, path) = (self.store.clone(), store_path(&self.key(rel)));
                    let shown = self.url(rel);
                    let (size, etag) = (*size, etag.clone());
                    self.runtime
                        .spawn(async move { signature(&*store, &path, &shown, size, etag).await })
                })
                .collect();
            for t in tasks {
                out.push(
                    self.runtime
                        .block_on(t)
                        .unwrap_or_else(|e| Err(format!("signature check stopped: {e}"))),
                );
            }
        }
        out
    }
}

/// A key as the client names it: as it is (the client encodes what the
/// request needs), as [`super::Remote`] names objects.
fn store_path(key: &str) -> StorePath {
    StorePath::parse(key).unwrap_or_else(|_| StorePath::from(key))
}

/// A name h5fs can show for a key segment.
fn usable(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && name.len() <= crate::tree::names::NAME_MAX
}

/// Whether the object has the HDF5 signature: its first [`HEAD_BYTES`] in
/// one request, each place further on in one more.
async fn signature(
    store: &dyn ObjectStore,
    path: &StorePath,
    shown: &str,
    size: u64,
    etag: Option<String>,
) -> Result<bool, String> {
    let get = |range: std::ops::Range<u64>| {
        let opts = GetOptions {
            range: Some(GetRange::Bounded(range)),
            if_match: etag.clone(),
            ..Default::default()
        };
        bounded(shown, REQUEST_LIMIT, async move {
            store.get_opts(path, opts).await?.bytes().await
        })
    };
    if size < SIGNATURE.len() as u64 {
        return Ok(false);
    }
    let head = get(0..size.min(HEAD_BYTES)).await?;
    for at in offsets(size) {
        let found = match usize::try_from(at).ok().and_then(|a| head.get(a..a + 8)) {
            Some(b) => b == SIGNATURE,
            None => get(at..at + 8).await?.as_ref() == SIGNATURE,
        };
        if found {
            return Ok(true);
        }
    }
    Ok(false)
}
