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
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use log::warn;

use super::protocol::{read_frame, write_frame, Payload, Reply, Request, Response};
use crate::model::{Access, ErrorKind, FileFacts, H5Error, Result};
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
    /// How workers reach remote files ([`crate::remote::Settings::encode`]).
    pub remote: Option<String>,
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
    /// The files this worker was asked to open (it may have closed some
    /// since, to make room: it says so, and the file is opened again).
    opened: HashSet<u32>,
}

#[derive(Default)]
struct Procs {
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

/// Worker processes serving the files of a mount: each file is opened in a
/// worker when a request for it first reaches that worker, and each worker
/// keeps at most `keep` files open.
pub struct WorkerPool {
    cfg: WorkerConfig,
    keep: u32,
    procs: Mutex<Procs>,
    freed: Condvar,
    poisoned: Mutex<HashSet<Vec<u8>>>,
    next_id: AtomicU32,
}

/// One file's view of its worker pool: every libhdf5 call for the file.
pub struct Workers {
    pool: Arc<WorkerPool>,
    /// The pool's number for this file.
    id: u32,
    path: PathBuf,
    /// Driver, bounds, caches, SWMR.
    access: Access,
    /// Identity (device, inode) the file must still have when a worker opens it.
    ident: Option<(u64, u64)>,
    /// The mode workers open the file in.
    writable: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl WorkerPool {
    /// A pool of at most `cfg.max_workers` workers, each keeping at most
    /// `keep` files open.
    pub fn new(cfg: WorkerConfig, keep: u32) -> Arc<WorkerPool> {
        Arc::new(WorkerPool {
            cfg,
            keep: keep.max(1),
            procs: Mutex::new(Procs::default()),
            freed: Condvar::new(),
            poisoned: Mutex::new(HashSet::new()),
            next_id: AtomicU32::new(0),
        })
    }
}

impl Workers {
    /// Start a pool of its own for the file at `path` and open the file in
    /// a worker (with `ident`, only while the path names that file); the
    /// file's facts on success.
    pub fn open(
        cfg: WorkerConfig,
        path: PathBuf,
        writable: bool,
        access: Access,
        ident: Option<(u64, u64)>,
    ) -> Result<(Workers, FileFacts)> {
        Workers::open_in(&WorkerPool::new(cfg, 1), path, writable, access, ident)
    }

    /// Open the file at `path` in a worker of `pool` (which other files
    /// share); with `ident`, only while the path names that file.
    pub fn open_in(
        pool: &Arc<WorkerPool>,
        path: PathBuf,
        writable: bool,
        access: Access,
        ident: Option<(u64, u64)>,
    ) -> Result<(Workers, FileFacts)> {
        let w = Workers {
            pool: pool.clone(),
            id: pool.next_id.fetch_add(1, Ordering::Relaxed),
            path,
            access,
            ident,
            writable: AtomicBool::new(writable),
        };
        let proc = w.pool.take()?;
        let facts = w.open_on(proc)?;
        Ok((w, facts))
    }

    /// Open the file in worker `proc`, which is given back, unless the
    /// exchange failed (it is stopped then, and the error says why).
    fn open_on(&self, proc: Proc) -> Result<FileFacts> {
        let (proc, facts) = self.open_keeping(proc)?;
        self.pool.give_back(proc);
        facts
    }

    /// Open the file in worker `proc`: the worker back (None if the
    /// exchange failed and it was stopped: the error says why) and the
    /// worker's answer.
    fn open_keeping(&self, mut proc: Proc) -> Result<(Proc, Result<FileFacts>)> {
        let open = self.open_request();
        match exchange(&mut proc, self.id, &open, &[], self.pool.cfg.timeout) {
            Ok((Ok(Reply::Facts(f)), _)) => {
                proc.opened.insert(self.id);
                Ok((proc, Ok(f)))
            }
            Ok((Ok(other), _)) => Ok((proc, Err(unexpected(&other)))),
            Ok((Err(e), _)) => Ok((proc, Err(e))),
            Err(f) => Err(self.pool.fail(&mut proc, f, &open)),
        }
    }

