//! libhdf5 1.10.8's file driver structures, as its headers declare them
//! (H5FDpublic.h): hdf5-metno-sys declares another version's. The layout
//! test checks every size and offset the driver relies on.

#![allow(non_camel_case_types)]

use std::os::raw::{c_char, c_int, c_uchar, c_uint, c_ulong, c_void};

pub type hid_t = i64;
pub type herr_t = c_int;
pub type haddr_t = u64;
pub type hsize_t = u64;
/// C99 `bool`.
pub type hbool_t = bool;
/// `H5FD_mem_t`: -1 (no list) to 6; 3 is raw data.
pub type H5FD_mem_t = c_int;
pub type H5F_close_degree_t = c_int;

pub const HADDR_UNDEF: haddr_t = u64::MAX;
pub const H5FD_MEM_DRAW: H5FD_mem_t = 3;
/// Raw data and global heap on one free list, everything else on another.
pub const H5FD_FLMAP_DICHOTOMY: [H5FD_mem_t; 7] = [1, 1, 1, 3, 3, 1, 1];
pub const H5F_CLOSE_WEAK: H5F_close_degree_t = 1;
pub const H5F_ACC_RDWR: c_uint = 1;

type F<T> = Option<T>;

/// The part of every open file libhdf5 reads and fills in (`H5FD_t`); a
/// driver's file begins with it.
#[repr(C)]
pub struct H5FD_t {
    pub driver_id: hid_t,
    pub cls: *const H5FD_class_t,
    pub fileno: c_ulong,
    pub access_flags: c_uint,
    pub feature_flags: c_ulong,
    pub maxaddr: haddr_t,
    pub base_addr: haddr_t,
    pub threshold: hsize_t,
    pub alignment: hsize_t,
    pub paged_aggr: hbool_t,
}

/// A file driver's class (`H5FD_class_t` of 1.10.8).
#[repr(C)]
pub struct H5FD_class_t {
    pub name: *const c_char,
    pub maxaddr: haddr_t,
    pub fc_degree: H5F_close_degree_t,
    pub terminate: F<unsafe extern "C" fn() -> herr_t>,
    pub sb_size: F<unsafe extern "C" fn(*mut H5FD_t) -> hsize_t>,
    pub sb_encode: F<unsafe extern "C" fn(*mut H5FD_t, *mut c_char, *mut c_uchar) -> herr_t>,
    pub sb_decode: F<unsafe extern "C" fn(*mut H5FD_t, *const c_char, *const c_uchar) -> herr_t>,
    pub fapl_size: usize,
    pub fapl_get: F<unsafe extern "C" fn(*mut H5FD_t) -> *mut c_void>,
    pub fapl_copy: F<unsafe extern "C" fn(*const c_void) -> *mut c_void>,
    pub fapl_free: F<unsafe extern "C" fn(*mut c_void) -> herr_t>,
    pub dxpl_size: usize,
    pub dxpl_copy: F<unsafe extern "C" fn(*const c_void) -> *mut c_void>,
    pub dxpl_free: F<unsafe extern "C" fn(*mut c_void) -> herr_t>,
    pub open: F<unsafe extern "C" fn(*const c_char, c_uint, hid_t, haddr_t) -> *mut H5FD_t>,
    pub close: F<unsafe extern "C" fn(*mut H5FD_t) -> herr_t>,
    pub cmp: F<unsafe extern "C" fn(*const H5FD_t, *const H5FD_t) -> c_int>,
    /// Called with a null file before any is open.
    pub query: F<unsafe extern "C" fn(*const H5FD_t, *mut c_ulong) -> herr_t>,
    pub get_type_map: F<unsafe extern "C" fn(*const H5FD_t, *mut H5FD_mem_t) -> herr_t>,
    pub alloc: F<unsafe extern "C" fn(*mut H5FD_t, H5FD_mem_t, hid_t, hsize_t) -> haddr_t>,
    pub free: F<unsafe extern "C" fn(*mut H5FD_t, H5FD_mem_t, hid_t, haddr_t, hsize_t) -> herr_t>,
    pub get_eoa: F<unsafe extern "C" fn(*const H5FD_t, H5FD_mem_t) -> haddr_t>,
    pub set_eoa: F<unsafe extern "C" fn(*mut H5FD_t, H5FD_mem_t, haddr_t) -> herr_t>,
    pub get_eof: F<unsafe extern "C" fn(*const H5FD_t, H5FD_mem_t) -> haddr_t>,
    pub get_handle: F<unsafe extern "C" fn(*mut H5FD_t, hid_t, *mut *mut c_void) -> herr_t>,
    pub read: F<
        unsafe extern "C" fn(*mut H5FD_t, H5FD_mem_t, hid_t, haddr_t, usize, *mut c_void) -> herr_t,
    >,
    pub write: F<
        unsafe extern "C" fn(
            *mut H5FD_t,
            H5FD_mem_t,
            hid_t,
            haddr_t,
            usize,
            *const c_void,
        ) -> herr_t,
    >,
    pub flush: F<unsafe extern "C" fn(*mut H5FD_t, hid_t, hbool_t) -> herr_t>,
    pub truncate: F<unsafe extern "C" fn(*mut H5FD_t, hid_t, hbool_t) -> herr_t>,
    pub lock: F<unsafe extern "C" fn(*mut H5FD_t, hbool_t) -> herr_t>,
    pub unlock: F<unsafe extern "C" fn(*mut H5FD_t) -> herr_t>,
    pub fl_map: [H5FD_mem_t; 7],
}

extern "C" {
    pub fn H5FDregister(cls: *const H5FD_class_t) -> hid_t;
    pub fn H5Pset_driver(plist_id: hid_t, driver_id: hid_t, driver_info: *const c_void) -> herr_t;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{align_of, offset_of, size_of};

    /// Sizes and offsets of libhdf5 1.10.8 on x86_64 (from its headers).
    #[test]
    fn layouts_match_libhdf5_1_10_8() {
        assert_eq!(size_of::<H5FD_class_t>(), 280);
        assert_eq!(align_of::<H5FD_class_t>(), 8);
        assert_eq!(offset_of!(H5FD_class_t, fc_degree), 16);
        assert_eq!(offset_of!(H5FD_class_t, terminate), 24);
        assert_eq!(offset_of!(H5FD_class_t, fapl_size), 56);
        assert_eq!(offset_of!(H5FD_class_t, dxpl_size), 88);
        assert_eq!(offset_of!(H5FD_class_t, open), 112);
        assert_eq!(offset_of!(H5FD_class_t, get_eoa), 168);
        assert_eq!(offset_of!(H5FD_class_t, read), 200);
        assert_eq!(offset_of!(H5FD_class_t, lock), 232);
        assert_eq!(offset_of!(H5FD_class_t, fl_map), 248);
        assert_eq!(size_of::<H5FD_t>(), 80);
        assert_eq!(offset_of!(H5FD_t, access_flags), 24);
        assert_eq!(offset_of!(H5FD_t, feature_flags), 32);
        assert_eq!(offset_of!(H5FD_t, paged_aggr), 72);
    }
}
