//! The command line: every bad input gets one clear line on stderr, a non-zero
//! exit and nothing mounted; good input mounts, in the foreground or the
//! background, through mount(8) and fstab too; signals unmount cleanly.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

fn small_file(dir: &Path) -> std::path::PathBuf {
    let f = dir.join("small.h5");
    make_h5(&f, "f['x'] = np.arange(10)");
    f
}

/// Run h5fs with `args`; assert it fails with a message containing `expect`
/// and leaves `mnt` unmounted.
fn refuses(args: &[&Path], extra: &[&str], mnt: &Path, expect: &str) {
    let out = Command::new(BIN)
        .args(args)
        .args(extra)
        .output()
        .expect("run h5fs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "h5fs {args:?} {extra:?} succeeded");
    assert!(
        stderr.contains(expect),
        "h5fs {args:?} {extra:?}: expected '{expect}' in stderr, got: {stderr}"
    );
    assert_eq!(
        stderr.trim().lines().count(),
        1,
        "one line expected: {stderr}"
    );
    assert!(stderr.starts_with("h5fs: "), "{stderr}");
    assert!(!is_mounted(mnt), "{} left mounted", mnt.display());
}

#[test]
fn bad_inputs_are_refused_clearly() {
    if !fuse_available("bad_inputs_are_refused_clearly") {
        return;
    }
    let t = TempDir::new("cli");
    let good = small_file(t.path());
    let mnt = t.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();

    let missing = t.path().join("missing.h5");
    refuses(&[&missing, &mnt], &[], &mnt, "no such file");

    let text = t.path().join("notes.txt");
    std::fs::write(&text, "not hdf5\n").unwrap();
    refuses(&[&text, &mnt], &[], &mnt, "not an HDF5 file");

    let bytes = std::fs::read(&good).unwrap();
    let truncated = t.path().join("truncated.h5");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    refuses(&[&truncated, &mnt], &[], &mnt, "truncated");

    let mut garbage = bytes.clone();
    for b in garbage.iter_mut().skip(64).take(1500) {
        *b = 0xff;
    }
    let corrupt = t.path().join("corrupt.h5");
    std::fs::write(&corrupt, &garbage).unwrap();
    refuses(&[&corrupt, &mnt], &[], &mnt, "cannot open as HDF5");

    // A directory is a directory mount, but not onto a mount point inside it.
    refuses(&[t.path(), &mnt], &[], &mnt, "inside the directory mounted");

    let nodir = t.path().join("nodir");
    refuses(&[&good, &nodir], &[], &nodir, "no such file");
    refuses(&[&good, &text], &[], &mnt, "not a directory");

    refuses(
        &[&good, &mnt],
        &["-o", "bogus"],
        &mnt,
        "unknown option 'bogus'",
    );
    refuses(&[&good, &mnt], &["-o", "ro,umask=99x"], &mnt, "umask");
}

#[test]
fn mountpoint_in_use_is_refused() {
    if !fuse_available("mountpoint_in_use_is_refused") {
        return;
    }
    let t = TempDir::new("inuse");
    let good = small_file(t.path());
    let m = Mount::new(&good);
    let out = Command::new(BIN).arg(&good).arg(&m.mnt).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already in use"));
    // The first mount is untouched.
    assert!(m.path("x").exists());
}

#[test]
fn a_file_locked_for_writing_is_refused() {
    if !fuse_available("a_file_locked_for_writing_is_refused") {
        return;
    }
    let t = TempDir::new("locked");
    let good = small_file(t.path());
    let mnt = t.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let ready = t.path().join("ready");
    let mut holder = Command::new(PYTHON)
        .arg("-c")
        .arg(format!(
            "import h5py, time, pathlib\nf = h5py.File('{}', 'a')\npathlib.Path('{}').touch()\ntime.sleep(30)\n",
            good.display(),
            ready.display()
        ))
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !ready.exists() && start.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(20));
    }
    refuses(&[&good, &mnt], &[], &mnt, "locked by another process");
    let _ = holder.kill();
    let _ = holder.wait();
}

