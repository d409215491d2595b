//! Header views: the files `-o views=` shows beside a dataset (`NAME.npy`,
//! `NAME.hdr`, `NAME.nhdr`, `NAME.mhd`), and which datasets get them.
//!
//! A `.npy` view is its header followed by the dataset's bytes: its header
//! is rendered (and cached) alone, and reads past it are reads of the
//! dataset. The other views are small text files rendered whole, from the
//! dataset's type and shape, its dimension scales and string attributes.

use log::debug;

use super::error::show;
use super::{Error, Fs, Result};
use crate::encode::npy::view_header;
use crate::encode::raster::{even_axis, header, string_notes, Axis, Raster};
use crate::encode::sidecar::AttrResult;
use crate::model::{DatasetMeta, Loc, TypeDesc, Value};
use crate::tree::{Found, Ino, Node, View};

/// The longest dimension scale read for a header's geometry.
const MAX_SCALE: u64 = 1 << 20;

impl Fs {
    /// The views shown beside the dataset `found`, named `name`.
    pub(super) fn views_of(&self, dir: &Node, name: &[u8], found: &Found) -> Vec<View> {
        let headers: Vec<View> = self
            .opts
            .views
            .iter()
            .copied()
            .filter(|v| *v != View::Sidecar)
            .collect();
        let mut out: Vec<View> = self
            .opts
            .views
            .iter()
            .copied()
            .filter(|v| *v == View::Sidecar)
            .collect();
        if headers.is_empty() {
            return out;
        }
        let loc = Loc {
            path: found.path.clone(),
            addr: (found.key.0 == 0 && found.key.1 != 0).then_some(found.key.1),
        };
        match self.h5(dir).dataset(&loc) {
            Ok(info) => out.extend(
                headers
                    .into_iter()
                    .filter(|v| crate::encode::raster::applies(*v, &info.meta, name)),
            ),
            Err(e) => debug!("{}: no header views: {e}", show(&found.path)),
        }
        out
    }

    /// The contents of header view `view` of dataset `dataset` named
    /// `name`; for `.npy`, its header only.
    pub(super) fn render_view(&self, view: View, dataset: Ino, name: &[u8]) -> Result<Vec<u8>> {
        let ds_node = self.node(dataset)?;
        let ds = self.dataset(dataset, &ds_node)?;
        let gone = || {
            Error::Io(format!(
                "{}: the dataset's type or shape changed; it has no {} view now",
                show(&ds_node.path),
                view.option_name()
            ))
        };
        if view == View::Npy {
            return view_header(&ds.meta).ok_or_else(gone);
        }
        let path = show(&ds_node.path);
        let mut raster = Raster::of(&ds.meta, name, &path).ok_or_else(gone)?;
        let attrs = self.attrs_of(&ds_node);
        raster.notes = string_notes(&attrs);
        for (axis, scale) in scales(&attrs).into_iter().enumerate() {
            if let (Some(scale), Some(slot)) = (scale, raster.axes.get_mut(axis)) {
                *slot = self.scale_axis(&ds_node, &scale, ds.meta.shape.as_ref(), axis);
            }
        }
        header(view, &raster).ok_or_else(gone)
    }

    /// The geometry of the dimension scale at `path` attached to `axis` of
    /// a dataset of `shape`: None unless it is 1-D, numeric, as long as the
    /// axis and evenly spaced.
    fn scale_axis(
        &self,
        ds_node: &Node,
        path: &str,
        shape: Option<&Vec<u64>>,
        axis: usize,
    ) -> Option<Axis> {
        let loc = Loc::path(path.as_bytes());
        let h5 = self.h5(ds_node);
        let meta: DatasetMeta = h5.dataset(&loc).ok()?.meta;
        let len = *shape?.get(axis)?;
        let numeric = matches!(meta.ty, TypeDesc::Int { .. } | TypeDesc::Float { .. });
        if !numeric || meta.shape.as_deref() != Some(&[len][..]) || len > MAX_SCALE {
            return None;
        }
        let values: Option<Vec<f64>> = h5
            .read_values(&loc)
            .ok()?
            .iter()
            .map(|v| match v {
                Value::Int(i) => Some(*i as f64),
                Value::Float(f) => Some(*f),
                _ => None,
            })
            .collect();
        even_axis(&values?)
    }
}

/// The first dimension scale attached to each axis (`DIMENSION_LIST`).
fn scales(attrs: &[AttrResult]) -> Vec<Option<String>> {
    let Some(Ok(list)) = attrs
        .iter()
        .find(|(n, _)| n == b"DIMENSION_LIST")
        .map(|(_, a)| a)
    else {
        return Vec::new();
    };
    list.values
        .iter()
        .map(|per_axis| match per_axis {
            Value::List(refs) => refs.iter().find_map(|r| match r {
                Value::Ref(Some(p)) => Some(p.clone()),
                _ => None,
            }),
            Value::Ref(Some(p)) => Some(p.clone()),
            _ => None,
        })
        .collect()
}
