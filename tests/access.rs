//! How a file is opened: user blocks (`/.userblock`), libhdf5's drivers
//! (family, split, core, stdio), the format bounds of new objects
//! (`libver=`) and the chunk cache (`rdcc_*`). Real mounts, h5py as the
//! oracle (docs/SEMANTICS.md §14).

mod common;

use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::process::Command;

use common::*;

/// Python that fills `f` with what every test here reads: contiguous
/// data, gzip chunks with an edge chunk, strings, an attribute.
const BODY: &str = "\
f['contiguous'] = np.arange(30000, dtype='<f8').reshape(300, 100)
f.create_dataset('gzip', data=np.arange(50000, dtype='>i4'), chunks=(999,), compression='gzip', shuffle=True)
f['g/text'] = np.array([b'one', b'two'], dtype='S3')
f['g'].attrs['units'] = 'm/s'
";

fn clean(report: &serde_json::Value, what: &str) {
    let mismatches = report["mismatches"].as_array().map_or(0, |a| a.len());
    assert_eq!(mismatches, 0, "{what}: {report:#}");
    assert!(
        report["datasets"].as_u64().unwrap_or(0) >= 3,
        "{what}: the oracle walked nothing: {report:#}"
    );
}

/// Run h5fs, which must refuse to mount; its stderr.
fn refused(source: &Path, opts: &str) -> String {
    let dir = TempDir::new("refused");
    let out = Command::new(BIN)
        .arg(source)
        .arg(dir.path())
        .args(["-o", opts])
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "mounted {} -o {opts}",
        source.display()
    );
    assert!(!is_mounted(dir.path()));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn user_block_is_shown_read_and_written_in_place() {
    if !fuse_available("user_block") {
        return;
    }
    let dir = TempDir::new("userblock");
    let d = dir.path();
    py_in(
        d,
        &format!(
            "with h5py.File(dir + '/ub.h5', 'w', userblock_size=4096) as f:\n{}\n\
             open(dir + '/ub.h5', 'r+b').write(b'#!user block text\\n')\n\
             with h5py.File(dir + '/taken.h5', 'w', userblock_size=512) as f:\n    f['.userblock'] = np.arange(3)\n\
             with h5py.File(dir + '/none.h5', 'w') as f:\n    f['x'] = 1\n",
            indent(BODY)
        ),
    );
    let file = d.join("ub.h5");
    {
        let m = Mount::new(&file);
        let ub = m.path(".userblock");
        assert_eq!(std::fs::metadata(&ub).unwrap().len(), 4096);
        let bytes = std::fs::read(&ub).unwrap();
        assert_eq!(bytes, std::fs::read(&file).unwrap()[..4096]);
        assert!(bytes.starts_with(b"#!user block text\n"));
        clean(&oracle(&m, &file, &[]), "user block, read-only");
        assert_eq!(
            errno_of(OpenOptions::new().write(true).open(&ub)),
            libc::EROFS
        );
        assert!(m.finish());
    }
    {
        let m = Mount::with(&file, &["-o", "rw"], &[]);
        let ub = m.path(".userblock");
        let f = OpenOptions::new().write(true).open(&ub).unwrap();
        f.write_all_at(b"rewritten", 100).unwrap();
        f.write_all_at(b"end!", 4092).unwrap();
        assert_eq!(
            errno_of(f.write_all_at(b"over", 4094)),
            libc::EFBIG,
            "a user block does not grow"
        );
        assert_eq!(errno_of(f.set_len(10)), libc::EINVAL);
        f.set_len(4096).unwrap();
        drop(f);
        // O_TRUNC is accepted and changes nothing (as on a block device).
        let t = OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&ub)
            .unwrap();
        drop(t);
        assert_eq!(std::fs::metadata(&ub).unwrap().len(), 4096);
        assert_eq!(errno_of(std::fs::remove_file(&ub)), libc::EPERM);
        // A change of the HDF5 data beside it.
        std::fs::create_dir(m.path("added")).unwrap();
        assert!(m.finish());
    }
    let raw = std::fs::read(&file).unwrap();
    assert_eq!(&raw[100..109], b"rewritten");
    assert_eq!(&raw[4092..4096], b"end!");
    assert!(raw.starts_with(b"#!user block text\n"));
    let seen = read_h5(
        &file,
        "print(f.userblock_size, 'added' in f, f['gzip'][-1])",
    );
    assert_eq!(String::from_utf8_lossy(&seen).trim(), "4096 True 49999");

    // A member of that name wins; a file without a user block shows none.
    let m = Mount::new(&d.join("taken.h5"));
    assert_eq!(std::fs::metadata(m.path(".userblock")).unwrap().len(), 24);
    assert!(m.path(".userblock.json").exists());
    drop(m);
    let m = Mount::new(&d.join("none.h5"));
    assert_eq!(
        errno_of(std::fs::metadata(m.path(".userblock"))),
        libc::ENOENT
    );
    let names: Vec<_> = std::fs::read_dir(&m.mnt)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
}

