//! Open datasets: their description, hyperslab reads and writes, extent
//! changes, and chunks read as stored for the direct read path.

use hdf5_sys::h5::{hsize_t, HADDR_UNDEF};
use hdf5_sys::h5d::*;
use hdf5_sys::h5i::hid_t;
use hdf5_sys::h5p::*;
use hdf5_sys::h5s::*;
use hdf5_sys::h5t::H5Tequal;
use hdf5_sys::h5z::H5Zfilter_avail;

use super::decode::decode_all;
use super::file::{show, H5File};
use super::handle::{check, locked, Hid};
use super::space::extent;
use super::types::{describe, memory_type};
use crate::model::hyperslab::element_range_to_blocks;
use crate::model::{
    ChunkPlace, DatasetInfo, DatasetMeta, DirectLayout, ErrorKind, Filter, H5Error, H5Path, Layout,
    Loc, Result, Value,
};

extern "C" {
    // In libhdf5 since 1.10.2; hdf5-sys does not declare it.
    fn H5Dget_chunk_storage_size(
        dset_id: hid_t,
        offset: *const hsize_t,
        chunk_bytes: *mut hsize_t,
    ) -> hdf5_sys::h5::herr_t;
}

/// An open dataset with the memory type h5py would read it with.
pub struct Dataset {
    obj: Hid,
    mem_type: Option<Hid>,
    path: H5Path,
    info: DatasetInfo,
}

impl Dataset {
    pub fn open(file: &H5File, loc: &Loc) -> Result<Dataset> {
        let obj = file.open_object(loc)?;
        locked(|| unsafe { Dataset::from_hid(obj, &loc.path) })
    }

    unsafe fn from_hid(obj: Hid, path: &[u8]) -> Result<Dataset> {
        let what = |s: &str| format!("{}: {s}", show(path));
        let ftype = Hid::new(&what("cannot get type"), H5Dget_type(obj.id()))?;
        let ty = describe(ftype.id())?;
        let mem_type = if ty.unsupported().is_some() {
            None
        } else {
            Some(memory_type(&ty, ftype.id())?)
        };
        let space = Hid::new(&what("cannot get dataspace"), H5Dget_space(obj.id()))?;
        let (shape, maxshape) = extent(space.id());
        // Sizes are byte offsets (off_t) above: a dataspace whose bytes do
        // not fit is refused here, so every later product is safe.
        if let Some(dims) = &shape {
            let bytes = dims
                .iter()
                .try_fold(ty.size() as u64, |n, d| n.checked_mul(*d))
                .filter(|b| *b <= i64::MAX as u64);
            if bytes.is_none() {
                return Err(H5Error::new(
                    ErrorKind::Unsupported,
                    what(&format!(
                        "dataspace {dims:?} of {}-byte elements is too large to show",
                        ty.size()
                    )),
                ));
            }
        }
        let dcpl = Hid::new(
            &what("cannot get creation list"),
            H5Dget_create_plist(obj.id()),
        )?;
        let layout = match H5Pget_layout(dcpl.id()) {
            H5D_layout_t::H5D_COMPACT => Layout::Compact,
            H5D_layout_t::H5D_CHUNKED => Layout::Chunked,
            H5D_layout_t::H5D_VIRTUAL => Layout::Virtual,
            _ => Layout::Contiguous,
        };
        let chunks = if layout == Layout::Chunked {
            let mut dims = vec![0u64; 32];
            let n = H5Pget_chunk(dcpl.id(), 32, dims.as_mut_ptr());
            (n >= 0).then(|| {
                dims.truncate(n as usize);
                dims
            })
        } else {
            None
        };
        let filters = filters(dcpl.id());
        let sources = if layout == Layout::Virtual {
            super::vds::read_sources(dcpl.id())
        } else {
            Vec::new()
        };
        let direct = match &mem_type {
            Some(mt)
                if H5Tequal(ftype.id(), mt.id()) > 0
                    && shape.as_ref().is_some_and(|s| !s.is_empty()) =>
            {
                direct_layout(obj.id(), dcpl.id(), mt.id(), layout, &chunks, &filters)
            }
            _ => None,
        };
        let fill = match &mem_type {
            Some(mt) if !ty.is_variable() => {
                let mut buf = vec![0u8; ty.size().max(1)];
                if H5Pget_fill_value(dcpl.id(), mt.id(), buf.as_mut_ptr().cast()) >= 0 {
                    decode_all(&ty, &buf, 1, obj.id())
                        .pop()
                        .unwrap_or(Value::Null)
                } else {
                    Value::Null
                }
            }
            _ => Value::Null,
        };
        Ok(Dataset {
            obj,
            mem_type,
            path: path.to_vec(),
            info: DatasetInfo {
                meta: DatasetMeta {
                    ty,
                    shape,
                    maxshape,
                    layout,
                    chunks,
                    filters,
                    fill,
                    sources,
                },
                direct,
            },
        })
    }

