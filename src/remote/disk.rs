//! Blocks of remote objects kept on disk (`-o cache_dir=PATH`), bounded in
//! size, shared by every process that names the same directory: a mount
//! reads again what an earlier one read without asking the server.
//!
//! A block is one file, `DIR/h5fs-blocks/HASH-INDEX`: a header that names
//! the object exactly (endpoint, URL, ETag and size) and the block, a CRC-32
//! of the bytes, then the bytes. A file whose header names another object
//! or block, or whose bytes fail their CRC, is a miss, never served. Files
//! are written aside and renamed into place, so a reader sees a whole block
//! or none. Past the bound the least recently used blocks go (by mtime: a
//! hit touches its file); nothing else in the directory is touched.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

/// The subdirectory of `cache_dir=` that h5fs keeps its blocks in.
const SUB: &str = "h5fs-blocks";
const MAGIC: &[u8; 8] = b"h5fsblk1";
/// A file being written that is older than this was left by a process that
/// stopped: it is removed.
const STALE: Duration = Duration::from_secs(600);
/// How often a process that writes blocks counts what the others wrote.
const RECOUNT: Duration = Duration::from_secs(1);

/// Blocks handed to [`DiskCache::put_later`] and not yet written.
static WRITING: AtomicU64 = AtomicU64::new(0);

pub struct DiskCache {
    dir: PathBuf,
    /// Who the blocks belong to (this process's user).
    owner: u32,
    limit: u64,
    /// Bytes of blocks in the directory as this process last counted them
    /// (when), plus what it wrote since. Other processes write too: counted
    /// again past the limit, or [`RECOUNT`] after the last count.
    estimate: Mutex<(u64, Instant)>,
    seq: AtomicU64,
    warned: AtomicBool,
}

impl DiskCache {
    /// The cache in `dir` (created if missing) holding at most `limit_mib`
    /// MiB of blocks; one per directory in a process.
    pub fn shared(dir: &Path, limit_mib: u64) -> Result<Arc<DiskCache>, String> {
        static OPEN: OnceLock<Mutex<HashMap<PathBuf, Arc<DiskCache>>>> = OnceLock::new();
        let mut open = OPEN
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(c) = open.get(dir) {
            return Ok(c.clone());
        }
        let c = Arc::new(DiskCache::open(dir, limit_mib.saturating_mul(1 << 20))?);
        open.insert(dir.to_path_buf(), c.clone());
        Ok(c)
    }

