//! Element values decoded out of HDF5 memory buffers.
//!
//! [`Value`] is what the pure encoders (xattr text, sidecar JSON, text views)
//! consume. Decoding has to live here because variable-length data arrives as
//! pointers into libhdf5-owned memory and references need the library to name
//! their targets.

use std::ffi::CStr;
use std::os::raw::c_char;

use hdf5_sys::h5i::hid_t;
use hdf5_sys::h5r::{H5R_type_t, H5Rget_name, H5Rget_region};
use hdf5_sys::h5s::*;
use hdf5_sys::h5t::hvl_t;

use super::handle::Hid;
use super::types::{int_from_bytes, ByteOrder, TypeDesc};

/// One decoded element (or part of one).
#[derive(Debug, Clone, PartialEq)]
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
    Region(Option<(String, serde_json::Value)>),
}

/// Decode `count` consecutive elements of type `ty` from `buf` (caller holds
/// the lock; `loc` is any identifier in the file, for naming references).
pub(crate) fn decode_all(ty: &TypeDesc, buf: &[u8], count: usize, loc: hid_t) -> Vec<Value> {
    let size = ty.size();
    (0..count)
        .map(|i| match buf.get(i * size..(i + 1) * size) {
            Some(b) => decode(ty, b, loc),
            None => Value::Null,
        })
        .collect()
}

