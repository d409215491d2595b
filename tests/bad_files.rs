//! Files that crash, hang or balloon libhdf5 (tests/data/fuzz, described in its
//! README) must not take a mount down. For each: the call that touches the bad
//! object gives EIO (not ENOTCONN/ECONNABORTED, not a hang), the daemon logs the
//! HDF5 path of that object, every other object stays readable, the daemon and
//! its descendants stay under 2 GiB resident, and the mount unmounts cleanly.
//! Then a bounded run of the fuzz harness (tests/python/fuzz.py) finds no crash,
//! hang, memory blow-up or stuck unmount.
//!
//! Each check runs its filesystem calls in a child process with a deadline, so a
//! wedged mount fails the test instead of hanging it. The tests take turns (one
//! lock): timing and memory figures stay meaningful on a small machine.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;

/// How long the trigger may take before the mount counts as wedged.
const TRIGGER_DEADLINE: Duration = Duration::from_secs(60);
/// How long the walk over every other object may take.
const WALK_DEADLINE: Duration = Duration::from_secs(120);
/// Resident memory the daemon and its descendants must stay under.
const MEM_LIMIT_KIB: u64 = 2 * 1024 * 1024;
/// The fuzz run's seed: fixed, so every case it reports can be run again.
const FUZZ_SEED: &str = "3";
const EIO: i32 = 5;
const ECONNABORTED: i32 = 103;
const ENOTCONN: i32 = 107;

static SERIAL: Mutex<()> = Mutex::new(());

fn fuzz_dir() -> PathBuf {
    repo().join("tests/data/fuzz")
}

fn fuzz_py() -> PathBuf {
    repo().join("tests/python/fuzz.py")
}

/// The trigger, run by python in a child process with arguments
/// `OP MNT PATH [NAME]` (PATH relative to the mount, as `/a/b`); prints one line
/// per call made: `path \t call \t ok|errno`. OP is `stat` (of PATH),
/// `getxattr` (NAME of PATH), or `xattr-tree`: like `getfattr -R -d MNT`,
/// listxattr and getxattr of every entry in readdir order, each directory
/// visited then entered.
const TRIGGER_PY: &str = r#"
import os, sys
op, root, target = sys.argv[1], sys.argv[2], sys.argv[3]
def call(path, what, fn):
    try:
        fn()
        res = "ok"
    except OSError as e:
        res = str(e.errno)
    rel = "/" + os.path.relpath(path, root) if path != root else "/"
    print("%s\t%s\t%s" % (rel, what, res), flush=True)
    return res
def xattrs(path):
    names = []
    call(path, "listxattr", lambda: names.extend(os.listxattr(path)))
    for n in names:
        call(path, "getxattr " + n, lambda: os.getxattr(path, n))
def tree(path):
    xattrs(path)
    if os.path.isdir(path) and not os.path.islink(path):
        names = []
        call(path, "listdir", lambda: names.extend(os.listdir(path)))
        for n in names:
            tree(os.path.join(path, n))
target_path = os.path.join(root, target.lstrip("/"))
if op == "stat":
    call(target_path, "stat", lambda: os.stat(target_path))
elif op == "getxattr":
    call(target_path, "getxattr " + sys.argv[4], lambda: os.getxattr(target_path, sys.argv[4]))
elif op == "xattr-tree":
    tree(root)
else:
    sys.exit("unknown op " + op)
"#;

/// One file of tests/data/fuzz and what containment means for it.
struct Case {
    file: &'static str,
    /// The trigger: (op, mount-relative path, xattr name or "").
    trigger: (&'static str, &'static str, &'static str),
    /// The call of the trigger output that must give EIO: (path, call).
    /// Any of them (hard links give one object two names).
    eio: &'static [(&'static str, &'static str)],
    /// HDF5 paths naming the bad object: the log must name one of them.
    names: &'static [&'static str],
    /// Mount entries of the bad objects (and their sidecars): not walked.
    skip: Vec<String>,
    /// Entries whose xattrs are bad (the rest of them is walked).
    skip_xattrs: Vec<String>,
}

