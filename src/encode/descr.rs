//! numpy `.npy` descr strings for element types, and a JSON description of
//! the HDF5 type itself.
//!
//! The descr is what `numpy.lib.format.dtype_to_descr(ds.dtype)` gives for the
//! dtype h5py reports, written as JSON (tuples become lists), so that
//! `descr_to_dtype` rebuilds the dtype whose bytes the dataset file holds.

use serde_json::{json, Value as Json};

use crate::model::{ByteOrder, StrPad, TypeDesc};

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
            "charset": if *utf8 { "utf-8" } else { "ascii" },
            "padding": match pad { StrPad::NullTerm => "nullterm", StrPad::NullPad => "nullpad", StrPad::SpacePad => "spacepad" },
        }),
        TypeDesc::VarString { utf8 } => json!({
            "class": "string", "size": "variable",
            "charset": if *utf8 { "utf-8" } else { "ascii" },
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Field;

    fn int(size: usize, signed: bool, order: ByteOrder) -> TypeDesc {
        TypeDesc::Int {
            size,
            signed,
            order,
        }
    }

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
}