    /// Open the dataset with its metadata read anew from the file, not from
    /// libhdf5's cache (for SWMR reading: a writer may have extended it).
    pub fn open_fresh(file: &H5File, loc: &Loc) -> Result<Dataset> {
        let obj = file.open_object(loc)?;
        locked(|| unsafe {
            check(
                &format!("{}: cannot refresh", show(&loc.path)),
                H5Drefresh(obj.id()),
            )?;
            Dataset::from_hid(obj, &loc.path)
        })
    }

    /// Read the dataset's metadata anew (see [`Dataset::open_fresh`]); the
    /// extent used by later reads is the new one.
    pub fn refresh(&self) -> Result<()> {
        locked(|| unsafe {
            check(
                &format!("{}: cannot refresh", show(&self.path)),
                H5Drefresh(self.obj.id()),
            )
        })?;
        Ok(())
    }

    /// What the dataset was when opened.
    pub fn info(&self) -> &DatasetInfo {
        &self.info
    }

    fn meta(&self) -> &DatasetMeta {
        &self.info.meta
    }

    fn mem_type(&self) -> Result<&Hid> {
        self.mem_type.as_ref().ok_or_else(|| {
            H5Error::new(
                ErrorKind::Unsupported,
                format!(
                    "{}: type cannot be shown: {}",
                    show(&self.path),
                    self.meta().ty.unsupported().unwrap_or("unsupported")
                ),
            )
        })
    }

    /// The extent now (it may have changed since the dataset was opened).
    unsafe fn current_shape(&self) -> Result<(Hid, Option<Vec<u64>>)> {
        let space = Hid::new("H5Dget_space", H5Dget_space(self.obj.id()))?;
        let (shape, _) = extent(space.id());
        Ok((space, shape))
    }

    /// Bytes of elements `[first, end)` as far as the dataset has them.
    pub fn elements_len(&self, first: u64, end: u64) -> Result<usize> {
        let shape = locked(|| unsafe { self.current_shape() })?.1;
        let total = shape
            .as_deref()
            .and_then(crate::model::hyperslab::element_count)
            .unwrap_or(0);
        Ok(end.min(total).saturating_sub(first) as usize * self.meta().ty.size())
    }

    /// Read elements `[first, end)` in C order, as h5py's bytes, into `buf`
    /// (which holds [`Dataset::elements_len`] bytes).
    pub fn read_elements_into(&self, first: u64, end: u64, buf: &mut [u8]) -> Result<()> {
        let mt = self.mem_type()?;
        locked(|| unsafe {
            let (fspace, shape) = self.current_shape()?;
            let Some(shape) = shape else {
                return Ok(());
            };
            let total = crate::model::hyperslab::element_count(&shape).unwrap_or(0);
            let end = end.min(total);
            if first >= end {
                return Ok(());
            }
            if buf.len() != (end - first) as usize * self.meta().ty.size() {
                return Err(H5Error::new(
                    ErrorKind::Other,
                    "read buffer of the wrong size",
                ));
            }
            let mspace = select(&fspace, &shape, first, end)?;
            self.read_into(mt.id(), mspace.id(), fspace.id(), buf)?;
            Ok(())
        })
    }

    /// `H5Dread` of the selection `fspace` of the file into `mspace` of `buf`
    /// (or the whole dataset, with `H5S_ALL`), in memory type `mt`.
    unsafe fn read_into(
        &self,
        mt: hid_t,
        mspace: hid_t,
        fspace: hid_t,
        buf: &mut [u8],
    ) -> Result<()> {
        check(
            &format!("{}: read failed", show(&self.path)),
            H5Dread(
                self.obj.id(),
                mt,
                mspace,
                fspace,
                H5P_DEFAULT,
                buf.as_mut_ptr().cast(),
            ),
        )?;
        Ok(())
    }