/// Run `cmd` to completion or kill it at `deadline`: (finished, stdout, stderr).
/// A process stuck in a FUSE request that the daemon is already serving cannot
/// die until the request ends, so on the deadline the daemon `pid` serving
/// `mnt` is killed and its connection aborted too.
fn run_with_deadline(
    cmd: &mut Command,
    deadline: Duration,
    pid: u32,
    mnt: &Path,
) -> (bool, String, String) {
    let dir = TempDir::new("bad-out");
    let out_path = dir.path().join("stdout");
    let err_path = dir.path().join("stderr");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .expect("spawn child");
    let start = Instant::now();
    let finished = loop {
        if let Ok(Some(_)) = child.try_wait() {
            break true;
        }
        if start.elapsed() > deadline {
            let _ = child.kill();
            abort_mount(pid, mnt);
            let _ = child.wait();
            break false;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let read =
        |p: &Path| String::from_utf8_lossy(&std::fs::read(p).unwrap_or_default()).into_owned();
    (finished, read(&out_path), read(&err_path))
}

/// The process `pid` and all its descendants.
fn family(pid: u32) -> BTreeSet<u32> {
    let mut parent = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(p) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
            continue;
        };
        // pid (comm) state ppid ...: comm may hold spaces and parentheses.
        let after = &stat[stat.rfind(')').map_or(0, |i| i + 2)..];
        if let Some(ppid) = after.split(' ').nth(1).and_then(|s| s.parse::<u32>().ok()) {
            parent.push((p, ppid));
        }
    }
    let mut found = BTreeSet::from([pid]);
    loop {
        let before = found.len();
        for &(p, ppid) in &parent {
            if found.contains(&ppid) {
                found.insert(p);
            }
        }
        if found.len() == before {
            return found;
        }
    }
}

/// Resident KiB of `pid` and all its descendants.
fn family_rss_kib(pid: u32) -> u64 {
    family(pid)
        .iter()
        .filter_map(|p| std::fs::read_to_string(format!("/proc/{p}/status")).ok())
        .filter_map(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .sum()
}

/// Samples the resident memory of a process family every 50 ms until stopped.
struct MemSampler {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<u64>,
}

impl MemSampler {
    fn start(pid: u32) -> MemSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut peak = 0;
            while !flag.load(Ordering::SeqCst) {
                peak = peak.max(family_rss_kib(pid));
                std::thread::sleep(Duration::from_millis(50));
            }
            peak.max(family_rss_kib(pid))
        });
        MemSampler { stop, thread }
    }

    /// The peak in KiB.
    fn finish(self) -> u64 {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().unwrap_or(0)
    }
}

/// Kill the daemon `pid` and its descendants, abort its FUSE connection (every
/// caller waiting on it gets ENOTCONN) and detach `mnt`.
fn abort_mount(pid: u32, mnt: &Path) {
    let pids: Vec<String> = family(pid).iter().map(|p| p.to_string()).collect();
    let _ = Command::new("kill")
        .arg("-9")
        .args(&pids)
        .stderr(Stdio::null())
        .status();
    let want = mnt.to_string_lossy().replace(' ', "\\040");
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    for line in mountinfo.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        if f.len() > 4 && f[4] == want {
            if let Some(minor) = f[2].split(':').nth(1) {
                let _ = std::fs::write(format!("/sys/fs/fuse/connections/{minor}/abort"), "1");
            }
            let _ = Command::new("umount")
                .arg("-l")
                .arg(mnt)
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// Is the process alive (not exited, not a zombie)?
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            let after = &s[s.rfind(')').map_or(0, |i| i + 2)..];
            !after.starts_with('Z') && !after.starts_with('X')
        })
        .unwrap_or(false)
}

/// Does `line` name the HDF5 path `name` (not just a longer path starting with it)?
fn names_path(line: &str, name: &str) -> bool {
    line.match_indices(name).any(|(i, _)| {
        !line[i + name.len()..]
            .chars()
            .next()
            .is_some_and(|c| c.is_alphanumeric() || "_/.-".contains(c))
    })
}

