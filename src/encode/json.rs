//! Values as JSON, the form used for sidecars and for non-scalar xattrs.
//!
//! Rules: integers are numbers; floats are numbers, with the non-finite ones as
//! the strings "nan", "inf", "-inf" (JSON has no literal for them); strings are
//! text (invalid UTF-8 replaced); complex numbers are `[re, im]`; compound
//! records are objects by field name; opaque bytes are a hex string; object
//! references are the target path; region references `{"path", "selection"}`;
//! null references and empty values are `null`.
//!
//! [`value_to_json`] renders a value by these rules and [`nest`] nests a flat
//! C-order list by the dataspace shape. [`values_from_json`] is their inverse:
//! it reads values of a known type from JSON nested by the shape; enums are
//! also read by member name, floats also from `"nan"`, `"inf"`, `"-inf"`, and
//! integers also from whole-number floats. Integers are range-checked against
//! the type.

use serde_json::{json, Number, Value as Json};

use crate::model::{check_int, Tagged, TypeDesc, Value};

// ---------------------------------------------------------------- rendering

pub fn int(v: i128) -> Json {
    if let Ok(i) = i64::try_from(v) {
        Json::from(i)
    } else if let Ok(u) = u64::try_from(v) {
        Json::from(u)
    } else {
        Json::String(v.to_string())
    }
}

pub fn float(v: f64) -> Json {
    match Number::from_f64(v) {
        Some(n) => Json::Number(n),
        None if v.is_nan() => json!("nan"),
        None if v > 0.0 => json!("inf"),
        None => json!("-inf"),
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The bytes of a hex string (either case), or None.
pub(super) fn from_hex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 || !s.is_ascii() {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect()
}

pub fn value_to_json(v: &Value) -> Json {
    match v {
        Value::Null | Value::Ref(None) | Value::Region(None) => Json::Null,
        Value::Bool(b) => json!(b),
        Value::Int(i) => int(*i),
        Value::Float(f) => float(*f),
        Value::Complex(re, im) => json!([float(*re), float(*im)]),
        Value::Str(s) => Json::String(String::from_utf8_lossy(s).into_owned()),
        Value::Bytes(b) => Json::String(hex(b)),
        Value::List(items) => Json::Array(items.iter().map(value_to_json).collect()),
        Value::Record(fields) => Json::Object(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), value_to_json(v)))
                .collect(),
        ),
        Value::Ref(Some(p)) => json!(p),
        Value::Region(Some((p, sel))) => json!({"path": p, "selection": sel}),
    }
}

/// Nest a flat C-order list of values by `shape` (a scalar shape gives the one value).
pub fn nest(values: &[Value], shape: &[u64]) -> Json {
    match shape.split_first() {
        None => values.first().map_or(Json::Null, value_to_json),
        Some((n, rest)) => {
            let stride: u64 = rest.iter().product();
            Json::Array(
                (0..*n)
                    .map(|i| {
                        let a = (i * stride) as usize;
                        let b = ((i + 1) * stride) as usize;
                        nest(values.get(a..b).unwrap_or(&[]), rest)
                    })
                    .collect(),
            )
        }
    }
}

// ---------------------------------------------------------------- parsing

/// Values of type `ty` from JSON nested by `shape` (a scalar shape takes one
/// value), flattened in C order.
pub fn values_from_json(ty: &TypeDesc, shape: &[u64], json: &Json) -> Result<Vec<Value>, String> {
    fn collect(
        ty: &TypeDesc,
        shape: &[u64],
        j: &Json,
        at: &str,
        out: &mut Vec<Value>,
    ) -> Result<(), String> {
        let Some((n, rest)) = shape.split_first() else {
            let v = value_from_json(ty, j).map_err(|e| {
                if at.is_empty() {
                    e
                } else {
                    format!("element {at}: {e}")
                }
            })?;
            out.push(v);
            return Ok(());
        };
        match j {
            Json::Array(items) if items.len() as u64 == *n => {
                for (i, item) in items.iter().enumerate() {
                    collect(ty, rest, item, &format!("{at}[{i}]"), out)?;
                }
                Ok(())
            }
            other => Err(format!(
                "{}expected a list of {n} elements, got {}",
                if at.is_empty() {
                    String::new()
                } else {
                    format!("element {at}: ")
                },
                show(other)
            )),
        }
    }
    let mut out = Vec::new();
    collect(ty, shape, json, "", &mut out)?;
    Ok(out)
}

