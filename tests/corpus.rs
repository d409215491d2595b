//! The real-world corpus (tests/data/corpus): every file h5py can open mounts,
//! and every listing, byte, sidecar, attribute and link matches h5py. The
//! datasets that cannot be read (a filter missing, a type numpy lacks) are
//! exactly the ones listed in tests/data, each with a log line saying why.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use common::*;

fn corpus_dir() -> PathBuf {
    repo().join("tests/data/corpus")
}

/// Every HDF5 file of the corpus, sorted.
fn corpus_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    let dirs = std::fs::read_dir(corpus_dir()).expect("tests/data/corpus is missing");
    for d in dirs.flatten() {
        if !d.path().is_dir() {
            continue;
        }
        for f in std::fs::read_dir(d.path()).unwrap().flatten() {
            let p = f.path();
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            if name.ends_with(".h5") || name.ends_with(".hdf5") || name.ends_with(".nc") {
                files.push(p);
            }
        }
    }
    files.sort();
    files
}

fn rel(p: &Path) -> String {
    p.strip_prefix(corpus_dir())
        .unwrap_or(p)
        .to_string_lossy()
        .into_owned()
}

/// Can h5py open it? (One file carries a stale SWMR write flag: neither can.)
fn h5py_opens(f: &Path) -> bool {
    python(&[
        "-c",
        &format!(
            "import h5py; h5py.File({:?}, 'r').close()",
            f.to_str().unwrap()
        ),
    ])
    .status
    .success()
}

fn expected(name: &str) -> BTreeSet<String> {
    std::fs::read_to_string(repo().join("tests/data").join(name))
        .unwrap()
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.to_string())
        .collect()
}

/// Mount every corpus file with `env`, check it with the oracle; return the
/// unreadable datasets as "file:path" and all failures found.
/// With `views`, every file is mounted with `-o views=VIEWS` and its views
/// are checked too.
fn check_corpus(
    env: &[(&str, &str)],
    views: Option<&str>,
) -> (BTreeSet<String>, Vec<String>, usize) {
    let mut eio = BTreeSet::new();
    let mut failures = Vec::new();
    let mut checked = 0;
    for f in corpus_files() {
        if !h5py_opens(&f) {
            // h5fs must refuse it cleanly too.
            let t = TempDir::new("corpus-refuse");
            let (ok, _, err) = run(BIN, &[f.to_str().unwrap(), t.path().to_str().unwrap()]);
            if ok || !err.starts_with("h5fs: ") || is_mounted(t.path()) {
                failures.push(format!(
                    "{}: h5py cannot open it but h5fs did not refuse it cleanly: {err}",
                    rel(&f)
                ));
            }
            unmount(t.path());
            continue;
        }
        checked += 1;
        let (m, report) = match views {
            None => {
                let m = Mount::with(&f, &[], env);
                let r = oracle(&m, &f, env);
                (m, r)
            }
            Some(v) => {
                let m = Mount::with(&f, &["-o", &format!("views={v}")], env);
                let r = oracle_with(&m, &f, env, &["--views", v]);
                let checked = views_check(&m, &f, v, env);
                for mm in checked["mismatches"].as_array().into_iter().flatten() {
                    failures.push(format!("{} (views): {}", rel(&f), mm));
                }
                (m, r)
            }
        };
        for mm in report["mismatches"].as_array().into_iter().flatten() {
            failures.push(format!("{}: {}", rel(&f), mm));
        }
        let log = m.log_text();
        for p in report["eio"].as_array().into_iter().flatten() {
            let path = p.as_str().unwrap_or_default().to_string();
            let hdf5_path = format!(
                "/{}",
                path.split(" [")
                    .next()
                    .unwrap_or("")
                    .trim_start_matches('/')
            );
            if !log.lines().any(|l| {
                l.contains(&hdf5_path)
                    && (l.contains("needs filter") || l.contains("type cannot be shown"))
            }) {
                failures.push(format!(
                    "{}: no log line says why {hdf5_path} is unreadable:\n{log}",
                    rel(&f)
                ));
            }
            eio.insert(format!("{}:{}", rel(&f), path));
        }
        assert!(m.finish(), "daemon for {} did not exit cleanly", rel(&f));
    }
    (eio, failures, checked)
}

