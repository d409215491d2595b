//! Safe wrappers for the libc calls h5fs makes outside libhdf5: positional
//! reads into spare capacity, daemon start-up (pipes, sessions, signals,
//! stderr), and starting worker processes. The only `unsafe` outside src/h5.

use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command};

/// Append `len` bytes of `file` at `offset` to `out`, reading straight into
/// its spare capacity (no zeroing first: reads are up to 1 MiB each). A file
/// shorter than that is an `UnexpectedEof` error and leaves `out` as it was.
pub fn pread_append(
    out: &mut Vec<u8>,
    file: &File,
    len: usize,
    offset: u64,
) -> std::io::Result<()> {
    if offset
        .checked_add(len as u64)
        .is_none_or(|end| end > i64::MAX as u64)
    {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "read past the largest file offset",
        ));
    }
    let start = out.len();
    out.reserve(len);
    let mut done = 0usize;
    while done < len {
        let spare = out.spare_capacity_mut();
        let want = len - done;
        // SAFETY: the kernel writes at most `want` bytes into the spare
        // capacity reserved above (`want` <= its length); `set_len` below only
        // covers bytes it reported written.
        let n = unsafe {
            libc::pread(
                file.as_raw_fd(),
                spare.as_mut_ptr().cast(),
                want.min(spare.len()),
                (offset + done as u64) as libc::off_t,
            )
        };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            out.truncate(start);
            return Err(e);
        }
        if n == 0 {
            out.truncate(start);
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        // SAFETY: `n` bytes after the old length were just initialised.
        unsafe { out.set_len(out.len() + n as usize) };
        done += n as usize;
    }
    Ok(())
}

/// Whether the caller's real uid may write `path` (access(2)).
pub fn can_write(path: &Path) -> std::io::Result<()> {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "NUL in path"))?;
    // SAFETY: access(2) on a NUL-terminated path.
    if unsafe { libc::access(c.as_ptr(), libc::W_OK) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// The real uid and gid of this process.
/// Files of a directory mount in use at once, by default: 256, or a
/// quarter of the open-file limit where that is lower. The soft limit is
/// raised to the hard one first (each file in use may hold a descriptor in
/// the daemon besides those of the workers).
pub fn default_max_open() -> usize {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit read and write the struct we own.
    let soft = unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 64;
        }
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                lim.rlim_cur = lim.rlim_max;
            }
        }
        lim.rlim_cur
    };
    ((soft / 4) as usize).clamp(16, 256)
}

pub fn ids() -> (u32, u32) {
    // SAFETY: getuid/getgid cannot fail.
    unsafe { (libc::getuid(), libc::getgid()) }
}

/// A pipe whose ends close on exec: (read end, write end).
pub fn pipe() -> std::io::Result<(File, File)> {
    let mut fds = [0i32; 2];
    // SAFETY: plain pipe(2) into a local array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just created and are owned here.
    Ok(unsafe { (File::from_raw_fd(fds[0]), File::from_raw_fd(fds[1])) })
}

/// Run `cmd` in a new session, keeping descriptor `keep` open across exec.
pub fn spawn_detached(cmd: &mut Command, keep: i32) -> std::io::Result<Child> {
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            libc::setsid();
            let flags = libc::fcntl(keep, libc::F_GETFD);
            libc::fcntl(keep, libc::F_SETFD, flags & !libc::FD_CLOEXEC);
            Ok(())
        });
    }
    cmd.spawn()
}

/// A descriptor handed to us by number (the parent's pipe), from now on
/// closed on exec: no child of ours inherits it.
pub fn adopt_fd(fd: i32) -> File {
    // SAFETY: the parent passed this descriptor for us to own.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFD);
        if flags >= 0 {
            libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC);
        }
        File::from_raw_fd(fd)
    }
}

/// Point stderr at `target`.
pub fn redirect_stderr(target: &File) {
    // SAFETY: replacing fd 2 with a descriptor we own.
    unsafe {
        libc::dup2(target.as_raw_fd(), 2);
    }
}

/// Signals that unmount: blocked in every thread (call before starting
/// any), then taken by [`wait_signal`] in one.
pub struct StopSignals(libc::sigset_t);

// A sigset_t is plain data.
unsafe impl Send for StopSignals {}

pub fn block_stop_signals() -> StopSignals {
    // SAFETY: sigset manipulation on a local value.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGHUP);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        StopSignals(set)
    }
}

/// Wait for one of the blocked signals; its number.
pub fn wait_signal(set: &StopSignals) -> Option<i32> {
    let mut sig: libc::c_int = 0;
    // SAFETY: waiting on a set blocked with pthread_sigmask.
    (unsafe { libc::sigwait(&set.0, &mut sig) } == 0).then_some(sig)
}

/// The descriptor number a worker finds its socket at.
pub const WORKER_FD: i32 = 3;
/// The descriptor number a worker finds its shared memory at.
pub const WORKER_SHM_FD: i32 = 4;

/// Memory shared by the daemon and one worker (a memfd mapped by both), for
/// the payloads of their messages: a read's bytes cross without passing
/// through a socket. One side writes, then sends a message on the socket;
/// the other reads after receiving it.
pub struct SharedMemory {
    ptr: *mut u8,
    len: usize,
    fd: std::os::fd::OwnedFd,
}

// The mapping is owned by this value; callers take turns through the socket.
unsafe impl Send for SharedMemory {}

