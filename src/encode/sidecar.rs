//! The `NAME.json` sidecar that describes a dataset.
//!
//! Version 1 fields: `h5fs_sidecar`, `path`, `shape`, `maxshape`, `dtype`,
//! `byteorder`, `itemsize`, `representation` (`raw`, `text` or `unavailable`),
//! `text_format` (text only), `hdf5_type`, `layout`, `chunks`, `filters`,
//! `fillvalue`, `enum` (enum types), `dimension_labels`, `dimension_scales`,
//! `attributes`. For `raw`, `np.fromfile(f, descr_to_dtype(dtype)).reshape(shape)`
//! equals h5py's `ds[()]`: an array-typed dataset has the array's dimensions
//! appended to `shape` and `maxshape`, and its base type as `dtype`.
//! [`sidecar`] renders it; [`datatype_file`] renders the similar file shown
//! for a committed datatype.
//!
//! [`parse_sidecar_spec`] reads a sidecar written to create or resize a
//! dataset. A full sidecar as h5fs shows it parses: `hdf5_type` is used when
//! its descr equals `dtype` (it keeps enum members, string charset and
//! padding, opaque tags) or when `dtype` is missing; `compression` and
//! `shuffle` come from `filters` when not given. `shape`, `maxshape` and
//! `chunks` are returned as written. As in the sidecar, when the type is a
//! fixed-size array type (only `hdf5_type` can say so), `shape` and
//! `maxshape` end with the array's dimensions (checked, not removed) and
//! `chunks` has the rank of the rest.

use serde_json::{json, Map, Value as Json};

use crate::model::{AttrData, DatasetMeta, Layout, TypeDesc, Value, VirtualSource};

use super::dtype::{descr, flatten_array, type_from_descr, type_from_hdf5_json, type_json};
use super::json::{int, nest, show, value_to_json};
use super::text::TextFormat;
use super::vds::{parse_sources, sources_json};

// ---------------------------------------------------------------- rendering

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

///
/// A virtual dataset's sidecar also has `sources` (see [`super::vds`]);
/// `mount_paths` says where each source is in the mount, when known.
pub fn sidecar(
    path: &str,
    meta: &DatasetMeta,
    attrs: &[AttrResult],
    mount_paths: &[Option<String>],
) -> Vec<u8> {
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
    if meta.layout == Layout::Virtual {
        o.insert("sources".into(), sources_json(&meta.sources, mount_paths));
    }
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
    pretty(&Json::Object(o))
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
    pretty(&v)
}

/// Indented JSON ending in a newline, as both sidecar files are shown.
fn pretty(v: &Json) -> Vec<u8> {
    let mut out = serde_json::to_vec_pretty(v).unwrap_or_default();
    out.push(b'\n');
    out
}

// ---------------------------------------------------------------- parsing

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    /// Deflate at level 0-9.
    Gzip(u32),
    Lzf,
}

/// What a sidecar written by the user asks for. `None` fields were not given
/// (or were `null`).
#[derive(Debug, Clone, PartialEq)]
pub struct SidecarSpec {
    /// May be an array type (from `hdf5_type`); then `shape` and `maxshape`
    /// end with its dimensions, as the sidecar shows them.
    pub dtype: Option<TypeDesc>,
    pub shape: Option<Vec<u64>>,
    /// `None` entries are unlimited.
    pub maxshape: Option<Vec<Option<u64>>>,
    pub chunks: Option<Vec<u64>>,
    /// `"none"` or `null` give `Some(Compression::None)`; absent (and no
    /// `filters`) gives `None`.
    pub compression: Option<Compression>,
    pub shuffle: Option<bool>,
    /// As written; convert with [`values_from_json`](super::json::values_from_json) once the type is known.
    pub fillvalue: Option<Json>,
    /// A virtual dataset's mappings (`"layout": "virtual"`).
    pub sources: Option<Vec<VirtualSource>>,
    /// The whole document.
    pub raw: Json,
}

