//! Reading: listings, lookups, the attributes of an inode, reads of
//! datasets (directly or through libhdf5) and of rendered files.

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use log::{error, warn};

use super::error::{io, read_error, show};
use super::{join, Attr, Error, Fs, Result, StatFs, GHOST_INO};
use crate::direct::{ChunkSource, DirectIo, Plan};
use crate::encode::sidecar::{datatype_file, sidecar, AttrResult, Representation};
use crate::encode::text::render;
use crate::model::hyperslab::byte_range_to_elements;
use crate::model::{
    ChunkData, ChunkPlace, DatasetMeta, ErrorKind, H5Error, LinkKind, Loc, ObjectKind,
};
use crate::tree::names::{external_link_text, plan_entries, soft_link_text};
use crate::tree::{DirEntry, EntryType, Found, Ino, Listing, Node, NodeKind, Target, View};
use crate::worker::Workers;

/// Most elements a text view renders: it is built whole in memory.
pub const MAX_TEXT_ELEMENTS: u64 = 1 << 24;

/// A directory's entries: those in the file, then files being written.
#[derive(Debug)]
pub struct DirView {
    pub listing: Arc<Listing>,
    pub pending: Vec<DirEntry>,
}

/// A dataset as the filesystem uses it: where it is, what it is, and how
/// its bytes may be read directly.
pub struct OpenDataset {
    pub loc: Loc,
    pub meta: DatasetMeta,
    plan: Option<Arc<Plan>>,
}

#[cfg(test)]
impl OpenDataset {
    pub fn new_for_tests(loc: Loc, meta: DatasetMeta) -> OpenDataset {
        OpenDataset {
            loc,
            meta,
            plan: None,
        }
    }
}

/// A dataset's chunks, fetched from the libhdf5 workers.
struct WorkerChunks {
    workers: Arc<Workers>,
    loc: Loc,
}

impl ChunkSource for WorkerChunks {
    fn chunk(&self, grid: &[u64]) -> crate::model::Result<ChunkData> {
        let mut v = self.workers.read_chunks(&self.loc, &[grid.to_vec()])?;
        v.pop()
            .ok_or_else(|| H5Error::new(ErrorKind::Other, "a libhdf5 worker sent no chunk"))
    }

    fn locate(&self, grids: &[Vec<u64>]) -> crate::model::Result<Vec<Option<ChunkPlace>>> {
        self.workers.chunk_locations(&self.loc, grids)
    }
}

impl Fs {
    /// The entries of directory `ino`, with files being written in it.
    pub(super) fn dir_view(&self, ino: Ino) -> Result<DirView> {
        self.tree.clear_ghosts(ino);
        let listing = self.listing(ino)?;
        let pending = self.handles.pending_entries(ino, &self.tree);
        Ok(DirView { listing, pending })
    }

