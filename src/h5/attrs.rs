//! Attributes: their names in h5py's order, values read and decoded, and
//! changes.

use std::os::raw::c_uint;

use hdf5_sys::h5::{hsize_t, H5_index_t, H5_iter_order_t};
use hdf5_sys::h5a::*;
use hdf5_sys::h5d::{H5Dget_create_plist, H5Dvlen_reclaim};
use hdf5_sys::h5f::H5Fget_filesize;
use hdf5_sys::h5g::H5Gget_create_plist;
use hdf5_sys::h5i::{hid_t, H5I_type_t, H5Iget_file_id, H5Iget_type};
use hdf5_sys::h5o::*;
use hdf5_sys::h5p::*;
use hdf5_sys::h5s::*;
use hdf5_sys::h5t::H5Tget_create_plist;

use super::decode::decode_all;
use super::file::{c_path, show, H5File};
use super::handle::{check, locked, Hid};
use super::namespace::with_buffer;
use super::space::extent;
use super::types::{creation_type, describe, memory_type};
use crate::model::{AttrData, ElementData, ErrorKind, H5Error, Loc, Result, TypeDesc};

impl H5File {
    /// Names of the attributes of the object at `loc`, in h5py's order.
    pub fn attr_names(&self, loc: &Loc) -> Result<Vec<Vec<u8>>> {
        let obj = self.open_object(loc)?;
        locked(|| unsafe { attr_names(obj.id(), &loc.path) })
    }

    /// Read one attribute of the object at `loc`.
    pub fn read_attr(&self, loc: &Loc, name: &[u8]) -> Result<AttrData> {
        let obj = self.open_object(loc)?;
        locked(|| unsafe { read_attr(obj.id(), &loc.path, name) })
    }

    /// Create attribute `name` on the object at `loc` (replacing one of that name).
    pub fn create_attr(
        &self,
        loc: &Loc,
        name: &[u8],
        ty: &TypeDesc,
        shape: &[u64],
        data: &ElementData,
    ) -> Result<()> {
        let obj = self.open_object(loc)?;
        let c = c_path(name)?;
        let what = format!("{} attribute {}: cannot write", show(&loc.path), show(name));
        locked(|| unsafe {
            if H5Aexists(obj.id(), c.as_ptr()) > 0 {
                check(&what, H5Adelete(obj.id(), c.as_ptr()))?;
            }
            let ftype = creation_type(ty)?;
            let space = if shape.is_empty() {
                Hid::new("H5Screate", H5Screate(H5S_class_t::H5S_SCALAR))?
            } else {
                Hid::new(
                    "H5Screate_simple",
                    H5Screate_simple(shape.len() as i32, shape.as_ptr(), std::ptr::null()),
                )?
            };
            let attr = Hid::new(
                &what,
                H5Acreate2(
                    obj.id(),
                    c.as_ptr(),
                    ftype.id(),
                    space.id(),
                    H5P_DEFAULT,
                    H5P_DEFAULT,
                ),
            )?;
            let mt = memory_type(ty, ftype.id())?;
            with_buffer(ty, data, |buf| {
                check(&what, H5Awrite(attr.id(), mt.id(), buf))?;
                Ok(())
            })
        })
    }

    /// Overwrite the value of an existing attribute, keeping its type and shape.
    pub fn write_attr(
        &self,
        loc: &Loc,
        name: &[u8],
        ty: &TypeDesc,
        data: &ElementData,
    ) -> Result<()> {
        let obj = self.open_object(loc)?;
        let c = c_path(name)?;
        let what = format!("{} attribute {}: cannot write", show(&loc.path), show(name));
        locked(|| unsafe {
            let attr = Hid::new(&what, H5Aopen(obj.id(), c.as_ptr(), H5P_DEFAULT))?;
            let ftype = Hid::new(&what, H5Aget_type(attr.id()))?;
            let mt = memory_type(ty, ftype.id())?;
            with_buffer(ty, data, |buf| {
                check(&what, H5Awrite(attr.id(), mt.id(), buf))?;
                Ok(())
            })
        })
    }

    pub fn delete_attr(&self, loc: &Loc, name: &[u8]) -> Result<()> {
        let obj = self.open_object(loc)?;
        let c = c_path(name)?;
        locked(|| unsafe {
            check(
                &format!(
                    "{} attribute {}: cannot delete",
                    show(&loc.path),
                    show(name)
                ),
                H5Adelete(obj.id(), c.as_ptr()),
            )?;
            Ok(())
        })
    }
}