/// Parse a sidecar written to create or resize a dataset.
pub fn parse_sidecar_spec(bytes: &[u8]) -> Result<SidecarSpec, String> {
    let raw: Json =
        serde_json::from_slice(bytes).map_err(|e| format!("the sidecar is not valid JSON: {e}"))?;
    let o = raw.as_object().ok_or("the sidecar must be a JSON object")?;
    let given = |k: &str| o.get(k).filter(|v| !v.is_null());
    if let Some(v) = given("h5fs_sidecar") {
        if v.as_u64() != Some(1) {
            return Err(format!("h5fs_sidecar: unsupported version {v}"));
        }
    }
    let dtype = spec_dtype(given("dtype"), given("hdf5_type"))?;
    let shape = given("shape")
        .map(|v| uint_list(v).map_err(|e| format!("shape: {e}")))
        .transpose()?;
    let maxshape = given("maxshape")
        .map(|v| max_list(v).map_err(|e| format!("maxshape: {e}")))
        .transpose()?;
    let chunks = given("chunks")
        .map(|v| uint_list(v).map_err(|e| format!("chunks: {e}")))
        .transpose()?;
    // As in the sidecar, a raw (fixed-size) array type's dimensions end `shape`
    // and `maxshape`; they are checked here and left for the caller to remove.
    let elem_dims: Vec<u64> = match &dtype {
        Some(TypeDesc::Array { base, dims }) if !base.is_variable() => flatten_array(base, dims)
            .1
            .iter()
            .map(|d| *d as u64)
            .collect(),
        _ => Vec::new(),
    };
    let maxdims: Vec<Option<u64>> = elem_dims.iter().map(|d| Some(*d)).collect();
    let space = without_elem_dims(shape.as_deref(), &elem_dims, "shape")?;
    let maxspace = without_elem_dims(maxshape.as_deref(), &maxdims, "maxshape")?;
    check_dims(space, maxspace, chunks.as_deref(), dtype.is_some())?;
    let filters = given("filters")
        .map(|f| filter_settings(f).map_err(|e| format!("filters: {e}")))
        .transpose()?;
    let compression = match o.get("compression") {
        Some(c) => Some(compression(c, given("compression_opts"))?),
        None => filters.map(|f| f.0),
    };
    let shuffle = match given("shuffle") {
        Some(s) => Some(s.as_bool().ok_or("shuffle: expected true or false")?),
        None => filters.map(|f| f.1),
    };
    let sources = match (given("layout").and_then(|l| l.as_str()), given("sources")) {
        (Some("virtual"), Some(v)) => Some(parse_sources(v)?),
        (Some("virtual"), None) => {
            return Err("a virtual dataset needs \"sources\"".into());
        }
        (None, Some(v)) => Some(parse_sources(v)?),
        (Some(other), Some(_)) => {
            return Err(format!(
                "\"sources\" are for \"layout\": \"virtual\", not {other:?}"
            ));
        }
        (_, None) => None,
    };
    Ok(SidecarSpec {
        dtype,
        shape,
        maxshape,
        chunks,
        compression,
        shuffle,
        fillvalue: given("fillvalue").cloned(),
        sources,
        raw: raw.clone(),
    })
}

/// `hdf5_type` when it agrees with `dtype` (or `dtype` is missing), else `dtype`.
fn spec_dtype(dtype: Option<&Json>, hdf5_type: Option<&Json>) -> Result<Option<TypeDesc>, String> {
    let exact = hdf5_type.map(type_from_hdf5_json);
    match (dtype, exact) {
        (Some(d), Some(Ok(t))) if descr(&t) == *d => Ok(Some(t)),
        (Some(d), _) => type_from_descr(d)
            .map(Some)
            .map_err(|e| format!("dtype: {e}")),
        // A type h5fs cannot show either (its dtype is null).
        (None, Some(Ok(t))) => Ok(Some(t).filter(|t| t.unsupported().is_none())),
        (None, None) => Ok(None),
        (None, Some(Err(e))) => Err(format!("hdf5_type: {e}")),
    }
}

/// `dims` without the array element's dimensions `elem`, which must end it.
fn without_elem_dims<'a, T: PartialEq + std::fmt::Debug>(
    dims: Option<&'a [T]>,
    elem: &[T],
    what: &str,
) -> Result<Option<&'a [T]>, String> {
    match dims {
        Some(d) if !d.ends_with(elem) => Err(format!(
            "{what}: must end with the array type's dimensions {elem:?}"
        )),
        Some(d) => Ok(Some(&d[..d.len() - elem.len()])),
        None => Ok(None),
    }
}

fn uint_list(v: &Json) -> Result<Vec<u64>, String> {
    let items = v
        .as_array()
        .ok_or_else(|| format!("expected a list of non-negative integers, got {}", show(v)))?;
    items
        .iter()
        .map(|d| {
            d.as_u64()
                .ok_or_else(|| format!("expected a non-negative integer, got {}", show(d)))
        })
        .collect()
}