    fn open(dir: &Path, limit: u64) -> Result<DiskCache, String> {
        let sub = dir.join(SUB);
        let fail =
            |what: &str, e: std::io::Error| format!("cache_dir={}: {what}: {e}", dir.display());
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&sub)
            .map_err(|e| fail("cannot create it", e))?;
        let owner = crate::sys::ids().0;
        let meta = std::fs::metadata(&sub).map_err(|e| fail("cannot read it", e))?;
        if meta.uid() != owner || meta.mode() & 0o022 != 0 {
            return Err(format!(
                "cache_dir={}: {} belongs to another user or others may write in it: \
                 its blocks could be anyone's",
                dir.display(),
                sub.display()
            ));
        }
        let cache = DiskCache {
            dir: sub,
            owner,
            limit,
            estimate: Mutex::new((0, Instant::now())),
            seq: AtomicU64::new(0),
            warned: AtomicBool::new(false),
        };
        // Can blocks be written there?
        let (probe, _) = cache.aside().map_err(|e| fail("cannot write in it", e))?;
        let _ = std::fs::remove_file(&probe);
        *cache.estimate.lock().unwrap_or_else(|e| e.into_inner()) = (cache.trim(), Instant::now());
        Ok(cache)
    }

    /// A new file (0600) to write a block in before it is renamed into
    /// place, never one another process writes (processes of other PID
    /// namespaces may share the directory).
    fn aside(&self) -> std::io::Result<(PathBuf, File)> {
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let mut tries = 0;
        loop {
            let n = self.seq.fetch_add(1, Ordering::Relaxed);
            let path = self
                .dir
                .join(format!(".tmp-{}-{n}-{nanos}", std::process::id()));
            match File::options()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
            {
                Ok(f) => return Ok((path, f)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && tries < 8 => tries += 1,
                Err(e) => return Err(e),
            }
        }
    }

    fn path(&self, object: &str, index: u64) -> PathBuf {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        object.hash(&mut h);
        self.dir.join(format!("{:016x}-{index}", h.finish()))
    }

    /// Block `index` of `object` (what [`identity`] gives), `len` bytes,
    /// if kept and whole.
    pub fn get(&self, object: &str, index: u64, len: usize) -> Option<Vec<u8>> {
        let path = self.path(object, index);
        let mut f = File::open(&path).ok()?;
        let expect = header(object, index, len as u64, 0).len() as u64 + len as u64;
        let meta = f.metadata().ok()?;
        if meta.len() != expect || meta.uid() != self.owner {
            return None;
        }
        let mut head = vec![0u8; (expect - len as u64) as usize];
        f.read_exact(&mut head).ok()?;
        let crc = u32::from_le_bytes(head[head.len() - 4..].try_into().ok()?);
        if head != header(object, index, len as u64, crc) {
            return None;
        }
        let mut bytes = vec![0u8; len];
        f.read_exact(&mut bytes).ok()?;
        if libdeflater::crc32(&bytes) != crc {
            return None;
        }
        // Used: the last to go.
        let _ = f.set_modified(SystemTime::now());
        Some(bytes)
    }

    /// Keep block `index` of `object`; a failure (a full disk) is logged
    /// once and otherwise ignored: the cache is only a cache.
    pub fn put(&self, object: &str, index: u64, bytes: &[u8]) {
        let head = header(object, index, bytes.len() as u64, libdeflater::crc32(bytes));
        let mut aside = None;
        let written = self.aside().and_then(|(path, mut f)| {
            aside = Some(path.clone());
            f.write_all(&head)?;
            f.write_all(bytes)?;
            std::fs::rename(&path, self.path(object, index))
        });
        if let Err(e) = written {
            if let Some(path) = aside {
                let _ = std::fs::remove_file(path);
            }
            if !self.warned.swap(true, Ordering::Relaxed) {
                log::warn!("cache_dir {}: cannot keep a block: {e}", self.dir.display());
            }
            return;
        }
        let mut estimate = self.estimate.lock().unwrap_or_else(|e| e.into_inner());
        estimate.0 += (head.len() + bytes.len()) as u64;
        if estimate.0 > self.limit || estimate.1.elapsed() > RECOUNT {
            *estimate = (self.trim(), Instant::now());
        }
    }

    /// [`DiskCache::put`] on the runtime's threads for blocking work, off
    /// the caller's (which has the bytes to hand on), or here if not on a
    /// runtime; [`DiskCache::settle`] waits for it.
    pub fn put_later(self: &Arc<Self>, object: String, index: u64, bytes: Vec<u8>) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return self.put(&object, index, &bytes);
        };
        WRITING.fetch_add(1, Ordering::AcqRel);
        let cache = self.clone();
        drop(runtime.spawn_blocking(move || {
            cache.put(&object, index, &bytes);
            WRITING.fetch_sub(1, Ordering::AcqRel);
        }));
    }

    /// Wait, `most` at longest, for the blocks [`DiskCache::put_later`] was
    /// given to be written (before the process ends).
    pub fn settle(most: Duration) {
        let until = Instant::now() + most;
        while WRITING.load(Ordering::Acquire) > 0 && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Remove the least recently used blocks until they take at most 90%
    /// of the limit (and files left half-written long ago); the bytes kept.
    fn trim(&self) -> u64 {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return 0;
        };
        let now = SystemTime::now();
        let mut blocks = Vec::new();
        for e in entries.flatten() {
            let name = e.file_name();
            let name = name.to_string_lossy();
            let Ok(meta) = e.metadata() else { continue };
            let used = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
            if meta.uid() != self.owner || !meta.is_file() {
                continue;
            }
            if is_aside_name(&name) {
                if now.duration_since(used).is_ok_and(|age| age > STALE) {
                    let _ = std::fs::remove_file(e.path());
                }
            } else if is_block_name(&name) {
                blocks.push((used, meta.len(), e.path()));
            }
        }
        let mut total: u64 = blocks.iter().map(|b| b.1).sum();
        if total <= self.limit {
            return total;
        }
        blocks.sort();
        let keep = self.limit / 10 * 9;
        for (_, len, path) in blocks {
            if total <= keep {
                break;
            }
            if std::fs::remove_file(&path).is_ok() {
                total -= len;
            }
        }
        total
    }
}

/// What names one version of an object for the cache: None when it has no
/// ETag (a change could not be told).
pub fn identity(
    endpoint: Option<&str>,
    url: &str,
    etag: Option<&str>,
    size: u64,
) -> Option<String> {
    Some(format!(
        "{}\n{url}\n{}\n{size}",
        endpoint.unwrap_or(""),
        etag?
    ))
}