fn indent(body: &str) -> String {
    body.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn family_split_core_and_stdio_files_mount_as_h5py_reads_them() {
    if !fuse_available("drivers") {
        return;
    }
    let dir = TempDir::new("drivers");
    let d = dir.path();
    py_in(
        d,
        &format!(
            "with h5py.File(dir + '/run-%05d.h5', 'w', driver='family', memb_size=64 << 10) as f:\n{b}\n\
             with h5py.File(dir + '/pair', 'w', driver='split') as f:\n{b}\n\
             with h5py.File(dir + '/pair2', 'w', driver='split', meta_ext=b'.meta', raw_ext=b'.raw') as f:\n{b}\n\
             with h5py.File(dir + '/plain.h5', 'w') as f:\n{b}\n",
            b = indent(BODY)
        ),
    );
    let members = std::fs::read_dir(d)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("run-")
        })
        .count();
    assert!(members > 4, "the family has {members} members");

    let family = d.join("run-%05d.h5");
    let m = Mount::with(&family, &["-o", "hdf5_workers=2"], &[]);
    clean(
        &oracle_with(&m, &family, &[], &["--driver", "family"]),
        "family",
    );
    assert!(
        m.log_text().is_empty() || !m.log_text().contains("direct reads off"),
        "{}",
        m.log_text()
    );
    drop(m);
    // The member size, given right, is accepted; given wrong, refused clearly.
    let m = Mount::with(&family, &["-o", "driver=family,memb_size=64K"], &[]);
    assert_eq!(std::fs::metadata(m.path("gzip")).unwrap().len(), 200_000);
    drop(m);
    let err = refused(&family, "memb_size=1000");
    assert!(err.contains("Family member size should be 65536"), "{err}");

    for (name, opts, ext) in [
        ("pair", "driver=split", None),
        ("pair-m.h5", "driver=split", None),
        (
            "pair2",
            "driver=split,meta_ext=.meta,raw_ext=.raw",
            Some(".meta"),
        ),
    ] {
        let src = d.join(name);
        let m = Mount::with(&src, &["-o", opts], &[]);
        let base = d.join(name.trim_end_matches("-m.h5"));
        let report = match ext {
            // The oracle opens the default extensions; check the other pair's bytes.
            Some(_) => {
                let got = std::fs::read(m.path("gzip")).unwrap();
                let want = Command::new(PYTHON)
                    .args(["-c", &format!(
                        "import h5py,sys; sys.stdout.buffer.write(h5py.File({:?}, driver='split', meta_ext=b'.meta', raw_ext=b'.raw')['gzip'][()].tobytes())",
                        base.to_str().unwrap())])
                    .output()
                    .unwrap()
                    .stdout;
                assert_eq!(got, want, "{name}");
                continue;
            }
            None => oracle_with(&m, &base, &[], &["--driver", "split"]),
        };
        clean(&report, name);
    }
    let err = refused(&d.join("nothing"), "driver=split");
    assert!(err.contains("nothing-m.h5"), "{err}");

    let plain = d.join("plain.h5");
    for opts in ["driver=core", "driver=stdio", "driver=sec2,direct_io"] {
        let m = Mount::with(&plain, &["-o", opts], &[]);
        clean(&oracle(&m, &plain, &[]), opts);
    }
    // Written through the stdio driver: fsync puts it on disk (the driver's
    // handle is a FILE*, not a descriptor).
    for driver in ["stdio", "sec2"] {
        let copy = d.join(format!("rw-{driver}.h5"));
        make_h5(&copy, "f['x'] = np.zeros(8, dtype='u1')");
        let m = Mount::with(&copy, &["-o", &format!("rw,driver={driver}")], &[]);
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(m.path("x"))
            .unwrap();
        std::os::unix::fs::FileExt::write_all_at(&f, &[0x5a], 0).unwrap();
        f.sync_all()
            .unwrap_or_else(|e| panic!("fsync, {driver}: {e}\n{}", m.log_text()));
        drop(f);
        assert!(m.finish());
        let first = read_h5(&copy, "sys.stdout.buffer.write(f['x'][()].tobytes()[:1])");
        assert_eq!(first, [0x5a], "{driver}");
    }
    for (opts, says) in [
        ("driver=core,rw", "read-only"),
        ("driver=family", "integer conversion"),
    ] {
        let err = refused(&plain, opts);
        assert!(err.contains(says), "{opts}: {err}");
    }
}

