//! Virtual datasets made from sidecars on `-o rw` mounts (docs/SEMANTICS.md
//! §10.7a), shown with their sources in sidecars, copied between mounts, and
//! named by their place in a directory mount. h5py is the oracle: the same
//! mappings made with its `VirtualLayout` must give the same sources and the
//! same elements.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

/// Three source files `srcI.h5` with `/data` = arange(10) + 100·I (f4), and
/// `main.h5` with `/local` = arange(20) as (4, 5) i4.
fn sources(dir: &Path) {
    py_in(
        dir,
        "for i in range(3):\n\
         \x20   with h5py.File(f'{d}/src{i}.h5', 'w') as f:\n\
         \x20       f['data'] = np.arange(10, dtype='f4') + 100 * i\n\
         with h5py.File(d + '/main.h5', 'w') as f:\n\
         \x20   f['local'] = np.arange(20, dtype='i4').reshape(4, 5)\n",
    );
}

/// The same mappings made by h5py in `ref.h5` (next to the sources).
const H5PY_MAPPINGS: &str = "\
def vs(name, shape=(10,)):
    return h5py.VirtualSource(name, 'data', shape=shape)
with h5py.File(d + '/ref.h5', 'w') as f:
    f['local'] = np.arange(20, dtype='i4').reshape(4, 5)
    lay = h5py.VirtualLayout(shape=(3, 10), dtype='f4')
    for i in range(3):
        lay[i] = vs(f'src{i}.h5')
    f.create_virtual_dataset('rows', lay)
    lay = h5py.VirtualLayout(shape=(12,), dtype='f4')
    lay[0:6] = vs('src0.h5')[2:8]
    lay[6:12:2] = vs('src1.h5')[7:10]
    f.create_virtual_dataset('slab', lay, fillvalue=-7)
    lay = h5py.VirtualLayout(shape=(5, 4), dtype='i4')
    lay[1:5] = h5py.VirtualSource('.', 'local', shape=(4, 5))[:, 1:5]
    f.create_virtual_dataset('self', lay)
    lay = h5py.VirtualLayout(shape=(10,), dtype='f4')
    lay[:] = vs('later.h5')
    f.create_virtual_dataset('later', lay, fillvalue=3)
";

/// The sidecars that ask for them.
const SIDECARS: [(&str, &str); 4] = [
    (
        "rows",
        r#"{"dtype": "<f4", "shape": [3, 10], "layout": "virtual", "sources": [
            {"file": "src0.h5", "dataset": "/data", "select": "0"},
            {"file": "src1.h5", "dataset": "/data", "select": "1"},
            {"file": "src2.h5", "dataset": "/data", "select": "2"}]}"#,
    ),
    (
        "slab",
        r#"{"dtype": "<f4", "shape": [12], "fillvalue": -7, "sources": [
            {"file": "src0.h5", "dataset": "data", "source_select": "2:8",
             "select": {"start": [0], "count": [1], "block": [6]}},
            {"file": "src1.h5", "dataset": "data", "source_select": "-3:",
             "select": {"start": [6], "stride": [2], "count": [3]}}]}"#,
    ),
    (
        "self",
        r#"{"dtype": "<i4", "shape": [5, 4], "layout": "virtual", "sources": [
            {"file": ".", "dataset": "/local", "source_select": ":, 1:5", "select": "1:5"}]}"#,
    ),
    (
        "later",
        r#"{"dtype": "<f4", "shape": [10], "layout": "virtual", "fillvalue": 3,
            "sources": [{"file": "later.h5", "dataset": "/data"}]}"#,
    ),
];

