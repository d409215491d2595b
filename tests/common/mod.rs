//! Shared helpers for the integration tests: real mounts of the built binary,
//! unmounted on drop (also when a test fails), fixtures made by h5py, and the
//! h5py oracle.
#![allow(dead_code)]

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_h5fs");
/// Debian's python3 has h5py on the same libhdf5 as ours; a python3 earlier on
/// PATH (pyenv, venvs) may not.
pub const PYTHON: &str = "/usr/bin/python3";

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// True when real mounts can run; tests print why they skip otherwise.
pub fn fuse_available(test: &str) -> bool {
    if Path::new("/dev/fuse").exists() {
        true
    } else {
        eprintln!("SKIP {test}: /dev/fuse is absent, no FUSE mounts possible here");
        false
    }
}

/// A scratch directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let p = std::env::temp_dir().join(format!("h5fs-test-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("create temp dir");
        TempDir(p)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The fixtures made by tests/python/make_fixtures.py, once per test binary.
pub fn fixtures() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("h5fs-fixtures-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let out = python(&[
            repo()
                .join("tests/python/make_fixtures.py")
                .to_str()
                .unwrap(),
            dir.to_str().unwrap(),
        ]);
        assert!(
            out.status.success(),
            "make_fixtures.py failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        dir
    })
}

