//! Values as JSON, the form used for sidecars and for non-scalar xattrs.
//!
//! Rules: integers are numbers; floats are numbers, with the non-finite ones as
//! the strings "nan", "inf", "-inf" (JSON has no literal for them); strings are
//! text (invalid UTF-8 replaced); complex numbers are `[re, im]`; compound
//! records are objects by field name; opaque bytes are a hex string; object
//! references are the target path; region references `{"path", "selection"}`;
//! null references and empty values are `null`.

use serde_json::{json, Number, Value as Json};

use crate::h5::Value;

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
