//! Attribute values as extended-attribute text.
//!
//! - a scalar string: its bytes (fixed-length padding removed, nothing added);
//! - a scalar integer (also enum and bitfield): decimal;
//! - a scalar float: the shortest decimal that reads back to the same value in
//!   the attribute's own precision (`0.1`, `1e300`), or `nan`, `inf`, `-inf`;
//! - a scalar bool: `1` or `0`;
//! - anything else (arrays, compound, complex, references, opaque, empty) as
//!   compact JSON (see [`super::json`]).
//!
//! [`name_list`] gives the list `listxattr` returns: each name with the
//! `user.` prefix, NUL-terminated.
//!
//! Writing an attribute is the inverse of reading it:
//! - [`parse_attr_text`] reads the text written to an existing attribute,
//!   whose type and shape it keeps: scalar strings are taken byte for byte,
//!   scalar numbers and bools as plain text (surrounding whitespace allowed;
//!   bools also as `true`/`false`, enums also by member name), everything
//!   else as JSON by the rules of [`super::json`];
//! - [`infer_new_attr`] picks a type for a new attribute: an integer (int64),
//!   a number (float64), a rectangular JSON array of numbers (int64 if all
//!   are integers, else float64), or else a UTF-8 variable-length string of
//!   the exact bytes.

use serde_json::Value as Json;

use crate::model::{check_int, AttrData, ByteOrder, Tagged, TypeDesc, Value};

use super::bytes::round_to_half;
use super::json::{member_names, nest, values_from_json};

// ---------------------------------------------------------------- rendering

/// The bytes `getfattr` shows for an attribute.
pub fn attr_value(attr: &AttrData) -> Vec<u8> {
    let Some(shape) = &attr.shape else {
        return b"null".to_vec();
    };
    if shape.is_empty() {
        if let Some(v) = attr.values.first() {
            if let Some(text) = scalar_text(&attr.ty, v) {
                return text;
            }
        }
    }
    let json = nest(&attr.values, shape);
    serde_json::to_vec(&json).unwrap_or_default()
}

fn scalar_text(ty: &TypeDesc, v: &Value) -> Option<Vec<u8>> {
    match v {
        Value::Str(s) => Some(s.clone()),
        Value::Int(i) => Some(i.to_string().into_bytes()),
        Value::Bool(b) => Some(if *b { b"1".to_vec() } else { b"0".to_vec() }),
        Value::Float(f) => {
            let size = match ty {
                TypeDesc::Float { size, .. } => *size,
                _ => 8,
            };
            Some(float_text(*f, size).into_bytes())
        }
        _ => None,
    }
}