fn assert_corpus(env: &[(&str, &str)], eio_list: &str, views: Option<&str>) {
    let (eio, failures, checked) = check_corpus(env, views);
    assert!(checked >= 130, "only {checked} corpus files checked");
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    let want = expected(eio_list);
    let missing: Vec<_> = want.difference(&eio).collect();
    let extra: Vec<_> = eio.difference(&want).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "unreadable datasets differ from tests/data/{eio_list}:\nexpected but readable: {missing:#?}\nunreadable but not expected: {extra:#?}"
    );
    eprintln!(
        "corpus: {checked} files match h5py; {} datasets unreadable as listed",
        eio.len()
    );
}

#[test]
fn corpus_matches_h5py_without_filter_plugins() {
    if !fuse_available("corpus_matches_h5py_without_filter_plugins") {
        return;
    }
    // An empty plugin path: only the filters built into libhdf5 (and LZF).
    let empty = TempDir::new("noplugins");
    let p = empty.path().to_str().unwrap().to_string();
    assert_corpus(
        &[("HDF5_PLUGIN_PATH", &p)],
        "corpus-eio-without-plugins.txt",
        None,
    );
}

#[test]
fn corpus_matches_h5py_with_filter_plugins() {
    if !fuse_available("corpus_matches_h5py_with_filter_plugins") {
        return;
    }
    let dir = plugin_dir();
    // With every header view: numpy, GDAL, pynrrd and SimpleITK read them.
    assert_corpus(
        &[("HDF5_PLUGIN_PATH", &dir)],
        "corpus-eio-with-plugins.txt",
        Some("all"),
    );
}

/// Every corpus file as a Zarr store (`-o zarr`): zarr-python 2 (Debian's)
/// and 3 read every array as h5py does, consolidated and not, and chunk
/// files served as stored hold the stored chunks.
#[test]
fn corpus_as_zarr_stores_matches_h5py() {
    if !fuse_available("corpus_as_zarr_stores_matches_h5py") {
        return;
    }
    let dir = plugin_dir();
    let env = [("HDF5_PLUGIN_PATH", dir.as_str())];
    let mut failures = Vec::new();
    let (mut files, mut arrays, mut chunks) = (0, 0, 0);
    for f in corpus_files() {
        if !h5py_opens(&f) {
            continue;
        }
        let m = Mount::with(&f, &["-o", "zarr"], &env);
        let json = m.dir.path().join("zarr.json");
        let npz = m.dir.path().join("want.npz");
        let out = std::process::Command::new(PYTHON)
            .arg(repo().join("tests/python/zarr_check.py"))
            .arg(&m.mnt)
            .arg(&f)
            .arg("--expected-only")
            .arg(&npz)
            .arg("--json-out")
            .arg(&json)
            .envs(env)
            .output()
            .unwrap();
        // zarr-python 3 (its own venv) against the arrays h5py gave.
        let json3 = m.dir.path().join("zarr3.json");
        let out3 = std::process::Command::new(repo().join(".venv-zarr/bin/python"))
            .arg(repo().join("tests/python/zarr_check.py"))
            .arg(&m.mnt)
            .arg("--against")
            .arg(&npz)
            .arg("--json-out")
            .arg(&json3)
            .output()
            .expect("run .venv-zarr/bin/python (scripts/setup makes it)");
        match std::fs::read_to_string(&json3) {
            Ok(t) => {
                let r: serde_json::Value = serde_json::from_str(&t).unwrap();
                for mm in r["mismatches"].as_array().into_iter().flatten() {
                    failures.push(format!("{} (zarr 3): {mm}", rel(&f)));
                }
            }
            Err(_) => failures.push(format!(
                "{}: no zarr 3 report: {}",
                rel(&f),
                String::from_utf8_lossy(&out3.stderr)
            )),
        }
        let Ok(text) = std::fs::read_to_string(&json) else {
            failures.push(format!(
                "{}: no report: {}",
                rel(&f),
                String::from_utf8_lossy(&out.stderr)
            ));
            continue;
        };
        let r: serde_json::Value = serde_json::from_str(&text).unwrap();
        for mm in r["mismatches"].as_array().into_iter().flatten() {
            failures.push(format!("{}: {mm}", rel(&f)));
        }
        files += 1;
        arrays += r["arrays"].as_u64().unwrap_or(0);
        chunks += r["chunks"].as_u64().unwrap_or(0);
        assert!(m.finish(), "daemon for {} did not exit cleanly", rel(&f));
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        files >= 130 && arrays >= 2000 && chunks >= 500,
        "{files} files, {arrays} arrays, {chunks} chunks"
    );
    eprintln!(
        "corpus as Zarr: {files} files, {arrays} arrays, {chunks} stored chunk files checked"
    );
}
