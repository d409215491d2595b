//! Data changes on `-o rw` mounts: writes become hyperslab writes, writes
//! past the end and truncation resize axis 0 by whole rows.

use super::error::{io, show};
use super::handles::Handle;
use super::limits::{check_extent, ExtentError};
use super::read::OpenDataset;
use super::{lock, Attr, Error, Fs, Result};
use crate::encode::bytes::encode_values;
use crate::encode::json::value_to_json;
use crate::encode::sidecar::Representation;
use crate::model::{DatasetMeta, ElementData, Layout, TypeDesc, Value};
use crate::tree::{Ino, Node, NodeKind};

/// The parts of setattr h5fs acts on; mode, owner and times are accepted and
/// not stored (HDF5 has nowhere to keep them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SetAttr {
    pub size: Option<u64>,
}

pub(super) fn element_data(ty: &TypeDesc, values: &[Value]) -> Result<ElementData, String> {
    match ty {
        TypeDesc::VarString { .. } => Ok(ElementData::Strings(
            values
                .iter()
                .map(|v| match v {
                    Value::Str(s) => Ok(s.clone()),
                    other => Err(format!("expected a string, got {}", value_to_json(other))),
                })
                .collect::<Result<_, _>>()?,
        )),
        TypeDesc::VarLen { base } if !base.is_variable() => Ok(ElementData::Sequences(
            values
                .iter()
                .map(|v| match v {
                    Value::List(items) => encode_values(base, items),
                    other => Err(format!("expected a list, got {}", value_to_json(other))),
                })
                .collect::<Result<_, _>>()?,
        )),
        t if !t.is_variable() => Ok(ElementData::Fixed(encode_values(t, values)?)),
        _ => Err("values of this type cannot be written".into()),
    }
}

/// The bytes of one row (all axes but the first) of a dataset.
pub(super) fn row_bytes(meta: &DatasetMeta) -> u64 {
    let shape = meta.shape.as_deref().unwrap_or(&[]);
    meta.ty.size() as u64 * shape.iter().skip(1).product::<u64>()
}

/// How many rows axis 0 may hold, if the dataset can be resized at all.
pub(super) fn max_rows(meta: &DatasetMeta) -> Option<u64> {
    let shape = meta.shape.as_ref()?;
    if meta.layout != Layout::Chunked || shape.is_empty() {
        return None;
    }
    Some(
        meta.maxshape
            .as_ref()?
            .first()
            .copied()
            .flatten()
            .unwrap_or(u64::MAX),
    )
}

/// A shape refused by [`check_extent`]: EINVAL if it is nonsense, EFBIG if too large.
pub(super) fn extent_error(path: &[u8], e: ExtentError) -> Error {
    let msg = format!("{}: {e}", show(path));
    if e.is_invalid() {
        Error::Invalid(msg)
    } else {
        Error::TooBig(msg)
    }
}

/// The extent of dataset `meta` (at `node`) with `rows` rows, if it can
/// take them (EFBIG otherwise); None if it has them already.
pub(super) fn with_rows(node: &Node, meta: &DatasetMeta, rows: u64) -> Result<Option<Vec<u64>>> {
    let shape = meta.shape.clone().unwrap_or_default();
    let Some(max) = max_rows(meta) else {
        return Err(Error::TooBig(format!(
            "{}: {} dataset cannot change size",
            show(&node.path),
            if shape.is_empty() {
                "a scalar or empty"
            } else {
                meta.layout.name()
            }
        )));
    };
    if rows > max {
        return Err(Error::TooBig(format!(
            "{}: {rows} rows exceed the maximum of {max}",
            show(&node.path)
        )));
    }
    if shape[0] == rows {
        return Ok(None);
    }
    let mut dims = shape;
    dims[0] = rows;
    check_extent(&dims, meta.ty.size() as u64, meta.chunks.as_deref())
        .map_err(|e| extent_error(&node.path, e))?;
    Ok(Some(dims))
}

impl Fs {
    pub(super) fn write_at(&self, fh: u64, offset: u64, data: &[u8]) -> Result<u32> {
        self.writable()?;
        let ino = match self.handle(fh)? {
            Handle::Stager { staging, .. } => {
                lock(&staging)
                    .write_at(offset, data)
                    .map_err(|e| Error::Io(format!("staging file: {e}")))?;
                return Ok(data.len() as u32);
            }
            Handle::Writer { ino } => ino,
            Handle::Reader { .. } | Handle::StagedReader { .. } => return Err(Error::BadHandle),
        };
        let node = self.node(ino)?;
        if node.kind != NodeKind::Dataset {
            return Err(Error::Invalid("not a dataset".into()));
        }
        let _w = lock(&self.handles.write_lock);
        self.write_raw(ino, &node, offset, data)?;
        Ok(data.len() as u32)
    }

