//! The Zarr v2 store of `-o zarr`: groups are directories with `.zgroup`
//! and `.zattrs`, datasets directories with `.zarray`, `.zattrs` and one
//! file per chunk, the root also has `.zmetadata`.
//!
//! The store's metadata comes from the catalog of the whole file
//! ([`super::zcatalog`]); this module serves it: listings, the metadata
//! documents, chunk files. Chunks are found through the chunk index (stored sizes, one
//! logarithmic lookup each) and read as stored where their filters map to
//! numcodecs ([`crate::encode::zarr::map_filters`]), else decoded through
//! libhdf5; a chunk a filter skipped, or one never written of an array
//! whose absent chunks are served, is encoded to the array's codecs.

use std::sync::Arc;

use log::warn;
use serde_json::Value as Json;

use super::error::{io, show};
use super::{Error, Fs, Result};
use crate::encode::zarr::{chunk_key, consolidated_text, parse_chunk_key, to_text, zarray, zgroup};
use crate::encode::zcodec::encode;
use crate::model::{ChunkData, ChunkPlace};
use crate::tree::{
    chunk_ino, DirEntry, EntryType, Found, Ino, Listing, Node, Planned, Target, View,
};

use super::zcatalog::{Catalog, Entry, Kind, Serve, ZArray};

/// Most chunk positions a listing of an array looks at.
const MAX_LISTED_CHUNKS: u64 = 1 << 20;
/// Chunk positions asked about in one request when listing.
const SIZES_BATCH: usize = 4096;
/// Most chunk positions of an array whose chunks are read where they lie:
/// libhdf5 1.10.8 finds a chunk's place by walking the whole index, so
/// locating all of them costs the square of their number.
const MAX_LOCATED: u64 = 4096;

impl ZArray {
    /// Chunks per axis of the Zarr array (array element dimensions are one).
    pub fn key_dims(&self) -> Vec<u64> {
        let mut d = self.zgrid.clone();
        d.resize(self.meta.shape.len(), 1);
        d
    }

    /// Chunk positions of the dataset itself (its HDF5 chunk grid).
    fn stored_count(&self) -> u64 {
        self.grid
            .iter()
            .try_fold(1u64, |a, n| a.checked_mul(*n))
            .unwrap_or(u64::MAX)
    }

    /// Position `index` (C order) of the dataset's own chunk grid.
    fn stored_grid(&self, index: u64) -> Vec<u64> {
        let mut g = vec![0; self.grid.len()];
        let mut rest = index;
        for (slot, n) in g.iter_mut().zip(&self.grid).rev() {
            *slot = rest % n.max(&1);
            rest /= n.max(&1);
        }
        g
    }

    /// Whether the chunk at `grid` lies past the dataset's own extent.
    fn beyond(&self, grid: &[u64]) -> bool {
        grid.iter().zip(&self.grid).any(|(g, n)| g >= n)
    }

    /// Chunk `index` (C order in the Zarr array's grid) as a grid position.
    fn grid_of(&self, index: u64) -> Vec<u64> {
        let mut g = vec![0; self.zgrid.len()];
        let mut rest = index;
        for (slot, n) in g.iter_mut().zip(&self.zgrid).rev() {
            *slot = rest % n.max(&1);
            rest /= n.max(&1);
        }
        g
    }

    /// Where the run of bytes of the (not chunked) dataset that makes the
    /// chunk at `grid` starts, and its length (short at the dataset's end).
    fn run_of(&self, grid: &[u64]) -> (u64, u64) {
        let mut stride = self.itemsize;
        let mut start = 0u64;
        let mut len = self.itemsize;
        for a in (0..self.ds_shape.len()).rev() {
            let first = grid[a] * self.ds_chunks[a];
            start += first * stride;
            len *= self.ds_chunks[a].min(self.ds_shape[a].saturating_sub(first));
            stride *= self.ds_shape[a];
        }
        (start, len)
    }

    fn chunk_count(&self) -> u64 {
        self.zgrid
            .iter()
            .try_fold(1u64, |a, n| a.checked_mul(*n))
            .unwrap_or(u64::MAX)
    }
}

