//! Replacements built aside: a new dataset like an existing one (its type,
//! creation properties and attributes, another extent), attributes copied
//! from one object to another, and the swap that puts a finished
//! replacement in place of the old object in one step.

use hdf5_sys::h5::{hsize_t, H5_iter_order_t};
use hdf5_sys::h5a::*;
use hdf5_sys::h5d::*;
use hdf5_sys::h5i::hid_t;
use hdf5_sys::h5l::{H5Ldelete, H5Lmove};
use hdf5_sys::h5o::{H5O_info1_t, H5Oget_info2, H5O_INFO_NUM_ATTRS};
use hdf5_sys::h5p::*;
use hdf5_sys::h5s::*;
use hdf5_sys::h5t::{H5T_class_t, H5Tdetect_class, H5Tget_size};

use super::attrs::attr_index;
use super::file::{c_path, show, H5File};
use super::handle::{check, locked, Hid};
use crate::model::{ErrorKind, H5Error, Loc, Result};

/// Largest attribute copied whole (a damaged header may claim more).
const MAX_ATTR_BYTES: u64 = 1 << 30;

impl H5File {
    /// Create dataset `path` like the dataset at `like`: its type and
    /// creation properties (layout, chunks, filters, fill value, attribute
    /// order), its maximum extent, its attributes, and the extent `shape`
    /// (its own if None). Datasets whose bytes live elsewhere (external
    /// storage, virtual datasets) are refused: a copy would share them.
    pub fn create_like(&self, like: &Loc, path: &[u8], shape: Option<&[u64]>) -> Result<()> {
        let src = self.open_object(like)?;
        let c = c_path(path)?;
        let what = format!("{}: cannot create a replacement", show(&like.path));
        locked(|| unsafe {
            let dcpl = Hid::new(&what, H5Dget_create_plist(src.id()))?;
            if H5Pget_layout(dcpl.id()) == H5D_layout_t::H5D_VIRTUAL
                || H5Pget_external_count(dcpl.id()) > 0
            {
                return Err(H5Error::new(
                    ErrorKind::Unsupported,
                    format!(
                        "{}: its bytes live in other files (virtual or external storage); it cannot be replaced",
                        show(&like.path)
                    ),
                ));
            }
            let ftype = Hid::new(&what, H5Dget_type(src.id()))?;
            let old_space = Hid::new(&what, H5Dget_space(src.id()))?;
            let space = match shape {
                None => old_space,
                Some(dims) => {
                    let rank = H5Sget_simple_extent_ndims(old_space.id());
                    if rank < 0 || rank as usize != dims.len() {
                        return Err(H5Error::new(
                            ErrorKind::Other,
                            format!("{what}: rank {} for a dataset of rank {rank}", dims.len()),
                        ));
                    }
                    let mut cur = vec![0 as hsize_t; dims.len()];
                    let mut max = vec![0 as hsize_t; dims.len()];
                    H5Sget_simple_extent_dims(old_space.id(), cur.as_mut_ptr(), max.as_mut_ptr());
                    Hid::new(&what, H5Screate_simple(rank, dims.as_ptr(), max.as_ptr()))?
                }
            };
            let new = Hid::new(
                &what,
                H5Dcreate2(
                    self.id(),
                    c.as_ptr(),
                    ftype.id(),
                    space.id(),
                    H5P_DEFAULT,
                    dcpl.id(),
                    H5P_DEFAULT,
                ),
            )?;
            copy_attrs(src.id(), new.id(), &like.path)
        })
    }

    /// Copy every attribute of the object at `from` onto the object at `to`,
    /// in creation order where `from` tracks it.
    pub fn copy_attrs(&self, from: &Loc, to: &Loc) -> Result<()> {
        let src = self.open_object(from)?;
        let dst = self.open_object(to)?;
        locked(|| unsafe { copy_attrs(src.id(), dst.id(), &from.path) })
    }

