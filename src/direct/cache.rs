//! Decoded chunks, most recently used kept, within a byte budget.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Condvar, Mutex};

use crate::model::Result;

/// A chunk: the dataset's number (see [`super::Plan`]) and its grid position.
pub type ChunkKey = (u64, Vec<u64>);

/// Decoded chunks, most recently used kept, within a byte budget. A chunk
/// being decoded is marked, so others wait for it instead of decoding it twice.
pub struct ChunkCache {
    budget: usize,
    inner: Mutex<CacheInner>,
    decoded: Condvar,
}

#[derive(Default)]
struct CacheInner {
    map: HashMap<ChunkKey, Arc<Vec<u8>>>,
    order: VecDeque<ChunkKey>,
    bytes: usize,
    inflight: HashSet<ChunkKey>,
}

impl ChunkCache {
    pub fn new(budget: usize) -> ChunkCache {
        ChunkCache {
            budget,
            inner: Mutex::new(CacheInner::default()),
            decoded: Condvar::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CacheInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The chunk from the cache, else made by `make` (once, however many ask).
    pub fn get_or_make(
        &self,
        key: &ChunkKey,
        make: impl FnOnce() -> Result<Vec<u8>>,
    ) -> Result<Arc<Vec<u8>>> {
        let mut c = self.lock();
        loop {
            if let Some(d) = c.map.get(key) {
                return Ok(d.clone());
            }
            if !c.inflight.contains(key) {
                break;
            }
            c = self.decoded.wait(c).unwrap_or_else(|e| e.into_inner());
        }
        c.inflight.insert(key.clone());
        drop(c);
        let made = make().map(Arc::new);
        let mut c = self.lock();
        c.inflight.remove(key);
        if let Ok(d) = &made {
            self.insert(&mut c, key.clone(), d.clone());
        }
        drop(c);
        self.decoded.notify_all();
        made
    }

    /// Whether the chunk is cached or being decoded.
    pub fn known(&self, key: &ChunkKey) -> bool {
        let c = self.lock();
        c.map.contains_key(key) || c.inflight.contains(key)
    }

    fn insert(&self, c: &mut CacheInner, key: ChunkKey, data: Arc<Vec<u8>>) {
        if data.len() > self.budget || c.map.contains_key(&key) {
            return;
        }
        c.bytes += data.len();
        c.order.push_back(key.clone());
        c.map.insert(key, data);
        while c.bytes > self.budget {
            let Some(old) = c.order.pop_front() else {
                break;
            };
            if let Some(d) = c.map.remove(&old) {
                c.bytes -= d.len();
            }
        }
    }
}
