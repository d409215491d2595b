//! The Zarr v2 store of `-o zarr`: its metadata documents, chunk keys and
//! which HDF5 filter pipelines its chunks can be served in as stored.
//!
//! - `.zgroup` is `{"zarr_format": 2}`; `.zattrs` the object's attributes
//!   (scalars and one-element arrays as plain values, as netCDF reads them);
//!   `.zarray` as in [`zarray`]; `.zmetadata` all of them under their keys
//!   (`{"metadata": {...}, "zarr_consolidated_format": 1}`).
//! - All JSON is ASCII (`\uXXXX` escapes: zarr 2.13 reads metadata as
//!   ASCII), keys sorted, indented by 4 like zarr's own; attribute floats
//!   that are not finite are the bare tokens `NaN`, `Infinity`, `-Infinity`
//!   (what Python's json reads), while `fill_value` uses the spec's strings.
//! - `dtype` is the numpy descr of h5py's dtype; an HDF5 array element type
//!   adds its dimensions to `shape` and `chunks`. Types zarr-python 2 and 3
//!   cannot both read have no Zarr form ([`zarr_dtype`] gives the reason).
//! - Chunk keys are the chunk's grid position joined by `.`; `0` for a
//!   scalar.
//! - [`map_filters`]: a pipeline whose every filter has a numcodecs codec
//!   with the same bytes (deflate = `zlib`, shuffle = `shuffle`, blosc,
//!   zstd, and fletcher32 when it is last: its 4-byte checksum is cut off)
//!   is served as stored; the last compressing filter is the `compressor`,
//!   the others are `filters` in HDF5's order. A shuffle after a
//!   compressor does not map (its input need not be whole elements).

use serde_json::{json, Value as Json};

use super::dtype::{descr, flatten_array};
use super::json::int;
use crate::model::{filter_id, int_from_bytes, ByteOrder, Filter, TypeDesc, Value};

/// A numcodecs codec.
#[derive(Debug, Clone, PartialEq)]
pub enum Codec {
    Shuffle {
        elementsize: u32,
    },
    Zlib {
        level: u32,
    },
    Blosc {
        cname: &'static str,
        clevel: u32,
        shuffle: u32,
    },
    Zstd {
        level: i32,
    },
}

impl Codec {
    pub fn json(&self) -> Json {
        match self {
            Codec::Shuffle { elementsize } => json!({"id": "shuffle", "elementsize": elementsize}),
            Codec::Zlib { level } => json!({"id": "zlib", "level": level}),
            Codec::Blosc {
                cname,
                clevel,
                shuffle,
            } => {
                json!({"id": "blosc", "cname": cname, "clevel": clevel, "shuffle": shuffle, "blocksize": 0})
            }
            Codec::Zstd { level } => json!({"id": "zstd", "level": level}),
        }
    }

    fn compresses(&self) -> bool {
        !matches!(self, Codec::Shuffle { .. })
    }
}

/// How stored chunks read as Zarr chunks.
#[derive(Debug, Clone, PartialEq)]
pub struct Pipeline {
    /// Applied in this order when encoding, before the compressor.
    pub filters: Vec<Codec>,
    pub compressor: Option<Codec>,
    /// The stored chunk ends with a fletcher32 checksum to cut off.
    pub strip_checksum: bool,
}

/// hdf5plugin blosc compressor codes (cd_values[6]).
const BLOSC_NAMES: [&str; 6] = ["blosclz", "lz4", "lz4hc", "snappy", "zlib", "zstd"];
pub const BLOSC: i32 = 32001;
pub const ZSTD: i32 = 32015;

