//! Pure encoders: what the filesystem shows, computed from plain data.
//!
//! Nothing here does I/O or touches HDF5; every rule is unit-tested.

pub mod bytes;
pub mod dtype;
pub mod json;
pub mod npy;
pub mod parse;
pub mod sidecar;
pub mod text;
pub mod xattr;

#[cfg(test)]
mod testing;