/// Family and split files on rw mounts: writes, a new dataset that needs
/// new family members, a group and an attribute, fsync of every part; h5py
/// with the same driver reads them back.
#[test]
fn family_and_split_files_are_written_on_rw_mounts() {
    if !fuse_available("family_split_rw") {
        return;
    }
    let dir = TempDir::new("partsrw");
    let d = dir.path();
    py_in(
        d,
        "with h5py.File(d + '/run-%03d.h5', 'w', driver='family', memb_size=64 << 10) as f:\n\
         \x20   f['x'] = np.zeros(1000)\n\
         with h5py.File(d + '/pair', 'w', driver='split') as f:\n\
         \x20   f['x'] = np.zeros(1000)\n",
    );
    let members = || {
        std::fs::read_dir(d)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with("run-")
            })
            .count()
    };
    let before = members();
    let values: Vec<u8> = (0..40_000u32)
        .flat_map(|v| f64::from(v).to_le_bytes())
        .collect();
    for (src, opts, open) in [
        ("run-%03d.h5", "rw", "driver='family', memb_size=64 << 10"),
        ("pair", "rw,driver=split", "driver='split'"),
    ] {
        let m = Mount::with(&d.join(src), &["-o", opts], &[]);
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(m.path("x"))
            .unwrap();
        std::os::unix::fs::FileExt::write_all_at(&f, &1.5f64.to_le_bytes(), 8).unwrap();
        assert_eq!(
            write_close(&m.path("big.npy"), &npy_file("<f8", 40_000, &values)),
            0,
            "{src}: {}",
            m.log_text()
        );
        std::fs::create_dir(m.path("g")).unwrap();
        let (ok, _, err) = run(
            "setfattr",
            &[
                "-n",
                "user.note",
                "-v",
                "parts",
                m.path("g").to_str().unwrap(),
            ],
        );
        assert!(ok, "{err}");
        f.sync_all()
            .unwrap_or_else(|e| panic!("fsync, {src}: {e}\n{}", m.log_text()));
        drop(f);
        assert!(m.finish(), "{src}");
        py_in(
            d,
            &format!(
                "f = h5py.File(d + '/{src}', 'r', {open})\n\
                 assert f['x'][1] == 1.5 and f['x'][0] == 0 and f['x'][2] == 0, f['x'][:3]\n\
                 assert np.array_equal(f['big'][()], np.arange(40000, dtype='<f8'))\n\
                 assert f['g'].attrs['note'] == 'parts', dict(f['g'].attrs)\n"
            ),
        );
    }
    // 320 KB more than 64 KiB members held: libhdf5 added members.
    assert!(members() >= before + 4, "{before} -> {}", members());
}

#[test]
fn libver_sets_the_format_of_new_objects_and_rdcc_the_chunk_cache() {
    if !fuse_available("libver") {
        return;
    }
    let dir = TempDir::new("libver");
    let file = dir.path().join("f.h5");
    // Object header version 1 is the earliest format, 2 that of v108 on.
    for (libver, header) in [("earliest", 1), ("v108", 2), ("latest", 2), ("v110", 2)] {
        make_h5(&file, "f['x'] = 1");
        let m = Mount::with(&file, &["-o", &format!("rw,libver={libver}")], &[]);
        std::fs::create_dir(m.path("g")).unwrap();
        std::fs::write(m.path("g/d.npy"), npy_file("|u1", 3, &[1, 2, 3])).unwrap();
        assert!(m.finish());
        let seen = read_h5(
            &file,
            "print(h5py.h5o.get_info(f['g'].id).hdr.version, h5py.h5o.get_info(f['g/d'].id).hdr.version, \
             f.id.get_create_plist().get_version()[0], list(f['g/d'][()]))",
        );
        assert_eq!(
            String::from_utf8_lossy(&seen).trim(),
            format!("{header} {header} 0 [1, 2, 3]"),
            "libver={libver}"
        );
    }
    let err = refused(&file, "libver=v112");
    assert!(err.contains("newer libhdf5"), "{err}");

    make_h5(
        &file,
        "f.create_dataset('c', data=np.arange(100000), chunks=(1000,), compression='gzip')",
    );
    let m = Mount::with(
        &file,
        &["-o", "rdcc_nbytes=4M,rdcc_nslots=10007,rdcc_w0=0.5", "-v"],
        &[],
    );
    assert_eq!(std::fs::read(m.path("c")).unwrap().len(), 800_000);
    let log = m.log_text();
    assert!(
        log.contains("chunk cache 10007 slots 4194304 bytes w0 0.5"),
        "libhdf5 holds the settings given: {log}"
    );
}
