//! Names on `-o rw` mounts: mkdir, unlink, rmdir, rename, link, symlink.

use std::sync::Arc;

use super::create::{Source, MAX_SIDECAR};
use super::error::{io, show};
use super::stage::Target;
use super::{join, lock, Attr, Error, Fs, Result};
use crate::encode::sidecar::Representation;
use crate::tree::names::{split_suffix, Suffix};
use crate::tree::{Ino, Node, NodeKind, View};

/// The HDF5 soft-link value for a symlink `target` made in group `dir`: the
/// absolute path it points at, or None if it leaves the mount.
pub fn soft_link_value(dir: &[u8], target: &[u8]) -> Option<Vec<u8>> {
    if target.starts_with(b"/") || target.is_empty() {
        return None;
    }
    let mut parts: Vec<&[u8]> = dir
        .split(|b| *b == b'/')
        .filter(|c| !c.is_empty())
        .collect();
    for c in target.split(|b| *b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => {
                parts.pop()?;
            }
            other => parts.push(other),
        }
    }
    let mut out = Vec::new();
    for p in parts {
        out.push(b'/');
        out.extend_from_slice(p);
    }
    if out.is_empty() {
        out.push(b'/');
    }
    Some(out)
}

impl Fs {
    /// Forget what is cached about dataset `ino` (after its data or attributes changed).
    pub(super) fn changed(&self, ino: Ino) {
        self.caches().changed(ino);
    }

    /// Forget cached listings and sidecars after the namespace of `dir` changed.
    pub(super) fn changed_dir(&self, dir: Ino) {
        self.tree.invalidate(dir);
        self.caches().clear_contents();
    }

    pub(super) fn group_node(&self, ino: Ino) -> Result<Arc<Node>> {
        let node = self.node(ino)?;
        if node.kind != NodeKind::Group {
            return Err(Error::NotDir);
        }
        self.changeable(&node)?;
        Ok(node)
    }

    /// Whether the object is a byte file made through this mount.
    pub(super) fn is_created_raw(&self, key: (u64, u64)) -> bool {
        lock(&self.created_raw).contains(&key)
    }

    pub(super) fn is_created_raw_ino(&self, ino: Ino) -> bool {
        self.node(ino)
            .map(|n| self.is_created_raw((n.file, n.addr)))
            .unwrap_or(false)
    }

    /// Remove the link `name` of `parent` to object `node`.
    pub(super) fn delete(&self, parent: Ino, name: &[u8], node: &Node) -> Result<()> {
        let dir = self.node(parent)?;
        let path = join(&dir.path, name);
        let last = node.kind != NodeKind::Pending
            && node.addr != 0
            && self
                .file
                .h5
                .info_at(&node.loc())
                .map(|i| i.links <= 1)
                .unwrap_or(false);
        self.file.h5.delete_link(&path).map_err(|e| io(&path, e))?;
        if last {
            self.tree.forget_object((node.file, node.addr));
        }
        self.caches().clear();
        self.changed_dir(parent);
        Ok(())
    }

    pub(super) fn make_group(&self, parent: Ino, name: &[u8]) -> Result<Attr> {
        self.writable()?;
        let dir = self.group_node(parent)?;
        super::check_name(name)?;
        if self.find(parent, name).is_ok() {
            return Err(Error::Exists);
        }
        let _w = lock(&self.handles.write_lock);
        let path = join(&dir.path, name);
        self.file.h5.create_group(&path).map_err(|e| io(&path, e))?;
        self.changed_dir(parent);
        self.find(parent, name)
    }

    pub(super) fn unlink_entry(&self, parent: Ino, name: &[u8]) -> Result<()> {
        self.writable()?;
        self.group_node(parent)?;
        let _w = lock(&self.handles.write_lock);
        if let Some(ino) = self.tree.pending(parent, name) {
            // A file being written that is not a dataset yet: it is dropped at close.
            self.tree.remove_pending(parent, name);
            if let Some(s) = lock(&self.handles.staging).remove(&ino) {
                lock(&s).dirty = false;
            }
            return Ok(());
        }
        if self.tree.remove_ghost(parent, name) {
            return Ok(());
        }
        let entry = self.entry(parent, name)?;
        let node = self.node(entry.ino)?;
        match node.kind {
            NodeKind::Group => Err(Error::IsDir),
            NodeKind::View {
                view: View::UserBlock,
                ..
            } => Err(Error::NotPermitted(
                "/.userblock: the user block is part of the file and cannot be removed".into(),
            )),
            // Views (the sidecar) show their dataset: removing one deletes nothing.
            NodeKind::View { .. } => Ok(()),
            NodeKind::Dataset => {
                // The dataset's views go with it; their names stay
                // unlinkable for a moment (`rm -r` lists them too).
                let listing = self.listing(parent)?;
                let shown: Vec<Vec<u8>> = self
                    .opts
                    .views
                    .iter()
                    .map(|v| v.name(name))
                    .filter(|n| {
                        listing.get(n).is_some_and(|e| {
                            matches!(
                                self.node(e.ino).map(|n| n.kind.clone()),
                                Ok(NodeKind::View { .. })
                            )
                        })
                    })
                    .collect();
                self.delete(parent, name, &node)?;
                for n in shown {
                    self.tree.add_ghost(parent, n);
                }
                Ok(())
            }
            _ => self.delete(parent, name, &node),
        }
    }

