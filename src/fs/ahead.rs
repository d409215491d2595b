//! Read-ahead for one open file whose reads bypass the kernel's page cache
//! (`-o ro,direct_io`). There the kernel sends a single reader's requests one
//! at a time, so h5fs reads the next request's bytes while the current reply
//! is on its way. Only read-only mounts use it: the bytes cannot change.
//!
//! The logic here is pure (no I/O): the core asks [`ReadAhead::take`] for
//! bytes it may already have, and [`ReadAhead::next`] whether to fetch the
//! following range, which it then fetches and hands to [`ReadAhead::fill`].

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex};

use super::lock;

/// Bytes held by read-ahead across all open files, at most.
pub const BUDGET: usize = 64 << 20;

#[derive(Debug)]
enum Slot {
    Empty,
    /// Being read: `size` bytes at `offset`.
    Pending {
        offset: u64,
        size: u64,
    },
    /// Read (None: the read failed; the request reads again and reports it).
    Ready {
        offset: u64,
        size: u64,
        data: Option<Vec<u8>>,
    },
}

#[derive(Debug)]
struct State {
    slot: Slot,
    /// Where the last request ended: a request starting here is sequential.
    last_end: u64,
}

/// One open file's read-ahead: at most one range, read or being read.
#[derive(Debug)]
pub struct ReadAhead {
    state: Mutex<State>,
    filled: Condvar,
    /// Bytes held by all read-aheads of the mount (shared).
    held: Arc<AtomicUsize>,
}

impl ReadAhead {
    pub fn new(held: Arc<AtomicUsize>) -> Self {
        ReadAhead {
            state: Mutex::new(State {
                slot: Slot::Empty,
                last_end: 0,
            }),
            filled: Condvar::new(),
            held,
        }
    }

    /// The bytes of `[offset, offset + size)` if read ahead (waiting for a
    /// read in progress of that range); None means "read them now". Bytes
    /// read ahead but not asked for next are dropped.
    pub fn take(&self, offset: u64, size: u64) -> Option<Vec<u8>> {
        let mut st = lock(&self.state);
        while matches!(st.slot, Slot::Pending { offset: o, size: s } if o == offset && s >= size) {
            st = self.filled.wait(st).unwrap_or_else(|e| e.into_inner());
        }
        let (o, s, data) = match std::mem::replace(&mut st.slot, Slot::Empty) {
            Slot::Ready { offset, size, data } => (offset, size, data),
            // Nothing, or another range still being read (its job fills it).
            other => {
                st.slot = other;
                return None;
            }
        };
        let mut data = data?;
        self.held.fetch_sub(data.capacity(), Ordering::Relaxed);
        // Usable if it covers the request, or ends where the file does.
        let n = data.len() as u64;
        if o != offset || (n < size && n >= s) {
            return None;
        }
        data.truncate(size as usize);
        Some(data)
    }

    /// A request `[offset, offset + size)` was answered with `got` bytes:
    /// the range to read ahead, if the reader goes on sequentially, the file
    /// did not end, nothing is being read ahead and the budget allows.
    pub fn next(&self, offset: u64, size: u64, got: u64) -> Option<(u64, u64)> {
        let mut st = lock(&self.state);
        let sequential = offset == st.last_end;
        st.last_end = offset + got;
        if !sequential || got < size || size == 0 || !matches!(st.slot, Slot::Empty) {
            return None;
        }
        let held = self.held.fetch_add(size as usize, Ordering::Relaxed);
        if held + size as usize > BUDGET {
            self.held.fetch_sub(size as usize, Ordering::Relaxed);
            return None;
        }
        let at = offset + got;
        st.slot = Slot::Pending { offset: at, size };
        Some((at, size))
    }

    /// The range [`ReadAhead::next`] gave was read (None: it failed).
    pub fn fill(&self, offset: u64, size: u64, data: Option<Vec<u8>>) {
        let mut st = lock(&self.state);
        // The budget was taken for `size` bytes; account for what is held.
        let n = data.as_ref().map_or(0, |d| d.capacity());
        self.held.fetch_sub(size as usize, Ordering::Relaxed);
        self.held.fetch_add(n, Ordering::Relaxed);
        st.slot = Slot::Ready { offset, size, data };
        self.filled.notify_all();
    }
}