fn decode(ty: &TypeDesc, b: &[u8], loc: hid_t) -> Value {
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
        TypeDesc::Enum { base, .. } => decode(base, b, loc),
        TypeDesc::Bitfield { size, order } => {
            Value::Int(int_from_bytes(&b[..*size], false, *order))
        }
        TypeDesc::NumpyTagged { descr, size } => {
            let order = if descr.starts_with('>') {
                ByteOrder::Big
            } else {
                ByteOrder::Little
            };
            match descr.as_bytes().get(1) {
                Some(b'M' | b'm') => Value::Int(int_from_bytes(&b[..8], true, order)),
                Some(b'S') => {
                    let s = &b[..*size];
                    let end = s.iter().rposition(|c| *c != 0).map_or(0, |p| p + 1);
                    Value::Str(s[..end].to_vec())
                }
                _ => Value::Bytes(b[..*size].to_vec()),
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
        TypeDesc::VarString { .. } => {
            let ptr = read_ptr(b) as *const c_char;
            if ptr.is_null() {
                Value::Str(Vec::new())
            } else {
                // SAFETY: libhdf5 filled this slot with a NUL-terminated string it owns
                // until the buffer is reclaimed, which happens after decoding.
                Value::Str(unsafe { CStr::from_ptr(ptr) }.to_bytes().to_vec())
            }
        }
        TypeDesc::Opaque { size, .. } => Value::Bytes(b[..*size].to_vec()),
        TypeDesc::Compound { fields, .. } => Value::Record(
            fields
                .iter()
                .map(|f| {
                    let sz = f.ty.size();
                    let v = match b.get(f.offset..f.offset + sz) {
                        Some(part) => decode(&f.ty, part, loc),
                        None => Value::Null,
                    };
                    (f.name.clone(), v)
                })
                .collect(),
        ),
        TypeDesc::Array { base, dims } => decode_nested(base, b, dims, loc),
        TypeDesc::VarLen { base } => {
            // SAFETY: the slot holds an hvl_t written by libhdf5 for this memory type.
            let vl: hvl_t = unsafe { std::ptr::read_unaligned(b.as_ptr().cast()) };
            if vl.p.is_null() || vl.len == 0 {
                return Value::List(Vec::new());
            }
            let n = vl.len;
            let bytes = n * base.size();
            // SAFETY: libhdf5 allocated `len` elements of the base memory type at `p`.
            let data = unsafe { std::slice::from_raw_parts(vl.p as *const u8, bytes) };
            Value::List(decode_all(base, data, n, loc))
        }
        TypeDesc::ObjectRef => {
            if b[..8].iter().all(|c| *c == 0) {
                return Value::Ref(None);
            }
            Value::Ref(ref_name(loc, H5R_type_t::H5R_OBJECT, b))
        }
        TypeDesc::RegionRef => {
            if b[..12].iter().all(|c| *c == 0) {
                return Value::Region(None);
            }
            let path = ref_name(loc, H5R_type_t::H5R_DATASET_REGION, b);
            let sel = region_selection(loc, b);
            Value::Region(path.map(|p| (p, sel)))
        }
        TypeDesc::Unsupported { .. } => Value::Null,
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

fn decode_nested(base: &TypeDesc, b: &[u8], dims: &[usize], loc: hid_t) -> Value {
    match dims.split_first() {
        None => decode(base, b, loc),
        Some((n, rest)) => {
            let stride = base.size() * rest.iter().product::<usize>();
            Value::List(
                (0..*n)
                    .map(|i| match b.get(i * stride..(i + 1) * stride) {
                        Some(part) => decode_nested(base, part, rest, loc),
                        None => Value::Null,
                    })
                    .collect(),
            )
        }
    }
}

fn read_ptr(b: &[u8]) -> usize {
    let mut raw = [0u8; std::mem::size_of::<usize>()];
    let n = raw.len();
    raw.copy_from_slice(&b[..n]);
    usize::from_ne_bytes(raw)
}

fn ref_name(loc: hid_t, kind: H5R_type_t, b: &[u8]) -> Option<String> {
    unsafe {
        let n = H5Rget_name(loc, kind, b.as_ptr().cast(), std::ptr::null_mut(), 0);
        if n <= 0 {
            return None;
        }
        let mut buf = vec![0u8; n as usize + 1];
        let n2 = H5Rget_name(
            loc,
            kind,
            b.as_ptr().cast(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        );
        if n2 <= 0 {
            return None;
        }
        buf.truncate(n2 as usize);
        Some(String::from_utf8_lossy(&buf).into_owned())
    }
}

fn region_selection(loc: hid_t, b: &[u8]) -> serde_json::Value {
    use serde_json::json;
    unsafe {
        let Ok(space) = Hid::new(
            "H5Rget_region",
            H5Rget_region(loc, H5R_type_t::H5R_DATASET_REGION, b.as_ptr().cast()),
        ) else {
            return serde_json::Value::Null;
        };
        let rank = H5Sget_simple_extent_ndims(space.id()).max(0) as usize;
        match H5Sget_select_type(space.id()) {
            H5S_sel_type::H5S_SEL_POINTS => {
                let n = H5Sget_select_elem_npoints(space.id()).max(0) as usize;
                let mut coords = vec![0u64; n * rank];
                H5Sget_select_elem_pointlist(space.id(), 0, n as u64, coords.as_mut_ptr());
                let pts: Vec<&[u64]> = coords.chunks(rank.max(1)).collect();
                json!({ "points": pts })
            }
            H5S_sel_type::H5S_SEL_HYPERSLABS => {
                let n = H5Sget_select_hyper_nblocks(space.id()).max(0) as usize;
                let mut coords = vec![0u64; n * rank * 2];
                H5Sget_select_hyper_blocklist(space.id(), 0, n as u64, coords.as_mut_ptr());
                let blocks: Vec<serde_json::Value> = coords
                    .chunks(rank.max(1) * 2)
                    .map(|c| json!([&c[..rank], &c[rank..]]))
                    .collect();
                json!({ "blocks": blocks })
            }
            H5S_sel_type::H5S_SEL_ALL => json!({ "all": true }),
            _ => json!({ "none": true }),
        }
    }
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

    #[test]
    fn float32_values_are_their_shortest_decimal() {
        let ty = TypeDesc::Float {
            size: 4,
            order: ByteOrder::Little,
        };
        let v = decode_all(&ty, &0.1f32.to_le_bytes(), 1, -1);
        assert_eq!(v, vec![Value::Float(0.1)]);
    }

    #[test]
    fn fixed_strings_lose_trailing_nuls_only() {
        let ty = TypeDesc::FixedString {
            size: 5,
            utf8: false,
            pad: super::super::types::StrPad::NullPad,
        };
        let v = decode_all(&ty, b"ab\0c\0", 1, -1);
        assert_eq!(v, vec![Value::Str(b"ab\0c".to_vec())]);
    }
}