/// One value of `ty` from JSON.
pub(super) fn value_from_json(ty: &TypeDesc, j: &Json) -> Result<Value, String> {
    Ok(match ty {
        TypeDesc::Int { size, signed, .. } => Value::Int(check_int(json_int(j)?, *size, *signed)?),
        TypeDesc::Bitfield { size, .. } => Value::Int(check_int(json_int(j)?, *size, false)?),
        TypeDesc::Enum { base, members } => match j {
            Json::String(name) => Value::Int(enum_member(members, name)?),
            _ => value_from_json(base, j)?,
        },
        TypeDesc::Float { .. } => Value::Float(json_float(j)?),
        TypeDesc::Bool => Value::Bool(match j {
            Json::Bool(b) => *b,
            Json::Number(n) if n.as_u64() == Some(0) => false,
            Json::Number(n) if n.as_u64() == Some(1) => true,
            other => return Err(format!("expected true or false, got {}", show(other))),
        }),
        TypeDesc::Complex { .. } => match j {
            Json::Array(parts) if parts.len() == 2 => {
                Value::Complex(json_float(&parts[0])?, json_float(&parts[1])?)
            }
            Json::Array(_) => {
                return Err(format!("expected [re, im], got {}", show(j)));
            }
            _ => Value::Complex(json_float(j)?, 0.0),
        },
        TypeDesc::FixedString { .. } | TypeDesc::VarString { .. } => Value::Str(json_str(j)?),
        TypeDesc::NumpyTagged { descr, size } => match Tagged::of(descr) {
            Tagged::Time => Value::Int(check_int(json_int(j)?, 8, true)?),
            Tagged::Str => Value::Str(json_str(j)?),
            Tagged::Raw => Value::Bytes(json_hex(j, *size)?),
        },
        TypeDesc::Opaque { size, .. } => Value::Bytes(json_hex(j, *size)?),
        TypeDesc::Compound { fields, .. } => {
            let Json::Object(m) = j else {
                return Err(format!("expected an object with fields, got {}", show(j)));
            };
            if let Some(k) = m.keys().find(|k| !fields.iter().any(|f| f.name == **k)) {
                return Err(format!("no field named '{k}'"));
            }
            Value::Record(
                fields
                    .iter()
                    .map(|f| {
                        let fj = m
                            .get(&f.name)
                            .ok_or_else(|| format!("missing field '{}'", f.name))?;
                        let v = value_from_json(&f.ty, fj)
                            .map_err(|e| format!("field '{}': {e}", f.name))?;
                        Ok((f.name.clone(), v))
                    })
                    .collect::<Result<_, String>>()?,
            )
        }
        TypeDesc::Array { base, dims } => nested_from_json(base, dims, j)?,
        TypeDesc::VarLen { base } => match j {
            Json::Array(items) => Value::List(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| value_from_json(base, item).map_err(|e| format!("[{i}]: {e}")))
                    .collect::<Result<_, _>>()?,
            ),
            other => return Err(format!("expected a list, got {}", show(other))),
        },
        TypeDesc::ObjectRef => match j {
            Json::Null => Value::Ref(None),
            Json::String(p) => Value::Ref(Some(p.clone())),
            other => return Err(format!("expected a path or null, got {}", show(other))),
        },
        TypeDesc::RegionRef => match j {
            Json::Null => Value::Region(None),
            Json::Object(m) => match (m.get("path").and_then(Json::as_str), m.get("selection")) {
                (Some(p), Some(sel)) => Value::Region(Some((p.to_string(), sel.clone()))),
                _ => return Err("expected {\"path\", \"selection\"}".into()),
            },
            other => {
                return Err(format!(
                    "expected {{\"path\", \"selection\"}} or null, got {}",
                    show(other)
                ))
            }
        },
        TypeDesc::Unsupported { reason } => return Err(format!("unsupported type: {reason}")),
    })
}