    /// Read elements `[first, end)` in C order, as h5py's bytes.
    pub fn read_elements(&self, first: u64, end: u64) -> Result<Vec<u8>> {
        let mut buf = vec![0u8; self.elements_len(first, end)?];
        self.read_elements_into(first, end, &mut buf)?;
        Ok(buf)
    }

    /// Decode every element (for text views of variable-length data).
    pub fn read_values(&self) -> Result<Vec<Value>> {
        let mt = self.mem_type()?;
        locked(|| unsafe {
            let (fspace, shape) = self.current_shape()?;
            let n = shape
                .as_deref()
                .and_then(crate::model::hyperslab::element_count)
                .unwrap_or(0);
            if n == 0 {
                return Ok(Vec::new());
            }
            let mut buf = vec![0u8; n as usize * self.meta().ty.size()];
            self.read_into(mt.id(), H5S_ALL, H5S_ALL, &mut buf)?;
            let values = decode_all(&self.meta().ty, &buf, n as usize, self.obj.id());
            if self.meta().ty.is_variable() {
                H5Dvlen_reclaim(mt.id(), fspace.id(), H5P_DEFAULT, buf.as_mut_ptr().cast());
            }
            Ok(values)
        })
    }

    /// Where chunk-grid position `grid` starts, in elements.
    pub fn chunk_offset(&self, grid: &[u64]) -> Result<Vec<u64>> {
        match &self.meta().chunks {
            Some(chunk) if chunk.len() == grid.len() => Ok(grid
                .iter()
                .zip(chunk)
                .map(|(g, c)| g.saturating_mul(*c))
                .collect()),
            _ => Err(H5Error::new(
                ErrorKind::Other,
                format!("{}: not chunked as asked", show(&self.path)),
            )),
        }
    }

    /// Bytes of one whole chunk, decoded.
    pub fn chunk_bytes(&self) -> usize {
        let elems = self
            .meta()
            .chunks
            .as_deref()
            .and_then(crate::model::hyperslab::element_count)
            .unwrap_or(0);
        elems as usize * self.meta().ty.size()
    }

    /// The stored size of the chunk at `offset`, if libhdf5 can locate it
    /// (None: never written, or a damaged index: read it with
    /// [`Dataset::read_chunk_decoded`], which gives libhdf5's fill or error).
    /// A size beyond `file_len` (damaged) is an error, before any allocation.
    pub fn chunk_stored_len(&self, offset: &[u64], file_len: u64) -> Result<Option<usize>> {
        let mut size: hsize_t = 0;
        if locked(|| unsafe {
            H5Dget_chunk_storage_size(self.obj.id(), offset.as_ptr(), &mut size)
        }) < 0
        {
            return Ok(None);
        }
        if size == 0 {
            // Never written (a stored chunk has bytes).
            return Ok(None);
        }
        if size > file_len {
            return Err(H5Error::new(
                ErrorKind::Other,
                format!(
                    "{}: chunk at {offset:?} claims {size} stored bytes, more than the file's {file_len}",
                    show(&self.path)
                ),
            ));
        }
        Ok(Some(size as usize))
    }

    /// Where the chunk at `offset` is stored, None if never written.
    /// libhdf5 1.10.8 finds it by walking the whole chunk index.
    pub fn chunk_location(&self, offset: &[u64]) -> Result<Option<ChunkPlace>> {
        let (mut mask, mut addr, mut size): (u32, u64, hsize_t) = (0, 0, 0);
        locked(|| unsafe {
            check(
                &format!("{}: cannot locate chunk at {offset:?}", show(&self.path)),
                H5Dget_chunk_info_by_coord(
                    self.obj.id(),
                    offset.as_ptr(),
                    &mut mask,
                    &mut addr,
                    &mut size,
                ),
            )
        })?;
        Ok((addr != HADDR_UNDEF).then_some(ChunkPlace {
            addr,
            size,
            filter_mask: mask,
        }))
    }

