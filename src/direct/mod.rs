//! Direct reads: a dataset's bytes without libhdf5's data path, where that
//! gives exactly the same bytes (read-only mounts only; on a writable one
//! libhdf5 may hold changes not yet in the file).
//!
//! When a dataset's memory type equals its file type, its bytes are the
//! stored bytes:
//! - contiguous storage: read at the dataset's offset from the file's
//!   [`ByteSource`], with no libhdf5 call at all;
//! - chunked storage whose filters h5fs can undo (deflate, shuffle) and
//!   whose chunks are large enough to pay for it: each chunk is fetched as
//!   stored from a libhdf5 worker (`H5Dread_chunk`, which finds it through
//!   the chunk index), decoded here on all cores, and cached decoded.
//!
//! Everything else (conversions, other filters, unfiltered or small chunks,
//! compact, virtual or external storage) is read by libhdf5 (`H5Dread`).

mod cache;
mod filters;
mod read;
mod source;

pub use cache::ChunkCache;
pub use read::{ChunkSource, Plan};
pub use source::{ByteSource, LocalFile};