    /// Put the object at `with` in the place of the link `path` in one step:
    /// the old link is moved aside, the new one moved in, the old removed.
    /// If the move in fails the old link is put back.
    pub fn replace_link(&self, path: &[u8], with: &[u8]) -> Result<()> {
        let mut aside = path.to_vec();
        aside.extend_from_slice(b".h5fs-old");
        let (p, w, a) = (c_path(path)?, c_path(with)?, c_path(&aside)?);
        let mv = |from: &std::ffi::CStr, to: &std::ffi::CStr| unsafe {
            H5Lmove(
                self.id(),
                from.as_ptr(),
                self.id(),
                to.as_ptr(),
                H5P_DEFAULT,
                H5P_DEFAULT,
            )
        };
        locked(|| unsafe {
            check(
                &format!("{}: cannot move the old dataset aside", show(path)),
                mv(&p, &a),
            )?;
            if let Err(e) = check(
                &format!("{}: cannot move the replacement in", show(path)),
                mv(&w, &p),
            ) {
                mv(&a, &p);
                return Err(e);
            }
            // The replacement is in place; an old link left behind costs
            // only its space.
            H5Ldelete(self.id(), a.as_ptr(), H5P_DEFAULT);
            Ok(())
        })
    }
}

/// Copy the attributes of `src` to `dst` (caller holds the lock). Values are
/// read and written in the attribute's own file type, so they are copied
/// exactly, variable-length data and references included.
unsafe fn copy_attrs(src: hid_t, dst: hid_t, path: &[u8]) -> Result<()> {
    let what = |s: &str| format!("{}: {s}", show(path));
    let mut info = H5O_info1_t::default();
    check(
        &what("cannot count attributes"),
        H5Oget_info2(src, &mut info, H5O_INFO_NUM_ATTRS),
    )?;
    // Creation order where tracked, so the copy lists them alike.
    let index = attr_index(src);
    for i in 0..info.num_attrs {
        let attr = Hid::new(
            &what("cannot open an attribute"),
            H5Aopen_by_idx(
                src,
                c".".as_ptr(),
                index,
                H5_iter_order_t::H5_ITER_INC,
                i,
                H5P_DEFAULT,
                H5P_DEFAULT,
            ),
        )?;
        let len = check(
            &what("cannot name an attribute"),
            H5Aget_name(attr.id(), 0, std::ptr::null_mut()),
        )?;
        let mut name = vec![0u8; len as usize + 1];
        H5Aget_name(attr.id(), name.len(), name.as_mut_ptr().cast());
        let ftype = Hid::new(
            &what("cannot get an attribute's type"),
            H5Aget_type(attr.id()),
        )?;
        let space = Hid::new(
            &what("cannot get an attribute's dataspace"),
            H5Aget_space(attr.id()),
        )?;
        let n = H5Sget_simple_extent_npoints(space.id()).max(0) as u64;
        let bytes = n.saturating_mul(H5Tget_size(ftype.id()) as u64);
        if bytes > MAX_ATTR_BYTES {
            return Err(H5Error::new(
                ErrorKind::Other,
                what(&format!(
                    "an attribute of {bytes} bytes is too large to copy"
                )),
            ));
        }
        let mut buf = vec![0u8; bytes as usize];
        if bytes > 0 {
            check(
                &what("cannot read an attribute"),
                H5Aread(attr.id(), ftype.id(), buf.as_mut_ptr().cast()),
            )?;
        }
        let new = Hid::new(
            &what("cannot create an attribute"),
            H5Acreate2(
                dst,
                name.as_ptr().cast(),
                ftype.id(),
                space.id(),
                H5P_DEFAULT,
                H5P_DEFAULT,
            ),
        );
        let written = new.and_then(|a| {
            if bytes > 0 {
                check(
                    &what("cannot write an attribute"),
                    H5Awrite(a.id(), ftype.id(), buf.as_ptr().cast()),
                )?;
            }
            Ok(())
        });
        let variable = H5Tdetect_class(ftype.id(), H5T_class_t::H5T_VLEN) > 0
            || H5Tdetect_class(ftype.id(), H5T_class_t::H5T_STRING) > 0;
        if bytes > 0 && variable {
            H5Dvlen_reclaim(ftype.id(), space.id(), H5P_DEFAULT, buf.as_mut_ptr().cast());
        }
        written?;
    }
    Ok(())
}