impl SharedMemory {
    /// A new shared region of `len` bytes (daemon side).
    pub fn new(len: usize) -> std::io::Result<SharedMemory> {
        // SAFETY: memfd_create with a NUL-terminated name; the descriptor is
        // owned at once.
        let fd = unsafe { libc::memfd_create(c"h5fs-worker".as_ptr(), libc::MFD_CLOEXEC) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: a descriptor just created and owned by nobody else.
        let fd = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) };
        File::from(fd.try_clone()?).set_len(len as u64)?;
        Self::map(fd, len)
    }

    /// The region the daemon shared at descriptor `fd` (worker side).
    pub fn adopt(fd: i32) -> std::io::Result<SharedMemory> {
        // SAFETY: the daemon passed this descriptor (a memfd) for us to own.
        let fd = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) };
        let len = File::from(fd.try_clone()?).metadata()?.len() as usize;
        Self::map(fd, len)
    }

    fn map(fd: std::os::fd::OwnedFd, len: usize) -> std::io::Result<SharedMemory> {
        // SAFETY: a shared read-write mapping of a memfd of `len` bytes.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len.max(1),
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        Ok(SharedMemory {
            ptr: ptr.cast(),
            len,
            fd,
        })
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The region, to write a payload into in place.
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: the mapping is `len` bytes and lives as long as `self`; the
        // other side does not touch it until told to on the socket.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }

    /// Put `data` at the start of the region; false if it does not fit.
    pub fn put(&mut self, data: &[u8]) -> bool {
        if data.len() > self.len {
            return false;
        }
        // SAFETY: `data.len()` bytes fit in the mapping; the other side does
        // not touch it until told to on the socket.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), self.ptr, data.len()) };
        true
    }

    /// A copy of the first `len` bytes of the region (None past its end).
    pub fn take(&self, len: usize) -> Option<Vec<u8>> {
        if len > self.len {
            return None;
        }
        let mut out = Vec::with_capacity(len);
        // SAFETY: `len` bytes of the mapping, written by the other side
        // before it sent the message that tells us to read them.
        unsafe {
            std::ptr::copy_nonoverlapping(self.ptr, out.as_mut_ptr(), len);
            out.set_len(len);
        }
        Some(out)
    }

    fn raw_fd(&self) -> i32 {
        self.fd.as_raw_fd()
    }
}

impl Drop for SharedMemory {
    fn drop(&mut self) {
        // SAFETY: unmapping the mapping this value owns.
        unsafe {
            libc::munmap(self.ptr.cast(), self.len.max(1));
        }
    }
}

/// Start `cmd` (a worker) with `socket` as its descriptor [`WORKER_FD`] and
/// `shm` as [`WORKER_SHM_FD`], its address space limited to `memory` bytes
/// (a libhdf5 allocation beyond that fails inside the worker, not on the
/// machine), and no signal blocked.
pub fn spawn_worker(
    cmd: &mut Command,
    socket: &UnixStream,
    shm: &SharedMemory,
    memory: u64,
) -> std::io::Result<Child> {
    let fds = [
        (socket.as_raw_fd(), WORKER_FD),
        (shm.raw_fd(), WORKER_SHM_FD),
    ];
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            // Out of the way first, so the second dup2 cannot clobber the first.
            let mut high = [0i32; 2];
            for (i, (fd, _)) in fds.iter().enumerate() {
                high[i] = libc::fcntl(*fd, libc::F_DUPFD_CLOEXEC, 10);
                if high[i] < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            for (i, (_, to)) in fds.iter().enumerate() {
                if libc::dup2(high[i], *to) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            let limit = libc::rlimit {
                rlim_cur: memory,
                rlim_max: memory,
            };
            if libc::setrlimit(libc::RLIMIT_AS, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // Not the daemon's stop signals: the daemon stops its workers.
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::pthread_sigmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
            Ok(())
        });
    }
    cmd.spawn()
}

/// The socket a worker was started with.
pub fn worker_socket(fd: i32) -> UnixStream {
    // SAFETY: the daemon passed this descriptor (a socket) for us to own.
    unsafe { UnixStream::from_raw_fd(fd) }
}

/// The parent process id (a worker whose daemon died is re-parented).
pub fn parent_pid() -> u32 {
    std::os::unix::process::parent_id()
}

/// End the process at once, without exit handlers (safe from any thread,
/// also while another is inside libhdf5).
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit(2) ends the process; nothing runs after it.
    unsafe { libc::_exit(code) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn temp_file(bytes: &[u8]) -> File {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let path = std::env::temp_dir().join(format!("h5fs-pread-{}-{n}", std::process::id()));
        File::create(&path).unwrap().write_all(bytes).unwrap();
        let f = File::open(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        f
    }

    #[test]
    fn pread_append_reads_at_offset_after_existing_bytes() {
        let data: Vec<u8> = (0..=255u8).cycle().take(3 << 20).collect();
        let f = temp_file(&data);
        let mut out = b"head".to_vec();
        pread_append(&mut out, &f, (2 << 20) + 3, 5).unwrap();
        assert_eq!(&out[..4], b"head");
        assert_eq!(&out[4..], &data[5..5 + (2 << 20) + 3]);
        pread_append(&mut out, &f, 0, 7).unwrap();
        assert_eq!(out.len(), 4 + (2 << 20) + 3);
        let e = pread_append(&mut out, &f, 8, u64::MAX - 4).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
    }

    #[test]
    fn pread_append_past_the_end_is_eof_and_leaves_out_alone() {
        let f = temp_file(b"0123456789");
        let mut out = b"xy".to_vec();
        let e = pread_append(&mut out, &f, 8, 4).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof);
        assert_eq!(out, b"xy");
        pread_append(&mut out, &f, 6, 4).unwrap();
        assert_eq!(out, b"xy456789");
    }
}