fn errno_name(code: i32) -> String {
    match code {
        EIO => "EIO".into(),
        ENOTCONN => "ENOTCONN".into(),
        ECONNABORTED => "ECONNABORTED".into(),
        _ => format!("errno {code}"),
    }
}

fn strings(s: &[&str]) -> Vec<String> {
    s.iter().map(|x| x.to_string()).collect()
}

fn check(case: &Case) {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !fuse_available(case.file) {
        return;
    }
    let file = fuzz_dir().join(case.file);
    let m = Mount::with(&file, &["-o", "ro"], &[]);
    let pid = m.pid();
    let mut problems: Vec<String> = Vec::new();

    // 1. The trigger: EIO, in time, the mount alive, memory bounded.
    let (op, target, name) = case.trigger;
    let sampler = MemSampler::start(pid);
    let started = Instant::now();
    let (finished, out, err) = run_with_deadline(
        Command::new(PYTHON)
            .args(["-c", TRIGGER_PY, op])
            .arg(&m.mnt)
            .args([target, name]),
        TRIGGER_DEADLINE,
        pid,
        &m.mnt,
    );
    let took = started.elapsed();
    let peak_kib = sampler.finish();
    let trigger = format!("{op} {target} {name}").trim().to_string();
    let calls: Vec<(String, String, String)> = out
        .lines()
        .filter_map(|l| {
            let mut f = l.splitn(3, '\t');
            Some((f.next()?.into(), f.next()?.into(), f.next()?.into()))
        })
        .collect();
    let wedged = !finished;
    if wedged {
        problems.push(format!(
            "trigger `{trigger}` did not return within {}s (the mount is wedged; daemon killed, connection aborted); calls answered before: {}",
            TRIGGER_DEADLINE.as_secs(),
            calls.len()
        ));
    } else if !err.trim().is_empty() {
        problems.push(format!("trigger `{trigger}` failed: {}", err.trim()));
    }
    let dead: Vec<_> = calls
        .iter()
        .filter(|(_, _, r)| {
            r.parse::<i32>()
                .is_ok_and(|c| c == ENOTCONN || c == ECONNABORTED)
        })
        .collect();
    if let Some((path, call, res)) = dead.first() {
        problems.push(format!(
            "trigger `{trigger}`: {call} {path} gave {} (the daemon died); {} calls in all got ENOTCONN/ECONNABORTED",
            errno_name(res.parse().unwrap_or(0)),
            dead.len()
        ));
    }
    if finished {
        let results: Vec<_> = calls
            .iter()
            .filter(|(p, c, _)| case.eio.iter().any(|(ep, ec)| p == ep && c == ec))
            .collect();
        if !results.iter().any(|(_, _, r)| r.parse::<i32>() == Ok(EIO)) {
            let got: Vec<String> = results
                .iter()
                .map(|(p, c, r)| {
                    let r = match r.parse::<i32>() {
                        Ok(code) => errno_name(code),
                        Err(_) => r.clone(),
                    };
                    format!("{c} {p}: {r}")
                })
                .collect();
            problems.push(format!(
                "trigger `{trigger}`: wanted EIO from {:?}, got {}",
                case.eio,
                if got.is_empty() {
                    "no such call".to_string()
                } else {
                    got.join(", ")
                }
            ));
        }
    }
    if peak_kib >= MEM_LIMIT_KIB {
        problems.push(format!(
            "daemon + descendants peaked at {} MiB resident during the trigger (limit {} MiB)",
            peak_kib / 1024,
            MEM_LIMIT_KIB / 1024
        ));
    }
    let daemon_alive = alive(pid);
    if !daemon_alive && !wedged {
        problems.push("the daemon died during the trigger".to_string());
    }

    // 2. The log names the bad object.
    let log = m.log_text();
    if !log
        .lines()
        .any(|l| case.names.iter().any(|n| names_path(l, n)))
    {
        problems.push(format!("no daemon log line names any of {:?}", case.names));
    }

    // 3. Every other object stays readable.
    if wedged || !daemon_alive {
        problems.push("walk over the other objects skipped: the mount is dead or wedged".into());
    } else {
        let mut walk = Command::new(PYTHON);
        walk.arg(fuzz_py()).arg("--walk").arg(&m.mnt);
        for s in &case.skip {
            walk.arg("--skip").arg(s);
        }
        for s in &case.skip_xattrs {
            walk.arg("--skip-xattrs").arg(s);
        }
        let (walk_finished, out, err) = run_with_deadline(&mut walk, WALK_DEADLINE, pid, &m.mnt);
        let mut current = String::new();
        let mut failed = Vec::new();
        let mut done = false;
        let mut ops = 0;
        for l in out.lines() {
            let f: Vec<&str> = l.splitn(3, '\t').collect();
            match f[0] {
                "S" => {
                    current = f.get(1).unwrap_or(&"").to_string();
                    ops += 1;
                }
                "E" => failed.push(format!(
                    "{current}: {}",
                    f.get(2).copied().unwrap_or_default()
                )),
                "D" => done = true,
                _ => {}
            }
        }
        if !walk_finished {
            problems.push(format!(
                "walk over the other objects did not finish within {}s; stuck in: {current}",
                WALK_DEADLINE.as_secs()
            ));
        } else if !done {
            problems.push(format!(
                "walk over the other objects broke off: {}",
                err.trim()
            ));
        }
        if !failed.is_empty() {
            let n = failed.len();
            failed.truncate(20);
            problems.push(format!(
                "{n} of {ops} calls on the other objects failed:\n    {}",
                failed.join("\n    ")
            ));
        }
    }

    // 4. A clean unmount (first make sure the mount answers at all: unmounting
    // looks the mountpoint up).
    let (answers, _, _) = run_with_deadline(
        Command::new("stat").arg(&m.mnt),
        Duration::from_secs(10),
        pid,
        &m.mnt,
    );
    if !answers {
        problems.push("the mount root does not answer stat within 10 s".into());
    }
    let log = m.log_text();
    if !m.finish() {
        problems.push(
            "the mount did not unmount cleanly (fusermount3 -u, daemon exit status 0 within 10 s)"
                .into(),
        );
    }

    let tail: Vec<&str> = log
        .lines()
        .rev()
        .take(10)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    assert!(
        problems.is_empty(),
        "{}: bad file not contained (trigger took {:.1}s, peak {} MiB):\n- {}\ndaemon log (last lines):\n{}",
        case.file,
        took.as_secs_f64(),
        peak_kib / 1024,
        problems.join("\n- "),
        tail.join("\n")
    );
}

