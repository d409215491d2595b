//! Element types, both directions: a numpy descr or an HDF5 type description
//! (JSON) to and from a [`TypeDesc`].
//!
//! ## numpy descr
//!
//! [`descr`] gives the descr that `numpy.lib.format.dtype_to_descr(ds.dtype)`
//! gives for the dtype h5py reports, written as JSON (tuples become lists), so
//! that `descr_to_dtype` rebuilds the dtype whose bytes the dataset file holds.
//! Nested HDF5 arrays are one numpy subarray ([`flatten_array`]); types numpy
//! cannot hold have the descr `null`.
//!
//! [`type_from_descr`] is its inverse and reads a descr in that JSON form:
//! `<i4`, `>f8`, `|b1`, `|S5`, `|V4`, `<M8[s]`, `<c16`, the short forms
//! `float64`, `int32`, `bool`, `f8`, `i4` (little-endian; `=` means little
//! too), and structured lists of `[name, descr]` / `[name, descr, shape]`
//! packed in order, where `["", "|V<n>"]` is padding. `|O` and unicode
//! `<U<n>` are refused.
//!
//! ## HDF5 type description
//!
//! [`type_json`] describes the HDF5 type itself (the `hdf5_type` of sidecars
//! and committed datatypes): it keeps what a descr loses, such as enum
//! members, string charset and padding, and opaque tags.
//! [`type_from_hdf5_json`] is its inverse.

use serde_json::{json, Value as Json};

use crate::model::{ByteOrder, Field, StrPad, TypeDesc};

use super::json::{json_int, show};

// ---------------------------------------------------------------- rendering

fn order(o: ByteOrder, size: usize) -> char {
    if size <= 1 {
        '|'
    } else {
        o.numpy_char()
    }
}

/// The numpy descr of one element of `ty`; `null` for types numpy cannot hold.
pub fn descr(ty: &TypeDesc) -> Json {
    if ty.unsupported().is_some() {
        return Json::Null;
    }
    match ty {
        TypeDesc::Int {
            size,
            signed,
            order: o,
        } => json!(format!(
            "{}{}{}",
            order(*o, *size),
            if *signed { 'i' } else { 'u' },
            size
        )),
        TypeDesc::Float { size, order: o } => json!(format!("{}f{}", order(*o, *size), size)),
        TypeDesc::Complex { size, order: o } => json!(format!("{}c{}", o.numpy_char(), size)),
        TypeDesc::Bool => json!("|b1"),
        TypeDesc::Enum { base, .. } => descr(base),
        TypeDesc::Bitfield { size, order: o } => json!(format!("{}u{}", order(*o, *size), size)),
        TypeDesc::FixedString { size, .. } => json!(format!("|S{size}")),
        TypeDesc::Opaque { size, .. } => json!(format!("|V{size}")),
        TypeDesc::NumpyTagged { descr, .. } => json!(descr),
        TypeDesc::Array { base, .. } => descr(base),
        TypeDesc::VarString { .. }
        | TypeDesc::VarLen { .. }
        | TypeDesc::ObjectRef
        | TypeDesc::RegionRef => json!("|O"),
        TypeDesc::Compound { size, fields } => {
            let mut sorted: Vec<_> = fields.iter().collect();
            sorted.sort_by_key(|f| f.offset);
            let mut out = Vec::new();
            let mut pos = 0usize;
            for f in sorted {
                if f.offset > pos {
                    out.push(json!(["", format!("|V{}", f.offset - pos)]));
                }
                match &f.ty {
                    TypeDesc::Array { base, dims } => {
                        let (base, dims) = flatten_array(base, dims);
                        out.push(json!([f.name, descr(base), dims]));
                    }
                    other => out.push(json!([f.name, descr(other)])),
                }
                pos = pos.max(f.offset + f.ty.size());
            }
            if *size > pos {
                out.push(json!(["", format!("|V{}", size - pos)]));
            }
            Json::Array(out)
        }
        TypeDesc::Unsupported { .. } => Json::Null,
    }
}

