//! The mapping rules of docs/SEMANTICS.md, through real mounts of the fixtures
//! (tests/python/make_fixtures.py), checked with plain tools and with h5py.

mod common;

use std::ffi::CString;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::Path;
use std::process::Command;

use common::*;

fn fixture(name: &str) -> std::path::PathBuf {
    fixtures().join(name)
}

/// h5py's bytes for a dataset: `ds[()].tobytes()`.
fn h5py_bytes(file: &Path, path: &str) -> Vec<u8> {
    read_h5(
        file,
        &format!("sys.stdout.buffer.write(np.asarray(f[{path:?}][()]).tobytes())"),
    )
}

fn stdout_of(cmd: &str, args: &[&str]) -> Vec<u8> {
    let out = Command::new(cmd).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn fixtures_match_h5py() {
    if !fuse_available("fixtures_match_h5py") {
        return;
    }
    for name in ["types.h5", "links.h5", "ext.h5"] {
        let f = fixture(name);
        let m = Mount::with(&f, &["-o", "views=all"], &[]);
        let report = oracle_with(&m, &f, &[], &["--views", "all"]);
        let mismatches = report["mismatches"].as_array().unwrap();
        assert!(mismatches.is_empty(), "{name}: {mismatches:#?}");
        let views = views_check(&m, &f, "all", &[]);
        let mismatches = views["mismatches"].as_array().unwrap();
        assert!(mismatches.is_empty(), "{name} views: {mismatches:#?}");
        if name == "types.h5" {
            for (view, least) in [("npy", 70), ("envi", 40), ("nrrd", 50), ("mhd", 50)] {
                assert!(views[view].as_u64().unwrap() >= least, "{views}");
            }
        }
        assert!(report["datasets"].as_u64().unwrap() > 5, "{name}: {report}");
        if name == "types.h5" {
            let eio: Vec<&str> = report["eio"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect();
            assert_eq!(eio, vec!["/unreadable/u128", "/unreadable/unknown_filter"]);
            let log = m.log_text();
            assert!(
                log.lines().any(|l| l.contains("/unreadable/unknown_filter")
                    && l.contains("needs filter 32123")),
                "no log line names the missing filter:\n{log}"
            );
            assert!(
                log.lines()
                    .any(|l| l.contains("/unreadable/u128") && l.contains("type cannot be shown")),
                "no log line names the unsupported type:\n{log}"
            );
            // The rest of the group still reads.
            assert_eq!(
                std::fs::read(m.path("unreadable/readable_neighbour")).unwrap(),
                h5py_bytes(&f, "/unreadable/readable_neighbour")
            );
        }
        assert!(m.finish(), "{name}: daemon did not exit cleanly");
    }
}

#[test]
fn cat_dd_and_stat_give_h5pys_bytes() {
    if !fuse_available("cat_dd_and_stat_give_h5pys_bytes") {
        return;
    }
    let f = fixture("types.h5");
    let m = Mount::new(&f);
    for ds in [
        "layout/contiguous_be_2d",
        "layout/chunked3d",
        "layout/chunked_edge",
        "filters/gzip_shuffle",
        "filters/gzip9_i8_be",
        "compound/padded",
        "strings/fixed_ascii_spacepad",
        "floats/f2_be",
        "array/i2x2x3_be",
        "scalar/c16",
    ] {
        let want = h5py_bytes(&f, &format!("/{ds}"));
        let p = m.path(ds);
        let ps = p.to_str().unwrap();
        assert_eq!(stdout_of("cat", &[ps]), want, "cat {ds}");
        let size = String::from_utf8(stdout_of("stat", &["-c", "%s", ps])).unwrap();
        assert_eq!(size.trim(), want.len().to_string(), "stat size {ds}");
        // dd at odd offsets and lengths, also running past the end.
        for (skip, count) in [
            (3usize, 17usize),
            (1, 1),
            (want.len().saturating_sub(5), 100),
            (7, 4096),
        ] {
            let got = stdout_of(
                "dd",
                &[
                    &format!("if={ps}"),
                    "iflag=skip_bytes,count_bytes",
                    "bs=7",
                    &format!("skip={skip}"),
                    &format!("count={count}"),
                    "status=none",
                ],
            );
            let end = (skip + count).min(want.len());
            let exp = if skip >= want.len() {
                &[][..]
            } else {
                &want[skip..end]
            };
            assert_eq!(got, exp, "dd {ds} skip={skip} count={count}");
        }
    }
    // Empty and zero-sized datasets are empty files.
    for ds in ["empty/f4", "empty/zero_size_2d", "vlen/str_empty"] {
        assert_eq!(std::fs::metadata(m.path(ds)).unwrap().len(), 0, "{ds}");
        assert!(std::fs::read(m.path(ds)).unwrap().is_empty(), "{ds}");
    }
}

#[test]
fn numpy_fromfile_with_the_sidecar_rebuilds_the_array() {
    if !fuse_available("numpy_fromfile_with_the_sidecar_rebuilds_the_array") {
        return;
    }
    let f = fixture("types.h5");
    let m = Mount::new(&f);
    let script = format!(
        r#"
import json, h5py, numpy as np
from numpy.lib.format import descr_to_dtype
def tup(d):
    if isinstance(d, list):
        return [tuple([x[0], tup(x[1])] + ([tuple(x[2])] if len(x) > 2 else [])) for x in d]
    return d
f = h5py.File({file:?}, 'r')
for p in ['layout/chunked3d', 'compound/padded', 'compound/nested', 'array/f8x3', 'misc/c16_be',
          'opaque/datetime64_s', 'floats/f2_be', 'bitfield/b16be', 'enum/enum_u2_be', 'scalar/i4']:
    meta = json.load(open({mnt:?} + '/' + p + '.json'))
    a = np.fromfile({mnt:?} + '/' + p, dtype=descr_to_dtype(tup(meta['dtype']))).reshape(meta['shape'])
    b = f[p][()]
    assert a.shape == b.shape, (p, a.shape, b.shape)
    assert a.tobytes() == np.asarray(b).tobytes(), p
    assert meta['representation'] == 'raw', p
print('ok')
"#,
        file = f.to_str().unwrap(),
        mnt = m.mnt.to_str().unwrap()
    );
    let out = python(&["-c", &script]);
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn text_views_of_variable_length_data() {
    if !fuse_available("text_views_of_variable_length_data") {
        return;
    }
    let f = fixture("types.h5");
    let m = Mount::new(&f);
    let out = read_h5(&f, "for s in f['/vlen/str_ascii'][()]:\n    sys.stdout.buffer.write(s.replace(b'\\\\', b'\\\\\\\\').replace(b'\\n', b'\\\\n') + b'\\n')");
    assert_eq!(std::fs::read(m.path("vlen/str_ascii")).unwrap(), out);
    let seq = std::fs::read_to_string(m.path("vlen/int_seq")).unwrap();
    assert!(
        seq.lines().all(|l| l.starts_with('[') && l.ends_with(']')),
        "{seq}"
    );
    let refs = std::fs::read_to_string(m.path("refs/objref")).unwrap();
    assert!(refs.lines().any(|l| l.starts_with('/')), "{refs}");
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(m.path("vlen/str_ascii.json")).unwrap()).unwrap();
    assert_eq!(meta["representation"], "text");
    assert_eq!(meta["text_format"], "lines");
}

#[test]
fn listing_order_links_and_inodes() {
    if !fuse_available("listing_order_links_and_inodes") {
        return;
    }
    let f = fixture("links.h5");
    let m = Mount::new(&f);
    // ls -f lists in the order readdir gives, which is the file's own.
    let out = read_h5(&f, "g = f['/']\nfor k in g:\n    print(k)\n    l = g.get(k, getlink=True)\n    if not isinstance(l, h5py.SoftLink) and isinstance(g.get(k), h5py.Dataset) and k + '.json' not in g:\n        print(k + '.json')");
    let want = String::from_utf8(out).unwrap();
    let ls = String::from_utf8(stdout_of("ls", &["-f", "-1", m.mnt.to_str().unwrap()])).unwrap();
    let got: Vec<&str> = ls.lines().filter(|l| *l != "." && *l != "..").collect();
    assert_eq!(got, want.lines().collect::<Vec<_>>());

    // Soft links: relative symlinks; hard links: one inode, nlink = link count.
    let out = read_h5(&f, "def walk(g, p):\n    for k in g:\n        l = g.get(k, getlink=True)\n        if isinstance(l, h5py.SoftLink):\n            print('soft', p + k, l.path)\n        elif isinstance(l, h5py.HardLink) and isinstance(g[k], h5py.Group):\n            walk(g[k], p + k + '/')\nwalk(f['/'], '')");
    let softs = String::from_utf8(out).unwrap();
    assert!(
        softs.lines().count() >= 3,
        "fixture has soft links: {softs}"
    );
    for line in softs.lines() {
        let mut parts = line.splitn(3, ' ');
        let (_, path, target) = (parts.next(), parts.next().unwrap(), parts.next().unwrap());
        let text =
            String::from_utf8(stdout_of("readlink", &[m.path(path).to_str().unwrap()])).unwrap();
        let text = text.trim_end_matches('\n');
        assert!(!text.starts_with('/'), "{path}: absolute symlink {text}");
        if !target.starts_with('/') {
            assert_eq!(text, target, "{path}: relative soft link kept as is");
        }
    }
    let out = read_h5(&f, "seen = {}\ndef walk(g, p):\n    for k in g:\n        l = g.get(k, getlink=True)\n        if isinstance(l, h5py.HardLink):\n            o = g[k]\n            seen.setdefault(h5py.h5o.get_info(o.id).addr, []).append((p + k, h5py.h5o.get_info(o.id).rc))\n            if isinstance(o, h5py.Group) and len(seen[h5py.h5o.get_info(o.id).addr]) == 1:\n                walk(o, p + k + '/')\nwalk(f['/'], '')\nfor v in seen.values():\n    if len(v) > 1:\n        print(' '.join(n for n, _ in v), v[0][1])");
    let groups = String::from_utf8(out).unwrap();
    assert!(!groups.is_empty(), "fixture has hard links");
    for line in groups.lines() {
        let mut names: Vec<&str> = line.split(' ').collect();
        let rc: u64 = names.pop().unwrap().parse().unwrap();
        let inos: Vec<(u64, u64)> = names
            .iter()
            .map(|n| {
                let md = std::fs::symlink_metadata(m.path(n)).unwrap();
                (md.ino(), md.nlink())
            })
            .collect();
        assert!(inos.iter().all(|i| i.0 == inos[0].0), "{line}: {inos:?}");
        assert!(
            inos.iter().all(|i| i.1 == rc),
            "{line}: nlink {inos:?} != {rc}"
        );
    }
}

fn getxattr(path: &Path, name: &str, size: usize) -> Result<(isize, Vec<u8>), i32> {
    let p = CString::new(path.as_os_str().as_bytes()).unwrap();
    let n = CString::new(name).unwrap();
    let mut buf = vec![0u8; size];
    // SAFETY: plain syscall into a buffer of the given size.
    let r = unsafe {
        libc::getxattr(
            p.as_ptr(),
            n.as_ptr(),
            if size == 0 {
                std::ptr::null_mut()
            } else {
                buf.as_mut_ptr().cast()
            },
            size,
        )
    };
    if r < 0 {
        Err(std::io::Error::last_os_error().raw_os_error().unwrap())
    } else {
        buf.truncate(if size == 0 { 0 } else { r as usize });
        Ok((r, buf))
    }
}

#[test]
fn attributes_are_xattrs_with_the_size_protocol() {
    if !fuse_available("attributes_are_xattrs_with_the_size_protocol") {
        return;
    }
    let f = fixture("types.h5");
    let m = Mount::new(&f);
    let out = read_h5(&f, "for k, v in f['/attrs'].attrs.items():\n    if isinstance(v, (bytes, str)) and len(v) < 1000:\n        print(k)");
    let string_attrs = String::from_utf8(out).unwrap();
    let first = string_attrs
        .lines()
        .next()
        .expect("a string attribute on /attrs");
    let name = format!("user.{first}");
    let dir = m.path("attrs");
    let (len, _) = getxattr(&dir, &name, 0).unwrap();
    assert!(len > 0);
    let (n, value) = getxattr(&dir, &name, len as usize).unwrap();
    assert_eq!(n, len);
    let shown = stdout_of(
        "getfattr",
        &["--only-values", "-n", &name, dir.to_str().unwrap()],
    );
    assert_eq!(shown, value, "getfattr shows the same text");
    assert!(!value.ends_with(b"\0") && !value.ends_with(b"\n"));
    if len > 1 {
        assert_eq!(getxattr(&dir, &name, (len - 1) as usize), Err(libc::ERANGE));
    }
    assert_eq!(
        getxattr(&dir, "user.no_such_attribute", 64),
        Err(libc::ENODATA)
    );
    assert_eq!(getxattr(&dir, "trusted.x", 64), Err(libc::ENODATA));
    // A value over 64 KiB cannot pass through getxattr: E2BIG, but it is listed.
    let names = {
        let p = CString::new(dir.as_os_str().as_bytes()).unwrap();
        let mut buf = vec![0u8; 1 << 16];
        // SAFETY: plain syscall into our buffer.
        let r = unsafe { libc::listxattr(p.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
        assert!(r > 0);
        buf.truncate(r as usize);
        buf.split(|b| *b == 0)
            .filter(|s| !s.is_empty())
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .collect::<Vec<_>>()
    };
    assert!(names.iter().all(|n| n.starts_with("user.")), "{names:?}");
    assert!(names.iter().any(|n| n == "user.big_string"), "{names:?}");
    assert_eq!(getxattr(&dir, "user.big_string", 0), Err(libc::E2BIG));
    assert_eq!(getxattr(&dir, "user.big_string", 1 << 16), Err(libc::E2BIG));
    // On a dataset the value is whole in the sidecar.
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(m.path("attrs/dataset.json")).unwrap()).unwrap();
    let big = meta["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "big_string")
        .expect("big_string in the sidecar");
    assert_eq!(big["value"].as_str().unwrap().len(), 70000);
}

#[test]
fn the_mount_is_read_only() {
    if !fuse_available("the_mount_is_read_only") {
        return;
    }
    let f = fixture("types.h5");
    let m = Mount::new(&f);
    let ds = m.path("ints/i4_le");
    let err = std::fs::OpenOptions::new()
        .write(true)
        .open(&ds)
        .unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EROFS));
    let err = std::fs::create_dir(m.path("newgroup")).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EROFS));
    let err = std::fs::write(m.path("new.bin"), b"x").unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EROFS));
    let err = std::fs::remove_file(&ds).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EROFS));
    let (ok, _, err) = run(
        "setfattr",
        &["-n", "user.x", "-v", "1", ds.to_str().unwrap()],
    );
    assert!(!ok && err.contains("Read-only"), "{err}");
    // The file is untouched.
    assert_eq!(std::fs::read(&ds).unwrap(), h5py_bytes(&f, "/ints/i4_le"));
}