    pub(super) fn remove_group(&self, parent: Ino, name: &[u8]) -> Result<()> {
        self.writable()?;
        self.group_node(parent)?;
        let _w = lock(&self.handles.write_lock);
        let entry = self.entry(parent, name)?;
        let node = self.node(entry.ino)?;
        if node.kind != NodeKind::Group {
            return Err(Error::NotDir);
        }
        let links = self
            .file
            .h5
            .links(&node.loc())
            .map_err(|e| io(&node.path, e))?;
        if !links.is_empty()
            || !self
                .handles
                .pending_entries(entry.ino, &self.tree)
                .is_empty()
        {
            return Err(Error::NotEmpty);
        }
        self.delete(parent, name, &node)
    }

    pub(super) fn rename_entry(
        &self,
        parent: Ino,
        name: &[u8],
        new_parent: Ino,
        new_name: &[u8],
        no_replace: bool,
    ) -> Result<()> {
        self.writable()?;
        let from_dir = self.group_node(parent)?;
        let to_dir = self.group_node(new_parent)?;
        super::check_name(new_name)?;
        if let Some(ino) = self.tree.pending(parent, name) {
            return self.rename_pending(ino, parent, name, new_parent, new_name);
        }
        let src = self.entry(parent, name)?;
        let src_node = self.node(src.ino)?;
        if let NodeKind::View { view, .. } = &src_node.kind {
            return Err(Error::NotPermitted(format!(
                "{}{}: a view moves with its dataset",
                show(&src_node.path),
                show(view.suffix())
            )));
        }
        let from = join(&from_dir.path, name);
        let to = join(&to_dir.path, new_name);
        if from == to {
            return Ok(());
        }
        let target = self.find(new_parent, new_name).ok();
        if target.is_some() && no_replace {
            return Err(Error::Exists);
        }
        let created_raw = self.is_created_raw_ino(src.ino);
        let _w = lock(&self.handles.write_lock);
        // A file written through the mount and renamed to what it should be
        // (rsync, editors): its bytes go where the name says.
        if created_raw && self.rename_bytes_into(parent, name, &src_node, new_parent, new_name)? {
            return Ok(());
        }
        if let Some(t) = target {
            let t_entry = self.entry(new_parent, new_name)?;
            let t_node = self.node(t_entry.ino)?;
            let src_is_dir = src_node.kind == NodeKind::Group;
            match (&t_node.kind, src_is_dir) {
                (NodeKind::Group, true) => {
                    let links = self
                        .file
                        .h5
                        .links(&t_node.loc())
                        .map_err(|e| io(&t_node.path, e))?;
                    if !links.is_empty() {
                        return Err(Error::NotEmpty);
                    }
                }
                (NodeKind::Group, false) => return Err(Error::IsDir),
                (_, true) => return Err(Error::NotDir),
                (NodeKind::View { .. }, false) => {
                    return Err(Error::NotPermitted(format!(
                        "{}: cannot replace a view (sidecar, header) with another object",
                        show(&to)
                    )))
                }
                _ => {}
            }
            if t.ino == src.ino {
                // Two names of one object: POSIX says do nothing.
                return Ok(());
            }
            self.delete(new_parent, new_name, &t_node)?;
        }
        self.file
            .h5
            .move_link(&from, &to)
            .map_err(|e| io(&from, e))?;
        self.tree.rename_paths(&from, &to);
        self.changed_dir(parent);
        self.changed_dir(new_parent);
        Ok(())
    }

    fn rename_pending(
        &self,
        ino: Ino,
        parent: Ino,
        name: &[u8],
        new_parent: Ino,
        new_name: &[u8],
    ) -> Result<()> {
        let s = lock(&self.handles.staging)
            .get(&ino)
            .cloned()
            .ok_or(Error::NotFound)?;
        let to_dir = self.group_node(new_parent)?;
        let mut st = lock(&s);
        let Some((from, base)) = split_suffix(new_name) else {
            return Err(Error::NotPermitted(format!(
                "{}: a file being written as .npy or sidecar keeps its suffix",
                show(&join(&to_dir.path, new_name))
            )));
        };
        self.tree.remove_pending(parent, name);
        let new_ino = self
            .tree
            .add_pending(new_parent, new_name, join(&to_dir.path, new_name));
        st.target = Target::New {
            from,
            parent: new_parent,
            name: base.to_vec(),
            file_name: new_name.to_vec(),
            ino: new_ino,
        };
        drop(st);
        let mut map = lock(&self.handles.staging);
        map.remove(&ino);
        map.insert(new_ino, s);
        Ok(())
    }

