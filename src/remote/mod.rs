//! Files behind HTTP(S) or in S3-compatible storage, read by byte range
//! with `object_store`, from synchronous code: a small private tokio
//! runtime runs each request, bounded in time.
//!
//! An object is pinned to the ETag it had when opened: every range is
//! asked with `If-Match`, so an object replaced meanwhile fails the read
//! (never a mix of old and new bytes).

mod bucket;
mod disk;
mod profile;
mod s3;

pub use bucket::{Bucket, Item};
pub use disk::DiskCache;

use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use object_store::http::HttpBuilder;
use object_store::path::Path as StorePath;
use object_store::{ClientOptions, GetOptions, GetRange, ObjectStore, ObjectStoreExt, RetryConfig};

/// Longest a request may take, retries included.
const REQUEST_LIMIT: Duration = Duration::from_secs(60);

/// Blocks of an object are this long, counted from its start: the unit of
/// read-ahead, of libhdf5's metadata cache, and of `cache_dir=`.
pub const BLOCK: u64 = 4 << 20;

/// Default bound of `cache_dir=`, in MiB.
pub const DEFAULT_CACHE_DIR_MIB: u64 = 1024;

/// A read of more than this that a caller waits for is asked as parts of
/// it, [`PARTS_AT_ONCE`] at a time: one stream from object storage is slower
/// (some 90 MiB/s from S3) than several.
const PART: u64 = 1 << 20;
const PARTS_AT_ONCE: usize = 16;

/// How remote objects are reached: the mount options about them (no
/// secrets: those come from the environment and the AWS files).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Settings {
    /// `endpoint=URL`: an S3-compatible server other than AWS.
    pub endpoint: Option<String>,
    /// `region=NAME`.
    pub region: Option<String>,
    /// `anonymous`: requests are not signed (public buckets).
    pub anonymous: bool,
    /// `cache=MIB`: metadata blocks kept per file (src/h5/vfd.rs).
    pub cache_mib: Option<u32>,
    /// `cache_dir=PATH` (absolute): blocks kept on disk ([`DiskCache`]).
    pub cache_dir: Option<std::path::PathBuf>,
    /// `cache_dir_mib=MIB`: their bound.
    pub cache_dir_mib: Option<u64>,
}

impl Settings {
    /// As one line, for a worker's environment.
    pub fn encode(&self) -> String {
        serde_json::json!({
            "endpoint": self.endpoint,
            "region": self.region,
            "anonymous": self.anonymous,
            "cache_mib": self.cache_mib,
            "cache_dir": self.cache_dir,
            "cache_dir_mib": self.cache_dir_mib,
        })
        .to_string()
    }

    /// What [`Settings::encode`] made; defaults for anything else.
    pub fn decode(text: &str) -> Settings {
        let v: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
        let text = |k: &str| v.get(k).and_then(|s| s.as_str()).map(String::from);
        Settings {
            endpoint: text("endpoint"),
            region: text("region"),
            anonymous: v
                .get("anonymous")
                .and_then(|a| a.as_bool())
                .unwrap_or(false),
            cache_mib: v
                .get("cache_mib")
                .and_then(|c| c.as_u64())
                .and_then(|c| c.try_into().ok()),
            cache_dir: text("cache_dir").map(Into::into),
            cache_dir_mib: v.get("cache_dir_mib").and_then(|c| c.as_u64()),
        }
    }

    /// The `cache_dir=` of these settings, made ready (None without one).
    pub fn disk_cache(&self) -> Result<Option<Arc<DiskCache>>, String> {
        self.cache_dir
            .as_deref()
            .map(|d| DiskCache::shared(d, self.cache_dir_mib.unwrap_or(DEFAULT_CACHE_DIR_MIB)))
            .transpose()
    }
}

/// A number that stands for an object's version (its ETag) in every process
/// of a mount: the daemon pins workers to the version it mounted with it.
pub fn version_id(etag: Option<&str>) -> u64 {
    use std::hash::{Hash, Hasher};
    // SipHash with fixed keys: the same number in every process.
    let mut h = std::collections::hash_map::DefaultHasher::new();
    etag.hash(&mut h);
    h.finish()
}

