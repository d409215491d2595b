//! Values as element bytes: what a dataset file's bytes and HDF5's in-memory
//! buffers hold for a value of a fixed-size type.
//!
//! [`encode_values`] turns values into the bytes that [`crate::model::decode_values`]
//! decodes: one element after another in C order, each in the type's byte
//! order, with the padding between compound fields zero. Integers are
//! range-checked against their type; floats are IEEE 2, 4 or 8 bytes, or x87
//! extended in 16 (half precision rounds to nearest, ties to even); fixed
//! strings are cut to the slot (at a character boundary for UTF-8) and
//! NUL-padded; opaque bytes come as bytes or a hex string; an array element is
//! nested lists by its dimensions, or one flat list. Variable-length types have
//! no fixed-size bytes and are refused.
//!
//! The decoding direction (bytes to values) is [`crate::model::decode_values`];
//! the variable-length parts of it live in src/h5, because they need libhdf5:
//! variable-length data arrives as pointers into libhdf5-owned memory, and
//! references need the library to name their targets.

use crate::model::{check_int, ByteOrder, Tagged, TypeDesc, Value};

use super::json::{from_hex, show_value};

/// The bytes of `values`, one element of `ty` after another, as HDF5 holds them in memory.
pub fn encode_values(ty: &TypeDesc, values: &[Value]) -> Result<Vec<u8>, String> {
    if ty.is_variable() {
        return Err(
            "variable-length strings, sequences and references have no fixed-size bytes".into(),
        );
    }
    if let Some(reason) = ty.unsupported() {
        return Err(format!("unsupported type: {reason}"));
    }
    let size = ty.size();
    let mut out = vec![0u8; size * values.len()];
    for (i, v) in values.iter().enumerate() {
        encode_one(ty, v, &mut out[i * size..(i + 1) * size]).map_err(|e| {
            if values.len() > 1 {
                format!("element {i}: {e}")
            } else {
                e
            }
        })?;
    }
    Ok(out)
}

/// Encode one element into `out`, which is exactly `ty.size()` bytes of zeros.
fn encode_one(ty: &TypeDesc, v: &Value, out: &mut [u8]) -> Result<(), String> {
    match ty {
        TypeDesc::Int {
            size,
            signed,
            order,
        } => write_int(check_int(value_int(v)?, *size, *signed)?, *order, out),
        TypeDesc::Bitfield { size, order } => {
            write_int(check_int(value_int(v)?, *size, false)?, *order, out);
        }
        TypeDesc::Enum { base, .. } => encode_one(base, v, out)?,
        TypeDesc::Float { order, .. } => write_float(value_float(v)?, *order, out),
        TypeDesc::Bool => {
            out[0] = match v {
                Value::Bool(b) => u8::from(*b),
                Value::Int(i @ (0 | 1)) => *i as u8,
                other => return Err(format!("expected true or false, got {}", show_value(other))),
            };
        }
        TypeDesc::Complex { size, order } => {
            let (re, im) = match v {
                Value::Complex(re, im) => (*re, *im),
                other => (value_float(other)?, 0.0),
            };
            let (a, b) = out.split_at_mut(size / 2);
            write_float(re, *order, a);
            write_float(im, *order, b);
        }
        TypeDesc::FixedString { utf8, .. } => write_str(v, *utf8, out)?,
        TypeDesc::Opaque { .. } => out.copy_from_slice(&value_bytes(v, out.len())?),
        TypeDesc::NumpyTagged { descr, .. } => {
            let order = if descr.starts_with('>') {
                ByteOrder::Big
            } else {
                ByteOrder::Little
            };
            match Tagged::of(descr) {
                Tagged::Time => write_int(check_int(value_int(v)?, 8, true)?, order, out),
                Tagged::Str => write_str(v, false, out)?,
                Tagged::Raw => out.copy_from_slice(&value_bytes(v, out.len())?),
            }
        }
        TypeDesc::Compound { fields, .. } => {
            let Value::Record(pairs) = v else {
                return Err(format!("expected a record, got {}", show_value(v)));
            };
            if let Some((name, _)) = pairs
                .iter()
                .find(|(n, _)| !fields.iter().any(|f| f.name == *n))
            {
                return Err(format!("no field named '{name}'"));
            }
            for f in fields {
                let fv = pairs
                    .iter()
                    .find(|(n, _)| *n == f.name)
                    .map(|(_, v)| v)
                    .ok_or_else(|| format!("missing field '{}'", f.name))?;
                let slot = out
                    .get_mut(f.offset..f.offset + f.ty.size())
                    .ok_or_else(|| format!("field '{}' lies outside the record", f.name))?;
                encode_one(&f.ty, fv, slot).map_err(|e| format!("field '{}': {e}", f.name))?;
            }
        }
        TypeDesc::Array { base, dims } => {
            let leaves = array_leaves(v, dims)?;
            let size = base.size();
            for (i, leaf) in leaves.iter().enumerate() {
                encode_one(base, leaf, &mut out[i * size..(i + 1) * size])
                    .map_err(|e| format!("[{i}]: {e}"))?;
            }
        }
        TypeDesc::VarString { .. }
        | TypeDesc::VarLen { .. }
        | TypeDesc::ObjectRef
        | TypeDesc::RegionRef
        | TypeDesc::Unsupported { .. } => {
            return Err("this type has no fixed-size bytes".into());
        }
    }
    Ok(())
}

