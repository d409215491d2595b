//! The catalog of a Zarr store (`-o zarr`): every group and array of the
//! file, with its `.zattrs` and `.zarray`, made once on first need by a walk
//! of hard links from the root. `.zmetadata` holds all of it, and dimension
//! names follow netCDF's rules, which look at the whole file. Each dataset's
//! description and attributes are fetched from all libhdf5 workers at once.

use std::collections::HashMap;
use std::sync::Arc;

use log::{info, warn};
use rayon::prelude::*;
use serde_json::{Map, Value as Json};

use super::error::{io, show};
use super::{join, Fs, Result};
use crate::encode::bytes::encode_values;
use crate::encode::sidecar::AttrResult;
use crate::encode::zarr::{
    attr_json, fill_value, hidden_attr, map_filters, row_chunks, zarr_dtype, ArrayMeta, Pipeline,
};
use crate::encode::zdims::{assign, Dim, Var};
use crate::model::{
    ChunkPlace, DatasetInfo, DirectLayout, H5Path, LinkKind, Loc, ObjectInfo, ObjectKind, Value,
};
use crate::tree::{Found, Node};

/// Bytes of a chunk made of rows of a dataset that is not chunked.
const ROW_CHUNK_BYTES: u64 = 4 << 20;
/// Most objects a catalog holds.
const MAX_OBJECTS: usize = 1 << 21;
/// A dimension scale netCDF made for a dimension without a variable.
const NOT_A_VARIABLE: &str = "This is a netCDF dimension but not a netCDF variable";

/// How an array's chunks are served.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Serve {
    /// Chunked, read as stored, in these codecs.
    Stored(Pipeline),
    /// Chunked, decoded through libhdf5.
    Decoded,
    /// Not chunked: chunks of whole rows, read as the dataset file's bytes.
    Rows,
}

/// A dataset as a Zarr array.
#[derive(Debug)]
pub(super) struct ZArray {
    pub meta: ArrayMeta,
    pub loc: Loc,
    pub serve: Serve,
    /// Chunks per axis of the dataset (the HDF5 chunk grid, or runs of rows).
    pub grid: Vec<u64>,
    /// Chunks per axis of the Zarr array: more than `grid` along a netCDF
    /// unlimited dimension longer than this variable (the rest is fill).
    pub zgrid: Vec<u64>,
    /// One element of the fill value, as h5py holds it.
    pub fill: Vec<u8>,
    /// Where each chunk of the dataset's grid is stored, once asked (None:
    /// never written).
    pub places: std::sync::OnceLock<Vec<Option<ChunkPlace>>>,
    /// The dataset's shape and chunk shape (without array element
    /// dimensions) and element size (with them).
    pub ds_shape: Vec<u64>,
    pub ds_chunks: Vec<u64>,
    pub itemsize: u64,
    /// Bytes of one whole chunk, decoded.
    pub chunk_bytes: u64,
    /// Chunks never written are served (filled), not absent: the array has
    /// no `fill_value` (netCDF variables without `_FillValue`).
    pub serve_absent: bool,
}

#[derive(Debug)]
pub(super) enum Kind {
    Group { children: Vec<usize> },
    Array(Arc<ZArray>),
}

#[derive(Debug)]
pub(super) struct Entry {
    /// Key in the store ("" for the root, "g/x").
    pub key: String,
    pub found: Found,
    pub kind: Kind,
    pub attrs: Map<String, Json>,
}

/// Every group and array of the store.
#[derive(Debug, Default)]
pub(super) struct Catalog {
    pub entries: Vec<Entry>,
    by_path: HashMap<H5Path, usize>,
}

impl Catalog {
    pub fn get(&self, path: &[u8]) -> Option<&Entry> {
        self.by_path.get(path).map(|i| &self.entries[*i])
    }
}

/// The catalog being made: arrays wait for their dimension names.
struct Walk<'a> {
    fs: &'a Fs,
    node: &'a Node,
    cat: Catalog,
    netcdf: bool,
    real_dims: Vec<Dim>,
    vars: Vec<(usize, Var)>,
    groups: HashMap<H5Path, usize>,
}

fn str_attr(attrs: &[AttrResult], name: &[u8]) -> Option<String> {
    attrs.iter().find(|(n, _)| n == name).and_then(|(_, a)| {
        match a.as_ref().ok()?.values.first()? {
            Value::Str(s) => Some(String::from_utf8_lossy(s).into_owned()),
            _ => None,
        }
    })
}

fn basename(path: &str) -> String {
    path.rsplit('/').next().unwrap_or(path).to_string()
}

