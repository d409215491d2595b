//! The `NAME.json` sidecar that describes a dataset.
//!
//! Version 1 fields: `h5fs_sidecar`, `path`, `shape`, `maxshape`, `dtype`,
//! `byteorder`, `itemsize`, `representation` (`raw`, `text` or `unavailable`),
//! `text_format` (text only), `hdf5_type`, `layout`, `chunks`, `filters`,
//! `fillvalue`, `enum` (enum types), `dimension_labels`, `dimension_scales`,
//! `attributes`. For `raw`, `np.fromfile(f, descr_to_dtype(dtype)).reshape(shape)`
//! equals h5py's `ds[()]`: an array-typed dataset has the array's dimensions
//! appended to `shape` and `maxshape`, and its base type as `dtype`.

use serde_json::{json, Map, Value as Json};

use crate::h5::{AttrData, DatasetMeta, TypeDesc, Value};

use super::dtype::{descr, flatten_array, type_json};
use super::json::{int, nest, value_to_json};
use super::text::TextFormat;

/// How a dataset's bytes are presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Representation {
    Raw,
    Text(TextFormat),
    /// The type cannot be shown (reads fail with EIO).
    Unavailable,
}

impl Representation {
    pub fn of(ty: &TypeDesc) -> Representation {
        if ty.unsupported().is_some() {
            Representation::Unavailable
        } else if ty.is_variable() {
            Representation::Text(TextFormat::for_type(ty))
        } else {
            Representation::Raw
        }
    }
}

/// One attribute as read, or the reason it could not be.
pub type AttrResult = (Vec<u8>, Result<AttrData, String>);

fn byteorder(ty: &TypeDesc) -> &'static str {
    match ty {
        TypeDesc::Int { size, order, .. }
        | TypeDesc::Float { size, order }
        | TypeDesc::Bitfield { size, order }
        | TypeDesc::Complex { size, order } => {
            if *size <= 1 {
                "|"
            } else if order.numpy_char() == '>' {
                ">"
            } else {
                "<"
            }
        }
        TypeDesc::Enum { base, .. } | TypeDesc::Array { base, .. } => byteorder(base),
        TypeDesc::NumpyTagged { descr, .. } if descr.starts_with('>') => ">",
        TypeDesc::NumpyTagged { descr, .. } if descr.starts_with('<') => "<",
        _ => "|",
    }
}

pub fn attr_json(name: &[u8], attr: &Result<AttrData, String>) -> Json {
    let name = String::from_utf8_lossy(name);
    match attr {
        Ok(a) => json!({
            "name": name,
            "dtype": descr(&a.ty),
            "shape": a.shape,
            "value": match &a.shape { None => Json::Null, Some(s) => nest(&a.values, s) },
        }),
        Err(e) => json!({"name": name, "error": e}),
    }
}

fn find<'a>(attrs: &'a [AttrResult], name: &[u8]) -> Option<&'a AttrData> {
    attrs
        .iter()
        .find(|(n, _)| n == name)
        .and_then(|(_, a)| a.as_ref().ok())
}

/// Dimension labels and attached scales, from the dimension-scale attributes.
fn dims(attrs: &[AttrResult]) -> (Json, Json) {
    let labels = find(attrs, b"DIMENSION_LABELS")
        .map(|a| Json::Array(a.values.iter().map(value_to_json).collect()))
        .unwrap_or(Json::Null);
    let scales = find(attrs, b"DIMENSION_LIST")
        .map(|a| {
            Json::Array(
                a.values
                    .iter()
                    .map(|per_dim| match per_dim {
                        Value::List(refs) => Json::Array(refs.iter().map(value_to_json).collect()),
                        other => json!([value_to_json(other)]),
                    })
                    .collect(),
            )
        })
        .unwrap_or(Json::Null);
    (labels, scales)
}