    fn open_request(&self) -> Request {
        Request::Open {
            path: self.path.clone(),
            writable: self.writable.load(Ordering::SeqCst),
            access: self.access.clone(),
            keep: self.pool.keep,
            ident: self.ident,
        }
    }

    /// The mode workers open the file in from now on (after a successful
    /// [`Request::Reopen`] by the caller).
    pub fn set_writable(&self, writable: bool) {
        self.writable.store(writable, Ordering::SeqCst);
    }

    /// How the file is opened (driver, SWMR...).
    pub fn access(&self) -> &Access {
        &self.access
    }

    pub fn is_writable(&self) -> bool {
        self.writable.load(Ordering::SeqCst)
    }

    /// Ask a worker; returns its reply and payload.
    pub fn call(&self, req: &Request, payload: &[u8]) -> Result<(Reply, Vec<u8>)> {
        let key = if req.changes() {
            None
        } else {
            postcard::to_allocvec(&(self.id, req)).ok()
        };
        // A dataset whose data once hung a worker: every read of its data.
        let data_key = req.data_of().and_then(|loc| {
            let mut k = b"data:".to_vec();
            k.extend(postcard::to_allocvec(&(self.id, loc)).ok()?);
            Some(k)
        });
        {
            let p = lock(&self.pool.poisoned);
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
        let timeout = self.pool.cfg.timeout;
        for attempt in 1..=attempts {
            let mut proc = self.pool.take()?;
            // Opened first where it is not; again where the worker closed it.
            let mut answer = Ok((Err(H5Error::new(ErrorKind::NotOpen, "")), Vec::new()));
            for _ in 0..2 {
                if !proc.opened.contains(&self.id) {
                    let (back, opened) = self.open_keeping(proc)?;
                    proc = back;
                    if let Err(e) = opened {
                        self.pool.give_back(proc);
                        return Err(e);
                    }
                }
                answer = exchange(&mut proc, self.id, req, payload, timeout);
                match &answer {
                    Ok((Err(e), _)) if e.kind == ErrorKind::NotOpen => {
                        proc.opened.remove(&self.id);
                    }
                    _ => break,
                }
            }
            match answer {
                Ok((response, data)) => {
                    self.pool.give_back(proc);
                    return response.map(|r| (r, data));
                }
                Err(f) => {
                    let timed_out = matches!(f, Failure::Timeout);
                    let e = self.pool.fail(&mut proc, f, req);
                    if timed_out || attempt == attempts {
                        let remember = key.iter().chain(data_key.iter().filter(|_| timed_out));
                        let mut p = lock(&self.pool.poisoned);
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
}

impl WorkerPool {
    /// An idle worker, or a new one if fewer than the maximum run; else wait.
    fn take(&self) -> Result<Proc> {
        let mut procs = lock(&self.procs);
        loop {
            if let Some(p) = procs.idle.pop() {
                return Ok(p);
            }
            if procs.live < self.cfg.max_workers.max(1) {
                procs.live += 1;
                drop(procs);
                return self.spawn().inspect_err(|_| {
                    lock(&self.procs).live -= 1;
                    self.freed.notify_one();
                });
            }
            procs = self.freed.wait(procs).unwrap_or_else(|e| e.into_inner());
        }
    }

    fn give_back(&self, proc: Proc) {
        lock(&self.procs).idle.push(proc);
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
        if let Some(r) = &self.cfg.remote {
            cmd.env(super::urls::SETTINGS_ENV, r);
        }
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
            opened: HashSet::new(),
        })
    }

    /// Kill a worker that failed (it is not given back), and say why.
    fn fail(&self, proc: &mut Proc, failure: Failure, req: &Request) -> H5Error {
        let _ = proc.child.kill();
        let status = proc.child.wait();
        lock(&self.procs).live -= 1;
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

impl Drop for WorkerPool {
    /// Close every idle worker's socket so it closes its files and exits;
    /// wait a little, then kill what is left.
    fn drop(&mut self) {
        let idle = std::mem::take(&mut lock(&self.procs).idle);
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
    file: u32,
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
    write_frame(
        &mut io,
        &(file, req),
        Payload::Bytes(payload),
        Some(&mut proc.shm),
    )
    .map_err(lost)?;
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
