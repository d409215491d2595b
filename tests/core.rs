//! The filesystem core called directly, without FUSE: results and errnos of
//! the requests as docs/SEMANTICS.md gives them. Fast, and they run where
//! /dev/fuse is missing (the libhdf5 workers are this crate's binary).

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use h5fs::fs::{Error, Fs, FsOptions, OpenMode, RenameFlags, SetAttr, Xattr};
use h5fs::tree::{EntryType, View};
use h5fs::worker::WorkerConfig;

fn options(writable: bool) -> FsOptions {
    FsOptions {
        uid: 1000,
        gid: 100,
        umask: 0o022,
        writable,
        chunk_cache_bytes: 8 << 20,
        read_ahead: false,
        workers: WorkerConfig {
            exe: BIN.into(),
            timeout: Duration::from_secs(10),
            memory: 1 << 30,
            max_workers: 2,
            stderr: None,
            remote: None,
        },
        views: vec![View::Sidecar],
        zarr: false,
        refresh: std::time::Duration::from_secs(1),
        tree: None,
    }
}

fn source(file: &Path) -> h5fs::source::Source {
    h5fs::source::resolve(file, &h5fs::cli::MountOptions::default()).expect("a file")
}

fn open(file: &Path, writable: bool) -> Arc<Fs> {
    Arc::new(Fs::new(&source(file), options(writable)).expect("open the file"))
}

fn errno<T: std::fmt::Debug>(r: Result<T, Error>) -> i32 {
    match r {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e.errno(),
    }
}

/// `a` (int32 3x4), group `g` with `g/s` (strings), attributes on both.
fn sample(t: &TempDir) -> std::path::PathBuf {
    let file = t.path().join("core.h5");
    make_h5(
        &file,
        "f['a'] = np.arange(12, dtype='<i4').reshape(3, 4)\n\
         f['a'].attrs['units'] = 'm'\n\
         g = f.create_group('g')\n\
         g['s'] = np.array([b'x', b'yz'], dtype=h5py.string_dtype())\n\
         g.attrs['n'] = 7",
    );
    file
}

#[test]
fn lookups_reads_and_listings() {
    let t = TempDir::new("core-read");
    let fs = open(&sample(&t), false);
    let root = fs.root();
    let names: Vec<Vec<u8>> = fs
        .readdir(root)
        .unwrap()
        .listing
        .entries
        .iter()
        .map(|e| e.name.clone())
        .collect();
    assert_eq!(names, [b"a".to_vec(), b"a.json".to_vec(), b"g".to_vec()]);
    let a = fs.lookup(root, b"a").unwrap();
    assert_eq!((a.kind, a.size, a.perm), (EntryType::File, 48, 0o444));
    assert_eq!((a.uid, a.gid), (1000, 100));
    let fh = fs.open(a.ino, OpenMode::default()).unwrap();
    let bytes = fs.read(fh, 4, 8).unwrap();
    assert_eq!(bytes, [1, 0, 0, 0, 2, 0, 0, 0]);
    assert!(fs.read(fh, 48, 10).unwrap().is_empty(), "past the end");
    fs.release(fh).unwrap();
    let g = fs.lookup(root, b"g").unwrap();
    assert_eq!((g.kind, g.perm), (EntryType::Directory, 0o555));
    let s = fs.lookup(g.ino, b"s").unwrap();
    let fh = fs.open(s.ino, OpenMode::default()).unwrap();
    assert_eq!(fs.read(fh, 0, 100).unwrap(), b"x\nyz\n");
    let sidecar = fs.lookup(root, b"a.json").unwrap();
    let fh = fs.open(sidecar.ino, OpenMode::default()).unwrap();
    let json: serde_json::Value =
        serde_json::from_slice(&fs.read(fh, 0, 1 << 20).unwrap()).unwrap();
    assert_eq!(json["shape"], serde_json::json!([3, 4]));
    assert_eq!(json["dtype"], "<i4");
}

