//! The only part of h5fs that touches libhdf5. It runs in the worker
//! processes (see [`crate::worker`]), never in the daemon that serves the
//! mount, so a crash or a hang inside libhdf5 is contained there.
//!
//! Everything it takes and returns is plain data from [`crate::model`].

mod access;
mod attrs;
mod dataset;
mod decode;
mod file;
mod handle;
mod namespace;
mod replace;
mod space;
mod types;
mod vds;
pub mod vfd;
mod vfd_sys;

pub use dataset::Dataset;
pub use file::H5File;