/// Nested HDF5 arrays are one numpy subarray with all the dimensions.
pub fn flatten_array<'a>(base: &'a TypeDesc, dims: &[usize]) -> (&'a TypeDesc, Vec<usize>) {
    let mut all = dims.to_vec();
    let mut b = base;
    while let TypeDesc::Array { base: inner, dims } = b {
        all.extend_from_slice(dims);
        b = inner;
    }
    (b, all)
}

/// A structural description of the HDF5 type (for sidecars and committed types).
pub fn type_json(ty: &TypeDesc) -> Json {
    let ord = |o: &ByteOrder| match o {
        ByteOrder::Little => "little",
        ByteOrder::Big => "big",
        ByteOrder::None => "none",
    };
    let charset = |utf8: &bool| if *utf8 { "utf-8" } else { "ascii" };
    match ty {
        TypeDesc::Int {
            size,
            signed,
            order: o,
        } => json!({"class": "integer", "size": size, "signed": signed, "order": ord(o)}),
        TypeDesc::Float { size, order: o } => {
            json!({"class": "float", "size": size, "order": ord(o)})
        }
        TypeDesc::Complex { size, order: o } => {
            json!({"class": "complex", "size": size, "order": ord(o)})
        }
        TypeDesc::Bool => json!({"class": "bool", "size": 1}),
        TypeDesc::Enum { base, members } => {
            let m: serde_json::Map<String, Json> = members
                .iter()
                .map(|(k, v)| (k.clone(), super::json::int(*v)))
                .collect();
            json!({"class": "enum", "base": type_json(base), "members": m})
        }
        TypeDesc::Bitfield { size, order: o } => {
            json!({"class": "bitfield", "size": size, "order": ord(o)})
        }
        TypeDesc::FixedString { size, utf8, pad } => json!({
            "class": "string", "size": size,
            "charset": charset(utf8),
            "padding": match pad { StrPad::NullTerm => "nullterm", StrPad::NullPad => "nullpad", StrPad::SpacePad => "spacepad" },
        }),
        TypeDesc::VarString { utf8 } => json!({
            "class": "string", "size": "variable",
            "charset": charset(utf8),
        }),
        TypeDesc::Compound { size, fields } => json!({
            "class": "compound", "size": size,
            "fields": fields.iter().map(|f| json!({"name": f.name, "offset": f.offset, "type": type_json(&f.ty)})).collect::<Vec<_>>(),
        }),
        TypeDesc::Array { base, dims } => {
            json!({"class": "array", "dims": dims, "base": type_json(base)})
        }
        TypeDesc::Opaque { size, tag } => json!({"class": "opaque", "size": size, "tag": tag}),
        TypeDesc::NumpyTagged { descr, size } => {
            json!({"class": "opaque", "size": size, "tag": format!("NUMPY:{descr}"), "numpy": descr})
        }
        TypeDesc::VarLen { base } => json!({"class": "vlen", "base": type_json(base)}),
        TypeDesc::ObjectRef => json!({"class": "reference", "kind": "object"}),
        TypeDesc::RegionRef => json!({"class": "reference", "kind": "region"}),
        TypeDesc::Unsupported { reason } => json!({"class": "unsupported", "reason": reason}),
    }
}

// ---------------------------------------------------------------- parsing

/// The element type a numpy descr (sidecar JSON form) stands for.
pub fn type_from_descr(d: &Json) -> Result<TypeDesc, String> {
    match d {
        Json::String(s) => type_from_descr_str(s),
        Json::Array(entries) => structured(entries),
        other => Err(format!(
            "expected a dtype string or a list of fields, got {}",
            show(other)
        )),
    }
}

fn named_dtype(s: &str) -> Option<&'static str> {
    Some(match s {
        "bool" | "bool_" | "?" => "|b1",
        "int8" => "|i1",
        "uint8" => "|u1",
        "int16" => "<i2",
        "uint16" => "<u2",
        "int32" => "<i4",
        "uint32" => "<u4",
        "int64" | "int" => "<i8",
        "uint64" => "<u8",
        "float16" | "half" => "<f2",
        "float32" | "single" => "<f4",
        "float64" | "double" | "float" => "<f8",
        "complex64" => "<c8",
        "complex128" | "complex" => "<c16",
        _ => return None,
    })
}