fn max_list(v: &Json) -> Result<Vec<Option<u64>>, String> {
    let items = v.as_array().ok_or_else(|| {
        format!(
            "expected a list of non-negative integers or null, got {}",
            show(v)
        )
    })?;
    items
        .iter()
        .map(|d| match d {
            Json::Null => Ok(None),
            _ => d.as_u64().map(Some).ok_or_else(|| {
                format!(
                    "expected a non-negative integer or null (unlimited), got {}",
                    show(d)
                )
            }),
        })
        .collect()
}

/// Check ranks and bounds; chunks are checked against the shape only when the
/// type is known (an array type's dimensions are not in the chunks).
fn check_dims(
    shape: Option<&[u64]>,
    maxshape: Option<&[Option<u64>]>,
    chunks: Option<&[u64]>,
    type_known: bool,
) -> Result<(), String> {
    if let (Some(s), Some(m)) = (shape, maxshape) {
        if m.len() != s.len() {
            return Err(format!(
                "maxshape: has {} dimensions, shape has {}",
                m.len(),
                s.len()
            ));
        }
        for (i, (d, m)) in s.iter().zip(m).enumerate() {
            if m.is_some_and(|m| m < *d) {
                return Err(format!("maxshape: dimension {i} is smaller than shape's"));
            }
        }
    }
    let Some(c) = chunks else { return Ok(()) };
    if c.contains(&0) {
        return Err("chunks: every chunk dimension must be positive".into());
    }
    if !type_known {
        return Ok(());
    }
    let rank = shape
        .map(<[u64]>::len)
        .or(maxshape.map(<[Option<u64>]>::len));
    if rank == Some(0) {
        return Err("chunks: a scalar dataset cannot be chunked".into());
    }
    if let Some(rank) = rank.filter(|r| *r != c.len()) {
        return Err(format!(
            "chunks: has {} dimensions, the dataset has {rank}",
            c.len()
        ));
    }
    for (i, (c, m)) in c.iter().zip(maxshape.unwrap_or_default()).enumerate() {
        if m.is_some_and(|m| *c > m) {
            return Err(format!(
                "chunks: dimension {i} is larger than the fixed maxshape"
            ));
        }
    }
    Ok(())
}

fn gzip_level(level: Option<&Json>) -> Result<u32, String> {
    match level {
        None => Ok(4),
        Some(l) => l
            .as_u64()
            .filter(|l| *l <= 9)
            .map(|l| l as u32)
            .ok_or_else(|| format!("expected a gzip level 0-9, got {}", show(l))),
    }
}

fn compression(c: &Json, opts: Option<&Json>) -> Result<Compression, String> {
    let err = || {
        format!(
            "compression: expected \"gzip\", \"lzf\", \"none\", null or {{\"gzip\": LEVEL}}, got {}",
            show(c)
        )
    };
    match c {
        Json::Null => Ok(Compression::None),
        Json::String(s) => match s.as_str() {
            "gzip" => gzip_level(opts)
                .map(Compression::Gzip)
                .map_err(|e| format!("compression_opts: {e}")),
            "lzf" => Ok(Compression::Lzf),
            "none" => Ok(Compression::None),
            _ => Err(err()),
        },
        // h5py's shorthand: a bare level means gzip.
        Json::Number(_) => gzip_level(Some(c))
            .map(Compression::Gzip)
            .map_err(|e| format!("compression: {e}")),
        Json::Object(m) if m.len() == 1 => match m.get("gzip") {
            Some(l) => gzip_level(Some(l))
                .map(Compression::Gzip)
                .map_err(|e| format!("compression: {e}")),
            None => Err(err()),
        },
        _ => Err(err()),
    }
}

