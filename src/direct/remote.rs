//! A remote object as a [`ByteSource`], with read-ahead for readers that go
//! through it in order.
//!
//! A read that continues where the last one ended (or lands in a block
//! already asked for) is served from 4 MiB blocks, and the blocks after it
//! are fetched meanwhile, several at once: a sequential reader waits on one
//! round trip per window, not per read. The window opens as the reader goes
//! on (1, 2, 4, ... [`WINDOW`] blocks at its first, second, third ... read in
//! order), so a program that reads a file's first bytes only costs little.
//! Any other read, the first included, asks for exactly its bytes (with
//! `cache_dir=`, the blocks it falls in, no more, which are kept on disk).
//! Blocks are few and bounded ([`KEEP`] per file, [`BUDGET`] in all: past
//! it, read-ahead stops and the blocks of the files read least recently go),
//! those behind the reader are dropped (a file read through keeps next to
//! nothing); a failed block is dropped, so the next read asks again.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::{Duration, Instant};

use super::source::ByteSource;
use crate::remote::{Remote, Settings, BLOCK};
/// Blocks fetched ahead of a sequential reader.
const WINDOW: u64 = 16;
/// Blocks kept at most (fetched ahead or recently read).
const KEEP: usize = WINDOW as usize + 8;
/// Blocks kept behind a sequential reader.
const BEHIND: u64 = 4;
/// Longest a reader waits for a block (a request is bounded by 60 s).
const WAIT: Duration = Duration::from_secs(90);
/// Bytes of blocks every remote file of the process holds or has asked
/// for: past this, read-ahead stops and the blocks of the files read least
/// recently are dropped (the blocks a read needs are asked for anyway).
const BUDGET: u64 = 512 << 20;

/// Bytes of blocks held or asked for, by every remote file of the process.
static HELD: AtomicU64 = AtomicU64::new(0);

type Shared = (Mutex<Blocks>, Condvar);

/// Every remote file of the process, to take room from.
static FILES: Mutex<Vec<Weak<Shared>>> = Mutex::new(Vec::new());

enum Slot {
    Pending,
    Ready(Arc<Vec<u8>>),
    Failed(String),
}

#[derive(Default)]
struct Blocks {
    slots: HashMap<u64, (Slot, u64)>,
    /// Where the last read ended.
    last_end: Option<u64>,
    /// Reads in order since the last that was not.
    streak: u32,
    clock: u64,
    /// When last read.
    used: Option<Instant>,
}

impl Blocks {
    /// Drop the blocks `keep` says no to; what they held is free again.
    fn retain(&mut self, keep: impl FnMut(&u64, &mut (Slot, u64)) -> bool) {
        let before = self.slots.len();
        self.slots.retain(keep);
        HELD.fetch_sub(
            (before - self.slots.len()) as u64 * BLOCK,
            Ordering::Relaxed,
        );
    }
}

impl Drop for Blocks {
    fn drop(&mut self) {
        HELD.fetch_sub(self.slots.len() as u64 * BLOCK, Ordering::Relaxed);
    }
}

/// A remote object (`http(s)://`, `s3://`), read by byte range at the ETag
/// it had when opened (src/remote).
pub struct RemoteFile {
    remote: Arc<Remote>,
    blocks: Arc<Shared>,
}

impl RemoteFile {
    pub fn open(url: &str, settings: &Settings) -> std::io::Result<RemoteFile> {
        let remote = Remote::open(url, settings).map_err(std::io::Error::other)?;
        let blocks: Arc<Shared> = Arc::default();
        let mut files = FILES.lock().unwrap_or_else(|e| e.into_inner());
        files.retain(|f| f.strong_count() > 0);
        files.push(Arc::downgrade(&blocks));
        Ok(RemoteFile {
            remote: Arc::new(remote),
            blocks,
        })
    }

    /// Past [`BUDGET`], drop the blocks (those not in flight) of the other
    /// files, least recently read first, until a quarter of it is free. A
    /// file busy meanwhile is passed over.
    fn make_room(&self) {
        if HELD.load(Ordering::Relaxed) <= BUDGET {
            return;
        }
        let others: Vec<Arc<Shared>> = FILES
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter_map(Weak::upgrade)
            .filter(|f| !Arc::ptr_eq(f, &self.blocks))
            .collect();
        let mut by_use: Vec<(Option<Instant>, &Arc<Shared>)> = others
            .iter()
            .filter_map(|f| f.0.try_lock().ok().map(|b| (b.used, f)))
            .collect();
        by_use.sort_by_key(|(used, _)| *used);
        for (_, f) in by_use {
            if HELD.load(Ordering::Relaxed) <= BUDGET / 4 * 3 {
                break;
            }
            if let Ok(mut b) = f.0.try_lock() {
                b.retain(|_, (s, _)| matches!(s, Slot::Pending));
            }
        }
    }

