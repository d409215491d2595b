//! Files behind HTTP(S) (and, next, in S3-compatible storage), read by byte
//! range with `object_store`, from synchronous code: a small private tokio
//! runtime runs each request, bounded in time.
//!
//! An object is pinned to the ETag it had when opened: every range is
//! asked with `If-Match`, so an object replaced meanwhile fails the read
//! (never a mix of old and new bytes).

use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use object_store::http::HttpBuilder;
use object_store::path::Path as StorePath;
use object_store::{ClientOptions, GetOptions, GetRange, ObjectStore, ObjectStoreExt, RetryConfig};

/// Longest a request may take, retries included.
const REQUEST_LIMIT: Duration = Duration::from_secs(60);

pub struct Remote {
    runtime: tokio::runtime::Runtime,
    store: Arc<dyn ObjectStore>,
    path: StorePath,
    /// What the object was called, for messages (no secrets in it).
    shown: String,
    size: u64,
    etag: Option<String>,
}

impl Remote {
    /// Open `url` (`http://` or `https://`): its size and ETag are read now.
    pub fn open(url: &str) -> Result<Remote, String> {
        let (base, name) = match url.rsplit_once('/') {
            Some((b, n))
                if !n.is_empty() && (url.starts_with("http://") || url.starts_with("https://")) =>
            {
                (b, n)
            }
            _ => return Err(format!("{url}: not an http:// or https:// URL of a file")),
        };
        let options = ClientOptions::new()
            .with_allow_http(true)
            .with_timeout(Duration::from_secs(30))
            .with_connect_timeout(Duration::from_secs(10));
        let retry = RetryConfig {
            max_retries: 5,
            retry_timeout: Duration::from_secs(30),
            ..Default::default()
        };
        let store = HttpBuilder::new()
            .with_url(base)
            .with_client_options(options)
            .with_retry(retry)
            .build()
            .map_err(|e| format!("{}: {e}", redact(url)))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the HTTP client: {e}"))?;
        let mut r = Remote {
            runtime,
            store: Arc::new(store),
            path: StorePath::from(name),
            shown: redact(url),
            size: 0,
            etag: None,
        };
        let meta = r.run(r.store.head(&r.path))?;
        r.size = meta.size;
        r.etag = meta.e_tag;
        Ok(r)
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Run one request within [`REQUEST_LIMIT`].
    fn run<T>(
        &self,
        f: impl std::future::Future<Output = object_store::Result<T>>,
    ) -> Result<T, String> {
        self.runtime.block_on(async {
            match tokio::time::timeout(REQUEST_LIMIT, f).await {
                Ok(Ok(v)) => Ok(v),
                Ok(Err(e)) => Err(explain(&self.shown, e)),
                Err(_) => Err(format!(
                    "{}: no answer within {} s",
                    self.shown,
                    REQUEST_LIMIT.as_secs()
                )),
            }
        })
    }

    /// The bytes of `range` (within the object), as they were when opened.
    pub fn read(&self, range: Range<u64>, buf: &mut [u8]) -> Result<(), String> {
        if range.end > self.size || (range.end - range.start) as usize != buf.len() {
            return Err(format!(
                "{}: range {range:?} outside the object",
                self.shown
            ));
        }
        if buf.is_empty() {
            return Ok(());
        }
        let opts = GetOptions {
            range: Some(GetRange::Bounded(range.clone())),
            if_match: self.etag.clone(),
            ..Default::default()
        };
        let store = self.store.clone();
        let path = self.path.clone();
        let bytes = self.run(async move { store.get_opts(&path, opts).await?.bytes().await })?;
        if bytes.len() != buf.len() {
            return Err(format!(
                "{}: asked for {} bytes at {}, got {}",
                self.shown,
                buf.len(),
                range.start,
                bytes.len()
            ));
        }
        buf.copy_from_slice(&bytes);
        Ok(())
    }
}

/// Check at mount that `url` can be read by range: one line a user can act
/// on if not (missing, refused, no range support, unreachable).
pub fn probe(url: &str) -> Result<(), String> {
    let r = Remote::open(url)?;
    let n = r.size().min(1);
    r.read(0..n, &mut vec![0u8; n as usize])
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
        e => format!("{shown}: {e}"),
    }
}

/// `url` without a user name or password in it (for messages and logs).
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let host_end = rest.find('/').unwrap_or(rest.len());
    match rest[..host_end].rfind('@') {
        Some(at) => format!("{scheme}://{}", &rest[at + 1..]),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    #[test]
    fn user_names_and_passwords_are_not_shown() {
        assert_eq!(
            redact("https://u:secret@host/a/b.h5"),
            "https://host/a/b.h5"
        );
        assert_eq!(redact("http://host/a@b.h5"), "http://host/a@b.h5");
        assert_eq!(redact("not a url"), "not a url");
    }

    /// tests/python/range_server.py serving `dir` on 127.0.0.1; its URL.
    fn serve(dir: &std::path::Path) -> (std::process::Child, String) {
        let mut child = Command::new("/usr/bin/python3")
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/python/range_server.py"
            ))
            .arg(dir)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        (child, line.trim().to_string())
    }

    #[test]
    fn ranges_of_an_http_object_and_a_replaced_one() {
        let dir = std::env::temp_dir().join(format!("h5fs-remote-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 253) as u8).collect();
        std::fs::write(dir.join("f.bin"), &data).unwrap();
        let (mut server, url) = serve(&dir);
        let r = Remote::open(&format!("{url}/f.bin"));
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let r = r.unwrap();
            assert_eq!(r.size(), 100_000);
            let mut buf = vec![0u8; 1000];
            r.read(5000..6000, &mut buf).unwrap();
            assert_eq!(buf, data[5000..6000]);
            assert!(r.read(99_500..100_500, &mut vec![0u8; 1000]).is_err());
            // Replaced: its ETag changes, and the read says so.
            std::fs::write(dir.join("f.bin"), vec![1u8; 100_000]).unwrap();
            let e = r.read(0..10, &mut [0u8; 10]).unwrap_err();
            assert!(e.contains("changed since it was opened"), "{e}");
            assert!(Remote::open(&format!("{url}/missing.bin")).is_err());
        }));
        let _ = server.kill();
        let _ = server.wait();
        let _ = std::fs::remove_dir_all(&dir);
        result.unwrap();
    }
}