/// Compare each dataset of `names` in `file` with `ref.h5`: virtual, same
/// sources (file, dataset, both selections), same elements.
fn same_as_h5py(dir: &Path, file: &str, names: &[&str]) {
    py_in(
        dir,
        &format!(
            "def maps(ds):\n\
             \x20   out = []\n\
             \x20   for m in ds.virtual_sources():\n\
             \x20       whole = lambda s: s.get_select_type() == 3 or (s.get_select_type() == 2 and s.shape and s.get_select_npoints() == np.prod(s.shape))\n\
             \x20       sel = lambda s: 'all' if whole(s) else (s.get_select_type(), s.get_regular_hyperslab())\n\
             \x20       out.append((m.file_name, m.dset_name.lstrip('/'), sel(m.vspace), sel(m.src_space)))\n\
             \x20   return out\n\
             a = h5py.File(d + '/{file}', 'r')\n\
             b = h5py.File(d + '/ref.h5', 'r')\n\
             for n in {names:?}:\n\
             \x20   assert a[n].is_virtual, n\n\
             \x20   assert maps(a[n]) == maps(b[n]), (n, maps(a[n]), maps(b[n]))\n\
             \x20   assert a[n].dtype == b[n].dtype and a[n].shape == b[n].shape, n\n\
             \x20   assert a[n].fillvalue == b[n].fillvalue, n\n\
             \x20   assert np.array_equal(a[n][()], b[n][()]), (n, a[n][()], b[n][()])\n"
        ),
    );
}

#[test]
fn sidecars_make_virtual_datasets_as_h5py_does() {
    if !fuse_available("vds_create") {
        return;
    }
    let t = TempDir::new("vds");
    let dir = t.path();
    sources(dir);
    py_in(dir, H5PY_MAPPINGS);
    let want = read_h5(
        &dir.join("ref.h5"),
        "sys.stdout.buffer.write(f['rows'][()].tobytes())",
    );
    let file = dir.join("main.h5");
    let m = Mount::with(&file, &["-o", "rw"], &[]);
    for (name, sidecar) in SIDECARS {
        assert_eq!(
            write_close(&m.path(&format!("{name}.json")), sidecar.as_bytes()),
            0,
            "{name}: {}",
            m.log_text()
        );
    }
    // A source written after the mapping is found when read.
    py_in(
        dir,
        "with h5py.File(d + '/later.h5', 'w') as f:\n\
         \x20   f['data'] = np.arange(10, dtype='f4') * -1\n",
    );
    // The new datasets read through the rw mount as h5py reads them (read
    // before: libhdf5 now holds the sources open for writing, §10.7a).
    let rows = std::fs::read(m.path("rows")).unwrap();
    assert_eq!(rows, want);
    let log = m.log_text();
    assert!(m.finish(), "{log}");
    same_as_h5py(dir, "main.h5", &["rows", "slab", "self", "later"]);

    // A read-only mount shows the sources; "." sources say where they are in the mount.
    let m = Mount::new(&file);
    let j: serde_json::Value =
        serde_json::from_slice(&std::fs::read(m.path("self.json")).unwrap()).unwrap();
    assert_eq!(j["layout"], "virtual");
    let src = &j["sources"][0];
    assert_eq!(src["file"], ".");
    assert_eq!(src["dataset"], "/local");
    assert_eq!(src["mount_path"], "/local");
    assert_eq!(
        src["select"],
        serde_json::json!({"start": [1, 0], "stride": [1, 1], "count": [1, 1], "block": [4, 4]})
    );
    let j: serde_json::Value =
        serde_json::from_slice(&std::fs::read(m.path("rows.json")).unwrap()).unwrap();
    assert_eq!(j["sources"].as_array().unwrap().len(), 3);
    assert_eq!(j["sources"][2]["source_select"], "all");
    assert!(j["sources"][2].get("mount_path").is_none(), "{j:#}");
    // Every file of the mount still equals h5py.
    let report = oracle(&m, &file, &[]);
    assert_eq!(report["mismatches"], serde_json::json!([]), "{report:#}");
    drop(m);

    // Copied between mounts (cp -a copies NAME, then NAME.json, which
    // retypes the byte file): the copy is the same virtual dataset.
    let copy = dir.join("copy.h5");
    make_h5(&copy, "pass");
    let from = Mount::new(&file);
    let to = Mount::with(&copy, &["-o", "rw"], &[]);
    for name in ["rows", "slab"] {
        let (ok, _, err) = run(
            "cp",
            &[
                "-a",
                from.path(name).to_str().unwrap(),
                from.path(&format!("{name}.json")).to_str().unwrap(),
                to.mnt.to_str().unwrap(),
            ],
        );
        assert!(ok, "cp {name}: {err}\n{}", to.log_text());
    }
    let log = to.log_text();
    assert!(to.finish(), "{log}");
    drop(from);
    same_as_h5py(dir, "copy.h5", &["rows", "slab"]);
}

