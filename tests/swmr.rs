//! Files still being written: an h5py SWMR writer appends while the mount
//! is read (docs/SEMANTICS.md §14.5). `tail -f` (GNU tail polls on FUSE)
//! must print every row, sizes never go backwards, and every byte read
//! equals what the writer wrote.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;

/// Rows of 4 int64 each.
const ROW: u64 = 32;

/// Start the SWMR writer; returns once it is in SWMR mode.
fn writer(file: &Path, rows: u32, hz: u32) -> Child {
    let mut child = Command::new(PYTHON)
        .arg(repo().join("tests/python/swmr_writer.py"))
        .arg(file)
        .arg(rows.to_string())
        .arg(hz.to_string())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the SWMR writer");
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "ready", "the writer did not start");
    child
}

/// A process killed and reaped on drop (also when the test fails).
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn tail(path: &Path, out: &Path) -> Reaped {
    Reaped(
        Command::new("tail")
            .args(["-s", "0.2", "-c", "+1", "-f"])
            .arg(path)
            .stdout(std::fs::File::create(out).unwrap())
            .spawn()
            .expect("start tail"),
    )
}

fn shape0(sidecar: &[u8]) -> u64 {
    let v: serde_json::Value = serde_json::from_slice(sidecar).expect("sidecar is JSON");
    v["shape"][0].as_u64().expect("shape[0]")
}

#[test]
fn an_swmr_writers_rows_arrive_whole_and_in_order() {
    if !fuse_available("swmr") {
        return;
    }
    let dir = TempDir::new("swmr");
    let file = dir.path().join("live.h5");
    // 20 rows a second for 10 seconds.
    let rows = 200;
    let mut w = writer(&file, rows, 20);
    // A plain reader is refused by libhdf5; h5fs opens it for SWMR reading.
    let m = Mount::with(&file, &["-o", "refresh=0.5", "-v"], &[]);
    assert!(
        m.log_text().contains("opened for SWMR reading"),
        "{}",
        m.log_text()
    );
    let tails = [
        (tail(&m.path("rows"), &dir.path().join("rows.out")), "rows"),
        (tail(&m.path("gz"), &dir.path().join("gz.out")), "gz"),
    ];

    // Meanwhile: sizes and sidecar shapes never go backwards, and every
    // whole read is a prefix of what the writer ends with.
    let stop = Arc::new(AtomicBool::new(false));
    let poller = {
        let (stop, rows_path, json_path) = (stop.clone(), m.path("rows"), m.path("rows.json"));
        std::thread::spawn(move || {
            let (mut size, mut shape, mut reads) = (0u64, 0u64, Vec::new());
            let mut polls = 0;
            while !stop.load(Ordering::SeqCst) {
                let s = std::fs::metadata(&rows_path).unwrap().len();
                assert!(s >= size, "size went back from {size} to {s}");
                assert_eq!(s % ROW, 0, "a size of part of a row: {s}");
                size = s;
                let n = shape0(&std::fs::read(&json_path).unwrap());
                assert!(n >= shape, "shape went back from {shape} to {n}");
                shape = n;
                let bytes = std::fs::read(&rows_path).unwrap();
                assert_eq!(bytes.len() as u64 % ROW, 0, "a read of part of a row");
                reads.push(bytes);
                polls += 1;
                std::thread::sleep(Duration::from_millis(70));
            }
            (polls, size, reads)
        })
    };
    let status = w.wait().unwrap();
    assert!(status.success(), "the writer failed");
    // Everything is visible within the refresh time (and tail's poll).
    std::thread::sleep(Duration::from_millis(2500));
    stop.store(true, Ordering::SeqCst);
    let (polls, last_size, reads) = poller.join().expect("the poller saw a regression");
    drop(tails);

    let want_rows = read_h5(&file, "sys.stdout.buffer.write(f['rows'][()].tobytes())");
    let want_gz = read_h5(&file, "sys.stdout.buffer.write(f['gz'][()].tobytes())");
    assert_eq!(want_rows.len() as u64, rows as u64 * ROW);
    assert_eq!(last_size, want_rows.len() as u64, "the final size");
    assert!(polls > 50, "only {polls} polls");
    let growing = reads
        .iter()
        .filter(|r| !r.is_empty() && r.len() < want_rows.len())
        .count();
    assert!(
        growing > 20,
        "the reads saw the file grow only {growing} times"
    );
    for r in &reads {
        assert!(
            want_rows.starts_with(r),
            "a read of {} bytes is not what the writer wrote",
            r.len()
        );
    }
    let got_rows = std::fs::read(dir.path().join("rows.out")).unwrap();
    let got_gz = std::fs::read(dir.path().join("gz.out")).unwrap();
    assert!(
        got_rows == want_rows,
        "tail -f of rows: {} bytes",
        got_rows.len()
    );
    assert!(got_gz == want_gz, "tail -f of gz: {} bytes", got_gz.len());
    assert!(m.finish());
}