/// Is `text` a URL h5fs reads remotely?
pub fn is_url(text: &str) -> bool {
    ["http://", "https://", "s3://"]
        .iter()
        .any(|s| text.starts_with(s))
}

/// The runtime every request of this process runs on, started at the
/// first: a few threads whatever the number of objects open.
fn runtime() -> Result<&'static tokio::runtime::Runtime, String> {
    static RUNTIME: std::sync::OnceLock<Option<tokio::runtime::Runtime>> =
        std::sync::OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("h5fs-http")
                .enable_all()
                .build()
                .ok()
        })
        .as_ref()
        .ok_or_else(|| "cannot start the HTTP client's threads".to_string())
}

/// Timeouts and retries of every client: 30 s per attempt, 5 retries with
/// exponential back-off, 30 s of retrying at most.
fn client_settings() -> (ClientOptions, RetryConfig) {
    let options = ClientOptions::new()
        .with_timeout(Duration::from_secs(30))
        .with_connect_timeout(Duration::from_secs(10));
    let retry = RetryConfig {
        max_retries: 5,
        retry_timeout: Duration::from_secs(30),
        ..Default::default()
    };
    (options, retry)
}

pub struct Remote {
    runtime: &'static tokio::runtime::Runtime,
    store: Arc<dyn ObjectStore>,
    path: StorePath,
    /// What the object was called, for messages (no secrets in it).
    shown: String,
    size: u64,
    etag: Option<String>,
    /// `cache_dir=`, and what names this version of the object there.
    disk: Option<(Arc<DiskCache>, String)>,
}