impl Fs {
    fn zarr_entry<'c>(&self, cat: &'c Catalog, node: &Node) -> Result<&'c Entry> {
        cat.get(&node.path).ok_or(Error::NotFound)
    }

    /// The array of the store at `node` (a dataset shown as an array).
    pub(super) fn zarr_array(&self, node: &Node) -> Result<Arc<ZArray>> {
        let cat = self.catalog()?;
        match &self.zarr_entry(&cat, node)?.kind {
            Kind::Array(a) => Ok(a.clone()),
            Kind::Group { .. } => Err(Error::IsDir),
        }
    }

    /// The listing of a group or array directory of the store.
    pub(super) fn zarr_listing(&self, ino: Ino, node: &Node) -> Result<Arc<Listing>> {
        let cat = self.catalog()?;
        let entry = self.zarr_entry(&cat, node)?;
        let me = entry.found.clone();
        let docs = |views: &[View]| -> Vec<Planned<Found>> {
            views
                .iter()
                .map(|v| Planned::View {
                    name: v.suffix().to_vec(),
                    dataset: me.clone(),
                    view: *v,
                })
                .collect()
        };
        match &entry.kind {
            Kind::Group { children } => {
                let mut plan = docs(if ino == crate::tree::ROOT {
                    &[View::ZGroup, View::ZAttrs, View::ZMetadata]
                } else {
                    &[View::ZGroup, View::ZAttrs]
                });
                for c in children {
                    let child = &cat.entries[*c];
                    let name = child.key.rsplit('/').next().unwrap_or(&child.key);
                    plan.push(Planned::Entry {
                        name: name.as_bytes().to_vec(),
                        target: Target::Object {
                            id: child.found.clone(),
                            is_dataset: false,
                        },
                    });
                }
                Ok(self.tree.insert_listing(ino, plan))
            }
            Kind::Array(a) => {
                let metas = self
                    .tree
                    .insert_listing(ino, docs(&[View::ZArray, View::ZAttrs]));
                let mut entries = metas.entries.clone();
                self.tree.invalidate(ino);
                for (index, grid) in self.stored_chunks(node, a)? {
                    if let Some(c) = chunk_ino(ino, index) {
                        let mut key = grid;
                        key.resize(a.meta.shape.len(), 0);
                        entries.push(DirEntry {
                            name: chunk_key(&key).into_bytes(),
                            ino: c,
                            kind: EntryType::File,
                        });
                    }
                }
                Ok(self.tree.insert_entries(ino, entries))
            }
        }
    }

    /// The chunks of `a` that a listing shows: (index, grid position).
    fn stored_chunks(&self, node: &Node, a: &ZArray) -> Result<Vec<(u64, Vec<u64>)>> {
        let n = a.chunk_count();
        if n > MAX_LISTED_CHUNKS {
            warn!(
                "{}: {n} chunk positions, more than a listing shows ({MAX_LISTED_CHUNKS}); chunk files are still found by name",
                show(&node.path)
            );
            return Ok(Vec::new());
        }
        if a.serve != Serve::Rows && !a.serve_absent {
            let mut out = Vec::new();
            // Positions past the dataset's own extent hold nothing stored.
            let inside: Vec<(u64, Vec<u64>)> = (0..n)
                .map(|i| (i, a.grid_of(i)))
                .filter(|(_, g)| !a.beyond(g))
                .collect();
            for batch in inside.chunks(SIZES_BATCH) {
                let grids: Vec<Vec<u64>> = batch.iter().map(|(_, g)| g.clone()).collect();
                let sizes = self
                    .h5(node)
                    .chunk_sizes(&a.loc, &grids)
                    .map_err(|e| io(&node.path, e))?;
                out.extend(
                    batch
                        .iter()
                        .zip(sizes)
                        .filter(|(_, s)| *s > 0)
                        .map(|(ig, _)| ig.clone()),
                );
            }
            return Ok(out);
        }
        Ok((0..n).map(|i| (i, a.grid_of(i))).collect())
    }

    fn tree_ino_of(&self, node: &Node) -> Result<Ino> {
        self.tree
            .ino_of((node.file, node.addr))
            .ok_or(Error::NotFound)
    }

    /// The chunk file `name` of the array directory `ino`.
    pub(super) fn zarr_find_chunk(&self, ino: Ino, node: &Node, name: &[u8]) -> Result<Ino> {
        let a = self.zarr_array(node)?;
        let key = parse_chunk_key(name, &a.key_dims()).ok_or(Error::NotFound)?;
        let grid = &key[..a.zgrid.len()];
        let index = linear(grid, &a.zgrid).ok_or(Error::NotFound)?;
        let c = chunk_ino(ino, index).ok_or(Error::NotFound)?;
        let present = match a.serve {
            _ if a.serve_absent => true,
            _ if a.beyond(grid) => false,
            Serve::Rows => true,
            _ => match self.place(node, &a, grid)? {
                Some(place) => place.is_some(),
                None => {
                    let sizes = self
                        .h5(node)
                        .chunk_sizes(&a.loc, &[grid.to_vec()])
                        .map_err(|e| io(&node.path, e))?;
                    sizes.first().is_some_and(|s| *s > 0)
                }
            },
        };
        if present {
            Ok(c)
        } else {
            Err(Error::NotFound)
        }
    }

    /// The contents of a metadata document of the store.
    pub(super) fn zarr_document(&self, view: View, obj: &Node) -> Result<Vec<u8>> {
        let cat = self.catalog()?;
        let e = self.zarr_entry(&cat, obj)?;
        Ok(match view {
            View::ZGroup => to_text(&zgroup()),
            View::ZAttrs => to_text(&Json::Object(e.attrs.clone())),
            View::ZArray => match &e.kind {
                Kind::Array(a) => to_text(&zarray(&a.meta)),
                Kind::Group { .. } => return Err(Error::NotFound),
            },
            View::ZMetadata => {
                let mut order: Vec<usize> = (0..cat.entries.len()).collect();
                order.sort_by(|a, b| cat.entries[*a].key.cmp(&cat.entries[*b].key));
                let docs = order.into_iter().flat_map(|i| {
                    let e = &cat.entries[i];
                    let prefix = if e.key.is_empty() {
                        String::new()
                    } else {
                        format!("{}/", e.key)
                    };
                    let (name, doc) = match &e.kind {
                        Kind::Group { .. } => (".zgroup", zgroup()),
                        Kind::Array(a) => (".zarray", zarray(&a.meta)),
                    };
                    // Keys in order: ".zarray"/".zgroup" sort after ".zattrs".
                    [
                        (format!("{prefix}.zattrs"), Json::Object(e.attrs.clone())),
                        (format!("{prefix}{name}"), doc),
                    ]
                });
                consolidated_text(docs)
            }
            _ => return Err(Error::NotFound),
        })
    }

    /// The bytes of chunk `index` of the array at `node`.
    pub(super) fn zarr_chunk(&self, node: &Node, index: u64) -> Result<Vec<u8>> {
        let a = self.zarr_array(node)?;
        let grid = a.grid_of(index);
        // A chunk is held whole here and in a worker: bounded as for reads
        // of the dataset file (a damaged layout can claim any size).
        let most = self.opts.workers.memory / 4;
        if a.chunk_bytes > most {
            return Err(Error::Io(format!(
                "{}: chunks of {} bytes are more than a libhdf5 worker may hold for one ({} MiB, a quarter of hdf5_memory)",
                show(&node.path),
                a.chunk_bytes,
                most >> 20
            )));
        }
        let whole = a.chunk_bytes as usize;
        let h5 = self.h5(node);
        let failed = |e| io(&node.path, e);
        if a.beyond(&grid) {
            // Past this variable's records (netCDF): its fill value.
            let elems = a.ds_chunks.iter().product::<u64>() as usize;
            let raw = a.fill.repeat(elems);
            return match &a.serve {
                Serve::Stored(p) => encode(raw, p)
                    .map_err(|e| Error::Io(format!("{}: chunk {grid:?}: {e}", show(&node.path)))),
                _ => Ok(raw),
            };
        }
        match &a.serve {
            Serve::Stored(p) => {
                let mut got = match self.read_in_place(node, &a, &grid)? {
                    Some(c) => vec![c],
                    None => h5
                        .read_chunks(&a.loc, std::slice::from_ref(&grid))
                        .map_err(failed)?,
                };
                let raw = match got.pop() {
                    Some(ChunkData::Stored {
                        filter_mask: 0,
                        mut bytes,
                    }) => {
                        if p.strip_checksum {
                            let keep = bytes.len().checked_sub(4).ok_or_else(|| {
                                Error::Io(format!(
                                    "{}: chunk {grid:?} is shorter than its checksum",
                                    show(&node.path)
                                ))
                            })?;
                            bytes.truncate(keep);
                        }
                        return Ok(bytes);
                    }
                    // A filter skipped, or never written: decode, encode as declared.
                    Some(ChunkData::Stored { .. }) => self.decoded_chunk(node, &a, &grid)?,
                    Some(ChunkData::Decoded(b)) if a.serve_absent => b,
                    _ => return Err(Error::NotFound),
                };
                encode(raw, p)
                    .map_err(|e| Error::Io(format!("{}: chunk {grid:?}: {e}", show(&node.path))))
            }
            Serve::Decoded => self.decoded_chunk(node, &a, &grid),
            Serve::Rows => {
                let ds_ino = self.tree_ino_of(node)?;
                let ds = self.dataset(ds_ino, node)?;
                let (start, len) = a.run_of(&grid);
                let mut bytes = self.read_raw(node, &ds, start, len as u32)?;
                bytes.resize(whole, 0);
                Ok(bytes)
            }
        }
    }

    /// The chunk at `grid` read where it lies (`pread`), for arrays of at
    /// most [`MAX_LOCATED`] chunks, whose places are asked once; None for
    /// others (read through libhdf5) and on a mount without direct reads.
    fn read_in_place(&self, node: &Node, a: &ZArray, grid: &[u64]) -> Result<Option<ChunkData>> {
        let (Some(source), Some(place)) = (&self.file.direct, self.place(node, a, grid)?) else {
            return Ok(None);
        };
        let Some(place) = place else {
            return Ok(None);
        };
        // A damaged index can claim any size: bounded by what a chunk may
        // take compressed, and by the file (a short read is an error).
        let most = a.chunk_bytes.saturating_mul(2).saturating_add(1 << 20);
        if place.size > most {
            return Ok(None);
        }
        let Some(at) = self.file.base.checked_add(place.addr) else {
            return Ok(None);
        };
        let mut bytes = Vec::new();
        source
            .read_at(&mut bytes, place.size as usize, at)
            .map_err(|e| Error::Io(format!("{}: chunk {grid:?}: {e}", show(&node.path))))?;
        Ok(Some(ChunkData::Stored {
            filter_mask: place.filter_mask,
            bytes,
        }))
    }

    /// Where the chunk at `grid` is stored (Some(None): never written), for
    /// arrays whose chunks are located; None for the others.
    fn place(&self, node: &Node, a: &ZArray, grid: &[u64]) -> Result<Option<Option<ChunkPlace>>> {
        let n = a.stored_count();
        if n > MAX_LOCATED || node.file != 0 || self.file.direct.is_none() {
            return Ok(None);
        }
        if !matches!(a.serve, Serve::Stored(_)) || a.beyond(grid) {
            return Ok(None);
        }
        let places = match a.places.get() {
            Some(p) => p,
            None => {
                let grids: Vec<Vec<u64>> = (0..n).map(|i| a.stored_grid(i)).collect();
                let found = self
                    .h5(node)
                    .chunk_locations(&a.loc, &grids)
                    .map_err(|e| io(&node.path, e))?;
                a.places.get_or_init(|| found)
            }
        };
        let Some(index) = linear(grid, &a.grid) else {
            return Ok(None);
        };
        Ok(places.get(index as usize).copied())
    }

    fn decoded_chunk(&self, node: &Node, a: &ZArray, grid: &[u64]) -> Result<Vec<u8>> {
        let mut got = self
            .h5(node)
            .read_chunks_decoded(&a.loc, &[grid.to_vec()])
            .map_err(|e| io(&node.path, e))?;
        match got.pop() {
            Some(ChunkData::Decoded(b)) if b.len() as u64 == a.chunk_bytes => Ok(b),
            _ => Err(Error::Io(format!(
                "{}: chunk {grid:?} read short",
                show(&node.path)
            ))),
        }
    }
}

/// The C-order index of grid position `grid` in a grid of `dims`, if it
/// fits in 64 bits.
fn linear(grid: &[u64], dims: &[u64]) -> Option<u64> {
    grid.iter()
        .zip(dims)
        .try_fold(0u64, |acc, (g, n)| acc.checked_mul(*n)?.checked_add(*g))
}

#[cfg(test)]
mod tests {
    use super::linear;

    #[test]
    fn grid_positions_index_without_overflow() {
        assert_eq!(linear(&[1, 2], &[3, 4]), Some(6));
        assert_eq!(linear(&[], &[]), Some(0));
        assert_eq!(linear(&[1, 0], &[u64::MAX, u64::MAX]), Some(u64::MAX));
        assert_eq!(linear(&[2, 0], &[u64::MAX, u64::MAX]), None);
    }
}
