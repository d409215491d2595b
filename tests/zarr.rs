//! The Zarr store (`-o zarr`) read by zarr-python 2 (Debian) and 3 (the
//! project's .venv-zarr) and by xarray, against h5py and netCDF: every
//! array's bytes, chunk files holding the stored chunks, absent chunks,
//! netCDF dimensions and CF decoding, and the mode's refusals.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

fn zarr_python() -> PathBuf {
    let p = repo().join(".venv-zarr/bin/python");
    assert!(p.exists(), "{} is missing: run scripts/setup", p.display());
    p
}

fn report(out: std::process::Output, json: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(json).unwrap_or_else(|_| {
        panic!(
            "no report:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    serde_json::from_str(&text).unwrap()
}

/// zarr_check.py with Debian's zarr 2 (saving h5py's arrays in `npz`), then
/// with zarr 3 against them; both reports.
fn check_both(m: &Mount, file: &Path, npz: &Path) -> (serde_json::Value, serde_json::Value) {
    let script = repo().join("tests/python/zarr_check.py");
    let j2 = m.dir.path().join("zarr2.json");
    let out = Command::new(PYTHON)
        .arg(&script)
        .arg(&m.mnt)
        .arg(file)
        .arg("--expected-only")
        .arg(npz)
        .arg("--json-out")
        .arg(&j2)
        .output()
        .unwrap();
    let r2 = report(out, &j2);
    let j3 = m.dir.path().join("zarr3.json");
    let out = Command::new(zarr_python())
        .arg(&script)
        .arg(&m.mnt)
        .arg("--against")
        .arg(npz)
        .arg("--json-out")
        .arg(&j3)
        .output()
        .unwrap();
    (r2, report(out, &j3))
}

fn assert_clean(r: &serde_json::Value, what: &str) {
    let mm = r["mismatches"].as_array().unwrap();
    assert!(mm.is_empty(), "{what}: {mm:#?}");
}

const STORE: &str = r#"
a = f.create_dataset('gz/shuffle', shape=(10, 7), chunks=(4, 3), dtype='<f4',
                     compression='gzip', shuffle=True, fillvalue=np.nan)
a[:8, :6] = np.arange(48, dtype='f4').reshape(8, 6)   # chunks of the last row never written
f.create_dataset('gz/fletcher', data=np.arange(100, dtype='>i8').reshape(10, 10), chunks=(3, 4),
                 compression='gzip', shuffle=True, fletcher32=True)
# More chunks than are located one by one: read through libhdf5.
f.create_dataset('gz/many', data=np.arange(5000, dtype='<i2'), chunks=(1,), compression='gzip')
f.create_dataset('gz/edges', data=np.arange(35, dtype='u2').reshape(5, 7), chunks=(2, 2),
                 compression='gzip', compression_opts=9)
m = f.create_dataset('gz/masked', shape=(4, 4), chunks=(2, 4), dtype='<i4', compression='gzip',
                     shuffle=True, fillvalue=-1)
m[:2] = 5
raw = np.arange(8, dtype='<i4').tobytes()
shuffled = np.frombuffer(raw, 'u1').reshape(-1, 4).T.tobytes()
m.id.write_direct_chunk((2, 0), shuffled, filter_mask=0b10)      # deflate skipped
f.create_dataset('plain/contig', data=np.arange(600000, dtype='<f8').reshape(2000, 300))
dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
dcpl.set_layout(h5py.h5d.COMPACT)
sid = h5py.h5s.create_simple((6,))
h5py.h5d.create(f.id, b'plain/compact', h5py.h5t.STD_I16BE, sid, dcpl=dcpl).write(
    h5py.h5s.ALL, h5py.h5s.ALL, np.arange(6, dtype='>i2'))
f.create_dataset('plain/never', shape=(100,), dtype='<i4', fillvalue=7)
f['plain/scalar'] = np.float64(2.5)
f['plain/text'] = np.array([b'abc', b'de'], 'S5')
f['plain/flags'] = np.array([True, False, True])
f['plain/cplx'] = np.array([1 + 2j, 3 - 4j], '<c16')
f['plain/arr'] = np.zeros(3, dtype=('<f4', (2,))) + 1.5
f.create_dataset('plain/vlen', data=['a', 'bc'], dtype=h5py.string_dtype())
f['plain/.hidden'] = np.arange(3)
# zstd through the plugin, one chunk left raw (its filter skipped). (The
# corpus has blosc datasets; hdf5plugin's blosc cannot be set up by this
# libhdf5 to write one.)
z = f.create_dataset('plugins/zstd', shape=(10, 100), chunks=(5, 100), dtype='<i8',
                     compression=32015, compression_opts=(3,))
z[:5] = np.arange(500, dtype='<i8').reshape(5, 100)
z.id.write_direct_chunk((5, 0), np.arange(500, 1000, dtype='<i8').tobytes(), filter_mask=1)
"#;

#[test]
fn zarr_store_reads_as_h5py_in_zarr_2_and_3() {
    if !fuse_available("zarr_store_reads_as_h5py_in_zarr_2_and_3") {
        return;
    }
    let t = TempDir::new("zarr");
    let file = t.path().join("store.h5");
    let plugins = plugin_dir();
    let env = [("HDF5_PLUGIN_PATH", plugins.as_str())];
    let py = STORE;
    let out = Command::new(PYTHON)
        .env("HDF5_PLUGIN_PATH", &plugins)
        .arg("-c")
        .arg(format!(
            "import h5py, numpy as np\nwith h5py.File({:?}, 'w') as f:\n{}",
            file.to_str().unwrap(),
            py.lines()
                .map(|l| format!("    {l}"))
                .collect::<Vec<_>>()
                .join("\n")
        ))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let m = Mount::with(&file, &["-o", "zarr"], &env);
    let (r2, r3) = check_both(&m, &file, &t.path().join("want.npz"));
    assert_clean(&r2, "zarr 2");
    assert_clean(&r3, "zarr 3");
    assert_eq!(r2["arrays"].as_u64().unwrap(), 14, "{r2}");
    assert!(r2["chunks"].as_u64().unwrap() >= 20, "{r2}");
    let text = |p: &str| std::fs::read_to_string(m.path(p)).unwrap();
    assert_eq!(text(".zgroup"), "{\n    \"zarr_format\": 2\n}\n");
    // Chunks never written are absent; so are names that are not keys.
    for p in [
        "gz/shuffle/2.0",
        "gz/shuffle/9.0",
        "gz/shuffle/00.0",
        "zarr.json",
        "plain/vlen",
    ] {
        assert_eq!(errno_of(std::fs::metadata(m.path(p))), libc::ENOENT, "{p}");
    }
    assert_eq!(
        names_in(&m.path("gz/shuffle")),
        [".zarray", ".zattrs", "0.0", "0.1", "1.0", "1.1"],
        "only stored chunks are listed"
    );
    let za = text("gz/shuffle/.zarray");
    assert!(za.contains("\"fill_value\": \"NaN\""), "{za}");
    assert!(za.contains("\"id\": \"zlib\"") && za.contains("\"id\": \"shuffle\""));
    assert!(!text("gz/fletcher/.zarray").contains("fletcher"));
    assert!(text("plugins/zstd/.zarray").contains("\"id\": \"zstd\""));
    let log = m.log_text();
    assert!(
        log.contains("/plain/vlen: left out of the Zarr store"),
        "{log}"
    );
    // Read-only, whatever is asked.
    assert_eq!(
        errno_of(std::fs::write(m.path("gz/new"), b"x")),
        libc::EROFS
    );
    assert!(m.finish());
}

#[test]
fn zarr_store_of_the_test_fixtures() {
    if !fuse_available("zarr_store_of_the_test_fixtures") {
        return;
    }
    let t = TempDir::new("zarr-fixtures");
    for name in ["types.h5", "links.h5", "ext.h5"] {
        let f = fixtures().join(name);
        let m = Mount::with(&f, &["-o", "zarr"], &[]);
        let (r2, r3) = check_both(&m, &f, &t.path().join(format!("{name}.npz")));
        assert_clean(&r2, name);
        assert_clean(&r3, name);
        if name == "types.h5" {
            // LZF's bytes have no numcodecs twin: decoded, no compressor.
            let za = std::fs::read_to_string(m.path("filters/lzf/.zarray")).unwrap();
            assert!(za.contains("\"compressor\": null"), "{za}");
        }
        assert!(m.finish());
    }
}

#[test]
fn a_netcdf_file_opens_in_xarray_as_from_netcdf() {
    if !fuse_available("a_netcdf_file_opens_in_xarray_as_from_netcdf") {
        return;
    }
    let t = TempDir::new("zarr-nc");
    let nc = t.path().join("cf.nc");
    let (ok, _, err) = run(
        "ncgen",
        &[
            "-k",
            "nc4",
            "-o",
            nc.to_str().unwrap(),
            repo().join("tests/data/netcdf/cf.cdl").to_str().unwrap(),
        ],
    );
    assert!(ok, "ncgen: {err}");
    let m = Mount::with(&nc, &["-o", "zarr"], &[]);
    let script = repo().join("tests/python/xarray_check.py");
    let want = t.path().join("want.pkl");
    let j = t.path().join("x2.json");
    let out = Command::new(PYTHON)
        .args([&script, &m.mnt, &nc])
        .args(["--groups", "/,sub", "--save"])
        .arg(&want)
        .arg("--json-out")
        .arg(&j)
        .output()
        .unwrap();
    assert_clean(&report(out, &j), "Debian xarray");
    let j = t.path().join("x3.json");
    let out = Command::new(zarr_python())
        .args([&script, &m.mnt])
        .args(["--groups", "/,sub", "--against"])
        .arg(&want)
        .arg("--json-out")
        .arg(&j)
        .output()
        .unwrap();
    assert_clean(&report(out, &j), "current xarray");
    // Dimensions from the scales; the dimension without a variable is none.
    let attrs = std::fs::read_to_string(m.path("temp/.zattrs")).unwrap();
    assert!(
        attrs.contains(
            "\"_ARRAY_DIMENSIONS\": [\n        \"time\",\n        \"lat\",\n        \"lon\"\n    ]"
        ),
        "{attrs}"
    );
    assert!(!attrs.contains("DIMENSION_LIST") && !attrs.contains("_FillValue"));
    assert!(!m.path("nv").exists());
    // Attributes stay extended attributes of the arrays' directories too.
    let (ok, units, err) = getfattr(&m.path("temp"), "user.units");
    assert!(ok && units == "K", "{units} {err}");
    assert!(m.finish());
}

#[test]
fn the_zarr_mode_is_read_only_and_alone() {
    let t = TempDir::new("zarr-opts");
    let file = t.path().join("f.h5");
    make_h5(&file, "f['d'] = np.arange(3)");
    for opts in ["zarr,rw", "zarr,views=npy"] {
        let (ok, _, err) = run(
            BIN,
            &[
                file.to_str().unwrap(),
                t.path().to_str().unwrap(),
                "-o",
                opts,
            ],
        );
        assert!(
            !ok && err.starts_with("h5fs: ") && err.contains("zarr"),
            "{opts}: {err}"
        );
    }
}
