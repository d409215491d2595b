//! Start-up: check the inputs, open the file, mount, and serve.
//!
//! Without `-f` the command re-runs itself in the foreground as a detached
//! child and waits on a pipe until the child says the mount is live (exit 0)
//! or the child fails (its message is already on stderr; exit 1). The child
//! stops writing to the caller's stderr once it is live, so a caller capturing
//! output is never held open by the daemon.
//!
//! In the foreground, SIGINT, SIGTERM and SIGHUP unmount; the HDF5 file is
//! closed when the session ends, however it ends.

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

use fuser::{Config, MountOption, SessionACL};
use log::{error, info};

use crate::cli::{Args, MountOptions};
use crate::direct::ChunkCache;
use crate::fs::{Fs, FsOptions, Shared};
use crate::fuse::H5Fuse;
use crate::model::ErrorKind;
use crate::model::{Access, Driver};
use crate::multi::{Backing, BucketTree, DirMount, DirOptions, LocalTree, Mount, Watched};
use crate::source::Target;
use crate::sys;
use crate::tree::View;
use crate::worker::WorkerConfig;
use crate::worker::WorkerPool;

/// Names the pipe on which a background child reports that the mount is live.
const NOTIFY_ENV: &str = "H5FS_NOTIFY_FD";
const READY: &[u8] = b"ready";

/// A start-up failure: one line for the user.
#[derive(Debug)]
pub struct Fatal(pub String);

fn fatal<T>(msg: impl Into<String>) -> Result<T, Fatal> {
    Err(Fatal(msg.into()))
}

pub fn run(args: Args, opts: MountOptions) -> Result<(), Fatal> {
    let target = crate::source::resolve_target(&args.file, &opts).map_err(Fatal)?;
    check_mountpoint(&args.mountpoint)?;
    if let Target::Dir(dir) = &target {
        // The daemon would read its own mount, and wait on itself.
        let mp = std::fs::canonicalize(&args.mountpoint).unwrap_or_default();
        if mp.starts_with(dir) {
            return fatal(format!(
                "mountpoint {}: inside the directory mounted ({}); choose one outside it",
                args.mountpoint.display(),
                args.file.display()
            ));
        }
    }
    if let (true, Target::File(source)) = (opts.read_write, &target) {
        if let Err(e) = sys::can_write(source.first_part()) {
            return fatal(format!(
                "{}: not writable by you; -o rw needs write permission ({})",
                args.file.display(),
                describe_io(&e)
            ));
        }
    }
    let notify = std::env::var(NOTIFY_ENV)
        .ok()
        .and_then(|v| v.parse::<i32>().ok());
    if !args.foreground && notify.is_none() {
        return spawn_background();
    }
    serve(&args, &opts, &target, notify)
}

fn check_mountpoint(mountpoint: &Path) -> Result<(), Fatal> {
    match std::fs::metadata(mountpoint) {
        Err(e) => {
            return fatal(format!(
                "mountpoint {}: {}",
                mountpoint.display(),
                describe_io(&e)
            ))
        }
        Ok(m) if !m.is_dir() => {
            return fatal(format!(
                "mountpoint {}: not a directory",
                mountpoint.display()
            ))
        }
        Ok(_) => {}
    }
    let canonical = std::fs::canonicalize(mountpoint).map_err(|e| {
        Fatal(format!(
            "mountpoint {}: {}",
            mountpoint.display(),
            describe_io(&e)
        ))
    })?;
    if is_mount_point(&canonical) {
        return fatal(format!(
            "mountpoint {}: already in use (something is mounted there)",
            mountpoint.display()
        ));
    }
    Ok(())
}