pub fn sidecar(path: &str, meta: &DatasetMeta, attrs: &[AttrResult]) -> Vec<u8> {
    let rep = Representation::of(&meta.ty);
    let (elem_ty, elem_dims) = match &meta.ty {
        TypeDesc::Array { base, dims } if rep == Representation::Raw => flatten_array(base, dims),
        other => (other, Vec::new()),
    };
    let extra: Vec<u64> = elem_dims.iter().map(|d| *d as u64).collect();
    let shape = meta.shape.as_ref().map(|s| {
        let mut s = s.clone();
        s.extend_from_slice(&extra);
        s
    });
    let maxshape = meta.maxshape.as_ref().map(|m| {
        let mut m: Vec<Json> = m.iter().map(|d| json!(d)).collect();
        m.extend(extra.iter().map(|d| json!(d)));
        m
    });
    let mut o = Map::new();
    o.insert("h5fs_sidecar".into(), json!(1));
    o.insert("path".into(), json!(path));
    o.insert("shape".into(), json!(shape));
    o.insert("maxshape".into(), json!(maxshape));
    o.insert("dtype".into(), descr(elem_ty));
    o.insert("byteorder".into(), json!(byteorder(elem_ty)));
    o.insert(
        "itemsize".into(),
        match rep {
            Representation::Raw => json!(elem_ty.size()),
            _ => Json::Null,
        },
    );
    let (rep_name, text_format) = match rep {
        Representation::Raw => ("raw", None),
        Representation::Text(f) => ("text", Some(f.name())),
        Representation::Unavailable => ("unavailable", None),
    };
    o.insert("representation".into(), json!(rep_name));
    if let Some(f) = text_format {
        o.insert("text_format".into(), json!(f));
    }
    o.insert("hdf5_type".into(), type_json(&meta.ty));
    o.insert("layout".into(), json!(meta.layout.name()));
    o.insert("chunks".into(), json!(meta.chunks));
    o.insert(
        "filters".into(),
        Json::Array(
            meta.filters
                .iter()
                .map(|f| json!({"id": f.id, "name": f.name, "params": f.params, "available": f.available}))
                .collect(),
        ),
    );
    o.insert("fillvalue".into(), value_to_json(&meta.fill));
    if let TypeDesc::Enum { members, .. } = elem_ty {
        let m: Map<String, Json> = members.iter().map(|(k, v)| (k.clone(), int(*v))).collect();
        o.insert("enum".into(), Json::Object(m));
    }
    let (labels, scales) = dims(attrs);
    o.insert("dimension_labels".into(), labels);
    o.insert("dimension_scales".into(), scales);
    o.insert(
        "attributes".into(),
        Json::Array(attrs.iter().map(|(n, a)| attr_json(n, a)).collect()),
    );
    let mut out = serde_json::to_vec_pretty(&Json::Object(o)).unwrap_or_default();
    out.push(b'\n');
    out
}

/// The file shown for a committed (named) datatype.
pub fn datatype_file(path: &str, ty: &TypeDesc) -> Vec<u8> {
    let v = json!({
        "h5fs_datatype": 1,
        "path": path,
        "dtype": descr(ty),
        "itemsize": ty.size(),
        "hdf5_type": type_json(ty),
    });
    let mut out = serde_json::to_vec_pretty(&v).unwrap_or_default();
    out.push(b'\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::h5::{ByteOrder, Layout};

    fn meta(ty: TypeDesc, shape: Option<Vec<u64>>) -> DatasetMeta {
        DatasetMeta {
            maxshape: shape.as_ref().map(|s| s.iter().map(|d| Some(*d)).collect()),
            ty,
            shape,
            layout: Layout::Contiguous,
            chunks: None,
            filters: vec![],
            fill: Value::Int(0),
        }
    }

    fn parse(b: &[u8]) -> Json {
        serde_json::from_slice(b).unwrap()
    }

    #[test]
    fn array_types_extend_the_shape() {
        let ty = TypeDesc::Array {
            base: Box::new(TypeDesc::Float {
                size: 8,
                order: ByteOrder::Little,
            }),
            dims: vec![3],
        };
        let j = parse(&sidecar("/a", &meta(ty, Some(vec![4])), &[]));
        assert_eq!(j["shape"], json!([4, 3]));
        assert_eq!(j["maxshape"], json!([4, 3]));
        assert_eq!(j["dtype"], json!("<f8"));
        assert_eq!(j["itemsize"], json!(8));
        assert_eq!(j["representation"], json!("raw"));
    }

    #[test]
    fn null_dataspace_and_text() {
        let j = parse(&sidecar(
            "/e",
            &meta(TypeDesc::VarString { utf8: true }, None),
            &[],
        ));
        assert_eq!(j["shape"], Json::Null);
        assert_eq!(j["representation"], json!("text"));
        assert_eq!(j["text_format"], json!("lines"));
        assert_eq!(j["dtype"], json!("|O"));
    }

    #[test]
    fn attributes_and_dimension_scales() {
        let attrs: Vec<AttrResult> = vec![
            (
                b"DIMENSION_LIST".to_vec(),
                Ok(AttrData {
                    ty: TypeDesc::VarLen {
                        base: Box::new(TypeDesc::ObjectRef),
                    },
                    shape: Some(vec![1]),
                    values: vec![Value::List(vec![Value::Ref(Some("/x".into()))])],
                }),
            ),
            (b"bad".to_vec(), Err("no".into())),
        ];
        let j = parse(&sidecar(
            "/d",
            &meta(
                TypeDesc::Int {
                    size: 4,
                    signed: true,
                    order: ByteOrder::Big,
                },
                Some(vec![2]),
            ),
            &attrs,
        ));
        assert_eq!(j["dimension_scales"], json!([["/x"]]));
        assert_eq!(j["byteorder"], json!(">"));
        assert_eq!(j["attributes"][1], json!({"name": "bad", "error": "no"}));
        assert_eq!(j["attributes"][0]["value"], json!([["/x"]]));
    }
}
