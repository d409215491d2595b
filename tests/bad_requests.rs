//! Hostile and careless requests on a `-o rw` mount: each gets its errno and
//! a log line, costs bounded time, and leaves the mount serving and the file
//! intact (docs/SEMANTICS.md §10.13).

mod common;

use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::{Duration, Instant};

use common::*;

/// A version 1.0 `.npy` header with this dict text, then `data`.
fn npy(dict: &str, data: &[u8]) -> Vec<u8> {
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out.extend_from_slice(data);
    out
}

fn setxattr(path: &Path, name: &str, value: &[u8]) -> i32 {
    let p = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    let n = std::ffi::CString::new(name).unwrap();
    // SAFETY: NUL-terminated strings and a live buffer.
    let r = unsafe {
        libc::setxattr(
            p.as_ptr(),
            n.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    if r == 0 {
        0
    } else {
        std::io::Error::last_os_error().raw_os_error().unwrap_or(-1)
    }
}

fn getxattr(path: &Path, name: &str) -> i32 {
    let p = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    let n = std::ffi::CString::new(name).unwrap();
    // SAFETY: a size query (no buffer) on NUL-terminated strings.
    let r = unsafe { libc::getxattr(p.as_ptr(), n.as_ptr(), std::ptr::null_mut(), 0) };
    if r >= 0 {
        0
    } else {
        std::io::Error::last_os_error().raw_os_error().unwrap_or(-1)
    }
}

#[test]
fn bad_requests_get_their_errno_and_the_mount_keeps_serving() {
    if !fuse_available("bad_requests_get_their_errno_and_the_mount_keeps_serving") {
        return;
    }
    let t = TempDir::new("bad-requests");
    let file = t.path().join("bad.h5");
    make_h5(
        &file,
        "f.create_dataset('grow', data=np.arange(100, dtype='u1'), maxshape=(None,), chunks=(16,))\n\
         f['fixed'] = np.arange(4, dtype='<i4')",
    );
    let m = Mount::with(&file, &["-o", "rw"], &[]);
    let alive = || {
        assert_eq!(
            std::fs::metadata(m.path("fixed")).map(|s| s.len()).ok(),
            Some(16),
            "the mount stopped serving:\n{}",
            m.log_text()
        );
    };

    // A .npy header nesting brackets 20,000 deep (once overflowed the stack
    // of the header parser and killed the daemon).
    let deep = format!("{{'descr': {}", "[".repeat(20_000));
    assert_eq!(
        write_close(&m.path("deep.npy"), &npy(&deep, b"")),
        libc::EINVAL
    );
    alive();

    // A 1-byte write at 2^62 on a growable dataset (once accepted; shrinking
    // it afterwards spun in libhdf5 over 2^46 chunks with its lock held).
    let g = OpenOptions::new().write(true).open(m.path("grow")).unwrap();
    assert_eq!(errno_of(g.write_at(&[1], 1 << 62)), libc::EFBIG);
    // The largest growth allowed: 2^24 chunks of 16 bytes, then back.
    let start = Instant::now();
    g.write_all_at(&[7], (16 << 24) - 1).unwrap();
    assert_eq!(g.metadata().unwrap().len(), 16 << 24);
    assert_eq!(errno_of(g.write_at(&[7], 16 << 24)), libc::EFBIG);
    g.set_len(1000).unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "growing to the limit and back took {:?}",
        start.elapsed()
    );
    assert_eq!(g.metadata().unwrap().len(), 1000);
    assert_eq!(errno_of(g.set_len(1 << 62)), libc::EFBIG);
    drop(g);
    alive();

    // Shapes whose byte count overflows, from a .npy header and a sidecar.
    let huge = npy(
        "{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904,), }\n",
        b"",
    );
    assert_eq!(write_close(&m.path("huge.npy"), &huge), libc::EINVAL);
    let square = br#"{"dtype": "<f8", "shape": [4294967296, 4294967296]}"#;
    assert_eq!(write_close(&m.path("square.json"), square), libc::EINVAL);
    // Large but countable: too big (EFBIG), not invalid.
    let big = br#"{"dtype": "u1", "shape": [17592186044417]}"#;
    assert_eq!(write_close(&m.path("big.json"), big), libc::EFBIG);
    alive();

    // Names over 255 bytes, and the empty attribute name.
    let long = "n".repeat(256);
    assert_eq!(
        errno_of(std::fs::File::create(m.path(&long))),
        libc::ENAMETOOLONG
    );
    assert_eq!(
        errno_of(std::fs::create_dir(m.path(&long))),
        libc::ENAMETOOLONG
    );
    assert_eq!(
        errno_of(std::fs::metadata(m.path(&long))),
        libc::ENAMETOOLONG
    );
    assert_eq!(
        errno_of(std::fs::rename(m.path("fixed"), m.path(&long))),
        libc::ENAMETOOLONG
    );
    assert_eq!(setxattr(&m.path("fixed"), "user.", b"1"), libc::EINVAL);
    assert_eq!(getxattr(&m.path("fixed"), "user."), libc::EINVAL);
    alive();

    let log = m.log_text();
    assert!(m.finish(), "daemon did not exit cleanly:\n{log}");
    for needle in [
        "deep.npy: not a valid .npy header: containers nest more than 64 deep",
        "/huge: shape [4611686018427387904] has more elements or bytes than 2^64",
        "/big: shape [17592186044417] would hold 17592186044417 bytes",
    ] {
        assert!(log.contains(needle), "no log line {needle:?} in:\n{log}");
    }
    read_h5(
        &file,
        "assert f['grow'].shape == (1000,), f['grow'].shape\n\
         assert (f['grow'][:100] == np.arange(100)).all()\n\
         assert sorted(f) == ['fixed', 'grow'], list(f)",
    );
}
