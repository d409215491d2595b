//! Dataspaces: their extents, and selections read from and made on them.

use hdf5_sys::h5::hsize_t;
use hdf5_sys::h5i::hid_t;
use hdf5_sys::h5s::*;

use super::handle::check;
use crate::model::{ErrorKind, H5Error, Result, Select, Slab};

/// A space's shape and maximum shape: `None` for a null space, empty for a
/// scalar; an unlimited maximum is `None`.
pub(super) unsafe fn extent(space: hid_t) -> (Option<Vec<u64>>, Option<Vec<Option<u64>>>) {
    match H5Sget_simple_extent_type(space) {
        H5S_class_t::H5S_NULL => (None, None),
        H5S_class_t::H5S_SCALAR => (Some(Vec::new()), Some(Vec::new())),
        _ => {
            let rank = H5Sget_simple_extent_ndims(space).clamp(0, 32) as usize;
            let mut dims = vec![0u64; rank];
            let mut max = vec![0u64; rank];
            H5Sget_simple_extent_dims(space, dims.as_mut_ptr(), max.as_mut_ptr());
            let max = max
                .into_iter()
                .map(|m| (m != H5S_UNLIMITED).then_some(m))
                .collect();
            (Some(dims), Some(max))
        }
    }
}

/// A space's selection as a sidecar shows it.
pub(super) unsafe fn selection(space: hid_t) -> Select {
    match H5Sget_select_type(space) {
        H5S_sel_type::H5S_SEL_ALL => Select::All,
        H5S_sel_type::H5S_SEL_HYPERSLABS if H5Sis_regular_hyperslab(space) > 0 => {
            let n = usize::try_from(H5Sget_simple_extent_ndims(space)).unwrap_or(0);
            let mut v = vec![vec![0 as hsize_t; n]; 4];
            let [start, stride, count, block] = &mut v[..] else {
                return Select::Other("unreadable".into());
            };
            let got = H5Sget_regular_hyperslab(
                space,
                start.as_mut_ptr(),
                stride.as_mut_ptr(),
                count.as_mut_ptr(),
                block.as_mut_ptr(),
            );
            if got < 0 {
                return Select::Other("unreadable".into());
            }
            Select::Slab(Slab {
                start: start.clone(),
                stride: stride.clone(),
                count: count
                    .iter()
                    .map(|c| (*c != H5S_UNLIMITED).then_some(*c))
                    .collect(),
                block: block.clone(),
            })
        }
        H5S_sel_type::H5S_SEL_HYPERSLABS => Select::Other("irregular hyperslab".into()),
        H5S_sel_type::H5S_SEL_POINTS => Select::Other("points".into()),
        H5S_sel_type::H5S_SEL_NONE => Select::Other("none".into()),
        _ => Select::Other("unknown".into()),
    }
}

/// Make `select` the selection of `space` (of extent `shape`); `what` names
/// the selection in errors.
pub(super) unsafe fn apply(space: hid_t, shape: &[u64], select: &Select, what: &str) -> Result<()> {
    let invalid = |m: String| H5Error::new(ErrorKind::Invalid, format!("{what}: {m}"));
    match select.slab(shape).map_err(invalid)? {
        None => check(what, H5Sselect_all(space)).map(|_| ()),
        Some(s) => {
            let count: Vec<hsize_t> = s.count.iter().map(|c| c.unwrap_or(H5S_UNLIMITED)).collect();
            check(
                what,
                H5Sselect_hyperslab(
                    space,
                    H5S_seloper_t::H5S_SELECT_SET,
                    s.start.as_ptr(),
                    s.stride.as_ptr(),
                    count.as_ptr(),
                    s.block.as_ptr(),
                ),
            )
            .map(|_| ())
        }
    }
}
