//! The only part of h5fs that touches libhdf5.
//!
//! Everything above this module sees plain Rust data: [`TypeDesc`],
//! [`DatasetMeta`], [`Value`], [`Link`] and byte buffers.

mod fast;
pub mod filters;
mod handle;
pub mod hyperslab;
mod object;
pub mod types;
pub mod value;
mod write;

pub use fast::ChunkCache;
pub use handle::{ErrorKind, H5Error, Result};
pub use object::{
    AttrData, Dataset, DatasetMeta, Filter, H5File, H5Path, Layout, Link, LinkKind, Loc,
    ObjectInfo, ObjectKind,
};
pub use types::{ByteOrder, Field, StrPad, TypeDesc};
pub use value::Value;
pub use write::{CreateSpec, ElementData};