/// Compression and shuffle from a sidecar's `filters` list (other filters are ignored).
fn filter_settings(filters: &Json) -> Result<(Compression, bool), String> {
    let list = filters
        .as_array()
        .ok_or("expected a list of {\"id\", \"name\", \"params\"}")?;
    let mut compression = Compression::None;
    let mut shuffle = false;
    for f in list {
        let id = f
            .get("id")
            .and_then(Json::as_i64)
            .ok_or_else(|| format!("a filter needs an integer id, got {}", show(f)))?;
        match id {
            1 => {
                let level = f.get("params").and_then(|p| p.get(0));
                compression = Compression::Gzip(gzip_level(level)?);
            }
            2 => shuffle = true,
            32000 => compression = Compression::Lzf,
            _ => {}
        }
    }
    Ok((compression, shuffle))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::testing::float;
    use crate::model::{ByteOrder, Layout, StrPad};

    fn meta(ty: TypeDesc, shape: Option<Vec<u64>>) -> DatasetMeta {
        DatasetMeta {
            maxshape: shape.as_ref().map(|s| s.iter().map(|d| Some(*d)).collect()),
            ty,
            shape,
            layout: Layout::Contiguous,
            chunks: None,
            filters: vec![],
            fill: Value::Int(0),
            sources: Vec::new(),
        }
    }

    fn parse(b: &[u8]) -> Json {
        serde_json::from_slice(b).unwrap()
    }

    // ---- rendering

    #[test]
    fn array_types_extend_the_shape() {
        let ty = TypeDesc::Array {
            base: Box::new(TypeDesc::Float {
                size: 8,
                order: ByteOrder::Little,
            }),
            dims: vec![3],
        };
        let j = parse(&sidecar("/a", &meta(ty, Some(vec![4])), &[], &[]));
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
            &[],
        ));
        assert_eq!(j["dimension_scales"], json!([["/x"]]));
        assert_eq!(j["byteorder"], json!(">"));
        assert_eq!(j["attributes"][1], json!({"name": "bad", "error": "no"}));
        assert_eq!(j["attributes"][0]["value"], json!([["/x"]]));
    }

    // ---- parsing

    fn spec(j: Json) -> Result<SidecarSpec, String> {
        parse_sidecar_spec(j.to_string().as_bytes())
    }

    #[test]
    fn minimal_and_full_specs() {
        let s = spec(json!({"dtype": "<f8", "shape": [3, 4]})).unwrap();
        assert_eq!(s.dtype, Some(float(8, ByteOrder::Little)));
        assert_eq!(s.shape, Some(vec![3, 4]));
        assert_eq!(s.maxshape, None);
        assert_eq!(s.compression, None);
        assert_eq!(s.shuffle, None);
        let s = spec(json!({
            "dtype": "int16", "shape": [10], "maxshape": [null], "chunks": [5],
            "compression": "gzip", "compression_opts": 9, "shuffle": true,
            "fillvalue": -1, "whatever": {"ignored": true}
        }))
        .unwrap();
        assert_eq!(s.maxshape, Some(vec![None]));
        assert_eq!(s.chunks, Some(vec![5]));
        assert_eq!(s.compression, Some(Compression::Gzip(9)));
        assert_eq!(s.shuffle, Some(true));
        assert_eq!(s.fillvalue, Some(json!(-1)));
        assert_eq!(s.raw["whatever"], json!({"ignored": true}));
    }

    #[test]
    fn compression_forms() {
        let c = |j: Json| spec(json!({"compression": j})).map(|s| s.compression);
        assert_eq!(c(json!("gzip")), Ok(Some(Compression::Gzip(4))));
        assert_eq!(c(json!({"gzip": 1})), Ok(Some(Compression::Gzip(1))));
        assert_eq!(c(json!(6)), Ok(Some(Compression::Gzip(6))));
        assert_eq!(c(json!("lzf")), Ok(Some(Compression::Lzf)));
        assert_eq!(c(json!("none")), Ok(Some(Compression::None)));
        assert_eq!(c(json!(null)), Ok(Some(Compression::None)));
        assert!(c(json!("zstd")).unwrap_err().contains("compression"));
        assert!(c(json!({"gzip": 12})).is_err());
        let e = spec(json!({"compression": "gzip", "compression_opts": "max"})).unwrap_err();
        assert!(e.starts_with("compression_opts"), "{e}");
    }

    #[test]
    fn sidecar_as_h5fs_writes_it() {
        let full = json!({
            "h5fs_sidecar": 1, "path": "/d", "shape": [4, 3], "maxshape": [null, 3],
            "dtype": "<u2", "byteorder": "<", "itemsize": 2, "representation": "raw",
            "hdf5_type": {"class": "array", "dims": [3],
                          "base": {"class": "enum", "base": {"class": "integer", "size": 2, "signed": false, "order": "little"},
                                   "members": {"A": 0, "B": 1}}},
            "layout": "chunked", "chunks": [2],
            "filters": [{"id": 2, "name": "shuffle", "params": [2], "available": true},
                        {"id": 1, "name": "deflate", "params": [6], "available": true}],
            "fillvalue": [0, 0, 0], "enum": {"A": 0, "B": 1},
            "dimension_labels": null, "dimension_scales": null, "attributes": []
        });
        let s = spec(full).unwrap();
        assert!(
            matches!(&s.dtype, Some(TypeDesc::Array { dims, base }) if dims == &[3] && matches!(**base, TypeDesc::Enum { .. }))
        );
        assert_eq!(s.shape, Some(vec![4, 3]));
        assert_eq!(s.maxshape, Some(vec![None, Some(3)]));
        assert_eq!(s.chunks, Some(vec![2]));
        assert_eq!(s.compression, Some(Compression::Gzip(6)));
        assert_eq!(s.shuffle, Some(true));

        let text = json!({
            "h5fs_sidecar": 1, "shape": [2], "maxshape": [2], "dtype": "|O",
            "hdf5_type": {"class": "string", "size": "variable", "charset": "utf-8"},
            "chunks": null, "filters": [{"id": 32000, "name": "lzf", "params": []}],
            "fillvalue": ""
        });
        let s = spec(text).unwrap();
        assert_eq!(s.dtype, Some(TypeDesc::VarString { utf8: true }));
        assert_eq!(s.compression, Some(Compression::Lzf));
        assert_eq!(s.shuffle, Some(false));
        assert_eq!(s.chunks, None);

        // An array with variable parts is a text view: its shape is not extended.
        let vlen_array = json!({"shape": [2], "dtype": "|O", "hdf5_type": {"class": "array",
            "dims": [3], "base": {"class": "string", "size": "variable", "charset": "ascii"}}});
        assert_eq!(spec(vlen_array).unwrap().shape, Some(vec![2]));

        let unavailable = json!({"shape": [2], "dtype": null,
            "hdf5_type": {"class": "unsupported", "reason": "x"}});
        assert_eq!(spec(unavailable).unwrap().dtype, None);
        let unavailable_array = json!({"dtype": null, "hdf5_type": {"class": "array", "dims": [2],
            "base": {"class": "unsupported", "reason": "x"}}});
        assert_eq!(spec(unavailable_array).unwrap().dtype, None);
    }

    #[test]
    fn dtype_wins_over_a_disagreeing_hdf5_type() {
        let s = spec(json!({"dtype": "<f4",
            "hdf5_type": {"class": "float", "size": 8, "order": "little"}}))
        .unwrap();
        assert_eq!(s.dtype, Some(float(4, ByteOrder::Little)));
        let s = spec(json!({"dtype": "|S3",
            "hdf5_type": {"class": "string", "size": 3, "charset": "utf-8", "padding": "nullterm"}}))
        .unwrap();
        assert!(matches!(
            s.dtype,
            Some(TypeDesc::FixedString {
                utf8: true,
                pad: StrPad::NullTerm,
                ..
            })
        ));
        assert!(spec(json!({"hdf5_type": {"class": "nope"}}))
            .unwrap_err()
            .starts_with("hdf5_type"));
    }

    #[test]
    fn spec_validation_names_the_field() {
        let cases = [
            (json!([1]), "the sidecar must be"),
            (json!({"dtype": "|O"}), "dtype"),
            (json!({"shape": [-1]}), "shape"),
            (json!({"shape": [2.5]}), "shape"),
            (json!({"shape": [2], "maxshape": [2, 2]}), "maxshape"),
            (json!({"shape": [3], "maxshape": [2]}), "maxshape"),
            (json!({"maxshape": ["x"]}), "maxshape"),
            (json!({"shape": [3], "chunks": [0]}), "chunks"),
            (
                json!({"dtype": "<i4", "shape": [3, 3], "chunks": [1]}),
                "chunks",
            ),
            (json!({"dtype": "<i4", "shape": [], "chunks": []}), "chunks"),
            (
                json!({"dtype": "<i4", "shape": [3], "maxshape": [4], "chunks": [5]}),
                "chunks",
            ),
            (json!({"chunks": true}), "chunks"),
            (json!({"shuffle": "yes"}), "shuffle"),
            (json!({"filters": [{"name": "x"}]}), "filters"),
            (json!({"h5fs_sidecar": 2}), "h5fs_sidecar"),
            (
                json!({"shape": [2, 4], "hdf5_type": {"class": "array", "dims": [3],
                    "base": {"class": "bool", "size": 1}}}),
                "shape",
            ),
            (
                json!({"maxshape": [null], "hdf5_type": {"class": "array", "dims": [3],
                    "base": {"class": "bool", "size": 1}}}),
                "maxshape",
            ),
        ];
        for (j, field) in cases {
            let e = spec(j.clone()).unwrap_err();
            assert!(e.starts_with(field), "{j}: {e}");
        }
        assert!(parse_sidecar_spec(b"{")
            .unwrap_err()
            .contains("not valid JSON"));
        // Without a type, an array type's dimensions may be in the shape: chunks are not checked.
        assert!(spec(json!({"shape": [4, 3], "chunks": [2]})).is_ok());
    }
}
