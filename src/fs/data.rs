//! Data changes on `-o rw` mounts: writes become hyperslab writes, writes
//! past the end and truncation resize axis 0 by whole rows.

use super::error::{io, show};
use super::handles::Handle;
use super::read::OpenDataset;
use super::shape::{row_bytes, with_rows};
use super::{lock, Attr, Error, Fs, Result};
use crate::encode::sidecar::Representation;

use crate::tree::{Ino, Node, NodeKind, View};

/// The parts of setattr h5fs acts on; mode, owner and times are accepted and
/// not stored (HDF5 has nowhere to keep them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SetAttr {
    pub size: Option<u64>,
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
        if let NodeKind::View {
            view: View::UserBlock,
            ..
        } = node.kind
        {
            self.write_userblock(offset, data)?;
            return Ok(data.len() as u32);
        }
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
        self.chunks_fit(node, &ds.meta)?;
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
                NodeKind::View {
                    view: View::UserBlock,
                    ..
                } => self.truncate_userblock(size)?,
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
