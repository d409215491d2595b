//! Files behind HTTP(S), mounted read-only by URL (issue 11, work in
//! progress): every byte and sidecar equal to h5py reading the local copy.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use common::*;

/// tests/python/range_server.py serving `dir`; killed on drop.
struct Server(Child, String);

impl Server {
    fn start(dir: &Path, args: &[&str]) -> Server {
        let mut args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_ref()).collect();
        args.insert(0, dir.as_os_str());
        Server::script("range_server.py", &args)
    }

    /// Run tests/python/`script` with `args`; it prints its URL first.
    fn script(script: &str, args: &[&std::ffi::OsStr]) -> Server {
        let mut child = Command::new(PYTHON)
            .arg(repo().join("tests/python").join(script))
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start {script}: {e}"));
        let mut url = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut url)
            .unwrap();
        Server(child, url.trim().to_string())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn files_over_http_mount_as_h5py_reads_the_local_copy() {
    if !fuse_available("http_mount") {
        return;
    }
    let dir = repo().join("tests/data/corpus/h5py");
    let server = Server::start(&dir, &[]);
    for name in [
        "compound-dtype-complex.h5",
        "vlen_string_dset.h5",
        "vlen_string_dset_utc.h5",
        "vlen_string_s390x.h5",
    ] {
        let url = format!("{}/{name}", server.1);
        let m = Mount::new(Path::new(&url));
        let report = oracle(&m, &dir.join(name), &[]);
        assert_eq!(
            report["mismatches"],
            serde_json::json!([]),
            "{name}: {report:#}"
        );
    }
}

