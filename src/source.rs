//! What SOURCE names, checked before anything is mounted: one file, a
//! family of parts named by a printf pattern (`run-%05d.h5`), or a split
//! pair (`NAME-m.h5` and `NAME-r.h5`), with the access libhdf5 opens it by.

use std::path::{Path, PathBuf};

use crate::cli::MountOptions;
use crate::model::{member_name, Access, Driver, SPLIT_META_EXT, SPLIT_RAW_EXT};

/// Most members a family may have (libhdf5 has no limit; this bounds the
/// search for them).
const MAX_MEMBERS: u64 = 1 << 20;

#[derive(Debug, Clone)]
pub struct Source {
    /// The name libhdf5 opens: the file, a family's pattern, a split pair's
    /// common part. Absolute, so that a daemon in `/` finds it.
    pub name: PathBuf,
    /// The files that hold the bytes, in address order (a family's members;
    /// for a split pair the metadata file, then the raw data file).
    pub parts: Vec<PathBuf>,
    pub access: Access,
}

impl Source {
    /// The file holding the start of the address space (and the user block).
    pub fn first_part(&self) -> &Path {
        &self.parts[0]
    }

    /// Whether direct reads may address the parts as one run of bytes.
    pub fn contiguous(&self) -> bool {
        !matches!(self.access.driver, Driver::Split { .. })
    }
}

