//! Links between files of a directory mount (§15.4): an external link to
//! another HDF5 file of the tree is a symlink to that file's directory, so
//! the tree shows each file once, under its own name; a virtual dataset's
//! sources in files of the tree are named by their place in the mount.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::Fs;
use crate::model::DatasetMeta;
use crate::tree::names::tree_link_text;
use crate::tree::Node;

impl Fs {
    /// The symlink text for the external link to `path` in `file`, found in
    /// group `dir` of this file, when that file is an HDF5 file of the same
    /// directory mount (resolved as libhdf5 does without a prefix: an
    /// absolute name as it is, a relative one from this file's directory).
    pub(super) fn link_into_tree(&self, dir: &Node, file: &[u8], path: &[u8]) -> Option<Vec<u8>> {
        if dir.file != 0 {
            return None;
        }
        let rel = self.file_in_tree(file)?;
        let place = self.opts.tree.as_ref()?;
        Some(tree_link_text(
            place.file.as_os_str().as_bytes(),
            &dir.path,
            &rel,
            path,
        ))
    }

    /// Where each source of virtual dataset `ds` is in the mount, from its
    /// root: `.` sources in this file, others when their file is an HDF5 file
    /// of the same directory mount (§10.7a).
    pub(super) fn source_mount_paths(&self, ds: &Node, meta: &DatasetMeta) -> Vec<Option<String>> {
        if ds.file != 0 {
            return vec![None; meta.sources.len()];
        }
        let prefix = |file: &[u8]| {
            let mut p = b"/".to_vec();
            p.extend_from_slice(file);
            p
        };
        let this = match &self.opts.tree {
            Some(place) => prefix(place.file.as_os_str().as_bytes()),
            None => Vec::new(),
        };
        meta.sources
            .iter()
            .map(|s| {
                let file = if s.file == "." {
                    this.clone()
                } else {
                    prefix(&self.file_in_tree(s.file.as_bytes())?)
                };
                let mut p = file;
                if !s.dataset.starts_with('/') {
                    p.push(b'/');
                }
                p.extend_from_slice(s.dataset.as_bytes());
                Some(String::from_utf8_lossy(&p).into_owned())
            })
            .collect()
    }

    /// The path (from the tree's root) of the HDF5 file `file` names, found
    /// as libhdf5 finds it from this file without a prefix (an absolute name
    /// as it is, a relative one from this file's directory), if it is one of
    /// the same directory mount.
    fn file_in_tree(&self, file: &[u8]) -> Option<Vec<u8>> {
        let place = self.opts.tree.as_ref()?;
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
        Some(rel.as_os_str().as_bytes().to_vec())
    }
}