impl Remote {
    /// Open `url` (`http://`, `https://` or `s3://`): its size and ETag are
    /// read now.
    pub fn open(url: &str, settings: &Settings) -> Result<Remote, String> {
        let shown = redact(url);
        let (options, retry) = client_settings();
        // The server, for S3 (an http(s) URL names its own).
        let (store, name, server): (Arc<dyn ObjectStore>, &str, Option<String>) =
            if let Some((bucket, key)) = s3::split(url) {
                if key.is_empty() || key.ends_with('/') {
                    return Err(format!("{shown}: not the URL of an object"));
                }
                let (store, server) = s3::store(bucket, settings, options, retry)?;
                (store.into(), key, Some(server))
            } else {
                let (base, name) = match url.rsplit_once('/') {
                    Some((b, n)) if !n.is_empty() && is_url(url) => (b, n),
                    _ => {
                        return Err(format!(
                            "{shown}: not an http://, https:// or s3:// URL of a file"
                        ))
                    }
                };
                let store = HttpBuilder::new()
                    .with_url(base)
                    .with_client_options(options.with_allow_http(true))
                    .with_retry(retry)
                    .build()
                    .map_err(|e| format!("{shown}: {e}"))?;
                (Arc::new(store), name, None)
            };
        let mut r = Remote {
            runtime: runtime()?,
            store,
            // An S3 key as it is; a URL's last segment as it is too, since
            // the client encodes what needs it.
            path: StorePath::parse(name).unwrap_or_else(|_| StorePath::from(name)),
            shown,
            size: 0,
            etag: None,
            disk: None,
        };
        let meta = r.run(r.store.head(&r.path))?;
        r.size = meta.size;
        r.etag = meta.e_tag;
        let id = disk::identity(server.as_deref(), &r.shown, r.etag.as_deref(), r.size);
        // Checked at mount; should it fail later, reads go on without it.
        let disk = settings.disk_cache().unwrap_or_else(|e| {
            log::warn!("{e}");
            None
        });
        r.disk = disk.zip(id);
        Ok(r)
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// The version opened ([`version_id`] of its ETag).
    pub fn version(&self) -> u64 {
        version_id(self.etag.as_deref())
    }

    /// Run one request within [`REQUEST_LIMIT`].
    fn run<T>(
        &self,
        f: impl std::future::Future<Output = object_store::Result<T>>,
    ) -> Result<T, String> {
        self.runtime
            .block_on(bounded(&self.shown, REQUEST_LIMIT, f))
    }

    /// The bytes of `range` (within the object), as they were when opened;
    /// more than [`PART`] is asked in parts, several at once.
    pub fn read(&self, range: Range<u64>, buf: &mut [u8]) -> Result<(), String> {
        if (range.end.saturating_sub(range.start)) as usize != buf.len() {
            return Err(format!(
                "{}: range {range:?} of the wrong length",
                self.shown
            ));
        }
        if range.end > self.size {
            return Err(format!(
                "{}: range {range:?} outside the object",
                self.shown
            ));
        }
        let kept = self.kept(&range);
        if let Some(bytes) = kept.and_then(|(c, id, i)| c.get(id, i, buf.len())) {
            buf.copy_from_slice(&bytes);
            return Ok(());
        }
        let mut failed = None;
        let mut out = buf.chunks_mut(PART as usize);
        let starts: Vec<u64> = (range.start..range.end).step_by(PART as usize).collect();
        for wave in starts.chunks(PARTS_AT_ONCE) {
            let asked = wave
                .iter()
                .map(|&at| {
                    Ok(self
                        .runtime
                        .spawn(self.get(at..(at + PART).min(range.end))?))
                })
                .collect::<Result<Vec<_>, String>>()?;
            for (part, out) in asked.into_iter().zip(&mut out) {
                // Every part is waited for, so none outlives the read.
                match self.runtime.block_on(part) {
                    Ok(Ok(bytes)) => out.copy_from_slice(&bytes),
                    Ok(Err(e)) => failed = failed.or(Some(e)),
                    Err(e) => failed = failed.or(Some(format!("{}: {e}", self.shown))),
                }
            }
            if failed.is_some() {
                break;
            }
        }
        if let Some(e) = failed {
            return Err(e);
        }
        if let Some((c, id, i)) = kept {
            c.put(id, i, buf);
        }
        Ok(())
    }

    /// For a whole block of the object (see [`BLOCK`]) with `cache_dir=`:
    /// the cache, the object's name there and the block's index.
    fn kept(&self, range: &Range<u64>) -> Option<(&Arc<DiskCache>, &str, u64)> {
        let (cache, id) = self.disk.as_ref()?;
        let whole = range.start % BLOCK == 0
            && range.start < self.size
            && range.end == (range.start + BLOCK).min(self.size);
        whole.then_some((cache, id.as_str(), range.start / BLOCK))
    }

    /// Whether blocks are kept on disk (`cache_dir=`).
    pub fn keeps_blocks(&self) -> bool {
        self.disk.is_some()
    }

    /// Fetch `range` in the background; `done` gets the bytes or why not.
    pub fn fetch(
        &self,
        range: Range<u64>,
        done: impl FnOnce(Result<Vec<u8>, String>) + Send + 'static,
    ) {
        // `done` runs on the runtime either way, never in the caller, which
        // may hold what `done` takes.
        let kept = self
            .kept(&range)
            .map(|(c, id, i)| (c.clone(), id.to_string(), i));
        let len = (range.end.saturating_sub(range.start)) as usize;
        let request = self.get(range);
        drop(self.runtime.spawn(async move {
            // The disk is used off the runtime's few threads.
            if let Some((c, id, i)) = kept.clone() {
                let hit = tokio::task::spawn_blocking(move || c.get(&id, i, len));
                if let Ok(Some(bytes)) = hit.await {
                    return done(Ok(bytes));
                }
            }
            let got = match request {
                Ok(f) => f.await,
                Err(e) => Err(e),
            };
            if let (Ok(bytes), Some((c, id, i))) = (&got, kept) {
                c.put_later(id, i, bytes.clone());
            }
            done(got)
        }));
    }

    /// The request for `range`: checked, conditional on the ETag, bounded
    /// by [`REQUEST_LIMIT`], and its answer of exactly that length.
    fn get(
        &self,
        range: Range<u64>,
    ) -> Result<impl std::future::Future<Output = Result<Vec<u8>, String>> + Send + 'static, String>
    {
        if range.end > self.size || range.start > range.end {
            return Err(format!(
                "{}: range {range:?} outside the object",
                self.shown
            ));
        }
        let opts = GetOptions {
            range: Some(GetRange::Bounded(range.clone())),
            if_match: self.etag.clone(),
            ..Default::default()
        };
        let (store, path, shown) = (self.store.clone(), self.path.clone(), self.shown.clone());
        Ok(async move {
            let bytes = bounded(&shown, REQUEST_LIMIT, async {
                store.get_opts(&path, opts).await?.bytes().await
            })
            .await?;
            let want = range.end - range.start;
            if bytes.len() as u64 != want {
                return Err(format!(
                    "{shown}: asked for {want} bytes at {}, got {}",
                    range.start,
                    bytes.len()
                ));
            }
            // The buffer the body was gathered in, not a copy of it.
            Ok(bytes.into())
        })
    }
}

/// Check at mount that `url` can be read by range: one line a user can act
/// on if not (missing, refused, no range support, unreachable).
pub fn probe(url: &str, settings: &Settings) -> Result<(), String> {
    let r = match Remote::open(url, settings) {
        Ok(r) => r,
        Err(e) if e.ends_with("(HTTP 403)") && settings.anonymous => {
            return Err(format!(
                "{e}; without -o anonymous, requests are signed with the AWS credentials"
            ))
        }
        Err(e) if e.ends_with("(HTTP 404)") => {
            if let Some(no) = s3::no_bucket(url, settings) {
                return Err(no);
            }
            // A prefix named without its `/`.
            let prefix = format!("{url}/");
            let under = Bucket::open(&prefix, settings);
            if s3::split(url).is_some() && under.is_ok_and(|b| !b.is_empty()) {
                return Err(format!(
                    "{url}: a prefix, not an object: mount {prefix} for every object under it"
                ));
            }
            return Err(e);
        }
        Err(e) => return Err(e),
    };
    let n = r.size().min(1);
    r.read(0..n, &mut vec![0u8; n as usize])
}

/// Request `f` within `limit`, its failure as a user reads it.
async fn bounded<T>(
    shown: &str,
    limit: Duration,
    f: impl std::future::Future<Output = object_store::Result<T>>,
) -> Result<T, String> {
    match tokio::time::timeout(limit, f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(explain(shown, e)),
        Err(_) => Err(format!("{shown}: no answer within {} s", limit.as_secs())),
    }
}

/// A client error as a user reads it.
fn explain(shown: &str, e: object_store::Error) -> String {
    use object_store::Error as E;
    match e {
        E::NotFound { .. } => format!("{shown}: not found (HTTP 404)"),
        E::PermissionDenied { .. } => format!("{shown}: access denied (HTTP 403)"),
        E::Unauthenticated { .. } => format!("{shown}: credentials refused (HTTP 401)"),
        E::Precondition { .. } => format!("{shown}: the object changed since it was opened"),
        E::NotSupported { .. } => {
            format!("{shown}: the server does not answer range requests, which h5fs needs")
        }
        e => {
            // The innermost cause (connection refused, a name that does not
            // resolve) is what a user acts on.
            let mut cause: &dyn std::error::Error = &e;
            while let Some(c) = cause.source() {
                cause = c;
            }
            let text = match cause.to_string() {
                c if e.to_string().contains(&c) => format!("{shown}: {e}"),
                c => format!("{shown}: {e}: {c}"),
            };
            let hint = if text.contains("invalid peer certificate") {
                "; the server's certificate is not trusted by the system's certificate store \
                 (SSL_CERT_FILE or SSL_CERT_DIR may name another)"
            } else {
                ""
            };
            // One line, whatever the server put in its answer.
            text.split_whitespace().collect::<Vec<_>>().join(" ") + hint
        }
    }
}

/// Refuse what h5fs does not take in a URL: a user name or password
/// (which /proc/mounts and logs would show), a query or fragment.
pub fn check_url(url: &str) -> Result<(), String> {
    if redact(url) != url {
        return Err(format!(
            "{}: user names and passwords in URLs are not accepted (they would show in \
             /proc/mounts and in logs); S3 credentials come from the environment or AWS profile",
            redact(url)
        ));
    }
    if url.contains(['?', '#']) {
        return Err(format!(
            "{url}: URLs with a query (?) or fragment (#) are not supported"
        ));
    }
    Ok(())
}

/// `url` without a user name or password in it (for messages and logs).
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let host_end = rest.find('/').unwrap_or(rest.len());
    match rest[..host_end].rfind('@') {
        Some(at) => format!("{scheme}://{}", &rest[at + 1..]),
        None => url.to_string(),
    }
}

