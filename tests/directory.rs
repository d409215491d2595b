//! Directory mounts: `h5fs DIR MNT` (docs/SEMANTICS.md §15). Every HDF5
//! file of the tree, found by its signature, is a directory holding its
//! tree as a single-file mount shows it; other files are themselves. h5py
//! is the oracle.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::*;

/// tests/python/dir_check.py over the mount: its JSON report.
fn dir_check(mnt: &Path, src: &Path, seed: u32) -> serde_json::Value {
    let out = Command::new(PYTHON)
        .arg(repo().join("tests/python/dir_check.py"))
        .arg(mnt)
        .arg(src)
        .args(["--seed", &seed.to_string()])
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "dir_check.py: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn no_mismatches(r: &serde_json::Value) {
    assert_eq!(r["mismatches"].as_array().unwrap().len(), 0, "{r:#}");
}

#[test]
fn a_tree_of_mixed_files_shows_each_hdf5_file_as_its_tree() {
    if !fuse_available("directory_tree") {
        return;
    }
    let dir = TempDir::new("dirtree");
    let src = dir.path().join("src");
    std::fs::create_dir_all(src.join("run/2024")).unwrap();
    py_in(
        &src,
        "with h5py.File(d + '/a.h5', 'w') as f:\n\
         \x20   f['x'] = np.arange(1000, dtype='<i4')\n\
         \x20   f.create_dataset('g/z', data=np.arange(3000.).reshape(30, 100), chunks=(7, 11), compression='gzip')\n\
         \x20   f['g'].attrs['units'] = 'K'\n\
         with h5py.File(d + '/run/2024/scan.nxs', 'w', userblock_size=1024) as f:\n\
         \x20   f['entry/data'] = np.ones((4, 5), dtype='>f8')\n\
         with h5py.File(d + '/run/noext', 'w') as f:\n\
         \x20   f['v'] = np.arange(5, dtype='u1')\n\
         open(d + '/notes.txt', 'w').write('not hdf5\\n')\n\
         open(d + '/classic.nc', 'wb').write(b'CDF\\x01' + bytes(100))\n\
         os.symlink('a.h5', d + '/alias.h5')\n",
    );
    // A netCDF-4 file made by netCDF itself.
    let cdl = repo().join("tests/data/netcdf/cf.cdl");
    let (ok, _, err) = run(
        "ncgen",
        &[
            "-k",
            "nc4",
            "-o",
            src.join("run/cf.nc").to_str().unwrap(),
            cdl.to_str().unwrap(),
        ],
    );
    assert!(ok, "ncgen: {err}");

    let m = Mount::with(&src, &["-o", "max_open=2"], &[]);
    let kind = |rel: &str| {
        let md = std::fs::symlink_metadata(m.path(rel)).unwrap();
        if md.file_type().is_symlink() {
            "link"
        } else if md.is_dir() {
            "dir"
        } else {
            "file"
        }
    };
    assert_eq!(kind("a.h5"), "dir");
    assert_eq!(kind("run"), "dir");
    assert_eq!(
        kind("run/2024/scan.nxs"),
        "dir",
        "found by signature, past a user block"
    );
    assert_eq!(kind("run/noext"), "dir");
    assert_eq!(kind("run/cf.nc"), "dir", "netCDF-4 is HDF5");
    assert_eq!(kind("classic.nc"), "file", "netCDF-3 is not");
    assert_eq!(kind("notes.txt"), "file");
    assert_eq!(kind("alias.h5"), "link");
    assert_eq!(
        std::fs::read_link(m.path("alias.h5")).unwrap(),
        Path::new("a.h5")
    );
    assert_eq!(std::fs::read(m.path("notes.txt")).unwrap(), b"not hdf5\n");
    let names = names_in(&m.mnt);
    assert_eq!(
        names,
        ["a.h5", "alias.h5", "classic.nc", "notes.txt", "run"]
    );
    // Inside a file's directory, every single-file rule.
    assert_eq!(
        std::fs::read(m.path("run/2024/scan.nxs/.userblock"))
            .unwrap()
            .len(),
        1024
    );
    let (ok, out, _) = getfattr(&m.path("a.h5/g"), "user.units");
    assert!(ok && out == "K", "{out}");
    for (rel, args) in [
        ("a.h5", vec![]),
        ("run/2024/scan.nxs", vec![]),
        ("run/cf.nc", vec![]),
    ] {
        let report = oracle_in(&m, rel, &src.join(rel), &args);
        no_mismatches_oracle(&report, rel);
    }
    no_mismatches(&dir_check(&m.mnt, &src, 1));
    // Writes anywhere are refused: a directory mount is read-only.
    assert_eq!(errno_of(std::fs::create_dir(m.path("new"))), libc::EROFS);
    assert_eq!(
        errno_of(std::fs::create_dir(m.path("a.h5/new"))),
        libc::EROFS
    );
    assert_eq!(
        errno_of(
            std::fs::OpenOptions::new()
                .write(true)
                .open(m.path("notes.txt"))
        ),
        libc::EROFS
    );
    assert!(m.finish());
}

