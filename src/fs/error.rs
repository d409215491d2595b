//! The filesystem's errors: one enum, one mapping to errno, and the one log
//! line each failure that reaches a client gets.
//!
//! Levels: `error` for failures inside h5fs or libhdf5 (EIO), `warn` for
//! refused requests, `debug` for the answers that are routine replies to
//! probing (ENOENT, ENODATA, EEXIST, ERANGE: `ls`, shells and `cp` ask for
//! names and attributes that are not there all the time). A line repeated
//! within [`REPEAT_WINDOW`] is written once, and the next one after the
//! window says how many were left out.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use log::{debug, error, warn};

use crate::model::{DatasetMeta, ErrorKind, H5Error};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("no such file or directory")]
    NotFound,
    #[error("not a directory")]
    NotDir,
    #[error("is a directory")]
    IsDir,
    #[error("not a symbolic link")]
    NotSymlink,
    #[error("no such attribute")]
    NoAttr,
    #[error("attribute value of {0} bytes exceeds the xattr size limit")]
    AttrTooBig(usize),
    #[error("the value is {0} bytes, more than the buffer")]
    Range(usize),
    #[error("read-only file system")]
    ReadOnly,
    #[error("file exists")]
    Exists,
    #[error("directory not empty")]
    NotEmpty,
    #[error("operation not permitted: {0}")]
    NotPermitted(String),
    /// A file that is read-only even on a writable mount.
    #[error("permission denied: {0}")]
    Access(String),
    #[error("invalid: {0}")]
    Invalid(String),
    #[error("file too large: {0}")]
    TooBig(String),
    #[error("xattr namespace not supported")]
    NotSupported,
    #[error("bad file handle")]
    BadHandle,
    #[error("name longer than 255 bytes")]
    NameTooLong,
    /// Across two HDF5 files, or a file and the directory tree.
    #[error("across files: {0}")]
    CrossDevice(String),
    /// The file was replaced or changed since its inodes were given out.
    #[error("stale: {0}")]
    Stale(String),
    /// h5fs or libhdf5 could not do it; the message names the HDF5 path.
    #[error("{0}")]
    Io(String),
}

impl Error {
    pub fn errno(&self) -> i32 {
        match self {
            Error::NotFound => libc::ENOENT,
            Error::NotDir => libc::ENOTDIR,
            Error::IsDir => libc::EISDIR,
            Error::NotSymlink => libc::EINVAL,
            Error::NoAttr => libc::ENODATA,
            Error::AttrTooBig(_) => libc::E2BIG,
            Error::Range(_) => libc::ERANGE,
            Error::ReadOnly => libc::EROFS,
            Error::Exists => libc::EEXIST,
            Error::NotEmpty => libc::ENOTEMPTY,
            Error::NotPermitted(_) => libc::EPERM,
            Error::Access(_) => libc::EACCES,
            Error::Invalid(_) => libc::EINVAL,
            Error::TooBig(_) => libc::EFBIG,
            Error::NotSupported => libc::EOPNOTSUPP,
            Error::BadHandle => libc::EBADF,
            Error::NameTooLong => libc::ENAMETOOLONG,
            Error::CrossDevice(_) => libc::EXDEV,
            Error::Stale(_) => libc::ESTALE,
            Error::Io(_) => libc::EIO,
        }
    }

