//! The inode table: which HDF5 thing each inode number stands for.
//!
//! Nothing is walked at mount time. A group's listing is built the first time
//! it is looked into, and inodes are handed out then. An object reached under
//! several names (hard links) gets one inode, keyed by its file and address.

pub mod names;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::model::{H5Path, Loc, ObjectKind};

pub use names::{Planned, Target, View};

pub type Ino = u64;

/// How long the sidecar name of a removed dataset can still be unlinked.
const GHOST_LIFETIME: std::time::Duration = std::time::Duration::from_secs(2);
pub const ROOT: Ino = 1;

/// Chunk inodes: this bit, the array's inode, the chunk's index.
const CHUNK_BIT: u64 = 1 << 63;
const CHUNK_INDEX_BITS: u32 = 36;
/// Most chunks an array may have for its chunks to get inodes.
pub const MAX_CHUNK_INDEX: u64 = 1 << CHUNK_INDEX_BITS;
const MAX_CHUNK_ARRAY: u64 = 1 << (63 - CHUNK_INDEX_BITS);

/// The inode of chunk `index` of array `array`, if the numbers fit.
pub fn chunk_ino(array: Ino, index: u64) -> Option<Ino> {
    (array < MAX_CHUNK_ARRAY && index < MAX_CHUNK_INDEX)
        .then_some(CHUNK_BIT | array << CHUNK_INDEX_BITS | index)
}