/// The oracle over one file's directory of a directory mount.
fn oracle_in(m: &Mount, rel: &str, file: &Path, args: &[&str]) -> serde_json::Value {
    let report = m.dir.path().join("oracle-dir.json");
    let out = Command::new(PYTHON)
        .arg(repo().join("tests/python/oracle.py"))
        .arg(m.path(rel))
        .arg(file)
        .arg("--json-out")
        .arg(&report)
        .args(args)
        .output()
        .unwrap();
    let text = std::fs::read_to_string(&report)
        .unwrap_or_else(|_| panic!("oracle: {}", String::from_utf8_lossy(&out.stderr)));
    serde_json::from_str(&text).unwrap()
}

fn no_mismatches_oracle(r: &serde_json::Value, what: &str) {
    assert_eq!(
        r["mismatches"].as_array().unwrap().len(),
        0,
        "{what}: {r:#}"
    );
    assert!(r["datasets"].as_u64().unwrap() > 0, "{what}: {r:#}");
}

#[test]
fn two_thousand_files_through_a_few_open_ones_read_right_in_any_order() {
    if !fuse_available("directory_many") {
        return;
    }
    let dir = TempDir::new("dirmany");
    let src = dir.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    py_in(
        &src,
        "for i in range(2000):\n\
         \x20   sub = os.path.join(d, 'b%02d' % (i % 20))\n\
         \x20   os.makedirs(sub, exist_ok=True)\n\
         \x20   with h5py.File(os.path.join(sub, 'f%04d.h5' % i), 'w') as f:\n\
         \x20       f['v'] = np.arange(i, i + 64, dtype='<i8')\n\
         \x20       f.create_dataset('c', data=np.full(300, i, dtype='<f4'), chunks=(50,), compression='gzip')\n",
    );
    let m = Mount::with(&src, &["-o", "max_open=16,hdf5_workers=2"], &[]);
    // Several processes at once, each in its own random order.
    let readers: Vec<_> = (0..4)
        .map(|seed| {
            let (mnt, src) = (m.mnt.clone(), src.clone());
            std::thread::spawn(move || dir_check(&mnt, &src, seed))
        })
        .collect();
    for r in readers {
        let report = r.join().unwrap();
        no_mismatches(&report);
        assert_eq!(report["hdf5"], 2000);
    }
    // Files let go are opened again on demand: a second pass still reads right.
    no_mismatches(&dir_check(&m.mnt, &src, 9));
    let fds = std::fs::read_dir(format!("/proc/{}/fd", m.pid()))
        .unwrap()
        .count();
    assert!(fds < 400, "the daemon holds {fds} descriptors");
    assert!(m.finish());
}