#[test]
fn modes_owner_options_mtime_and_df() {
    if !fuse_available("modes_owner_options_mtime_and_df") {
        return;
    }
    let f = fixture("types.h5");
    {
        let m = Mount::new(&f);
        let d = std::fs::metadata(m.path("ints")).unwrap();
        let fl = std::fs::metadata(m.path("ints/i4_le")).unwrap();
        assert_eq!(d.mode() & 0o7777, 0o555);
        assert_eq!(fl.mode() & 0o7777, 0o444);
        // SAFETY: getuid cannot fail.
        assert_eq!(fl.uid(), unsafe { libc::getuid() });
        // Without recorded times (these fixtures are reproducible), the file's mtime.
        let file_mtime = std::fs::metadata(&f).unwrap().mtime();
        assert_eq!(fl.mtime(), file_mtime);
        let (ok, out, err) = run("df", &[m.mnt.to_str().unwrap()]);
        assert!(ok, "df failed: {err}");
        assert!(out.lines().count() == 2, "{out}");
    }
    let m = Mount::with(&f, &["-o", "ro,uid=1234,gid=567,umask=027"], &[]);
    let d = std::fs::metadata(m.path("ints")).unwrap();
    let fl = std::fs::metadata(m.path("ints/i4_le")).unwrap();
    assert_eq!((fl.uid(), fl.gid()), (1234, 567));
    assert_eq!(d.mode() & 0o7777, 0o550);
    assert_eq!(fl.mode() & 0o7777, 0o440);
}

