//! Attributes as extended attributes `user.NAME`, both ways.

use std::sync::Arc;

use log::warn;

use super::error::{io, show};
use super::shape::element_data;
use super::{lock, Error, Fs, Result, XATTR_SIZE_MAX};
use crate::encode::xattr::{attr_value, infer_new_attr, name_list, parse_attr_text};
use crate::tree::{Ino, Node, NodeKind};

/// The attribute named by xattr `name`: None outside the `user.` namespace,
/// EINVAL for an empty name (as ext4 answers `user.`).
fn user_attr_name(name: &[u8]) -> Option<Result<&[u8]>> {
    let attr = name.strip_prefix(b"user.")?;
    Some(if attr.is_empty() {
        Err(Error::Invalid("empty attribute name (user.)".into()))
    } else {
        Ok(attr)
    })
}

fn has_attributes(node: &Node) -> bool {
    matches!(
        node.kind,
        NodeKind::Group | NodeKind::Dataset | NodeKind::Datatype | NodeKind::Array
    )
}

impl Fs {
    /// The NUL-separated `user.` names of the object's attributes.
    pub(super) fn attr_list(&self, ino: Ino) -> Result<Vec<u8>> {
        let node = self.node(ino)?;
        if !has_attributes(&node) {
            return Ok(Vec::new());
        }
        let names = self
            .h5(&node)
            .attr_names(&node.loc())
            .map_err(|e| io(&node.path, e))?;
        Ok(name_list(&names))
    }

    /// Whether the object has an attribute named `name`.
    fn has_attr(&self, node: &Node, name: &[u8]) -> Result<bool> {
        let names = self
            .h5(node)
            .attr_names(&node.loc())
            .map_err(|e| io(&node.path, e))?;
        Ok(names.iter().any(|n| n == name))
    }

    /// The value of xattr `name` as text.
    pub(super) fn attr_text(&self, ino: Ino, name: &[u8]) -> Result<Vec<u8>> {
        let node = self.node(ino)?;
        let attr_name = user_attr_name(name).ok_or(Error::NoAttr)??;
        if !has_attributes(&node) || !self.has_attr(&node, attr_name)? {
            return Err(Error::NoAttr);
        }
        let attr = self
            .h5(&node)
            .read_attr(&node.loc(), attr_name)
            .map_err(|e| io(&node.path, e))?;
        let value = attr_value(&attr);
        if value.len() > XATTR_SIZE_MAX {
            let whole = if node.kind == NodeKind::Dataset {
                "it is whole in the sidecar"
            } else {
                "read it with h5py"
            };
            warn!(
                "{} attribute {}: value of {} bytes is over the xattr limit; {whole}",
                show(&node.path),
                show(attr_name),
                value.len()
            );
            return Err(Error::AttrTooBig(value.len()));
        }
        Ok(value)
    }

    /// An object whose attributes may be changed.
    fn attr_node(&self, ino: Ino) -> Result<Arc<Node>> {
        let node = self.node(ino)?;
        if !has_attributes(&node) {
            return Err(Error::NotPermitted(
                "only groups, datasets and datatypes have attributes".into(),
            ));
        }
        self.changeable(&node)?;
        Ok(node)
    }

    /// setxattr: create or modify attribute `user.NAME`.
    pub(super) fn set_attribute(
        &self,
        ino: Ino,
        name: &[u8],
        value: &[u8],
        create_only: bool,
        replace_only: bool,
    ) -> Result<()> {
        self.writable()?;
        let attr_name = user_attr_name(name).ok_or(Error::NotSupported)??;
        let node = self.attr_node(ino)?;
        let loc = node.loc();
        let h5 = self.h5(&node);
        let _w = lock(&self.handles.write_lock);
        let exists = self.has_attr(&node, attr_name)?;
        if exists && create_only {
            return Err(Error::Exists);
        }
        if !exists && replace_only {
            return Err(Error::NoAttr);
        }
        let invalid = |m: String| {
            Error::Invalid(format!(
                "{} attribute {}: {m}",
                show(&node.path),
                show(attr_name)
            ))
        };
        if exists {
            let current = h5
                .read_attr(&loc, attr_name)
                .map_err(|e| io(&node.path, e))?;
            let values =
                parse_attr_text(&current.ty, current.shape.as_deref(), value).map_err(invalid)?;
            if current.shape.is_some() {
                let data = element_data(&current.ty, &values).map_err(invalid)?;
                h5.write_attr(&loc, attr_name, &current.ty, data)
                    .map_err(|e| io(&node.path, e))?;
            }
        } else {
            let (ty, shape, values) = infer_new_attr(value);
            let data = element_data(&ty, &values).map_err(invalid)?;
            h5.create_attr(&loc, attr_name, &ty, &shape, data)
                .map_err(|e| io(&node.path, e))?;
        }
        self.changed(ino);
        Ok(())
    }

    pub(super) fn remove_attribute(&self, ino: Ino, name: &[u8]) -> Result<()> {
        self.writable()?;
        let attr_name = user_attr_name(name).ok_or(Error::NotSupported)??;
        let node = self.attr_node(ino)?;
        let _w = lock(&self.handles.write_lock);
        if !self.has_attr(&node, attr_name)? {
            return Err(Error::NoAttr);
        }
        self.h5(&node)
            .delete_attr(&node.loc(), attr_name)
            .map_err(|e| io(&node.path, e))?;
        self.changed(ino);
        Ok(())
    }
}
