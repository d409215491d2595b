//! Read-write mounts: one scenario per operation of docs/SEMANTICS.md's write
//! section, through a real `-o rw` mount, checked with h5py after unmount and
//! with the exact errno of every refusal.

mod common;

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

/// Make an HDF5 file with `setup` (python code using `f`), mount it rw.
fn rw_mount(t: &TempDir, setup: &str) -> (PathBuf, Mount) {
    let file = t.path().join("rw.h5");
    make_h5(&file, setup);
    let m = Mount::with(&file, &["-o", "rw"], &[]);
    (file, m)
}

/// Unmount, then run python `check` (with `f` open read-only) and assert it passes.
fn check_after(m: Mount, file: &Path, check: &str) {
    let log = m.log_text();
    assert!(m.finish(), "daemon did not exit cleanly:\n{log}");
    // Shown only if the test fails (cargo captures test output).
    eprintln!("daemon log:\n{log}");
    read_h5(file, check);
    let out = Command::new("h5dump").arg(file).output().unwrap();
    assert!(
        out.status.success(),
        "h5dump cannot read the file: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn sh(cmd: &str) -> (bool, String) {
    let out = Command::new("sh").arg("-c").arg(cmd).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn pwrite_inside_the_dataset_writes_just_those_bytes() {
    if !fuse_available("pwrite_inside_the_dataset_writes_just_those_bytes") {
        return;
    }
    let t = TempDir::new("pwrite");
    let (file, m) = rw_mount(
        &t,
        "f['a'] = np.arange(10, dtype='<f8')\nf['b'] = np.arange(24, dtype='>i4').reshape(4, 6)",
    );
    let a = OpenOptions::new().write(true).open(m.path("a")).unwrap();
    // Whole elements, then a write covering a partial element at each edge.
    a.write_all_at(&7.5f64.to_le_bytes(), 16).unwrap();
    a.write_all_at(&[0xAA, 0xBB, 0xCC], 5).unwrap();
    drop(a);
    let b = OpenOptions::new()
        .read(true)
        .write(true)
        .open(m.path("b"))
        .unwrap();
    b.write_all_at(&(-1i32).to_be_bytes(), 4 * 7).unwrap();
    b.write_all_at(&[1, 2], 4 * 23 + 2).unwrap();
    let mut back = [0u8; 4];
    b.read_exact_at(&mut back, 4 * 7).unwrap();
    assert_eq!(back, (-1i32).to_be_bytes(), "reads see the write");
    drop(b);
    assert_eq!(std::fs::metadata(m.path("a")).unwrap().len(), 80);
    check_after(
        m,
        &file,
        "a = np.arange(10, dtype='<f8'); raw = bytearray(a.tobytes())
raw[16:24] = np.float64(7.5).tobytes(); raw[5:8] = b'\\xaa\\xbb\\xcc'
assert f['a'][()].tobytes() == bytes(raw), f['a'][()]
b = np.arange(24, dtype='>i4'); b[7] = -1; rb = bytearray(b.tobytes()); rb[94:96] = b'\\x01\\x02'
assert f['b'][()].tobytes() == bytes(rb)
assert f['b'].dtype == np.dtype('>i4') and f['b'].shape == (4, 6)",
    );
}

#[test]
fn appends_grow_axis_0_by_whole_rows_and_fixed_datasets_refuse() {
    if !fuse_available("appends_grow_axis_0_by_whole_rows_and_fixed_datasets_refuse") {
        return;
    }
    let t = TempDir::new("append");
    let (file, m) = rw_mount(
        &t,
        "f.create_dataset('g', data=np.arange(6, dtype='<i2').reshape(2, 3), maxshape=(None, 3), chunks=(4, 3), fillvalue=-7)
f.create_dataset('lim', data=np.arange(4, dtype='u1'), maxshape=(6,), chunks=(2,))
f['fixed'] = np.arange(4, dtype='<i4')",
    );
    // O_APPEND of 8 bytes: 4 elements, which is one row and a third: two rows added.
    let mut g = OpenOptions::new().append(true).open(m.path("g")).unwrap();
    g.write_all(&[1, 0, 2, 0, 3, 0, 4, 0]).unwrap();
    drop(g);
    assert_eq!(std::fs::metadata(m.path("g")).unwrap().len(), 4 * 6);
    // Shell append: at the file's size, which is whole rows.
    let two = t.path().join("two.bin");
    std::fs::write(&two, [9u8, 0]).unwrap();
    let (ok, err) = sh(&format!(
        "cat {} >> {}",
        two.display(),
        m.path("g").display()
    ));
    assert!(ok, "{err}");
    assert_eq!(std::fs::metadata(m.path("g")).unwrap().len(), 5 * 6);
    // Past maxshape and on a contiguous dataset: EFBIG, nothing changes.
    let lim = OpenOptions::new().write(true).open(m.path("lim")).unwrap();
    assert_eq!(errno_of(lim.write_all_at(&[9; 3], 4)), libc::EFBIG);
    lim.write_all_at(&[8, 8], 4).unwrap();
    let fixed = OpenOptions::new()
        .write(true)
        .open(m.path("fixed"))
        .unwrap();
    assert_eq!(errno_of(fixed.write_all_at(&[1], 16)), libc::EFBIG);
    drop((lim, fixed));
    check_after(
        m,
        &file,
        "g = f['g'][()]
assert g.shape == (5, 3), g.shape
assert (g[:2] == np.arange(6).reshape(2, 3)).all()
assert list(g[2]) == [1, 2, 3] and list(g[3]) == [4, -7, -7] and list(g[4]) == [9, -7, -7], g
assert list(f['lim'][()]) == [0, 1, 2, 3, 8, 8]
assert list(f['fixed'][()]) == [0, 1, 2, 3]",
    );
}

#[test]
fn truncate_resizes_by_whole_rows() {
    if !fuse_available("truncate_resizes_by_whole_rows") {
        return;
    }
    let t = TempDir::new("truncate");
    let (file, m) = rw_mount(
        &t,
        "f.create_dataset('g', data=np.arange(12, dtype='<f4').reshape(4, 3), maxshape=(6, 3), chunks=(2, 3))
f['fixed'] = np.arange(4, dtype='<i4')",
    );
    let g = m.path("g");
    let set = |len: u64| {
        errno_of(
            OpenOptions::new()
                .write(true)
                .open(&g)
                .unwrap()
                .set_len(len),
        )
    };
    assert_eq!(set(24), 0, "shrink to 2 rows");
    assert_eq!(set(24), 0, "same size is a no-op");
    assert_eq!(set(25), libc::EINVAL, "not whole rows");
    assert_eq!(set(12 * 7), libc::EFBIG, "beyond maxshape");
    assert_eq!(set(36), 0, "grow to 3 rows");
    let (ok, err) = sh(&format!("truncate -s 48 {}", g.display()));
    assert!(ok, "{err}");
    assert_eq!(std::fs::metadata(&g).unwrap().len(), 48);
    let fixed = OpenOptions::new()
        .write(true)
        .open(m.path("fixed"))
        .unwrap();
    assert_eq!(errno_of(fixed.set_len(8)), libc::EFBIG);
    assert_eq!(errno_of(fixed.set_len(16)), 0);
    drop(fixed);
    check_after(
        m,
        &file,
        "g = f['g'][()]
assert g.shape == (4, 3), g.shape
assert (g[:2] == np.arange(6).reshape(2, 3)).all()
assert (g[2:] == 0).all(), g
assert list(f['fixed'][()]) == [0, 1, 2, 3]",
    );
}

#[test]
fn o_trunc_replaces_contents() {
    if !fuse_available("o_trunc_replaces_contents") {
        return;
    }
    let t = TempDir::new("otrunc");
    let (file, m) = rw_mount(
        &t,
        "f.create_dataset('g', data=np.arange(8, dtype='<u2'), maxshape=(None,), chunks=(4,))
f['fixed'] = np.arange(6, dtype='<f8')
f['keep'] = np.arange(6, dtype='<f8')",
    );
    // Resizable: O_TRUNC empties it, the writes grow it again.
    let src = t.path().join("new.bin");
    std::fs::write(&src, [5u8, 0, 6, 0, 7, 0]).unwrap();
    let (ok, err) = sh(&format!("cp {} {}", src.display(), m.path("g").display()));
    assert!(ok, "{err}");
    // Fixed size, same number of bytes: cp and dd replace the contents.
    let same = t.path().join("same.bin");
    let vals: Vec<u8> = (0..6)
        .flat_map(|i| (i as f64 * 10.0).to_le_bytes())
        .collect();
    std::fs::write(&same, &vals).unwrap();
    let (ok, err) = sh(&format!(
        "cp {} {}",
        same.display(),
        m.path("fixed").display()
    ));
    assert!(ok, "{err}");
    let (ok, err) = sh(&format!(
        "dd if={} of={} bs=7 status=none",
        same.display(),
        m.path("fixed").display()
    ));
    assert!(ok, "{err}");
    // A different size: close reports EINVAL and the dataset keeps its contents.
    let mut keep = OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(m.path("keep"))
        .unwrap();
    keep.write_all(&[1, 2, 3]).unwrap();
    assert_eq!(errno_of(keep.sync_all()), libc::EINVAL, "fsync reports it");
    drop(keep);
    assert_eq!(
        write_close(&m.path("keep"), b"abc"),
        libc::EINVAL,
        "close reports it"
    );
    check_after(
        m,
        &file,
        "assert list(f['g'][()]) == [5, 6, 7], f['g'][()]
assert list(f['fixed'][()]) == [0, 10, 20, 30, 40, 50]
assert list(f['keep'][()]) == [0, 1, 2, 3, 4, 5]",
    );
}

#[test]
fn text_views_are_rewritten_whole() {
    if !fuse_available("text_views_are_rewritten_whole") {
        return;
    }
    let t = TempDir::new("text");
    let (file, m) = rw_mount(
        &t,
        "f.create_dataset('names', data=['a', 'b'], dtype=h5py.string_dtype(), maxshape=(None,), chunks=(4,))
f.create_dataset('fixed', data=['x', 'y'], dtype=h5py.string_dtype())
f.create_dataset('seq', data=np.array([np.array([1, 2]), np.array([3])], dtype=object), dtype=h5py.vlen_dtype('i4'))",
    );
    let (ok, err) = sh(&format!(
        "printf 'alpha\\nback\\\\\\\\slash\\ntwo\\\\nlines\\n' > {}",
        m.path("names").display()
    ));
    assert!(ok, "{err}");
    assert_eq!(
        std::fs::read_to_string(m.path("names")).unwrap(),
        "alpha\nback\\\\slash\ntwo\\nlines\n"
    );
    assert_eq!(
        write_close(&m.path("fixed"), b"one\n"),
        libc::EFBIG,
        "a fixed-size text view cannot change its element count"
    );
    let (ok, err) = sh(&format!(
        "printf '[7,8,9]\\n[]\\n' > {}",
        m.path("seq").display()
    ));
    assert!(ok, "{err}");
    check_after(
        m,
        &file,
        "assert [s.decode() for s in f['names'][()]] == ['alpha', 'back\\\\slash', 'two\\nlines'], f['names'][()]
assert [s.decode() for s in f['fixed'][()]] == ['x', 'y']
s = f['seq'][()]
assert list(s[0]) == [7, 8, 9] and list(s[1]) == [], s",
    );
}

#[test]
fn new_datasets_from_npy_sidecars_and_plain_files() {
    if !fuse_available("new_datasets_from_npy_sidecars_and_plain_files") {
        return;
    }
    let t = TempDir::new("create");
    let (file, m) = rw_mount(&t, "f.create_group('grp')");
    let npy = t.path().join("arr.npy");
    let out = python(&[
        "-c",
        &format!(
            "import numpy as np; np.save({:?}, np.arange(12, dtype='>f4').reshape(3, 4))",
            npy.to_str().unwrap()
        ),
    ]);
    assert!(out.status.success());
    let (ok, err) = sh(&format!(
        "cp {} {}/",
        npy.display(),
        m.path("grp").display()
    ));
    assert!(ok, "{err}");
    let listing = names_in(&m.path("grp"));
    assert!(listing.contains(&"arr".to_string()), "{listing:?}");
    assert!(!listing.contains(&"arr.npy".to_string()), "{listing:?}");
    // A sidecar with dtype and shape makes a dataset filled with its fill value.
    std::fs::write(
        m.path("grp/made.json"),
        r#"{"dtype": "<i2", "shape": [3, 2], "maxshape": [null, 2], "chunks": [2, 2], "compression": "gzip", "compression_opts": 5, "shuffle": true, "fillvalue": 42}"#,
    )
    .unwrap();
    // Resize through a rewritten sidecar.
    let side = std::fs::read_to_string(m.path("grp/made.json")).unwrap();
    let mut meta: serde_json::Value = serde_json::from_str(&side).unwrap();
    meta["shape"] = serde_json::json!([5, 2]);
    std::fs::write(m.path("grp/made.json"), serde_json::to_vec(&meta).unwrap()).unwrap();
    // Changing what HDF5 cannot change: EINVAL at close, nothing changes.
    meta["dtype"] = serde_json::json!("<f8");
    let mut f = File::create(m.path("grp/made.json")).unwrap();
    f.write_all(&serde_json::to_vec(&meta).unwrap()).unwrap();
    assert_eq!(errno_of(f.sync_all()), libc::EINVAL);
    drop(f);
    // Plain bytes round-trip exactly; touch makes an empty byte dataset.
    let photo = t.path().join("photo.jpg");
    let bytes: Vec<u8> = (0..200_000u32).map(|i| (i * 7919 % 251) as u8).collect();
    std::fs::write(&photo, &bytes).unwrap();
    let (ok, err) = sh(&format!(
        "cp {} {}/",
        photo.display(),
        m.path("grp").display()
    ));
    assert!(ok, "{err}");
    assert_eq!(std::fs::read(m.path("grp/photo.jpg")).unwrap(), bytes);
    let (ok, err) = sh(&format!("touch {}", m.path("x").display()));
    assert!(ok, "{err}");
    // Invalid .npy and sidecars: EINVAL at close, nothing created.
    let mut bad = File::create(m.path("bad.npy")).unwrap();
    bad.write_all(b"\x93NUMPY garbage").unwrap();
    assert_eq!(errno_of(bad.sync_all()), libc::EINVAL);
    drop(bad);
    assert_eq!(
        write_close(&m.path("bad2.json"), br#"{"dtype": "<q9", "shape": [2]}"#),
        libc::EINVAL
    );
    let names = names_in(&m.mnt);
    assert!(!names.iter().any(|n| n.starts_with("bad")), "{names:?}");
    // A close that applies a file being created takes its name out of the
    // listing at once, made or refused, though another descriptor (and so
    // the kernel's release) still holds it.
    for (name, sidecar, made) in [
        ("late", &br#"{"dtype": "<u1", "shape": [2]}"#[..], true),
        ("refused", &br#"{"dtype": "<u1"}"#[..], false),
    ] {
        let json = m.path(&format!("{name}.json"));
        let mut writer = File::create(&json).unwrap();
        let held = File::open(&json).unwrap();
        writer.write_all(sidecar).unwrap();
        // SAFETY: close of a descriptor we own, once; its errno is the point.
        let closed = unsafe { libc::close(std::os::fd::IntoRawFd::into_raw_fd(writer)) };
        assert_eq!(closed == 0, made, "{name}");
        let mut names = names_in(&m.mnt);
        names.retain(|n| n.starts_with(name));
        let want: &[&str] = if made {
            &[name, &format!("{name}.json")]
        } else {
            &[]
        };
        assert_eq!(names, want, "{name}");
        if made {
            drop(held);
            continue;
        }
        // The name made anew while the refused file is still held stays
        // when the old file is released (given time to be).
        let mut again = File::create(&json).unwrap();
        drop(held);
        std::thread::sleep(std::time::Duration::from_millis(300));
        assert!(json.exists(), "{name}: made anew, gone at the old release");
        again
            .write_all(br#"{"dtype": "<u1", "shape": [3]}"#)
            .unwrap();
        again.sync_all().unwrap();
    }
    check_after(
        m,
        &file,
        &format!(
            "a = f['grp/arr']
assert a.dtype == np.dtype('>f4') and a.shape == (3, 4) and a.maxshape == (None, 4) and a.chunks is not None
assert (a[()] == np.arange(12).reshape(3, 4)).all()
d = f['grp/made']
assert d.dtype == np.dtype('<i2') and d.shape == (5, 2) and d.maxshape == (None, 2) and d.chunks == (2, 2)
assert d.compression == 'gzip' and d.compression_opts == 5 and d.shuffle
assert (d[()] == 42).all()
p = f['grp/photo.jpg']
assert p.dtype == np.uint8 and p.ndim == 1 and p.maxshape == (None,)
assert p[()].tobytes() == open({:?}, 'rb').read()
assert f['x'].shape == (0,)
assert 'bad' not in f and 'bad2' not in f and 'bad.npy' not in f
assert f['late'].shape == (2,) and f['refused'].shape == (3,)",
            photo.to_str().unwrap()
        ),
    );
}

#[test]
fn namespace_mkdir_rmdir_unlink_rename_link_symlink() {
    if !fuse_available("namespace_mkdir_rmdir_unlink_rename_link_symlink") {
        return;
    }
    let t = TempDir::new("ns");
    let (file, m) = rw_mount(
        &t,
        "f['d'] = np.arange(3)
f['e'] = np.arange(4)
g = f.create_group('g'); g['x'] = np.arange(5)
f.create_group('empty')
f.create_group('full').create_group('inner')",
    );
    let (ok, err) = sh(&format!("mkdir -p {}", m.path("a/b/c").display()));
    assert!(ok, "{err}");
    assert_eq!(errno_of(std::fs::remove_dir(m.path("g"))), libc::ENOTEMPTY);
    assert_eq!(errno_of(std::fs::remove_dir(m.path("a/b/c"))), 0);
    // Removing a sidecar alone deletes nothing; removing the dataset takes both.
    assert_eq!(errno_of(std::fs::remove_file(m.path("e.json"))), 0);
    assert!(m.path("e").exists());
    assert_eq!(errno_of(std::fs::remove_file(m.path("e"))), 0);
    assert!(!m.path("e.json").exists());
    // rename: across groups (the sidecar follows), dataset over dataset, dir over empty dir.
    std::fs::rename(m.path("d"), m.path("g/d2")).unwrap();
    assert!(m.path("g/d2.json").exists() && !m.path("d.json").exists());
    std::fs::rename(m.path("g/d2"), m.path("g/x")).unwrap();
    std::fs::rename(m.path("a"), m.path("empty")).unwrap();
    assert_eq!(
        errno_of(std::fs::rename(m.path("empty"), m.path("full"))),
        libc::ENOTEMPTY
    );
    assert_eq!(
        errno_of(std::fs::rename(m.path("g/x"), m.path("full"))),
        libc::EISDIR
    );
    // Hard and soft links.
    std::fs::hard_link(m.path("g/x"), m.path("hard")).unwrap();
    assert_eq!(
        std::fs::metadata(m.path("hard")).unwrap().ino(),
        std::fs::metadata(m.path("g/x")).unwrap().ino()
    );
    assert_eq!(std::fs::metadata(m.path("hard")).unwrap().nlink(), 2);
    std::os::unix::fs::symlink("g/x", m.path("soft")).unwrap();
    assert_eq!(
        std::fs::read(m.path("soft")).unwrap(),
        std::fs::read(m.path("g/x")).unwrap()
    );
    assert_eq!(
        errno_of(std::os::unix::fs::symlink(
            "../../etc/passwd",
            m.path("out")
        )),
        libc::EPERM
    );
    assert_eq!(
        errno_of(std::os::unix::fs::symlink("/etc/passwd", m.path("out"))),
        libc::EPERM
    );
    // rm -r and rm -rf of whole groups, without messages.
    let (ok, err) = sh(&format!(
        "cp -r {} {} && rm -r {}",
        m.path("g").display(),
        m.path("g2").display(),
        m.path("g2").display()
    ));
    assert!(ok && err.is_empty(), "{err}");
    let (ok, err) = sh(&format!("rm -rf {}", m.path("full").display()));
    assert!(ok && err.is_empty(), "{err}");
    check_after(
        m,
        &file,
        "assert sorted(f.keys()) == ['empty', 'g', 'hard', 'soft'], list(f.keys())
assert list(f['empty'].keys()) == ['b']
assert list(f['g/x'][()]) == [0, 1, 2]
assert f['hard'].id == f['g/x'].id
assert f.get('soft', getlink=True).path == '/g/x'",
    );
}

#[test]
fn attributes_through_setfattr() {
    if !fuse_available("attributes_through_setfattr") {
        return;
    }
    let t = TempDir::new("xattr");
    let (file, m) = rw_mount(
        &t,
        "d = f.create_dataset('d', data=np.arange(3))
d.attrs['f32'] = np.float32(1.5)
d.attrs['arr'] = np.array([1, 2, 3], dtype='<i2')
d.attrs['name'] = 'old'
d.attrs['gone'] = 1",
    );
    let d = m.path("d");
    let ds = d.to_str().unwrap();
    for (name, value) in [
        ("user.int", "42"),
        ("user.float", "2.5"),
        ("user.list", "[[1, 2], [3, 4]]"),
        ("user.text", "hello world"),
        ("user.f32", "0.25"),
        ("user.arr", "[7, 8, 9]"),
        ("user.name", "new"),
    ] {
        let (ok, _, err) = run("setfattr", &["-n", name, "-v", value, ds]);
        assert!(ok, "setfattr {name}: {err}");
    }
    let (ok, _, err) = run("setfattr", &["-n", "user.f32", "-v", "not a number", ds]);
    assert!(!ok && err.contains("Invalid argument"), "{err}");
    let (ok, _, err) = run("setfattr", &["-n", "user.arr", "-v", "[1, 2]", ds]);
    assert!(
        !ok && err.contains("Invalid argument"),
        "wrong shape: {err}"
    );
    let (ok, _, err) = run("setfattr", &["-x", "user.gone", ds]);
    assert!(ok, "{err}");
    let (ok, _, err) = run("setfattr", &["-x", "user.gone", ds]);
    assert!(!ok && err.contains("No such attribute"), "{err}");
    // XATTR_CREATE on an existing name, XATTR_REPLACE on a missing one.
    let c = std::ffi::CString::new(ds).unwrap();
    let set = |name: &str, flags: i32| {
        let n = std::ffi::CString::new(name).unwrap();
        // SAFETY: plain syscall with valid C strings and buffer.
        let r = unsafe { libc::setxattr(c.as_ptr(), n.as_ptr(), b"1".as_ptr().cast(), 1, flags) };
        if r == 0 {
            0
        } else {
            std::io::Error::last_os_error().raw_os_error().unwrap()
        }
    };
    assert_eq!(set("user.int", libc::XATTR_CREATE), libc::EEXIST);
    assert_eq!(set("user.missing", libc::XATTR_REPLACE), libc::ENODATA);
    assert_eq!(set("trusted.x", 0), libc::EOPNOTSUPP);
    let (ok, out, _) = run("getfattr", &["--only-values", "-n", "user.f32", ds]);
    assert!(ok && out == "0.25", "{out}");
    check_after(
        m,
        &file,
        "a = f['d'].attrs
assert a['int'] == 42 and a['int'].dtype == np.int64
assert a['float'] == 2.5 and a['float'].dtype == np.float64
assert (a['list'] == [[1, 2], [3, 4]]).all() and a['list'].dtype == np.int64
assert a['text'] == 'hello world'
assert a['f32'] == 0.25 and a['f32'].dtype == np.float32
assert list(a['arr']) == [7, 8, 9] and a['arr'].dtype == np.dtype('<i2')
assert a['name'] == 'new'
assert 'gone' not in a",
    );
}

#[test]
fn everyday_tools_work() {
    if !fuse_available("everyday_tools_work") {
        return;
    }
    let t = TempDir::new("tools");
    let (file, m) = rw_mount(&t, "f['data'] = np.arange(4, dtype='<i8')");
    let src = t.path().join("src");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    std::fs::write(src.join("a.bin"), b"alpha bytes").unwrap();
    std::fs::write(src.join("sub/b.bin"), vec![7u8; 100_000]).unwrap();
    let mnt = m.mnt.display().to_string();
    let s = src.display().to_string();
    for cmd in [
        format!("cp -p {s}/a.bin {mnt}/cp_p.bin"),
        format!("cp -r {s} {mnt}/tree"),
        format!("mv {mnt}/cp_p.bin {mnt}/moved.bin"),
        format!("touch {mnt}/data"),
        format!(
            "tar -C {s} -cf {}/t.tar . && mkdir {mnt}/untar && tar -C {mnt}/untar -xf {}/t.tar",
            t.path().display(),
            t.path().display()
        ),
        format!("rsync -a {s}/ {mnt}/synced/"),
        format!("rsync -a {s}/ {mnt}/synced/"),
    ] {
        let (ok, err) = sh(&cmd);
        assert!(ok, "{cmd}: {err}");
    }
    for (p, from) in [
        ("moved.bin", "a.bin"),
        ("tree/a.bin", "a.bin"),
        ("tree/sub/b.bin", "sub/b.bin"),
        ("untar/sub/b.bin", "sub/b.bin"),
        ("synced/a.bin", "a.bin"),
        ("synced/sub/b.bin", "sub/b.bin"),
    ] {
        assert_eq!(
            std::fs::read(m.path(p)).unwrap(),
            std::fs::read(src.join(from)).unwrap(),
            "{p}"
        );
    }
    check_after(
        m,
        &file,
        "assert f['moved.bin'][()].tobytes() == b'alpha bytes'
assert f['synced/sub/b.bin'][()].tobytes() == b'\\x07' * 100000
assert list(f['data'][()]) == [0, 1, 2, 3]
assert not [k for k in f['synced'].keys() if k.startswith('.')], list(f['synced'].keys())",
    );
}

#[test]
fn fsynced_data_survives_kill_9() {
    if !fuse_available("fsynced_data_survives_kill_9") {
        return;
    }
    // The default format, and the latest one, whose superblock marks a file
    // open for writing while it is.
    for libver in ["earliest", "latest"] {
        let t = TempDir::new("crash");
        let file = t.path().join("crash.h5");
        let out = python(&[
            "-c",
            &format!(
                "import h5py, numpy as np\nwith h5py.File({:?}, 'w', libver={libver:?}) as f:\n    f.create_dataset('g', data=np.zeros(4, dtype='<f8'), maxshape=(None,), chunks=(16,))",
                file.to_str().unwrap()
            ),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let m = Mount::with(&file, &["-o", "rw"], &[]);
        let g = OpenOptions::new().write(true).open(m.path("g")).unwrap();
        let vals: Vec<u8> = (0..8)
            .flat_map(|i| (i as f64 + 0.5).to_le_bytes())
            .collect();
        g.write_all_at(&vals, 0).unwrap();
        g.sync_all().unwrap();
        std::fs::create_dir(m.path("made")).unwrap();
        let d = std::fs::File::open(&m.mnt).unwrap();
        d.sync_all().unwrap();
        // SAFETY: killing our own child.
        unsafe {
            libc::kill(m.pid() as i32, libc::SIGKILL);
        }
        drop(g);
        drop(d);
        drop(m);
        eprintln!("libver {libver}");
        read_h5(
            &file,
            "assert list(f['g'][()]) == [i + 0.5 for i in range(8)], f['g'][()]\nassert 'made' in f",
        );
    }
}

#[test]
fn rw_mount_refusals() {
    if !fuse_available("rw_mount_refusals") {
        return;
    }
    let t = TempDir::new("rwrefuse");
    let file = t.path().join("held.h5");
    let out = python(&[
        "-c",
        &format!(
            "import h5py; h5py.File({:?}, 'w')['x'] = [1]",
            file.to_str().unwrap()
        ),
    ]);
    assert!(out.status.success());
    let mnt = t.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    // Another process has the file open: -o rw needs it to itself.
    let ready = t.path().join("ready");
    let mut holder = Command::new(PYTHON)
        .arg("-c")
        .arg(format!(
            "import h5py, time, pathlib\nf = h5py.File({:?}, 'r')\npathlib.Path({:?}).touch()\ntime.sleep(30)",
            file.to_str().unwrap(),
            ready.to_str().unwrap()
        ))
        .spawn()
        .unwrap();
    while !ready.exists() {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let (ok, _, err) = run(
        BIN,
        &[file.to_str().unwrap(), mnt.to_str().unwrap(), "-o", "rw"],
    );
    let _ = holder.kill();
    let _ = holder.wait();
    assert!(!ok && err.contains("open in another process"), "{err}");
    assert!(!is_mounted(&mnt));
    // A file on a read-only file system (not writable even by root).
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        let ro = t.path().join("rofs");
        std::fs::create_dir(&ro).unwrap();
        let (ok, _, err) = run("mount", &["-t", "tmpfs", "tmpfs", ro.to_str().unwrap()]);
        assert!(ok, "{err}");
        std::fs::copy(&file, ro.join("f.h5")).unwrap();
        let (ok, _, err) = run("mount", &["-o", "remount,ro", ro.to_str().unwrap()]);
        assert!(ok, "{err}");
        let (ok, _, err) = run(
            BIN,
            &[
                ro.join("f.h5").to_str().unwrap(),
                mnt.to_str().unwrap(),
                "-o",
                "rw",
            ],
        );
        let _ = run("umount", &[ro.to_str().unwrap()]);
        assert!(!ok && err.contains("not writable"), "{err}");
        assert!(!is_mounted(&mnt));
    }
    // A read-only mount refuses every change with EROFS (more in tests/mapping.rs).
    let m = Mount::new(&file);
    assert_eq!(errno_of(std::fs::create_dir(m.path("g"))), libc::EROFS);
    assert_eq!(
        errno_of(OpenOptions::new().write(true).open(m.path("x"))),
        libc::EROFS
    );
}

#[test]
fn concurrent_writers_land_and_readers_never_see_torn_elements() {
    if !fuse_available("concurrent_writers_land_and_readers_never_see_torn_elements") {
        return;
    }
    let t = TempDir::new("concurrent-rw");
    let (file, m) = rw_mount(&t, "f['d'] = np.ones(20000, dtype='<f8')");
    let path = m.path("d");
    let n = 20000usize;
    std::thread::scope(|s| {
        // Two writers on disjoint halves, whose boundary splits an element.
        for w in 0..2u32 {
            let path = path.clone();
            s.spawn(move || {
                let f = OpenOptions::new().write(true).open(&path).unwrap();
                let value = 2.0f64 + w as f64;
                let all: Vec<u8> = (0..n).flat_map(|_| value.to_le_bytes()).collect();
                let half = n * 8 / 2 + 3;
                let (from, to) = if w == 0 { (0, half) } else { (half, n * 8) };
                let mut pos = from;
                while pos < to {
                    let end = (pos + 4096).min(to);
                    f.write_all_at(&all[pos..end], pos as u64).unwrap();
                    pos = end;
                }
            });
        }
        // A reader: every whole element it sees is one of the values ever written.
        let path = path.clone();
        s.spawn(move || {
            let f = File::open(&path).unwrap();
            for _ in 0..20 {
                let mut buf = vec![0u8; n * 8];
                f.read_exact_at(&mut buf, 0).unwrap();
                // The element the two writers split mixes their bytes by design.
                let split = (n * 8 / 2 + 3) / 8;
                for (i, c) in buf.chunks(8).enumerate().filter(|(i, _)| *i != split) {
                    let v = f64::from_le_bytes(c.try_into().unwrap());
                    assert!(v == 1.0 || v == 2.0 || v == 3.0, "torn element {i}: {c:?}");
                }
            }
        });
    });
    check_after(
        m,
        &file,
        "d = f['d'][()]
half = (20000 * 8 // 2 + 3)
raw = bytearray(np.full(20000, 2.0).tobytes())
raw[half:] = np.full(20000, 3.0).tobytes()[half:]
assert d.tobytes() == bytes(raw)",
    );
}

#[test]
fn editors_write_a_new_file_and_rename_it_over_the_old_one() {
    if !fuse_available("editors_write_a_new_file_and_rename_it_over_the_old_one") {
        return;
    }
    let t = TempDir::new("editor");
    let (file, m) = rw_mount(
        &t,
        "f.create_dataset('names', data=['alpha', 'beta'], dtype=h5py.string_dtype(), maxshape=(None,), chunks=(4,))
f.create_dataset('g', data=np.arange(8, dtype='<f4').reshape(4, 2), maxshape=(None, 2), chunks=(2, 2))
f['raw'] = np.arange(4, dtype='<i4')",
    );
    // sed -i writes a temporary file beside the original and renames it over.
    let (ok, err) = sh(&format!(
        "sed -i 's/beta/gamma/' {}",
        m.path("names").display()
    ));
    assert!(ok, "{err}");
    assert_eq!(
        std::fs::read_to_string(m.path("names")).unwrap(),
        "alpha\ngamma\n"
    );
    // The same for a sidecar: the dataset is resized, not replaced.
    let side = std::fs::read_to_string(m.path("g.json")).unwrap();
    let mut meta: serde_json::Value = serde_json::from_str(&side).unwrap();
    meta["shape"] = serde_json::json!([6, 2]);
    std::fs::write(
        m.path(".g.json.swp"),
        serde_json::to_vec_pretty(&meta).unwrap(),
    )
    .unwrap();
    std::fs::rename(m.path(".g.json.swp"), m.path("g.json")).unwrap();
    // And for raw data of the same size: the dataset keeps its type.
    let bytes: Vec<u8> = [9i32, 8, 7, 6]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    std::fs::write(m.path("raw.tmp"), &bytes).unwrap();
    std::fs::rename(m.path("raw.tmp"), m.path("raw")).unwrap();
    let names = names_in(&m.mnt);
    assert!(
        !names
            .iter()
            .any(|n| n.contains("tmp") || n.contains("swp") || n.starts_with("sed")),
        "{names:?}"
    );
    check_after(
        m,
        &file,
        "assert [s.decode() for s in f['names'][()]] == ['alpha', 'gamma']
g = f['g']
assert g.shape == (6, 2) and g.dtype == np.dtype('<f4')
assert (g[:4] == np.arange(8).reshape(4, 2)).all() and (g[4:] == 0).all()
assert f['raw'].dtype == np.dtype('<i4') and list(f['raw'][()]) == [9, 8, 7, 6]
assert sorted(f.keys()) == ['g', 'names', 'raw'], list(f.keys())",
    );
}

#[test]
fn external_files_stay_read_only_on_a_rw_mount() {
    if !fuse_available("external_files_stay_read_only_on_a_rw_mount") {
        return;
    }
    let t = TempDir::new("extro");
    let ext = t.path().join("ext.h5");
    make_h5(&ext, "f['v'] = [1, 2, 3]");
    let (file, m) = rw_mount(
        &t,
        "f['e'] = h5py.ExternalLink('ext.h5', '/v')\nf['own'] = [1]",
    );
    let err = OpenOptions::new()
        .write(true)
        .open(m.path("e"))
        .unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EPERM));
    assert_eq!(
        errno_of(
            OpenOptions::new()
                .write(true)
                .open(m.path("e"))
                .and_then(|f| f.set_len(0))
        ),
        libc::EPERM
    );
    let (ok, _, err) = run(
        "setfattr",
        &["-n", "user.x", "-v", "1", m.path("e").to_str().unwrap()],
    );
    assert!(!ok && err.contains("not permitted"), "{err}");
    // The external file is not held open for writing (that lock would keep readers out).
    let out = python(&[
        "-c",
        &format!(
            "import h5py\nh5py.File({:?}, 'r').close()",
            ext.to_str().unwrap()
        ),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    check_after(m, &file, "assert list(f['e'][()]) == [1, 2, 3]");
}

#[test]
fn write_corner_cases() {
    if !fuse_available("write_corner_cases") {
        return;
    }
    let t = TempDir::new("corners");
    let (file, m) = rw_mount(
        &t,
        "f.create_dataset('names', data=['a', 'b'], dtype=h5py.string_dtype(), maxshape=(None,), chunks=(4,))
f['d'] = [1, 2]
f['d'].attrs.create('seqs', data=np.array([np.array([1, 2]), np.array([3])], dtype=object), dtype=h5py.vlen_dtype('i4'))",
    );
    // A reader closing while a writer stages a rewrite applies nothing.
    let mut w = OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(m.path("names"))
        .unwrap();
    w.write_all(b"partial").unwrap();
    let r = File::open(m.path("names")).unwrap();
    drop(r);
    assert_eq!(std::fs::read_to_string(m.path("names")).unwrap(), "a\nb\n");
    w.write_all(b"\nwhole\n").unwrap();
    drop(w);
    assert_eq!(
        std::fs::read_to_string(m.path("names")).unwrap(),
        "partial\nwhole\n"
    );
    // A variable-length sequence attribute keeps its sequences when modified.
    let d = m.path("d");
    let (ok, _, err) = run(
        "setfattr",
        &[
            "-n",
            "user.seqs",
            "-v",
            "[[4, 5, 6], []]",
            d.to_str().unwrap(),
        ],
    );
    assert!(ok, "{err}");
    // A compressed dataset from a sidecar without chunks gets chunks within its maxshape.
    assert_eq!(
        write_close(
            &m.path("small.json"),
            br#"{"dtype": "<f4", "shape": [5], "compression": "lzf"}"#
        ),
        0
    );
    // A byte file that gets a sidecar is retyped and keeps its attributes.
    std::fs::write(m.path("x"), [1u8, 0, 0, 0, 2, 0, 0, 0]).unwrap();
    let (ok, _, err) = run(
        "setfattr",
        &[
            "-n",
            "user.note",
            "-v",
            "kept",
            m.path("x").to_str().unwrap(),
        ],
    );
    assert!(ok, "{err}");
    assert!(
        !m.path("x.json").exists(),
        "a byte file made here shows no sidecar yet"
    );
    assert_eq!(
        write_close(&m.path("x.json"), br#"{"dtype": "<i4", "shape": [2]}"#),
        0
    );
    check_after(
        m,
        &file,
        "assert [s.decode() for s in f['names'][()]] == ['partial', 'whole']
s = f['d'].attrs['seqs']
assert list(s[0]) == [4, 5, 6] and list(s[1]) == [], s
assert f['small'].shape == (5,) and f['small'].compression == 'lzf' and f['small'].chunks == (5,)
x = f['x']
assert x.dtype == np.dtype('<i4') and list(x[()]) == [1, 2]
assert x.attrs['note'] == 'kept'",
    );
}