/// Run python `body` with `f` (the HDF5 file at `path`, opened with `mode`),
/// `h5py`, `np` and `sys` in scope; assert it succeeds; return its stdout.
fn with_h5(path: &Path, mode: &str, body: &str) -> Vec<u8> {
    let indented: Vec<String> = body.lines().map(|l| format!("    {l}")).collect();
    let script = format!(
        "import h5py, numpy as np, sys\nwith h5py.File({:?}, {mode:?}) as f:\n{}\n",
        path.to_str().unwrap(),
        indented.join("\n")
    );
    let out = python(&["-c", &script]);
    assert!(
        out.status.success(),
        "python on {} ({mode}): {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Write an HDF5 file at `path` with h5py: `body` is python run with `f`
/// (the file, open for writing), `h5py` and `np` in scope.
pub fn make_h5(path: &Path, body: &str) {
    with_h5(path, "w", body);
}

/// Read the HDF5 file at `path` with h5py: the stdout of python `body` run
/// with `f` (the file, open read-only), `h5py`, `np` and `sys` in scope.
pub fn read_h5(path: &Path, body: &str) -> Vec<u8> {
    with_h5(path, "r", body)
}

/// Run python `script` with `h5py`, `np`, `os`, and the directory `dir`
/// (also named `d`) in scope; assert it succeeds.
pub fn py_in(dir: &Path, script: &str) {
    let full = format!(
        "import h5py, numpy as np, os\nd = dir = {:?}\n{script}",
        dir.to_str().unwrap()
    );
    let out = python(&["-c", &full]);
    assert!(
        out.status.success(),
        "python: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A version 1.0 `.npy` file of a 1-D array of `len` elements of numpy type
/// `descr` (`'<i8'`, `'|u1'`...) holding `data`, padded as numpy pads it.
pub fn npy_file(descr: &str, len: usize, data: &[u8]) -> Vec<u8> {
    let mut header =
        format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': ({len},), }}").into_bytes();
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(b' ');
    }
    header.push(b'\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(&header);
    out.extend_from_slice(data);
    out
}

pub fn python(args: &[&str]) -> Output {
    Command::new(PYTHON)
        .args(args)
        .output()
        .expect("run /usr/bin/python3 (install python3-h5py)")
}

pub fn is_mounted(mnt: &Path) -> bool {
    let Ok(canon) = std::fs::canonicalize(mnt) else {
        return false;
    };
    let want = canon.to_string_lossy().replace(' ', "\\040");
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .any(|l| l.split(' ').nth(4) == Some(want.as_str()))
}

pub fn unmount(mnt: &Path) {
    if !is_mounted(mnt) {
        return;
    }
    let ok = Command::new("fusermount3")
        .arg("-u")
        .arg(mnt)
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok || is_mounted(mnt) {
        let _ = Command::new("umount").arg("-l").arg(mnt).status();
    }
}

/// A foreground daemon serving one mount; unmounts and reaps on drop.
pub struct Mount {
    pub dir: TempDir,
    pub mnt: PathBuf,
    pub log: PathBuf,
    child: Option<Child>,
}

impl Mount {
    pub fn new(file: &Path) -> Mount {
        Mount::with(file, &[], &[])
    }

    /// Mount `file` with extra arguments and environment.
    pub fn with(file: &Path, args: &[&str], env: &[(&str, &str)]) -> Mount {
        let dir = TempDir::new("mnt");
        let mnt = dir.path().join("mnt");
        std::fs::create_dir(&mnt).unwrap();
        let log = dir.path().join("daemon.log");
        let child = Command::new(BIN)
            .arg(file)
            .arg(&mnt)
            .arg("-f")
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&log).unwrap())
            .spawn()
            .expect("start h5fs");
        let mut m = Mount {
            dir,
            mnt,
            log,
            child: Some(child),
        };
        m.wait_live();
        m
    }

    fn wait_live(&mut self) {
        let start = Instant::now();
        while !is_mounted(&self.mnt) {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                panic!(
                    "h5fs exited ({status}) before mounting:\n{}",
                    self.log_text()
                );
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "mount did not come up:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.mnt.join(rel)
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The daemon's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    /// Unmount and wait for the daemon; returns its exit status success.
    pub fn finish(mut self) -> bool {
        self.stop()
    }

    fn stop(&mut self) -> bool {
        unmount(&self.mnt);
        let Some(mut child) = self.child.take() else {
            return true;
        };
        let start = Instant::now();
        loop {
            match child.try_wait() {
                Ok(Some(s)) => return s.success(),
                Ok(None) if start.elapsed() < Duration::from_secs(10) => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return false;
                }
            }
        }
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Run the h5py oracle over a mount of `file`; returns its JSON report.
pub fn oracle(mount: &Mount, file: &Path, env: &[(&str, &str)]) -> serde_json::Value {
    oracle_with(mount, file, env, &[])
}

/// The Python of the project's venv (scripts/setup makes it): Debian's
/// h5py, numpy and GDAL, plus pynrrd and SimpleITK.
pub fn venv_python() -> PathBuf {
    let p = repo().join(".venv/bin/python");
    assert!(
        p.exists(),
        "{} is missing: run scripts/setup (scripts/test does)",
        p.display()
    );
    p
}

/// Check the header views of a mount made with `-o views=VIEWS` with the
/// tools they are for (tests/python/views.py); returns its JSON report.
pub fn views_check(
    mount: &Mount,
    file: &Path,
    views: &str,
    env: &[(&str, &str)],
) -> serde_json::Value {
    let report = mount.dir.path().join("views.json");
    let out = Command::new(venv_python())
        .arg(repo().join("tests/python/views.py"))
        .arg(&mount.mnt)
        .arg(file)
        .arg("--views")
        .arg(views)
        .arg("--json-out")
        .arg(&report)
        .envs(env.iter().copied())
        .output()
        .expect("run views.py");
    let text = std::fs::read_to_string(&report).unwrap_or_else(|_| {
        panic!(
            "views.py wrote no report for {}:\n{}\n{}",
            file.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    serde_json::from_str(&text).expect("views report is JSON")
}

/// The oracle with extra arguments (`--views all`, ...).
pub fn oracle_with(
    mount: &Mount,
    file: &Path,
    env: &[(&str, &str)],
    args: &[&str],
) -> serde_json::Value {
    let report = mount.dir.path().join("oracle.json");
    let out = Command::new(PYTHON)
        .arg(repo().join("tests/python/oracle.py"))
        .arg(&mount.mnt)
        .arg(file)
        .arg("--json-out")
        .arg(&report)
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("run oracle.py");
    let text = std::fs::read_to_string(&report).unwrap_or_else(|_| {
        panic!(
            "oracle.py wrote no report for {}:\n{}\n{}",
            file.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    serde_json::from_str(&text).expect("oracle report is JSON")
}

/// Extended attribute `name` of `path` as `getfattr --only-values` prints
/// it: (success, value, stderr).
pub fn getfattr(path: &Path, name: &str) -> (bool, String, String) {
    run(
        "getfattr",
        &["--only-values", "-n", name, path.to_str().unwrap()],
    )
}

/// Run a command, returning (success, stdout, stderr).
pub fn run(cmd: &str, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run {cmd}: {e}"));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The names in `dir`, sorted.
pub fn names_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// The errno of a failed call, 0 if it succeeded.
pub fn errno_of<T>(r: std::io::Result<T>) -> i32 {
    match r {
        Ok(_) => 0,
        Err(e) => e.raw_os_error().unwrap_or(-1),
    }
}

/// open(path, O_WRONLY|O_CREAT|O_TRUNC), write `bytes`, close: the errno of
/// the first failing call (0 if none). Shells ignore close() errors; this doesn't.
pub fn write_close(path: &Path, bytes: &[u8]) -> i32 {
    let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    let last = || std::io::Error::last_os_error().raw_os_error().unwrap_or(-1);
    // SAFETY: plain syscalls on a descriptor we own.
    unsafe {
        let fd = libc::open(
            c.as_ptr(),
            libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC,
            0o644,
        );
        if fd < 0 {
            return last();
        }
        if libc::write(fd, bytes.as_ptr().cast(), bytes.len()) != bytes.len() as isize {
            let e = last();
            libc::close(fd);
            return e;
        }
        if libc::close(fd) != 0 {
            return last();
        }
    }
    0
}

/// The filter plugins' directory (blosc, zstd, lz4... from hdf5plugin):
/// `H5FS_TEST_PLUGINS` (scripts/test sets it) or scripts/fetch-plugins.
pub fn plugin_dir() -> String {
    match std::env::var("H5FS_TEST_PLUGINS") {
        Ok(d) => d,
        Err(_) => {
            let (ok, out, err) = run(repo().join("scripts/fetch-plugins").to_str().unwrap(), &[]);
            assert!(ok, "scripts/fetch-plugins failed: {err}");
            out.trim().to_string()
        }
    }
}