/// An array-type element: nested lists by `dims`, as `value.rs` decodes it.
fn nested_from_json(base: &TypeDesc, dims: &[usize], j: &Json) -> Result<Value, String> {
    let Some((n, rest)) = dims.split_first() else {
        return value_from_json(base, j);
    };
    match j {
        Json::Array(items) if items.len() == *n => Ok(Value::List(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    nested_from_json(base, rest, item).map_err(|e| format!("[{i}]: {e}"))
                })
                .collect::<Result<_, _>>()?,
        )),
        other => Err(format!(
            "expected a list of {n} elements, got {}",
            show(other)
        )),
    }
}

fn enum_member(members: &[(String, i128)], name: &str) -> Result<i128, String> {
    members
        .iter()
        .find(|(m, _)| m == name)
        .map(|(_, v)| *v)
        .ok_or_else(|| {
            format!(
                "'{name}' is not a member (expected one of {})",
                member_names(members)
            )
        })
}

/// An enum's member names, for error messages.
pub(super) fn member_names(members: &[(String, i128)]) -> String {
    let names: Vec<&str> = members.iter().map(|(m, _)| m.as_str()).collect();
    names.join(", ")
}

/// An integer; a float is accepted when it is a whole number.
pub(super) fn json_int(j: &Json) -> Result<i128, String> {
    let n = match j {
        Json::Number(n) => n,
        other => return Err(format!("expected an integer, got {}", show(other))),
    };
    if let Some(i) = n.as_i64() {
        Ok(i128::from(i))
    } else if let Some(u) = n.as_u64() {
        Ok(i128::from(u))
    } else {
        match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 1e38 => Ok(f as i128),
            _ => Err(format!("expected an integer, got {n}")),
        }
    }
}

/// A number, or one of the strings "nan", "inf", "-inf" (also "NaN", "Infinity").
fn json_float(j: &Json) -> Result<f64, String> {
    match j {
        Json::Number(n) => n.as_f64().ok_or_else(|| format!("bad number {n}")),
        Json::String(s) => s
            .parse::<f64>()
            .ok()
            .filter(|f| !f.is_finite())
            .ok_or_else(|| {
                format!(
                    "expected a number, \"nan\", \"inf\" or \"-inf\", got {}",
                    show(j)
                )
            }),
        other => Err(format!("expected a number, got {}", show(other))),
    }
}

fn json_str(j: &Json) -> Result<Vec<u8>, String> {
    match j {
        Json::String(s) => Ok(s.as_bytes().to_vec()),
        other => Err(format!("expected a string, got {}", show(other))),
    }
}

fn json_hex(j: &Json, size: usize) -> Result<Vec<u8>, String> {
    let bytes = j
        .as_str()
        .and_then(from_hex)
        .ok_or_else(|| format!("expected a hex string, got {}", show(j)))?;
    if bytes.len() != size {
        return Err(format!(
            "expected {} hex digits ({size} bytes), got {}",
            2 * size,
            2 * bytes.len()
        ));
    }
    Ok(bytes)
}

// ---------------------------------------------------------------- messages

/// Short JSON for error messages.
pub(super) fn show(j: &Json) -> String {
    let s = j.to_string();
    match s.char_indices().nth(40) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s,
    }
}

