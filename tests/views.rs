//! Header views (`-o views=`): `.npy`, ENVI `.hdr`, NRRD `.nhdr` and
//! MetaImage `.mhd` files beside datasets, read by numpy, GDAL, pynrrd and
//! SimpleITK through real mounts and compared with h5py
//! (tests/python/views.py); names, collisions, geometry from dimension
//! scales, reads that touch only what is asked, and rw behaviour.

mod common;

use std::fs::OpenOptions;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;

use common::*;

/// Every numeric type in both byte orders, ranks 1 to 5, complex, arrays,
/// scales even and not, names with dots and the awkward ones.
const RASTERS: &str = r#"
rng = np.random.default_rng(7)
types = ['u1', 'i1', 'u2', 'i2', 'u4', 'i4', 'u8', 'i8', 'f4', 'f8', 'c8', 'c16']
shapes = [(5,), (3, 4), (2, 3, 4), (2, 2, 3, 4), (2, 1, 2, 3, 2)]
for t in types:
    for order in '<>':
        dt = np.dtype(t).newbyteorder(order)
        for shape in shapes:
            n = int(np.prod(shape))
            v = (rng.standard_normal(n) * 1000)
            if dt.kind == 'c':
                v = v + 1j * rng.standard_normal(n)
            f.create_dataset(f"{t}{order.replace('<', 'le').replace('>', 'be')}_{len(shape)}d",
                             data=v.astype(dt).reshape(shape))
f['bool'] = np.array([[True, False], [False, True]])
f['f2'] = np.arange(4, dtype='f2')
f['one_byte'] = np.array([7], 'u1')
f['scalar'] = np.float64(2.5)
f['text'] = np.array([b'ab', b'cd'])
f.create_dataset('chunked.gz', data=np.arange(600, dtype='>i4').reshape(20, 30),
                 chunks=(7, 11), compression='gzip', shuffle=True)
f.create_dataset('arr', data=np.zeros(3, dtype=('<f4', (2,))) + 1.5)
# Geometry: y decreasing and x increasing (north up), one uneven scale.
img = f.create_dataset('geo/img', data=np.arange(12, dtype='f4').reshape(3, 4))
y = f.create_dataset('geo/y', data=np.array([50.0, 49.5, 49.0]))
x = f.create_dataset('geo/x', data=np.array([10.0, 10.25, 10.5, 10.75], 'f4'))
y.make_scale('y'); x.make_scale('x')
img.dims[0].attach_scale(y); img.dims[1].attach_scale(x)
img.attrs['title'] = 'A {braced}\nline'
img.attrs['units'] = 'K'
vol = f.create_dataset('geo/vol', data=np.arange(24, dtype='>i2').reshape(2, 3, 4))
z = f.create_dataset('geo/z', data=np.array([0.0, 2.0]))
u = f.create_dataset('geo/uneven', data=np.array([0.0, 1.0, 3.0]))
z.make_scale('z'); u.make_scale('uneven')
vol.dims[0].attach_scale(z); vol.dims[1].attach_scale(u)
# Names: dotted, a reader keyword, a printf pattern, a trailing blank.
for name in ['a.b', 'x.y.z', 'LOCAL', 'LIST1', 'pct%d', 'blank ', 'c']:
    f[name] = np.arange(6, dtype='<u2').reshape(2, 3)
# Real members win over views of the same name.
f['c.npy'] = np.arange(3, dtype='i1')
f['c.hdr'] = np.arange(3, dtype='u1')
"#;

