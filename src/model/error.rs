//! Failures of HDF5 work, classified so the filesystem can pick the errno.

use serde::{Deserialize, Serialize};

/// What kind of failure an HDF5 call reported; the filesystem maps these to errno.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ErrorKind {
    NotFound,
    NotHdf5,
    /// Another process has the file open (or locked) in a conflicting way.
    Locked,
    /// The file's superblock says a writer has it open (or left it so).
    MarkedOpen,
    MissingFilter,
    Unsupported,
    /// An object or attribute of that name exists already.
    Exists,
    /// The libhdf5 worker process died on this request (a crash in libhdf5,
    /// or its memory limit).
    Crashed,
    /// The libhdf5 worker process did not answer in time and was stopped.
    TimedOut,
    /// The worker does not have the file open (it closed it to make room).
    NotOpen,
    /// The file at the path is no longer the one mounted (replaced).
    Stale,
    /// The request itself is wrong (a virtual source that cannot be mapped).
    Invalid,
    Other,
}

/// An HDF5 failure with a human-readable message (operation plus library detail).
#[derive(Debug, Clone, thiserror::Error, Serialize, Deserialize)]
#[error("{msg}")]
pub struct H5Error {
    pub kind: ErrorKind,
    pub msg: String,
}

impl H5Error {
    pub fn new(kind: ErrorKind, msg: impl Into<String>) -> Self {
        H5Error {
            kind,
            msg: msg.into(),
        }
    }
}

pub type Result<T, E = H5Error> = std::result::Result<T, E>;
