//! Owned HDF5 identifiers and the single choke point for every C call.
//!
//! libhdf5 is not thread-safe; hdf5-metno serialises all calls behind one
//! process-wide reentrant lock. Every function in `src/h5` that touches the
//! library runs its whole body inside [`locked`], so a multi-call operation
//! (open, select, read, close) is atomic and the lock is taken once.

use hdf5::{MajorErrorCode, MinorErrorCode};
use hdf5_sys::h5i::{hid_t, H5Idec_ref};

/// What kind of failure an HDF5 call reported; the filesystem maps these to errno.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    NotFound,
    NotHdf5,
    Locked,
    MissingFilter,
    Unsupported,
    Other,
}

/// An HDF5 failure with a human-readable message (operation plus library detail).
#[derive(Debug, Clone, thiserror::Error)]
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

    /// Capture and classify the library's current error stack after a failed call.
    pub(crate) fn last(what: &str) -> Self {
        let err = match hdf5::Error::query() {
            Ok(e) => e,
            Err(e) => return H5Error::new(ErrorKind::Other, format!("{what}: {e}")),
        };
        let (kind, detail) = match err.stack() {
            Some(stack) => {
                let kind = if stack.contains_minor(MinorErrorCode::NotHdf5) {
                    ErrorKind::NotHdf5
                } else if stack.contains_minor(MinorErrorCode::CantLockFile)
                    || stack.contains_minor(MinorErrorCode::FileOpen)
                {
                    ErrorKind::Locked
                } else if stack.contains_major(MajorErrorCode::Pipeline)
                    && (stack.contains_minor(MinorErrorCode::CantOpenObj)
                        || stack.contains_minor(MinorErrorCode::NotFound)
                        || stack.contains_minor(MinorErrorCode::NoFilter))
                {
                    ErrorKind::MissingFilter
                } else if stack.contains_minor(MinorErrorCode::NotFound) {
                    ErrorKind::NotFound
                } else {
                    ErrorKind::Other
                };
                // The innermost frame usually says what actually went wrong.
                let inner = stack
                    .iter()
                    .last()
                    .map(|f| f.desc().to_string())
                    .unwrap_or_default();
                // The innermost frame says what went wrong; the outer ones only
                // repeat which call failed.
                let detail = if inner.is_empty() {
                    stack.description().to_string()
                } else {
                    inner
                };
                (kind, detail)
            }
            None => (ErrorKind::Other, err.to_string()),
        };
        H5Error::new(kind, format!("{what}: {detail}"))
    }
}

pub type Result<T, E = H5Error> = std::result::Result<T, E>;

/// Run `f` holding the global HDF5 lock (reentrant).
pub fn locked<T>(f: impl FnOnce() -> T) -> T {
    hdf5::sync::sync(f)
}

/// Check the return value of an HDF5 call made under the lock.
pub(crate) fn check<T: IsError>(what: &str, value: T) -> Result<T> {
    if value.is_error() {
        Err(H5Error::last(what))
    } else {
        Ok(value)
    }
}

/// Return values whose negative range signals failure (herr_t, htri_t, hid_t, ssize_t).
pub(crate) trait IsError: Copy {
    fn is_error(self) -> bool;
}

impl IsError for i32 {
    fn is_error(self) -> bool {
        self < 0
    }
}

impl IsError for i64 {
    fn is_error(self) -> bool {
        self < 0
    }
}

impl IsError for isize {
    fn is_error(self) -> bool {
        self < 0
    }
}

/// An identifier we hold one reference to; released on drop.
#[derive(Debug)]
pub struct Hid(hid_t);

// An hid_t is an integer key into libhdf5's tables; every use goes through the lock.
unsafe impl Send for Hid {}
unsafe impl Sync for Hid {}

impl Hid {
    pub(crate) fn new(what: &str, id: hid_t) -> Result<Hid> {
        if id < 0 {
            Err(H5Error::last(what))
        } else {
            Ok(Hid(id))
        }
    }

    pub fn id(&self) -> hid_t {
        self.0
    }
}

impl Drop for Hid {
    fn drop(&mut self) {
        locked(|| unsafe {
            H5Idec_ref(self.0);
        });
    }
}
