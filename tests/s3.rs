//! Files in S3-compatible storage, mounted read-only by `s3://` URL from a
//! real S3 server (moto's, tests/python/s3_server.py): every byte, sidecar,
//! attribute and link as h5py reads the local copy; public objects read
//! unsigned with `-o anonymous`, private ones with keys from the
//! environment or an AWS profile; wrong keys, missing objects and buckets
//! refused at mount with one line that shows no secret.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};

use common::*;

/// moto's S3 server filled with objects; stopped on drop.
struct S3 {
    child: Child,
    stdin: Option<ChildStdin>,
    endpoint: String,
    key: String,
    secret: String,
}

impl S3 {
    /// `puts`: (BUCKET/KEY, local file, public-read).
    fn start(puts: &[(String, PathBuf, bool)], auth: bool) -> S3 {
        let python = repo().join(".venv-s3/bin/python");
        assert!(
            python.exists(),
            "{} is missing: run scripts/setup",
            python.display()
        );
        let mut cmd = Command::new(python);
        cmd.arg(repo().join("tests/python/s3_server.py"));
        if auth {
            cmd.arg("--auth");
        }
        for (target, file, public) in puts {
            let tail = if *public { ":public" } else { "" };
            cmd.arg("--put")
                .arg(format!("{target}={}{tail}", file.display()));
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start tests/python/s3_server.py");
        let stdin = child.stdin.take();
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        let info: serde_json::Value = serde_json::from_str(&line)
            .unwrap_or_else(|_| panic!("s3_server.py did not start: {line:?}"));
        let text = |k: &str| info[k].as_str().unwrap().to_string();
        S3 {
            endpoint: text("endpoint"),
            key: text("key"),
            secret: text("secret"),
            child,
            stdin,
        }
    }

    fn keys(&self) -> Vec<(&str, &str)> {
        vec![
            ("AWS_ACCESS_KEY_ID", self.key.as_str()),
            ("AWS_SECRET_ACCESS_KEY", self.secret.as_str()),
        ]
    }
}

impl Drop for S3 {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A mount's environment: `env`, a HOME of the test's own (so no AWS files
/// of the machine count), the filter plugins.
fn clean_env<'a>(env: &[(&'a str, &'a str)], home: &'a Path) -> Vec<(&'a str, &'a str)> {
    static PLUGINS: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let plugins = PLUGINS.get_or_init(plugin_dir);
    let mut all = vec![
        ("HOME", home.to_str().unwrap()),
        ("HDF5_PLUGIN_PATH", plugins.as_str()),
    ];
    all.extend_from_slice(env);
    all
}

/// Mount `url` and check it against the local copy with the oracle.
fn check(url: &str, local: &Path, args: &[&str], env: &[(&str, &str)], home: &Path) {
    let m = Mount::with(Path::new(url), args, &clean_env(env, home));
    let report = oracle(&m, local, &clean_env(&[], home));
    assert_eq!(
        report["mismatches"],
        serde_json::json!([]),
        "{url}: {report:#}"
    );
    assert!(m.finish(), "{url}: the daemon did not end cleanly");
}

/// A mount that cannot work: exit 1 with one line on stderr, no mount.
fn refused(url: &str, args: &[&str], env: &[(&str, &str)], home: &Path) -> String {
    let t = TempDir::new("s3-refused");
    let out = Command::new(BIN)
        .arg(url)
        .arg(t.path())
        .args(args)
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_PROFILE")
        .envs(clean_env(env, home))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{url}");
    assert!(!is_mounted(t.path()));
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(err.trim_end().lines().count(), 1, "{url}: {err}");
    err
}

/// The files uploaded: the fixtures and a sample of the corpus.
fn files() -> Vec<(String, PathBuf)> {
    let mut all: Vec<(String, PathBuf)> = ["types.h5", "ext.h5", "links.h5"]
        .iter()
        .map(|n| (format!("fix/{n}"), fixtures().join(n)))
        .collect();
    let corpus = repo().join("tests/data/corpus");
    for rel in [
        "h5py/compound-dtype-complex.h5",
        "h5py/vlen_string_s390x.h5",
        "jhdf/test_compressed_chunked_datasets_latest.hdf5",
        "jhdf/bitshuffle_datasets.hdf5",
        "jhdf/test_large_group_latest.hdf5",
        "jhdf/test_userblock_latest.hdf5",
        "pyfive/compressed.hdf5",
    ] {
        all.push((format!("corpus/{rel}"), corpus.join(rel)));
    }
    all
}

#[test]
fn s3_objects_mount_as_h5py_reads_the_local_copy() {
    if !fuse_available("s3_mount") {
        return;
    }
    let home = TempDir::new("s3-home");
    // Every object twice: public (read unsigned) and private (read with keys).
    let mut puts = Vec::new();
    for (key, file) in files() {
        puts.push((format!("open/{key}"), file.clone(), true));
        puts.push((format!("closed/{key}"), file, false));
    }
    let s3 = S3::start(&puts, false);
    let endpoint = format!("endpoint={}", s3.endpoint);
    for (key, file) in files() {
        let anonymous = format!("{endpoint},anonymous");
        check(
            &format!("s3://open/{key}"),
            &file,
            &["-o", &anonymous],
            &[],
            home.path(),
        );
        check(
            &format!("s3://closed/{key}"),
            &file,
            &["-o", &endpoint],
            &s3.keys(),
            home.path(),
        );
    }
    // Views, read by the tools they are for.
    let types = fixtures().join("types.h5");
    let m = Mount::with(
        Path::new("s3://open/fix/types.h5"),
        &["-o", &format!("{endpoint},anonymous,views=all")],
        &clean_env(&[], home.path()),
    );
    let report = views_check(&m, &types, "all", &[]);
    assert_eq!(report["mismatches"], serde_json::json!([]), "{report:#}");
    // No secret in /proc/mounts, and the mount is named by its URL.
    let m = Mount::with(
        Path::new("s3://closed/fix/types.h5"),
        &["-o", &endpoint],
        &clean_env(&s3.keys(), home.path()),
    );
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap();
    let line = mounts
        .lines()
        .find(|l| l.contains(m.mnt.to_str().unwrap()))
        .unwrap();
    assert!(line.starts_with("s3://closed/fix/types.h5 "), "{line}");
    assert!(!mounts.contains(&s3.secret));
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", m.pid())).unwrap();
    assert!(!String::from_utf8_lossy(&cmdline).contains(&s3.secret));
    // A private object read unsigned is refused, with a hint.
    let e = refused(
        "s3://closed/fix/types.h5",
        &["-o", &format!("{endpoint},anonymous")],
        &[],
        home.path(),
    );
    assert!(
        e.contains("access denied (HTTP 403)") && e.contains("without -o anonymous"),
        "{e}"
    );
}

#[test]
fn keys_profiles_and_refusals() {
    if !fuse_available("s3_keys") {
        return;
    }
    let home = TempDir::new("s3-keys-home");
    let types = fixtures().join("types.h5");
    let s3 = S3::start(&[("data/types.h5".into(), types.clone(), false)], true);
    let endpoint = format!("endpoint={}", s3.endpoint);
    let o = ["-o", endpoint.as_str()];
    check("s3://data/types.h5", &types, &o, &s3.keys(), home.path());
    // The profile AWS_PROFILE names, from the shared files, region included.
    let aws = home.path().join(".aws");
    std::fs::create_dir_all(&aws).unwrap();
    std::fs::write(
        aws.join("credentials"),
        format!(
            "[default]\naws_access_key_id = AKIAWRONGWRONGWRONG0\naws_secret_access_key = wrong\n\n\
             [lab]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            s3.key, s3.secret
        ),
    )
    .unwrap();
    std::fs::write(
        aws.join("config"),
        "[profile lab]\nregion = us-east-1\n\n[profile assumed]\nrole_arn = arn:aws:iam::123456789012:role/r\nsource_profile = lab\n",
    )
    .unwrap();
    check(
        "s3://data/types.h5",
        &types,
        &o,
        &[("AWS_PROFILE", "lab")],
        home.path(),
    );
    // The default profile's wrong key, a wrong secret, an unknown profile,
    // a profile h5fs cannot follow: refused, the secret never shown.
    let e = refused("s3://data/types.h5", &o, &[], home.path());
    assert!(e.contains("access denied (HTTP 403)"), "{e}");
    let wrong = [
        ("AWS_ACCESS_KEY_ID", s3.key.as_str()),
        ("AWS_SECRET_ACCESS_KEY", "not-the-secret"),
    ];
    let e = refused("s3://data/types.h5", &o, &wrong, home.path());
    assert!(
        e.contains("access denied (HTTP 403)") && !e.contains("not-the-secret"),
        "{e}"
    );
    let e = refused(
        "s3://data/types.h5",
        &o,
        &[("AWS_PROFILE", "nobody")],
        home.path(),
    );
    assert!(e.contains("AWS_PROFILE=nobody: no such profile"), "{e}");
    let e = refused(
        "s3://data/types.h5",
        &o,
        &[("AWS_PROFILE", "assumed")],
        home.path(),
    );
    assert!(e.contains("role_arn, which h5fs does not follow"), "{e}");
    // Missing objects and buckets, a wrong endpoint, a prefix, rw.
    let keys = s3.keys();
    let e = refused("s3://data/nothing.h5", &o, &keys, home.path());
    assert_eq!(e.trim(), "h5fs: s3://data/nothing.h5: not found (HTTP 404)");
    let e = refused("s3://nobucket/types.h5", &o, &keys, home.path());
    assert_eq!(e.trim(), "h5fs: s3://nobucket: no such bucket (HTTP 404)");
    let e = refused(
        "s3://data/types.h5",
        &["-o", "endpoint=http://127.0.0.1:9"],
        &keys,
        home.path(),
    );
    assert!(e.contains("Connection refused"), "{e}");
    let e = refused(
        "s3://data/types.h5",
        &["-o", &format!("{endpoint},rw")],
        &keys,
        home.path(),
    );
    assert!(e.contains("remote files are read-only"), "{e}");
    let e = refused(
        "s3://data/",
        &["-o", &format!("{endpoint},rw")],
        &keys,
        home.path(),
    );
    assert!(e.contains("remote files are read-only"), "{e}");
    assert!(!e.contains(&s3.secret), "{e}");
}

/// Put `file` at BUCKET/KEY of the running server (as another program
/// would, while a mount is live).
fn put(s3: &S3, target: &str, file: &Path) {
    let (bucket, key) = target.split_once('/').unwrap();
    let script = format!(
        "import boto3\nboto3.client('s3', endpoint_url={:?}, region_name='us-east-1', \
         aws_access_key_id={:?}, aws_secret_access_key={:?}).put_object(Bucket={bucket:?}, \
         Key={key:?}, Body=open({:?}, 'rb').read())",
        s3.endpoint,
        s3.key,
        s3.secret,
        file.to_str().unwrap()
    );
    let out = Command::new(repo().join(".venv-s3/bin/python"))
        .args(["-c", &script])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The oracle over the directory of file `rel` of a mount.
fn oracle_at(m: &Mount, rel: &str, file: &Path, home: &Path) -> serde_json::Value {
    let report = m.dir.path().join("oracle-at.json");
    let out = Command::new(PYTHON)
        .arg(repo().join("tests/python/oracle.py"))
        .arg(m.path(rel))
        .arg(file)
        .arg("--json-out")
        .arg(&report)
        .envs(clean_env(&[], home))
        .output()
        .unwrap();
    let text = std::fs::read_to_string(&report)
        .unwrap_or_else(|_| panic!("oracle: {}", String::from_utf8_lossy(&out.stderr)));
    serde_json::from_str(&text).unwrap()
}

/// Every file under `dir`, by its path relative to `top`.
fn walk(top: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            walk(top, &p, out);
        } else {
            let rel = p.strip_prefix(top).unwrap().to_str().unwrap().to_string();
            out.push((rel, p));
        }
    }
}

#[test]
fn a_prefix_mounts_as_a_tree_of_its_objects() {
    if !fuse_available("s3_prefix") {
        return;
    }
    let home = TempDir::new("s3-prefix-home");
    let dir = TempDir::new("s3-prefix");
    let src = dir.path().join("src");
    std::fs::create_dir_all(src.join("run/2024")).unwrap();
    let fix = dir.path().join("fix");
    std::fs::create_dir_all(&fix).unwrap();
    py_in(
        &src,
        "with h5py.File(d + '/a.h5', 'w') as f:\n\
         \x20   f.create_dataset('g/z', data=np.arange(3000.).reshape(30, 100), chunks=(7, 11), compression='gzip')\n\
         \x20   f['g'].attrs['units'] = 'K'\n\
         with h5py.File(d + '/run/2024/scan.nxs', 'w', userblock_size=1024) as f:\n\
         \x20   f['entry/data'] = np.ones((4, 5), dtype='>f8')\n\
         with h5py.File(d + '/run/far.h5', 'w', userblock_size=131072) as f:\n\
         \x20   f['v'] = np.arange(7, dtype='<i2')\n\
         with h5py.File(d + '/run/noext', 'w') as f:\n\
         \x20   f['v'] = np.arange(5, dtype='u1')\n\
         open(d + '/notes.txt', 'w').write('not hdf5\\n')\n\
         open(d + '/classic.nc', 'wb').write(b'CDF\\x01' + bytes(100))\n",
    );
    // The fixtures (beyond what dir_check.py compares) go to fix/.
    for n in ["types.h5", "ext.h5", "links.h5"] {
        std::fs::copy(fixtures().join(n), fix.join(n)).unwrap();
    }
    let mut files = Vec::new();
    walk(&src, &src, &mut files);
    walk(dir.path(), &fix, &mut files);
    let mut puts: Vec<(String, PathBuf, bool)> = files
        .iter()
        .map(|(rel, p)| (format!("tree/lab/{rel}"), p.clone(), false))
        .collect();
    // Folder objects as consoles make them: the prefix's own, and one of
    // an empty folder.
    let empty = dir.path().join("empty");
    std::fs::write(&empty, b"").unwrap();
    puts.push(("tree/lab/".into(), empty.clone(), false));
    puts.push(("tree/lab/nothing/".into(), empty, false));
    // Beside the prefix: not in the mount.
    puts.push(("tree/labx/a.h5".into(), src.join("a.h5"), false));
    puts.push(("tree/top.txt".into(), src.join("notes.txt"), false));
    let s3 = S3::start(&puts, false);
    let endpoint = format!("endpoint={}", s3.endpoint);
    let env = clean_env(&s3.keys(), home.path());
    let m = Mount::with(
        Path::new("s3://tree/lab/"),
        &["-o", &format!("{endpoint},max_open=2,refresh=0.2")],
        &env,
    );
    let kind = |rel: &str| {
        let md = std::fs::symlink_metadata(m.path(rel)).unwrap();
        if md.is_dir() {
            "dir"
        } else {
            "file"
        }
    };
    let names = names_in(&m.mnt);
    assert_eq!(
        names,
        ["a.h5", "classic.nc", "fix", "notes.txt", "nothing", "run"]
    );
    for (rel, want) in [
        ("a.h5", "dir"),
        ("run", "dir"),
        ("nothing", "dir"),
        ("run/2024/scan.nxs", "dir"),
        ("run/far.h5", "dir"),
        ("run/noext", "dir"),
        ("classic.nc", "file"),
        ("notes.txt", "file"),
    ] {
        assert_eq!(kind(rel), want, "{rel}");
    }
    assert_eq!(std::fs::read(m.path("notes.txt")).unwrap(), b"not hdf5\n");
    assert_eq!(
        std::fs::read(m.path("run/far.h5/.userblock"))
            .unwrap()
            .len(),
        131072
    );
    let (ok, out, _) = getfattr(&m.path("a.h5/g"), "user.units");
    assert!(ok && out == "K", "{out}");
    // Each file as h5py reads its local copy, external links between
    // objects of the prefix followed.
    for rel in ["fix/types.h5", "fix/ext.h5", "fix/links.h5", "a.h5"] {
        let local = match rel.strip_prefix("fix/") {
            Some(n) => fix.join(n),
            None => src.join(rel),
        };
        let report = oracle_at(&m, rel, &local, home.path());
        assert_eq!(
            report["mismatches"],
            serde_json::json!([]),
            "{rel}: {report:#}"
        );
    }
    let out = Command::new(PYTHON)
        .arg(repo().join("tests/python/dir_check.py"))
        .arg(&m.mnt)
        .arg(&src)
        .args(["--seed", "3"])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("dir_check: {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(report["mismatches"], serde_json::json!([]), "{report:#}");
    assert_eq!(report["hdf5"], 4, "{report:#}");
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap();
    assert!(mounts.lines().any(|l| l.starts_with("s3://tree/lab/ ")));
    assert_eq!(errno_of(std::fs::create_dir(m.path("new"))), libc::EROFS);
    // Objects added and replaced while mounted: seen after the refresh
    // time, a replaced file read as it is now.
    put(&s3, "tree/lab/new.h5", &src.join("run/noext"));
    put(&s3, "tree/lab/a.h5", &fix.join("types.h5"));
    std::thread::sleep(std::time::Duration::from_millis(600));
    assert_eq!(kind("new.h5"), "dir");
    let report = oracle_at(&m, "a.h5", &fix.join("types.h5"), home.path());
    assert_eq!(report["mismatches"], serde_json::json!([]), "{report:#}");
    assert!(m.finish());
    // A prefix named without its `/`, a missing bucket, rw.
    let keys = s3.keys();
    let o = ["-o", endpoint.as_str()];
    let e = refused("s3://tree/lab", &o, &keys, home.path());
    assert!(
        e.contains("a prefix, not an object: mount s3://tree/lab/ for every object"),
        "{e}"
    );
    let e = refused("s3://nobucket/", &o, &keys, home.path());
    assert_eq!(e.trim(), "h5fs: s3://nobucket: no such bucket (HTTP 404)");
    let e = refused(
        "s3://tree/lab/",
        &["-o", &format!("{endpoint},rw")],
        &keys,
        home.path(),
    );
    assert!(e.contains("remote files are read-only"), "{e}");
}