fn describe_io(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// Undo the octal escapes /proc/self/mountinfo uses for spaces and the like.
fn unescape_mount_path(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 4 <= b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 4], 8) {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

fn is_mount_point(path: &Path) -> bool {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    let want = path.as_os_str().as_encoded_bytes();
    info.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .any(|mp| unescape_mount_path(mp) == want)
}

/// Re-run this command in the foreground as a detached child; return once it
/// reports the mount live.
fn spawn_background() -> Result<(), Fatal> {
    let (mut reader, writer) =
        sys::pipe().map_err(|e| Fatal(format!("cannot create pipe: {e}")))?;
    let exe = std::env::current_exe().map_err(|e| Fatal(format!("cannot find own binary: {e}")))?;
    let mut argv: Vec<OsString> = std::env::args_os().skip(1).collect();
    argv.push("-f".into());
    let write_fd = writer.as_raw_fd();
    let mut cmd = Command::new(exe);
    cmd.args(argv)
        .env(NOTIFY_ENV, write_fd.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    let mut child = sys::spawn_detached(&mut cmd, write_fd)
        .map_err(|e| Fatal(format!("cannot start the daemon: {e}")))?;
    drop(writer);
    let mut buf = Vec::new();
    let _ = reader.read_to_end(&mut buf);
    if buf == READY {
        return Ok(());
    }
    let status = child.wait();
    match status {
        Ok(s) if s.success() => fatal("the daemon stopped before the mount was live"),
        // The child has already printed why.
        _ => Err(Fatal(String::new())),
    }
}

fn serve(
    args: &Args,
    opts: &MountOptions,
    target: &Target,
    notify: Option<i32>,
) -> Result<(), Fatal> {
    // The pipe to the waiting caller is ours alone: a worker holding it
    // would keep the caller waiting.
    let notify = notify.map(sys::adopt_fd);
    // Check the log file now: once detached, nobody would see that it failed.
    let logfile = match &opts.logfile {
        Some(p) => Some(
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .map_err(|e| Fatal(format!("logfile {}: {}", p.display(), describe_io(&e))))?,
        ),
        None => None,
    };
    let (uid, gid) = sys::ids();
    // In the background the log goes to the log file or nowhere once the
    // mount is live; workers write there from the start, so that none holds
    // the caller's stderr.
    let log = match (&notify, &logfile) {
        (None, _) => None,
        (Some(_), Some(f)) => f.try_clone().ok(),
        (Some(_), None) => OpenOptions::new().write(true).open("/dev/null").ok(),
    };
    let remote = match target {
        Target::File(s) => s.access.driver == Driver::Url,
        Target::Prefix(_) => true,
        Target::Dir(_) => false,
    };
    if opts.remote.cache_dir.is_some() && !remote {
        return fatal("cache_dir= is for remote sources (http://, https://, s3://)");
    }
    // A cache directory that cannot be made or written: said now, once.
    opts.remote.disk_cache().map_err(Fatal)?;
    let fs_opts = FsOptions {
        uid: opts.uid.unwrap_or(uid),
        gid: opts.gid.unwrap_or(gid),
        umask: opts.umask,
        writable: opts.read_write,
        chunk_cache_bytes: opts.chunk_cache_mib << 20,
        read_ahead: opts.direct_io,
        workers: WorkerConfig {
            exe: std::env::current_exe()
                .map_err(|e| Fatal(format!("cannot find own binary: {e}")))?,
            timeout: opts.hdf5_timeout(remote),
            memory: u64::from(opts.hdf5_memory_mib) << 20,
            max_workers: opts
                .hdf5_workers(std::thread::available_parallelism().map_or(2, |n| n.get())),
            stderr: log.map(Arc::new),
            remote: remote.then(|| opts.remote.encode()),
        },
        views: std::iter::once(View::Sidecar)
            .chain(opts.views.iter().copied())
            .collect(),
        zarr: opts.zarr,
        refresh: opts.refresh,
        tree: None,
    };
    let (fs, fsname) = match target {
        Target::File(source) => {
            // A read-only mount follows changes other programs make (§9.2),
            // except where they are followed already (SWMR) or cannot be
            // seen (a copy in memory).
            let watch =
                !opts.read_write && !matches!(source.access.driver, Driver::Core | Driver::Url);
            if source.access.driver == Driver::Url {
                crate::remote::probe(&source.name.to_string_lossy(), &opts.remote)
                    .map_err(Fatal)?;
            }
            let ident = Watched::identity(source);
            let fs = open_file(args, opts, || match watch {
                true => Watched::open_tree(source, fs_opts.clone(), &ident),
                false => Fs::new(source, fs_opts.clone()),
            })?;
            let mount = if watch && fs.refresh_interval().is_none() {
                Mount::watched(Watched::new(
                    fs,
                    source.clone(),
                    fs_opts,
                    opts.refresh,
                    ident,
                ))
            } else {
                Mount::single(Arc::new(fs))
            };
            (mount, source.name.display().to_string())
        }
        Target::Dir(dir) => (
            Mount::directory(open_directory(
                Box::new(LocalTree::new(dir.clone())),
                opts,
                fs_opts,
            )),
            dir.display().to_string(),
        ),
        Target::Prefix(url) => {
            let bucket = crate::remote::Bucket::open(url, &opts.remote).map_err(Fatal)?;
            let tree = BucketTree::new(bucket, opts.remote.clone(), opts.refresh);
            (
                Mount::directory(open_directory(Box::new(tree), opts, fs_opts)),
                url.clone(),
            )
        }
    };
    let fs = Arc::new(fs);

    let mut mount_options = vec![
        if opts.read_write {
            MountOption::RW
        } else {
            MountOption::RO
        },
        MountOption::FSName(fsname),
        MountOption::Subtype("h5fs".into()),
        MountOption::NoDev,
        MountOption::NoSuid,
    ];
    if opts.default_permissions {
        mount_options.push(MountOption::DefaultPermissions);
    }
    let mut config = Config::default();
    config.mount_options = mount_options;
    config.acl = if opts.allow_other {
        SessionACL::All
    } else if opts.allow_root {
        SessionACL::RootAndOwner
    } else {
        SessionACL::Owner
    };
    config.n_threads = Some(4);

    // Signals go to one thread that unmounts; block them before threads start.
    let sigset = sys::block_stop_signals();
    let mut session = fuser::Session::new(
        H5Fuse::new(fs.clone(), opts.read_write, opts.direct_io),
        &args.mountpoint,
        &config,
    )
    .map_err(|e| {
        Fatal(format!(
            "cannot mount on {}: {e}",
            args.mountpoint.display()
        ))
    })?;
    fs.set_notifier(session.notifier());
    info!(
        "mounted {} on {}",
        args.file.display(),
        args.mountpoint.display()
    );
    raise_readahead(&args.mountpoint);

    if let Some(mut pipe) = notify {
        detach_stderr(logfile);
        // A daemon must not keep the caller's directory busy.
        let _ = std::env::set_current_dir("/");
        let _ = pipe.write_all(READY);
    }

    let mut unmounter = session.unmount_callable();
    let mountpoint = args.mountpoint.clone();
    std::thread::spawn(move || {
        if let Some(sig) = sys::wait_signal(&sigset) {
            info!("signal {sig}: unmounting {}", mountpoint.display());
            if let Err(e) = unmounter.unmount() {
                error!("unmount of {} failed: {e}", mountpoint.display());
            }
        }
    });
    let result = session.run();
    drop(fs);
    // Blocks on their way to cache_dir= are kept for the next mount.
    crate::remote::DiskCache::settle(std::time::Duration::from_secs(5));
    result.map_err(|e| Fatal(format!("session ended with an error: {e}")))
}

/// Open one file (family, split pair) for the mount; its failure as the
/// one line a user reads.
fn open_file(
    args: &Args,
    opts: &MountOptions,
    open: impl FnOnce() -> Result<Fs, crate::model::H5Error>,
) -> Result<Fs, Fatal> {
    open().map_err(|e| {
        let f = args.file.display();
        Fatal(match e.kind {
            ErrorKind::NotHdf5 => format!("{f}: not an HDF5 file"),
            ErrorKind::Locked if opts.read_write => format!(
                "{f}: open in another process; -o rw needs it to itself: {}",
                e.msg
            ),
            ErrorKind::Locked => format!(
                "{f}: locked by another process (is it open for writing elsewhere?): {}",
                e.msg
            ),
            ErrorKind::MarkedOpen => format!(
                "{f}: marked as open for writing (left so by a program that stopped without \
                 closing it; if nothing has it open, `h5clear -s {f}` clears the mark): {}",
                e.msg
            ),
            _ => format!(
                "{f}: cannot open as HDF5 (truncated or corrupt?): {}",
                e.msg
            ),
        })
    })
}

/// Files of a `rw` directory mount in use at once, by default.
const DEFAULT_MAX_OPEN_RW: usize = 32;

/// A directory mount: its files share libhdf5 workers and a chunk cache.
fn open_directory(tree: Box<dyn Backing>, opts: &MountOptions, mut fs_opts: FsOptions) -> DirMount {
    let driver = match opts.driver.as_deref() {
        _ if fs_opts.workers.remote.is_some() => Driver::Url,
        Some("stdio") => Driver::Stdio,
        _ => Driver::Sec2,
    };
    // A writable file has a worker process of its own: fewer in use.
    let max_open = opts.max_open.map_or_else(
        || match opts.read_write {
            true => sys::default_max_open().min(DEFAULT_MAX_OPEN_RW),
            false => sys::default_max_open(),
        },
        |n| n as usize,
    );
    let workers = fs_opts.workers.max_workers.max(1);
    let shared = Shared {
        pool: WorkerPool::new(fs_opts.workers.clone(), (max_open / workers).max(1) as u32),
        chunks: Arc::new(ChunkCache::new(fs_opts.chunk_cache_bytes)),
    };
    // Read-ahead threads are per file: none for a tree of files.
    fs_opts.read_ahead = false;
    let access = Access {
        driver,
        libver: opts.libver,
        chunk_cache: opts.chunk_cache,
        // No SWMR reading of remote objects (as for one remote file).
        swmr: opts.swmr && fs_opts.workers.remote.is_none(),
    };
    DirMount::new(
        tree,
        DirOptions {
            file: fs_opts,
            access,
            max_open,
        },
        shared,
    )
}

/// Readahead window of the mount, in KiB: sequential readers get several
/// 1 MiB requests in flight, decoded in parallel.
const READAHEAD_KB: u32 = 4096;

/// Raise the kernel's readahead for this mount (its backing device in
/// /sys/class/bdi). Needs root; otherwise the kernel's default stays. The
/// device comes from /proc/self/mountinfo: the mount cannot be asked yet.
fn raise_readahead(mountpoint: &Path) {
    let Ok(canonical) = std::fs::canonicalize(mountpoint) else {
        return;
    };
    let want = canonical.as_os_str().as_encoded_bytes();
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let Some(dev) = info.lines().rev().find_map(|l| {
        let f: Vec<&str> = l.split(' ').collect();
        (f.len() > 4 && unescape_mount_path(f[4]) == want).then(|| f[2].to_string())
    }) else {
        return;
    };
    let knob = format!("/sys/class/bdi/{dev}/read_ahead_kb");
    if let Err(e) = std::fs::write(&knob, format!("{READAHEAD_KB}\n")) {
        log::debug!("readahead left as is ({knob}: {e})");
    }
}

/// Point stderr at the log file (or nowhere), so the caller's pipe is released.
fn detach_stderr(logfile: Option<File>) {
    let target = match logfile {
        Some(f) => Ok(f),
        None => OpenOptions::new().write(true).open("/dev/null"),
    };
    if let Ok(f) = target {
        sys::redirect_stderr(&f);
    }
}

/// The log filter for `-v` repeated `verbose` times (RUST_LOG overrides it).
/// At the default level, fuser's own note that an already unmounted session
/// could not be unmounted again is noise, so only its errors show.
pub fn default_log_filter(verbose: u8) -> &'static str {
    match verbose {
        // The certificate verifier logs each failure itself; h5fs's own
        // line says it once.
        0 => "warn,fuser::session=error,rustls_platform_verifier=off",
        1 => "info",
        2 => "debug",
        _ => "trace",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_escapes() {
        assert_eq!(unescape_mount_path("/mnt/a\\040b"), b"/mnt/a b");
        assert_eq!(unescape_mount_path("/plain"), b"/plain");
        assert_eq!(unescape_mount_path("/end\\"), b"/end\\");
    }
}