    /// The entries of directory `ino` that are in the file, built on first use.
    pub(super) fn listing(&self, ino: Ino) -> Result<Arc<Listing>> {
        let node = self.node(ino)?;
        if node.kind != NodeKind::Group && node.kind != NodeKind::Array {
            return Err(Error::NotDir);
        }
        if let Some(l) = self.tree.listing(ino) {
            return Ok(l);
        }
        if self.opts.zarr {
            return self.zarr_listing(ino, &node);
        }
        // Soft links in a group of an external file name paths in that
        // file, which is not mounted as such: follow them, as h5py does.
        let follow_soft = node.file != 0;
        let links = self
            .h5(&node)
            .listing(&node.loc(), follow_soft)
            .map_err(|e| io(&node.path, e))?;
        let root_key = self.file_of(&node).root_key;
        let mut resolved = Vec::with_capacity(links.len());
        for (link, info) in links {
            let path = join(&node.path, &link.name);
            if let LinkKind::External { file, path: inner } = &link.kind {
                if let Some(text) = self.link_into_tree(&node, file, inner) {
                    resolved.push((link.name, Target::Symlink(text)));
                    continue;
                }
            }
            let target = match (&link.kind, info) {
                (LinkKind::Soft(value), None) => Target::Symlink(soft_link_text(&node.path, value)),
                (LinkKind::Hard | LinkKind::External { .. } | LinkKind::Soft(_), Some(info)) => {
                    match info {
                        // The root cannot appear under another name (the kernel
                        // refuses a second name for the mountpoint's inode).
                        Ok(info) if (info.file, info.addr) == root_key => {
                            Target::Symlink(soft_link_text(&node.path, b"/"))
                        }
                        Ok(info) if info.kind != ObjectKind::Other => Target::Object {
                            // Byte files made through this mount show no sidecar yet.
                            is_dataset: info.kind == ObjectKind::Dataset
                                && !self.is_created_raw((info.file, info.addr)),
                            id: Found {
                                kind: info.kind,
                                key: (info.file, info.addr),
                                path,
                                links: info.links,
                                mtime: info.mtime,
                            },
                        },
                        Ok(_) => {
                            warn!("{}: object of unknown type left out", show(&path));
                            continue;
                        }
                        Err(e) => match &link.kind {
                            LinkKind::External { file, path: target } => {
                                warn!("external link not followed: {e}");
                                Target::Symlink(external_link_text(file, target))
                            }
                            LinkKind::Soft(value) => Target::Symlink(value.clone()),
                            _ => {
                                error!("object cannot be opened, left out: {e}");
                                continue;
                            }
                        },
                    }
                }
                _ => {
                    warn!(
                        "{}: link of a user-defined class, or whose value cannot be read, left out",
                        show(&path)
                    );
                    continue;
                }
            };
            resolved.push((link.name, target));
        }
        let views_of = |name: &[u8], found: &Found| self.views_of(&node, name, found);
        let taken: std::collections::HashSet<Vec<u8>> =
            resolved.iter().map(|(n, _)| n.clone()).collect();
        let (mut plan, skipped) = plan_entries(resolved, &views_of);
        let me = Found {
            kind: ObjectKind::Group,
            key: root_key,
            path: node.path.clone(),
            links: node.links,
            mtime: node.mtime,
        };
        plan.extend(self.userblock_entry(&node, &me, &|n| taken.contains(n)));
        for name in skipped {
            warn!(
                "{}: name cannot be shown (empty, '.', '..' or over 255 bytes), left out",
                show(&join(&node.path, &name))
            );
        }
        Ok(self.tree.insert_listing(ino, plan))
    }

    /// The attributes of `name` in directory `parent`.
    pub(super) fn find(&self, parent: Ino, name: &[u8]) -> Result<Attr> {
        if name.len() > crate::tree::names::NAME_MAX {
            return Err(Error::NameTooLong);
        }
        let listing = self.listing(parent)?;
        if let Some(entry) = listing.get(name) {
            return self.attr(entry.ino);
        }
        let dir = self.node(parent)?;
        if dir.kind == NodeKind::Array {
            return self.attr(self.zarr_find_chunk(parent, &dir, name)?);
        }
        match self.tree.pending(parent, name) {
            Some(ino) => self.attr(ino),
            None if self.tree.is_ghost(parent, name) => Ok(Attr {
                ino: GHOST_INO,
                kind: EntryType::File,
                size: 0,
                nlink: 1,
                perm: 0o444,
                uid: self.opts.uid,
                gid: self.opts.gid,
                mtime: self.file.mtime,
            }),
            None => Err(Error::NotFound),
        }
    }

    /// The entry `name` of directory `parent` that is in the file.
    pub(super) fn entry(&self, parent: Ino, name: &[u8]) -> Result<DirEntry> {
        let listing = self.listing(parent)?;
        listing.get(name).cloned().ok_or(Error::NotFound)
    }