#[test]
fn header_views_open_in_their_tools() {
    if !fuse_available("header_views_open_in_their_tools") {
        return;
    }
    let t = TempDir::new("views");
    let file = t.path().join("rasters.h5");
    make_h5(&file, RASTERS);
    let m = Mount::with(&file, &["-o", "views=all"], &[]);
    let report = oracle_with(&m, &file, &[], &["--views", "all"]);
    let mm = report["mismatches"].as_array().unwrap();
    assert!(mm.is_empty(), "oracle: {mm:#?}");
    let views = views_check(&m, &file, "all", &[]);
    let mm = views["mismatches"].as_array().unwrap();
    assert!(mm.is_empty(), "views: {mm:#?}\n{}", m.log_text());
    // 12 types x 2 orders x 5 ranks, and the others.
    assert!(views["npy"].as_u64().unwrap() >= 130, "{views}");
    assert!(views["nrrd"].as_u64().unwrap() >= 125, "{views}");
    assert!(views["envi"].as_u64().unwrap() >= 100, "{views}");
    assert!(views["mhd"].as_u64().unwrap() >= 125, "{views}");

    let exists = |p: &str| m.path(p).symlink_metadata().is_ok();
    // ENVI has no int8; GDAL needs 2 bytes; printf patterns and trailing
    // blanks have no NRRD or MetaImage header; nothing for strings but .npy.
    assert!(!exists("i1le_2d.hdr") && exists("i1le_2d.nhdr") && exists("i1le_2d.mhd"));
    assert!(!exists("one_byte.hdr") && exists("one_byte.npy"));
    assert!(!exists("pct%d.nhdr") && !exists("pct%d.mhd") && exists("pct%d.hdr"));
    assert!(!exists("blank .nhdr") && !exists("blank .mhd"));
    assert!(exists("text.npy") && !exists("text.hdr") && !exists("f2.hdr"));
    assert!(exists("a.b.hdr") && exists("x.y.z.nhdr") && exists("LOCAL.mhd"));
    // The real members, not views.
    let real = std::fs::read(m.path("c.npy")).unwrap();
    assert_eq!(real, h5py_bytes(&file, "c.npy"));
    assert!(exists("c.npy.npy") && exists("c.hdr.json"));
    // What the headers say.
    let hdr = std::fs::read_to_string(m.path("geo/img.hdr")).unwrap();
    assert!(
        hdr.contains("map info = {Arbitrary, 1.5, 1.5, 10, 50, 0.25, 0.5}"),
        "{hdr}"
    );
    assert!(
        hdr.contains("description = {HDF5 dataset /geo/img; title = A (braced) line; units = K}")
    );
    let nhdr = std::fs::read_to_string(m.path("geo/img.nhdr")).unwrap();
    assert!(nhdr.contains("title:=A {braced}\\nline\n"), "{nhdr}");
    let vol = std::fs::read_to_string(m.path("geo/vol.nhdr")).unwrap();
    assert!(
        vol.contains("spacings: NaN NaN 2\naxis mins: NaN NaN 0\n"),
        "{vol}"
    );
    let mhd = std::fs::read_to_string(m.path("LIST1.mhd")).unwrap();
    assert!(mhd.ends_with("ElementDataFile = ./LIST1\n"), "{mhd}");
    assert!(m.finish());
}

fn h5py_bytes(file: &Path, path: &str) -> Vec<u8> {
    read_h5(
        file,
        &format!("sys.stdout.buffer.write(np.asarray(f[{path:?}][()]).tobytes())"),
    )
}

#[test]
fn without_the_option_listings_are_unchanged() {
    if !fuse_available("without_the_option_listings_are_unchanged") {
        return;
    }
    let t = TempDir::new("views-off");
    let file = t.path().join("f.h5");
    make_h5(&file, "f['d'] = np.arange(4.0)\nf['g/e'] = np.arange(3)");
    let m = Mount::new(&file);
    assert_eq!(names_in(&m.mnt), ["d", "d.json", "g"]);
    assert!(m.path("d.npy").symlink_metadata().is_err());
    drop(m);
    let m = Mount::with(&file, &["-o", "views=npy", "-o", "views=mhd"], &[]);
    assert_eq!(names_in(&m.path("g")), ["e", "e.json", "e.mhd", "e.npy"]);
    // A bad list is refused at mount, naming the view.
    let (ok, _, err) = run(
        BIN,
        &[
            file.to_str().unwrap(),
            t.path().to_str().unwrap(),
            "-o",
            "views=npy:tiff",
        ],
    );
    assert!(!ok && err.contains("unknown view 'tiff'"), "{err}");
}

