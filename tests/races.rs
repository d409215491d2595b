//! Races between requests on one mount: what one client changes, another
//! client's requests must never undo or hide (docs/SEMANTICS.md §10.14).

mod common;

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::*;

/// `stat` loops racing a writer that grows a chunked dataset: every size
/// `fstat` shows the writer is at least what it wrote, and after unmount
/// h5py finds every acknowledged byte. (A stale cached shape once made the
/// next append shrink the dataset, dropping bytes already written.)
#[test]
fn stat_racing_growing_writes_loses_nothing() {
    if !fuse_available("stat_racing_growing_writes_loses_nothing") {
        return;
    }
    let t = TempDir::new("race-grow");
    let file = t.path().join("grow.h5");
    make_h5(
        &file,
        "f.create_dataset('d', shape=(0,), maxshape=(None,), chunks=(4096,), dtype='u1')",
    );
    let m = Mount::with(&file, &["-o", "rw"], &[]);
    let path = m.path("d");
    let block = 4096usize;
    let stop = AtomicBool::new(false);
    let written = std::thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    let _ = std::fs::metadata(&path);
                }
            });
        }
        let w = s.spawn(|| {
            let f = OpenOptions::new().write(true).open(&path).unwrap();
            let start = Instant::now();
            let mut n = 0usize;
            let mut stale = Vec::new();
            while start.elapsed() < Duration::from_secs(8) && n < 40_000 {
                let buf = vec![(n % 251) as u8; block];
                if let Err(e) = f.write_all_at(&buf, (n * block) as u64) {
                    return (n, stale, Some(e));
                }
                n += 1;
                let size = f.metadata().unwrap().len();
                if size < (n * block) as u64 && stale.len() < 5 {
                    stale.push((n, size));
                }
            }
            // One byte appended at what the mount says is the end.
            let mut a = OpenOptions::new().append(true).open(&path).unwrap();
            let appended = a.write_all(&[0xEE]).err();
            (n, stale, appended)
        });
        let r = w.join();
        stop.store(true, Ordering::Relaxed);
        r.unwrap()
    });
    let (n, stale, failed) = written;
    let log = m.log_text();
    assert!(m.finish(), "daemon did not exit cleanly:\n{log}");
    assert!(failed.is_none(), "write {n} failed: {failed:?}\n{log}");
    assert!(
        stale.is_empty(),
        "fstat after a write showed less than was written (write n, size): {stale:?}"
    );
    let out = read_h5(
        &file,
        "d = f['d'][()]\nsys.stdout.write(f'{d.size}\\n')\n\
         want = np.repeat((np.arange(N) % 251).astype('u1'), 4096)\n\
         assert (d[:N * 4096] == want).all(), 'written bytes changed'\n\
         assert d[N * 4096:].tolist() == [0xEE], d[N * 4096:][:16]"
            .replace("N", &n.to_string())
            .as_str(),
    );
    let size: usize = String::from_utf8_lossy(&out).trim().parse().unwrap();
    assert_eq!(
        size,
        n * block + 1,
        "{n} writes of {block} bytes, then 1 byte"
    );
}
