//! External links between files of a directory mount (§15.4): a link to
//! another HDF5 file of the tree is a symlink to that file's directory, so
//! the tree shows each file once, under its own name.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::Fs;
use crate::tree::names::tree_link_text;
use crate::tree::Node;

impl Fs {
    /// The symlink text for the external link to `path` in `file`, found in
    /// group `dir` of this file, when that file is an HDF5 file of the same
    /// directory mount (resolved as libhdf5 does without a prefix: an
    /// absolute name as it is, a relative one from this file's directory).
    pub(super) fn link_into_tree(&self, dir: &Node, file: &[u8], path: &[u8]) -> Option<Vec<u8>> {
        let place = self.opts.tree.as_ref()?;
        if dir.file != 0 {
            return None;
        }
        let name = Path::new(OsStr::from_bytes(file));
        let candidate = if name.is_absolute() {
            name.to_path_buf()
        } else {
            place.root.join(&place.file).parent()?.join(name)
        };
        let target = std::fs::canonicalize(&candidate).ok()?;
        let rel = target.strip_prefix(&place.root).ok()?;
        let m = std::fs::metadata(&target).ok()?;
        if !m.is_file() || !crate::sniff::is_hdf5(&target, m.len()) {
            return None;
        }
        Some(tree_link_text(
            place.file.as_os_str().as_bytes(),
            &dir.path,
            rel.as_os_str().as_bytes(),
            path,
        ))
    }
}
