//! The element types of datasets and attributes, as h5py sees them.
//!
//! [`TypeDesc`] is a plain description of an HDF5 datatype, already folded the
//! way h5py folds it into a numpy dtype (an enum of FALSE/TRUE is `bool`, a
//! compound of two floats `r`,`i` is complex, a `NUMPY:` opaque is datetime).
//! From it we build the *memory* type h5py would read with, so that the bytes
//! HDF5 hands us are exactly h5py's `tobytes()`: for example a space-padded
//! string arrives NUL-padded, and a non-IEEE float arrives as IEEE.

use std::ffi::CStr;

use hdf5::globals::{
    H5T_C_S1, H5T_IEEE_F32BE, H5T_IEEE_F32LE, H5T_IEEE_F64BE, H5T_IEEE_F64LE, H5T_NATIVE_LDOUBLE,
    H5T_STD_REF_DSETREG, H5T_STD_REF_OBJ,
};
use hdf5_sys::h5::H5free_memory;
use hdf5_sys::h5i::hid_t;
use hdf5_sys::h5t::*;

use super::handle::{check, Hid, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrPad {
    NullTerm,
    NullPad,
    SpacePad,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub name: String,
    pub offset: usize,
    pub ty: TypeDesc,
}

#[derive(Debug, Clone, PartialEq)]
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
            TypeDesc::VarLen { .. } => std::mem::size_of::<hvl_t>(),
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

fn order_of(tid: hid_t, size: usize) -> ByteOrder {
    if size <= 1 {
        return ByteOrder::None;
    }
    match unsafe { H5Tget_order(tid) } {
        H5T_order_t::H5T_ORDER_BE => ByteOrder::Big,
        _ => ByteOrder::Little,
    }
}

/// Take ownership of a C string libhdf5 allocated for us.
unsafe fn take_h5_string(ptr: *mut std::os::raw::c_char) -> String {
    if ptr.is_null() {
        return String::new();
    }
    let s = CStr::from_ptr(ptr).to_string_lossy().into_owned();
    H5free_memory(ptr.cast());
    s
}

/// Describe the datatype `tid` (caller holds the lock).
pub(crate) fn describe(tid: hid_t) -> Result<TypeDesc> {
    unsafe {
        let class = H5Tget_class(tid);
        let size = H5Tget_size(tid);
        Ok(match class {
            H5T_class_t::H5T_INTEGER => {
                if ![1, 2, 4, 8].contains(&size) {
                    TypeDesc::Unsupported {
                        reason: format!("{size}-byte integer (no numpy equivalent)"),
                    }
                } else {
                    TypeDesc::Int {
                        size,
                        signed: H5Tget_sign(tid) == H5T_sign_t::H5T_SGN_2,
                        order: order_of(tid, size),
                    }
                }
            }
            H5T_class_t::H5T_FLOAT => describe_float(tid, size),
            H5T_class_t::H5T_STRING => {
                let utf8 = H5Tget_cset(tid) == H5T_cset_t::H5T_CSET_UTF8;
                if check("H5Tis_variable_str", H5Tis_variable_str(tid))? > 0 {
                    TypeDesc::VarString { utf8 }
                } else {
                    let pad = match H5Tget_strpad(tid) {
                        H5T_str_t::H5T_STR_NULLTERM => StrPad::NullTerm,
                        H5T_str_t::H5T_STR_SPACEPAD => StrPad::SpacePad,
                        _ => StrPad::NullPad,
                    };
                    TypeDesc::FixedString { size, utf8, pad }
                }
            }
            H5T_class_t::H5T_BITFIELD => TypeDesc::Bitfield {
                size,
                order: order_of(tid, size),
            },
            H5T_class_t::H5T_OPAQUE => {
                let tag = take_h5_string(H5Tget_tag(tid));
                match tag.strip_prefix("NUMPY:") {
                    Some(descr) if numpy_tag_fits(descr, size) => TypeDesc::NumpyTagged {
                        descr: descr.to_string(),
                        size,
                    },
                    _ => TypeDesc::Opaque { size, tag },
                }
            }
            H5T_class_t::H5T_COMPOUND => describe_compound(tid, size)?,
            H5T_class_t::H5T_ENUM => describe_enum(tid)?,
            H5T_class_t::H5T_ARRAY => {
                let base = Hid::new("H5Tget_super", H5Tget_super(tid))?;
                let ndims = check("H5Tget_array_ndims", H5Tget_array_ndims(tid))? as usize;
                let mut dims = vec![0u64; ndims];
                check(
                    "H5Tget_array_dims",
                    H5Tget_array_dims2(tid, dims.as_mut_ptr()),
                )?;
                TypeDesc::Array {
                    base: Box::new(describe(base.id())?),
                    dims: dims.into_iter().map(|d| d as usize).collect(),
                }
            }
            H5T_class_t::H5T_VLEN => {
                let base = Hid::new("H5Tget_super", H5Tget_super(tid))?;
                TypeDesc::VarLen {
                    base: Box::new(describe(base.id())?),
                }
            }
            H5T_class_t::H5T_REFERENCE => {
                if H5Tequal(tid, *H5T_STD_REF_OBJ) > 0 {
                    TypeDesc::ObjectRef
                } else if H5Tequal(tid, *H5T_STD_REF_DSETREG) > 0 {
                    TypeDesc::RegionRef
                } else {
                    TypeDesc::Unsupported {
                        reason: "reference type other than object or region".into(),
                    }
                }
            }
            H5T_class_t::H5T_TIME => TypeDesc::Unsupported {
                reason: "HDF5 time type (no numpy equivalent)".into(),
            },
            _ => TypeDesc::Unsupported {
                reason: format!("datatype class {class:?}"),
            },
        })
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

unsafe fn describe_float(tid: hid_t, size: usize) -> TypeDesc {
    let (mut spos, mut epos, mut esize, mut mpos, mut msize) = (0, 0, 0, 0, 0);
    H5Tget_fields(tid, &mut spos, &mut epos, &mut esize, &mut mpos, &mut msize);
    // h5py picks the smallest numpy float able to hold exponent and mantissa.
    let numpy_size = [(2, 5, 10), (4, 8, 23), (8, 11, 52), (16, 15, 64)]
        .iter()
        .find(|(_, e, m)| esize <= *e && msize <= *m)
        .map(|(s, _, _)| *s);
    match numpy_size {
        Some(numpy_size) => TypeDesc::Float {
            size: numpy_size,
            order: if numpy_size == 16 {
                ByteOrder::Little
            } else {
                order_of(tid, size)
            },
        },
        None => TypeDesc::Unsupported {
            reason: format!(
                "{size}-byte float with {esize}-bit exponent and {msize}-bit mantissa (no numpy equivalent)"
            ),
        },
    }
}

unsafe fn describe_compound(tid: hid_t, size: usize) -> Result<TypeDesc> {
    let n = check("H5Tget_nmembers", H5Tget_nmembers(tid))? as u32;
    let mut fields = Vec::with_capacity(n as usize);
    for i in 0..n {
        let name = take_h5_string(H5Tget_member_name(tid, i));
        let offset = H5Tget_member_offset(tid, i);
        let mt = Hid::new("H5Tget_member_type", H5Tget_member_type(tid, i))?;
        fields.push(Field {
            name,
            offset,
            ty: describe(mt.id())?,
        });
    }
    // h5py's complex: exactly two equal floats named r and i, packed.
    if let [re, im] = fields.as_slice() {
        if let (
            TypeDesc::Float {
                size: s1,
                order: o1,
            },
            TypeDesc::Float {
                size: s2,
                order: o2,
            },
        ) = (&re.ty, &im.ty)
        {
            if re.name == "r"
                && im.name == "i"
                && s1 == s2
                && o1 == o2
                && *s1 >= 4
                && re.offset == 0
                && im.offset == *s1
                && size == 2 * s1
            {
                return Ok(TypeDesc::Complex { size, order: *o1 });
            }
        }
    }
    Ok(TypeDesc::Compound { size, fields })
}

unsafe fn describe_enum(tid: hid_t) -> Result<TypeDesc> {
    let base_hid = Hid::new("H5Tget_super", H5Tget_super(tid))?;
    let base = describe(base_hid.id())?;
    let n = check("H5Tget_nmembers", H5Tget_nmembers(tid))? as u32;
    let mut members = Vec::with_capacity(n as usize);
    for i in 0..n {
        let name = take_h5_string(H5Tget_member_name(tid, i));
        let mut raw = [0u8; 16];
        check(
            "H5Tget_member_value",
            H5Tget_member_value(tid, i, raw.as_mut_ptr().cast()),
        )?;
        let value = match &base {
            TypeDesc::Int {
                size,
                signed,
                order,
            } => int_from_bytes(&raw[..*size], *signed, *order),
            _ => 0,
        };
        members.push((name, value));
    }
    let is_bool = matches!(base, TypeDesc::Int { size: 1, .. })
        && members.len() == 2
        && members[0] == ("FALSE".to_string(), 0)
        && members[1] == ("TRUE".to_string(), 1);
    Ok(if is_bool {
        TypeDesc::Bool
    } else {
        TypeDesc::Enum {
            base: Box::new(base),
            members,
        }
    })
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

/// Build the memory type h5py would read `desc` with (caller holds the lock).
/// `file_type` is the file's own type for the same element, used where h5py
/// keeps the stored layout (enums, opaque, bitfields).
pub(crate) fn memory_type(desc: &TypeDesc, file_type: hid_t) -> Result<Hid> {
    unsafe {
        match desc {
            TypeDesc::Int {
                size,
                signed,
                order,
            } => {
                let t = Hid::new("H5Tcopy", H5Tcopy(file_type))?;
                let _ = (size, signed);
                if *order != ByteOrder::None {
                    set_order(t.id(), *order)?;
                }
                // Padding bits and odd precisions become a plain integer, as numpy has.
                let bits = size * 8;
                check("H5Tset_offset", H5Tset_offset(t.id(), 0))?;
                check("H5Tset_precision", H5Tset_precision(t.id(), bits))?;
                Ok(t)
            }
            TypeDesc::Float { size, order } => {
                let t = match size {
                    2 => {
                        let t = Hid::new("H5Tcopy", H5Tcopy(*H5T_IEEE_F32LE))?;
                        check("H5Tset_fields", H5Tset_fields(t.id(), 15, 10, 5, 0, 10))?;
                        check("H5Tset_size", H5Tset_size(t.id(), 2))?;
                        check("H5Tset_ebias", H5Tset_ebias(t.id(), 15))?;
                        t
                    }
                    4 => Hid::new(
                        "H5Tcopy",
                        H5Tcopy(if *order == ByteOrder::Big {
                            *H5T_IEEE_F32BE
                        } else {
                            *H5T_IEEE_F32LE
                        }),
                    )?,
                    8 => Hid::new(
                        "H5Tcopy",
                        H5Tcopy(if *order == ByteOrder::Big {
                            *H5T_IEEE_F64BE
                        } else {
                            *H5T_IEEE_F64LE
                        }),
                    )?,
                    _ => Hid::new("H5Tcopy", H5Tcopy(*H5T_NATIVE_LDOUBLE))?,
                };
                if *size == 2 {
                    set_order(t.id(), *order)?;
                }
                Ok(t)
            }
            TypeDesc::FixedString { size, utf8, .. } => {
                let t = Hid::new("H5Tcopy", H5Tcopy(*H5T_C_S1))?;
                check("H5Tset_size", H5Tset_size(t.id(), *size))?;
                check(
                    "H5Tset_strpad",
                    H5Tset_strpad(t.id(), H5T_str_t::H5T_STR_NULLPAD),
                )?;
                set_cset(t.id(), *utf8)?;
                Ok(t)
            }
            TypeDesc::VarString { utf8 } => {
                let t = Hid::new("H5Tcopy", H5Tcopy(*H5T_C_S1))?;
                check("H5Tset_size", H5Tset_size(t.id(), H5T_VARIABLE))?;
                set_cset(t.id(), *utf8)?;
                Ok(t)
            }
            TypeDesc::Compound { size, fields } => {
                let t = Hid::new("H5Tcreate", H5Tcreate(H5T_class_t::H5T_COMPOUND, *size))?;
                for (i, f) in fields.iter().enumerate() {
                    let member_file = Hid::new(
                        "H5Tget_member_type",
                        H5Tget_member_type(file_type, i as u32),
                    )?;
                    let mt = memory_type(&f.ty, member_file.id())?;
                    let name = cstring(&f.name);
                    check(
                        "H5Tinsert",
                        H5Tinsert(t.id(), name.as_ptr(), f.offset, mt.id()),
                    )?;
                }
                Ok(t)
            }
            TypeDesc::Complex { size, order } => {
                let half = size / 2;
                let part = memory_type(
                    &TypeDesc::Float {
                        size: half,
                        order: *order,
                    },
                    file_type,
                )?;
                let t = Hid::new("H5Tcreate", H5Tcreate(H5T_class_t::H5T_COMPOUND, *size))?;
                check("H5Tinsert", H5Tinsert(t.id(), c"r".as_ptr(), 0, part.id()))?;
                check(
                    "H5Tinsert",
                    H5Tinsert(t.id(), c"i".as_ptr(), half, part.id()),
                )?;
                Ok(t)
            }
            TypeDesc::Array { base, dims } => {
                let file_base = Hid::new("H5Tget_super", H5Tget_super(file_type))?;
                let mb = memory_type(base, file_base.id())?;
                let hdims: Vec<u64> = dims.iter().map(|d| *d as u64).collect();
                Hid::new(
                    "H5Tarray_create",
                    H5Tarray_create2(mb.id(), hdims.len() as u32, hdims.as_ptr()),
                )
            }
            TypeDesc::VarLen { base } => {
                let file_base = Hid::new("H5Tget_super", H5Tget_super(file_type))?;
                let mb = memory_type(base, file_base.id())?;
                Hid::new("H5Tvlen_create", H5Tvlen_create(mb.id()))
            }
            TypeDesc::ObjectRef => Hid::new("H5Tcopy", H5Tcopy(*H5T_STD_REF_OBJ)),
            TypeDesc::RegionRef => Hid::new("H5Tcopy", H5Tcopy(*H5T_STD_REF_DSETREG)),
            TypeDesc::Bool
            | TypeDesc::Enum { .. }
            | TypeDesc::Opaque { .. }
            | TypeDesc::NumpyTagged { .. }
            | TypeDesc::Bitfield { .. } => Hid::new("H5Tcopy", H5Tcopy(file_type)),
            TypeDesc::Unsupported { reason } => Err(super::handle::H5Error::new(
                super::handle::ErrorKind::Unsupported,
                reason.clone(),
            )),
        }
    }
}

unsafe fn set_order(tid: hid_t, order: ByteOrder) -> Result<()> {
    let o = match order {
        ByteOrder::Big => H5T_order_t::H5T_ORDER_BE,
        _ => H5T_order_t::H5T_ORDER_LE,
    };
    check("H5Tset_order", H5Tset_order(tid, o))?;
    Ok(())
}

unsafe fn set_cset(tid: hid_t, utf8: bool) -> Result<()> {
    let c = if utf8 {
        H5T_cset_t::H5T_CSET_UTF8
    } else {
        H5T_cset_t::H5T_CSET_ASCII
    };
    check("H5Tset_cset", H5Tset_cset(tid, c))?;
    Ok(())
}

/// A NUL-terminated copy of `s` (interior NULs cannot occur in HDF5 names).
pub(crate) fn cstring(s: &str) -> std::ffi::CString {
    std::ffi::CString::new(s.replace('\0', "")).unwrap_or_default()
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
