//! Objects of a file as plain data: where an object is, what a link is,
//! what is known about a dataset and an attribute.

use serde::{Deserialize, Serialize};

use super::types::TypeDesc;
use super::value::Value;

/// Filter numbers registered with The HDF Group that h5fs names.
pub mod filter_id {
    pub const DEFLATE: i32 = 1;
    pub const SHUFFLE: i32 = 2;
    pub const FLETCHER32: i32 = 3;
    /// h5py's built-in compressor.
    pub const LZF: i32 = 32000;
}

/// A path inside the file, as raw link-name bytes joined by '/'.
pub type H5Path = Vec<u8>;

/// Where an object is: its path from the root (used for messages, and to open
/// objects of external files), and for objects of the mounted file its
/// address, which stays valid across renames and unlinks of other names.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Loc {
    pub path: H5Path,
    pub addr: Option<u64>,
}

impl Loc {
    pub fn path(path: &[u8]) -> Loc {
        Loc {
            path: path.to_vec(),
            addr: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ObjectKind {
    Group,
    Dataset,
    Datatype,
    Other,
}

/// Identity and bookkeeping of one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectInfo {
    pub kind: ObjectKind,
    /// Which file holds the object: 0 for the mounted file, else a hash of
    /// the external file's name (libhdf5's own file numbers change each time
    /// an external file is reopened, so they cannot identify objects).
    pub file: u64,
    pub addr: u64,
    /// Number of hard links to the object.
    pub links: u32,
    /// Modification time in seconds since the epoch; 0 where the file keeps none.
    pub mtime: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum LinkKind {
    Hard,
    Soft(Vec<u8>),
    External { file: Vec<u8>, path: Vec<u8> },
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    pub name: Vec<u8>,
    pub kind: LinkKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Layout {
    Compact,
    Contiguous,
    Chunked,
    Virtual,
}

impl Layout {
    pub fn name(self) -> &'static str {
        match self {
            Layout::Compact => "compact",
            Layout::Contiguous => "contiguous",
            Layout::Chunked => "chunked",
            Layout::Virtual => "virtual",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Filter {
    pub id: i32,
    pub name: String,
    pub params: Vec<u32>,
    /// Whether libhdf5 can apply it here (built in or found as a plugin).
    pub available: bool,
}

/// Everything about a dataset except its data and attributes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetMeta {
    pub ty: TypeDesc,
    /// None for a null dataspace; empty for a scalar.
    pub shape: Option<Vec<u64>>,
    /// None for a null dataspace; None entries are unlimited.
    pub maxshape: Option<Vec<Option<u64>>>,
    pub layout: Layout,
    pub chunks: Option<Vec<u64>>,
    pub filters: Vec<Filter>,
    pub fill: Value,
    /// A virtual dataset's mappings, in order (empty for other layouts).
    pub sources: Vec<super::VirtualSource>,
}

impl DatasetMeta {
    pub fn npoints(&self) -> u64 {
        self.shape.as_ref().map_or(0, |s| s.iter().product())
    }

    /// Bytes of h5py's `ds[()].tobytes()` (a dataspace whose bytes do not
    /// fit is refused when the dataset is opened).
    pub fn byte_len(&self) -> u64 {
        self.npoints().saturating_mul(self.ty.size() as u64)
    }

    /// Filters this dataset needs that libhdf5 cannot load here.
    pub fn missing_filters(&self) -> Vec<&Filter> {
        self.filters.iter().filter(|f| !f.available).collect()
    }
}

/// A decoded attribute.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttrData {
    pub ty: TypeDesc,
    /// None for a null dataspace (h5py.Empty); empty for a scalar.
    pub shape: Option<Vec<u64>>,
    pub values: Vec<Value>,
}

/// How a dataset's bytes can be read without libhdf5's data path: only when
/// its memory type equals its file type, so the stored bytes are h5py's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DirectLayout {
    /// Stored contiguously at this offset of the file (user block included),
    /// unfiltered.
    Contiguous { offset: u64 },
    /// Stored in chunks of this shape, through the dataset's filters;
    /// `fill` is one element of the fill value, for chunks never written.
    Chunked { chunk: Vec<u64>, fill: Vec<u8> },
}

/// A dataset as the filesystem sees it: its description, and how its bytes
/// may be read directly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetInfo {
    pub meta: DatasetMeta,
    pub direct: Option<DirectLayout>,
}

/// What opening a file tells about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileFacts {
    pub root: ObjectInfo,
    /// Bytes before the HDF5 data (the user block): chunk addresses count from here.
    pub base: u64,
    /// The file's size as libhdf5 sees it.
    pub size: u64,
    /// Superblock version: from 3 on, a file open for writing is marked so
    /// on disk until closed.
    pub superblock: u32,
    /// A family's member size as libhdf5 holds it (0 for other drivers, or
    /// when it does not say).
    pub member_size: u64,
    /// How the file is open (driver, chunk cache), for the log.
    pub note: String,
}

/// Where a chunk is stored: its address (from the start of the HDF5 data,
/// so after any user block), its stored size, and its filter mask (bit i set:
/// filter i of the pipeline was not applied to it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkPlace {
    pub addr: u64,
    pub size: u64,
    pub filter_mask: u32,
}

/// One chunk of a dataset, as the direct read path gets it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChunkData {
    /// The chunk's stored bytes; bit i of `filter_mask` set means filter i
    /// of the pipeline was not applied to it.
    Stored { filter_mask: u32, bytes: Vec<u8> },
    /// The chunk read through libhdf5 (never written, or not locatable):
    /// already h5py's bytes, in the chunk's full shape.
    Decoded(Vec<u8>),
}