    pub(super) fn dataset(&self, ino: Ino, node: &Node) -> Result<Arc<OpenDataset>> {
        let generation = {
            let c = self.caches();
            if let Some(d) = c.datasets.get(&ino) {
                return Ok(d.clone());
            }
            c.generation
        };
        let loc = node.loc();
        let info = self.h5(node).dataset(&loc).map_err(|e| io(&node.path, e))?;
        // Direct reads know the mounted file only, not external ones.
        let plan = (self.file_of(node).direct.is_some() && node.file == 0)
            .then(|| Plan::new(&info, &node.path, self.file_of(node).base))
            .flatten()
            .map(Arc::new);
        let ds = Arc::new(OpenDataset {
            loc,
            meta: info.meta,
            plan,
        });
        self.caches().keep_dataset(generation, ino, &ds);
        Ok(ds)
    }

    /// Every attribute of the object, each read or the reason it could not be.
    pub(super) fn attrs_of(&self, node: &Node) -> Vec<AttrResult> {
        match self.h5(node).attrs(&node.loc()) {
            Ok(attrs) => attrs
                .into_iter()
                .map(|(n, v)| (n, v.map_err(|e| e.msg)))
                .collect(),
            Err(e) => vec![(b"".to_vec(), Err(e.msg))],
        }
    }

    /// The bytes of a file whose contents are rendered whole (sidecars, text
    /// views, committed datatypes), cached.
    pub(super) fn rendered(&self, ino: Ino, node: &Node) -> Result<Arc<Vec<u8>>> {
        let generation = {
            let c = self.caches();
            if let Some(b) = c.contents.get(&ino) {
                return Ok(b.clone());
            }
            c.generation
        };
        let bytes = match &node.kind {
            NodeKind::View {
                dataset,
                view: View::Sidecar,
                ..
            } => {
                let ds_node = self.node(*dataset)?;
                let ds = self.dataset(*dataset, &ds_node)?;
                let attrs = self.attrs_of(&ds_node);
                sidecar(
                    &show(&ds_node.path),
                    &ds.meta,
                    &attrs,
                    &self.source_mount_paths(&ds_node, &ds.meta),
                )
            }
            NodeKind::View {
                dataset,
                view: view @ (View::ZGroup | View::ZAttrs | View::ZArray | View::ZMetadata),
                ..
            } => self.zarr_document(*view, &*self.node(*dataset)?)?,
            NodeKind::View {
                dataset,
                view,
                name,
                ..
            } => self.render_view(*view, *dataset, name)?,
            NodeKind::Chunk { array, index } => self.zarr_chunk(&*self.node(*array)?, *index)?,
            NodeKind::Datatype => {
                let ty = self
                    .h5(node)
                    .datatype(&node.loc())
                    .map_err(|e| io(&node.path, e))?;
                datatype_file(&show(&node.path), &ty)
            }
            NodeKind::Dataset => {
                let ds = self.dataset(ino, node)?;
                let Representation::Text(format) = Representation::of(&ds.meta.ty) else {
                    return Err(Error::IsDir);
                };
                if ds.meta.npoints() > MAX_TEXT_ELEMENTS {
                    return Err(Error::Io(format!(
                        "{}: {} elements are too many for a text view (at most {MAX_TEXT_ELEMENTS}); read it with h5py",
                        show(&node.path),
                        ds.meta.npoints()
                    )));
                }
                self.chunks_fit(node, &ds.meta)?;
                let values = self
                    .h5(node)
                    .read_values(&ds.loc)
                    .map_err(|e| read_error(&node.path, &ds.meta, e))?;
                render(format, &values)
            }
            _ => return Err(Error::IsDir),
        };
        let bytes = Arc::new(bytes);
        self.caches().keep_content(generation, ino, &bytes);
        Ok(bytes)
    }