fn type_from_descr_str(s: &str) -> Result<TypeDesc, String> {
    if let Some(d) = named_dtype(s) {
        return type_from_descr_str(d);
    }
    for (name, code) in [("datetime64", "<M8"), ("timedelta64", "<m8")] {
        if let Some(unit) = s.strip_prefix(name) {
            return type_from_descr_str(&format!("{code}{unit}"));
        }
    }
    let bad = || format!("unsupported dtype '{s}'");
    let (prefix, body) = match s.chars().next() {
        Some(c @ ('<' | '>' | '|' | '=')) => (c, &s[1..]),
        _ => ('<', s),
    };
    let order = if prefix == '>' {
        ByteOrder::Big
    } else {
        ByteOrder::Little
    };
    let kind = body.chars().next().ok_or_else(bad)?;
    let rest = &body[kind.len_utf8()..];
    match kind {
        'O' => {
            return Err(format!(
            "dtype '{s}' (Python objects) has no fixed-size form; describe the type with hdf5_type"
        ))
        }
        'U' => {
            return Err(format!(
                "dtype '{s}' (numpy unicode) has no HDF5 equivalent; use '|S<n>' for UTF-8 bytes"
            ))
        }
        'M' | 'm' => return datetime(s, prefix, kind, rest),
        _ => {}
    }
    if rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let size: usize = rest.parse().map_err(|_| bad())?;
    Ok(match (kind, size) {
        ('i' | 'u', 1) => TypeDesc::Int {
            size,
            signed: kind == 'i',
            order: ByteOrder::None,
        },
        ('i' | 'u', 2 | 4 | 8) => TypeDesc::Int {
            size,
            signed: kind == 'i',
            order,
        },
        ('b', 1) => TypeDesc::Bool,
        ('f', 2 | 4 | 8) => TypeDesc::Float { size, order },
        // x87 long double (and complex of two) exist only little-endian here.
        ('f', 16) if prefix != '>' => TypeDesc::Float { size, order },
        ('c', 8 | 16) => TypeDesc::Complex { size, order },
        ('c', 32) if prefix != '>' => TypeDesc::Complex { size, order },
        ('S', n) if n > 0 => TypeDesc::FixedString {
            size,
            utf8: false,
            pad: StrPad::NullPad,
        },
        ('V', n) if n > 0 => TypeDesc::Opaque {
            size,
            tag: String::new(),
        },
        _ => return Err(bad()),
    })
}

/// `M8[unit]` / `m8[unit]` (datetime64 / timedelta64), stored as h5py does.
fn datetime(s: &str, prefix: char, kind: char, rest: &str) -> Result<TypeDesc, String> {
    const UNITS: [&str; 14] = [
        "Y", "M", "W", "D", "h", "m", "s", "ms", "us", "μs", "ns", "ps", "fs", "as",
    ];
    let unit = rest
        .strip_prefix('8')
        .ok_or_else(|| format!("unsupported dtype '{s}'"))?;
    let ok = unit.is_empty()
        || unit
            .strip_prefix('[')
            .and_then(|u| u.strip_suffix(']'))
            .map(|u| u.trim_start_matches(|c: char| c.is_ascii_digit()))
            .is_some_and(|u| UNITS.contains(&u));
    if !ok {
        return Err(format!("unsupported dtype '{s}' (bad time unit)"));
    }
    let order = if prefix == '>' { '>' } else { '<' };
    Ok(TypeDesc::NumpyTagged {
        descr: format!("{order}{kind}8{unit}"),
        size: 8,
    })
}

fn field_dims(shape: &Json) -> Result<Vec<usize>, String> {
    match shape {
        Json::Number(_) => Ok(vec![json_usize(shape)?]),
        Json::Array(dims) => dims.iter().map(json_usize).collect(),
        other => Err(format!("expected a field shape, got {}", show(other))),
    }
}

fn json_usize(j: &Json) -> Result<usize, String> {
    j.as_u64()
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| format!("expected a non-negative integer, got {}", show(j)))
}

