//! Element values, and the number formats HDF5 stores them in.
//!
//! [`Value`] is what the pure encoders (xattr text, sidecar JSON, text views)
//! consume; src/h5 decodes it out of libhdf5's memory buffers (variable-length
//! data arrives as pointers, references need the library to name them), using
//! the number decoding below.

use serde::{Deserialize, Serialize};

use super::types::{int_from_bytes, ByteOrder, Tagged, TypeDesc};

/// One decoded element (or part of one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Complex(f64, f64),
    /// String bytes, trailing NUL padding removed; not necessarily UTF-8.
    Str(Vec<u8>),
    /// Opaque bytes.
    Bytes(Vec<u8>),
    List(Vec<Value>),
    Record(Vec<(String, Value)>),
    /// An object reference: the target's path, None for a null reference.
    Ref(Option<String>),
    /// A region reference: target path and its selection as JSON.
    Region(#[serde(with = "json_text")] Option<(String, serde_json::Value)>),
}

/// Region selections travel as JSON text: the worker protocol's encoding is
/// not self-describing, so it cannot carry a JSON value as such.
mod json_text {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    type Region = Option<(String, serde_json::Value)>;

    pub fn serialize<S: Serializer>(v: &Region, s: S) -> Result<S::Ok, S::Error> {
        v.as_ref()
            .map(|(path, sel)| (path, sel.to_string()))
            .serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Region, D::Error> {
        let v: Option<(String, String)> = Deserialize::deserialize(d)?;
        v.map(|(path, text)| {
            serde_json::from_str(&text)
                .map(|sel| (path, sel))
                .map_err(serde::de::Error::custom)
        })
        .transpose()
    }
}

/// Decodes the parts of an element that only libhdf5 can: variable-length
/// strings and sequences (pointers into its memory) and references.
pub type Variable<'a> = &'a dyn Fn(&TypeDesc, &[u8]) -> Value;

/// Decode `count` consecutive elements of type `ty` from `buf`, in the
/// memory layout h5py reads with; `var` decodes the variable parts.
pub fn decode_values(ty: &TypeDesc, buf: &[u8], count: usize, var: Variable) -> Vec<Value> {
    let size = ty.size();
    (0..count)
        .map(|i| match buf.get(i * size..(i + 1) * size) {
            Some(b) => decode(ty, b, var),
            None => Value::Null,
        })
        .collect()
}

fn decode(ty: &TypeDesc, b: &[u8], var: Variable) -> Value {
    match ty {
        TypeDesc::Int {
            size,
            signed,
            order,
        } => Value::Int(int_from_bytes(&b[..*size], *signed, *order)),
        TypeDesc::Float { size, order } => {
            let v = float_from_bytes(&b[..*size], *order);
            // A float32 is shown as its own shortest decimal (0.1, not 0.10000000149011612).
            Value::Float(if *size == 4 { shortest_f32(v) } else { v })
        }
        TypeDesc::Bool => Value::Bool(b[0] != 0),
        TypeDesc::Enum { base, .. } => decode(base, b, var),
        TypeDesc::Bitfield { size, order } => {
            Value::Int(int_from_bytes(&b[..*size], false, *order))
        }
        TypeDesc::NumpyTagged { descr, size } => {
            let order = if descr.starts_with('>') {
                ByteOrder::Big
            } else {
                ByteOrder::Little
            };
            match Tagged::of(descr) {
                Tagged::Time => Value::Int(int_from_bytes(&b[..8], true, order)),
                Tagged::Str => {
                    let s = &b[..*size];
                    let end = s.iter().rposition(|c| *c != 0).map_or(0, |p| p + 1);
                    Value::Str(s[..end].to_vec())
                }
                Tagged::Raw => Value::Bytes(b[..*size].to_vec()),
            }
        }
        TypeDesc::Complex { size, order } => {
            let half = size / 2;
            let part = |p: &[u8]| {
                let v = float_from_bytes(p, *order);
                if half == 4 {
                    shortest_f32(v)
                } else {
                    v
                }
            };
            Value::Complex(part(&b[..half]), part(&b[half..*size]))
        }
        TypeDesc::FixedString { size, .. } => {
            let s = &b[..*size];
            let end = s.iter().rposition(|c| *c != 0).map_or(0, |p| p + 1);
            Value::Str(s[..end].to_vec())
        }
        TypeDesc::Opaque { size, .. } => Value::Bytes(b[..*size].to_vec()),
        TypeDesc::Compound { fields, .. } => Value::Record(
            fields
                .iter()
                .map(|f| {
                    let sz = f.ty.size();
                    let v = match b.get(f.offset..f.offset + sz) {
                        Some(part) => decode(&f.ty, part, var),
                        None => Value::Null,
                    };
                    (f.name.clone(), v)
                })
                .collect(),
        ),
        TypeDesc::Array { base, dims } => decode_nested(base, b, dims, var),
        TypeDesc::VarString { .. }
        | TypeDesc::VarLen { .. }
        | TypeDesc::ObjectRef
        | TypeDesc::RegionRef => var(ty, b),
        TypeDesc::Unsupported { .. } => Value::Null,
    }
}

fn decode_nested(base: &TypeDesc, b: &[u8], dims: &[usize], var: Variable) -> Value {
    match dims.split_first() {
        None => decode(base, b, var),
        Some((n, rest)) => {
            let stride = base.size() * rest.iter().product::<usize>();
            Value::List(
                (0..*n)
                    .map(|i| match b.get(i * stride..(i + 1) * stride) {
                        Some(part) => decode_nested(base, part, rest, var),
                        None => Value::Null,
                    })
                    .collect(),
            )
        }
    }
}

/// The f64 nearest to the shortest decimal that reads back as the same f32.
fn shortest_f32(v: f64) -> f64 {
    let f = v as f32;
    if !f.is_finite() {
        return v;
    }
    format!("{f:?}").parse().unwrap_or(v)
}

/// Decode an IEEE float of 2, 4, 8 bytes, or an x87 80-bit value in 16 bytes.
pub fn float_from_bytes(b: &[u8], order: ByteOrder) -> f64 {
    let mut v: Vec<u8> = b.to_vec();
    if order == ByteOrder::Big {
        v.reverse();
    }
    match v.len() {
        2 => half_to_f64(u16::from_le_bytes([v[0], v[1]])),
        4 => f32::from_le_bytes([v[0], v[1], v[2], v[3]]) as f64,
        8 => {
            let mut a = [0u8; 8];
            a.copy_from_slice(&v);
            f64::from_le_bytes(a)
        }
        16 => x87_to_f64(&v[..10]),
        _ => f64::NAN,
    }
}

fn half_to_f64(h: u16) -> f64 {
    let sign = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = ((h >> 10) & 0x1f) as i32;
    let frac = (h & 0x3ff) as f64;
    match exp {
        0 => sign * frac * 2f64.powi(-24),
        31 if frac == 0.0 => sign * f64::INFINITY,
        31 => f64::NAN,
        _ => sign * (1.0 + frac / 1024.0) * 2f64.powi(exp - 15),
    }
}

fn x87_to_f64(v: &[u8]) -> f64 {
    let mut m = [0u8; 8];
    m.copy_from_slice(&v[..8]);
    let mantissa = u64::from_le_bytes(m);
    let se = u16::from_le_bytes([v[8], v[9]]);
    let sign = if se & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = (se & 0x7fff) as i32;
    if exp == 0x7fff {
        return if mantissa << 1 == 0 {
            sign * f64::INFINITY
        } else {
            f64::NAN
        };
    }
    let e = if exp == 0 { -16382 } else { exp - 16383 };
    // Scale in two steps: the mantissa first (exact), so small values do not underflow early.
    sign * (mantissa as f64 / 2f64.powi(63)) * 2f64.powi(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixed(ty: &TypeDesc, b: &[u8]) -> Vec<Value> {
        decode_values(ty, b, 1, &|_, _| panic!("no variable parts here"))
    }

    #[test]
    fn float32_values_are_their_shortest_decimal() {
        let ty = TypeDesc::Float {
            size: 4,
            order: ByteOrder::Little,
        };
        assert_eq!(fixed(&ty, &0.1f32.to_le_bytes()), vec![Value::Float(0.1)]);
    }

    #[test]
    fn fixed_strings_lose_trailing_nuls_only() {
        let ty = TypeDesc::FixedString {
            size: 5,
            utf8: false,
            pad: crate::model::StrPad::NullPad,
        };
        assert_eq!(fixed(&ty, b"ab\0c\0"), vec![Value::Str(b"ab\0c".to_vec())]);
    }

    #[test]
    fn variable_parts_are_left_to_the_caller() {
        let ty = TypeDesc::Compound {
            size: 12,
            fields: vec![
                crate::model::Field {
                    name: "n".into(),
                    offset: 0,
                    ty: TypeDesc::Int {
                        size: 4,
                        signed: true,
                        order: ByteOrder::Little,
                    },
                },
                crate::model::Field {
                    name: "s".into(),
                    offset: 4,
                    ty: TypeDesc::VarString { utf8: true },
                },
            ],
        };
        let mut b = 7i32.to_le_bytes().to_vec();
        b.extend_from_slice(&[0; 8]);
        let v = decode_values(&ty, &b, 1, &|t, part| {
            assert_eq!(*t, TypeDesc::VarString { utf8: true });
            Value::Str(format!("{} bytes", part.len()).into_bytes())
        });
        assert_eq!(
            v,
            vec![Value::Record(vec![
                ("n".into(), Value::Int(7)),
                ("s".into(), Value::Str(b"8 bytes".to_vec()))
            ])]
        );
    }

    #[test]
    fn floats_decode_in_all_sizes() {
        assert_eq!(float_from_bytes(&[0x00, 0x3c], ByteOrder::Little), 1.0);
        assert_eq!(float_from_bytes(&[0xc0, 0x00], ByteOrder::Big), -2.0);
        assert_eq!(float_from_bytes(&1.5f32.to_be_bytes(), ByteOrder::Big), 1.5);
        assert_eq!(
            float_from_bytes(&0.1f64.to_le_bytes(), ByteOrder::Little),
            0.1
        );
        // x87 extended 1.0: mantissa 0x8000.., exponent 16383
        let mut one = [0u8; 16];
        one[7] = 0x80;
        one[8] = 0xff;
        one[9] = 0x3f;
        assert_eq!(float_from_bytes(&one, ByteOrder::Little), 1.0);
        assert!(float_from_bytes(&[0x01, 0x7c], ByteOrder::Little).is_nan());
        // x87 value of the smallest normal double, 2^-1022.
        let mut tiny = [0u8; 16];
        tiny[7] = 0x80;
        let e = (16383 - 1022) as u16;
        tiny[8..10].copy_from_slice(&e.to_le_bytes());
        assert_eq!(
            float_from_bytes(&tiny, ByteOrder::Little),
            f64::MIN_POSITIVE
        );
    }
}