impl Walk<'_> {
    fn group_index(&mut self, path: &[u8]) -> usize {
        let n = self.groups.len();
        *self.groups.entry(path.to_vec()).or_insert(n)
    }

    fn attrs(&self, loc: &Loc) -> Vec<AttrResult> {
        fetch_attrs(self.fs, self.node, loc)
    }

    fn zattrs(attrs: &[AttrResult]) -> Map<String, Json> {
        attrs
            .iter()
            .filter_map(|(n, a)| {
                let name = String::from_utf8_lossy(n).into_owned();
                let a = a.as_ref().ok()?;
                (!hidden_attr(&name)).then(|| (name, attr_json(a.shape.as_deref(), &a.values)))
            })
            .collect()
    }

    /// Add the group at `path` (reached as `found`, store key `key`) and
    /// everything under it; `ancestors` are the groups above (cycles).
    fn group(
        &mut self,
        path: &[u8],
        key: String,
        found: Found,
        ancestors: &mut Vec<(u64, u64)>,
    ) -> Result<usize> {
        let loc = found_loc(&found);
        let attrs = self.attrs(&loc);
        if path == b"/" {
            self.netcdf = attrs.iter().any(|(n, _)| n == b"_NCProperties");
        }
        let me = self.cat.entries.len();
        self.cat.entries.push(Entry {
            key: key.clone(),
            found: found.clone(),
            kind: Kind::Group {
                children: Vec::new(),
            },
            attrs: Self::zattrs(&attrs),
        });
        self.cat.by_path.insert(path.to_vec(), me);
        let links = self
            .fs
            .h5(self.node)
            .listing(&loc, false)
            .map_err(|e| io(path, e))?;
        ancestors.push(found.key);
        let mut datasets = Vec::new();
        let mut children = Vec::new();
        // netCDF takes a group's subgroups before its own variables.
        for (link, info) in links {
            let (LinkKind::Hard, Some(Ok(info))) = (&link.kind, info) else {
                continue;
            };
            let child_path = join(path, &link.name);
            let Ok(name) = std::str::from_utf8(&link.name) else {
                warn!(
                    "{}: name is not UTF-8, left out of the Zarr store",
                    show(&child_path)
                );
                continue;
            };
            if name.starts_with('.') || name.contains('/') {
                warn!("{}: name cannot be a Zarr key, left out", show(&child_path));
                continue;
            }
            let child_key = if key.is_empty() {
                name.to_string()
            } else {
                format!("{key}/{name}")
            };
            let child = found_of(&info, child_path.clone());
            match info.kind {
                ObjectKind::Group if ancestors.contains(&child.key) => {
                    warn!(
                        "{}: group inside itself, left out of the Zarr store",
                        show(&child_path)
                    )
                }
                ObjectKind::Group if self.cat.entries.len() < MAX_OBJECTS => {
                    children.push(self.group(&child_path, child_key, child, ancestors)?)
                }
                ObjectKind::Dataset => datasets.push((child_path, child_key, child)),
                _ => {}
            }
        }
        // Each dataset's description and attributes, from all workers at once.
        let (fs, node) = (self.fs, self.node);
        let fetched: Vec<_> = datasets
            .par_iter()
            .map(|(_, _, f)| {
                let loc = found_loc(f);
                (fs.h5(node).dataset(&loc), fetch_attrs(fs, node, &loc))
            })
            .collect();
        for ((p, k, f), (info, attrs)) in datasets.into_iter().zip(fetched) {
            if self.cat.entries.len() >= MAX_OBJECTS {
                warn!(
                    "{}: more than {MAX_OBJECTS} objects; the rest are left out of the Zarr store",
                    show(path)
                );
                break;
            }
            let info = match info {
                Ok(i) => i,
                Err(e) => {
                    warn!("{}: left out of the Zarr store: {e}", show(&p));
                    continue;
                }
            };
            if let Some(i) = self.dataset(&p, k, f, path, info, attrs) {
                children.push(i);
            }
        }
        ancestors.pop();
        if let Kind::Group { children: c } = &mut self.cat.entries[me].kind {
            *c = children;
        }
        Ok(me)
    }

    fn dataset(
        &mut self,
        path: &[u8],
        key: String,
        found: Found,
        group: &[u8],
        info: DatasetInfo,
        attrs: Vec<AttrResult>,
    ) -> Option<usize> {
        let loc = found_loc(&found);
        let class = str_attr(&attrs, b"CLASS");
        let is_scale = class.as_deref() == Some("DIMENSION_SCALE");
        let shape = info.meta.shape.clone().unwrap_or_default();
        let group_ix = self.group_index(group);
        if is_scale && shape.len() == 1 {
            self.real_dims.push(Dim {
                group: group_ix,
                name: basename(&show(path)),
                len: shape[0],
                unlimited: info.meta.maxshape.as_ref().is_some_and(|m| m[0].is_none()),
            });
            if str_attr(&attrs, b"NAME").is_some_and(|n| n.starts_with(NOT_A_VARIABLE)) {
                return None;
            }
        }
        let zarr = match array_of(&info, &attrs, self.netcdf, &loc) {
            Ok(z) => z,
            Err(why) => {
                warn!("{}: left out of the Zarr store: {why}", show(path));
                return None;
            }
        };
        let rank = shape.len();
        let mut named: Vec<Option<String>> = scales_per_axis(&attrs, rank);
        if is_scale && rank == 1 {
            named = vec![Some(basename(&show(path)))];
        }
        let extra = zarr.meta.shape.len() - rank;
        let i = self.cat.entries.len();
        self.vars.push((
            i,
            Var {
                group: group_ix,
                shape: zarr.meta.shape.clone(),
                unlimited: (0..rank + extra)
                    .map(|a| {
                        a < rank && info.meta.maxshape.as_ref().is_some_and(|m| m[a].is_none())
                    })
                    .collect(),
                named: named
                    .into_iter()
                    .chain(std::iter::repeat_n(None, extra))
                    .collect(),
            },
        ));
        self.cat.entries.push(Entry {
            key,
            found,
            kind: Kind::Array(Arc::new(zarr)),
            attrs: Self::zattrs(&attrs),
        });
        self.cat.by_path.insert(path.to_vec(), i);
        Some(i)
    }
}