    /// The errno's symbolic name, for log lines.
    pub fn errno_name(&self) -> &'static str {
        match self {
            Error::NotFound => "ENOENT",
            Error::NotDir => "ENOTDIR",
            Error::IsDir => "EISDIR",
            Error::NotSymlink | Error::Invalid(_) => "EINVAL",
            Error::NoAttr => "ENODATA",
            Error::AttrTooBig(_) => "E2BIG",
            Error::Range(_) => "ERANGE",
            Error::ReadOnly => "EROFS",
            Error::Exists => "EEXIST",
            Error::NotEmpty => "ENOTEMPTY",
            Error::NotPermitted(_) => "EPERM",
            Error::Access(_) => "EACCES",
            Error::TooBig(_) => "EFBIG",
            Error::NotSupported => "EOPNOTSUPP",
            Error::BadHandle => "EBADF",
            Error::NameTooLong => "ENAMETOOLONG",
            Error::CrossDevice(_) => "EXDEV",
            Error::Stale(_) => "ESTALE",
            Error::Io(_) => "EIO",
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(super) fn show(path: &[u8]) -> String {
    String::from_utf8_lossy(path).into_owned()
}

/// An HDF5 failure as EIO; the message starts with the HDF5 path of the
/// object concerned.
pub(super) fn io(path: &[u8], e: H5Error) -> Error {
    let path = show(path);
    if e.kind == ErrorKind::Stale {
        return Error::Stale(e.msg);
    }
    if e.kind == ErrorKind::Invalid {
        return Error::Invalid(e.msg);
    }
    if e.msg.starts_with(&path) {
        Error::Io(e.msg)
    } else {
        Error::Io(format!("{path}: {}", e.msg))
    }
}

/// A failed dataset read as EIO, naming a missing filter if that is why.
pub(super) fn read_error(path: &[u8], meta: &DatasetMeta, e: H5Error) -> Error {
    let missing = meta.missing_filters();
    let contained = matches!(e.kind, ErrorKind::Crashed | ErrorKind::TimedOut);
    if contained || (e.kind != ErrorKind::MissingFilter && missing.is_empty()) {
        return io(path, e);
    }
    let names: Vec<String> = missing
        .iter()
        .map(|f| {
            if f.name.is_empty() {
                format!("{}", f.id)
            } else {
                format!("{} ({})", f.id, f.name)
            }
        })
        .collect();
    let which = if names.is_empty() {
        "a filter".to_string()
    } else {
        format!("filter {}", names.join(", "))
    };
    Error::Io(format!(
        "{}: needs {which} which is not available (install the plugin and set HDF5_PLUGIN_PATH)",
        show(path)
    ))
}

/// A line repeated within this window is written once.
pub const REPEAT_WINDOW: Duration = Duration::from_secs(10);

/// Lines remembered for the repeat window; past this many the memory starts over.
const REMEMBERED: usize = 4096;

/// The log of failed requests.
#[derive(Default)]
pub struct Failures {
    /// Line -> when it was last written, and how many were left out since.
    recent: Mutex<HashMap<String, (Instant, u64)>>,
}

impl Failures {
    /// Log that request `op` about `what` (an HDF5 path, and a name where
    /// the request has one) failed with `e`, once.
    pub fn report(&self, op: &str, what: &str, e: &Error) {
        let reason = e.to_string();
        // The reason often starts with the path already.
        let line = if reason.starts_with(what) || what.is_empty() {
            format!("{reason} ({op}: {})", e.errno_name())
        } else {
            format!("{what}: {reason} ({op}: {})", e.errno_name())
        };
        let routine = matches!(
            e,
            Error::NotFound | Error::NoAttr | Error::Exists | Error::Range(_)
        );
        if routine {
            debug!("{line}");
            return;
        }
        let Some(left_out) = self.admit(&line) else {
            return;
        };
        let line = if left_out > 0 {
            format!(
                "{line} [{left_out} more like this in the last {} s]",
                REPEAT_WINDOW.as_secs()
            )
        } else {
            line
        };
        match e {
            Error::Io(_) => error!("{line}"),
            _ => warn!("{line}"),
        }
    }

    /// Whether to write `line` now; if so, how many repeats were left out.
    fn admit(&self, line: &str) -> Option<u64> {
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if let Some((at, skipped)) = recent.get_mut(line) {
            if now.duration_since(*at) < REPEAT_WINDOW {
                *skipped += 1;
                return None;
            }
            let n = *skipped;
            *at = now;
            *skipped = 0;
            return Some(n);
        }
        if recent.len() >= REMEMBERED {
            recent.clear();
        }
        recent.insert(line.to_string(), (now, 0));
        Some(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_are_admitted_once_per_window() {
        let f = Failures::default();
        assert_eq!(f.admit("a"), Some(0));
        assert_eq!(f.admit("a"), None);
        assert_eq!(f.admit("a"), None);
        assert_eq!(f.admit("b"), Some(0));
        // Past the window the line comes again, with the count left out.
        f.recent.lock().unwrap().get_mut("a").unwrap().0 -= REPEAT_WINDOW;
        assert_eq!(f.admit("a"), Some(2));
        assert_eq!(f.admit("a"), None);
    }

    #[test]
    fn every_error_has_its_errno() {
        for (e, n) in [
            (Error::Io("x".into()), libc::EIO),
            (Error::NameTooLong, libc::ENAMETOOLONG),
            (Error::Range(3), libc::ERANGE),
            (Error::TooBig("x".into()), libc::EFBIG),
        ] {
            assert_eq!(e.errno(), n);
        }
        assert_eq!(Error::NoAttr.errno_name(), "ENODATA");
    }
}