    /// What `stat` shows of inode `ino`.
    pub(super) fn attr(&self, ino: Ino) -> Result<Attr> {
        let node = self.node(ino)?;
        let kind = node.kind.entry_type();
        let size = match &node.kind {
            NodeKind::Group | NodeKind::Array => 0,
            NodeKind::Chunk { .. } => self.rendered(ino, &node)?.len() as u64,
            NodeKind::Symlink { target } => target.len() as u64,
            NodeKind::Dataset => {
                let ds = self.dataset(ino, &node)?;
                match Representation::of(&ds.meta.ty) {
                    Representation::Raw => ds.meta.byte_len(),
                    Representation::Unavailable => 0,
                    // Its size is its text's: a text view that cannot be
                    // read cannot be sized either.
                    Representation::Text(_) => self.rendered(ino, &node)?.len() as u64,
                }
            }
            NodeKind::View {
                view: View::UserBlock,
                ..
            } => self.userblock_len(),
            NodeKind::View {
                view: View::Npy,
                dataset,
                ..
            } => {
                let ds = self.dataset(*dataset, &*self.node(*dataset)?)?;
                (self.rendered(ino, &node)?.len() as u64).saturating_add(ds.meta.byte_len())
            }
            NodeKind::View { .. } | NodeKind::Datatype => self.rendered(ino, &node)?.len() as u64,
            NodeKind::Pending => self.handles.staged_len(ino).unwrap_or(0),
        };
        // Write bits on a writable mount, except in external files.
        let w = if self.opts.writable && node.file == 0 {
            0o222
        } else {
            0
        };
        let perm = match kind {
            EntryType::Directory => 0o555 | (w & 0o200),
            EntryType::File => 0o444 | (w & 0o200),
            EntryType::Symlink => 0o777,
        };
        // On a writable mount the link count can change under us.
        let links = if self.opts.writable
            && node.addr != 0
            && !matches!(node.kind, NodeKind::View { .. })
        {
            self.h5(&node)
                .info_at(&node.loc())
                .map(|i| i.links)
                .unwrap_or(node.links)
        } else {
            node.links
        };
        let mtime = if node.mtime > 0 {
            UNIX_EPOCH + Duration::from_secs(node.mtime as u64)
        } else {
            self.file_of(&node).mtime
        };
        Ok(Attr {
            ino,
            kind,
            size,
            nlink: links.max(1),
            perm: if kind == EntryType::Symlink {
                perm
            } else {
                perm & !(self.opts.umask as u16)
            },
            uid: self.opts.uid,
            gid: self.opts.gid,
            mtime,
        })
    }

    /// Read `size` bytes at `offset` of the file of inode `ino`.
    pub(super) fn read_at(&self, ino: Ino, offset: u64, size: u32) -> Result<Vec<u8>> {
        let node = self.node(ino)?;
        match node.kind {
            NodeKind::Group => return Err(Error::IsDir),
            NodeKind::Symlink { .. } => return Err(Error::NotSymlink),
            NodeKind::Pending => return Ok(Vec::new()),
            NodeKind::Dataset => {
                let ds = self.dataset(ino, &node)?;
                if let Some(reason) = ds.meta.ty.unsupported() {
                    return Err(Error::Io(format!(
                        "{}: type cannot be shown: {reason}",
                        show(&node.path)
                    )));
                }
                if Representation::of(&ds.meta.ty) == Representation::Raw {
                    return self.read_raw(&node, &ds, offset, size);
                }
            }
            NodeKind::View {
                view: View::Npy,
                dataset,
                ..
            } => return self.read_npy(ino, &node, dataset, offset, size),
            NodeKind::View {
                view: View::UserBlock,
                ..
            } => return self.read_userblock(offset, size),
            _ => {}
        }
        let bytes = self.rendered(ino, &node)?;
        let start = (offset as usize).min(bytes.len());
        let end = start.saturating_add(size as usize).min(bytes.len());
        Ok(bytes[start..end].to_vec())
    }