#[test]
fn crash_hgread_getxattr() {
    check(&Case {
        file: "crash_hgread_getxattr.h5",
        trigger: ("getxattr", "/hard_link_data", "user.2d_string"),
        eio: &[("/hard_link_data", "getxattr user.2d_string")],
        names: &["/hard_link_data", "/test_group/data"],
        skip: strings(&[
            "/hard_link_data",
            "/hard_link_data.json",
            "/test_group/data",
            "/test_group/data.json",
        ]),
        skip_xattrs: vec![],
    });
}

#[test]
fn crash_hgread_textview() {
    check(&Case {
        file: "crash_hgread_textview.h5",
        trigger: ("stat", "/DS1", ""),
        eio: &[("/DS1", "stat")],
        names: &["/DS1"],
        skip: strings(&["/DS1", "/DS1.json"]),
        skip_xattrs: vec![],
    });
}

#[test]
fn crash_attrclose_listxattr() {
    check(&Case {
        file: "crash_attrclose_listxattr.h5",
        trigger: ("xattr-tree", "/", ""),
        eio: &[
            ("/test_group/data", "listxattr"),
            ("/hard_link_data", "listxattr"),
        ],
        names: &["/hard_link_data", "/test_group/data"],
        skip: strings(&[
            "/hard_link_data",
            "/hard_link_data.json",
            "/test_group/data",
            "/test_group/data.json",
        ]),
        skip_xattrs: vec![],
    });
}