/// netCDF shows every variable along an unlimited dimension as long as the
/// dimension (its longest variable), filled past its own records: so does
/// the store.
fn stretch_unlimited(cat: &mut Catalog, vars: &[(usize, Var)], names: &[Vec<String>]) {
    let mut longest: HashMap<&str, u64> = HashMap::new();
    for ((_, v), dims) in vars.iter().zip(names) {
        for (a, d) in dims.iter().enumerate() {
            if v.unlimited.get(a) == Some(&true) {
                let l = longest.entry(d).or_default();
                *l = (*l).max(v.shape[a]);
            }
        }
    }
    for ((i, v), dims) in vars.iter().zip(names) {
        let Kind::Array(arr) = &mut cat.entries[*i].kind else {
            continue;
        };
        let Some(a) = Arc::get_mut(arr) else {
            continue;
        };
        for (axis, d) in dims.iter().enumerate().take(a.grid.len()) {
            if v.unlimited[axis] {
                let len = longest.get(d.as_str()).copied().unwrap_or(0);
                if len > a.meta.shape[axis] {
                    a.meta.shape[axis] = len;
                    a.zgrid[axis] = len.div_ceil(a.meta.chunks[axis].max(1));
                }
            }
        }
    }
}

/// Attributes the store never shows nor needs; each of their references
/// would cost libhdf5 a search of the file for a path.
const UNREAD_ATTRS: &[&[u8]] = &[b"REFERENCE_LIST"];

fn fetch_attrs(fs: &Fs, node: &Node, loc: &Loc) -> Vec<AttrResult> {
    let skip: Vec<Vec<u8>> = UNREAD_ATTRS.iter().map(|n| n.to_vec()).collect();
    match fs.h5(node).attrs_except(loc, &skip) {
        Ok(a) => a
            .into_iter()
            .map(|(n, v)| (n, v.map_err(|e| e.msg)))
            .collect(),
        Err(e) => {
            warn!(
                "{}: attributes left out of the Zarr store: {e}",
                show(&loc.path)
            );
            Vec::new()
        }
    }
}

fn found_of(info: &ObjectInfo, path: H5Path) -> Found {
    Found {
        kind: info.kind,
        key: (info.file, info.addr),
        path,
        links: info.links,
        mtime: info.mtime,
    }
}

fn found_loc(f: &Found) -> Loc {
    Loc {
        path: f.path.clone(),
        addr: (f.key.0 == 0 && f.key.1 != 0).then_some(f.key.1),
    }
}

/// The dimension scale named for each axis (the last attached, by basename).
fn scales_per_axis(attrs: &[AttrResult], rank: usize) -> Vec<Option<String>> {
    let mut out = vec![None; rank];
    let Some(Ok(list)) = attrs
        .iter()
        .find(|(n, _)| n == b"DIMENSION_LIST")
        .map(|(_, a)| a)
    else {
        return out;
    };
    for (axis, refs) in list.values.iter().enumerate().take(rank) {
        let last = match refs {
            Value::List(r) => r.iter().rev().find_map(|v| match v {
                Value::Ref(Some(p)) => Some(p.clone()),
                _ => None,
            }),
            Value::Ref(Some(p)) => Some(p.clone()),
            _ => None,
        };
        out[axis] = last.map(|p| basename(&p));
    }
    out
}