fn value_int(v: &Value) -> Result<i128, String> {
    match v {
        Value::Int(i) => Ok(*i),
        Value::Bool(b) => Ok(i128::from(*b)),
        other => Err(format!("expected an integer, got {}", show_value(other))),
    }
}

fn value_float(v: &Value) -> Result<f64, String> {
    match v {
        Value::Float(f) => Ok(*f),
        Value::Int(i) => Ok(*i as f64),
        other => Err(format!("expected a number, got {}", show_value(other))),
    }
}

/// Opaque bytes of exactly `size`, from bytes or a hex string.
fn value_bytes(v: &Value, size: usize) -> Result<Vec<u8>, String> {
    let bytes = match v {
        Value::Bytes(b) => b.clone(),
        Value::Str(s) => std::str::from_utf8(s)
            .ok()
            .and_then(from_hex)
            .ok_or("expected a hex string")?,
        other => return Err(format!("expected bytes, got {}", show_value(other))),
    };
    if bytes.len() != size {
        return Err(format!("expected {size} opaque bytes, got {}", bytes.len()));
    }
    Ok(bytes)
}

/// A string cut to the slot (at a character boundary for UTF-8), NUL-padded.
fn write_str(v: &Value, utf8: bool, out: &mut [u8]) -> Result<(), String> {
    let s = match v {
        Value::Str(s) | Value::Bytes(s) => s.as_slice(),
        other => return Err(format!("expected a string, got {}", show_value(other))),
    };
    let mut n = s.len().min(out.len());
    if utf8 {
        if let Ok(text) = std::str::from_utf8(s) {
            while !text.is_char_boundary(n) {
                n -= 1;
            }
        }
    }
    out[..n].copy_from_slice(&s[..n]);
    Ok(())
}

/// The inclusive range of an integer of `size` bytes.
fn write_int(i: i128, order: ByteOrder, out: &mut [u8]) {
    let n = out.len();
    out.copy_from_slice(&i.to_le_bytes()[..n]);
    if order == ByteOrder::Big {
        out.reverse();
    }
}

/// A float of `out.len()` bytes: IEEE 2, 4, 8, or x87 extended in 16.
fn write_float(f: f64, order: ByteOrder, out: &mut [u8]) {
    match out.len() {
        2 => out.copy_from_slice(&half_bits(f).to_le_bytes()),
        4 => out.copy_from_slice(&(f as f32).to_le_bytes()),
        8 => out.copy_from_slice(&f.to_le_bytes()),
        16 => out.copy_from_slice(&x87_bytes(f)),
        _ => {}
    }
    if order == ByteOrder::Big {
        out.reverse();
    }
}

/// IEEE half-precision bits of `x`, rounded to nearest, ties to even.
fn half_bits(x: f64) -> u16 {
    let sign = if x.is_sign_negative() { 0x8000 } else { 0 };
    if x.is_nan() {
        return sign | 0x7e00;
    }
    let r = round_to_half(x.abs());
    if r.is_infinite() {
        return sign | 0x7c00;
    }
    if r < 2f64.powi(-14) {
        // Subnormal (or zero): an exact multiple of 2^-24.
        return sign | (r * 2f64.powi(24)) as u16;
    }
    let bits = r.to_bits();
    let exp = ((bits >> 52) & 0x7ff) as i32 - 1023;
    let mantissa = ((bits >> 42) & 0x3ff) as u16;
    sign | (((exp + 15) as u16) << 10) | mantissa
}