#[test]
fn mtime_is_the_objects_recorded_time() {
    if !fuse_available("mtime_is_the_objects_recorded_time") {
        return;
    }
    let t = TempDir::new("mtime");
    let file = t.path().join("times.h5");
    make_h5(
        &file,
        "f.create_dataset('t', data=[1, 2], track_times=True)\nf.create_dataset('n', data=[1, 2], track_times=False)",
    );
    let out = read_h5(&file, "print(h5py.h5g.get_objinfo(f.id, b'/t').mtime)");
    let recorded: i64 = String::from_utf8(out).unwrap().trim().parse().unwrap();
    assert!(recorded > 0);
    // Make the file's own mtime differ from the recorded time.
    let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000);
    std::fs::File::options()
        .write(true)
        .open(&file)
        .unwrap()
        .set_modified(old)
        .unwrap();
    let m = Mount::new(&file);
    assert_eq!(std::fs::metadata(m.path("t")).unwrap().mtime(), recorded);
    assert_eq!(
        std::fs::metadata(m.path("n")).unwrap().mtime(),
        1_000_000_000
    );
}

#[test]
fn concurrent_readers_get_correct_bytes() {
    if !fuse_available("concurrent_readers_get_correct_bytes") {
        return;
    }
    let t = TempDir::new("concurrent");
    let file = t.path().join("big.h5");
    make_h5(
        &file,
        "rng = np.random.default_rng(7)
f['contig'] = rng.random((512, 1024))
f.create_dataset('gzip', data=rng.integers(0, 1000, (700, 777)).astype('>i4'), chunks=(64, 100), compression='gzip', shuffle=True)",
    );
    let want_c = h5py_bytes(&file, "/contig");
    let want_g = h5py_bytes(&file, "/gzip");
    // Through the page cache (the default) and with -o direct_io (read-ahead).
    for opts in [&[][..], &["-o", "ro,direct_io"][..]] {
        let m = Mount::with(&file, opts, &[]);
        read_concurrently(&m, &want_c, &want_g);
    }
}