    /// The version of the object read ([`crate::remote::version_id`]).
    pub fn version(&self) -> u64 {
        self.remote.version()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Blocks> {
        self.blocks.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Ask for block `i` unless it is there or asked for already, or it
    /// is not `needed` (read ahead) and the [`BUDGET`] is spent.
    fn start(&self, b: &mut Blocks, i: u64, needed: bool) {
        let size = self.remote.size();
        let start = i * BLOCK;
        if start >= size || b.slots.contains_key(&i) {
            return;
        }
        let room = HELD.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |h| {
            (needed || h + BLOCK <= BUDGET).then_some(h + BLOCK)
        });
        if room.is_err() {
            return;
        }
        b.clock += 1;
        b.slots.insert(i, (Slot::Pending, b.clock));
        let blocks = self.blocks.clone();
        self.remote
            .fetch(start..(start + BLOCK).min(size), move |got| {
                let mut b = blocks.0.lock().unwrap_or_else(|e| e.into_inner());
                if let Some((slot, _)) = b.slots.get_mut(&i) {
                    *slot = match got {
                        Ok(v) => Slot::Ready(Arc::new(v)),
                        Err(e) => Slot::Failed(e),
                    };
                }
                blocks.1.notify_all();
            });
    }

    /// Past [`KEEP`] blocks, drop the least recently used of those that are
    /// neither in flight nor in `wanted` (the blocks of the read in hand and
    /// those fetched ahead of it, which a reader is about to use).
    fn trim(b: &mut Blocks, wanted: std::ops::RangeInclusive<u64>) {
        // A reader going in order does not come back: what it passed (more
        // than a few blocks behind it, as the kernel's reads may come out of
        // order, and within a window) goes; the kernel keeps what it read.
        // Blocks further away may be another reader's.
        let behind = wanted.start().saturating_sub(BEHIND);
        let passed = behind.saturating_sub(2 * WINDOW)..behind;
        b.retain(|i, (s, _)| !passed.contains(i) || matches!(s, Slot::Pending));
        while b.slots.len() > KEEP {
            let oldest = b
                .slots
                .iter()
                .filter(|(i, (s, _))| !matches!(s, Slot::Pending) && !wanted.contains(*i))
                .min_by_key(|(_, (_, used))| *used)
                .map(|(i, _)| *i);
            match oldest {
                Some(i) => b.retain(|j, _| *j != i),
                None => break,
            }
        }
    }

    /// Block `i`, waiting for it to arrive.
    fn wait(
        &self,
        mut b: std::sync::MutexGuard<'_, Blocks>,
        i: u64,
    ) -> std::io::Result<Arc<Vec<u8>>> {
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            b.clock += 1;
            let now = b.clock;
            match b.slots.get_mut(&i) {
                Some((Slot::Ready(v), used)) => {
                    *used = now;
                    return Ok(v.clone());
                }
                Some((Slot::Failed(e), _)) => {
                    let e = e.clone();
                    b.retain(|j, _| *j != i);
                    return Err(std::io::Error::other(e));
                }
                Some((Slot::Pending, _)) => {}
                None => self.start(&mut b, i, true),
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Err(std::io::Error::from(std::io::ErrorKind::TimedOut));
            }
            b = self
                .blocks
                .1
                .wait_timeout(b, left)
                .map_or_else(|e| e.into_inner().0, |r| r.0);
        }
    }
}

