//! libhdf5 datatypes <-> [`TypeDesc`]: describing a file's type the way h5py
//! folds it, and building the *memory* type h5py would read with, so that
//! the bytes HDF5 hands us are exactly h5py's `tobytes()` (a space-padded
//! string arrives NUL-padded, a non-IEEE float as IEEE); and the type a new
//! dataset or attribute is stored with.

use std::ffi::CStr;

use hdf5::globals::{
    H5T_C_S1, H5T_IEEE_F32BE, H5T_IEEE_F32LE, H5T_IEEE_F64BE, H5T_IEEE_F64LE, H5T_NATIVE_LDOUBLE,
    H5T_STD_REF_DSETREG, H5T_STD_REF_OBJ,
};
use hdf5_sys::h5::H5free_memory;
use hdf5_sys::h5i::hid_t;
use hdf5_sys::h5t::*;

use super::handle::{check, Hid};
use hdf5::globals as g;
use hdf5_sys::h5::hsize_t;

use crate::model::{
    int_from_bytes, numpy_tag_fits, ByteOrder, ErrorKind, Field, H5Error, Result, StrPad, TypeDesc,
};

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
pub(super) fn describe(tid: hid_t) -> Result<TypeDesc> {
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

/// Build the memory type h5py would read `desc` with (caller holds the lock).
/// `file_type` is the file's own type for the same element, used where h5py
/// keeps the stored layout (enums, opaque, bitfields).
pub(super) fn memory_type(desc: &TypeDesc, file_type: hid_t) -> Result<Hid> {
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
            TypeDesc::Unsupported { reason } => {
                Err(H5Error::new(ErrorKind::Unsupported, reason.clone()))
            }
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
pub(super) fn cstring(s: &str) -> std::ffi::CString {
    std::ffi::CString::new(s.replace('\0', "")).unwrap_or_default()
}

/// The datatype to store `ty` with in a new dataset or attribute.
pub(super) unsafe fn creation_type(ty: &TypeDesc) -> Result<Hid> {
    let copy = |t: hid_t| Hid::new("H5Tcopy", H5Tcopy(t));
    match ty {
        TypeDesc::Int {
            size,
            signed,
            order,
        } => {
            let be = *order == ByteOrder::Big;
            let t = match (size, signed, be) {
                (1, true, _) => *g::H5T_STD_I8LE,
                (1, false, _) => *g::H5T_STD_U8LE,
                (2, true, false) => *g::H5T_STD_I16LE,
                (2, true, true) => *g::H5T_STD_I16BE,
                (2, false, false) => *g::H5T_STD_U16LE,
                (2, false, true) => *g::H5T_STD_U16BE,
                (4, true, false) => *g::H5T_STD_I32LE,
                (4, true, true) => *g::H5T_STD_I32BE,
                (4, false, false) => *g::H5T_STD_U32LE,
                (4, false, true) => *g::H5T_STD_U32BE,
                (8, true, false) => *g::H5T_STD_I64LE,
                (8, true, true) => *g::H5T_STD_I64BE,
                (8, false, false) => *g::H5T_STD_U64LE,
                (8, false, true) => *g::H5T_STD_U64BE,
                _ => {
                    return Err(H5Error::new(
                        ErrorKind::Unsupported,
                        format!("{size}-byte integer"),
                    ))
                }
            };
            copy(t)
        }
        TypeDesc::Bool => {
            let t = Hid::new("H5Tenum_create", H5Tenum_create(*g::H5T_NATIVE_INT8))?;
            for (name, v) in [(c"FALSE", 0i8), (c"TRUE", 1i8)] {
                check(
                    "H5Tenum_insert",
                    H5Tenum_insert(t.id(), name.as_ptr(), (&v as *const i8).cast()),
                )?;
            }
            Ok(t)
        }
        TypeDesc::Enum { base, members } => {
            let b = creation_type(base)?;
            let t = Hid::new("H5Tenum_create", H5Tenum_create(b.id()))?;
            let size = base.size();
            for (name, v) in members {
                let mut raw = (*v as i64).to_le_bytes().to_vec();
                raw.truncate(size);
                if matches!(
                    **base,
                    TypeDesc::Int {
                        order: ByteOrder::Big,
                        ..
                    }
                ) {
                    raw.reverse();
                }
                let n = cstring(name);
                check(
                    "H5Tenum_insert",
                    H5Tenum_insert(t.id(), n.as_ptr(), raw.as_ptr().cast()),
                )?;
            }
            Ok(t)
        }
        TypeDesc::Bitfield { size, order } => {
            let be = *order == ByteOrder::Big;
            let t = match (size, be) {
                (1, _) => *g::H5T_STD_B8LE,
                (2, false) => *g::H5T_STD_B16LE,
                (2, true) => *g::H5T_STD_B16BE,
                (4, false) => *g::H5T_STD_B32LE,
                (4, true) => *g::H5T_STD_B32BE,
                (8, false) => *g::H5T_STD_B64LE,
                _ => *g::H5T_STD_B64BE,
            };
            copy(t)
        }
        TypeDesc::Opaque { size, tag } => {
            let t = Hid::new("H5Tcreate", H5Tcreate(H5T_class_t::H5T_OPAQUE, *size))?;
            if !tag.is_empty() {
                let c = cstring(tag);
                check("H5Tset_tag", H5Tset_tag(t.id(), c.as_ptr()))?;
            }
            Ok(t)
        }
        TypeDesc::NumpyTagged { descr, size } => {
            let t = Hid::new("H5Tcreate", H5Tcreate(H5T_class_t::H5T_OPAQUE, *size))?;
            let c = cstring(&format!("NUMPY:{descr}"));
            check("H5Tset_tag", H5Tset_tag(t.id(), c.as_ptr()))?;
            Ok(t)
        }
        TypeDesc::Compound { size, fields } => {
            let t = Hid::new("H5Tcreate", H5Tcreate(H5T_class_t::H5T_COMPOUND, *size))?;
            for f in fields {
                let ft = creation_type(&f.ty)?;
                let n = cstring(&f.name);
                check(
                    "H5Tinsert",
                    H5Tinsert(t.id(), n.as_ptr(), f.offset, ft.id()),
                )?;
            }
            Ok(t)
        }
        TypeDesc::Array { base, dims } => {
            let b = creation_type(base)?;
            let d: Vec<hsize_t> = dims.iter().map(|x| *x as hsize_t).collect();
            Hid::new(
                "H5Tarray_create",
                H5Tarray_create2(b.id(), d.len() as u32, d.as_ptr()),
            )
        }
        TypeDesc::VarLen { base } => {
            let b = creation_type(base)?;
            Hid::new("H5Tvlen_create", H5Tvlen_create(b.id()))
        }
        // The memory types h5py reads these with are also what h5py stores.
        TypeDesc::Float { .. }
        | TypeDesc::Complex { .. }
        | TypeDesc::FixedString { .. }
        | TypeDesc::VarString { .. }
        | TypeDesc::ObjectRef
        | TypeDesc::RegionRef => {
            let placeholder = copy(*g::H5T_STD_U8LE)?;
            memory_type(ty, placeholder.id())
        }
        TypeDesc::Unsupported { reason } => {
            Err(H5Error::new(ErrorKind::Unsupported, reason.clone()))
        }
    }
}
