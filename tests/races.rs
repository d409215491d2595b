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

/// Writers and readers on one rw mount for a bounded time: three writers on
/// datasets of their own (pwrite and append, each keeping a model), two
/// writers sharing one dataset (disjoint elements), two readers checking
/// that no element is ever torn, and a metadata walker (stat, listings,
/// xattrs, sidecars). No deadlock (everything ends), no torn element, and
/// after unmount every dataset equals its writers' model.
#[test]
fn concurrent_writers_and_readers_keep_every_model() {
    if !fuse_available("concurrent_writers_and_readers_keep_every_model") {
        return;
    }
    let t = TempDir::new("race-models");
    let file = t.path().join("m.h5");
    make_h5(
        &file,
        "for i in range(3):\n    f.create_dataset('own%d' % i, shape=(0,), maxshape=(None,), chunks=(512,), dtype='<u8')\n\
         f.create_dataset('shared', data=np.zeros(4096, dtype='<u8'), chunks=(256,))\n\
         f.attrs['note'] = 'race'",
    );
    let m = Mount::with(&file, &["-o", "rw"], &[]);
    let deadline = Instant::now() + Duration::from_secs(8);
    // An element is two equal u32 halves: a torn one has unequal halves.
    let element = |v: u32| -> [u8; 8] {
        let mut e = [0u8; 8];
        e[..4].copy_from_slice(&v.to_le_bytes());
        e[4..].copy_from_slice(&v.to_le_bytes());
        e
    };
    let torn = |buf: &[u8]| -> Option<usize> { buf.chunks_exact(8).position(|c| c[..4] != c[4..]) };
    let stop = AtomicBool::new(false);
    let (own_models, shared_models, reader_checks) = std::thread::scope(|s| {
        // Writers of their own datasets: appends and overwrites, modelled.
        let own: Vec<_> = (0..3u32)
            .map(|w| {
                let path = m.path(&format!("own{w}"));
                s.spawn(move || {
                    let f = OpenOptions::new()
                        .read(true)
                        .write(true)
                        .open(&path)
                        .unwrap();
                    let mut model: Vec<u8> = Vec::new();
                    let mut seq = 0u32;
                    while Instant::now() < deadline {
                        seq += 1;
                        let v = (w << 24) | seq;
                        let n = 1 + (seq as usize * 7919) % 300;
                        let len = model.len() / 8;
                        let at = if len > 0 && seq % 3 == 0 {
                            (seq as usize * 104729) % len
                        } else {
                            len
                        };
                        let bytes: Vec<u8> = (0..n).flat_map(|_| element(v)).collect();
                        f.write_all_at(&bytes, (at * 8) as u64).unwrap();
                        if model.len() < (at + n) * 8 {
                            model.resize((at + n) * 8, 0);
                        }
                        model[at * 8..(at + n) * 8].copy_from_slice(&bytes);
                        // Our own reads see our own writes.
                        let mut back = vec![0u8; bytes.len()];
                        f.read_exact_at(&mut back, (at * 8) as u64).unwrap();
                        assert_eq!(back, bytes, "own{w}: a read after a write");
                    }
                    model
                })
            })
            .collect();
        // Two writers on one dataset: even and odd blocks of 16 elements.
        let shared: Vec<_> = (0..2u32)
            .map(|w| {
                let path = m.path("shared");
                s.spawn(move || {
                    let f = OpenOptions::new().write(true).open(&path).unwrap();
                    let mut last = vec![0u32; 4096 / 16];
                    let mut seq = 0u32;
                    while Instant::now() < deadline {
                        seq += 1;
                        let block = 2 * ((seq as usize * 31) % 128) + w as usize;
                        let v = 0x4000_0000 | (w << 24) | seq;
                        let bytes: Vec<u8> = (0..16).flat_map(|_| element(v)).collect();
                        f.write_all_at(&bytes, (block * 16 * 8) as u64).unwrap();
                        last[block] = v;
                    }
                    (w, last)
                })
            })
            .collect();
        // Readers: whole elements only, ever.
        let readers: Vec<_> = ["shared", "own0"]
            .into_iter()
            .map(|name| {
                let path = m.path(name);
                let stop = &stop;
                s.spawn(move || {
                    let f = std::fs::File::open(&path).unwrap();
                    let mut reads = 0;
                    while !stop.load(Ordering::Relaxed) {
                        let size = f.metadata().unwrap().len() as usize;
                        let mut buf = vec![0u8; size];
                        let n = f.read_at(&mut buf, 0).unwrap();
                        buf.truncate(n - n % 8);
                        assert_eq!(torn(&buf), None, "{name}: torn element read");
                        reads += 1;
                    }
                    reads
                })
            })
            .collect();
        // Metadata: stat, listings, xattrs and sidecars all the while.
        let walker = {
            let stop = &stop;
            let root = m.mnt.clone();
            s.spawn(move || {
                let mut rounds = 0;
                while !stop.load(Ordering::Relaxed) {
                    for e in std::fs::read_dir(&root).unwrap() {
                        let p = e.unwrap().path();
                        let _ = std::fs::metadata(&p);
                        if p.extension().is_some_and(|x| x == "json") {
                            let _ = std::fs::read(&p);
                        }
                    }
                    let _ = xattr_names(&root);
                    rounds += 1;
                }
                rounds
            })
        };
        let own_models: Vec<Vec<u8>> = own.into_iter().map(|h| h.join().unwrap()).collect();
        let shared_models: Vec<(u32, Vec<u32>)> =
            shared.into_iter().map(|h| h.join().unwrap()).collect();
        stop.store(true, Ordering::Relaxed);
        let checks: Vec<usize> = readers.into_iter().map(|h| h.join().unwrap()).collect();
        assert!(
            walker.join().unwrap() > 0,
            "the metadata walker never finished a round"
        );
        (own_models, shared_models, checks)
    });
    assert!(
        reader_checks.iter().all(|n| *n > 0),
        "readers made no reads: {reader_checks:?}"
    );
    let log = m.log_text();
    assert!(m.finish(), "daemon did not exit cleanly:\n{log}");
    // Build the expected shared dataset from the writers' last values.
    let mut shared = vec![0u8; 4096 * 8];
    for (w, last) in &shared_models {
        for (block, v) in last.iter().enumerate() {
            if block % 2 == *w as usize && *v != 0 {
                for i in 0..16 {
                    let at = (block * 16 + i) * 8;
                    shared[at..at + 8].copy_from_slice(&element(*v));
                }
            }
        }
    }
    let dir = t.path();
    for (i, model) in own_models.iter().enumerate() {
        std::fs::write(dir.join(format!("own{i}.bin")), model).unwrap();
    }
    std::fs::write(dir.join("shared.bin"), &shared).unwrap();
    read_h5(
        &file,
        &format!(
            "import os\nd = {:?}\n\
             for name in ['own0', 'own1', 'own2', 'shared']:\n    \
             want = open(os.path.join(d, name + '.bin'), 'rb').read()\n    \
             got = f[name][()].tobytes()\n    \
             assert got == want, (name, len(got), len(want), [i for i in range(0, min(len(got), len(want)), 8) if got[i:i+8] != want[i:i+8]][:5])\n\
             assert f.attrs['note'] == 'race'",
            dir.to_str().unwrap()
        ),
    );
}

fn xattr_names(path: &std::path::Path) -> std::io::Result<Vec<u8>> {
    let p = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    let mut buf = vec![0u8; 65536];
    // SAFETY: a NUL-terminated path and a live buffer of the size given.
    let n = unsafe { libc::listxattr(p.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        return Err(std::io::Error::last_os_error());
    }
    buf.truncate(n as usize);
    Ok(buf)
}