impl ByteSource for RemoteFile {
    fn read_at(&self, out: &mut Vec<u8>, len: usize, offset: u64) -> std::io::Result<()> {
        let end = offset
            .checked_add(len as u64)
            .filter(|e| *e <= self.remote.size())
            .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::UnexpectedEof))?;
        if len == 0 {
            return Ok(());
        }
        let (first, last) = (offset / BLOCK, (end - 1) / BLOCK);
        self.make_room();
        let mut b = self.lock();
        b.used = Some(Instant::now());
        let in_order =
            b.last_end.is_some_and(|e| offset.abs_diff(e) <= BLOCK) || b.slots.contains_key(&first);
        b.last_end = Some(end);
        b.streak = if in_order {
            b.streak.saturating_add(1)
        } else {
            0
        };
        // With `cache_dir=` every read goes by blocks, which are kept there.
        let keeps = self.remote.keeps_blocks();
        if !in_order && !keeps {
            drop(b);
            let start = out.len();
            out.resize(start + len, 0);
            return self
                .remote
                .read(offset..end, &mut out[start..])
                .map_err(|e| {
                    out.truncate(start);
                    std::io::Error::other(e)
                });
        }
        let ahead = match b.streak {
            0 => 0,
            n => WINDOW.min(1 << (n - 1).min(WINDOW.ilog2())),
        };
        for i in first..=last + ahead {
            self.start(&mut b, i, i <= last);
        }
        Self::trim(&mut b, first..=last + ahead);
        let start = out.len();
        for i in first..=last {
            let block = match self.wait(b, i) {
                Ok(v) => v,
                Err(e) => {
                    out.truncate(start);
                    return Err(e);
                }
            };
            let from = offset.max(i * BLOCK) - i * BLOCK;
            let to = end.min((i + 1) * BLOCK) - i * BLOCK;
            out.extend_from_slice(&block[from as usize..to as usize]);
            b = self.lock();
        }
        Ok(())
    }

    fn size(&self) -> std::io::Result<u64> {
        Ok(self.remote.size())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_opens_as_a_reader_goes_on_and_its_blocks_are_given_back() {
        let dir = std::env::temp_dir().join(format!("h5fs-ahead-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let size = 40 << 20;
        let data: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
        std::fs::write(dir.join("f.bin"), &data).unwrap();
        let (mut server, url) = crate::remote::serve(&dir, &[]);
        let result = std::panic::catch_unwind(|| {
            let held = HELD.load(Ordering::Relaxed);
            let f = RemoteFile::open(&format!("{url}/f.bin"), &Settings::default()).unwrap();
            // A first read (as `head` or `file` makes) asks for its bytes only.
            let mut out = Vec::new();
            f.read_at(&mut out, 100, 0).unwrap();
            assert_eq!(out, data[..100]);
            // The server counts a body just after sending it; anything
            // fetched ahead would have come meanwhile too.
            std::thread::sleep(Duration::from_millis(300));
            assert_eq!(crate::remote::served_bytes(&url), 100);
            // Then 1, 2 and 4 blocks ahead.
            let step = 128 << 10;
            for k in 0..3 {
                let at = 100 + k * step;
                out.clear();
                f.read_at(&mut out, step, at as u64).unwrap();
                assert_eq!(out, data[at..at + step]);
            }
            assert!(HELD.load(Ordering::Relaxed) - held <= 5 * BLOCK);
            // Read through: every block asked for, nothing wrong.
            let mut at = 100 + 3 * step;
            while at < size {
                let n = step.min(size - at);
                out.clear();
                f.read_at(&mut out, n, at as u64).unwrap();
                assert!(out == data[at..at + n], "bytes at {at}");
                at += n;
            }
            drop(f);
            // What the blocks held is free again once they arrive and go.
            for _ in 0..100 {
                if HELD.load(Ordering::Relaxed) == held {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            assert_eq!(HELD.load(Ordering::Relaxed), held);

            // Past the budget, another file's read takes the blocks of the
            // file read least recently (all but those in flight).
            let url = format!("{url}/f.bin");
            let (a, b) = (
                RemoteFile::open(&url, &Settings::default()).unwrap(),
                RemoteFile::open(&url, &Settings::default()).unwrap(),
            );
            for k in 0..4 {
                out.clear();
                a.read_at(&mut out, step, (k * step) as u64).unwrap();
            }
            let ready = |f: &RemoteFile| {
                f.lock()
                    .slots
                    .values()
                    .filter(|(s, _)| matches!(s, Slot::Ready(_)))
                    .count()
            };
            // Every block of `a` arrived (those in flight are not taken).
            for _ in 0..250 {
                let pending = a
                    .lock()
                    .slots
                    .values()
                    .any(|(s, _)| matches!(s, Slot::Pending));
                if !pending {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            assert!(ready(&a) > 0);
            HELD.fetch_add(BUDGET, Ordering::Relaxed);
            out.clear();
            b.read_at(&mut out, 100, 0).unwrap();
            HELD.fetch_sub(BUDGET, Ordering::Relaxed);
            assert_eq!(ready(&a), 0);
            assert_eq!(out, data[..100]);
        });
        let _ = server.kill();
        let _ = server.wait();
        let _ = std::fs::remove_dir_all(&dir);
        result.unwrap();
    }
}
