//! libhdf5 runs in worker processes, never in the daemon that serves the
//! mount.
//!
//! libhdf5 1.10.8 crashes, loops forever or allocates gigabytes on some
//! damaged files, and h5py with it. A crash in the daemon would take the
//! mount down ("Transport endpoint is not connected" for every process on
//! it), a loop would hang every caller. So every libhdf5 call is made in a
//! worker: a child process running this same binary (with [`WORKER_ENV`]
//! set), which opens the file itself and answers requests ([`protocol`]) on
//! a socket, one at a time ([`server`]). The daemon keeps a pool of them
//! ([`client`]): several for a read-only mount, so libhdf5 work runs in
//! parallel, one for a writable file. A worker that crashes, passes its
//! memory limit or does not answer in time is killed and replaced, and only
//! the request it was serving fails (EIO, with a log line naming the HDF5
//! path). The rules are in docs/SEMANTICS.md §9.

mod calls;
pub mod client;
pub mod protocol;
pub mod server;
mod urls;

pub use client::{WorkerConfig, WorkerPool, Workers};

/// Set (to the socket's descriptor number) in a worker's environment.
pub const WORKER_ENV: &str = "H5FS_WORKER_FD";