/// A mount that cannot work says why in one line and exits 1.
fn refused(url: &str) -> String {
    let t = TempDir::new("remote-refused");
    let out = Command::new(BIN).arg(url).arg(t.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{url}");
    assert!(!is_mounted(t.path()));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn missing_objects_and_servers_without_ranges_are_refused_clearly() {
    let dir = repo().join("tests/data/corpus/h5py");
    let server = Server::start(&dir, &[]);
    let e = refused(&format!("{}/missing.h5", server.1));
    assert!(e.contains("not found (HTTP 404)"), "{e}");
    let e = refused(&format!("http://user:secret@{}/missing.h5", &server.1[7..]));
    assert!(!e.contains("secret"), "{e}");
    let plain = Server::start(&dir, &["--no-ranges"]);
    let e = refused(&format!("{}/vlen_string_dset.h5", plain.1));
    assert!(e.contains("does not answer range requests"), "{e}");
    let e = refused("http://127.0.0.1:9/x.h5");
    assert!(e.contains("127.0.0.1:9/x.h5"), "{e}");
}

/// tests/python/fault_proxy.py in front of `upstream`; killed on drop.
struct Proxy(Server);

impl Proxy {
    fn start(upstream: &str) -> Proxy {
        Proxy(Server::script("fault_proxy.py", &[upstream.as_ref()]))
    }

    fn url(&self) -> &str {
        &self.0 .1
    }

    /// POST a plan (tests/python/fault_proxy.py); the counters start over.
    fn plan(&self, plan: serde_json::Value) {
        let script = "import sys, urllib.request\n\
            r = urllib.request.Request(sys.argv[1] + '/__proxy/plan', data=sys.argv[2].encode(), \
            method='POST', headers={'Content-Type': 'application/json'})\n\
            urllib.request.urlopen(r).read()\n";
        let out = python(&["-c", script, self.url(), &plan.to_string()]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn stats(&self) -> serde_json::Value {
        get_json(&format!("{}/__proxy/stats", self.url()))
    }
}

/// The JSON a GET of `url` answers.
fn get_json(url: &str) -> serde_json::Value {
    let script = "import sys, urllib.request\n\
        print(urllib.request.urlopen(sys.argv[1]).read().decode())\n";
    let out = python(&["-c", script, url]);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{url}: {e}"))
}

/// `n` little-endian f32 from `start` on: the bytes of `np.arange(..)[start:]`.
fn arange_f32(start: usize, n: usize) -> Vec<u8> {
    (start..start + n)
        .flat_map(|i| (i as f32).to_le_bytes())
        .collect()
}

#[test]
fn failing_servers_retry_or_fail_with_eio_in_bounded_time() {
    use std::os::unix::fs::FileExt;
    use std::time::{Duration, Instant};
    if !fuse_available("remote_faults") {
        return;
    }
    let dir = TempDir::new("remote-faults");
    // 112 MiB of contiguous data: reads far from the last one, past what is
    // read ahead (17 blocks of 4 MiB), ask the server again.
    make_h5(
        &dir.path().join("big.h5"),
        "f['big'] = np.arange(28 << 20, dtype='<f4')\nf['small'] = np.arange(10)",
    );
    let server = Server::start(dir.path(), &[]);
    let proxy = Proxy::start(&server.1);
    let url = format!("{}/big.h5", proxy.url());

    // Failures that pass: every third request fails (500), others are cut
    // off or truncated; retries make every read whole and right.
    proxy.plan(serde_json::json!({
        "at": {"2": "reset", "5": "truncate", "7": "503"},
        "every": 3, "every_fault": "500",
    }));
    let m = Mount::with(Path::new(&url), &["-o", "hdf5_workers=1"], &[]);
    let report = oracle(&m, &dir.path().join("big.h5"), &[]);
    assert_eq!(report["mismatches"], serde_json::json!([]), "{report:#}");
    let stats = proxy.stats();
    assert!(stats["faults"].as_u64().unwrap() >= 3, "{stats}");
    assert!(m.finish());

    // A server that keeps failing: the read is EIO within the bound, with a
    // log line naming the object; the mount stays up and reads again once
    // the server is back.
    proxy.plan(serde_json::json!({}));
    let m = Mount::with(Path::new(&url), &["-o", "hdf5_workers=1"], &[]);
    let big = std::fs::File::open(m.path("big")).unwrap();
    let mut buf = vec![0u8; 4096];
    big.read_exact_at(&mut buf, 0).unwrap();
    assert_eq!(buf, arange_f32(0, 1024));
    proxy.plan(serde_json::json!({"from": 1, "from_fault": "500"}));
    let start = Instant::now();
    let at = 104 << 20;
    assert_eq!(errno_of(big.read_exact_at(&mut buf, at)), libc::EIO);
    assert!(
        start.elapsed() < Duration::from_secs(70),
        "{:?}",
        start.elapsed()
    );
    let log = m.log_text();
    assert!(log.contains("big.h5") && log.contains("/big"), "{log}");
    assert!(is_mounted(&m.mnt));
    proxy.plan(serde_json::json!({}));
    big.read_exact_at(&mut buf, at).unwrap();
    assert_eq!(buf, arange_f32(at as usize / 4, 1024));

    // A server that stops answering: that attempt times out and the retry
    // gets the bytes.
    proxy.plan(serde_json::json!({"at": {"1": "stall:45"}}));
    let at = 96 << 20;
    big.read_exact_at(&mut buf, at).unwrap();
    assert_eq!(buf, arange_f32(at as usize / 4, 1024));
    drop(big);
    assert!(m.finish());
}

/// The object replaced while mounted, with `-o cache=4` so that the workers
/// must read it again (and reopen it after each failure): every read gives
/// what the mounted version held, or EIO; never the new version's bytes or
/// names.
#[test]
fn an_object_replaced_while_mounted_is_never_mixed_in() {
    if !fuse_available("remote_replaced") {
        return;
    }
    let dir = TempDir::new("remote-replaced");
    // Ten 5 MiB datasets and ten groups between them, so that their
    // headers lie in different 4 MiB blocks; the new version names the
    // groups' members otherwise.
    let make = |name: &str, base: i64, member: &str| {
        make_h5(
            &dir.path().join(name),
            &format!(
                "for i in range(10):\n\
                 \x20   f.create_dataset('d%d' % i, data=np.full(5 << 18, {base} + i, dtype='<f4'))\n\
                 \x20   f.create_group('g%d' % i)['{member}%d' % i] = np.arange(3)\n"
            ),
        )
    };
    make("f.h5", 0, "x");
    make("new.h5", 100, "y");
    let server = Server::start(dir.path(), &[]);
    let url = format!("{}/f.h5", server.1);
    let m = Mount::with(Path::new(&url), &["-o", "cache=4,hdf5_workers=1"], &[]);
    let names = |i: usize| -> std::io::Result<Vec<String>> {
        let mut n = std::fs::read_dir(m.path(&format!("g{i}")))?
            .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect::<std::io::Result<Vec<String>>>()?;
        n.sort();
        Ok(n)
    };
    assert_eq!(names(0).unwrap(), ["x0", "x0.json"]);
    std::fs::rename(dir.path().join("new.h5"), dir.path().join("f.h5")).unwrap();
    let mut failed = 0;
    for i in 1..10 {
        match names(i) {
            Ok(n) => assert_eq!(n, [format!("x{i}"), format!("x{i}.json")], "g{i}"),
            Err(e) => {
                assert_eq!(e.raw_os_error(), Some(libc::EIO), "g{i}: {e}");
                failed += 1;
            }
        }
        match std::fs::read(m.path(&format!("d{i}"))) {
            Ok(bytes) => assert_eq!(bytes, (i as f32).to_le_bytes().repeat(5 << 18), "d{i}"),
            Err(e) => {
                assert_eq!(e.raw_os_error(), Some(libc::EIO), "d{i}: {e}");
                failed += 1;
            }
        }
    }
    assert!(failed >= 9, "the new version was not asked for");
    assert!(m.log_text().contains("changed since it was"));
    assert!(is_mounted(&m.mnt));
    assert!(m.finish());
}

/// Bytes of the blocks kept in `cache_dir`.
fn kept_bytes(cache_dir: &Path) -> u64 {
    std::fs::read_dir(cache_dir.join("h5fs-blocks"))
        .map(|d| {
            d.flatten()
                .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
                .map(|e| e.metadata().map_or(0, |m| m.len()))
                .sum()
        })
        .unwrap_or(0)
}

/// With `-o cache_dir=`, a second mount reads the file from disk without a
/// GET; a replaced object is read anew, never from the old version's
/// blocks; the directory keeps within its bound.
#[test]
fn blocks_kept_on_disk_serve_a_later_mount_and_never_another_version() {
    if !fuse_available("remote_cache_dir") {
        return;
    }
    let dir = TempDir::new("remote-cache-dir");
    let cache = TempDir::new("remote-cache-dir-blocks");
    let make = |base: i64| {
        make_h5(
            &dir.path().join("f.h5"),
            &format!(
                "f['big'] = np.arange(3 << 20, dtype='<f4') + {base}\n\
                 f.create_dataset('packed', data=np.arange(1 << 20, dtype='<i4') % 1000 + {base}, \
                 chunks=(1 << 16,), compression='gzip', shuffle=True)\n\
                 f['g/small'] = np.arange(5) + {base}\n\
                 f['g/small'].attrs['note'] = 'v{base}'\n"
            ),
        )
    };
    make(0);
    let server = Server::start(dir.path(), &[]);
    let url = format!("{}/f.h5", server.1);
    // Requests and bytes sent so far.
    let sent = || {
        let s = get_json(&format!("{}/__server/stats", server.1));
        (
            s["by_method"]["GET"].as_u64().unwrap_or(0),
            s["bytes"].as_u64().unwrap(),
        )
    };
    let opts = format!("cache_dir={},hdf5_workers=1", cache.path().display());

    let m = Mount::with(Path::new(&url), &["-o", &opts], &[]);
    let report = oracle(&m, &dir.path().join("f.h5"), &[]);
    assert_eq!(report["mismatches"], serde_json::json!([]), "{report:#}");
    assert!(m.finish());
    assert!(kept_bytes(cache.path()) > 3 << 20, "nothing kept");

    let before = sent();
    let m = Mount::with(Path::new(&url), &["-o", &opts], &[]);
    let report = oracle(&m, &dir.path().join("f.h5"), &[]);
    assert_eq!(report["mismatches"], serde_json::json!([]), "{report:#}");
    assert!(m.finish());
    // Only the byte of the check at mount.
    let after = sent();
    assert_eq!(
        (after.0 - before.0, after.1 - before.1),
        (1, 1),
        "asked again"
    );

    // Another version (another ETag) of the same URL: read from the server.
    make(7);
    let bounded = format!("{opts},cache_dir_mib=8");
    let m = Mount::with(Path::new(&url), &["-o", &bounded], &[]);
    let report = oracle(&m, &dir.path().join("f.h5"), &[]);
    assert_eq!(report["mismatches"], serde_json::json!([]), "{report:#}");
    assert!(m.finish());
    assert!(sent().1 > after.1 + (3 << 20));
    // Within the bound, give or take a block another process wrote after
    // this one last counted.
    let kept = kept_bytes(cache.path());
    assert!(kept <= (8 << 20) + (4 << 20) + 4096, "{kept} bytes kept");

    // A directory that cannot be made: one line, exit 1.
    let t = TempDir::new("remote-cache-dir-refused");
    let file = t.path().join("plain");
    std::fs::write(&file, b"x").unwrap();
    let out = std::process::Command::new(BIN)
        .arg(&url)
        .arg(t.path())
        .args(["-o", &format!("cache_dir={}/sub", file.display())])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cache_dir=") && err.contains("cannot create"),
        "{err}"
    );
    assert!(!is_mounted(t.path()));
}

/// A prefix listed in pages of two (the server's page size): every page is
/// read, the check at mount takes one request, and a level is listed once
/// per refresh time, however many look at it.
#[test]
fn a_prefix_listed_in_many_pages_is_whole_and_listed_once() {
    if !fuse_available("remote_prefix_pages") {
        return;
    }
    let dir = TempDir::new("remote-prefix-pages");
    let top = dir.path().join("bkt");
    std::fs::create_dir_all(top.join("sub")).unwrap();
    make_h5(&top.join("a.h5"), "f['v'] = np.arange(4, dtype='<i4')");
    make_h5(&top.join("sub/c.h5"), "f['w'] = np.arange(3, dtype='u1')");
    let mut names = vec!["a.h5".to_string(), "sub".to_string()];
    for i in 0..7 {
        std::fs::write(top.join(format!("x{i}.txt")), format!("{i}\n")).unwrap();
        names.push(format!("x{i}.txt"));
    }
    names.sort();
    let server = Server::start(dir.path(), &["--page", "2"]);
    let lists = || {
        get_json(&format!("{}/__server/stats", server.1))["lists"]
            .as_u64()
            .unwrap()
    };
    let m = Mount::with(
        Path::new("s3://bkt/"),
        &["-o", &format!("endpoint={},anonymous,refresh=1", server.1)],
        &[],
    );
    assert_eq!(lists(), 1, "the check at mount reads one page");
    assert_eq!(names_in(&m.mnt), names);
    // One listing: 9 entries in pages of 2.
    assert_eq!(lists(), 1 + 5);
    // Past the refresh time, eight files looked at again at once.
    std::thread::sleep(std::time::Duration::from_millis(1200));
    let threads: Vec<_> = names
        .iter()
        .take(8)
        .map(|n| {
            let path = m.path(n);
            std::thread::spawn(move || std::fs::metadata(path).map(|md| md.is_dir()))
        })
        .collect();
    for t in threads {
        t.join().unwrap().unwrap();
    }
    // Listed again once.
    assert_eq!(lists(), 1 + 5 + 5);
    assert!(m.path("a.h5").is_dir() && m.path("sub/c.h5").is_dir());
    assert_eq!(std::fs::read(m.path("a.h5/v")).unwrap(), arange_i32(4));
    assert_eq!(std::fs::read(m.path("sub/c.h5/w")).unwrap(), [0, 1, 2]);
    assert_eq!(std::fs::read(m.path("x6.txt")).unwrap(), b"6\n");
    assert!(m.finish());
}

fn arange_i32(n: i32) -> Vec<u8> {
    (0..n).flat_map(|i| i.to_le_bytes()).collect()
}

/// `openssl` run in `dir` with `args`.
fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl (Debian's ca-certificates brings it)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// HTTPS: a server whose certificate the system's store does not trust is
/// refused at mount in one line; trusted (SSL_CERT_FILE naming its CA, as
/// for any program using the system store), its files mount as h5py reads
/// the local copy.
#[test]
fn https_certificates_are_checked_against_the_system_store() {
    if !fuse_available("remote_https") {
        return;
    }
    let dir = TempDir::new("remote-https");
    let d = dir.path();
    openssl(
        d,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=h5fs test CA",
        ],
    );
    openssl(
        d,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "srv.key",
            "-out",
            "srv.csr",
            "-subj",
            "/CN=127.0.0.1",
        ],
    );
    std::fs::write(d.join("ext"), "subjectAltName=IP:127.0.0.1\n").unwrap();
    openssl(
        d,
        &[
            "x509",
            "-req",
            "-in",
            "srv.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "srv.pem",
            "-days",
            "2",
            "-extfile",
            "ext",
        ],
    );
    let files = repo().join("tests/data/corpus/h5py");
    let srv = |n: &str| d.join(n).to_string_lossy().into_owned();
    let server = Server::start(&files, &["--tls", &srv("srv.pem"), &srv("srv.key")]);
    assert!(server.1.starts_with("https://"), "{}", server.1);
    let url = format!("{}/vlen_string_dset.h5", server.1);

    let t = TempDir::new("remote-https-refused");
    let out = Command::new(BIN)
        .arg(&url)
        .arg(t.path())
        .env_remove("SSL_CERT_FILE")
        .env_remove("SSL_CERT_DIR")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(!is_mounted(t.path()));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("certificate") && err.lines().count() == 1,
        "{err}"
    );

    let m = Mount::with(Path::new(&url), &[], &[("SSL_CERT_FILE", &srv("ca.pem"))]);
    let report = oracle(&m, &files.join("vlen_string_dset.h5"), &[]);
    assert_eq!(report["mismatches"], serde_json::json!([]), "{report:#}");
    assert!(m.finish());
}