/// The codecs of an HDF5 pipeline (storage order) whose chunks numcodecs
/// decodes as stored, or None.
pub fn map_filters(filters: &[Filter], itemsize: usize) -> Option<Pipeline> {
    let mut codecs = Vec::new();
    let mut strip_checksum = false;
    for (i, f) in filters.iter().enumerate() {
        let p = |k: usize| f.params.get(k).copied();
        codecs.push(match f.id {
            filter_id::DEFLATE => Codec::Zlib {
                level: p(0).unwrap_or(6).min(9),
            },
            // After a compressor, the bytes shuffled need not be whole
            // elements: HDF5 leaves the tail, numcodecs refuses it.
            filter_id::SHUFFLE if codecs.iter().any(Codec::compresses) => return None,
            filter_id::SHUFFLE => Codec::Shuffle {
                elementsize: p(0).unwrap_or(itemsize as u32).max(1),
            },
            filter_id::FLETCHER32 if i + 1 == filters.len() => {
                strip_checksum = true;
                continue;
            }
            BLOSC => Codec::Blosc {
                cname: BLOSC_NAMES.get(p(6).unwrap_or(0) as usize)?,
                clevel: p(4).unwrap_or(5),
                shuffle: p(5).unwrap_or(1),
            },
            ZSTD => Codec::Zstd {
                level: p(0).map_or(3, |l| l as i32),
            },
            _ => return None,
        });
    }
    let compressor = match codecs.last() {
        Some(c) if c.compresses() => codecs.pop(),
        _ => None,
    };
    Some(Pipeline {
        filters: codecs,
        compressor,
        strip_checksum,
    })
}

/// What a `.zarray` says.
#[derive(Debug, Clone, PartialEq)]
pub struct ArrayMeta {
    pub shape: Vec<u64>,
    pub chunks: Vec<u64>,
    pub dtype: Json,
    pub fill_value: Json,
    /// None: chunks are served decoded, without codecs.
    pub pipeline: Option<Pipeline>,
}

pub fn zarray(a: &ArrayMeta) -> Json {
    let (filters, compressor) = match &a.pipeline {
        Some(p) if !p.filters.is_empty() => (
            Json::Array(p.filters.iter().map(Codec::json).collect()),
            p.compressor.as_ref().map_or(Json::Null, Codec::json),
        ),
        Some(p) => (
            Json::Null,
            p.compressor.as_ref().map_or(Json::Null, Codec::json),
        ),
        None => (Json::Null, Json::Null),
    };
    json!({
        "chunks": a.chunks,
        "compressor": compressor,
        "dimension_separator": ".",
        "dtype": a.dtype,
        "fill_value": a.fill_value,
        "filters": filters,
        "order": "C",
        "shape": a.shape,
        "zarr_format": 2,
    })
}

pub fn zgroup() -> Json {
    json!({"zarr_format": 2})
}

/// The element type zarr sees (an HDF5 array type's base), the dimensions
/// it adds, and its dtype; or why it has no Zarr form.
pub fn zarr_dtype(ty: &TypeDesc) -> Result<(&TypeDesc, Vec<u64>, Json), String> {
    if let Some(r) = ty.unsupported() {
        return Err(format!("type cannot be shown: {r}"));
    }
    if ty.is_variable() {
        return Err("variable-length and reference types have no Zarr v2 form".into());
    }
    let (elem, dims) = match ty {
        TypeDesc::Array { base, dims } => flatten_array(base, dims),
        other => (other, Vec::new()),
    };
    match elem {
        TypeDesc::Float { size: 16, .. } => {
            return Err("long double has no Zarr form zarr-python reads".into())
        }
        TypeDesc::Compound { fields, .. }
            if fields
                .iter()
                .any(|f| matches!(f.ty, TypeDesc::Array { .. } | TypeDesc::Compound { .. })) =>
        {
            return Err(
                "compound types with array or compound members: zarr-python 3 cannot read them"
                    .into(),
            )
        }
        _ => {}
    }
    let d = descr(elem);
    if d.is_null() {
        return Err("no numpy form".into());
    }
    Ok((elem, dims.iter().map(|d| *d as u64).collect(), d))
}

fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for c in bytes.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for k in 0..4 {
            if k <= c.len() {
                out.push(A[(n >> (18 - 6 * k) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn float_from(bytes: &[u8], order: ByteOrder) -> Option<f64> {
    let mut b = bytes.to_vec();
    if order == ByteOrder::Big {
        b.reverse();
    }
    Some(match b.len() {
        2 => half(u16::from_le_bytes([b[0], b[1]])),
        4 => f32::from_le_bytes(b.try_into().ok()?) as f64,
        8 => f64::from_le_bytes(b.try_into().ok()?),
        _ => return None,
    })
}

fn half(h: u16) -> f64 {
    let sign = if h >> 15 == 1 { -1.0 } else { 1.0 };
    let exp = (h >> 10) & 0x1f;
    let frac = (h & 0x3ff) as f64;
    sign * match exp {
        0 => frac * 2f64.powi(-24),
        31 if frac == 0.0 => f64::INFINITY,
        31 => f64::NAN,
        e => (1.0 + frac / 1024.0) * 2f64.powi(e as i32 - 15),
    }
}

fn fill_float(v: f64) -> Json {
    if v.is_nan() {
        json!("NaN")
    } else if v.is_infinite() {
        json!(if v > 0.0 { "Infinity" } else { "-Infinity" })
    } else {
        json!(v)
    }
}

/// `fill_value` of an array of element type `elem` whose fill value has
/// these bytes (one element, as h5py holds it).
pub fn fill_value(elem: &TypeDesc, bytes: &[u8]) -> Json {
    match elem {
        TypeDesc::Int { signed, order, .. } => int(int_from_bytes(bytes, *signed, *order)),
        TypeDesc::Bitfield { order, .. } => int(int_from_bytes(bytes, false, *order)),
        TypeDesc::Enum { base, .. } => fill_value(base, bytes),
        TypeDesc::Bool => json!(bytes.first().is_some_and(|b| *b != 0)),
        TypeDesc::Float { order, .. } => float_from(bytes, *order).map_or(Json::Null, fill_float),
        TypeDesc::Complex { size, order } => {
            let (re, im) = bytes.split_at((size / 2).min(bytes.len()));
            match (float_from(re, *order), float_from(im, *order)) {
                (Some(r), Some(i)) => json!([fill_float(r), fill_float(i)]),
                _ => Json::Null,
            }
        }
        TypeDesc::NumpyTagged { descr, .. } if descr.contains("M8") || descr.contains("m8") => {
            let order = if descr.starts_with('>') {
                ByteOrder::Big
            } else {
                ByteOrder::Little
            };
            int(int_from_bytes(bytes, true, order))
        }
        _ => json!(base64(bytes)),
    }
}

/// Whether attribute `name` is kept out of `.zattrs`: the dimension-scale
/// and netCDF machinery, and `_FillValue`, which becomes `fill_value`.
pub fn hidden_attr(name: &str) -> bool {
    name == "_FillValue" || super::raster::MACHINERY.contains(&name)
}

const NAN: &str = "\u{0}NaN";
const INF: &str = "\u{0}Infinity";
const NINF: &str = "\u{0}-Infinity";

/// An attribute value as JSON: floats that are not finite as the bare
/// tokens, bytes that are not UTF-8 replaced, references as paths.
pub fn attr_value(v: &Value) -> Json {
    match v {
        Value::Null | Value::Ref(None) | Value::Region(None) => Json::Null,
        Value::Bool(b) => json!(b),
        Value::Int(i) => int(*i),
        Value::Float(f) if f.is_nan() => json!(NAN),
        Value::Float(f) if f.is_infinite() => json!(if *f > 0.0 { INF } else { NINF }),
        Value::Float(f) => json!(f),
        Value::Complex(r, i) => {
            json!([attr_value(&Value::Float(*r)), attr_value(&Value::Float(*i))])
        }
        Value::Str(s) => json!(String::from_utf8_lossy(s)),
        Value::Bytes(b) => json!(super::json::hex(b)),
        Value::List(items) => Json::Array(items.iter().map(attr_value).collect()),
        Value::Record(fields) => Json::Object(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), attr_value(v)))
                .collect(),
        ),
        Value::Ref(Some(p)) => json!(p),
        Value::Region(Some((p, _))) => json!(p),
    }
}

/// An attribute of `shape` (None: empty) with these values: one value as
/// itself, more nested by the shape.
pub fn attr_json(shape: Option<&[u64]>, values: &[Value]) -> Json {
    match shape {
        None => Json::Null,
        Some(s) if values.len() == 1 && s.iter().product::<u64>() == 1 => attr_value(&values[0]),
        Some(s) => nest(values, s),
    }
}

fn nest(values: &[Value], shape: &[u64]) -> Json {
    match shape {
        [] | [_] => Json::Array(values.iter().map(attr_value).collect()),
        [_, rest @ ..] => {
            let step = rest.iter().product::<u64>().max(1) as usize;
            Json::Array(values.chunks(step).map(|c| nest(c, rest)).collect())
        }
    }
}

/// JSON text as zarr writes it: 4-space indents, keys sorted, ASCII only,
/// with the bare non-finite float tokens of [`attr_value`].
pub fn to_text(j: &Json) -> Vec<u8> {
    let mut out = String::new();
    write(j, 0, &mut out);
    out.push('\n');
    out.into_bytes()
}

fn write_str(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (' '..='~').contains(&c) => out.push(c),
            c => {
                let mut buf = [0u16; 2];
                for u in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{u:04x}"));
                }
            }
        }
    }
    out.push('"');
}