fn read_concurrently(m: &Mount, want_c: &[u8], want_g: &[u8]) {
    // Threads sharing one open file, each reading the next piece in turn.
    for (name, want) in [("contig", want_c), ("gzip", want_g)] {
        let f = std::fs::File::open(m.path(name)).unwrap();
        let next = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| loop {
                    let piece = 70_001;
                    let off = next.fetch_add(piece, std::sync::atomic::Ordering::SeqCst);
                    if off >= want.len() {
                        break;
                    }
                    let mut buf = vec![0u8; piece];
                    let n = f.read_at(&mut buf, off as u64).unwrap();
                    let end = (off + piece).min(want.len());
                    assert_eq!(n, end - off);
                    assert!(
                        buf[..n] == want[off..end],
                        "{name}: shared file, wrong bytes at {off}"
                    );
                });
            }
        });
    }
    // Several processes reading whole files at once.
    let children: Vec<_> = (0..4)
        .map(|i| {
            let p = m.path(if i % 2 == 0 { "contig" } else { "gzip" });
            Command::new("cat").arg(p).output_spawned()
        })
        .collect();
    for (i, c) in children.into_iter().enumerate() {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success());
        let want = if i % 2 == 0 { want_c } else { want_g };
        assert!(out.stdout == *want, "reader {i} got wrong bytes");
    }
    // Threads reading the same files at different odd offsets at once.
    std::thread::scope(|s| {
        for t in 0..6u64 {
            let (path, want) = if t % 2 == 0 {
                (m.path("contig"), want_c)
            } else {
                (m.path("gzip"), want_g)
            };
            s.spawn(move || {
                let f = std::fs::File::open(&path).unwrap();
                let mut state = 12345 + t;
                for _ in 0..200 {
                    state = state
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    let off = (state >> 17) as usize % want.len();
                    let len = 1 + (state >> 7) as usize % 20000;
                    let mut buf = vec![0u8; len];
                    let n = f.read_at(&mut buf, off as u64).unwrap();
                    let end = (off + len).min(want.len());
                    assert_eq!(n, end - off);
                    assert!(
                        buf[..n] == want[off..end],
                        "thread {t}: wrong bytes at {off}+{len}"
                    );
                }
            });
        }
    });
}