/// The inode of the object an inode stands for: a chunk's array, else itself.
pub fn object_ino(ino: Ino) -> Ino {
    if ino & CHUNK_BIT != 0 {
        (ino & !CHUNK_BIT) >> CHUNK_INDEX_BITS
    } else {
        ino
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeKind {
    Group,
    Dataset,
    Datatype,
    /// A view (the JSON sidecar, a header file...) of the dataset with
    /// this inode, shown in directory `dir` beside the dataset's name `name`
    /// (for the sidecar, the first such place: it is one inode for all).
    View {
        dataset: Ino,
        view: View,
        dir: Ino,
        name: Vec<u8>,
    },
    Symlink {
        target: Vec<u8>,
    },
    /// A file being written that becomes a dataset when closed (NAME.npy,
    /// a new NAME.json); it lives only in the mount until then.
    Pending,
    /// A dataset shown as a Zarr array: a directory (`-o zarr`).
    Array,
    /// Chunk `index` (C order in the chunk grid) of the Zarr array `array`.
    /// Chunk inodes are not kept: their numbers say what they are.
    Chunk {
        array: Ino,
        index: u64,
    },
}

#[derive(Debug, Clone)]
pub struct Node {
    pub kind: NodeKind,
    /// The path (from the root of the mounted file) by which the object was
    /// first reached; for a sidecar, its dataset's path.
    pub path: H5Path,
    /// Hard link count of the object (a sidecar has its dataset's, a symlink 1).
    pub links: u32,
    /// Modification time recorded in the file, 0 if none.
    pub mtime: i64,
    /// Which file holds the object: 0 for the mounted file (see `ObjectInfo::file`).
    pub file: u64,
    /// The object's address in its file (0 for nodes that are not objects).
    pub addr: u64,
}

impl Node {
    /// How to open the object: by address in the mounted file, else by path.
    pub fn loc(&self) -> Loc {
        Loc {
            path: self.path.clone(),
            addr: (self.file == 0 && self.addr != 0).then_some(self.addr),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryType {
    Directory,
    File,
    Symlink,
}

impl NodeKind {
    pub fn entry_type(&self) -> EntryType {
        match self {
            NodeKind::Group | NodeKind::Array => EntryType::Directory,
            NodeKind::Symlink { .. } => EntryType::Symlink,
            _ => EntryType::File,
        }
    }
}

#[derive(Debug, Clone)]
pub struct DirEntry {
    pub name: Vec<u8>,
    pub ino: Ino,
    pub kind: EntryType,
}

/// A group's entries in order, with a name index.
#[derive(Debug, Default)]
pub struct Listing {
    pub entries: Vec<DirEntry>,
    /// Positions in `entries` sorted by name (equal names in entry order), so
    /// a lookup is a binary search and no name is stored twice.
    index: Vec<u32>,
}

impl Listing {
    pub fn new(entries: Vec<DirEntry>) -> Listing {
        let mut index: Vec<u32> = (0..entries.len() as u32).collect();
        index.sort_by(|a, b| entries[*a as usize].name.cmp(&entries[*b as usize].name));
        Listing { entries, index }
    }

    /// The entry called `name` (the last one, should a name appear twice).
    pub fn get(&self, name: &[u8]) -> Option<&DirEntry> {
        let after = self
            .index
            .partition_point(|i| self.entries[*i as usize].name.as_slice() <= name);
        let e = &self.entries[*self.index.get(after.checked_sub(1)?)? as usize];
        (e.name == name).then_some(e)
    }
}

/// What the filesystem found for one link, ready to be given an inode.
#[derive(Debug, Clone)]
pub struct Found {
    pub kind: ObjectKind,
    /// (file number, address): the object's identity.
    pub key: (u64, u64),
    pub path: H5Path,
    pub links: u32,
    pub mtime: i64,
}

#[derive(Default)]
struct Inner {
    /// Datasets are Zarr arrays (directories), not files.
    zarr: bool,
    /// The inode of `nodes[1]`; the root (`nodes[0]`) is always [`ROOT`].
    first: Ino,
    nodes: Vec<Arc<Node>>,
    by_object: HashMap<(u64, u64), Ino>,
    /// The inode of each view of a dataset: (dataset, view, directory,
    /// dataset's name there), the last two empty for the shared sidecar.
    views: HashMap<(Ino, View, Ino, Vec<u8>), Ino>,
    listings: HashMap<Ino, Arc<Listing>>,
    /// Files being written that are not datasets yet: (directory, name) -> inode.
    pending: HashMap<(Ino, Vec<u8>), Ino>,
    /// Sidecar names of datasets just removed, still found by lookup (not by
    /// readdir) for a moment, until the directory is listed again or they
    /// are unlinked: `rm -r` unlinks every name it listed, and a sidecar
    /// vanishes with its dataset.
    ghosts: HashMap<(Ino, Vec<u8>), std::time::Instant>,
}

pub struct Tree {
    inner: Mutex<Inner>,
}

impl Tree {
    pub fn new(root_key: (u64, u64), root_links: u32, root_mtime: i64) -> Tree {
        Tree::with_mode(root_key, root_links, root_mtime, false)
    }

    /// A tree whose datasets are Zarr arrays if `zarr`.
    pub fn with_mode(root_key: (u64, u64), root_links: u32, root_mtime: i64, zarr: bool) -> Tree {
        let mut inner = Inner {
            zarr,
            first: ROOT + 1,
            ..Inner::default()
        };
        inner.nodes.push(Arc::new(Node {
            kind: NodeKind::Group,
            path: b"/".to_vec(),
            links: root_links,
            mtime: root_mtime,
            file: root_key.0,
            addr: root_key.1,
        }));
        inner.by_object.insert(root_key, ROOT);
        Tree {
            inner: Mutex::new(inner),
        }
    }

    /// Number the objects from `first` on (the root stays [`ROOT`]), so that
    /// they share no inode with an earlier tree of the same mount. Only
    /// while the tree holds nothing but its root: false otherwise.
    pub fn number_from(&self, first: Ino) -> bool {
        let mut inner = self.lock();
        if inner.nodes.len() > 1 {
            return false;
        }
        inner.first = first.max(ROOT + 1);
        true
    }

    /// The inode of the first object below the root.
    pub fn first_ino(&self) -> Ino {
        self.lock().first
    }

    /// The inode the next object would get.
    pub fn next_ino(&self) -> Ino {
        let inner = self.lock();
        inner.first + inner.nodes.len() as Ino - 1
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding this lock would be a bug; the table stays usable.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn node(&self, ino: Ino) -> Option<Arc<Node>> {
        if ino & CHUNK_BIT != 0 {
            let array = object_ino(ino);
            let a = self.node(array).filter(|a| a.kind == NodeKind::Array)?;
            return Some(Arc::new(Node {
                kind: NodeKind::Chunk {
                    array,
                    index: ino & (MAX_CHUNK_INDEX - 1),
                },
                path: a.path.clone(),
                links: 1,
                mtime: a.mtime,
                file: a.file,
                addr: 0,
            }));
        }
        self.lock().node(ino).cloned()
    }

    /// The inode of the object with this identity, if it has one yet.
    pub fn ino_of(&self, key: (u64, u64)) -> Option<Ino> {
        self.lock().by_object.get(&key).copied()
    }

    pub fn len(&self) -> usize {
        self.lock().nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn listing(&self, dir: Ino) -> Option<Arc<Listing>> {
        self.lock().listings.get(&dir).cloned()
    }

    /// Store a listing of `dir` made elsewhere (a Zarr array's, whose chunk
    /// inodes need no table); another thread's stored meanwhile is kept.
    pub fn insert_entries(&self, dir: Ino, entries: Vec<DirEntry>) -> Arc<Listing> {
        let mut inner = self.lock();
        if let Some(l) = inner.listings.get(&dir) {
            return l.clone();
        }
        let listing = Arc::new(Listing::new(entries));
        inner.listings.insert(dir, listing.clone());
        listing
    }

    /// Store the listing of `dir` built from `plan`, giving inodes to new
    /// objects. If another thread stored one meanwhile, that one is kept.
    pub fn insert_listing(&self, dir: Ino, plan: Vec<Planned<Found>>) -> Arc<Listing> {
        let mut last_name: Vec<u8> = Vec::new();
        let mut inner = self.lock();
        if let Some(l) = inner.listings.get(&dir) {
            return l.clone();
        }
        let mut entries = Vec::with_capacity(plan.len());
        for item in plan {
            let (name, ino, kind) = match item {
                Planned::Entry {
                    name,
                    target: Target::Object { id, .. },
                } => {
                    let ino = inner.object_ino(&id);
                    let kind = inner
                        .node(ino)
                        .map_or(EntryType::File, |n| n.kind.entry_type());
                    last_name = name.clone();
                    (name, ino, kind)
                }
                Planned::Entry {
                    name,
                    target: Target::Symlink(text),
                } => {
                    let ino = inner.add(Node {
                        kind: NodeKind::Symlink { target: text },
                        path: Vec::new(),
                        links: 1,
                        mtime: 0,
                        file: 0,
                        addr: 0,
                    });
                    (name, ino, EntryType::Symlink)
                }
                Planned::View {
                    name,
                    dataset,
                    view,
                } => {
                    let ds = inner.object_ino(&dataset);
                    // A view follows its dataset's entry in the plan.
                    let key = if view == View::Sidecar {
                        (ds, view, 0, Vec::new())
                    } else {
                        (ds, view, dir, last_name.clone())
                    };
                    let ino = match inner.views.get(&key) {
                        Some(i) => *i,
                        None => {
                            // The sidecar is one inode per dataset, with as
                            // many names as the dataset; other views one per
                            // name, as their contents or writes may depend on it.
                            let i = inner.add(Node {
                                kind: NodeKind::View {
                                    dataset: ds,
                                    view,
                                    dir,
                                    name: last_name.clone(),
                                },
                                path: dataset.path.clone(),
                                links: dataset.links,
                                mtime: dataset.mtime,
                                file: dataset.key.0,
                                addr: dataset.key.1,
                            });
                            inner.views.insert(key, i);
                            i
                        }
                    };
                    (name, ino, EntryType::File)
                }
            };
            entries.push(DirEntry { name, ino, kind });
        }
        let listing = Arc::new(Listing::new(entries));
        inner.listings.insert(dir, listing.clone());
        listing
    }
}

/// Changes made by the writable filesystem.
impl Tree {
    /// Forget the listing of `dir`; it is rebuilt from the file on next use.
    pub fn invalidate(&self, dir: Ino) {
        self.lock().listings.remove(&dir);
    }

    /// Add a pending file `name` to the (already listed) directory `dir`.
    pub fn add_pending(&self, dir: Ino, name: &[u8], path: H5Path) -> Ino {
        let mut inner = self.lock();
        let ino = inner.add(Node {
            kind: NodeKind::Pending,
            path,
            links: 1,
            mtime: 0,
            file: 0,
            addr: 0,
        });
        inner.pending.insert((dir, name.to_vec()), ino);
        ino
    }

    /// The pending file `name` in `dir`, if any.
    pub fn pending(&self, dir: Ino, name: &[u8]) -> Option<Ino> {
        self.lock().pending.get(&(dir, name.to_vec())).copied()
    }

    pub fn add_ghost(&self, dir: Ino, name: Vec<u8>) {
        self.lock()
            .ghosts
            .insert((dir, name), std::time::Instant::now());
    }

    pub fn is_ghost(&self, dir: Ino, name: &[u8]) -> bool {
        let mut inner = self.lock();
        inner.ghosts.retain(|_, t| t.elapsed() < GHOST_LIFETIME);
        inner.ghosts.contains_key(&(dir, name.to_vec()))
    }

    pub fn remove_ghost(&self, dir: Ino, name: &[u8]) -> bool {
        self.lock().ghosts.remove(&(dir, name.to_vec())).is_some()
    }

    pub fn clear_ghosts(&self, dir: Ino) {
        self.lock().ghosts.retain(|(d, _), _| *d != dir);
    }

    pub fn remove_pending(&self, dir: Ino, name: &[u8]) -> Option<Ino> {
        self.lock().pending.remove(&(dir, name.to_vec()))
    }

    /// Remove the pending file `name` in `dir` if it is still `ino` (a file
    /// made anew under the same name stays).
    pub fn remove_pending_ino(&self, dir: Ino, name: &[u8], ino: Ino) {
        let mut inner = self.lock();
        let key = (dir, name.to_vec());
        if inner.pending.get(&key) == Some(&ino) {
            inner.pending.remove(&key);
        }
    }

    /// After a rename: the object moved from `old` to `new`; paths under it follow.
    pub fn rename_paths(&self, old: &[u8], new: &[u8]) {
        let mut inner = self.lock();
        for node in inner.nodes.iter_mut() {
            let p = &node.path;
            let under = p.len() > old.len() && p.starts_with(old) && p[old.len()] == b'/';
            if p == old || under {
                let mut n = (**node).clone();
                let mut path = new.to_vec();
                path.extend_from_slice(&p[old.len()..]);
                n.path = path;
                *node = Arc::new(n);
            }
        }
    }

    /// Forget every listing that shows inode `ino` (its object was replaced
    /// by another under the same names).
    pub fn forget_listings_with(&self, ino: Ino) {
        self.lock()
            .listings
            .retain(|_, l| !l.entries.iter().any(|e| e.ino == ino));
    }

    /// The object with this identity is gone from the file: a new object at
    /// the same address must not take over its inode.
    pub fn forget_object(&self, key: (u64, u64)) {
        let mut inner = self.lock();
        if let Some(ino) = inner.by_object.remove(&key) {
            inner.listings.remove(&ino);
        }
    }
}

impl Inner {
    fn node(&self, ino: Ino) -> Option<&Arc<Node>> {
        let idx = match ino {
            ROOT => 0,
            _ => usize::try_from(ino.checked_sub(self.first)?.checked_add(1)?).ok()?,
        };
        self.nodes.get(idx)
    }

    fn add(&mut self, node: Node) -> Ino {
        self.nodes.push(Arc::new(node));
        self.first + self.nodes.len() as Ino - 2
    }

    fn object_ino(&mut self, found: &Found) -> Ino {
        if let Some(ino) = self.by_object.get(&found.key) {
            return *ino;
        }
        let kind = match found.kind {
            ObjectKind::Group => NodeKind::Group,
            ObjectKind::Dataset if self.zarr => NodeKind::Array,
            ObjectKind::Dataset => NodeKind::Dataset,
            _ => NodeKind::Datatype,
        };
        let ino = self.add(Node {
            kind,
            path: found.path.clone(),
            links: found.links,
            mtime: found.mtime,
            file: found.key.0,
            addr: found.key.1,
        });
        self.by_object.insert(found.key, ino);
        ino
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(addr: u64, kind: ObjectKind, path: &str) -> Found {
        Found {
            kind,
            key: (1, addr),
            path: path.as_bytes().to_vec(),
            links: 2,
            mtime: 0,
        }
    }

    #[test]
    fn hard_links_share_an_inode_and_sidecar() {
        let tree = Tree::new((1, 0), 1, 0);
        let a = found(100, ObjectKind::Dataset, "/a");
        let b = found(100, ObjectKind::Dataset, "/b");
        let (plan, _) = names::plan_entries(
            vec![
                (
                    b"a".to_vec(),
                    Target::Object {
                        id: a,
                        is_dataset: true,
                    },
                ),
                (
                    b"b".to_vec(),
                    Target::Object {
                        id: b,
                        is_dataset: true,
                    },
                ),
            ],
            &|_, _| vec![View::Sidecar],
        );
        let l = tree.insert_listing(ROOT, plan);
        assert_eq!(l.entries.len(), 4);
        assert_eq!(l.get(b"a").unwrap().ino, l.get(b"b").unwrap().ino);
        assert_eq!(l.get(b"a.json").unwrap().ino, l.get(b"b.json").unwrap().ino);
        let node = tree.node(l.get(b"b").unwrap().ino).unwrap();
        assert_eq!(node.path, b"/a");
        assert!(tree.node(0).is_none());
        assert!(tree.node(99).is_none());
    }

    #[test]
    fn a_later_tree_numbers_its_objects_after_an_earlier_one() {
        let tree = Tree::new((1, 0), 1, 0);
        assert!(tree.number_from(1000));
        assert_eq!(tree.next_ino(), 1000);
        let (plan, _) = names::plan_entries(
            vec![(
                b"a".to_vec(),
                Target::Object {
                    id: found(100, ObjectKind::Group, "/a"),
                    is_dataset: false,
                },
            )],
            &|_, _| vec![],
        );
        let l = tree.insert_listing(ROOT, plan);
        let a = l.get(b"a").unwrap().ino;
        assert_eq!(a, 1000);
        assert_eq!(tree.node(a).unwrap().path, b"/a");
        assert_eq!(tree.node(ROOT).unwrap().path, b"/");
        assert!(tree.node(2).is_none());
        assert!(tree.node(999).is_none());
        assert_eq!(tree.next_ino(), 1001);
        assert!(!tree.number_from(5000));
        assert_eq!(tree.first_ino(), 1000);
        assert_eq!(Tree::new((1, 0), 1, 0).next_ino(), 2);
    }

    #[test]
    fn chunk_inodes_say_what_they_are() {
        let tree = Tree::with_mode((1, 0), 1, 0, true);
        let (plan, _) = names::plan_entries(
            vec![(
                b"a".to_vec(),
                Target::Object {
                    id: found(100, ObjectKind::Dataset, "/a"),
                    is_dataset: true,
                },
            )],
            &|_, _| vec![],
        );
        let l = tree.insert_listing(ROOT, plan);
        let a = l.get(b"a").unwrap().ino;
        assert_eq!(tree.node(a).unwrap().kind, NodeKind::Array);
        let c = chunk_ino(a, 12345).unwrap();
        let n = tree.node(c).unwrap();
        assert_eq!(
            n.kind,
            NodeKind::Chunk {
                array: a,
                index: 12345
            }
        );
        assert_eq!(n.path, b"/a");
        assert!(chunk_ino(a, MAX_CHUNK_INDEX).is_none());
        // A chunk of something that is not an array is nothing.
        assert!(tree.node(chunk_ino(ROOT, 0).unwrap()).is_none());
    }

    #[test]
    fn listing_lookup_by_name() {
        let e = |name: &str, ino| DirEntry {
            name: name.as_bytes().to_vec(),
            ino,
            kind: EntryType::File,
        };
        let l = Listing::new(vec![e("b", 2), e("a", 3), e("c", 4), e("a", 5), e("", 6)]);
        assert_eq!(l.get(b"b").unwrap().ino, 2);
        assert_eq!(l.get(b"c").unwrap().ino, 4);
        assert_eq!(l.get(b"a").unwrap().ino, 5); // the last of equal names
        assert_eq!(l.get(b"").unwrap().ino, 6);
        assert!(l.get(b"ab").is_none());
        assert!(l.get(b"d").is_none());
        assert!(l.get(b"0").is_none());
        assert!(Listing::new(vec![]).get(b"a").is_none());
        // Entries keep their order.
        let names: Vec<_> = l.entries.iter().map(|e| e.ino).collect();
        assert_eq!(names, [2, 3, 4, 5, 6]);
    }

    #[test]
    fn first_listing_wins() {
        let tree = Tree::new((1, 0), 1, 0);
        let l1 = tree.insert_listing(ROOT, vec![]);
        let (plan, _) = names::plan_entries(
            vec![(b"x".to_vec(), Target::<Found>::Symlink(b"y".to_vec()))],
            &|_, _| vec![View::Sidecar],
        );
        let l2 = tree.insert_listing(ROOT, plan);
        assert!(Arc::ptr_eq(&l1, &l2));
    }
}