#[test]
fn help_and_version() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for word in ["FILE", "MOUNTPOINT", "-o", "allow_other", "umask", "-f"] {
        assert!(help.contains(word), "--help lacks {word}: {help}");
    }
    let out = Command::new(BIN).arg("--version").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("h5fs "));
}

#[test]
fn background_mode_returns_once_live_and_releases_output() {
    if !fuse_available("background_mode_returns_once_live_and_releases_output") {
        return;
    }
    let t = TempDir::new("bg");
    let good = small_file(t.path());
    let mnt = t.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    // output() waits for stdout/stderr to close: a daemon holding them would hang here.
    let out = Command::new(BIN).arg(&good).arg(&mnt).output().unwrap();
    let guard = MountedBy(&mnt);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(is_mounted(&mnt), "not live when the command returned");
    assert_eq!(std::fs::read(mnt.join("x")).unwrap().len(), 80);
    drop(guard);
    assert!(!is_mounted(&mnt));
}

/// Unmounts a mount made outside [`Mount`] when dropped.
struct MountedBy<'a>(&'a Path);

impl Drop for MountedBy<'_> {
    fn drop(&mut self) {
        unmount(self.0);
    }
}

#[test]
fn sigterm_and_sigint_unmount_and_exit_cleanly() {
    if !fuse_available("sigterm_and_sigint_unmount_and_exit_cleanly") {
        return;
    }
    let t = TempDir::new("sig");
    let good = small_file(t.path());
    for sig in [libc::SIGTERM, libc::SIGINT] {
        let m = Mount::new(&good);
        let mnt = m.mnt.clone();
        assert!(m.path("x").exists());
        // SAFETY: signalling our own child.
        unsafe {
            libc::kill(m.pid() as i32, sig);
        }
        let start = Instant::now();
        while is_mounted(&mnt) && start.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(!is_mounted(&mnt), "signal {sig} did not unmount");
        assert!(m.finish(), "daemon did not exit 0 after signal {sig}");
    }
    // The file was closed cleanly: h5py opens it for writing.
    let out = python(&[
        "-c",
        &format!("import h5py; h5py.File('{}', 'a').close()", good.display()),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// mount(8) runs helpers with a fixed PATH, so `mount -t fuse.h5fs` and fstab
/// need h5fs in /usr/local/bin. As root this test puts it there for its run.
#[test]
fn mount_t_fuse_h5fs_and_fstab() {
    if !fuse_available("mount_t_fuse_h5fs_and_fstab") {
        return;
    }
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIP mount_t_fuse_h5fs_and_fstab: mount(8) of a helper type needs root here");
        return;
    }
    let installed = Path::new("/usr/local/bin/h5fs");
    let _link = if installed.exists() {
        None
    } else {
        std::os::unix::fs::symlink(BIN, installed).expect("link /usr/local/bin/h5fs");
        Some(RemoveOnDrop(installed))
    };
    let t = TempDir::new("mount8");
    let good = small_file(t.path());
    let mnt = t.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();

    let (ok, _, err) = run(
        "mount",
        &[
            "-t",
            "fuse.h5fs",
            good.to_str().unwrap(),
            mnt.to_str().unwrap(),
            "-o",
            "ro",
        ],
    );
    let guard = MountedBy(&mnt);
    assert!(ok, "mount -t fuse.h5fs failed: {err}");
    assert!(mnt.join("x.json").exists());
    drop(guard);
    assert!(!is_mounted(&mnt));

    let fstab = t.path().join("fstab");
    std::fs::write(
        &fstab,
        format!(
            "{} {} fuse.h5fs ro,noauto 0 0\n",
            good.display(),
            mnt.display()
        ),
    )
    .unwrap();
    let (ok, _, err) = run(
        "mount",
        &["--fstab", fstab.to_str().unwrap(), mnt.to_str().unwrap()],
    );
    let guard = MountedBy(&mnt);
    assert!(ok, "mount via fstab line failed: {err}");
    assert!(mnt.join("x").exists());
    let (ok, _, err) = run("umount", &[mnt.to_str().unwrap()]);
    assert!(ok, "umount failed: {err}");
    drop(guard);
}

struct RemoveOnDrop<'a>(&'a Path);

impl Drop for RemoveOnDrop<'_> {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(self.0);
    }
}
