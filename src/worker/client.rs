//! The daemon's side: a pool of worker processes and one call per request.
//!
//! A call takes an idle worker (starting one if fewer than the maximum run),
//! sends the request and waits for the answer at most the configured time.
//! A worker that dies (a crash in libhdf5, its memory limit) or does not
//! answer in time is killed and replaced; the request then fails with
//! [`ErrorKind::Crashed`] or [`ErrorKind::TimedOut`], which the filesystem
//! turns into EIO. A read that crashed a worker is tried once more on a
//! fresh one (the crash may have come from an earlier request's damage);
//! a read that crashed twice or hung is remembered and answered at once
//! with the same error afterwards, so a bad object costs one timeout, not
//! one per `ls`; after a read of a dataset's data hangs, every read of that
//! dataset's data is refused so (the kernel retries a failed read in
//! smaller pieces). Changes are never retried.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use log::warn;

use super::protocol::{read_frame, write_frame, Payload, Reply, Request, Response};
use crate::model::{ErrorKind, FileFacts, H5Error, Result};
use crate::sys::SharedMemory;

/// How workers are run.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// The program run as a worker: this binary, which serves as a worker
    /// when [`super::WORKER_ENV`] is set.
    pub exe: PathBuf,
    /// Longest a request may take before its worker is stopped.
    pub timeout: Duration,
    /// Address-space limit of each worker, in bytes.
    pub memory: u64,
    /// Most workers at once (1 for a file open for writing: only one
    /// process may have it open).
    pub max_workers: usize,
    /// Where workers write their stderr (None: the daemon's stderr).
    pub stderr: Option<std::sync::Arc<std::fs::File>>,
}

/// Memory shared with each worker for payloads: a read request (1 MiB at
/// most), a chunk, a piece of a copy (8 MiB); larger ones go by the socket.
const SHARED_BYTES: usize = 16 << 20;

/// Remembered requests that crashed or hung a worker; past this many the
/// oldest are not remembered (a damaged file costs more timeouts then).
const MAX_POISONED: usize = 10_000;

struct Proc {
    child: Child,
    stream: UnixStream,
    /// Memory shared with the worker, for payloads.
    shm: SharedMemory,
    /// Whether the file is open in this worker.
    opened: bool,
}

#[derive(Default)]
struct Pool {
    idle: Vec<Proc>,
    /// Workers running, idle or busy.
    live: usize,
}

/// Why an exchange with a worker failed (the worker is unusable after it).
enum Failure {
    /// No answer within the time limit.
    Timeout,
    /// The worker's end closed, or it sent something that is not an answer.
    Lost(std::io::Error),
}