    /// Read the `.npy` view `ino` of `dataset`: its header, then the
    /// dataset's bytes from where the header ends.
    fn read_npy(
        &self,
        ino: Ino,
        node: &Node,
        dataset: Ino,
        offset: u64,
        size: u32,
    ) -> Result<Vec<u8>> {
        let head = self.rendered(ino, node)?;
        let hlen = head.len() as u64;
        let mut out = Vec::new();
        if offset < hlen {
            let end = offset.saturating_add(size as u64).min(hlen);
            out.extend_from_slice(&head[offset as usize..end as usize]);
        }
        let rest = size as u64 - out.len() as u64;
        if rest > 0 {
            let ds_node = self.node(dataset)?;
            let ds = self.dataset(dataset, &ds_node)?;
            let from = offset.max(hlen) - hlen;
            let data = self.read_raw(&ds_node, &ds, from, rest as u32)?;
            if out.is_empty() {
                return Ok(data);
            }
            out.extend_from_slice(&data);
        }
        Ok(out)
    }

    /// Refuse data requests on a dataset whose chunks are too large for a
    /// worker: libhdf5 holds a chunk several times over (the chunk, a
    /// filter's output) to read or write any part of it, and a damaged
    /// layout can claim chunks just under the worker's memory limit, which
    /// libhdf5 would fill before failing, every time it is asked.
    pub(super) fn chunks_fit(&self, node: &Node, meta: &DatasetMeta) -> Result<()> {
        let Some(chunk) = &meta.chunks else {
            return Ok(());
        };
        let bytes = chunk
            .iter()
            .try_fold(meta.ty.size() as u64, |n, d| n.checked_mul(*d))
            .unwrap_or(u64::MAX);
        let most = self.opts.workers.memory / 4;
        if bytes > most {
            return Err(Error::Io(format!(
                "{}: chunks of {bytes} bytes are more than a libhdf5 worker may hold for one ({} MiB, a quarter of hdf5_memory); mount with a larger hdf5_memory to read it",
                show(&node.path),
                most >> 20
            )));
        }
        Ok(())
    }

    /// The bytes of a raw dataset: directly where its plan allows, else by libhdf5.
    pub(super) fn read_raw(
        &self,
        node: &Node,
        ds: &OpenDataset,
        offset: u64,
        size: u32,
    ) -> Result<Vec<u8>> {
        self.chunks_fit(node, &ds.meta)?;
        let itemsize = ds.meta.ty.size() as u64;
        let Some(span) = byte_range_to_elements(offset, size as u64, itemsize, ds.meta.npoints())
        else {
            return Ok(Vec::new());
        };
        let file = self.file_of(node);
        let buf = match (&ds.plan, &file.direct) {
            (Some(plan), Some(source)) => {
                let io = Arc::new(DirectIo {
                    source: source.clone(),
                    chunks: Arc::new(WorkerChunks {
                        workers: file.h5.clone(),
                        loc: ds.loc.clone(),
                    }),
                    cache: self.chunks.clone(),
                });
                plan.read(&io, span.first, span.end)
            }
            _ => file.h5.read_elements(&ds.loc, span.first, span.end),
        }
        .map_err(|e| read_error(&node.path, &ds.meta, e))?;
        let start = span.skip as usize;
        let mut buf = buf;
        if start == 0 && buf.len() == span.len as usize {
            return Ok(buf);
        }
        buf.truncate(start + span.len as usize);
        Ok(buf.split_off(start))
    }

    pub(super) fn link_text(&self, ino: Ino) -> Result<Vec<u8>> {
        match &self.node(ino)?.kind {
            NodeKind::Symlink { target } => Ok(target.clone()),
            _ => Err(Error::NotSymlink),
        }
    }

    pub(super) fn stats(&self) -> StatFs {
        StatFs {
            blocks: self.file.size.div_ceil(4096),
            files: self.tree.len() as u64,
            bsize: 4096,
            namelen: crate::tree::names::NAME_MAX as u32,
        }
    }
}
