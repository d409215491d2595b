//! Owned HDF5 identifiers and the single choke point for every C call.
//!
//! libhdf5 is not thread-safe; hdf5-metno serialises all calls behind one
//! process-wide reentrant lock. Every function in `src/h5` that touches the
//! library runs its whole body inside [`locked`], so a multi-call operation
//! (open, select, read, close) is atomic and the lock is taken once.

use hdf5::{MajorErrorCode, MinorErrorCode};
use hdf5_sys::h5i::{hid_t, H5Idec_ref};

use crate::model::{ErrorKind, H5Error, Result};

/// Capture and classify the library's current error stack after a failed
/// call: the one place where libhdf5's errors become an [`ErrorKind`].
pub(crate) fn last_error(what: &str) -> H5Error {
    let err = match hdf5::Error::query() {
        Ok(e) => e,
        Err(e) => return H5Error::new(ErrorKind::Other, format!("{what}: {e}")),
    };
    let Some(stack) = err.stack() else {
        return H5Error::new(ErrorKind::Other, format!("{what}: {err}"));
    };
    let says = |needle: &str| stack.iter().any(|f| f.desc().contains(needle));
    let kind = if stack.contains_minor(MinorErrorCode::NotHdf5) {
        ErrorKind::NotHdf5
    } else if stack.contains_minor(MinorErrorCode::CantLockFile)
        || stack.contains_minor(MinorErrorCode::FileOpen)
    {
        ErrorKind::Locked
    } else if stack.contains_major(MajorErrorCode::File)
        && stack.contains_minor(MinorErrorCode::CantOpenFile)
        // The superblock's status flags: libhdf5 gives this case no code of its own.
        && says("already open for write")
    {
        ErrorKind::MarkedOpen
    } else if stack.contains_major(MajorErrorCode::Pipeline)
        && (stack.contains_minor(MinorErrorCode::CantOpenObj)
            || stack.contains_minor(MinorErrorCode::NotFound)
            || stack.contains_minor(MinorErrorCode::NoFilter))
    {
        ErrorKind::MissingFilter
    } else if stack.contains_minor(MinorErrorCode::Exists)
        || stack.contains_minor(MinorErrorCode::AlreadyExists)
    {
        ErrorKind::Exists
    } else if stack.contains_minor(MinorErrorCode::NotFound) {
        ErrorKind::NotFound
    } else {
        ErrorKind::Other
    };
    // The innermost frame says what went wrong; the outer ones only repeat
    // which call failed.
    let inner = stack
        .iter()
        .last()
        .map(|f| f.desc().to_string())
        .unwrap_or_default();
    let detail = if inner.is_empty() {
        stack.description().to_string()
    } else {
        inner
    };
    H5Error::new(kind, format!("{what}: {detail}"))
}

/// Run `f` holding the global HDF5 lock (reentrant).
pub fn locked<T>(f: impl FnOnce() -> T) -> T {
    hdf5::sync::sync(f)
}

/// Check the return value of an HDF5 call made under the lock.
pub(crate) fn check<T: IsError>(what: &str, value: T) -> Result<T> {
    if value.is_error() {
        Err(last_error(what))
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
            Err(last_error(what))
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