/// The worker processes serving one file.
pub struct Workers {
    cfg: WorkerConfig,
    path: PathBuf,
    /// The mode workers open the file in.
    writable: AtomicBool,
    pool: Mutex<Pool>,
    freed: Condvar,
    poisoned: Mutex<HashSet<Vec<u8>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Workers {
    /// Start a worker and open `path` in it; the file's facts on success.
    pub fn open(cfg: WorkerConfig, path: PathBuf, writable: bool) -> Result<(Workers, FileFacts)> {
        let w = Workers {
            cfg,
            path,
            writable: AtomicBool::new(writable),
            pool: Mutex::new(Pool::default()),
            freed: Condvar::new(),
            poisoned: Mutex::new(HashSet::new()),
        };
        let facts = w.open_in_a_worker()?;
        Ok((w, facts))
    }

    fn open_in_a_worker(&self) -> Result<FileFacts> {
        let mut proc = self.take()?;
        let open = self.open_request();
        match exchange(&mut proc, &open, &[], self.cfg.timeout) {
            Ok((Ok(Reply::Facts(f)), _)) => {
                proc.opened = true;
                self.give_back(proc);
                Ok(f)
            }
            Ok((Ok(other), _)) => {
                self.give_back(proc);
                Err(unexpected(&other))
            }
            Ok((Err(e), _)) => {
                self.give_back(proc);
                Err(e)
            }
            Err(f) => Err(self.bury(proc, f, &open)),
        }
    }

    fn open_request(&self) -> Request {
        Request::Open {
            path: self.path.clone(),
            writable: self.writable.load(Ordering::SeqCst),
        }
    }

    /// The mode workers open the file in from now on (after a successful
    /// [`Request::Reopen`] by the caller).
    pub fn set_writable(&self, writable: bool) {
        self.writable.store(writable, Ordering::SeqCst);
    }

    pub fn is_writable(&self) -> bool {
        self.writable.load(Ordering::SeqCst)
    }

    /// Ask a worker; returns its reply and payload.
    pub fn call(&self, req: &Request, payload: &[u8]) -> Result<(Reply, Vec<u8>)> {
        let key = if req.changes() {
            None
        } else {
            postcard::to_allocvec(req).ok()
        };
        // A dataset whose data once hung a worker: every read of its data.
        let data_key = req.data_of().and_then(|loc| {
            let mut k = b"data:".to_vec();
            k.extend(postcard::to_allocvec(loc).ok()?);
            Some(k)
        });
        {
            let p = lock(&self.poisoned);
            if key.iter().chain(&data_key).any(|k| p.contains(k)) {
                return Err(H5Error::new(
                    ErrorKind::Crashed,
                    format!(
                        "libhdf5 failed on this before ({}); not asked again until remount",
                        req.doing()
                    ),
                ));
            }
        }
        let attempts = if key.is_some() { 2 } else { 1 };
        for attempt in 1..=attempts {
            let mut proc = self.take()?;
            if !proc.opened {
                let open = self.open_request();
                match exchange(&mut proc, &open, &[], self.cfg.timeout) {
                    Ok((Ok(_), _)) => proc.opened = true,
                    Ok((Err(e), _)) => {
                        self.give_back(proc);
                        return Err(e);
                    }
                    Err(f) => return Err(self.bury(proc, f, &open)),
                }
            }
            match exchange(&mut proc, req, payload, self.cfg.timeout) {
                Ok((response, data)) => {
                    self.give_back(proc);
                    return response.map(|r| (r, data));
                }
                Err(f) => {
                    let timed_out = matches!(f, Failure::Timeout);
                    let e = self.bury(proc, f, req);
                    if timed_out || attempt == attempts {
                        let remember = key.iter().chain(data_key.iter().filter(|_| timed_out));
                        let mut p = lock(&self.poisoned);
                        for k in remember {
                            if p.len() < MAX_POISONED {
                                p.insert(k.clone());
                            }
                        }
                        return Err(e);
                    }
                    warn!("{}; trying once more in a new worker", e.msg);
                }
            }
        }
        unreachable!("the last attempt returns")
    }

    /// An idle worker, or a new one if fewer than the maximum run; else wait.
    fn take(&self) -> Result<Proc> {
        let mut pool = lock(&self.pool);
        loop {
            if let Some(p) = pool.idle.pop() {
                return Ok(p);
            }
            if pool.live < self.cfg.max_workers.max(1) {
                pool.live += 1;
                drop(pool);
                return self.spawn().inspect_err(|_| {
                    lock(&self.pool).live -= 1;
                    self.freed.notify_one();
                });
            }
            pool = self.freed.wait(pool).unwrap_or_else(|e| e.into_inner());
        }
    }

    fn give_back(&self, proc: Proc) {
        lock(&self.pool).idle.push(proc);
        self.freed.notify_one();
    }

    fn spawn(&self) -> Result<Proc> {
        let fail = |e: std::io::Error| {
            H5Error::new(
                ErrorKind::Other,
                format!(
                    "cannot start a libhdf5 worker ({}): {e}",
                    self.cfg.exe.display()
                ),
            )
        };
        let (ours, theirs) = UnixStream::pair().map_err(fail)?;
        let mut cmd = Command::new(&self.cfg.exe);
        cmd.env(super::WORKER_ENV, crate::sys::WORKER_FD.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        if let Some(f) = &self.cfg.stderr {
            cmd.stderr(f.try_clone().map_err(fail)?);
        }
        let shm = SharedMemory::new(SHARED_BYTES).map_err(fail)?;
        let child =
            crate::sys::spawn_worker(&mut cmd, &theirs, &shm, self.cfg.memory).map_err(fail)?;
        Ok(Proc {
            child,
            stream: ours,
            shm,
            opened: false,
        })
    }

    /// Kill a worker that failed, and say why it failed.
    fn bury(&self, mut proc: Proc, failure: Failure, req: &Request) -> H5Error {
        let _ = proc.child.kill();
        let status = proc.child.wait();
        lock(&self.pool).live -= 1;
        self.freed.notify_one();
        let doing = req.doing();
        match failure {
            Failure::Timeout => H5Error::new(
                ErrorKind::TimedOut,
                format!(
                    "libhdf5 did not finish {doing} within {} s; its worker was stopped",
                    self.cfg.timeout.as_secs_f64()
                ),
            ),
            Failure::Lost(e) => {
                let how = match status.ok().and_then(|s| s.signal()) {
                    Some(sig) => format!("was killed by signal {sig} ({})", signal_name(sig)),
                    None => format!("stopped answering ({e})"),
                };
                H5Error::new(
                    ErrorKind::Crashed,
                    format!(
                        "libhdf5 worker {how} while {doing} (a crash inside libhdf5, or its memory limit of {} MiB)",
                        self.cfg.memory >> 20
                    ),
                )
            }
        }
    }
}

impl Drop for Workers {
    /// Close every idle worker's socket so it closes the file and exits;
    /// wait a little, then kill what is left.
    fn drop(&mut self) {
        let idle = std::mem::take(&mut lock(&self.pool).idle);
        let mut children: Vec<Child> = idle
            .into_iter()
            .map(|p| {
                drop(p.stream);
                p.child
            })
            .collect();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !children.is_empty() && Instant::now() < deadline {
            children.retain_mut(|c| !matches!(c.try_wait(), Ok(Some(_)) | Err(_)));
            std::thread::sleep(Duration::from_millis(5));
        }
        for mut c in children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn unexpected(reply: &Reply) -> H5Error {
    H5Error::new(
        ErrorKind::Other,
        format!("unexpected answer from a libhdf5 worker: {reply:?}"),
    )
}

/// Send `req` and read the answer, within `timeout`.
fn exchange(
    proc: &mut Proc,
    req: &Request,
    payload: &[u8],
    timeout: Duration,
) -> std::result::Result<(Response, Vec<u8>), Failure> {
    let deadline = Instant::now() + timeout;
    let mut io = Deadline {
        stream: &mut proc.stream,
        deadline,
    };
    let lost = |e: std::io::Error| {
        if matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ) {
            Failure::Timeout
        } else {
            Failure::Lost(e)
        }
    };
    write_frame(&mut io, req, Payload::Bytes(payload), Some(&mut proc.shm)).map_err(lost)?;
    match read_frame::<Response>(&mut io, Some(&proc.shm)).map_err(lost)? {
        Some(answer) => Ok(answer),
        None => Err(Failure::Lost(std::io::ErrorKind::UnexpectedEof.into())),
    }
}

/// A socket whose reads and writes give up at a deadline.
struct Deadline<'a> {
    stream: &'a mut UnixStream,
    deadline: Instant,
}

impl Deadline<'_> {
    fn remaining(&self) -> std::io::Result<Duration> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(std::io::ErrorKind::TimedOut.into());
        }
        Ok(left)
    }
}

impl Read for Deadline<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let left = self.remaining()?;
        self.stream.set_read_timeout(Some(left))?;
        self.stream.read(buf)
    }
}

impl Write for Deadline<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let left = self.remaining()?;
        self.stream.set_write_timeout(Some(left))?;
        self.stream.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.stream.flush()
    }
}

fn signal_name(sig: i32) -> &'static str {
    match sig {
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGILL => "SIGILL",
        libc::SIGKILL => "SIGKILL",
        _ => "signal",
    }
}