/// A .npy view of an 8 GiB dataset is read in pieces without the daemon
/// ever holding the dataset: reads touch only the bytes asked for.
#[test]
fn npy_reads_touch_only_what_is_asked() {
    if !fuse_available("npy_reads_touch_only_what_is_asked") {
        return;
    }
    let t = TempDir::new("views-big");
    let file = t.path().join("big.h5");
    make_h5(
        &file,
        "d = f.create_dataset('big', shape=(1 << 20, 1024), dtype='<f8', chunks=(64, 1024), fillvalue=0.5)\n\
         d[1000:1002] = np.arange(2048).reshape(2, 1024)",
    );
    let m = Mount::with(&file, &["-o", "views=npy"], &[]);
    let p = m.path("big.npy");
    let size = p.metadata().unwrap().len();
    assert_eq!(size, 128 + (8u64 << 30));
    let f = OpenOptions::new().read(true).open(&p).unwrap();
    let mut head = [0u8; 128];
    f.read_exact_at(&mut head, 0).unwrap();
    assert!(head.starts_with(b"\x93NUMPY\x01\x00"));
    assert!(String::from_utf8_lossy(&head).contains("'shape': (1048576, 1024), }"));
    // Across the header's end, then rows far apart.
    let mut buf = vec![0u8; 24];
    f.read_exact_at(&mut buf, 120).unwrap();
    assert_eq!(&buf[..8], b"       \n");
    assert_eq!(&buf[8..16], &0.5f64.to_le_bytes());
    let row = |r: u64, c: u64| 128 + (r * 1024 + c) * 8;
    f.read_exact_at(&mut buf[..8], row(1001, 3)).unwrap();
    assert_eq!(&buf[..8], &(1027.0f64).to_le_bytes());
    f.read_exact_at(&mut buf[..8], row((1 << 20) - 1, 1023))
        .unwrap();
    assert_eq!(&buf[..8], &0.5f64.to_le_bytes());
    // numpy maps it and reads a corner; the daemon never held 8 GiB.
    let out = python(&[
        "-c",
        &format!(
            "import numpy as np; a = np.load({:?}, mmap_mode='r'); print(a.shape, a[1000, 5], a[-1, -1])",
            p.to_str().unwrap()
        ),
    ]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "(1048576, 1024) 5.0 0.5",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status = std::fs::read_to_string(format!("/proc/{}/status", m.pid())).unwrap();
    let hwm_kib: u64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap()
        .parse()
        .unwrap();
    assert!(hwm_kib < 400 << 10, "daemon peak RSS {hwm_kib} KiB");
}

#[test]
fn views_on_a_writable_mount() {
    if !fuse_available("views_on_a_writable_mount") {
        return;
    }
    let t = TempDir::new("views-rw");
    let file = t.path().join("rw.h5");
    make_h5(
        &file,
        "f.create_dataset('d', data=np.arange(6, dtype='<i4').reshape(2, 3), maxshape=(None, 3), chunks=(1, 3))",
    );
    let m = Mount::with(&file, &["-o", "rw,views=all"], &[]);
    // Header files are read-only: EACCES, whatever the mode bits say.
    for h in ["d.hdr", "d.nhdr", "d.mhd"] {
        let r = OpenOptions::new().write(true).open(m.path(h));
        assert_eq!(errno_of(r), libc::EACCES, "{h}");
    }
    // A .npy view is written whole (O_TRUNC), not patched.
    let r = OpenOptions::new().write(true).open(m.path("d.npy"));
    assert_eq!(errno_of(r), libc::EPERM);
    // Appending rows shows in the views at once.
    let f = OpenOptions::new().append(true).open(m.path("d")).unwrap();
    f.write_all_at(&[7u8, 0, 0, 0, 8, 0, 0, 0, 9, 0, 0, 0], 24)
        .unwrap();
    drop(f);
    let out = python(&[
        "-c",
        &format!(
            "import numpy as np; print(np.load({:?}).tolist())",
            m.path("d.npy").to_str().unwrap()
        ),
    ]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "[[0, 1, 2], [3, 4, 5], [7, 8, 9]]"
    );
    assert!(std::fs::read_to_string(m.path("d.nhdr"))
        .unwrap()
        .contains("sizes: 3 3\n"));
    // Writing NAME.npy over the view replaces the dataset, as cp would.
    let src = t.path().join("new.npy");
    let out = python(&[
        "-c",
        &format!(
            "import numpy as np; np.save({:?}, np.arange(5, dtype='>f8'))",
            src.to_str().unwrap()
        ),
    ]);
    assert!(out.status.success());
    let (ok, _, err) = run(
        "cp",
        &[src.to_str().unwrap(), m.path("d.npy").to_str().unwrap()],
    );
    assert!(ok, "{err}");
    assert_eq!(
        std::fs::read(m.path("d.npy")).unwrap(),
        std::fs::read(&src).unwrap()
    );
    assert!(std::fs::read_to_string(m.path("d.mhd"))
        .unwrap()
        .contains("BinaryDataByteOrderMSB = True\n"));
    // rsync's way: a byte file renamed onto the view applies it too.
    let out = python(&[
        "-c",
        &format!(
            "import numpy as np; np.save({:?}, np.arange(5, dtype='>f8') * 2)",
            src.to_str().unwrap()
        ),
    ]);
    assert!(out.status.success());
    std::fs::copy(&src, m.path(".d.npy.tmp")).unwrap();
    std::fs::rename(m.path(".d.npy.tmp"), m.path("d.npy")).unwrap();
    assert!(m.path(".d.npy.tmp").symlink_metadata().is_err());
    assert_eq!(
        std::fs::read(m.path("d.npy")).unwrap(),
        std::fs::read(&src).unwrap()
    );
    // A view cannot be renamed, nor replaced by another kind of object.
    let r = std::fs::rename(m.path("d.hdr"), m.path("e.hdr"));
    assert_eq!(errno_of(r), libc::EPERM);
    // Removing a header view deletes nothing, as for a sidecar.
    std::fs::remove_file(m.path("d.hdr")).unwrap();
    assert!(m.finish());
    let got = read_h5(
        &file,
        "d = f['d']; print(d.dtype.str, d.shape, d[()].tolist())",
    );
    assert_eq!(
        String::from_utf8_lossy(&got).trim(),
        "<f8 (5,) [0.0, 2.0, 4.0, 6.0, 8.0]"
    );
}

#[test]
fn view_options_in_fstab_form() {
    // mount.fuse3 hands fstab options as one -o string: views= fits in it.
    if !fuse_available("view_options_in_fstab_form") {
        return;
    }
    let t = TempDir::new("views-fstab");
    let file = t.path().join("f.h5");
    make_h5(&file, "f['d'] = np.arange(4, dtype='<u2')");
    let m = Mount::with(&file, &["-o", "ro,noatime,views=npy:envi,nodev"], &[]);
    assert!(m.path("d.npy").exists() && m.path("d.hdr").exists());
    assert!(!m.path("d.nhdr").exists());
    let mut opened = OpenOptions::new();
    opened.read(true).custom_flags(libc::O_NOFOLLOW);
    let f = opened.open(m.path("d.hdr")).unwrap();
    let mut b = [0u8; 4];
    f.read_exact_at(&mut b, 0).unwrap();
    assert_eq!(&b, b"ENVI");
}