fn write(j: &Json, depth: usize, out: &mut String) {
    let pad = |d: usize, out: &mut String| {
        out.push('\n');
        out.extend(std::iter::repeat_n(' ', 4 * d));
    };
    match j {
        Json::String(s) if s == NAN => out.push_str("NaN"),
        Json::String(s) if s == INF => out.push_str("Infinity"),
        Json::String(s) if s == NINF => out.push_str("-Infinity"),
        Json::String(s) => write_str(s, out),
        Json::Array(items) if items.is_empty() => out.push_str("[]"),
        Json::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                pad(depth + 1, out);
                write(item, depth + 1, out);
            }
            pad(depth, out);
            out.push(']');
        }
        Json::Object(m) if m.is_empty() => out.push_str("{}"),
        Json::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                pad(depth + 1, out);
                write_str(k, out);
                out.push_str(": ");
                write(&m[k], depth + 1, out);
            }
            pad(depth, out);
            out.push('}');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// The consolidated `.zmetadata` of the (key, document) pairs `docs` gives
/// in key order, written as [`to_text`] would write the whole, one document
/// at a time (a store may have hundreds of thousands).
pub fn consolidated_text(docs: impl Iterator<Item = (String, Json)>) -> Vec<u8> {
    let mut out = String::from("{\n    \"metadata\": {");
    let mut first = true;
    for (k, doc) in docs {
        out.push_str(if first { "\n        " } else { ",\n        " });
        first = false;
        write_str(&k, &mut out);
        out.push_str(": ");
        write(&doc, 2, &mut out);
    }
    out.push_str(if first { "}" } else { "\n    }" });
    out.push_str(",\n    \"zarr_consolidated_format\": 1\n}\n");
    out.into_bytes()
}

/// The key of the chunk at grid position `grid` (`0` for a scalar).
pub fn chunk_key(grid: &[u64]) -> String {
    if grid.is_empty() {
        return "0".into();
    }
    grid.iter()
        .map(|g| g.to_string())
        .collect::<Vec<_>>()
        .join(".")
}

/// The grid position named by `key` in a grid of `dims` positions per axis.
pub fn parse_chunk_key(key: &[u8], dims: &[u64]) -> Option<Vec<u64>> {
    let key = std::str::from_utf8(key).ok()?;
    if dims.is_empty() {
        return (key == "0").then(Vec::new);
    }
    let grid: Vec<u64> = key
        .split('.')
        .map(|p| {
            let canonical = !p.is_empty() && (p == "0" || !p.starts_with('0'));
            canonical.then(|| p.parse().ok()).flatten()
        })
        .collect::<Option<_>>()?;
    (grid.len() == dims.len() && grid.iter().zip(dims).all(|(g, d)| g < d)).then_some(grid)
}

/// Chunk shape for a dataset that is not chunked: each chunk one
/// contiguous run of the dataset's bytes (ones, then a count along one
/// axis, then whole axes), of at most about `target` bytes.
pub fn row_chunks(shape: &[u64], itemsize: u64, target: u64) -> Vec<u64> {
    let mut inner = itemsize.max(1);
    let mut chunks = shape.to_vec();
    for i in (0..shape.len()).rev() {
        let whole = inner.saturating_mul(shape[i]);
        if whole > target || i == 0 {
            chunks[i] = (target / inner).clamp(1, shape[i].max(1));
            for c in chunks.iter_mut().take(i) {
                *c = 1;
            }
            break;
        }
        inner = whole.max(1);
    }
    chunks.iter().map(|c| (*c).max(1)).collect()
}

#[cfg(test)]
#[path = "zarr_tests.rs"]
mod tests;
