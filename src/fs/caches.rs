//! What the core keeps between requests: open datasets and rendered
//! contents (sidecars, text views, committed datatypes).
//!
//! A value is built outside the lock (opening a dataset asks a libhdf5
//! worker) and kept only if no change was recorded meanwhile: otherwise a
//! value read before a change could be stored after it, and a stale shape
//! would outlive the change (a later write would then shrink the dataset
//! back, dropping acknowledged bytes).

use std::collections::HashMap;
use std::sync::Arc;

use super::read::OpenDataset;
use crate::tree::Ino;

/// Open datasets kept ready for reads; past this many the cache starts over.
const DATASET_CACHE: usize = 256;
/// Bytes of rendered contents kept; past this the cache starts over.
const CONTENT_CACHE_BYTES: usize = 64 << 20;

#[derive(Default)]
pub struct Caches {
    /// Bumped by every invalidation.
    pub generation: u64,
    /// When the cache was last emptied by [`Caches::expire`].
    emptied: Option<std::time::Instant>,
    pub datasets: HashMap<Ino, Arc<OpenDataset>>,
    pub contents: HashMap<Ino, Arc<Vec<u8>>>,
    content_bytes: usize,
}

impl Caches {
    /// Forget the open dataset `ino` and every rendered content.
    pub fn changed(&mut self, ino: Ino) {
        self.generation += 1;
        self.datasets.remove(&ino);
        self.clear_contents();
    }

    /// Forget everything kept once it is `every` old: for a file that
    /// changes under the mount (an SWMR writer's), sizes and rendered
    /// descriptions are asked again at that pace.
    pub fn expire(&mut self, every: std::time::Duration) {
        let now = std::time::Instant::now();
        if self.emptied.is_none_or(|t| now.duration_since(t) >= every) {
            self.clear();
            self.emptied = Some(now);
        }
    }

    /// Forget every open dataset and rendered content.
    pub fn clear(&mut self) {
        self.generation += 1;
        self.datasets.clear();
        self.clear_contents();
    }

    pub fn clear_contents(&mut self) {
        self.generation += 1;
        self.contents.clear();
        self.content_bytes = 0;
    }

    /// Keep `ds` as dataset `ino` if nothing changed since `generation`.
    pub fn keep_dataset(&mut self, generation: u64, ino: Ino, ds: &Arc<OpenDataset>) {
        if self.generation != generation {
            return;
        }
        if self.datasets.len() >= DATASET_CACHE {
            self.datasets.clear();
        }
        self.datasets.insert(ino, ds.clone());
    }

    /// Keep `bytes` as the content of `ino` if nothing changed since `generation`.
    pub fn keep_content(&mut self, generation: u64, ino: Ino, bytes: &Arc<Vec<u8>>) {
        if self.generation != generation {
            return;
        }
        if self.content_bytes + bytes.len() > CONTENT_CACHE_BYTES {
            self.contents.clear();
            self.content_bytes = 0;
        }
        self.content_bytes += bytes.len();
        self.contents.insert(ino, bytes.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DatasetMeta, Layout, Loc, TypeDesc, Value};

    fn ds(rows: u64) -> Arc<OpenDataset> {
        Arc::new(OpenDataset::new_for_tests(
            Loc::path(b"/d"),
            DatasetMeta {
                ty: TypeDesc::Bool,
                shape: Some(vec![rows]),
                maxshape: Some(vec![None]),
                layout: Layout::Chunked,
                chunks: Some(vec![16]),
                filters: vec![],
                fill: Value::Null,
                sources: Vec::new(),
            },
        ))
    }

    #[test]
    fn a_value_built_before_a_change_is_not_kept_after_it() {
        let mut c = Caches::default();
        // A reader notes the generation, then builds its value...
        let seen = c.generation;
        // ...while a writer resizes the dataset and records the change.
        c.changed(7);
        c.keep_dataset(seen, 7, &ds(10));
        assert!(!c.datasets.contains_key(&7), "a stale shape was kept");
        // Built after the change, it is kept.
        let seen = c.generation;
        c.keep_dataset(seen, 7, &ds(20));
        assert_eq!(c.datasets[&7].meta.shape, Some(vec![20]));
        // Contents follow the same rule.
        let seen = c.generation;
        c.clear_contents();
        c.keep_content(seen, 3, &Arc::new(b"old".to_vec()));
        assert!(c.contents.is_empty());
    }
}
