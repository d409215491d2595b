//! Attribute values as extended-attribute text.
//!
//! - a scalar string: its bytes (fixed-length padding removed, nothing added);
//! - a scalar integer (also enum and bitfield): decimal;
//! - a scalar float: the shortest decimal that reads back to the same value in
//!   the attribute's own precision (`0.1`, `1e300`), or `nan`, `inf`, `-inf`;
//! - a scalar bool: `1` or `0`;
//! - anything else (arrays, compound, complex, references, opaque, empty) as
//!   compact JSON (see [`super::json`]).

use crate::h5::{AttrData, TypeDesc, Value};

use super::bytes::round_to_half;
use super::json::nest;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::h5::ByteOrder;

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
}
