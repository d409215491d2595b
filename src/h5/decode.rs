//! Element values decoded out of libhdf5's memory buffers.
//!
//! Decoding has to live here because variable-length data arrives as
//! pointers into libhdf5-owned memory and references need the library to
//! name their targets.

use std::ffi::CStr;
use std::os::raw::c_char;

use hdf5_sys::h5i::hid_t;
use hdf5_sys::h5r::{H5R_type_t, H5Rget_name, H5Rget_region};
use hdf5_sys::h5s::*;
use hdf5_sys::h5t::hvl_t;

use super::handle::Hid;
use crate::model::{decode_values, TypeDesc, Value};

/// Most coordinates of a region reference's selection shown (a damaged
/// selection can claim any number).
const MAX_SELECTION: usize = 1 << 24;

/// Decode `count` consecutive elements of type `ty` from `buf` (caller holds
/// the lock; `loc` is any identifier in the file, for naming references).
pub(super) fn decode_all(ty: &TypeDesc, buf: &[u8], count: usize, loc: hid_t) -> Vec<Value> {
    decode_values(ty, buf, count, &|t, b| variable(t, b, loc))
}

/// The parts only libhdf5 can decode.
fn variable(ty: &TypeDesc, b: &[u8], loc: hid_t) -> Value {
    match ty {
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
        TypeDesc::VarLen { base } => {
            // SAFETY: the slot holds an hvl_t written by libhdf5 for this memory type.
            let vl: hvl_t = unsafe { std::ptr::read_unaligned(b.as_ptr().cast()) };
            if vl.p.is_null() || vl.len == 0 {
                return Value::List(Vec::new());
            }
            let n = vl.len;
            let Some(bytes) = n.checked_mul(base.size()) else {
                return Value::Null;
            };
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
        _ => Value::Null,
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
                let Some(len) = n.checked_mul(rank).filter(|l| *l <= MAX_SELECTION) else {
                    return json!({ "points": "too many to show" });
                };
                let mut coords = vec![0u64; len];
                H5Sget_select_elem_pointlist(space.id(), 0, n as u64, coords.as_mut_ptr());
                let pts: Vec<&[u64]> = coords.chunks(rank.max(1)).collect();
                json!({ "points": pts })
            }
            H5S_sel_type::H5S_SEL_HYPERSLABS => {
                let n = H5Sget_select_hyper_nblocks(space.id()).max(0) as usize;
                let Some(len) = n.checked_mul(rank * 2).filter(|l| *l <= MAX_SELECTION) else {
                    return json!({ "blocks": "too many to show" });
                };
                let mut coords = vec![0u64; len];
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