/// A structured descr: fields packed in order, `["", "|V<n>"]` is padding.
fn structured(entries: &[Json]) -> Result<TypeDesc, String> {
    let mut fields: Vec<Field> = Vec::new();
    let mut offset = 0usize;
    for (i, entry) in entries.iter().enumerate() {
        let parts = entry
            .as_array()
            .filter(|p| p.len() == 2 || p.len() == 3)
            .ok_or_else(|| {
                format!(
                    "field {i}: expected [name, descr] or [name, descr, shape], got {}",
                    show(entry)
                )
            })?;
        // numpy allows a (title, name) pair as the name.
        let name = match &parts[0] {
            Json::String(s) => s.as_str(),
            Json::Array(pair) if pair.len() == 2 && pair[1].is_string() => {
                pair[1].as_str().unwrap_or_default()
            }
            other => return Err(format!("field {i}: bad name {}", show(other))),
        };
        let what = || {
            if name.is_empty() {
                format!("field {i}")
            } else {
                format!("field '{name}'")
            }
        };
        let mut ty = type_from_descr(&parts[1]).map_err(|e| format!("{}: {e}", what()))?;
        if let Some(shape) = parts.get(2) {
            let dims = field_dims(shape).map_err(|e| format!("{}: {e}", what()))?;
            if !dims.is_empty() {
                ty = TypeDesc::Array {
                    base: Box::new(ty),
                    dims,
                };
            }
        }
        if name.is_empty() {
            if matches!(ty, TypeDesc::Opaque { .. }) {
                offset += ty.size();
                continue;
            }
            return Err(format!(
                "field {i} has an empty name (only '|V<n>' padding may)"
            ));
        }
        if fields.iter().any(|f| f.name == name) {
            return Err(format!("field '{name}' appears twice"));
        }
        let size = ty.size();
        fields.push(Field {
            name: name.to_string(),
            offset,
            ty,
        });
        offset += size;
    }
    if fields.is_empty() {
        return Err("a structured dtype needs at least one named field".into());
    }
    Ok(TypeDesc::Compound {
        size: offset,
        fields,
    })
}