/// `x` as an x87 80-bit extended float (exact), little-endian, padded to 16 bytes.
fn x87_bytes(x: f64) -> [u8; 16] {
    let bits = x.to_bits();
    let sign = ((bits >> 63) as u16) << 15;
    let exp = ((bits >> 52) & 0x7ff) as u16;
    let frac = bits & ((1u64 << 52) - 1);
    let (e, m) = match (exp, frac) {
        (0, 0) => (0, 0),
        // A subnormal double is a normal extended: shift the top bit to bit 63.
        (0, _) => {
            let shift = frac.leading_zeros();
            (15372 - shift as u16, frac << shift)
        }
        (0x7ff, 0) => (0x7fff, 1 << 63),
        (0x7ff, _) => (0x7fff, (3 << 62) | (frac << 11)),
        _ => (exp + (16383 - 1023), (1 << 63) | (frac << 11)),
    };
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&m.to_le_bytes());
    out[8..10].copy_from_slice(&(sign | e).to_le_bytes());
    out
}

/// The elements of an array value in C order: nested lists by `dims`, or one flat list.
fn array_leaves<'a>(v: &'a Value, dims: &[usize]) -> Result<Vec<&'a Value>, String> {
    fn nested<'a>(v: &'a Value, dims: &[usize], out: &mut Vec<&'a Value>) -> Result<(), String> {
        let Some((n, rest)) = dims.split_first() else {
            out.push(v);
            return Ok(());
        };
        match v {
            Value::List(items) if items.len() == *n => {
                items.iter().try_for_each(|item| nested(item, rest, out))
            }
            other => Err(format!(
                "expected a list of {n} elements, got {}",
                show_value(other)
            )),
        }
    }
    let mut out = Vec::new();
    match nested(v, dims, &mut out) {
        Ok(()) => Ok(out),
        Err(e) => match v {
            Value::List(items)
                if dims.len() > 1 && items.len() == dims.iter().product::<usize>() =>
            {
                Ok(items.iter().collect())
            }
            _ => Err(e),
        },
    }
}