#[test]
fn errnos_of_reads() {
    let t = TempDir::new("core-errno");
    let fs = open(&sample(&t), false);
    let root = fs.root();
    assert_eq!(errno(fs.lookup(root, b"nope")), libc::ENOENT);
    assert_eq!(errno(fs.lookup(root, &[b'n'; 256])), libc::ENAMETOOLONG);
    let a = fs.lookup(root, b"a").unwrap();
    assert_eq!(errno(fs.lookup(a.ino, b"x")), libc::ENOTDIR);
    assert_eq!(errno(fs.readdir(a.ino)), libc::ENOTDIR);
    assert_eq!(errno(fs.readlink(a.ino)), libc::EINVAL);
    assert_eq!(errno(fs.getattr(1 << 40)), libc::ENOENT);
    assert_eq!(errno(fs.read(12345, 0, 1)), libc::EBADF);
}

#[test]
fn xattr_protocol() {
    let t = TempDir::new("core-xattr");
    let fs = open(&sample(&t), false);
    let a = fs.lookup(fs.root(), b"a").unwrap();
    assert_eq!(
        fs.getxattr(a.ino, b"user.units", 0).unwrap(),
        Xattr::Size(1)
    );
    assert_eq!(
        fs.getxattr(a.ino, b"user.units", 10).unwrap(),
        Xattr::Data(b"m".to_vec())
    );
    assert_eq!(fs.listxattr(a.ino, 0).unwrap(), Xattr::Size(11));
    assert_eq!(errno(fs.listxattr(a.ino, 5)), libc::ERANGE);
    assert_eq!(errno(fs.getxattr(a.ino, b"user.none", 10)), libc::ENODATA);
    assert_eq!(errno(fs.getxattr(a.ino, b"trusted.x", 10)), libc::ENODATA);
    assert_eq!(errno(fs.getxattr(a.ino, b"user.", 10)), libc::EINVAL);
    let sidecar = fs.lookup(fs.root(), b"a.json").unwrap();
    assert_eq!(fs.listxattr(sidecar.ino, 0).unwrap(), Xattr::Size(0));
}

#[test]
fn a_read_only_core_refuses_every_change() {
    let t = TempDir::new("core-ro");
    let fs = open(&sample(&t), false);
    let root = fs.root();
    let a = fs.lookup(root, b"a").unwrap();
    let write = OpenMode {
        write: true,
        truncate: false,
    };
    assert_eq!(errno(fs.open(a.ino, write)), libc::EROFS);
    assert_eq!(errno(fs.create(root, b"new")), libc::EROFS);
    assert_eq!(errno(fs.mkdir(root, b"d")), libc::EROFS);
    assert_eq!(errno(fs.mknod(root, b"fifo")), libc::EROFS);
    assert_eq!(errno(fs.unlink(root, b"a")), libc::EROFS);
    assert_eq!(
        errno(fs.setxattr(a.ino, b"user.k", b"v", false, false)),
        libc::EROFS
    );
    assert_eq!(
        errno(fs.setattr(a.ino, SetAttr { size: Some(0) })),
        libc::EROFS
    );
    assert_eq!(errno(fs.access(a.ino, true)), libc::EROFS);
    fs.access(a.ino, false).unwrap();
}

