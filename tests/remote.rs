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