/// The fill value for `fill_value`: the `_FillValue` attribute's, else
/// (null) for a netCDF file's variable without one, else the HDF5 one.
fn array_of(
    info: &DatasetInfo,
    attrs: &[AttrResult],
    netcdf: bool,
    loc: &Loc,
) -> std::result::Result<ZArray, String> {
    let meta = &info.meta;
    let shape = meta.shape.clone().ok_or("empty (null dataspace)")?;
    let (elem, extra, dtype) = zarr_dtype(&meta.ty)?;
    let itemsize = elem.size() as u64;
    let (serve, chunks) = match (&meta.chunks, &info.direct) {
        (Some(c), Some(DirectLayout::Chunked { .. })) => {
            match map_filters(&meta.filters, meta.ty.size()) {
                Some(p) => (Serve::Stored(p), c.clone()),
                None => (Serve::Decoded, c.clone()),
            }
        }
        (Some(c), _) => (Serve::Decoded, c.clone()),
        (None, _) => (
            Serve::Rows,
            row_chunks(&shape, meta.ty.size() as u64, ROW_CHUNK_BYTES),
        ),
    };
    // Served decoded, a dataset needs every filter here.
    if let (Serve::Decoded, [f, ..]) = (&serve, meta.missing_filters().as_slice()) {
        return Err(format!(
            "needs filter {} ({}), not available here",
            f.id, f.name
        ));
    }
    let grid: Vec<u64> = shape
        .iter()
        .zip(&chunks)
        .map(|(s, c)| s.div_ceil((*c).max(1)))
        .collect();
    let fill_bytes = match &info.direct {
        Some(DirectLayout::Chunked { fill, .. }) => fill.clone(),
        _ => encode_values(&meta.ty, std::slice::from_ref(&meta.fill))
            .unwrap_or_else(|_| vec![0; meta.ty.size()]),
    };
    let elem_fill = fill_bytes.get(..itemsize as usize).unwrap_or(&[]).to_vec();
    let fill_attr = attrs
        .iter()
        .find(|(n, _)| n == b"_FillValue")
        .and_then(|(_, a)| a.as_ref().ok());
    let (fill_json, serve_absent) = match fill_attr {
        Some(a) if a.values.len() == 1 => match encode_values(elem, &a.values) {
            Ok(b) => (fill_value(elem, &b), false),
            Err(_) => (fill_value(elem, &elem_fill), false),
        },
        _ if netcdf => (Json::Null, true),
        _ => (fill_value(elem, &elem_fill), false),
    };
    let mut zshape = shape.clone();
    zshape.extend(&extra);
    let mut zchunks = chunks.clone();
    zchunks.extend(&extra);
    let chunk_bytes = chunks
        .iter()
        .product::<u64>()
        .saturating_mul(meta.ty.size() as u64);
    Ok(ZArray {
        meta: ArrayMeta {
            shape: zshape,
            chunks: zchunks,
            dtype,
            fill_value: fill_json,
            pipeline: match &serve {
                Serve::Stored(p) => Some(p.clone()),
                _ => None,
            },
        },
        loc: loc.clone(),
        serve,
        zgrid: grid.clone(),
        grid,
        fill: fill_bytes,
        places: std::sync::OnceLock::new(),
        ds_shape: shape.clone(),
        ds_chunks: chunks.clone(),
        itemsize: meta.ty.size() as u64,
        chunk_bytes,
        serve_absent,
    })
}

impl Fs {
    /// The store's catalog, made on first use.
    pub(super) fn catalog(&self) -> Result<Arc<Catalog>> {
        let mut slot = self.catalog.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = &*slot {
            return Ok(c.clone());
        }
        let root = self.node(crate::tree::ROOT)?;
        let started = std::time::Instant::now();
        let mut walk = Walk {
            fs: self,
            node: &root,
            cat: Catalog::default(),
            netcdf: false,
            real_dims: Vec::new(),
            vars: Vec::new(),
            groups: HashMap::new(),
        };
        let root_found = Found {
            kind: ObjectKind::Group,
            key: self.file.root_key,
            path: b"/".to_vec(),
            links: root.links,
            mtime: root.mtime,
        };
        walk.group(b"/", String::new(), root_found, &mut Vec::new())?;
        let vars: Vec<Var> = walk.vars.iter().map(|(_, v)| v.clone()).collect();
        let names = assign(&walk.real_dims, &vars);
        if walk.netcdf {
            stretch_unlimited(&mut walk.cat, &walk.vars, &names);
        }
        for ((i, _), dims) in walk.vars.iter().zip(names) {
            walk.cat.entries[*i].attrs.insert(
                "_ARRAY_DIMENSIONS".into(),
                Json::Array(dims.into_iter().map(Json::String).collect()),
            );
        }
        info!(
            "Zarr catalog: {} groups and arrays in {:.2} s",
            walk.cat.entries.len(),
            started.elapsed().as_secs_f64()
        );
        let cat = Arc::new(walk.cat);
        *slot = Some(cat.clone());
        Ok(cat)
    }
}
