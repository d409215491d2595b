//! Shapes and element data of datasets being changed: rows, growth within
//! the limits, and values as the element data libhdf5 writes.

use super::error::show;
use super::limits::{check_extent, ExtentError};
use super::{Error, Result};
use crate::encode::bytes::encode_values;
use crate::encode::json::value_to_json;
use crate::model::{DatasetMeta, ElementData, Layout, TypeDesc, Value};
use crate::tree::Node;

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
