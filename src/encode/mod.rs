//! Pure encoders: what the filesystem shows, computed from plain data, and
//! the parsers for what users write back.
//!
//! One module per format, each holding both directions (the renderer and its
//! inverse parser) and the format's rules in its module doc:
//! - [`dtype`]: numpy descr and HDF5 type description <-> [`crate::model::TypeDesc`];
//! - [`bytes`]: values -> element bytes (the decoder is [`crate::model::decode_values`]);
//! - [`json`]: values <-> JSON;
//! - [`sidecar`]: the `NAME.json` sidecar, shown and written, and [`vds`]
//!   a virtual dataset's sources in it;
//! - [`xattr`]: attribute values and names as extended-attribute text;
//! - [`text`]: text views of variable-length datasets;
//! - [`npy`]: `.npy` headers, read and written (the `.npy` view);
//! - [`raster`]: a numeric dataset as a raw raster, for the header views
//!   [`envi`] (`.hdr`), [`nrrd`] (`.nhdr`) and [`mhd`] (`.mhd`).
//!
//! - [`zarr`]: the Zarr v2 store's documents, and [`zcodec`] the chunk
//!   encodings it needs.
//!
//! Nothing here does I/O or touches HDF5; every rule is unit-tested.

pub mod bytes;
pub mod dtype;
pub mod envi;
pub mod json;
pub mod mhd;
pub mod npy;
pub mod nrrd;
pub mod raster;
pub mod sidecar;
pub mod text;
pub mod vds;
pub mod xattr;
pub mod zarr;
pub mod zcodec;
pub mod zdims;

#[cfg(test)]
mod testing;