#[test]
fn files_added_removed_and_replaced_while_mounted() {
    if !fuse_available("directory_changes") {
        return;
    }
    let dir = TempDir::new("dirchange");
    let src = dir.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    let write = |name: &str, value: i32| {
        py_in(
            &src,
            &format!(
                "tmp = os.path.join(d, '.tmp-{name}')\n\
                 with h5py.File(tmp, 'w') as f:\n    f['x'] = np.full(100, {value}, dtype='<i4')\n\
                 os.rename(tmp, os.path.join(d, '{name}'))\n"
            ),
        )
    };
    write("keep.h5", 1);
    write("gone.h5", 2);
    write("swap.h5", 3);
    let m = Mount::with(&src, &["-o", "refresh=0.2"], &[]);
    let x = |name: &str| std::fs::read(m.path(&format!("{name}/x")));
    let value = |b: &[u8]| i32::from_le_bytes(b[..4].try_into().unwrap());
    assert_eq!(value(&x("swap.h5").unwrap()), 3);
    // A reader that has the old file open.
    let old = std::fs::File::open(m.path("swap.h5/x")).unwrap();

    write("new.h5", 4);
    std::fs::remove_file(src.join("gone.h5")).unwrap();
    write("swap.h5", 5);
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(value(&x("new.h5").unwrap()), 4, "an added file shows up");
    assert_eq!(
        errno_of(x("gone.h5")),
        libc::ENOENT,
        "a removed file is gone"
    );
    assert_eq!(
        value(&x("swap.h5").unwrap()),
        5,
        "a replaced file is read anew"
    );
    assert_eq!(value(&x("keep.h5").unwrap()), 1);
    let mut listed = names_in(&m.mnt);
    listed.retain(|n| !n.starts_with('.'));
    assert_eq!(listed, ["keep.h5", "new.h5", "swap.h5"]);
    // The old handle reads the old file whole, or fails: never the new bytes.
    use std::os::unix::fs::FileExt;
    let mut buf = vec![0u8; 400];
    match old.read_exact_at(&mut buf, 0) {
        Ok(()) => assert!(buf.chunks(4).all(|c| value(c) == 3), "a mix of old and new"),
        Err(e) => assert_eq!(e.raw_os_error(), Some(libc::ESTALE), "{e}"),
    }
    drop(old);
    assert!(m.finish());
}

#[test]
fn external_links_to_files_of_the_tree_are_symlinks_to_their_directories() {
    if !fuse_available("directory_links") {
        return;
    }
    let dir = TempDir::new("dirlinks");
    let src = dir.path().join("src");
    let outside = dir.path().join("outside.h5");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    py_in(
        &src,
        &format!(
            "with h5py.File(d + '/sub/b.h5', 'w') as f:\n\
             \x20   f['grp/data'] = np.arange(7, dtype='<i2')\n\
             with h5py.File({outside:?}, 'w') as f:\n\
             \x20   f['o'] = np.arange(3, dtype='u1')\n\
             with h5py.File(d + '/a.h5', 'w') as f:\n\
             \x20   f['ext'] = h5py.ExternalLink('sub/b.h5', '/grp/data')\n\
             \x20   f.create_group('g/h')\n\
             \x20   f['g/h/whole'] = h5py.ExternalLink('sub/b.h5', '/')\n\
             \x20   f['out'] = h5py.ExternalLink({outside:?}, '/o')\n\
             \x20   f['missing'] = h5py.ExternalLink('nope.h5', '/x')\n",
            outside = outside.to_str().unwrap()
        ),
    );
    let m = Mount::new(&src);
    let link = |rel: &str| std::fs::read_link(m.path(rel)).ok();
    assert_eq!(link("a.h5/ext"), Some("../sub/b.h5/grp/data".into()));
    assert_eq!(link("a.h5/g/h/whole"), Some("../../../sub/b.h5".into()));
    // Through the symlink: the other file's own directory.
    let want: Vec<u8> = (0..7i16).flat_map(|v| v.to_le_bytes()).collect();
    assert_eq!(std::fs::read(m.path("a.h5/ext")).unwrap(), want);
    assert!(m.path("a.h5/g/h/whole/grp/data.json").exists());
    // Outside the tree: followed in place, as in a single-file mount.
    assert_eq!(link("a.h5/out"), None);
    assert_eq!(std::fs::read(m.path("a.h5/out")).unwrap(), [0, 1, 2]);
    // Dangling: the link's text, as in a single-file mount.
    assert_eq!(link("a.h5/missing"), Some("nope.h5:/x".into()));
    assert!(m.finish());
}

