//! Model-based random test: seeded random pwrite / truncate / append / read
//! operations through a real `-o rw` mount on growable datasets of several
//! dtypes and ranks, each compared with an in-memory byte model after every
//! read; at the end h5py's `ds[()]` must equal the model.
//!
//! On failure it prints the seed and the shortest failing operation sequence
//! it could find by dropping operations (rerun: H5FS_RANDOM_SEED=N).

mod common;

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::Path;

use common::*;

/// A growable dataset: name, numpy dtype, bytes per element, elements per row, and
/// the python expression creating it (zeros fill value).
struct Spec {
    name: &'static str,
    itemsize: u64,
    row_elems: u64,
    create: &'static str,
}

const SPECS: &[Spec] = &[
    Spec { name: "u1", itemsize: 1, row_elems: 1, create: "f.create_dataset('u1', data=np.arange(10, dtype='u1'), maxshape=(None,), chunks=(7,))" },
    Spec { name: "f8", itemsize: 8, row_elems: 1, create: "f.create_dataset('f8', data=np.arange(5, dtype='<f8'), maxshape=(None,), chunks=(3,))" },
    Spec { name: "i4x5", itemsize: 4, row_elems: 5, create: "f.create_dataset('i4x5', data=np.arange(15, dtype='>i4').reshape(3, 5), maxshape=(None, 5), chunks=(2, 5))" },
    Spec { name: "i2x3", itemsize: 2, row_elems: 3, create: "f.create_dataset('i2x3', data=np.arange(6, dtype='<i2').reshape(2, 3), maxshape=(40, 3), chunks=(4, 2), compression='gzip')" },
];

#[derive(Debug, Clone, Copy)]
enum Op {
    Write {
        ds: usize,
        offset: u64,
        len: u64,
        seed: u64,
    },
    Append {
        ds: usize,
        len: u64,
        seed: u64,
    },
    Truncate {
        ds: usize,
        size: u64,
    },
    Read {
        ds: usize,
        offset: u64,
        len: u64,
    },
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // splitmix64
        self.0 = self.0.wrapping_add(0x9E3779B97F4A7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58476D1CE4E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D049BB133111EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }
}

fn bytes_for(seed: u64, len: u64) -> Vec<u8> {
    let mut r = Rng(seed);
    (0..len).map(|_| r.next() as u8).collect()
}

/// The model of one dataset: its bytes, growing by whole rows.
struct Model {
    data: Vec<u8>,
    row: u64,
    max_rows: u64,
}

impl Model {
    /// Apply an op; returns the errno the mount must give (0 for success).
    fn apply(&mut self, op: &Op) -> i32 {
        match *op {
            Op::Write {
                offset, len, seed, ..
            } => self.write(offset, &bytes_for(seed, len)),
            Op::Append { len, seed, .. } => {
                let at = self.data.len() as u64;
                self.write(at, &bytes_for(seed, len))
            }
            Op::Truncate { size, .. } => {
                if size % self.row != 0 {
                    libc::EINVAL
                } else if size / self.row > self.max_rows {
                    libc::EFBIG
                } else {
                    self.data.resize(size as usize, 0);
                    0
                }
            }
            Op::Read { .. } => 0,
        }
    }

    fn write(&mut self, offset: u64, bytes: &[u8]) -> i32 {
        let end = offset + bytes.len() as u64;
        if end > self.data.len() as u64 {
            let rows = end.div_ceil(self.row);
            if rows > self.max_rows {
                return libc::EFBIG;
            }
            self.data.resize((rows * self.row) as usize, 0);
        }
        self.data[offset as usize..end as usize].copy_from_slice(bytes);
        0
    }
}

fn gen_ops(seed: u64, count: usize, sizes: &mut [u64], rows: &[u64]) -> Vec<Op> {
    let mut r = Rng(seed);
    let mut ops = Vec::with_capacity(count);
    for _ in 0..count {
        let ds = r.below(SPECS.len() as u64) as usize;
        let size = sizes[ds];
        let row = rows[ds];
        let op = match r.below(10) {
            0..=3 => Op::Write {
                ds,
                offset: r.below(size + 2 * row + 1),
                len: 1 + r.below(3 * row + 7),
                seed: r.next(),
            },
            4 => Op::Append {
                ds,
                len: 1 + r.below(2 * row + 3),
                seed: r.next(),
            },
            5 => {
                let s = if r.below(4) == 0 {
                    r.below(size + 2 * row)
                } else {
                    row * r.below(size / row + 3)
                };
                Op::Truncate { ds, size: s }
            }
            _ => Op::Read {
                ds,
                offset: r.below(size + row),
                len: 1 + r.below(4 * row + 9),
            },
        };
        // Track sizes roughly so offsets stay near the data.
        match op {
            Op::Write { offset, len, .. } => {
                sizes[ds] = sizes[ds].max((offset + len).div_ceil(row) * row)
            }
            Op::Append { len, .. } => sizes[ds] += len.div_ceil(row) * row,
            Op::Truncate { size, .. } if size % row == 0 => sizes[ds] = size,
            _ => {}
        }
        ops.push(op);
    }
    ops
}