/// The header of a block file.
fn header(object: &str, index: u64, len: u64, crc: u32) -> Vec<u8> {
    let mut h = MAGIC.to_vec();
    h.extend_from_slice(&(object.len() as u64).to_le_bytes());
    h.extend_from_slice(object.as_bytes());
    h.extend_from_slice(&index.to_le_bytes());
    h.extend_from_slice(&len.to_le_bytes());
    h.extend_from_slice(&crc.to_le_bytes());
    h
}

/// `.tmp-PID-N-NANOS`, a block being written.
fn is_aside_name(name: &str) -> bool {
    name.strip_prefix(".tmp-").is_some_and(|rest| {
        rest.split('-').count() == 3
            && rest
                .split('-')
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    })
}

/// `HASH-INDEX`: 16 hex digits, a dash, decimal digits.
fn is_block_name(name: &str) -> bool {
    name.split_once('-').is_some_and(|(h, i)| {
        h.len() == 16
            && h.bytes().all(|b| b.is_ascii_hexdigit())
            && !i.is_empty()
            && i.bytes().all(|b| b.is_ascii_digit())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("h5fs-disk-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn blocks_come_back_only_for_their_object_and_whole() {
        let dir = scratch("whole");
        let c = DiskCache::open(&dir, 1 << 30).unwrap();
        let a = identity(None, "s3://b/k", Some("\"e1\""), 100).unwrap();
        let b = identity(None, "s3://b/k", Some("\"e2\""), 100).unwrap();
        let bytes: Vec<u8> = (0..100u8).collect();
        c.put(&a, 3, &bytes);
        assert_eq!(c.get(&a, 3, 100), Some(bytes.clone()));
        assert_eq!(c.get(&a, 2, 100), None);
        assert_eq!(c.get(&a, 3, 99), None);
        assert_eq!(c.get(&b, 3, 100), None, "another version");
        // A damaged block is a miss.
        let path = c.path(&a, 3);
        let mut raw = std::fs::read(&path).unwrap();
        let last = raw.len() - 1;
        raw[last] ^= 1;
        std::fs::write(&path, raw).unwrap();
        assert_eq!(c.get(&a, 3, 100), None);
        assert!(identity(None, "https://h/f.h5", None, 5).is_none());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn past_its_limit_the_least_recently_used_go_and_nothing_else() {
        let dir = scratch("limit");
        std::fs::create_dir_all(dir.join(SUB)).unwrap();
        std::fs::write(dir.join(SUB).join("notes.txt"), b"mine").unwrap();
        let c = DiskCache::open(&dir, 10_000).unwrap();
        let o = identity(Some("http://e"), "s3://b/k", Some("x"), 1).unwrap();
        let block = vec![7u8; 2000];
        for i in 0..4 {
            c.put(&o, i, &block);
            std::thread::sleep(Duration::from_millis(20));
        }
        // Block 0 used again: block 1 is now the oldest.
        assert!(c.get(&o, 0, 2000).is_some());
        std::thread::sleep(Duration::from_millis(20));
        c.put(&o, 4, &block);
        c.put(&o, 5, &block);
        let kept: Vec<u64> = (0..6).filter(|i| c.get(&o, *i, 2000).is_some()).collect();
        let total: u64 = std::fs::read_dir(dir.join(SUB))
            .unwrap()
            .flatten()
            .filter(|e| is_block_name(&e.file_name().to_string_lossy()))
            .map(|e| e.metadata().unwrap().len())
            .sum();
        assert!(total <= 10_000, "{total} bytes kept");
        assert!(
            kept.contains(&0) && kept.contains(&5) && !kept.contains(&1),
            "{kept:?}"
        );
        assert!(dir.join(SUB).join("notes.txt").exists());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_blocks_are_the_users_own() {
        use std::os::unix::fs::PermissionsExt;
        let dir = scratch("own");
        let c = DiskCache::open(&dir, 1 << 20).unwrap();
        let o = identity(None, "s3://b/k", Some("x"), 1).unwrap();
        c.put(&o, 0, b"abc");
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir.join(SUB)), 0o700);
        assert_eq!(mode(&c.path(&o, 0)), 0o600);
        assert!(
            is_aside_name(".tmp-12-3-456") && !is_aside_name(".tmp-x") && !is_aside_name(".tmpfoo")
        );
        // A directory others may write in is refused.
        drop(c);
        std::fs::set_permissions(dir.join(SUB), std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = DiskCache::open(&dir, 1 << 20).err().unwrap();
        assert!(e.contains("others may write"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
