//! Direct reads: a dataset's bytes without libhdf5's data path, where that
//! gives exactly the same bytes (read-only mounts only; on a writable one
//! libhdf5 may hold changes not yet in the file).
//!
//! When a dataset's memory type equals its file type, its bytes are the
//! stored bytes:
//! - contiguous storage: read at the dataset's offset from the file's
//!   [`ByteSource`], with no libhdf5 call at all;
//! - chunked storage, unfiltered or through filters h5fs can undo (deflate,
//!   shuffle), with chunks large enough to pay for it: in a dataset of few
//!   enough chunk positions, each chunk's address is asked of a worker once
//!   and kept, and the chunk read where it lies; in a larger one, filtered
//!   chunks are fetched as stored from a worker (`H5Dread_chunk`).
//!   Filtered chunks are decoded here on all cores and cached decoded.
//!
//! Everything else (conversions, other filters, small chunks,
//! unfiltered chunks of datasets with many chunks, compact, virtual or
//! external storage) is read by libhdf5 (`H5Dread`).

mod cache;
mod filters;
mod read;
mod remote;
mod source;

pub use cache::ChunkCache;
pub use read::{ChunkSource, DirectIo, Plan};
pub use remote::RemoteFile;
pub use source::{ByteSource, FamilyFile, LocalFile, MemoryFile};