fn make_file(dir: &Path) -> std::path::PathBuf {
    let file = dir.join("random.h5");
    let creates: Vec<&str> = SPECS.iter().map(|s| s.create).collect();
    let script = format!(
        "import h5py, numpy as np\nwith h5py.File({:?}, 'w') as f:\n    {}\n",
        file.to_str().unwrap(),
        creates.join("\n    ")
    );
    let out = python(&["-c", &script]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    file
}

fn initial_models() -> Vec<Model> {
    let out = python(&[
        "-c",
        "import numpy as np, sys\nfor a in [np.arange(10, dtype='u1'), np.arange(5, dtype='<f8'), np.arange(15, dtype='>i4'), np.arange(6, dtype='<i2')]:\n    sys.stdout.write(a.tobytes().hex() + '\\n')",
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    let max_rows = [u64::MAX, u64::MAX, u64::MAX, 40];
    text.lines()
        .zip(SPECS)
        .zip(max_rows)
        .map(|((hex, spec), max_rows)| Model {
            data: (0..hex.len() / 2)
                .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
                .collect(),
            row: spec.itemsize * spec.row_elems,
            max_rows,
        })
        .collect()
}

/// Run `ops` on a fresh file and mount; Err describes the first divergence.
fn run_ops(ops: &[Op], check_h5py: bool) -> Result<(), String> {
    let t = TempDir::new("random");
    let file = make_file(t.path());
    let mut models = initial_models();
    let m = Mount::with(&file, &["-o", "rw"], &[]);
    let files: Vec<std::fs::File> = SPECS
        .iter()
        .map(|s| {
            OpenOptions::new()
                .read(true)
                .write(true)
                .open(m.path(s.name))
                .unwrap()
        })
        .collect();
    for (i, op) in ops.iter().enumerate() {
        let ds = match *op {
            Op::Write { ds, .. }
            | Op::Append { ds, .. }
            | Op::Truncate { ds, .. }
            | Op::Read { ds, .. } => ds,
        };
        let model = &mut models[ds];
        let f = &files[ds];
        let expect = model.apply(op);
        let got = match *op {
            Op::Write {
                offset, len, seed, ..
            } => f.write_all_at(&bytes_for(seed, len), offset),
            Op::Append { len, seed, .. } => OpenOptions::new()
                .append(true)
                .open(m.path(SPECS[ds].name))
                .and_then(|mut a| a.write_all(&bytes_for(seed, len))),
            Op::Truncate { size, .. } => f.set_len(size),
            Op::Read { offset, len, .. } => {
                let mut buf = vec![0u8; len as usize];
                let n = f
                    .read_at(&mut buf, offset)
                    .map_err(|e| format!("op {i} {op:?}: read failed: {e}"))?;
                let end = ((offset + len) as usize).min(model.data.len());
                let want: &[u8] = if (offset as usize) < end {
                    &model.data[offset as usize..end]
                } else {
                    &[]
                };
                if &buf[..n] != want {
                    return Err(format!(
                        "op {i} {op:?}: read {} bytes differing from the model ({} bytes)",
                        n,
                        want.len()
                    ));
                }
                Ok(())
            }
        };
        let errno = got
            .err()
            .map(|e| e.raw_os_error().unwrap_or(-1))
            .unwrap_or(0);
        if errno != expect {
            return Err(format!(
                "op {i} {op:?}: errno {errno}, model expects {expect}"
            ));
        }
        let size = std::fs::metadata(m.path(SPECS[ds].name))
            .map_err(|e| e.to_string())?
            .len();
        if size != model.data.len() as u64 {
            return Err(format!(
                "op {i} {op:?}: size {size}, model {}",
                model.data.len()
            ));
        }
    }
    drop(files);
    if !m.finish() {
        return Err("daemon did not exit cleanly".into());
    }
    if check_h5py {
        let names: Vec<&str> = SPECS.iter().map(|s| s.name).collect();
        let out = python(&[
            "-c",
            &format!(
                "import h5py, sys\nwith h5py.File({:?}, 'r') as f:\n    for n in {:?}:\n        sys.stdout.write(f[n][()].tobytes().hex() + '\\n')",
                file.to_str().unwrap(),
                names
            ),
        ]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        for ((line, model), spec) in text.lines().zip(&models).zip(SPECS) {
            let want: String = model.data.iter().map(|b| format!("{b:02x}")).collect();
            if line != want {
                return Err(format!(
                    "after unmount, h5py's {} differs from the model",
                    spec.name
                ));
            }
        }
    }
    Ok(())
}

/// Drop operations one at a time while the failure persists.
fn shrink(mut ops: Vec<Op>) -> Vec<Op> {
    let mut i = 0;
    while i < ops.len() && ops.len() > 1 {
        let mut fewer = ops.clone();
        fewer.remove(i);
        if run_ops(&fewer, true).is_err() {
            ops = fewer;
        } else {
            i += 1;
        }
    }
    ops
}

#[test]
fn random_operations_match_a_byte_model() {
    if !fuse_available("random_operations_match_a_byte_model") {
        return;
    }
    let seed: u64 = std::env::var("H5FS_RANDOM_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20261121);
    let count: usize = std::env::var("H5FS_RANDOM_OPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3000);
    let models = initial_models();
    let mut sizes: Vec<u64> = models.iter().map(|m| m.data.len() as u64).collect();
    let rows: Vec<u64> = models.iter().map(|m| m.row).collect();
    let ops = gen_ops(seed, count, &mut sizes, &rows);
    if let Err(e) = run_ops(&ops, true) {
        let cut = e
            .strip_prefix("op ")
            .and_then(|r| r.split(' ').next())
            .and_then(|n| n.parse::<usize>().ok())
            .map_or(ops.len(), |n| n + 1);
        let shortest = shrink(ops[..cut].to_vec());
        panic!(
            "seed {seed}: {e}\nshortest failing sequence ({} ops):\n{:#?}\nrerun: H5FS_RANDOM_SEED={seed} cargo test --test random_io",
            shortest.len(),
            shortest
        );
    }
    eprintln!("random_io: {count} operations with seed {seed} matched the model and h5py");
}