impl Drop for ReadAhead {
    fn drop(&mut self) {
        let st = lock(&self.state);
        match &st.slot {
            Slot::Ready { data, .. } => {
                let n = data.as_ref().map_or(0, |d| d.capacity());
                self.held.fetch_sub(n, Ordering::Relaxed);
            }
            // Still being read: `fill` runs on this value, so no Pending is dropped.
            Slot::Pending { .. } | Slot::Empty => {}
        }
    }
}

/// The promise to [`ReadAhead::fill`] the range [`ReadAhead::next`] gave: kept
/// by [`Fill::with`], or, should the job never run or panic, by its drop with
/// a failed read (so the reader waiting for it reads the range itself).
pub struct Fill {
    ra: Arc<ReadAhead>,
    offset: u64,
    size: u64,
    done: bool,
}

impl Fill {
    pub fn new(ra: Arc<ReadAhead>, offset: u64, size: u64) -> Fill {
        Fill {
            ra,
            offset,
            size,
            done: false,
        }
    }

    pub fn with(mut self, data: Option<Vec<u8>>) {
        self.done = true;
        self.ra.fill(self.offset, self.size, data);
    }
}

impl Drop for Fill {
    fn drop(&mut self) {
        if !self.done {
            self.ra.fill(self.offset, self.size, None);
        }
    }
}

type Job = Box<dyn FnOnce() + Send>;

/// Threads that read ahead. They sleep while idle (unlike a work-stealing
/// pool's spinning), leaving the cores to the threads answering requests.
pub struct Workers {
    tx: Mutex<mpsc::Sender<Job>>,
    /// Bytes held by the read-aheads they serve (at most [`BUDGET`]).
    held: Arc<AtomicUsize>,
}

