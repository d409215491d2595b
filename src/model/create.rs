//! What a change asks for: element data to write, and new datasets.

use serde::{Deserialize, Serialize};

use super::types::TypeDesc;
use super::VirtualSource;

/// Element data to write, in the memory layout h5py would use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ElementData {
    /// Fixed-size elements packed back to back.
    Fixed(Vec<u8>),
    /// Variable-length strings, one per element.
    Strings(Vec<Vec<u8>>),
    /// Variable-length sequences: each element's items, packed in the base type's layout.
    Sequences(Vec<Vec<u8>>),
}

impl ElementData {
    pub fn count(&self, itemsize: usize) -> usize {
        match self {
            ElementData::Fixed(b) => b.len() / itemsize.max(1),
            ElementData::Strings(v) | ElementData::Sequences(v) => v.len(),
        }
    }
}

/// What a new dataset looks like.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateSpec {
    pub ty: TypeDesc,
    /// None for a null dataspace.
    pub shape: Option<Vec<u64>>,
    /// None entries are unlimited.
    pub maxshape: Vec<Option<u64>>,
    pub chunks: Option<Vec<u64>>,
    pub gzip: Option<u32>,
    pub lzf: bool,
    pub shuffle: bool,
    /// The fill value in the memory layout of `ty`.
    pub fill: Option<Vec<u8>>,
    /// Not empty: a virtual dataset with these mappings (no chunks or filters).
    pub sources: Vec<VirtualSource>,
}