    /// pwrite on a raw dataset: a hyperslab write of the covered elements,
    /// growing axis 0 first when the write ends past the current size.
    fn write_raw(&self, ino: Ino, node: &Node, offset: u64, data: &[u8]) -> Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        let mut ds = self.dataset(ino, node)?;
        if Representation::of(&ds.meta.ty) != Representation::Raw {
            return Err(Error::Invalid("not a raw dataset".into()));
        }
        let itemsize = ds.meta.ty.size() as u64;
        let total = ds.meta.byte_len();
        let end = offset.checked_add(data.len() as u64).ok_or_else(|| {
            Error::TooBig(format!(
                "{}: offset {offset} is past any size",
                show(&node.path)
            ))
        })?;
        if end > total {
            let row = row_bytes(&ds.meta).max(1);
            self.resize_rows(ino, node, &ds, end.div_ceil(row))?;
            ds = self.dataset(ino, node)?;
        }
        let first = offset / itemsize;
        let last = end.div_ceil(itemsize);
        let head = offset % itemsize;
        if head == 0 && end % itemsize == 0 {
            return self
                .h5(node)
                .write_elements(&ds.loc, first, data)
                .map_err(|e| io(&node.path, e));
        }
        // Partial elements at the edges: read them, patch, write back whole.
        let mut buf = vec![0u8; ((last - first) * itemsize) as usize];
        let edge = |at: u64| {
            self.h5(node)
                .read_elements(&ds.loc, at, at + 1)
                .map_err(|e| io(&node.path, e))
        };
        if head != 0 {
            buf[..itemsize as usize].copy_from_slice(&edge(first)?);
        }
        if end % itemsize != 0 {
            let n = buf.len();
            buf[n - itemsize as usize..].copy_from_slice(&edge(last - 1)?);
        }
        buf[head as usize..head as usize + data.len()].copy_from_slice(data);
        self.h5(node)
            .write_elements(&ds.loc, first, &buf)
            .map_err(|e| io(&node.path, e))
    }

    /// Set axis 0 of dataset `ino` to `rows` (EFBIG beyond what it can hold).
    pub(super) fn resize_rows(
        &self,
        ino: Ino,
        node: &Node,
        ds: &OpenDataset,
        rows: u64,
    ) -> Result<()> {
        let Some(dims) = with_rows(node, &ds.meta, rows)? else {
            return Ok(());
        };
        self.h5(node)
            .set_extent(&ds.loc, &dims)
            .map_err(|e| io(&node.path, e))?;
        self.changed(ino);
        Ok(())
    }

    /// truncate / ftruncate: resize axis 0 to whole rows.
    pub(super) fn set_attr(&self, ino: Ino, set: SetAttr) -> Result<Attr> {
        if let Some(size) = set.size {
            self.writable()?;
            let _w = lock(&self.handles.write_lock);
            if let Some(s) = lock(&self.handles.staging).get(&ino).cloned() {
                lock(&s)
                    .set_len(size)
                    .map_err(|e| Error::Io(format!("staging file: {e}")))?;
                return self.attr(ino);
            }
            let node = self.node(ino)?;
            self.changeable(&node)?;
            match node.kind {
                NodeKind::Dataset => self.truncate_dataset(ino, &node, size)?,
                NodeKind::Group => return Err(Error::IsDir),
                _ => {
                    return Err(Error::NotPermitted(format!(
                        "{}: only datasets can be truncated",
                        show(&node.path)
                    )))
                }
            }
        } else if !self.opts.writable {
            return Err(Error::ReadOnly);
        }
        self.attr(ino)
    }

    fn truncate_dataset(&self, ino: Ino, node: &Node, size: u64) -> Result<()> {
        let ds = self.dataset(ino, node)?;
        match Representation::of(&ds.meta.ty) {
            Representation::Raw => {}
            Representation::Text(_) if size == 0 => {
                return self.apply_text(ino, &super::create::Source::Bytes(b""));
            }
            _ => {
                return Err(Error::Invalid(format!(
                    "{}: a text view can only be truncated to 0",
                    show(&node.path)
                )))
            }
        }
        let current = ds.meta.byte_len();
        if size == current {
            return Ok(());
        }
        let row = row_bytes(&ds.meta);
        if row == 0 || size % row != 0 {
            return Err(Error::Invalid(format!(
                "{}: {size} bytes is not a whole number of {row}-byte rows",
                show(&node.path)
            )));
        }
        self.resize_rows(ino, node, &ds, size / row)
    }
}