/// Shortest round-trip decimal of `v`, which is a float of `size` bytes.
pub fn float_text(v: f64, size: usize) -> String {
    if v.is_nan() {
        return "nan".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    match size {
        4 => format!("{:?}", v as f32),
        2 => {
            for digits in 0..17 {
                let s = format!("{v:.digits$e}");
                if let Ok(parsed) = s.parse::<f64>() {
                    if round_to_half(parsed) == v {
                        return format!("{parsed:?}");
                    }
                }
            }
            format!("{v:?}")
        }
        _ => format!("{v:?}"),
    }
}

/// The NUL-separated list `listxattr` returns for these attribute names.
pub fn name_list(names: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for n in names {
        out.extend_from_slice(b"user.");
        out.extend_from_slice(n);
        out.push(0);
    }
    out
}

// ---------------------------------------------------------------- parsing

/// Values for an existing attribute of type `ty` and `shape` (None: empty) from
/// the text written with `setxattr`.
pub fn parse_attr_text(
    ty: &TypeDesc,
    shape: Option<&[u64]>,
    text: &[u8],
) -> Result<Vec<Value>, String> {
    let Some(shape) = shape else {
        return if text.trim_ascii() == b"null" {
            Ok(Vec::new())
        } else {
            Err("the attribute is empty (null dataspace): expected null".into())
        };
    };
    if shape.is_empty() {
        if let Some(v) = scalar_from_text(ty, text)? {
            return Ok(vec![v]);
        }
    }
    let json: Json = serde_json::from_slice(text).map_err(|e| {
        let what = if shape.is_empty() {
            "a scalar of this type".to_string()
        } else {
            format!("shape {shape:?}")
        };
        format!("expected JSON for {what}: {e}")
    })?;
    values_from_json(ty, shape, &json)
}

/// A scalar written as plain text; None for types whose scalars are JSON.
fn scalar_from_text(ty: &TypeDesc, text: &[u8]) -> Result<Option<Value>, String> {
    let trimmed = std::str::from_utf8(text.trim_ascii()).unwrap_or("");
    let shown = || String::from_utf8_lossy(&text[..text.len().min(40)]).into_owned();
    let int = |size: usize, signed: bool| -> Result<Value, String> {
        let i = trimmed
            .parse::<i128>()
            .map_err(|_| format!("expected an integer, got '{}'", shown()))?;
        Ok(Value::Int(check_int(i, size, signed)?))
    };
    Ok(Some(match ty {
        TypeDesc::FixedString { .. } | TypeDesc::VarString { .. } => Value::Str(text.to_vec()),
        TypeDesc::NumpyTagged { descr, .. } => match Tagged::of(descr) {
            Tagged::Str => Value::Str(text.to_vec()),
            Tagged::Time => int(8, true)?,
            Tagged::Raw => return Ok(None),
        },
        TypeDesc::Int { size, signed, .. } => int(*size, *signed)?,
        TypeDesc::Bitfield { size, .. } => int(*size, false)?,
        TypeDesc::Enum { base, members } => {
            let name = std::str::from_utf8(text).unwrap_or("");
            match members.iter().find(|(m, _)| m == name || m == trimmed) {
                Some((_, v)) => Value::Int(*v),
                None => match base.as_ref() {
                    TypeDesc::Int { size, signed, .. } => int(*size, *signed)
                        .map_err(|e| format!("{e} or a member name ({})", member_names(members)))?,
                    _ => return Ok(None),
                },
            }
        }
        TypeDesc::Float { .. } => Value::Float(
            trimmed
                .parse::<f64>()
                .map_err(|_| format!("expected a number, nan, inf or -inf, got '{}'", shown()))?,
        ),
        TypeDesc::Bool => Value::Bool(match trimmed.to_ascii_lowercase().as_str() {
            "1" | "true" => true,
            "0" | "false" => false,
            _ => return Err(format!("expected 1, 0, true or false, got '{}'", shown())),
        }),
        _ => return Ok(None),
    }))
}

// ---------------------------------------------------------------- new attributes

const INT64: TypeDesc = TypeDesc::Int {
    size: 8,
    signed: true,
    order: ByteOrder::Little,
};
const FLOAT64: TypeDesc = TypeDesc::Float {
    size: 8,
    order: ByteOrder::Little,
};

/// Type, shape and values for an attribute created by writing `text`.
pub fn infer_new_attr(text: &[u8]) -> (TypeDesc, Vec<u64>, Vec<Value>) {
    let t = std::str::from_utf8(text.trim_ascii()).unwrap_or("");
    if looks_like_number(t) {
        if let Ok(i) = t.parse::<i64>() {
            return (INT64, vec![], vec![Value::Int(i128::from(i))]);
        }
        if let Some(f) = t.parse::<f64>().ok().filter(|f| f.is_finite()) {
            return (FLOAT64, vec![], vec![Value::Float(f)]);
        }
    }
    if t.starts_with('[') {
        if let Ok(json) = serde_json::from_str::<Json>(t) {
            if let Some(shape) = rect_shape(&json) {
                let mut leaves = Vec::new();
                number_leaves(&json, &mut leaves);
                let all_int = leaves.iter().all(|n| n.is_i64());
                let values = leaves
                    .iter()
                    .map(|n| match n.as_i64() {
                        Some(i) if all_int => Value::Int(i128::from(i)),
                        _ => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
                    })
                    .collect();
                let ty = if all_int && !leaves.is_empty() {
                    INT64
                } else {
                    FLOAT64
                };
                return (ty, shape, values);
            }
        }
    }
    (
        TypeDesc::VarString { utf8: true },
        vec![],
        vec![Value::Str(text.to_vec())],
    )
}

/// Optional sign, digits, optional `.digits`, optional exponent.
fn looks_like_number(s: &str) -> bool {
    fn digits(s: &str) -> (&str, bool) {
        let rest = s.trim_start_matches(|c: char| c.is_ascii_digit());
        (rest, rest.len() < s.len())
    }
    let s = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (mut rest, ok) = digits(s);
    if !ok {
        return false;
    }
    if let Some(frac) = rest.strip_prefix('.') {
        let (r, ok) = digits(frac);
        if !ok {
            return false;
        }
        rest = r;
    }
    if let Some(exp) = rest.strip_prefix(['e', 'E']) {
        let (r, ok) = digits(exp.strip_prefix(['+', '-']).unwrap_or(exp));
        if !ok {
            return false;
        }
        rest = r;
    }
    rest.is_empty()
}

/// The shape of a rectangular nest of arrays of numbers, or None.
fn rect_shape(j: &Json) -> Option<Vec<u64>> {
    match j {
        Json::Number(_) => Some(Vec::new()),
        Json::Array(items) => {
            let mut inner: Option<Vec<u64>> = None;
            for item in items {
                let s = rect_shape(item)?;
                if inner.as_ref().is_some_and(|i| *i != s) {
                    return None;
                }
                inner = Some(s);
            }
            let mut shape = vec![items.len() as u64];
            shape.extend(inner.unwrap_or_default());
            Some(shape)
        }
        _ => None,
    }
}

fn number_leaves<'a>(j: &'a Json, out: &mut Vec<&'a serde_json::Number>) {
    match j {
        Json::Number(n) => out.push(n),
        Json::Array(items) => items.iter().for_each(|i| number_leaves(i, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::bytes::encode_values;
    use crate::encode::testing::{float, int};

    fn scalar(ty: TypeDesc, v: Value) -> AttrData {
        AttrData {
            ty,
            shape: Some(vec![]),
            values: vec![v],
        }
    }

    fn f(size: usize) -> TypeDesc {
        TypeDesc::Float {
            size,
            order: ByteOrder::Little,
        }
    }

    // ---- rendering

    #[test]
    fn scalars_are_plain_text() {
        let s = scalar(
            TypeDesc::VarString { utf8: true },
            Value::Str(b"hello".to_vec()),
        );
        assert_eq!(attr_value(&s), b"hello");
        let i = scalar(
            TypeDesc::Int {
                size: 8,
                signed: true,
                order: ByteOrder::Little,
            },
            Value::Int(-42),
        );
        assert_eq!(attr_value(&i), b"-42");
        assert_eq!(attr_value(&scalar(TypeDesc::Bool, Value::Bool(true))), b"1");
        assert_eq!(attr_value(&scalar(f(8), Value::Float(0.1))), b"0.1");
        assert_eq!(attr_value(&scalar(f(8), Value::Float(1e300))), b"1e300");
        assert_eq!(attr_value(&scalar(f(8), Value::Float(2.0))), b"2.0");
        assert_eq!(attr_value(&scalar(f(8), Value::Float(f64::NAN))), b"nan");
        assert_eq!(
            attr_value(&scalar(f(4), Value::Float(0.1f32 as f64))),
            b"0.1"
        );
        assert_eq!(
            attr_value(&scalar(f(2), Value::Float(round_to_half(0.1)))),
            b"0.1"
        );
    }

    #[test]
    fn everything_else_is_json() {
        let arr = AttrData {
            ty: f(8),
            shape: Some(vec![2, 2]),
            values: vec![
                Value::Float(1.0),
                Value::Float(f64::INFINITY),
                Value::Float(3.5),
                Value::Float(4.0),
            ],
        };
        assert_eq!(attr_value(&arr), br#"[[1.0,"inf"],[3.5,4.0]]"#);
        let empty = AttrData {
            ty: f(8),
            shape: None,
            values: vec![],
        };
        assert_eq!(attr_value(&empty), b"null");
        let c = scalar(
            TypeDesc::Complex {
                size: 16,
                order: ByteOrder::Little,
            },
            Value::Complex(1.0, 2.0),
        );
        assert_eq!(attr_value(&c), b"[1.0,2.0]");
        let r = scalar(TypeDesc::ObjectRef, Value::Ref(Some("/g/d".into())));
        assert_eq!(attr_value(&r), br#""/g/d""#);
    }

    #[test]
    fn list_is_nul_separated_with_prefix() {
        assert_eq!(
            name_list(&[b"a".to_vec(), b"bc".to_vec()]),
            b"user.a\0user.bc\0"
        );
    }

    // ---- parsing

    #[test]
    fn scalar_attribute_text() {
        let vs = TypeDesc::VarString { utf8: true };
        assert_eq!(
            parse_attr_text(&vs, Some(&[]), b" hello\n").unwrap(),
            vec![Value::Str(b" hello\n".to_vec())]
        );
        let i2 = int(2, true, ByteOrder::Big);
        assert_eq!(
            parse_attr_text(&i2, Some(&[]), b" -42\n").unwrap(),
            vec![Value::Int(-42)]
        );
        assert!(parse_attr_text(&i2, Some(&[]), b"40000")
            .unwrap_err()
            .contains("out of range"));
        assert_eq!(
            parse_attr_text(&i2, Some(&[]), b"4.5").unwrap_err(),
            "expected an integer, got '4.5'"
        );
        let f = float(8, ByteOrder::Little);
        for (text, want) in [
            (&b"0.1"[..], 0.1),
            (b"1e300", 1e300),
            (b"-inf", f64::NEG_INFINITY),
            (b"Infinity\n", f64::INFINITY),
        ] {
            assert_eq!(
                parse_attr_text(&f, Some(&[]), text).unwrap(),
                vec![Value::Float(want)]
            );
        }
        assert!(
            matches!(parse_attr_text(&f, Some(&[]), b"NaN").unwrap()[0], Value::Float(x) if x.is_nan())
        );
        assert!(parse_attr_text(&f, Some(&[]), b"one").is_err());
        for (text, want) in [
            (&b"1"[..], true),
            (b"TRUE", true),
            (b"0\n", false),
            (b"False", false),
        ] {
            assert_eq!(
                parse_attr_text(&TypeDesc::Bool, Some(&[]), text).unwrap(),
                vec![Value::Bool(want)]
            );
        }
        assert!(parse_attr_text(&TypeDesc::Bool, Some(&[]), b"yes").is_err());
        let e = TypeDesc::Enum {
            base: Box::new(int(1, false, ByteOrder::None)),
            members: vec![("OFF".into(), 0), ("ON".into(), 1)],
        };
        assert_eq!(
            parse_attr_text(&e, Some(&[]), b"ON").unwrap(),
            vec![Value::Int(1)]
        );
        assert_eq!(
            parse_attr_text(&e, Some(&[]), b"0").unwrap(),
            vec![Value::Int(0)]
        );
        assert!(parse_attr_text(&e, Some(&[]), b"DIM")
            .unwrap_err()
            .contains("OFF, ON"));
        let dt = TypeDesc::NumpyTagged {
            descr: "<M8[D]".into(),
            size: 8,
        };
        assert_eq!(
            parse_attr_text(&dt, Some(&[]), b"19000").unwrap(),
            vec![Value::Int(19000)]
        );
    }

    #[test]
    fn other_attributes_are_json() {
        let f = float(8, ByteOrder::Little);
        let got = parse_attr_text(&f, Some(&[2, 2]), br#"[[1.0,"inf"],[3.5,4]]"#).unwrap();
        assert_eq!(got[1], Value::Float(f64::INFINITY));
        assert_eq!(got.len(), 4);
        let c = TypeDesc::Complex {
            size: 16,
            order: ByteOrder::Little,
        };
        assert_eq!(
            parse_attr_text(&c, Some(&[]), b"[1.0,2.0]").unwrap(),
            vec![Value::Complex(1.0, 2.0)]
        );
        assert!(parse_attr_text(&c, Some(&[]), b"1+2j")
            .unwrap_err()
            .starts_with("expected JSON"));
        assert!(parse_attr_text(&f, Some(&[2]), b"[1]").is_err());
        assert_eq!(parse_attr_text(&f, None, b"null\n").unwrap(), vec![]);
        assert!(parse_attr_text(&f, None, b"1")
            .unwrap_err()
            .contains("null"));
    }

    #[test]
    fn xattr_text_round_trips() {
        let cases = [
            (float(4, ByteOrder::Little), vec![], vec![Value::Float(0.1)]),
            (
                float(2, ByteOrder::Little),
                vec![],
                vec![Value::Float(round_to_half(0.1))],
            ),
            (
                int(8, false, ByteOrder::Little),
                vec![],
                vec![Value::Int(u64::MAX as i128)],
            ),
            (
                TypeDesc::Bool,
                vec![2],
                vec![Value::Bool(true), Value::Bool(false)],
            ),
            (
                TypeDesc::VarString { utf8: false },
                vec![],
                vec![Value::Str(b"a\nb".to_vec())],
            ),
            (
                TypeDesc::VarString { utf8: true },
                vec![2],
                vec![Value::Str(b"x".to_vec()), Value::Str(b"".to_vec())],
            ),
        ];
        for (ty, shape, values) in cases {
            let attr = AttrData {
                ty: ty.clone(),
                shape: Some(shape.clone()),
                values: values.clone(),
            };
            let text = attr_value(&attr);
            let back = parse_attr_text(&ty, Some(&shape), &text).unwrap();
            assert_eq!(
                encode_or_same(&ty, &back),
                encode_or_same(&ty, &values),
                "{ty:?}"
            );
        }
    }

    /// Compare through the stored bytes where there are any (f4/f2 values are rounded there).
    fn encode_or_same(ty: &TypeDesc, v: &[Value]) -> Result<Vec<u8>, Vec<Value>> {
        encode_values(ty, v).map_err(|_| v.to_vec())
    }

    // ---- new attributes

    #[test]
    fn inferred_scalars() {
        let (ty, shape, v) = infer_new_attr(b"42");
        assert_eq!((ty, shape, v), (INT64, vec![], vec![Value::Int(42)]));
        assert_eq!(infer_new_attr(b"-7\n").2, vec![Value::Int(-7)]);
        let (ty, _, v) = infer_new_attr(b"9223372036854775808");
        assert_eq!(
            (ty, v),
            (FLOAT64, vec![Value::Float(9223372036854775808.0)])
        );
        for (text, want) in [
            (&b"1.5"[..], 1.5),
            (b"-2e3", -2000.0),
            (b"+1.0E-2", 0.01),
            (b"10.0", 10.0),
        ] {
            assert_eq!(
                infer_new_attr(text),
                (FLOAT64, vec![], vec![Value::Float(want)]),
                "{text:?}"
            );
        }
        for text in [
            &b"nan"[..],
            b"inf",
            b".5",
            b"5.",
            b"1e",
            b"1e400",
            b"0x10",
            b"1 2",
            b"",
            b"hello",
            b"\xff\xfe",
            b"true",
            b"\"s\"",
        ] {
            assert_eq!(
                infer_new_attr(text),
                (
                    TypeDesc::VarString { utf8: true },
                    vec![],
                    vec![Value::Str(text.to_vec())]
                ),
                "{text:?}"
            );
        }
    }

    #[test]
    fn inferred_arrays() {
        let (ty, shape, v) = infer_new_attr(b"[[1, 2, 3], [4, 5, 6]]\n");
        assert_eq!(ty, INT64);
        assert_eq!(shape, vec![2, 3]);
        assert_eq!(v, (1..=6).map(Value::Int).collect::<Vec<_>>());
        let (ty, shape, v) = infer_new_attr(b"[1, 2.5]");
        assert_eq!((ty, shape), (FLOAT64, vec![2]));
        assert_eq!(v, vec![Value::Float(1.0), Value::Float(2.5)]);
        assert_eq!(infer_new_attr(b"[]"), (FLOAT64, vec![0], vec![]));
        assert_eq!(infer_new_attr(b"[[], []]").1, vec![2, 0]);
        assert_eq!(infer_new_attr(b"[18446744073709551615]").0, FLOAT64);
        for text in [
            &b"[[1, 2], [3]]"[..],
            b"[1, [2]]",
            b"[1, \"a\"]",
            b"[true]",
            b"[1,",
            b"{\"a\": 1}",
        ] {
            assert_eq!(
                infer_new_attr(text).0,
                TypeDesc::VarString { utf8: true },
                "{text:?}"
            );
        }
    }
}