trait SpawnOutput {
    fn output_spawned(&mut self) -> std::process::Child;
}

impl SpawnOutput for Command {
    fn output_spawned(&mut self) -> std::process::Child {
        self.stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    }
}

#[test]
fn a_link_back_to_the_root_is_a_symlink_to_it() {
    if !fuse_available("a_link_back_to_the_root_is_a_symlink_to_it") {
        return;
    }
    let t = TempDir::new("rootlink");
    let file = t.path().join("cycle.h5");
    make_h5(
        &file,
        "g = f.create_group('g')\ng['root'] = f['/']\ng['x'] = [1]",
    );
    let m = Mount::new(&file);
    assert_eq!(
        std::fs::read_link(m.path("g/root")).unwrap(),
        Path::new("..")
    );
    assert!(m.path("g/root/g/x").exists());
}

#[test]
fn direct_reads_give_h5pys_bytes_for_every_layout() {
    if !fuse_available("direct_reads_give_h5pys_bytes_for_every_layout") {
        return;
    }
    let t = TempDir::new("fast");
    let file = t.path().join("fast.h5");
    // A user block shifts every address; all layouts the direct path handles
    // (chunks of at least 64 KiB), with partial edge chunks and chunks never
    // written, and small chunks, which libhdf5 reads.
    let out = python(&[
        "-c",
        &format!(
            "import h5py, numpy as np
rng = np.random.default_rng(3)
with h5py.File({:?}, 'w', userblock_size=1024) as f:
    f['contig'] = rng.random(1000).astype('<f4')
    f.create_dataset('chunked', data=rng.integers(0, 99, (300, 200)).astype('<i2'), chunks=(256, 128))
    f.create_dataset('gzip', data=rng.random((300, 200)), chunks=(96, 96), compression='gzip', compression_opts=4)
    f.create_dataset('shuffle_gzip', data=rng.integers(-9, 9, (40, 50, 60)).astype('>i8'), chunks=(20, 25, 30), shuffle=True, compression='gzip')
    d = f.create_dataset('sparse', shape=(250, 200), dtype='<f8', chunks=(96, 96), fillvalue=3.5)
    d[0:10, 0:10] = 1.0
    d[240:250, 130:200] = 2.0
    f.create_dataset('lzf', data=np.arange(500, dtype='<u4'), chunks=(64,), compression='lzf')
    c = f.create_dataset('chunked_1d', shape=(100000,), dtype='>u4', chunks=(16384,), fillvalue=7)
    c[20000:40000] = np.arange(20000)
    c[90000:] = 5
    f.create_dataset('small_chunks', data=rng.integers(0, 99, (37, 23)).astype('<i2'), chunks=(8, 5))
    # Fill time 'never': chunks never written read as zeros, not the fill value.
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_chunk((200, 82))
    dcpl.set_fill_value(np.array(7, '<i4'))
    dcpl.set_fill_time(h5py.h5d.FILL_TIME_NEVER)
    h5py.h5d.create(f.id, b'fill_never', h5py.h5t.STD_I32LE, h5py.h5s.create_simple((300, 100)), dcpl)
    f['fill_never'][0:150, 0:50] = 1",
            file.to_str().unwrap()
        ),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Through the page cache (the default) and with -o direct_io.
    for opts in [&[][..], &["-o", "ro,direct_io"][..]] {
        let m = Mount::with(&file, opts, &[]);
        check_every_layout(&m, &file);
    }
}

fn check_every_layout(m: &Mount, file: &Path) {
    for ds in [
        "contig",
        "chunked",
        "chunked_1d",
        "gzip",
        "shuffle_gzip",
        "sparse",
        "lzf",
        "fill_never",
        "small_chunks",
    ] {
        // Into a zeroed buffer: libhdf5 leaves chunks it skips untouched.
        let want = read_h5(
            file,
            &format!(
                "d = f['/{ds}']; a = np.zeros(d.shape, d.dtype); d.read_direct(a); \
                 sys.stdout.buffer.write(a.tobytes())"
            ),
        );
        let p = m.path(ds);
        assert_eq!(std::fs::read(&p).unwrap(), want, "{ds}: whole file");
        // One reader going on sequentially with requests of changing sizes
        // (read-ahead under -o direct_io guesses the next request's size).
        let mut f = std::fs::File::open(&p).unwrap();
        let mut got = Vec::new();
        for size in [100, 100, 37, 400, 4096, 3, 3, 9000, 1, 65536]
            .iter()
            .cycle()
        {
            let mut buf = vec![0u8; *size];
            let n = f.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        assert!(got == want, "{ds}: sequential reads of changing sizes");
        let f = std::fs::File::open(&p).unwrap();
        let mut state = 99u64;
        for _ in 0..200 {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let off = (state >> 20) as usize % want.len();
            let len = 1 + (state >> 8) as usize % 3000;
            let mut buf = vec![0u8; len];
            let n = f.read_at(&mut buf, off as u64).unwrap();
            let end = (off + len).min(want.len());
            assert_eq!(&buf[..n], &want[off..end], "{ds}: {len} bytes at {off}");
        }
    }
}

#[test]
fn a_file_cut_short_under_the_mount_gives_eio_not_a_crash() {
    if !fuse_available("a_file_cut_short_under_the_mount_gives_eio_not_a_crash") {
        return;
    }
    let t = TempDir::new("cut");
    let file = t.path().join("cut.h5");
    make_h5(
        &file,
        "rng = np.random.default_rng(5)
f['contig'] = rng.random((512, 1024))
f.create_dataset('chunked', data=rng.random((512, 1024)), chunks=(64, 1024))
f.create_dataset('gzip', data=rng.integers(0, 9, (512, 1024)), chunks=(64, 1024), compression='gzip')",
    );
    for opts in [&[][..], &["-o", "ro,direct_io"][..]] {
        let copy = t.path().join("copy.h5");
        std::fs::copy(&file, &copy).unwrap();
        let m = Mount::with(&copy, opts, &[]);
        // The datasets are opened (their sidecars read), then the file loses
        // everything after its first 64 KiB, where the data lies.
        for ds in ["contig", "chunked", "gzip"] {
            std::fs::read(m.path(&format!("{ds}.json"))).unwrap();
        }
        std::fs::OpenOptions::new()
            .write(true)
            .open(&copy)
            .unwrap()
            .set_len(65536)
            .unwrap();
        for ds in ["contig", "chunked", "gzip"] {
            let err = std::fs::read(m.path(ds)).unwrap_err();
            assert_eq!(err.raw_os_error(), Some(libc::EIO), "{ds}: {err}");
        }
        assert!(m.path("contig.json").exists(), "the mount still answers");
        let log = m.log_text();
        assert!(
            log.contains("contig"),
            "a log line names the dataset:\n{log}"
        );
        assert!(m.finish(), "the daemon exits cleanly");
    }
}