impl Workers {
    pub fn start(threads: usize) -> std::io::Result<Workers> {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("h5fs-ahead-{i}"))
                .spawn(move || loop {
                    // One thread waits for a job while the others wait for the lock;
                    // all end when the sender is dropped.
                    let job = lock(&rx).recv();
                    match job {
                        // A panic (a bug) ends the job, not the thread; the
                        // job's `Fill` reports it as a failed read.
                        Ok(job) => {
                            if std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)).is_err()
                            {
                                log::error!("read-ahead job panicked");
                            }
                        }
                        Err(_) => break,
                    }
                })?;
        }
        Ok(Workers {
            tx: Mutex::new(tx),
            held: Arc::default(),
        })
    }

    /// A read-ahead for one open file, within these workers' budget.
    pub fn read_ahead(&self) -> Arc<ReadAhead> {
        Arc::new(ReadAhead::new(self.held.clone()))
    }

    pub fn run(&self, job: impl FnOnce() + Send + 'static) {
        let tx = lock(&self.tx);
        // The workers live as long as the sender: a send cannot fail.
        let _ = tx.send(Box::new(job));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ra() -> (ReadAhead, Arc<AtomicUsize>) {
        let held = Arc::new(AtomicUsize::new(0));
        (ReadAhead::new(held.clone()), held)
    }

    #[test]
    fn sequential_reads_fetch_the_next_range() {
        let (r, held) = ra();
        assert_eq!(r.take(0, 4), None);
        assert_eq!(r.next(0, 4, 4), Some((4, 4)));
        assert_eq!(held.load(Ordering::Relaxed), 4);
        // Only one range at a time.
        assert_eq!(r.next(4, 4, 4), None);
        r.fill(4, 4, Some(b"efgh".to_vec()));
        assert_eq!(r.take(4, 4).as_deref(), Some(&b"efgh"[..]));
        assert_eq!(held.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn random_and_short_reads_fetch_nothing() {
        let (r, _) = ra();
        assert_eq!(r.next(100, 4, 4), None); // not where the last one ended
        assert_eq!(r.next(104, 4, 2), None); // the file ended
        assert_eq!(r.next(106, 0, 0), None);
    }

    #[test]
    fn other_ranges_and_failures_are_read_again() {
        let (r, held) = ra();
        r.next(0, 4, 4).unwrap();
        r.fill(4, 4, Some(b"efgh".to_vec()));
        assert_eq!(r.take(8, 4), None); // another range: dropped
        assert_eq!(held.load(Ordering::Relaxed), 0);
        assert_eq!(r.take(4, 4), None);
        assert_eq!(r.next(4, 4, 4), Some((8, 4)));
        r.fill(8, 4, None);
        assert_eq!(r.take(8, 4), None);
        assert_eq!(held.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn a_larger_request_uses_bytes_up_to_the_end_of_the_file() {
        let (r, _) = ra();
        r.next(0, 4, 4).unwrap();
        r.fill(4, 4, Some(b"ef".to_vec())); // the file ends at 6
        assert_eq!(r.take(4, 8).as_deref(), Some(&b"ef"[..]));
        let (r, _) = ra();
        r.next(0, 4, 4).unwrap();
        r.fill(4, 4, Some(b"efgh".to_vec()));
        assert_eq!(r.take(4, 8), None); // four bytes of eight, the file goes on
        let (r, _) = ra();
        r.next(0, 4, 4).unwrap();
        r.fill(4, 4, Some(b"efgh".to_vec()));
        assert_eq!(r.take(4, 2).as_deref(), Some(&b"ef"[..]));
    }

    #[test]
    fn the_budget_bounds_what_is_held() {
        let (r, held) = ra();
        held.store(BUDGET - 2, Ordering::Relaxed);
        assert_eq!(r.next(0, 4, 4), None);
        assert_eq!(held.load(Ordering::Relaxed), BUDGET - 2);
    }

    #[test]
    fn a_reader_waits_for_the_range_being_read() {
        let (r, _) = ra();
        let r = Arc::new(r);
        r.next(0, 4, 4).unwrap();
        let r2 = r.clone();
        let t = std::thread::spawn(move || r2.take(4, 4));
        std::thread::sleep(std::time::Duration::from_millis(20));
        r.fill(4, 4, Some(b"efgh".to_vec()));
        assert_eq!(t.join().unwrap().as_deref(), Some(&b"efgh"[..]));
    }

    #[test]
    fn workers_run_jobs() {
        let w = Workers::start(2).unwrap();
        let (tx, rx) = mpsc::channel();
        for i in 0..10 {
            let tx = tx.clone();
            w.run(move || tx.send(i).unwrap());
        }
        let mut got: Vec<i32> = (0..10).map(|_| rx.recv().unwrap()).collect();
        got.sort();
        assert_eq!(got, (0..10).collect::<Vec<_>>());
    }

    #[test]
    fn a_job_that_panics_or_never_runs_fills_with_a_failure() {
        let w = Workers::start(1).unwrap();
        let (r, held) = ra();
        let r = Arc::new(r);
        let (at, n) = r.next(0, 4, 4).unwrap();
        let fill = Fill::new(r.clone(), at, n);
        w.run(move || {
            let _keep = &fill;
            panic!("a bug");
        });
        assert_eq!(r.take(4, 4), None); // waits for the failure, then reads itself
        assert_eq!(held.load(Ordering::Relaxed), 0);
        // The worker survived.
        let (tx, rx) = mpsc::channel();
        w.run(move || tx.send(1).unwrap());
        assert_eq!(rx.recv().unwrap(), 1);
        let (at, n) = r.next(4, 4, 4).unwrap();
        drop(Fill::new(r.clone(), at, n));
        assert_eq!(r.take(8, 4), None);
        assert_eq!(held.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn dropping_a_filled_read_ahead_returns_its_budget() {
        let (r, held) = ra();
        r.next(0, 4, 4).unwrap();
        r.fill(4, 4, Some(Vec::with_capacity(4)));
        assert_eq!(held.load(Ordering::Relaxed), 4);
        drop(r);
        assert_eq!(held.load(Ordering::Relaxed), 0);
    }
}