/// The nearest IEEE half-precision value to `x` (ties to even), as f64.
pub fn round_to_half(x: f64) -> f64 {
    if !x.is_finite() || x == 0.0 {
        return x;
    }
    let a = x.abs();
    if a >= 65520.0 {
        return f64::INFINITY.copysign(x);
    }
    let mut e = a.log2().floor() as i32;
    if 2f64.powi(e) > a {
        e -= 1;
    }
    if 2f64.powi(e + 1) <= a {
        e += 1;
    }
    let quantum = if e < -14 {
        2f64.powi(-24)
    } else {
        2f64.powi(e - 10)
    };
    ((a / quantum).round_ties_even() * quantum).copysign(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decode fixed-size elements (what this module encodes).
    fn decode_fixed(ty: &TypeDesc, bytes: &[u8], n: usize) -> Vec<Value> {
        crate::model::decode_values(ty, bytes, n, &|_, _| Value::Null)
    }
    use crate::encode::testing::{field, float, int};
    use crate::model::StrPad;

    /// Encode then decode with value.rs: the round trip must be the identity.
    fn round_trip(ty: &TypeDesc, values: &[Value]) {
        let bytes = encode_values(ty, values).unwrap();
        assert_eq!(bytes.len(), ty.size() * values.len());
        assert_eq!(decode_fixed(ty, &bytes, values.len()), values, "{ty:?}");
    }

    #[test]
    fn ints_in_both_orders_with_range_checks() {
        let be = int(2, false, ByteOrder::Big);
        assert_eq!(encode_values(&be, &[Value::Int(0x0102)]).unwrap(), [1, 2]);
        let le = int(4, true, ByteOrder::Little);
        assert_eq!(
            encode_values(&le, &[Value::Int(-2)]).unwrap(),
            [0xfe, 0xff, 0xff, 0xff]
        );
        round_trip(
            &int(8, false, ByteOrder::Little),
            &[Value::Int(u64::MAX as i128)],
        );
        round_trip(
            &int(8, true, ByteOrder::Big),
            &[Value::Int(i64::MIN as i128), Value::Int(7)],
        );
        round_trip(
            &int(1, true, ByteOrder::None),
            &[Value::Int(-128), Value::Int(127)],
        );
        let u1 = int(1, false, ByteOrder::None);
        let e = encode_values(&u1, &[Value::Int(1), Value::Int(256)]).unwrap_err();
        assert_eq!(
            e,
            "element 1: 256 is out of range for a 1-byte unsigned integer (0 to 255)"
        );
        assert!(encode_values(&u1, &[Value::Int(-1)]).is_err());
        assert!(encode_values(&u1, &[Value::Float(1.0)]).is_err());
        round_trip(
            &TypeDesc::Bitfield {
                size: 2,
                order: ByteOrder::Big,
            },
            &[Value::Int(0xbeef)],
        );
    }

    #[test]
    fn floats_in_all_sizes() {
        for order in [ByteOrder::Little, ByteOrder::Big] {
            round_trip(
                &float(8, order),
                &[Value::Float(0.1), Value::Float(f64::NEG_INFINITY)],
            );
            round_trip(&float(4, order), &[Value::Float(0.1), Value::Float(-3.5)]);
            round_trip(
                &float(2, order),
                &[Value::Float(1.0), Value::Float(-2.0), Value::Float(65504.0)],
            );
        }
        round_trip(
            &float(16, ByteOrder::Little),
            &[
                Value::Float(1.0),
                Value::Float(-0.1),
                Value::Float(1e300),
                Value::Float(f64::INFINITY),
            ],
        );
        // The smallest subnormal double, 2^-1074, is normal in x87: mantissa 2^63,
        // exponent 16383 - 1074 (value.rs's decoder underflows here, so check the bytes).
        let tiny = x87_bytes(f64::from_bits(1));
        assert_eq!(tiny[..8], (1u64 << 63).to_le_bytes());
        assert_eq!(tiny[8..10], (16383u16 - 1074).to_le_bytes());
        assert_eq!(tiny[10..], [0; 6]);
        let nan = encode_values(&float(16, ByteOrder::Little), &[Value::Float(f64::NAN)]).unwrap();
        assert!(decode_fixed(&float(16, ByteOrder::Little), &nan, 1)[0] != Value::Float(0.0));
        assert_eq!(
            encode_values(&float(8, ByteOrder::Little), &[Value::Int(2)]).unwrap(),
            2f64.to_le_bytes()
        );
    }

    #[test]
    fn half_floats_round_to_nearest_even() {
        assert_eq!(half_bits(1.0), 0x3c00);
        assert_eq!(half_bits(-2.0), 0xc000);
        assert_eq!(half_bits(0.1), 0x2e66);
        assert_eq!(half_bits(65504.0), 0x7bff);
        assert_eq!(half_bits(65520.0), 0x7c00);
        assert_eq!(half_bits(1e9), 0x7c00);
        assert_eq!(half_bits(f64::NEG_INFINITY), 0xfc00);
        assert_eq!(half_bits(-0.0), 0x8000);
        assert_eq!(half_bits(2f64.powi(-24)), 0x0001);
        assert_eq!(half_bits(2f64.powi(-26)), 0x0000);
        assert_eq!(half_bits(2f64.powi(-14)), 0x0400);
        // 1 + 2^-11 is halfway between 1 and the next half: ties go to even (1.0).
        assert_eq!(half_bits(1.0 + 2f64.powi(-11)), 0x3c00);
        assert_eq!(half_bits(1.0 + 3.0 * 2f64.powi(-11)), 0x3c02);
        assert_eq!(half_bits(f64::NAN) & 0x7c00, 0x7c00);
    }

    #[test]
    fn bools_strings_opaque_and_complex() {
        round_trip(&TypeDesc::Bool, &[Value::Bool(true), Value::Bool(false)]);
        assert_eq!(
            encode_values(&TypeDesc::Bool, &[Value::Int(1)]).unwrap(),
            [1]
        );
        assert!(encode_values(&TypeDesc::Bool, &[Value::Int(2)]).is_err());
        let s = TypeDesc::FixedString {
            size: 4,
            utf8: false,
            pad: StrPad::NullPad,
        };
        let b = encode_values(
            &s,
            &[Value::Str(b"ab".to_vec()), Value::Str(b"abcdef".to_vec())],
        )
        .unwrap();
        assert_eq!(b, b"ab\0\0abcd");
        let u = TypeDesc::FixedString {
            size: 4,
            utf8: true,
            pad: StrPad::NullTerm,
        };
        // "aéé" is 5 bytes; cutting at 4 would split the second é.
        assert_eq!(
            encode_values(&u, &[Value::Str("aéé".as_bytes().to_vec())]).unwrap(),
            "aé\0".as_bytes()
        );
        let o = TypeDesc::Opaque {
            size: 2,
            tag: String::new(),
        };
        assert_eq!(
            encode_values(&o, &[Value::Bytes(vec![0, 255])]).unwrap(),
            [0, 255]
        );
        assert_eq!(
            encode_values(&o, &[Value::Str(b"00FF".to_vec())]).unwrap(),
            [0, 255]
        );
        assert!(encode_values(&o, &[Value::Bytes(vec![1])]).is_err());
        assert!(encode_values(&o, &[Value::Str(b"zz".to_vec())]).is_err());
        round_trip(
            &TypeDesc::Complex {
                size: 16,
                order: ByteOrder::Big,
            },
            &[Value::Complex(1.5, -2.0)],
        );
        round_trip(
            &TypeDesc::Complex {
                size: 8,
                order: ByteOrder::Little,
            },
            &[Value::Complex(0.1, f64::INFINITY)],
        );
    }

    #[test]
    fn numpy_tagged_and_enums() {
        let dt = TypeDesc::NumpyTagged {
            descr: ">M8[s]".into(),
            size: 8,
        };
        round_trip(&dt, &[Value::Int(-1), Value::Int(1_700_000_000)]);
        assert_eq!(
            encode_values(&dt, &[Value::Int(1)]).unwrap(),
            [0, 0, 0, 0, 0, 0, 0, 1]
        );
        let s = TypeDesc::NumpyTagged {
            descr: "|S3".into(),
            size: 3,
        };
        round_trip(&s, &[Value::Str(b"ab".to_vec())]);
        let v = TypeDesc::NumpyTagged {
            descr: "|V2".into(),
            size: 2,
        };
        round_trip(&v, &[Value::Bytes(vec![9, 8])]);
        let e = TypeDesc::Enum {
            base: Box::new(int(1, true, ByteOrder::None)),
            members: vec![("A".into(), -1)],
        };
        round_trip(&e, &[Value::Int(-1)]);
    }

    #[test]
    fn compounds_and_arrays() {
        let arr = TypeDesc::Array {
            base: Box::new(int(2, true, ByteOrder::Little)),
            dims: vec![2, 2],
        };
        let ty = TypeDesc::Compound {
            size: 16,
            fields: vec![
                field("b", 8, arr.clone()),
                field("a", 0, float(4, ByteOrder::Big)),
            ],
        };
        let nested = Value::List(vec![
            Value::List(vec![Value::Int(1), Value::Int(2)]),
            Value::List(vec![Value::Int(3), Value::Int(4)]),
        ]);
        let rec = Value::Record(vec![
            ("b".into(), nested.clone()),
            ("a".into(), Value::Float(0.5)),
        ]);
        let bytes = encode_values(&ty, std::slice::from_ref(&rec)).unwrap();
        assert_eq!(&bytes[4..8], [0; 4], "padding is zero");
        assert_eq!(
            decode_fixed(&ty, &bytes, 1),
            vec![Value::Record(vec![
                ("b".into(), nested.clone()),
                ("a".into(), Value::Float(0.5))
            ])]
        );
        // A flat list is also accepted for an array.
        let flat = Value::List((1..=4).map(Value::Int).collect());
        assert_eq!(
            encode_values(&arr, &[flat]).unwrap(),
            encode_values(&arr, &[nested]).unwrap()
        );
        let ragged = Value::List(vec![Value::List(vec![Value::Int(1)]), Value::List(vec![])]);
        assert!(encode_values(&arr, &[ragged]).is_err());
        let missing = Value::Record(vec![("a".into(), Value::Float(0.5))]);
        assert_eq!(
            encode_values(&ty, &[missing]).unwrap_err(),
            "missing field 'b'"
        );
        let extra = Value::Record(vec![("zz".into(), Value::Int(1))]);
        assert_eq!(
            encode_values(&ty, &[extra]).unwrap_err(),
            "no field named 'zz'"
        );
        let bad = Value::Record(vec![
            ("a".into(), Value::Str(vec![])),
            ("b".into(), Value::List(vec![])),
        ]);
        assert!(encode_values(&ty, &[bad])
            .unwrap_err()
            .starts_with("field '"));
    }

    #[test]
    fn variable_types_are_refused() {
        for ty in [
            TypeDesc::VarString { utf8: true },
            TypeDesc::ObjectRef,
            TypeDesc::VarLen {
                base: Box::new(TypeDesc::Bool),
            },
            TypeDesc::Unsupported { reason: "x".into() },
        ] {
            assert!(encode_values(&ty, &[Value::Null]).is_err());
        }
        assert_eq!(
            encode_values(&TypeDesc::Bool, &[]).unwrap(),
            Vec::<u8>::new()
        );
    }

    #[test]
    fn half_rounding() {
        assert_eq!(round_to_half(1.0), 1.0);
        assert_eq!(round_to_half(0.1), 0.0999755859375);
        assert_eq!(round_to_half(1e6), f64::INFINITY);
        assert_eq!(round_to_half(-2f64.powi(-24)), -2f64.powi(-24));
    }
}