/// The index attributes are listed by, as h5py lists them: creation order
/// where the object tracks it, else name order.
pub(super) unsafe fn attr_index(obj: hid_t) -> H5_index_t {
    let ocpl = match H5Iget_type(obj) {
        H5I_type_t::H5I_GROUP => H5Gget_create_plist(obj),
        H5I_type_t::H5I_DATASET => H5Dget_create_plist(obj),
        H5I_type_t::H5I_DATATYPE => H5Tget_create_plist(obj),
        _ => -1,
    };
    let Ok(ocpl) = Hid::new("H5Oget_create_plist", ocpl) else {
        return H5_index_t::H5_INDEX_NAME;
    };
    let mut flags: c_uint = 0;
    H5Pget_attr_creation_order(ocpl.id(), &mut flags);
    if flags & H5P_CRT_ORDER_TRACKED != 0 {
        H5_index_t::H5_INDEX_CRT_ORDER
    } else {
        H5_index_t::H5_INDEX_NAME
    }
}

/// The name of attribute `i` in `index` order into `buf` (its length without
/// the NUL; with an empty `buf`, only the length).
unsafe fn name_by_idx(obj: hid_t, index: H5_index_t, i: hsize_t, buf: &mut [u8]) -> isize {
    H5Aget_name_by_idx(
        obj,
        c".".as_ptr(),
        index,
        H5_iter_order_t::H5_ITER_INC,
        i,
        if buf.is_empty() {
            std::ptr::null_mut()
        } else {
            buf.as_mut_ptr().cast()
        },
        buf.len(),
        H5P_DEFAULT,
    )
}

unsafe fn attr_names(obj: hid_t, path: &[u8]) -> Result<Vec<Vec<u8>>> {
    let mut raw = H5O_info1_t::default();
    check(
        &format!("{}: cannot count attributes", show(path)),
        H5Oget_info2(obj, &mut raw, H5O_INFO_NUM_ATTRS),
    )?;
    let index = attr_index(obj);
    let mut names = Vec::with_capacity(raw.num_attrs.min(1 << 16) as usize);
    for i in 0..raw.num_attrs {
        let mut idx = index;
        let mut len = name_by_idx(obj, idx, i, &mut []);
        // A damaged creation-order index: fall back to names.
        if len < 0 && idx == H5_index_t::H5_INDEX_CRT_ORDER {
            idx = H5_index_t::H5_INDEX_NAME;
            len = name_by_idx(obj, idx, i, &mut []);
        }
        let len = check(&format!("{}: cannot name attribute", show(path)), len)?;
        let mut buf = vec![0u8; len as usize + 1];
        name_by_idx(obj, idx, i, &mut buf);
        buf.truncate(len as usize);
        names.push(buf);
    }
    Ok(names)
}

/// Size in bytes of the file holding `obj` (u64::MAX if libhdf5 cannot say).
unsafe fn file_size(obj: hid_t) -> u64 {
    let file = H5Iget_file_id(obj);
    let Ok(file) = Hid::new("H5Iget_file_id", file) else {
        return u64::MAX;
    };
    let mut size: hsize_t = 0;
    if H5Fget_filesize(file.id(), &mut size) < 0 {
        return u64::MAX;
    }
    size
}

unsafe fn read_attr(obj: hid_t, path: &[u8], name: &[u8]) -> Result<AttrData> {
    let c = c_path(name)?;
    let what = |s: &str| format!("{} attribute {}: {s}", show(path), show(name));
    let attr = Hid::new(&what("cannot open"), H5Aopen(obj, c.as_ptr(), H5P_DEFAULT))?;
    let ftype = Hid::new(&what("cannot get type"), H5Aget_type(attr.id()))?;
    let space = Hid::new(&what("cannot get dataspace"), H5Aget_space(attr.id()))?;
    let ty = describe(ftype.id())?;
    let (shape, _) = extent(space.id());
    if let Some(reason) = ty.unsupported() {
        return Err(H5Error::new(
            ErrorKind::Unsupported,
            what(&format!("type cannot be shown: {reason}")),
        ));
    }
    let Some(dims) = &shape else {
        return Ok(AttrData {
            ty,
            shape,
            values: Vec::new(),
        });
    };
    // Every element is stored in the file, each in at least one byte (a
    // variable-length one in a 16-byte heap reference): a count beyond what
    // the file can hold is a damaged header, refused before allocating.
    let file_len = file_size(obj);
    let n = dims
        .iter()
        .try_fold(1u64, |n, d| n.checked_mul(*d))
        .filter(|n| n.saturating_mul(ty.size().min(16) as u64) <= file_len)
        .ok_or_else(|| {
            H5Error::new(
                ErrorKind::Other,
                what(&format!(
                    "dataspace {dims:?} cannot be stored in a file of {file_len} bytes"
                )),
            )
        })?;
    let mt = memory_type(&ty, ftype.id())?;
    let mut buf = vec![0u8; n as usize * ty.size()];
    if n > 0 {
        check(
            &what("read failed"),
            H5Aread(attr.id(), mt.id(), buf.as_mut_ptr().cast()),
        )?;
    }
    let values = decode_all(&ty, &buf, n as usize, obj);
    if ty.is_variable() && n > 0 {
        H5Dvlen_reclaim(mt.id(), space.id(), H5P_DEFAULT, buf.as_mut_ptr().cast());
    }
    Ok(AttrData { ty, shape, values })
}
