//! Plain data describing HDF5 files and what is asked of them: element types
//! and values, objects, links, datasets (virtual ones' sources too),
//! attributes, changes and errors.
//!
//! Every layer speaks these types: src/h5 builds them from libhdf5 (in the
//! worker processes), the worker protocol carries them, and the filesystem
//! and the encoders work on them. Nothing here does I/O.

mod access;
mod create;
mod error;
pub mod hyperslab;
mod objects;
mod types;
mod value;
mod vds;

pub use access::{
    member_name, parse_libver, Access, ChunkCacheSpec, Driver, LibVer, SPLIT_META_EXT,
    SPLIT_RAW_EXT,
};
pub use create::{CreateSpec, ElementData};
pub use error::{ErrorKind, H5Error, Result};
pub use objects::{
    filter_id, AttrData, ChunkData, ChunkPlace, DatasetInfo, DatasetMeta, DirectLayout, FileFacts,
    Filter, H5Path, Layout, Link, LinkKind, Loc, ObjectInfo, ObjectKind,
};
pub use types::{
    check_int, int_from_bytes, numpy_tag_fits, ByteOrder, Field, StrPad, Tagged, TypeDesc,
};
pub use value::{decode_values, float_from_bytes, Value, Variable};
pub use vds::{Axis, Select, Slab, VirtualSource};
