//! The only part of h5fs that touches libhdf5.
//!
//! Everything above this module sees plain Rust data: [`TypeDesc`],
//! [`DatasetMeta`], [`Value`], [`Link`] and byte buffers.

mod handle;
pub mod hyperslab;
mod object;
pub mod types;
pub mod value;

pub use handle::{ErrorKind, H5Error, Result};
pub use object::{
    AttrData, Dataset, DatasetMeta, Filter, H5File, H5Path, Layout, Link, LinkKind, ObjectInfo,
    ObjectKind,
};
pub use types::{ByteOrder, Field, StrPad, TypeDesc};
pub use value::Value;