fn describe(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// A file that exists, is not a directory and can be opened for reading.
fn readable(path: &Path) -> Result<(), String> {
    match std::fs::metadata(path) {
        Err(e) => return Err(format!("{}: {}", path.display(), describe(&e))),
        Ok(m) if m.is_dir() => {
            return Err(format!(
                "{}: is a directory, not an HDF5 file",
                path.display()
            ))
        }
        Ok(_) => {}
    }
    std::fs::File::open(path)
        .map(|_| ())
        .map_err(|e| format!("{}: {}", path.display(), describe(&e)))
}

/// `path` with its directory made absolute (the name itself may not exist,
/// as a family's pattern does not).
fn absolute(path: &Path) -> PathBuf {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    match (std::fs::canonicalize(&dir), path.file_name()) {
        (Ok(d), Some(name)) => d.join(name),
        _ => path.to_path_buf(),
    }
}

fn with_suffix(path: &Path, ext: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(ext);
    PathBuf::from(s)
}

/// What a mount serves: one file (or family, or split pair), or a
/// directory tree of files.
#[derive(Debug, Clone)]
pub enum Target {
    File(Source),
    /// The directory, absolute.
    Dir(PathBuf),
    /// Every object under an S3 prefix: `s3://BUCKET/PREFIX/`.
    Prefix(String),
}

/// An S3 URL that names a prefix (ends in `/`, or names a bucket only).
fn is_prefix_url(text: &str) -> bool {
    text.strip_prefix("s3://")
        .is_some_and(|rest| rest.ends_with('/') || !rest.contains('/'))
}

/// Resolve SOURCE: a directory is a directory mount, anything else a file.
pub fn resolve_target(source: &Path, o: &MountOptions) -> Result<Target, String> {
    if let Some(url) = source.to_str().filter(|t| is_prefix_url(t)) {
        crate::remote::check_url(url)?;
        if o.read_write {
            return Err(format!(
                "{url}: remote files are read-only in h5fs; mount without -o rw"
            ));
        }
        if o.zarr {
            return Err(format!(
                "{url}: option 'zarr' is for one file, not a prefix"
            ));
        }
        return Ok(Target::Prefix(url.to_string()));
    }
    let is_dir = std::fs::metadata(source).is_ok_and(|m| m.is_dir());
    if !is_dir || matches!(o.driver.as_deref(), Some("family" | "split" | "core")) {
        return resolve(source, o).map(Target::File);
    }
    if o.zarr {
        return Err(format!(
            "{}: option 'zarr' is for one file, not a directory",
            source.display()
        ));
    }
    std::fs::read_dir(source).map_err(|e| format!("{}: {}", source.display(), describe(&e)))?;
    Ok(Target::Dir(
        std::fs::canonicalize(source).unwrap_or_else(|_| source.to_path_buf()),
    ))
}

/// Resolve SOURCE with the mount options into what is opened.
pub fn resolve(source: &Path, o: &MountOptions) -> Result<Source, String> {
    let text = source.to_str();
    if let Some(url) = text.filter(|t| crate::remote::is_url(t)) {
        if o.read_write {
            return Err(format!(
                "{}: remote files are read-only in h5fs; mount without -o rw",
                crate::remote::redact(url)
            ));
        }
        crate::remote::check_url(url)?;
        return Ok(Source {
            name: PathBuf::from(url),
            parts: vec![PathBuf::from(url)],
            access: Access {
                driver: Driver::Url,
                libver: o.libver,
                chunk_cache: o.chunk_cache,
                swmr: false,
            },
        });
    }
    let pattern_like = text.is_some_and(|t| member_name(t, 0).is_some());
    let driver = match o.driver.as_deref() {
        Some(d) => d,
        None if o.memb_size.is_some() => "family",
        None if pattern_like && !source.exists() => "family",
        None => "sec2",
    };
    if o.read_write && driver == "core" {
        return Err(format!(
            "driver={driver} is read-only in h5fs: mount without -o rw (its copy in memory \
             would reach the disk only at unmount)"
        ));
    }
    let mut access = Access {
        driver: Driver::Sec2,
        libver: o.libver,
        chunk_cache: o.chunk_cache,
        swmr: o.swmr,
    };
    let (name, parts) = match driver {
        "family" => {
            let Some(pattern) = text.filter(|_| pattern_like) else {
                return Err(format!(
                    "{}: driver=family needs a name with one integer conversion, such as \
                     run-%05d.h5",
                    source.display()
                ));
            };
            access.driver = Driver::Family {
                memb_size: o.memb_size.unwrap_or(0),
            };
            let name = absolute(Path::new(pattern));
            let pattern = name.to_string_lossy().into_owned();
            let mut parts = Vec::new();
            for i in 0..MAX_MEMBERS {
                let Some(member) = member_name(&pattern, i).map(PathBuf::from) else {
                    break;
                };
                if i > 0 && !member.exists() {
                    break;
                }
                readable(&member).map_err(|e| format!("family member {i}: {e}"))?;
                parts.push(member);
            }
            (name, parts)
        }
        "split" => {
            let meta_ext = o.meta_ext.clone().unwrap_or_else(|| SPLIT_META_EXT.into());
            let raw_ext = o.raw_ext.clone().unwrap_or_else(|| SPLIT_RAW_EXT.into());
            // Named by its metadata file: the common part is what precedes.
            let base = match text.and_then(|t| t.strip_suffix(meta_ext.as_str())) {
                Some(b) if !b.is_empty() && !b.ends_with('/') => PathBuf::from(b),
                _ => source.to_path_buf(),
            };
            let name = absolute(&base);
            let parts = vec![with_suffix(&name, &meta_ext), with_suffix(&name, &raw_ext)];
            for p in &parts {
                readable(p).map_err(|e| format!("split driver: {e}"))?;
            }
            access.driver = Driver::Split { meta_ext, raw_ext };
            (name, parts)
        }
        _ => {
            readable(source)?;
            access.driver = match driver {
                "stdio" => Driver::Stdio,
                "core" => Driver::Core,
                _ => Driver::Sec2,
            };
            let name = std::fs::canonicalize(source).unwrap_or_else(|_| source.to_path_buf());
            (name.clone(), vec![name])
        }
    };
    Ok(Source {
        name,
        parts,
        access,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::parse_options;

    fn opts(o: &[&str]) -> MountOptions {
        parse_options(&o.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    fn scratch(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("h5fs-source-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn s3_prefixes_and_objects() {
        assert!(is_prefix_url("s3://b"));
        assert!(is_prefix_url("s3://b/"));
        assert!(is_prefix_url("s3://b/runs/"));
        assert!(!is_prefix_url("s3://b/runs"));
        assert!(!is_prefix_url("s3://b/runs/x.h5"));
        assert!(!is_prefix_url("https://host/dir/"));
        let t = resolve_target(Path::new("s3://b/runs/"), &opts(&[])).unwrap();
        assert!(matches!(t, Target::Prefix(u) if u == "s3://b/runs/"));
        assert!(resolve_target(Path::new("s3://b/runs/"), &opts(&["rw"])).is_err());
        assert!(resolve_target(Path::new("s3://b/runs/"), &opts(&["zarr"])).is_err());
    }

    #[test]
    fn a_pattern_is_a_family_and_its_members_are_found() {
        let d = scratch("family");
        for i in 0..3 {
            std::fs::write(d.join(format!("run-{i:03}.h5")), b"x").unwrap();
        }
        let s = resolve(&d.join("run-%03d.h5"), &opts(&[])).unwrap();
        assert_eq!(s.access.driver, Driver::Family { memb_size: 0 });
        assert_eq!(s.parts.len(), 3);
        assert!(s.parts[2].ends_with("run-002.h5"));
        assert!(s.name.ends_with("run-%03d.h5"));
        let s = resolve(&d.join("run-%03d.h5"), &opts(&["memb_size=1K"])).unwrap();
        assert_eq!(s.access.driver, Driver::Family { memb_size: 1024 });
        let e = resolve(&d.join("none-%d.h5"), &opts(&[])).unwrap_err();
        assert!(e.contains("family member 0"), "{e}");
        let e = resolve(&d.join("run-000.h5"), &opts(&["driver=family"])).unwrap_err();
        assert!(e.contains("integer conversion"), "{e}");
        // Writable as libhdf5 allows (only core is refused).
        let s = resolve(&d.join("run-%03d.h5"), &opts(&["rw"])).unwrap();
        assert_eq!(s.parts.len(), 3);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_split_pair_by_its_common_name_or_its_metadata_file() {
        let d = scratch("split");
        std::fs::write(d.join("s-m.h5"), b"m").unwrap();
        std::fs::write(d.join("s-r.h5"), b"r").unwrap();
        for given in ["s", "s-m.h5"] {
            let s = resolve(&d.join(given), &opts(&["driver=split"])).unwrap();
            assert!(s.name.ends_with("s"), "{:?}", s.name);
            assert!(s.parts[1].ends_with("s-r.h5"));
            assert!(!s.contiguous());
        }
        let e = resolve(&d.join("t"), &opts(&["driver=split"])).unwrap_err();
        assert!(e.contains("t-m.h5"), "{e}");
        let e = resolve(&d.join("s"), &opts(&["driver=split,raw_ext=.raw"])).unwrap_err();
        assert!(e.contains("s.raw"), "{e}");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn one_file_with_any_plain_driver() {
        let d = scratch("plain");
        let f = d.join("a%d.h5");
        std::fs::write(&f, b"x").unwrap();
        // A file that exists is itself, even with a percent in its name.
        assert_eq!(resolve(&f, &opts(&[])).unwrap().access.driver, Driver::Sec2);
        let s = resolve(&f, &opts(&["driver=core"])).unwrap();
        assert_eq!((s.access.driver, s.parts.len()), (Driver::Core, 1));
        assert!(resolve(&f, &opts(&["driver=core,rw"])).is_err());
        assert!(resolve(&f, &opts(&["driver=stdio,rw"])).is_ok());
        assert!(resolve(&d, &opts(&[]))
            .unwrap_err()
            .contains("is a directory"));
        assert!(resolve(&d.join("no"), &opts(&[]))
            .unwrap_err()
            .contains("no such file"));
        std::fs::remove_dir_all(&d).unwrap();
    }
}