#[test]
fn bad_virtual_sidecars_are_refused() {
    if !fuse_available("vds_refused") {
        return;
    }
    let t = TempDir::new("vdsbad");
    let dir = t.path();
    sources(dir);
    let file = dir.join("main.h5");
    let m = Mount::with(&file, &["-o", "rw"], &[]);
    let cases = [
        (
            "nosrc",
            r#"{"dtype": "<f4", "shape": [3], "layout": "virtual"}"#,
            "needs \"sources\"",
        ),
        (
            "chunked",
            r#"{"dtype": "<f4", "shape": [10], "chunks": [5], "sources": [{"file": "src0.h5", "dataset": "/data"}]}"#,
            "cannot be chunked",
        ),
        (
            "outside",
            r#"{"dtype": "<f4", "shape": [3, 10], "sources": [{"file": "src0.h5", "dataset": "/data", "select": "3"}]}"#,
            "sources[0]: select: index 0",
        ),
        (
            "past",
            r#"{"dtype": "<f4", "shape": [4], "sources": [{"file": "src0.h5", "dataset": "/data", "source_shape": [10], "source_select": {"start": [8], "count": [1], "block": [4]}}]}"#,
            "source_select: axis 0 selects past",
        ),
        (
            "unknown",
            r#"{"dtype": "<f4", "shape": [3], "sources": [{"file": "gone.h5", "dataset": "/data", "source_select": "0:3"}]}"#,
            "give \"source_shape\"",
        ),
        (
            "contiguous",
            r#"{"dtype": "<f4", "shape": [3], "layout": "contiguous", "sources": [{"file": "src0.h5", "dataset": "/data"}]}"#,
            "are for \"layout\": \"virtual\"",
        ),
    ];
    for (name, sidecar, why) in cases {
        let e = write_close(&m.path(&format!("{name}.json")), sidecar.as_bytes());
        assert_eq!(e, libc::EINVAL, "{name}");
        let log = m.log_text();
        let line = log
            .lines()
            .find(|l| l.contains(&format!("/{name}.json")))
            .unwrap_or_else(|| panic!("{name}: no log line:\n{log}"));
        assert!(line.contains(why), "{name}: {line}");
    }
    // Nothing was made.
    assert_eq!(names_in(&m.mnt), ["local", "local.json"]);
    assert!(m.finish());
    let out = Command::new("h5ls").arg(&file).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);
}

#[test]
fn sources_in_a_directory_mount_name_their_place_in_it() {
    if !fuse_available("vds_dir") {
        return;
    }
    let t = TempDir::new("vdsdir");
    let dir = t.path().join("tree");
    std::fs::create_dir_all(dir.join("run")).unwrap();
    sources(&dir);
    py_in(
        &dir,
        "with h5py.File(d + '/run/cat.h5', 'w') as f:\n\
         \x20   lay = h5py.VirtualLayout(shape=(2, 10), dtype='f4')\n\
         \x20   lay[0] = h5py.VirtualSource('../src0.h5', 'data', shape=(10,))\n\
         \x20   lay[1] = h5py.VirtualSource('../nothere.h5', 'data', shape=(10,))\n\
         \x20   f.create_virtual_dataset('v', lay)\n\
         \x20   f['w'] = np.zeros(3)\n\
         \x20   lay = h5py.VirtualLayout(shape=(3,), dtype='f8')\n\
         \x20   lay[:] = h5py.VirtualSource('.', 'w', shape=(3,))\n\
         \x20   f.create_virtual_dataset('u', lay)\n",
    );
    let m = Mount::new(&dir);
    let j: serde_json::Value =
        serde_json::from_slice(&std::fs::read(m.path("run/cat.h5/v.json")).unwrap()).unwrap();
    assert_eq!(j["sources"][0]["mount_path"], "/src0.h5/data", "{j:#}");
    assert!(j["sources"][1].get("mount_path").is_none(), "{j:#}");
    let j: serde_json::Value =
        serde_json::from_slice(&std::fs::read(m.path("run/cat.h5/u.json")).unwrap()).unwrap();
    assert_eq!(j["sources"][0]["mount_path"], "/run/cat.h5/w", "{j:#}");
    // The mapped row reads as the source's dataset in the mount does.
    let v = std::fs::read(m.path("run/cat.h5/v")).unwrap();
    let src = std::fs::read(m.path("src0.h5/data")).unwrap();
    assert_eq!(&v[..40], &src[..]);
}
