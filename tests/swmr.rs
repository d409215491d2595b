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