/// tests/python/range_server.py serving `dir` on 127.0.0.1 with `args`;
/// its URL. For tests.
#[cfg(test)]
pub(crate) fn serve(dir: &std::path::Path, args: &[&str]) -> (std::process::Child, String) {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let mut child = Command::new("/usr/bin/python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/python/range_server.py"
        ))
        .arg(dir)
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    (child, line.trim().to_string())
}

/// Bytes the server [`serve`] started at `url` has sent so far. For tests.
#[cfg(test)]
pub(crate) fn served_bytes(url: &str) -> u64 {
    use std::io::{Read, Write};
    let host = url.trim_start_matches("http://");
    let mut c = std::net::TcpStream::connect(host).unwrap();
    write!(c, "GET /__server/stats HTTP/1.0\r\nHost: {host}\r\n\r\n").unwrap();
    let mut answer = String::new();
    c.read_to_string(&mut answer).unwrap();
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    let stats: serde_json::Value = serde_json::from_str(body).unwrap();
    stats["bytes"].as_u64().unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names_and_passwords_are_not_shown() {
        assert_eq!(
            redact("https://u:secret@host/a/b.h5"),
            "https://host/a/b.h5"
        );
        assert_eq!(redact("http://host/a@b.h5"), "http://host/a@b.h5");
        assert_eq!(redact("not a url"), "not a url");
    }

    #[test]
    fn ranges_of_an_http_object_and_a_replaced_one() {
        let dir = std::env::temp_dir().join(format!("h5fs-remote-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // Long enough for reads in several parts.
        let size = 2 * PART as usize + 1234;
        let data: Vec<u8> = (0..size).map(|i| (i % 253) as u8).collect();
        std::fs::write(dir.join("f.bin"), &data).unwrap();
        let (mut server, url) = serve(&dir, &[]);
        let r = Remote::open(&format!("{url}/f.bin"), &Settings::default());
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let r = r.unwrap();
            assert_eq!(r.size(), size as u64);
            let mut buf = vec![0u8; 1000];
            r.read(5000..6000, &mut buf).unwrap();
            assert_eq!(buf, data[5000..6000]);
            let mut all = vec![0u8; size - 7];
            r.read(7..size as u64, &mut all).unwrap();
            assert!(all == data[7..], "a read in parts came back wrong");
            let end = size as u64;
            assert!(r.read(end - 500..end + 500, &mut vec![0u8; 1000]).is_err());
            // Replaced: its ETag changes, and the read says so.
            std::fs::write(dir.join("f.bin"), vec![1u8; size]).unwrap();
            let e = r.read(0..10, &mut [0u8; 10]).unwrap_err();
            assert!(e.contains("changed since it was opened"), "{e}");
            let e = r.read(0..end, &mut vec![0u8; size]).unwrap_err();
            assert!(e.contains("changed since it was opened"), "{e}");
            assert!(Remote::open(&format!("{url}/missing.bin"), &Settings::default()).is_err());
        }));
        let _ = server.kill();
        let _ = server.wait();
        let _ = std::fs::remove_dir_all(&dir);
        result.unwrap();
    }
}