#[test]
fn rw_changes_go_into_each_file_and_the_tree_stays_read_only() {
    if !fuse_available("directory_rw") {
        return;
    }
    let dir = TempDir::new("dirrw");
    let src = dir.path().join("src");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    py_in(
        &src,
        "with h5py.File(d + '/a.h5', 'w') as f:\n\
         \x20   f['x'] = np.arange(10, dtype='<i4')\n\
         \x20   f.create_dataset('grow', data=np.arange(4, dtype='<i4'), maxshape=(None,), chunks=(4,))\n\
         with h5py.File(d + '/sub/b.h5', 'w') as f:\n\
         \x20   f['y'] = np.arange(3.)\n\
         open(d + '/t.txt', 'w').write('t')\n",
    );
    let m = Mount::with(&src, &["-o", "rw"], &[]);
    use std::io::Write;
    use std::os::unix::fs::FileExt;
    std::fs::create_dir(m.path("a.h5/g")).unwrap();
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(m.path("a.h5/x"))
        .unwrap();
    f.write_all_at(&7i32.to_le_bytes(), 8).unwrap();
    drop(f);
    let mut g = std::fs::OpenOptions::new()
        .append(true)
        .open(m.path("a.h5/grow"))
        .unwrap();
    g.write_all(&[9u8; 8]).unwrap();
    drop(g);
    let (ok, _, err) = run(
        "setfattr",
        &[
            "-n",
            "user.note",
            "-v",
            "hi",
            m.path("a.h5/x").to_str().unwrap(),
        ],
    );
    assert!(ok, "{err}");
    std::fs::rename(m.path("a.h5/g"), m.path("a.h5/h")).unwrap();
    assert_eq!(
        errno_of(std::fs::rename(m.path("a.h5/h"), m.path("sub/b.h5/h"))),
        libc::EXDEV
    );
    std::fs::write(
        m.path("sub/b.h5/z.npy"),
        npy_file("<i8", 2, &[5i64, 6].map(i64::to_le_bytes).concat()),
    )
    .unwrap();
    // Outside the files' trees: EROFS.
    assert_eq!(errno_of(std::fs::create_dir(m.path("new"))), libc::EROFS);
    assert_eq!(errno_of(std::fs::write(m.path("t.txt"), b"x")), libc::EROFS);
    assert_eq!(errno_of(std::fs::remove_file(m.path("t.txt"))), libc::EROFS);
    assert_eq!(
        errno_of(std::fs::rename(m.path("t.txt"), m.path("a.h5/t"))),
        libc::EXDEV
    );
    // Each file stays the same file as this mount changes it.
    assert_eq!(std::fs::read(m.path("a.h5/grow")).unwrap().len(), 24);
    assert!(
        !m.log_text().contains("cannot open as HDF5"),
        "{}",
        m.log_text()
    );
    assert!(m.finish());
    let seen = read_h5(
        &src.join("a.h5"),
        "print(sorted(f), list(f['x'][:4]), list(f['grow'][()]), f['x'].attrs['note'])",
    );
    assert_eq!(
        String::from_utf8_lossy(&seen).trim(),
        "['grow', 'h', 'x'] [0, 1, 7, 3] [0, 1, 2, 3, 151587081, 151587081] hi"
    );
    let seen = read_h5(&src.join("sub/b.h5"), "print(sorted(f), list(f['z'][()]))");
    assert_eq!(String::from_utf8_lossy(&seen).trim(), "['y', 'z'] [5, 6]");
    assert_eq!(std::fs::read(src.join("t.txt")).unwrap(), b"t");
}

#[test]
fn an_fsynced_change_survives_its_worker_killed() {
    if !fuse_available("directory_fsync") {
        return;
    }
    let dir = TempDir::new("dirfsync");
    let src = dir.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    make_h5(&src.join("a.h5"), "f['x'] = np.arange(3)");
    let m = Mount::with(&src, &["-o", "rw"], &[]);
    std::fs::create_dir(m.path("a.h5/kept")).unwrap();
    // fsync of the file's directory (FUSE fsyncdir) flushes the file.
    std::fs::File::open(m.path("a.h5"))
        .unwrap()
        .sync_all()
        .unwrap();
    // Its libhdf5 worker dies without closing the file.
    let pid = m.pid();
    let mut killed = 0;
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
        let children = std::fs::read_to_string(task.unwrap().path().join("children")).unwrap();
        for c in children.split_whitespace() {
            // SAFETY: a plain kill(2) of a worker process of this test's daemon.
            unsafe { libc::kill(c.parse().unwrap(), libc::SIGKILL) };
            killed += 1;
        }
    }
    assert!(killed > 0, "no worker to kill");
    drop(m);
    let seen = read_h5(&src.join("a.h5"), "print('kept' in f, list(f['x'][()]))");
    assert_eq!(String::from_utf8_lossy(&seen).trim(), "True [0, 1, 2]");
}