/// The type a sidecar's `hdf5_type` describes (the inverse of `type_json`).
pub fn type_from_hdf5_json(j: &Json) -> Result<TypeDesc, String> {
    let o = j
        .as_object()
        .ok_or_else(|| format!("expected a type object, got {}", show(j)))?;
    let get = |k: &str| o.get(k).ok_or_else(|| format!("missing '{k}'"));
    let size = || get("size").and_then(json_usize);
    let order = || -> Result<ByteOrder, String> {
        match get("order")?.as_str() {
            Some("little") => Ok(ByteOrder::Little),
            Some("big") => Ok(ByteOrder::Big),
            Some("none") => Ok(ByteOrder::None),
            _ => Err("order must be \"little\", \"big\" or \"none\"".into()),
        }
    };
    let base = || type_from_hdf5_json(get("base")?).map_err(|e| format!("base: {e}"));
    let class = get("class")?.as_str().unwrap_or_default();
    Ok(match class {
        "integer" => {
            let size = size()?;
            if ![1, 2, 4, 8].contains(&size) {
                return Err(format!("no {size}-byte integers"));
            }
            TypeDesc::Int {
                size,
                signed: get("signed")?.as_bool().ok_or("signed must be a bool")?,
                order: if size == 1 { ByteOrder::None } else { order()? },
            }
        }
        "float" => match size()? {
            size @ (2 | 4 | 8 | 16) => TypeDesc::Float {
                size,
                order: order()?,
            },
            size => return Err(format!("no {size}-byte floats")),
        },
        "complex" => match size()? {
            size @ (8 | 16 | 32) => TypeDesc::Complex {
                size,
                order: order()?,
            },
            size => return Err(format!("no {size}-byte complex numbers")),
        },
        "bool" => TypeDesc::Bool,
        "bitfield" => TypeDesc::Bitfield {
            size: size()?,
            order: order()?,
        },
        "enum" => {
            let base = base()?;
            if !matches!(base, TypeDesc::Int { .. }) {
                return Err("an enum's base must be an integer".into());
            }
            let members = get("members")?
                .as_object()
                .ok_or("members must be an object")?
                .iter()
                .map(|(k, v)| Ok((k.clone(), json_int(v).map_err(|e| format!("{k}: {e}"))?)))
                .collect::<Result<Vec<_>, String>>()?;
            TypeDesc::Enum {
                base: Box::new(base),
                members,
            }
        }
        "string" => {
            let utf8 = match get("charset")?.as_str() {
                Some("utf-8") => true,
                Some("ascii") => false,
                _ => return Err("charset must be \"utf-8\" or \"ascii\"".into()),
            };
            if get("size")?.as_str() == Some("variable") {
                TypeDesc::VarString { utf8 }
            } else {
                let pad = match get("padding")?.as_str() {
                    Some("nullterm") => StrPad::NullTerm,
                    Some("nullpad") => StrPad::NullPad,
                    Some("spacepad") => StrPad::SpacePad,
                    _ => return Err("padding must be nullterm, nullpad or spacepad".into()),
                };
                TypeDesc::FixedString {
                    size: size()?,
                    utf8,
                    pad,
                }
            }
        }
        "compound" => {
            let size = size()?;
            let fields = get("fields")?
                .as_array()
                .ok_or("fields must be a list")?
                .iter()
                .map(|f| {
                    let name = f
                        .get("name")
                        .and_then(Json::as_str)
                        .ok_or("a field needs a name")?;
                    let offset = f
                        .get("offset")
                        .ok_or_else(|| format!("field '{name}': missing offset"))
                        .and_then(json_usize)?;
                    let ty = f
                        .get("type")
                        .ok_or_else(|| format!("field '{name}': missing type"))
                        .and_then(type_from_hdf5_json)
                        .map_err(|e| format!("field '{name}': {e}"))?;
                    if offset + ty.size() > size {
                        return Err(format!("field '{name}' ends past the compound's size"));
                    }
                    Ok(Field {
                        name: name.to_string(),
                        offset,
                        ty,
                    })
                })
                .collect::<Result<Vec<_>, String>>()?;
            TypeDesc::Compound { size, fields }
        }
        "array" => TypeDesc::Array {
            dims: field_dims(get("dims")?)?,
            base: Box::new(base()?),
        },
        "opaque" => match o.get("numpy").and_then(Json::as_str) {
            Some(d) => TypeDesc::NumpyTagged {
                descr: d.to_string(),
                size: size()?,
            },
            None => TypeDesc::Opaque {
                size: size()?,
                tag: get("tag")?.as_str().unwrap_or_default().to_string(),
            },
        },
        "vlen" => TypeDesc::VarLen {
            base: Box::new(base()?),
        },
        "reference" => match get("kind")?.as_str() {
            Some("object") => TypeDesc::ObjectRef,
            Some("region") => TypeDesc::RegionRef,
            _ => return Err("kind must be \"object\" or \"region\"".into()),
        },
        "unsupported" => TypeDesc::Unsupported {
            reason: get("reason")?.as_str().unwrap_or_default().to_string(),
        },
        other => return Err(format!("unknown class '{other}'")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::testing::{field, float, int};

    fn td(d: Json) -> TypeDesc {
        type_from_descr(&d).unwrap()
    }

    // ---- rendering

    #[test]
    fn scalars() {
        assert_eq!(descr(&int(4, true, ByteOrder::Little)), json!("<i4"));
        assert_eq!(descr(&int(8, false, ByteOrder::Big)), json!(">u8"));
        assert_eq!(descr(&int(1, true, ByteOrder::None)), json!("|i1"));
        let f2 = TypeDesc::Float {
            size: 2,
            order: ByteOrder::Big,
        };
        assert_eq!(descr(&f2), json!(">f2"));
        assert_eq!(descr(&TypeDesc::Bool), json!("|b1"));
        let c = TypeDesc::Complex {
            size: 16,
            order: ByteOrder::Big,
        };
        assert_eq!(descr(&c), json!(">c16"));
        let s = TypeDesc::FixedString {
            size: 7,
            utf8: true,
            pad: StrPad::SpacePad,
        };
        assert_eq!(descr(&s), json!("|S7"));
        assert_eq!(descr(&TypeDesc::VarString { utf8: true }), json!("|O"));
        let e = TypeDesc::Enum {
            base: Box::new(int(2, false, ByteOrder::Big)),
            members: vec![("A".into(), 1)],
        };
        assert_eq!(descr(&e), json!(">u2"));
        let o = TypeDesc::Opaque {
            size: 5,
            tag: "x".into(),
        };
        assert_eq!(descr(&o), json!("|V5"));
        let d = TypeDesc::NumpyTagged {
            descr: "<M8[s]".into(),
            size: 8,
        };
        assert_eq!(descr(&d), json!("<M8[s]"));
        let b = TypeDesc::Bitfield {
            size: 2,
            order: ByteOrder::Little,
        };
        assert_eq!(descr(&b), json!("<u2"));
        let u = TypeDesc::Unsupported { reason: "x".into() };
        assert_eq!(descr(&u), Json::Null);
    }

    #[test]
    fn compound_with_padding_nesting_and_arrays() {
        let inner = TypeDesc::Compound {
            size: 4,
            fields: vec![Field {
                name: "x".into(),
                offset: 0,
                ty: int(2, true, ByteOrder::Little),
            }],
        };
        let ty = TypeDesc::Compound {
            size: 40,
            fields: vec![
                Field {
                    name: "a".into(),
                    offset: 0,
                    ty: int(1, false, ByteOrder::None),
                },
                Field {
                    name: "v".into(),
                    offset: 4,
                    ty: TypeDesc::Array {
                        base: Box::new(TypeDesc::Array {
                            base: Box::new(TypeDesc::Float {
                                size: 4,
                                order: ByteOrder::Little,
                            }),
                            dims: vec![2],
                        }),
                        dims: vec![3],
                    },
                },
                Field {
                    name: "n".into(),
                    offset: 32,
                    ty: inner,
                },
            ],
        };
        assert_eq!(
            descr(&ty),
            json!([
                ["a", "|u1"],
                ["", "|V3"],
                ["v", "<f4", [3, 2]],
                ["", "|V4"],
                ["n", [["x", "<i2"], ["", "|V2"]]],
                ["", "|V4"]
            ])
        );
    }

    // ---- parsing

    #[test]
    fn scalar_descrs() {
        use ByteOrder::*;
        assert_eq!(td(json!("<i4")), int(4, true, Little));
        assert_eq!(td(json!(">u8")), int(8, false, Big));
        assert_eq!(td(json!("|i1")), int(1, true, None));
        assert_eq!(td(json!("<u1")), int(1, false, None));
        assert_eq!(td(json!("=i2")), int(2, true, Little));
        assert_eq!(td(json!("|b1")), TypeDesc::Bool);
        assert_eq!(td(json!(">f2")), float(2, Big));
        assert_eq!(td(json!("<f16")), float(16, Little));
        assert_eq!(
            td(json!(">c16")),
            TypeDesc::Complex {
                size: 16,
                order: Big
            }
        );
        assert_eq!(
            td(json!("|S7")),
            TypeDesc::FixedString {
                size: 7,
                utf8: false,
                pad: StrPad::NullPad
            }
        );
        assert_eq!(
            td(json!("|V3")),
            TypeDesc::Opaque {
                size: 3,
                tag: String::new()
            }
        );
        assert_eq!(
            td(json!("<M8[ns]")),
            TypeDesc::NumpyTagged {
                descr: "<M8[ns]".into(),
                size: 8
            }
        );
        assert_eq!(
            td(json!(">m8[10s]")),
            TypeDesc::NumpyTagged {
                descr: ">m8[10s]".into(),
                size: 8
            }
        );
    }

    #[test]
    fn short_dtype_names() {
        use ByteOrder::*;
        assert_eq!(td(json!("float64")), float(8, Little));
        assert_eq!(td(json!("f8")), float(8, Little));
        assert_eq!(td(json!("int32")), int(4, true, Little));
        assert_eq!(td(json!("i4")), int(4, true, Little));
        assert_eq!(td(json!("uint8")), int(1, false, None));
        assert_eq!(td(json!("bool")), TypeDesc::Bool);
        assert_eq!(
            td(json!("complex64")),
            TypeDesc::Complex {
                size: 8,
                order: Little
            }
        );
        assert_eq!(
            td(json!("datetime64[s]")),
            TypeDesc::NumpyTagged {
                descr: "<M8[s]".into(),
                size: 8
            }
        );
    }

    #[test]
    fn refused_descrs() {
        for d in [
            json!("|O"),
            json!("<U5"),
            json!("<i3"),
            json!(">f16"),
            json!("|S0"),
            json!("<M8[lightyears]"),
            json!("<f+8"),
            json!(""),
            json!(3),
            json!([]),
            json!([["", "|V4"]]),
            json!([["a", "<i4"], ["a", "<f8"]]),
            json!([["", "<i4"]]),
            json!([["a"]]),
        ] {
            assert!(type_from_descr(&d).is_err(), "{d}");
        }
        assert!(type_from_descr(&json!("|O")).unwrap_err().contains("|O"));
    }

    #[test]
    fn structured_descrs_pack_in_order() {
        let d = json!([
            ["a", "|u1"],
            ["", "|V3"],
            ["v", "<f4", [3, 2]],
            ["", "|V4"],
            ["n", [["x", "<i2"], ["", "|V2"]]],
            [["title", "t"], "<i8", 2],
            ["", "|V4"]
        ]);
        let inner = TypeDesc::Compound {
            size: 4,
            fields: vec![field("x", 0, int(2, true, ByteOrder::Little))],
        };
        let expected = TypeDesc::Compound {
            size: 56,
            fields: vec![
                field("a", 0, int(1, false, ByteOrder::None)),
                field(
                    "v",
                    4,
                    TypeDesc::Array {
                        base: Box::new(float(4, ByteOrder::Little)),
                        dims: vec![3, 2],
                    },
                ),
                field("n", 32, inner),
                field(
                    "t",
                    36,
                    TypeDesc::Array {
                        base: Box::new(int(8, true, ByteOrder::Little)),
                        dims: vec![2],
                    },
                ),
            ],
        };
        assert_eq!(td(d), expected);
    }

    #[test]
    fn descr_round_trips() {
        let types = [
            int(2, false, ByteOrder::Big),
            float(4, ByteOrder::Little),
            TypeDesc::Bool,
            td(json!([
                ["a", "|u1"],
                ["", "|V3"],
                ["v", "<f4", [3, 2]],
                ["", "|V4"]
            ])),
            td(json!([["n", [["x", "<i2"], ["", "|V2"]]], ["s", "|S5"]])),
        ];
        for ty in types {
            assert_eq!(type_from_descr(&descr(&ty)).unwrap(), ty);
        }
    }

    #[test]
    fn hdf5_type_json_round_trips() {
        let types = [
            int(1, true, ByteOrder::None),
            float(16, ByteOrder::Little),
            TypeDesc::Complex {
                size: 8,
                order: ByteOrder::Big,
            },
            TypeDesc::Bool,
            TypeDesc::Enum {
                base: Box::new(int(2, false, ByteOrder::Big)),
                members: vec![("B".into(), 2), ("A".into(), 1)],
            },
            TypeDesc::Bitfield {
                size: 2,
                order: ByteOrder::Little,
            },
            TypeDesc::FixedString {
                size: 4,
                utf8: true,
                pad: StrPad::SpacePad,
            },
            TypeDesc::VarString { utf8: false },
            TypeDesc::Compound {
                size: 24,
                fields: vec![
                    field("z", 16, TypeDesc::VarString { utf8: true }),
                    field("a", 0, int(4, true, ByteOrder::Little)),
                ],
            },
            TypeDesc::Array {
                base: Box::new(float(8, ByteOrder::Little)),
                dims: vec![2, 3],
            },
            TypeDesc::Opaque {
                size: 3,
                tag: "blob".into(),
            },
            TypeDesc::NumpyTagged {
                descr: "<M8[s]".into(),
                size: 8,
            },
            TypeDesc::VarLen {
                base: Box::new(TypeDesc::ObjectRef),
            },
            TypeDesc::RegionRef,
            TypeDesc::Unsupported { reason: "x".into() },
        ];
        for ty in types {
            assert_eq!(type_from_hdf5_json(&type_json(&ty)).unwrap(), ty);
        }
        assert!(type_from_hdf5_json(&json!({"class": "integer", "size": 3})).is_err());
        assert!(type_from_hdf5_json(&json!({"class": "wat"})).is_err());
        assert!(type_from_hdf5_json(&json!(
            {"class": "compound", "size": 2, "fields": [{"name": "a", "offset": 0,
             "type": {"class": "integer", "size": 4, "signed": true, "order": "little"}}]}
        ))
        .is_err());
    }
}