#[test]
fn changes_through_the_core() {
    let t = TempDir::new("core-rw");
    let file = sample(&t);
    {
        let fs = open(&file, true);
        let root = fs.root();
        // A byte file: written, appended, read back.
        let (attr, fh) = fs.create(root, b"notes").unwrap();
        assert_eq!((attr.size, attr.perm), (0, 0o644));
        assert_eq!(fs.write(fh, 0, b"hello").unwrap(), 5);
        assert_eq!(fs.write(fh, 5, b", world").unwrap(), 7);
        assert_eq!(fs.read(fh, 0, 100).unwrap(), b"hello, world");
        fs.flush(fh).unwrap();
        fs.release(fh).unwrap();
        // Refusals decided by the core.
        assert_eq!(errno(fs.mknod(root, b"fifo")), libc::EPERM);
        assert_eq!(errno(fs.create(root, b"notes")), libc::EEXIST);
        assert_eq!(errno(fs.mkdir(root, &[b'd'; 256])), libc::ENAMETOOLONG);
        let flags = RenameFlags {
            exchange: true,
            no_replace: false,
        };
        assert_eq!(
            errno(fs.rename(root, b"a", root, b"notes", flags)),
            libc::EINVAL
        );
        let a = fs.lookup(root, b"a").unwrap();
        assert_eq!(
            errno(fs.setattr(a.ino, SetAttr { size: Some(32) })),
            libc::EFBIG,
            "a contiguous dataset cannot change size"
        );
        assert_eq!(
            errno(fs.setattr(a.ino, SetAttr { size: Some(7) })),
            libc::EINVAL,
            "7 bytes is not whole 16-byte rows"
        );
        fs.setxattr(a.ino, b"user.scale", b"2.5", false, false)
            .unwrap();
        assert_eq!(
            errno(fs.setxattr(a.ino, b"user.scale", b"1", true, false)),
            libc::EEXIST
        );
        fs.mkdir(root, b"sub").unwrap();
        let d = fs.lookup(root, b"sub").unwrap();
        assert_eq!(d.kind, EntryType::Directory);
        fs.fsyncdir().unwrap();
    }
    read_h5(
        &file,
        "assert f['notes'][()].tobytes() == b'hello, world'\n\
         assert f['a'].attrs['scale'] == 2.5\n\
         assert 'sub' in f and f['sub'].attrs.get('n') is None",
    );
}

#[test]
fn a_crash_inside_libhdf5_costs_one_request() {
    let file = repo().join("tests/data/fuzz/crash_hgread_getxattr.h5");
    let fs = open(&file, false);
    let d = fs.lookup(fs.root(), b"hard_link_data").unwrap();
    assert_eq!(errno(fs.getxattr(d.ino, b"user.2d_string", 0)), libc::EIO);
    // Asked again: refused at once, not another crash.
    let start = std::time::Instant::now();
    assert_eq!(errno(fs.getxattr(d.ino, b"user.2d_string", 0)), libc::EIO);
    assert!(start.elapsed() < Duration::from_secs(1));
    // Everything else still answers.
    assert!(fs.getattr(d.ino).is_ok());
    assert!(fs.readdir(fs.root()).is_ok());
}

#[test]
fn chunks_too_large_for_a_worker_are_refused_at_once() {
    let t = TempDir::new("core-bigchunk");
    let file = t.path().join("big.h5");
    // 80 MiB chunks (compressed to almost nothing): over a quarter of 256 MiB.
    make_h5(
        &file,
        "d = f.create_dataset('big', shape=(80 << 20,), chunks=(80 << 20,), dtype='u1', compression='gzip')\n\
         d[:4] = [1, 2, 3, 4]",
    );
    let mut opts = options(false);
    opts.workers.memory = 256 << 20;
    let fs = Arc::new(Fs::new(&source(&file), opts).unwrap());
    let d = fs.lookup(fs.root(), b"big").unwrap();
    assert_eq!(d.size, 80 << 20, "stat still works");
    let fh = fs.open(d.ino, OpenMode::default()).unwrap();
    match fs.read(fh, 0, 4) {
        Err(Error::Io(msg)) => assert!(msg.contains("a quarter of hdf5_memory"), "{msg}"),
        other => panic!("{other:?}"),
    }
    // With room for it, the same read works.
    let fs = open(&file, false);
    let d = fs.lookup(fs.root(), b"big").unwrap();
    let fh = fs.open(d.ino, OpenMode::default()).unwrap();
    assert_eq!(fs.read(fh, 0, 4).unwrap(), [1, 2, 3, 4]);
}
