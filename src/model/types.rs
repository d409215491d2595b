//! Element types of datasets and attributes, as h5py sees them.
//!
//! [`TypeDesc`] is a plain description of an HDF5 datatype, already folded the
//! way h5py folds it into a numpy dtype (an enum of FALSE/TRUE is `bool`, a
//! compound of two floats `r`,`i` is complex, a `NUMPY:` opaque is datetime).
//! src/h5 builds it from libhdf5 and builds from it the memory type h5py
//! would read with; everything above works on this description alone.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ByteOrder {
    Little,
    Big,
    /// Single bytes and types without an order (strings, opaque).
    None,
}

impl ByteOrder {
    /// The numpy byte-order character.
    pub fn numpy_char(self) -> char {
        match self {
            ByteOrder::Little => '<',
            ByteOrder::Big => '>',
            ByteOrder::None => '|',
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StrPad {
    NullTerm,
    NullPad,
    SpacePad,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Field {
    pub name: String,
    pub offset: usize,
    pub ty: TypeDesc,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum TypeDesc {
    Int {
        size: usize,
        signed: bool,
        order: ByteOrder,
    },
    /// An IEEE-like float of 2, 4, 8 bytes, or 16 (x86 long double).
    Float {
        size: usize,
        order: ByteOrder,
    },
    Bool,
    Enum {
        base: Box<TypeDesc>,
        members: Vec<(String, i128)>,
    },
    FixedString {
        size: usize,
        utf8: bool,
        pad: StrPad,
    },
    VarString {
        utf8: bool,
    },
    Compound {
        size: usize,
        fields: Vec<Field>,
    },
    /// Two floats named `r` and `i`; `size` is the whole element.
    Complex {
        size: usize,
        order: ByteOrder,
    },
    Array {
        base: Box<TypeDesc>,
        dims: Vec<usize>,
    },
    Opaque {
        size: usize,
        tag: String,
    },
    /// An opaque type tagged `NUMPY:<descr>`, as h5py stores numpy types that
    /// HDF5 lacks (datetime64, timedelta64, bytes): h5py reads it as that dtype.
    NumpyTagged {
        descr: String,
        size: usize,
    },
    Bitfield {
        size: usize,
        order: ByteOrder,
    },
    VarLen {
        base: Box<TypeDesc>,
    },
    ObjectRef,
    RegionRef,
    /// A type h5py cannot map to numpy either; the reason names it.
    Unsupported {
        reason: String,
    },
}

impl TypeDesc {
    /// Bytes one element takes in memory (h5py's itemsize).
    pub fn size(&self) -> usize {
        match self {
            TypeDesc::Int { size, .. }
            | TypeDesc::Float { size, .. }
            | TypeDesc::FixedString { size, .. }
            | TypeDesc::Compound { size, .. }
            | TypeDesc::Complex { size, .. }
            | TypeDesc::Opaque { size, .. }
            | TypeDesc::Bitfield { size, .. } => *size,
            TypeDesc::Bool => 1,
            TypeDesc::NumpyTagged { size, .. } => *size,
            TypeDesc::Enum { base, .. } => base.size(),
            TypeDesc::Array { base, dims } => base.size() * dims.iter().product::<usize>(),
            TypeDesc::VarString { .. } => std::mem::size_of::<*const u8>(),
            // hvl_t: a length and a pointer.
            TypeDesc::VarLen { .. } => 2 * std::mem::size_of::<usize>(),
            TypeDesc::ObjectRef => 8,
            TypeDesc::RegionRef => 12,
            TypeDesc::Unsupported { .. } => 0,
        }
    }

    /// True when elements have no fixed-size byte form (pointers or references inside).
    pub fn is_variable(&self) -> bool {
        match self {
            TypeDesc::VarString { .. }
            | TypeDesc::VarLen { .. }
            | TypeDesc::ObjectRef
            | TypeDesc::RegionRef => true,
            TypeDesc::Compound { fields, .. } => fields.iter().any(|f| f.ty.is_variable()),
            TypeDesc::Array { base, .. } | TypeDesc::Enum { base, .. } => base.is_variable(),
            _ => false,
        }
    }

    /// The first reason this type cannot be shown, if any part of it is unsupported.
    pub fn unsupported(&self) -> Option<&str> {
        match self {
            TypeDesc::Unsupported { reason } => Some(reason),
            TypeDesc::Compound { fields, .. } => fields.iter().find_map(|f| f.ty.unsupported()),
            TypeDesc::Array { base, .. }
            | TypeDesc::Enum { base, .. }
            | TypeDesc::VarLen { base } => base.unsupported(),
            _ => None,
        }
    }
}

/// Whether a `NUMPY:` tag names a simple numpy type of exactly `size` bytes
/// (`<M8[s]`, `|S21`, `>m8[ns]`...), which is when h5py reads it as that type.
pub fn numpy_tag_fits(descr: &str, size: usize) -> bool {
    let b = descr.as_bytes();
    if b.len() < 3 || !matches!(b[0], b'<' | b'>' | b'|' | b'=') {
        return false;
    }
    let rest = &descr[2..];
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    let unit_ok = rest[digits.len()..].is_empty()
        || (matches!(b[1], b'M' | b'm') && rest[digits.len()..].starts_with('['));
    match (b[1], digits.parse::<usize>()) {
        (b'M' | b'm', Ok(8)) => unit_ok && size == 8,
        (b'S' | b'V', Ok(n)) => n == size && rest.len() == digits.len(),
        _ => false,
    }
}

/// Read an integer of 1..=8 bytes in the given order.
pub fn int_from_bytes(bytes: &[u8], signed: bool, order: ByteOrder) -> i128 {
    let mut buf = [0u8; 8];
    let n = bytes.len().min(8);
    if order == ByteOrder::Big {
        for (i, b) in bytes[..n].iter().rev().enumerate() {
            buf[i] = *b;
        }
    } else {
        buf[..n].copy_from_slice(&bytes[..n]);
    }
    let unsigned = u64::from_le_bytes(buf);
    if signed && n > 0 && n < 8 {
        let shift = 64 - 8 * n as u32;
        (((unsigned << shift) as i64) >> shift) as i128
    } else if signed {
        unsigned as i64 as i128
    } else {
        unsigned as i128
    }
}

/// What an element of a numpy-tagged opaque type holds, by the kind
/// character of its descr: an int64 count for datetime64 and timedelta64
/// (`M`, `m`), a byte string for `S`, raw bytes for anything else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tagged {
    Time,
    Str,
    Raw,
}

impl Tagged {
    pub fn of(descr: &str) -> Tagged {
        match descr.as_bytes().get(1) {
            Some(b'M' | b'm') => Tagged::Time,
            Some(b'S') => Tagged::Str,
            _ => Tagged::Raw,
        }
    }
}

fn int_range(size: usize, signed: bool) -> (i128, i128) {
    let bits = 8 * size.min(8) as u32;
    if signed {
        (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1)
    } else {
        (0, (1i128 << bits) - 1)
    }
}

/// `i`, if a `size`-byte integer of that signedness can hold it.
pub fn check_int(i: i128, size: usize, signed: bool) -> Result<i128, String> {
    let (lo, hi) = int_range(size, signed);
    if i < lo || i > hi {
        let kind = if signed { "signed" } else { "unsigned" };
        return Err(format!(
            "{i} is out of range for a {size}-byte {kind} integer ({lo} to {hi})"
        ));
    }
    Ok(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ints_from_bytes_in_both_orders() {
        assert_eq!(int_from_bytes(&[0xff], true, ByteOrder::None), -1);
        assert_eq!(int_from_bytes(&[0xff], false, ByteOrder::None), 255);
        assert_eq!(int_from_bytes(&[0x01, 0x02], false, ByteOrder::Big), 0x0102);
        assert_eq!(
            int_from_bytes(&[0x01, 0x02], false, ByteOrder::Little),
            0x0201
        );
        assert_eq!(int_from_bytes(&[0xfe, 0xff], true, ByteOrder::Little), -2);
        assert_eq!(
            int_from_bytes(&[0xff; 8], false, ByteOrder::Little),
            u64::MAX as i128
        );
        assert_eq!(int_from_bytes(&[0xff; 8], true, ByteOrder::Little), -1);
    }

    #[test]
    fn numpy_tags() {
        assert!(numpy_tag_fits("<M8[s]", 8));
        assert!(numpy_tag_fits(">m8[ns]", 8));
        assert!(numpy_tag_fits("|S21", 21));
        assert!(!numpy_tag_fits("|S21", 20));
        assert!(!numpy_tag_fits("<M8[s]", 4));
        assert!(!numpy_tag_fits("garbage", 8));
        assert!(!numpy_tag_fits("<f8", 8));
    }

    #[test]
    fn variable_and_sizes() {
        let vs = TypeDesc::VarString { utf8: true };
        assert!(vs.is_variable());
        let c = TypeDesc::Compound {
            size: 16,
            fields: vec![
                Field {
                    name: "a".into(),
                    offset: 0,
                    ty: TypeDesc::Int {
                        size: 4,
                        signed: true,
                        order: ByteOrder::Little,
                    },
                },
                Field {
                    name: "s".into(),
                    offset: 8,
                    ty: vs,
                },
            ],
        };
        assert!(c.is_variable());
        assert_eq!(c.size(), 16);
        let a = TypeDesc::Array {
            base: Box::new(TypeDesc::Float {
                size: 8,
                order: ByteOrder::Little,
            }),
            dims: vec![2, 3],
        };
        assert_eq!(a.size(), 48);
        assert!(!a.is_variable());
    }
}
