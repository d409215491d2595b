//! The inodes of a directory mount: each names a path of the directory
//! tree or an inode of one mounted file (by the file's slot), and counts
//! the kernel's lookups of it. An inode is forgotten (and its number not
//! reused) when the kernel forgets it; the root is never forgotten.

use std::collections::HashMap;
use std::path::PathBuf;

use crate::tree::Ino;

/// The root directory of the mount.
pub const ROOT: u64 = 1;

/// What an inode of the mount is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Key {
    /// A directory, plain file or symlink of the tree, relative to its root.
    Path(PathBuf),
    /// Inode `1` of the file in slot `0`.
    Inner(u32, Ino),
}

#[derive(Debug)]
pub struct Inodes {
    by_ino: HashMap<u64, (Key, u64)>,
    by_key: HashMap<Key, u64>,
    next: u64,
}

impl Default for Inodes {
    fn default() -> Self {
        let root = Key::Path(PathBuf::new());
        Inodes {
            by_ino: HashMap::from([(ROOT, (root.clone(), 1))]),
            by_key: HashMap::from([(root, ROOT)]),
            next: ROOT + 1,
        }
    }
}

impl Inodes {
    pub fn key(&self, ino: u64) -> Option<&Key> {
        self.by_ino.get(&ino).map(|(k, _)| k)
    }

    /// The inode of `key` if the kernel knows it.
    pub fn peek(&self, key: &Key) -> Option<u64> {
        self.by_key.get(key).copied()
    }

    /// The inode of `key`, made if new, with one more lookup counted; and
    /// whether it is new.
    pub fn remember(&mut self, key: Key) -> (u64, bool) {
        if let Some(&ino) = self.by_key.get(&key) {
            if let Some(e) = self.by_ino.get_mut(&ino) {
                e.1 += 1;
            }
            return (ino, false);
        }
        let ino = self.next;
        self.next += 1;
        self.by_key.insert(key.clone(), ino);
        self.by_ino.insert(ino, (key, 1));
        (ino, true)
    }

    /// The kernel forgets `n` lookups of `ino`: the key, if that was the last.
    pub fn forget(&mut self, ino: u64, n: u64) -> Option<Key> {
        if ino == ROOT {
            return None;
        }
        let e = self.by_ino.get_mut(&ino)?;
        e.1 = e.1.saturating_sub(n);
        if e.1 > 0 {
            return None;
        }
        let (key, _) = self.by_ino.remove(&ino)?;
        self.by_key.remove(&key);
        Some(key)
    }

    /// How many inodes the kernel holds (the root included).
    pub fn count(&self) -> usize {
        self.by_ino.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inodes_live_until_the_kernel_forgets_every_lookup() {
        let mut t = Inodes::default();
        assert_eq!(t.key(ROOT), Some(&Key::Path(PathBuf::new())));
        let a = Key::Inner(3, 7);
        let (ino, new) = t.remember(a.clone());
        assert!(new && ino > ROOT);
        assert_eq!(t.remember(a.clone()), (ino, false));
        assert_eq!(t.forget(ino, 1), None);
        assert_eq!(t.peek(&a), Some(ino));
        assert_eq!(t.forget(ino, 1), Some(a.clone()));
        assert_eq!(t.peek(&a), None);
        let (again, new) = t.remember(a);
        assert!(new && again != ino, "numbers are not reused");
        assert_eq!(t.forget(ROOT, 5), None);
        assert_eq!(t.forget(12345, 1), None);
        assert_eq!(t.count(), 2);
    }
}
