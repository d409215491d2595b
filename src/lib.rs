//! h5fs: mount an HDF5 file as a directory tree.
//!
//! Layers, from the kernel down: [`fuse`] (thin adapter) -> [`fs`] (the
//! operations and their errno) -> [`tree`] (inodes, names) and [`encode`]
//! (pure renderings) -> [`h5`] (the only code that calls libhdf5).
pub mod cli;
pub mod daemon;
pub mod direct;
pub mod encode;
pub mod fs;
pub mod fuse;
pub mod h5;
pub mod model;
pub mod multi;
pub mod remote;
pub mod sniff;
pub mod source;
pub mod sys;
pub mod tree;
pub mod worker;
