//! `.userblock` at the root of a file with a user block: the bytes before
//! the HDF5 data, read and (on `-o rw` mounts) written in place. libhdf5
//! never touches them once the file exists, so they are plain bytes of the
//! file that holds the start of the address space.
//!
//! Its size is fixed when the file is created: truncating it to another
//! size is EINVAL, a write past its end EFBIG; O_TRUNC changes nothing (as
//! on a block device).

use std::fs::File;
use std::os::unix::fs::FileExt;

use super::error::show;
use super::{Error, Fs, Result};
use crate::tree::names::Planned;
use crate::tree::{Found, Node, View, ROOT};

impl Fs {
    /// The `.userblock` entry of the root listing, unless the file has no
    /// user block, a member of the root takes the name, or the mount is a
    /// Zarr store (which holds only Zarr's keys).
    pub(super) fn userblock_entry(
        &self,
        dir: &Node,
        root: &Found,
        taken: &dyn Fn(&[u8]) -> bool,
    ) -> Option<Planned<Found>> {
        let name = View::UserBlock.suffix();
        (dir.path == b"/" && self.file_of(dir).base > 0 && !self.opts.zarr && !taken(name)).then(
            || Planned::View {
                name: name.to_vec(),
                dataset: root.clone(),
                view: View::UserBlock,
            },
        )
    }

    fn userblock_file(&self, write: bool) -> Result<File> {
        let path = &self.file_of(&*self.node(ROOT)?).first_part;
        std::fs::OpenOptions::new()
            .read(true)
            .write(write)
            .open(path)
            .map_err(|e| Error::Io(format!("/.userblock: {}: {e}", path.display())))
    }

    pub(super) fn userblock_len(&self) -> u64 {
        self.file.base
    }

    pub(super) fn read_userblock(&self, offset: u64, size: u32) -> Result<Vec<u8>> {
        let end = offset.saturating_add(size.into()).min(self.userblock_len());
        if offset >= end {
            return Ok(Vec::new());
        }
        // The bytes direct reads use, where there are (read-only mounts,
        // remote files included): the user block is their first bytes.
        if let Some(source) = &self.file_of(&*self.node(ROOT)?).direct {
            let mut out = Vec::new();
            source
                .read_at(&mut out, (end - offset) as usize, offset)
                .map_err(|e| Error::Io(format!("/.userblock: reading: {e}")))?;
            return Ok(out);
        }
        let mut out = vec![0; (end - offset) as usize];
        self.userblock_file(false)?
            .read_exact_at(&mut out, offset)
            .map_err(|e| Error::Io(format!("/.userblock: reading: {e}")))?;
        Ok(out)
    }

    pub(super) fn write_userblock(&self, offset: u64, data: &[u8]) -> Result<()> {
        let len = self.userblock_len();
        if offset
            .checked_add(data.len() as u64)
            .is_none_or(|end| end > len)
        {
            return Err(Error::TooBig(format!(
                "/.userblock: the user block holds {len} bytes (its size is set when the file is created)"
            )));
        }
        let f = self.userblock_file(true)?;
        f.write_all_at(data, offset)
            .map_err(|e| Error::Io(format!("/.userblock: writing: {e}")))
    }

    pub(super) fn truncate_userblock(&self, size: u64) -> Result<()> {
        let len = self.userblock_len();
        if size != len {
            return Err(Error::Invalid(format!(
                "{}: the user block's size is fixed at {len} bytes",
                show(b"/.userblock")
            )));
        }
        Ok(())
    }
}