#[test]
fn swmr_reading_can_be_asked_for_and_a_finished_file_reads_whole() {
    if !fuse_available("swmr_option") {
        return;
    }
    let dir = TempDir::new("swmr-done");
    let file = dir.path().join("done.h5");
    let mut w = writer(&file, 40, 200);
    assert!(w.wait().unwrap().success());
    let m = Mount::with(&file, &["-o", "swmr", "-v"], &[]);
    assert!(m.log_text().contains("SWMR reading"), "{}", m.log_text());
    let report = oracle(&m, &file, &[]);
    assert_eq!(
        report["mismatches"].as_array().unwrap().len(),
        0,
        "{report:#}"
    );
    assert_eq!(std::fs::metadata(m.path("rows")).unwrap().len(), 40 * ROW);
    drop(m);
    // With rw it is refused: SWMR is for reading.
    let out = Command::new(BIN)
        .arg(&file)
        .arg(dir.path())
        .args(["-o", "swmr,rw"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("'swmr' is for reading"));
}

/// Wait (up to 10 s) until `cond` holds.
fn eventually(what: &str, m: &Mount, cond: impl Fn() -> bool) {
    let start = std::time::Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{what}: not seen within 10 s\n{}",
            m.log_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A file another program replaces, extends in place (without locking) or
/// cuts short under a read-only mount, without SWMR (§9.2): the mount opens
/// it anew within the refresh time; files open since read the old file.
#[test]
fn a_file_changed_by_another_program_is_opened_anew() {
    use std::os::unix::fs::{FileExt, MetadataExt};
    if !fuse_available("plain_growth") {
        return;
    }
    let t = TempDir::new("changed");
    let file = t.path().join("f.h5");
    let tmp = t.path().join("new.h5");
    make_h5(
        &file,
        "f['a'] = np.arange(4, dtype='<i4')\nf['g/x'] = np.arange(3, dtype='u1')\n\
         f.create_dataset('s', data=np.arange(64, dtype='<i2'), chunks=(4,))",
    );
    let m = Mount::with(&file, &["-o", "refresh=0.2"], &[]);
    let held = std::fs::File::open(m.path("a")).unwrap();
    // Read through libhdf5 (small chunks), not yet: after the change.
    let small = std::fs::File::open(m.path("s")).unwrap();
    let g = std::fs::File::open(m.path("g")).unwrap();
    assert_eq!(std::fs::read(m.path("g/x")).unwrap(), [0, 1, 2]);
    let old_ino = held.metadata().unwrap().ino();

    // Replaced (written aside and renamed over it).
    make_h5(
        &tmp,
        "f['a'] = np.arange(3, dtype='<f8')\nf['b'] = np.arange(6, dtype='<i8')\n\
         f.create_dataset('s', data=-np.arange(64, dtype='<i2'), chunks=(4,))",
    );
    std::fs::rename(&tmp, &file).unwrap();
    eventually("the replaced file's names", &m, || {
        names_in(&m.mnt) == ["a", "a.json", "b", "b.json", "s", "s.json"]
    });
    // The old tree's worker dies: the one started in its place must not
    // read the file that took the old one's name. The old bytes or ESTALE.
    let task = format!("/proc/{}/task", m.pid());
    for t in std::fs::read_dir(task).unwrap() {
        let children = std::fs::read_to_string(t.unwrap().path().join("children")).unwrap();
        for c in children.split_whitespace() {
            // SAFETY: a plain kill(2) of a worker process of this test's daemon.
            unsafe { libc::kill(c.parse().unwrap(), libc::SIGKILL) };
        }
    }
    let mut old = vec![0u8; 128];
    match small.read_exact_at(&mut old, 0) {
        Ok(()) => assert_eq!(
            old,
            (0i16..64)
                .flat_map(|v| v.to_le_bytes())
                .collect::<Vec<u8>>()
        ),
        Err(e) => assert_eq!(e.raw_os_error(), Some(libc::ESTALE), "{e}"),
    }
    drop(small);
    let a = std::fs::read(m.path("a")).unwrap();
    assert_eq!(
        a,
        read_h5(&file, "sys.stdout.buffer.write(f['a'][()].tobytes())")
    );
    assert_ne!(std::fs::metadata(m.path("a")).unwrap().ino(), old_ino);
    let sidecar: serde_json::Value =
        serde_json::from_slice(&std::fs::read(m.path("a.json")).unwrap()).unwrap();
    assert_eq!(sidecar["dtype"], "<f8");
    // The file open since reads the old one, and says its old size.
    let mut buf = [0u8; 16];
    held.read_exact_at(&mut buf, 0).unwrap();
    assert_eq!(buf, *b"\0\0\0\0\x01\0\0\0\x02\0\0\0\x03\0\0\0");
    assert_eq!(held.metadata().unwrap().len(), 16);
    drop(held);
    // A directory of the old tree is stale.
    let c = std::ffi::CString::new("x").unwrap();
    // SAFETY: openat on a descriptor we own, with a NUL-terminated name.
    let fd = unsafe { libc::openat(std::os::fd::AsRawFd::as_raw_fd(&g), c.as_ptr(), 0) };
    assert_eq!(fd, -1);
    assert_eq!(
        std::io::Error::last_os_error().raw_os_error(),
        Some(libc::ESTALE)
    );
    drop(g);

    // Extended in place by a writer that does not lock the file.
    let out = Command::new(PYTHON)
        .env("HDF5_USE_FILE_LOCKING", "FALSE")
        .args([
            "-c",
            &format!(
                "import h5py, numpy as np\n\
                 with h5py.File({:?}, 'a') as f:\n\
                 \x20   f['c'] = np.arange(5, dtype='u1')\n",
                file.to_str().unwrap()
            ),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eventually("the new dataset", &m, || m.path("c").exists());
    assert_eq!(std::fs::read(m.path("c")).unwrap(), [0, 1, 2, 3, 4]);

    // Cut short: the mount keeps the tree it has, says why, and answers.
    std::fs::File::create(&file).unwrap();
    eventually("the log line", &m, || {
        names_in(&m.mnt);
        m.log_text().contains("cannot be opened anew yet")
    });
    assert_eq!(names_in(&m.mnt).len(), 8);
    // Written anew: opened again.
    make_h5(&tmp, "f['z'] = np.ones(2)");
    std::fs::rename(&tmp, &file).unwrap();
    eventually("the rewritten file", &m, || {
        names_in(&m.mnt) == ["z", "z.json"]
    });
    let log = m.log_text();
    assert!(m.finish(), "{log}");
}
