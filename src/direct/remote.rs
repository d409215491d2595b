//! A remote object as a [`ByteSource`], with read-ahead for readers that go
//! through it in order.
//!
//! A read that continues where the last one ended (or lands in a block
//! already asked for) is served from 4 MiB blocks, and the blocks after it
//! are fetched meanwhile, several at once: a sequential reader waits on one
//! round trip per window, not per read. Any other read asks for exactly its
//! bytes. Blocks are few and bounded ([`KEEP`]), those behind the reader are
//! dropped (a file read through keeps next to nothing); a failed block is
//! dropped, so the next read asks again.

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use super::source::ByteSource;
use crate::remote::{Remote, Settings};

/// Size of a read-ahead block.
const BLOCK: u64 = 4 << 20;
/// Blocks fetched ahead of a sequential reader.
const WINDOW: u64 = 16;
/// Blocks kept at most (fetched ahead or recently read).
const KEEP: usize = WINDOW as usize + 8;
/// Blocks kept behind a sequential reader.
const BEHIND: u64 = 4;
/// Longest a reader waits for a block (a request is bounded by 60 s).
const WAIT: Duration = Duration::from_secs(90);

enum Slot {
    Pending,
    Ready(Arc<Vec<u8>>),
    Failed(String),
}

#[derive(Default)]
struct Blocks {
    slots: HashMap<u64, (Slot, u64)>,
    /// Where the last read ended.
    last_end: u64,
    clock: u64,
}

/// A remote object (`http(s)://`, `s3://`), read by byte range at the ETag
/// it had when opened (src/remote).
pub struct RemoteFile {
    remote: Arc<Remote>,
    blocks: Arc<(Mutex<Blocks>, Condvar)>,
}

impl RemoteFile {
    pub fn open(url: &str, settings: &Settings) -> std::io::Result<RemoteFile> {
        let remote = Remote::open(url, settings).map_err(std::io::Error::other)?;
        Ok(RemoteFile {
            remote: Arc::new(remote),
            blocks: Arc::default(),
        })
    }

    /// The version of the object read ([`crate::remote::version_id`]).
    pub fn version(&self) -> u64 {
        self.remote.version()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Blocks> {
        self.blocks.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Ask for block `i` unless it is there or asked for already.
    fn start(&self, b: &mut Blocks, i: u64) {
        let size = self.remote.size();
        let start = i * BLOCK;
        if start >= size || b.slots.contains_key(&i) {
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
        b.slots
            .retain(|i, (s, _)| !passed.contains(i) || matches!(s, Slot::Pending));
        while b.slots.len() > KEEP {
            let oldest = b
                .slots
                .iter()
                .filter(|(i, (s, _))| !matches!(s, Slot::Pending) && !wanted.contains(*i))
                .min_by_key(|(_, (_, used))| *used)
                .map(|(i, _)| *i);
            match oldest {
                Some(i) => b.slots.remove(&i),
                None => break,
            };
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
                    b.slots.remove(&i);
                    return Err(std::io::Error::other(e));
                }
                Some((Slot::Pending, _)) => {}
                None => self.start(&mut b, i),
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
        let mut b = self.lock();
        let in_order = offset.abs_diff(b.last_end) <= BLOCK || b.slots.contains_key(&first);
        b.last_end = end;
        if !in_order {
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
        for i in first..=last + WINDOW {
            self.start(&mut b, i);
        }
        Self::trim(&mut b, first..=last + WINDOW);
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