    /// The chunk at `offset` as stored, into `buf` (of its stored length);
    /// returns its filter mask.
    pub fn read_chunk_stored(&self, offset: &[u64], buf: &mut [u8]) -> Result<u32> {
        let mut filter_mask: u32 = 0;
        locked(|| unsafe {
            check(
                &format!("{}: cannot read chunk at {offset:?}", show(&self.path)),
                H5Dread_chunk(
                    self.obj.id(),
                    H5P_DEFAULT,
                    offset.as_ptr(),
                    &mut filter_mask,
                    buf.as_mut_ptr().cast(),
                ),
            )
        })?;
        Ok(filter_mask)
    }

    /// The chunk at `offset` through H5Dread into `buf` (of
    /// [`Dataset::chunk_bytes`]), in the chunk's full shape; elements past
    /// the dataset's extent are left as they were.
    pub fn read_chunk_decoded(&self, offset: &[u64], buf: &mut [u8]) -> Result<()> {
        let mt = self.mem_type()?;
        let chunk = self.meta().chunks.clone().unwrap_or_default();
        if buf.len() != self.chunk_bytes() {
            return Err(H5Error::new(
                ErrorKind::Other,
                "chunk buffer of the wrong size",
            ));
        }
        locked(|| unsafe {
            let (fspace, shape) = self.current_shape()?;
            let shape = shape.unwrap_or_default();
            let count: Vec<u64> = offset
                .iter()
                .zip(&chunk)
                .zip(&shape)
                .map(|((o, c), s)| (*c).min(s.saturating_sub(*o)))
                .collect();
            if count.contains(&0) || count.len() != chunk.len() {
                return Ok(());
            }
            check(
                "H5Sselect_hyperslab",
                H5Sselect_hyperslab(
                    fspace.id(),
                    H5S_seloper_t::H5S_SELECT_SET,
                    offset.as_ptr(),
                    std::ptr::null(),
                    count.as_ptr(),
                    std::ptr::null(),
                ),
            )?;
            let mspace = Hid::new(
                "H5Screate_simple",
                H5Screate_simple(chunk.len() as i32, chunk.as_ptr(), std::ptr::null()),
            )?;
            let zero = vec![0u64; chunk.len()];
            check(
                "H5Sselect_hyperslab",
                H5Sselect_hyperslab(
                    mspace.id(),
                    H5S_seloper_t::H5S_SELECT_SET,
                    zero.as_ptr(),
                    std::ptr::null(),
                    count.as_ptr(),
                    std::ptr::null(),
                ),
            )?;
            self.read_into(mt.id(), mspace.id(), fspace.id(), buf)?;
            Ok(())
        })
    }

    /// Write elements `[first, first + n)` in C order from h5py-layout bytes.
    pub fn write_elements(&self, first: u64, bytes: &[u8]) -> Result<()> {
        let itemsize = self.meta().ty.size() as u64;
        let n = bytes.len() as u64 / itemsize.max(1);
        if n == 0 {
            return Ok(());
        }
        let mt = self.mem_type()?;
        locked(|| unsafe {
            let (fspace, shape) = self.current_shape()?;
            let Some(shape) = shape else {
                return Err(H5Error::new(
                    ErrorKind::Other,
                    format!("{}: has no elements", show(&self.path)),
                ));
            };
            let mspace = select(&fspace, &shape, first, first + n)?;
            check(
                &format!("{}: write failed", show(&self.path)),
                H5Dwrite(
                    self.obj.id(),
                    mt.id(),
                    mspace.id(),
                    fspace.id(),
                    H5P_DEFAULT,
                    bytes.as_ptr().cast(),
                ),
            )?;
            Ok(())
        })
    }