    pub(super) fn make_hard_link(
        &self,
        ino: Ino,
        new_parent: Ino,
        new_name: &[u8],
    ) -> Result<Attr> {
        self.writable()?;
        let dir = self.group_node(new_parent)?;
        super::check_name(new_name)?;
        let node = self.node(ino)?;
        if !matches!(
            node.kind,
            NodeKind::Dataset | NodeKind::Group | NodeKind::Datatype
        ) {
            return Err(Error::NotPermitted(
                "only groups, datasets and committed datatypes can be hard-linked".into(),
            ));
        }
        self.changeable(&node)?;
        if self.find(new_parent, new_name).is_ok() {
            return Err(Error::Exists);
        }
        let _w = lock(&self.handles.write_lock);
        let path = join(&dir.path, new_name);
        self.file
            .h5
            .hard_link(&node.loc(), &path)
            .map_err(|e| io(&path, e))?;
        self.changed_dir(new_parent);
        self.find(new_parent, new_name)
    }

    /// symlink: a soft link to the same place inside the file.
    pub(super) fn make_symlink(&self, parent: Ino, name: &[u8], target: &[u8]) -> Result<Attr> {
        self.writable()?;
        let dir = self.group_node(parent)?;
        super::check_name(name)?;
        if self.find(parent, name).is_ok() {
            return Err(Error::Exists);
        }
        let value = soft_link_value(&dir.path, target).ok_or_else(|| {
            Error::NotPermitted(format!(
                "{}: symlink target {} leaves the mount",
                show(&join(&dir.path, name)),
                show(target)
            ))
        })?;
        let _w = lock(&self.handles.write_lock);
        let path = join(&dir.path, name);
        self.file
            .h5
            .soft_link(&value, &path)
            .map_err(|e| io(&path, e))?;
        self.changed_dir(parent);
        self.find(parent, name)
    }
}

/// Renames that apply bytes rather than move a link.
impl Fs {
    /// Renaming a byte file made through the mount onto `NAME.npy`,
    /// `NAME.json` or an existing dataset applies its bytes there (as if
    /// written there) and removes it. Returns false when the rename is an
    /// ordinary move.
    pub(super) fn rename_bytes_into(
        &self,
        parent: Ino,
        name: &[u8],
        src: &Node,
        new_parent: Ino,
        new_name: &[u8],
    ) -> Result<bool> {
        let src_ino = self.entry(parent, name)?.ino;
        let ds = self.dataset(src_ino, src)?;
        let bytes = Source::Dataset {
            loc: &ds.loc,
            path: &src.path,
            len: ds.meta.byte_len(),
        };
        let target = match self.entry(new_parent, new_name) {
            Ok(e) => Some((e.ino, self.node(e.ino)?)),
            Err(_) => None,
        };
        let done = match target {
            Some((_, t)) if matches!(t.kind, NodeKind::View { .. }) => match &t.kind {
                NodeKind::View {
                    dataset,
                    view: View::Sidecar,
                    ..
                } => {
                    let text = bytes.whole(self, MAX_SIDECAR, "a sidecar", &src.path)?;
                    self.apply_sidecar(*dataset, &text)?;
                    true
                }
                // Onto a .npy view: the stream replaces its dataset.
                NodeKind::View {
                    view: View::Npy,
                    dir,
                    name,
                    ..
                } => {
                    self.apply_npy(*dir, name, &bytes)?;
                    true
                }
                _ => return Ok(false),
            },
            Some((t_ino, t)) if t.kind == NodeKind::Dataset => {
                let tds = self.dataset(t_ino, &t)?;
                match Representation::of(&tds.meta.ty) {
                    Representation::Text(_) => {
                        self.apply_text(t_ino, &bytes)?;
                        true
                    }
                    Representation::Raw => self.replace_raw_from(t_ino, &t, &tds, &bytes)?,
                    Representation::Unavailable => false,
                }
            }
            Some(_) => false,
            None => match split_suffix(new_name) {
                Some((Suffix::Npy, base)) => {
                    self.apply_npy(new_parent, base, &bytes)?;
                    true
                }
                Some((Suffix::Sidecar, base)) => {
                    let free = match self.entry(new_parent, base) {
                        Ok(e) => self.is_created_raw_ino(e.ino),
                        Err(_) => true,
                    };
                    if free {
                        self.apply_new_sidecar(new_parent, base, &bytes)?;
                    }
                    free
                }
                None => false,
            },
        };
        if done {
            self.delete(parent, name, src)?;
        }
        Ok(done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlink_targets_stay_inside() {
        assert_eq!(soft_link_value(b"/g", b"x"), Some(b"/g/x".to_vec()));
        assert_eq!(
            soft_link_value(b"/g/h", b"../x/./y"),
            Some(b"/g/x/y".to_vec())
        );
        assert_eq!(soft_link_value(b"/g", b".."), Some(b"/".to_vec()));
        assert_eq!(soft_link_value(b"/g", b"../.."), None);
        assert_eq!(soft_link_value(b"/", b"/etc/passwd"), None);
        assert_eq!(soft_link_value(b"/", b""), None);
    }
}
