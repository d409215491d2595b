//! The crate's layout rules (README, Layout): no import cycles between
//! modules, no source file over 800 lines before its tests, `unsafe` only
//! in src/h5 and src/sys.rs. Checked by tests/python/layout.py.

mod common;

use common::*;

#[test]
fn modules_have_no_cycles_files_stay_small_and_unsafe_stays_put() {
    let out = python(&[
        repo().join("tests/python/layout.py").to_str().unwrap(),
        repo().join("src").to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "layout rules broken:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