/// The 512 zeroed bytes sit in the global-heap collection that holds the data
/// of all 22 variable-length datasets: h5py hangs reading any of them (checked
/// one by one with a 5 s limit). The walk then covers the root and its attributes.
const HANG_BAD: &[&str] = &[
    "vlen_float32_data",
    "vlen_float32_data_chunked",
    "vlen_float64_data",
    "vlen_float64_data_chunked",
    "vlen_int16_data",
    "vlen_int16_data_chunked",
    "vlen_int32_data",
    "vlen_int32_data_chunked",
    "vlen_int64_data",
    "vlen_int64_data_chunked",
    "vlen_int8_data",
    "vlen_int8_data_chunked",
    "vlen_issue_247",
    "vlen_issue_247_chunked",
    "vlen_uint16_data",
    "vlen_uint16_data_chunked",
    "vlen_uint32_data",
    "vlen_uint32_data_chunked",
    "vlen_uint64_data",
    "vlen_uint64_data_chunked",
    "vlen_uint8_data",
    "vlen_uint8_data_chunked",
];

#[test]
fn hang_hgprotect_lstat() {
    check(&Case {
        file: "hang_hgprotect_lstat.h5",
        trigger: ("stat", "/vlen_float32_data", ""),
        eio: &[("/vlen_float32_data", "stat")],
        names: &["/vlen_float32_data"],
        skip: HANG_BAD
            .iter()
            .flat_map(|n| [format!("/{n}"), format!("/{n}.json")])
            .collect(),
        skip_xattrs: vec![],
    });
}

#[test]
fn mem_3gib_attr() {
    check(&Case {
        file: "mem_3gib_attr.h5",
        trigger: ("getxattr", "/test_group", "user.2d_string"),
        eio: &[("/test_group", "getxattr user.2d_string")],
        names: &["/test_group"],
        skip: vec![],
        skip_xattrs: strings(&["/test_group"]),
    });
}

/// A bounded fuzz run over a few small corpus files rich in what broke before
/// (global heaps, variable-length data, attributes): no crash, hang, memory
/// blow-up or stuck unmount.
#[test]
fn fuzz_finds_nothing() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    if !fuse_available("fuzz_finds_nothing") {
        return;
    }
    let dir = TempDir::new("fuzz");
    let report = dir.path().join("report.json");
    let corpus = repo().join("tests/data/corpus");
    let files = [
        "jhdf/test_attribute_earliest.hdf5",
        "jhdf/test_vlen_datasets_latest.hdf5",
        "h5py/vlen_string_dset.h5",
        "pytables/time-table-vlarray-1_x.h5",
        "pyfive/attr_datatypes.hdf5",
    ];
    let mut cmd = Command::new(PYTHON);
    cmd.arg(fuzz_py())
        .arg("--binary")
        .arg(BIN)
        .args(["--seed", FUZZ_SEED, "--count", "40", "--timeout", "20"])
        .arg("--json-out")
        .arg(&report)
        .arg("--files");
    for f in files {
        cmd.arg(corpus.join(f));
    }
    let out = cmd.output().expect("run tests/python/fuzz.py");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let text = std::fs::read_to_string(&report).unwrap_or_default();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    let counts = &json["counts"];
    let found: Vec<String> = ["crash", "hang", "memory", "unmount-stuck"]
        .iter()
        .filter(|c| counts[**c].as_u64().unwrap_or(0) > 0)
        .map(|c| format!("{c} {}", counts[*c]))
        .collect();
    assert!(
        out.status.success() && found.is_empty() && json["count"] == 40,
        "fuzz.py --seed {FUZZ_SEED} --count 40 (exit {}): found {}\n{stdout}{stderr}\n\
         reproduce one case, keeping the file: scripts/fuzz --seed {FUZZ_SEED} --index I --out DIR --files {}",
        out.status,
        if found.is_empty() {
            "no failing case counted".to_string()
        } else {
            found.join(", ")
        },
        files.map(|f| format!("tests/data/corpus/{f}")).join(" "),
    );
    eprintln!("{}", stdout.trim_end());
}