pub(super) fn show_value(v: &Value) -> String {
    show(&value_to_json(v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::testing::{self as ty, field};
    use crate::model::ByteOrder;

    #[test]
    fn special_floats_and_big_ints() {
        assert_eq!(float(f64::NAN), json!("nan"));
        assert_eq!(float(f64::NEG_INFINITY), json!("-inf"));
        assert_eq!(float(0.5), json!(0.5));
        assert_eq!(int(u64::MAX as i128), json!(u64::MAX));
        assert_eq!(int(-3), json!(-3));
    }

    #[test]
    fn composite_values() {
        let rec = Value::Record(vec![
            ("a".into(), Value::Int(1)),
            ("b".into(), Value::Str(b"hi".to_vec())),
            ("c".into(), Value::Complex(1.0, -2.0)),
            ("r".into(), Value::Ref(Some("/x".into()))),
            ("o".into(), Value::Bytes(vec![0, 255])),
        ]);
        assert_eq!(
            value_to_json(&rec),
            json!({"a": 1, "b": "hi", "c": [1.0, -2.0], "r": "/x", "o": "00ff"})
        );
    }

    #[test]
    fn nesting_by_shape() {
        let v: Vec<Value> = (0..6).map(Value::Int).collect();
        assert_eq!(nest(&v, &[2, 3]), json!([[0, 1, 2], [3, 4, 5]]));
        assert_eq!(nest(&v[..1], &[]), json!(0));
        assert_eq!(nest(&[], &[0]), json!([]));
    }

    #[test]
    fn json_by_shape() {
        let i4 = ty::int(4, true, ByteOrder::Little);
        assert_eq!(
            values_from_json(&i4, &[2, 2], &json!([[1, 2], [3, 4.0]])).unwrap(),
            (1..=4).map(Value::Int).collect::<Vec<_>>()
        );
        assert_eq!(
            values_from_json(&i4, &[], &json!(7)).unwrap(),
            vec![Value::Int(7)]
        );
        assert_eq!(values_from_json(&i4, &[0], &json!([])).unwrap(), vec![]);
        let e = values_from_json(&i4, &[2, 2], &json!([[1, 2], [3]])).unwrap_err();
        assert_eq!(e, "element [1]: expected a list of 2 elements, got [3]");
        let e = values_from_json(&i4, &[2], &json!([1, 2.5])).unwrap_err();
        assert_eq!(e, "element [1]: expected an integer, got 2.5");
        assert!(values_from_json(&i4, &[1], &json!([1e10]))
            .unwrap_err()
            .contains("out of range"));
        assert!(values_from_json(&i4, &[1], &json!(["1"])).is_err());
        assert!(values_from_json(&i4, &[], &json!([1])).is_err());
    }

    #[test]
    fn json_scalars_of_each_type() {
        let f = ty::float(4, ByteOrder::Little);
        let got = values_from_json(&f, &[4], &json!([1, 0.5, "nan", "-inf"])).unwrap();
        assert_eq!(got[..2], [Value::Float(1.0), Value::Float(0.5)]);
        assert!(matches!(got[2], Value::Float(x) if x.is_nan()));
        assert_eq!(got[3], Value::Float(f64::NEG_INFINITY));
        assert!(values_from_json(&f, &[], &json!("1.5")).is_err());
        assert_eq!(
            values_from_json(&TypeDesc::Bool, &[3], &json!([true, 0, 1])).unwrap(),
            vec![Value::Bool(true), Value::Bool(false), Value::Bool(true)]
        );
        assert!(values_from_json(&TypeDesc::Bool, &[], &json!(2)).is_err());
        let c = TypeDesc::Complex {
            size: 16,
            order: ByteOrder::Little,
        };
        assert_eq!(
            values_from_json(&c, &[2], &json!([[1, "inf"], 2])).unwrap(),
            vec![Value::Complex(1.0, f64::INFINITY), Value::Complex(2.0, 0.0)]
        );
        assert!(values_from_json(&c, &[], &json!([1, 2, 3])).is_err());
        let vs = TypeDesc::VarString { utf8: true };
        assert_eq!(
            values_from_json(&vs, &[], &json!("hé")).unwrap(),
            vec![Value::Str("hé".as_bytes().to_vec())]
        );
        assert!(values_from_json(&vs, &[], &json!(1)).is_err());
        let o = TypeDesc::Opaque {
            size: 2,
            tag: String::new(),
        };
        assert_eq!(
            values_from_json(&o, &[], &json!("00ff")).unwrap(),
            vec![Value::Bytes(vec![0, 255])]
        );
        assert!(values_from_json(&o, &[], &json!("00")).is_err());
        let dt = TypeDesc::NumpyTagged {
            descr: "<m8[s]".into(),
            size: 8,
        };
        assert_eq!(
            values_from_json(&dt, &[], &json!(-5)).unwrap(),
            vec![Value::Int(-5)]
        );
        let bits = TypeDesc::Bitfield {
            size: 1,
            order: ByteOrder::None,
        };
        assert!(values_from_json(&bits, &[], &json!(-1)).is_err());
    }

    #[test]
    fn json_enums_by_name_or_number() {
        let e = TypeDesc::Enum {
            base: Box::new(ty::int(1, false, ByteOrder::None)),
            members: vec![("RED".into(), 0), ("GREEN".into(), 1)],
        };
        assert_eq!(
            values_from_json(&e, &[3], &json!(["GREEN", 0, 7])).unwrap(),
            vec![Value::Int(1), Value::Int(0), Value::Int(7)]
        );
        let err = values_from_json(&e, &[], &json!("BLUE")).unwrap_err();
        assert_eq!(err, "'BLUE' is not a member (expected one of RED, GREEN)");
        assert!(values_from_json(&e, &[], &json!(256)).is_err());
    }

    #[test]
    fn json_compounds_arrays_sequences_refs() {
        let ty = TypeDesc::Compound {
            size: 12,
            fields: vec![
                field("id", 0, ty::int(4, true, ByteOrder::Little)),
                field(
                    "v",
                    4,
                    TypeDesc::Array {
                        base: Box::new(ty::int(2, false, ByteOrder::Little)),
                        dims: vec![2, 2],
                    },
                ),
            ],
        };
        let got = values_from_json(&ty, &[], &json!({"v": [[1, 2], [3, 4]], "id": 9})).unwrap();
        let list = |a: i128, b: i128| Value::List(vec![Value::Int(a), Value::Int(b)]);
        let rec = Value::Record(vec![
            ("id".into(), Value::Int(9)),
            ("v".into(), Value::List(vec![list(1, 2), list(3, 4)])),
        ]);
        assert_eq!(got, vec![rec.clone()]);
        // The JSON form of a decoded record reads back to the same record.
        assert_eq!(
            values_from_json(&ty, &[], &value_to_json(&rec)).unwrap(),
            vec![rec]
        );
        assert_eq!(
            values_from_json(&ty, &[], &json!({"id": 1})).unwrap_err(),
            "missing field 'v'"
        );
        assert_eq!(
            values_from_json(&ty, &[], &json!({"id": 1, "v": [[1, 2], [3, 4]], "w": 0}))
                .unwrap_err(),
            "no field named 'w'"
        );
        let e =
            values_from_json(&ty, &[1], &json!([{"id": 1, "v": [[1, 2], [3, -4]]}])).unwrap_err();
        assert!(
            e.starts_with("element [0]: field 'v': [1]: [1]: -4 is out of range"),
            "{e}"
        );
        let vl = TypeDesc::VarLen {
            base: Box::new(ty::float(8, ByteOrder::Little)),
        };
        assert_eq!(
            values_from_json(&vl, &[2], &json!([[1.5], []])).unwrap(),
            vec![Value::List(vec![Value::Float(1.5)]), Value::List(vec![])]
        );
        assert_eq!(
            values_from_json(&TypeDesc::ObjectRef, &[2], &json!(["/a", null])).unwrap(),
            vec![Value::Ref(Some("/a".into())), Value::Ref(None)]
        );
        let sel = json!({"all": true});
        assert_eq!(
            values_from_json(
                &TypeDesc::RegionRef,
                &[],
                &json!({"path": "/d", "selection": sel})
            )
            .unwrap(),
            vec![Value::Region(Some(("/d".into(), sel)))]
        );
        assert!(values_from_json(
            &TypeDesc::Unsupported { reason: "r".into() },
            &[],
            &json!(1)
        )
        .is_err());
    }
}