    /// Write every element (the count must match the current shape).
    pub fn write_all(&self, data: &crate::model::ElementData) -> Result<()> {
        let mt = self.mem_type()?;
        locked(|| unsafe {
            let (_, shape) = self.current_shape()?;
            let n = shape
                .as_deref()
                .and_then(crate::model::hyperslab::element_count)
                .unwrap_or(0) as usize;
            let given = data.count(self.meta().ty.size());
            if given != n {
                return Err(H5Error::new(
                    ErrorKind::Other,
                    format!("{}: {given} elements given for {n}", show(&self.path)),
                ));
            }
            if n == 0 {
                return Ok(());
            }
            super::namespace::with_buffer(&self.meta().ty, data, |buf| {
                check(
                    &format!("{}: write failed", show(&self.path)),
                    H5Dwrite(self.obj.id(), mt.id(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf),
                )?;
                Ok(())
            })
        })
    }

    /// Change the dataset's extent (within its maxshape).
    pub fn set_extent(&self, dims: &[u64]) -> Result<()> {
        locked(|| unsafe {
            check(
                &format!("{}: cannot resize", show(&self.path)),
                H5Dset_extent(self.obj.id(), dims.as_ptr()),
            )?;
            Ok(())
        })
    }
}

/// Select the C-order element range `[first, end)` of `space` (of `shape`);
/// the memory space of as many elements, one after another.
unsafe fn select(space: &Hid, shape: &[u64], first: u64, end: u64) -> Result<Hid> {
    let count = end.saturating_sub(first);
    let memory = Hid::new(
        "H5Screate_simple",
        H5Screate_simple(1, &count, std::ptr::null()),
    )?;
    if shape.is_empty() {
        check("H5Sselect_all", H5Sselect_all(space.id()))?;
        return Ok(memory);
    }
    check("H5Sselect_none", H5Sselect_none(space.id()))?;
    for b in element_range_to_blocks(shape, first, end) {
        check(
            "H5Sselect_hyperslab",
            H5Sselect_hyperslab(
                space.id(),
                H5S_seloper_t::H5S_SELECT_OR,
                b.start.as_ptr(),
                std::ptr::null(),
                b.count.as_ptr(),
                std::ptr::null(),
            ),
        )?;
    }
    Ok(memory)
}

/// How the dataset's bytes can be read directly, if its storage allows.
unsafe fn direct_layout(
    dset: hid_t,
    dcpl: hid_t,
    mem_type: hid_t,
    layout: Layout,
    chunks: &Option<Vec<u64>>,
    filters: &[Filter],
) -> Option<DirectLayout> {
    match layout {
        Layout::Contiguous => {
            if H5Pget_external_count(dcpl) != 0 || !filters.is_empty() {
                return None;
            }
            let offset = H5Dget_offset(dset);
            (offset != HADDR_UNDEF).then_some(DirectLayout::Contiguous { offset })
        }
        Layout::Chunked => {
            // libhdf5 leaves chunks never written untouched in the read
            // buffer (zeros, in h5fs) when the fill time is "never".
            let mut fill = vec![0u8; hdf5_sys::h5t::H5Tget_size(mem_type)];
            let mut when = H5D_fill_time_t::H5D_FILL_TIME_NEVER;
            if H5Pget_fill_time(dcpl, &mut when) < 0
                || when == H5D_fill_time_t::H5D_FILL_TIME_NEVER
                || H5Pget_fill_value(dcpl, mem_type, fill.as_mut_ptr().cast()) < 0
            {
                fill.fill(0);
            }
            Some(DirectLayout::Chunked {
                chunk: chunks.clone()?,
                fill,
            })
        }
        _ => None,
    }
}

unsafe fn filters(dcpl: hid_t) -> Vec<Filter> {
    let n = H5Pget_nfilters(dcpl).clamp(0, 32) as u32;
    let mut out = Vec::with_capacity(n as usize);
    for i in 0..n {
        let mut flags: std::os::raw::c_uint = 0;
        let mut nparams: usize = 32;
        let mut params = vec![0u32; 32];
        let mut name = vec![0u8; 256];
        let mut config: std::os::raw::c_uint = 0;
        let id = H5Pget_filter2(
            dcpl,
            i,
            &mut flags,
            &mut nparams,
            params.as_mut_ptr(),
            name.len(),
            name.as_mut_ptr().cast(),
            &mut config,
        );
        if id < 0 {
            continue;
        }
        params.truncate(nparams.min(32));
        let end = name.iter().position(|b| *b == 0).unwrap_or(name.len());
        name.truncate(end);
        out.push(Filter {
            id,
            name: String::from_utf8_lossy(&name).into_owned(),
            params,
            available: H5Zfilter_avail(id) > 0,
        });
    }
    out
}
