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
        let mut child = Command::new(PYTHON)
            .arg(repo().join("tests/python/range_server.py"))
            .arg(dir)
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the range server");
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
