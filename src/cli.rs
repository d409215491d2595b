//! Command line and `-o` options, turned into a [`Config`] (pure).
//!
//! The interface follows the FUSE convention (sshfs, bindfs):
//! `h5fs FILE MOUNTPOINT [-o OPT[,OPT...]] [-f] [-v]`, so that
//! `mount -t fuse.h5fs FILE DIR -o ro` and /etc/fstab work through mount.fuse3.

use std::path::PathBuf;

use clap::{ArgAction, Parser};

use crate::model::{parse_libver, ChunkCacheSpec, LibVer};
use crate::tree::names::{View, HEADER_VIEWS};

#[derive(Parser, Debug)]
#[command(
    name = "h5fs",
    version,
    about = "Mount an HDF5 file as a directory tree (FUSE)",
    long_about = "Mount an HDF5 file as a directory tree: groups are directories, datasets are \
raw binary files with a NAME.json sidecar, attributes are user.* extended attributes.\n\n\
SOURCE may also be a directory: every HDF5 file in it (by signature) is a directory holding \
that file's tree; other files show as themselves (read-only).\n\n\
Unmount with `fusermount3 -u MOUNTPOINT` or `umount MOUNTPOINT`.",
    after_help = "Mount options (-o, comma-separated):\n  \
ro                   read-only (the default)\n  \
rw                   read-write: changes go into the file\n  \
allow_other          let other users access the mount\n  \
allow_root           let root access the mount\n  \
default_permissions  let the kernel check permissions\n  \
uid=N, gid=N         owner shown for every file (default: the mounting user)\n  \
umask=OCTAL          permission bits to clear (default 0)\n  \
logfile=PATH         where a background daemon writes its log\n  \
chunk_cache=MIB      decoded chunks kept for reads (default 64)\n  \
direct_io            reads bypass the page cache: faster first reads, no cached re-reads\n  \
hdf5_timeout=SECONDS longest one libhdf5 request may take (default 10, 60 with rw)\n  \
hdf5_memory=MIB      memory limit of each libhdf5 worker process (default 1024)\n  \
hdf5_workers=N       libhdf5 worker processes of a read-only mount (default: cores, 2 to 8)\n  \
zarr                 show the file as a Zarr v2 store (read-only)\n  \
driver=NAME          libhdf5 file driver: sec2 (default), stdio, core (whole file in memory),\n                       \
family (SOURCE a pattern such as run-%05d.h5), split (SOURCE-m.h5, SOURCE-r.h5)\n  \
memb_size=BYTES      family member size (default: as the file records it)\n  \
meta_ext=, raw_ext=  split driver file extensions (default -m.h5, -r.h5)\n  \
libver=LOW[:HIGH]    format bounds of new objects: earliest, v108, v110, latest\n  \
rdcc_nbytes=, rdcc_nslots=, rdcc_w0=  libhdf5's chunk cache per dataset\n  \
swmr                 open for SWMR reading (chosen anyway for a file an SWMR writer has open)\n  \
refresh=SECONDS      how long names and sizes are trusted before the file is looked at again (default 1)\n  \
max_open=N           files of a directory mount open at once (default 256, less if few descriptors)\n  \
endpoint=URL         S3-compatible server for s3:// sources (default: AWS, or AWS_ENDPOINT_URL)\n  \
region=NAME          S3 region (default: AWS_REGION, the profile's, us-east-1)\n  \
anonymous            unsigned S3 requests, for public buckets\n  \
cache=MIB            metadata blocks of a remote file kept in memory (default 64)\n  \
cache_dir=PATH       keep the blocks read of remote files on disk, under PATH/h5fs-blocks\n  \
cache_dir_mib=MIB    the most cache_dir keeps (default 1024)\n  \
views=LIST           header files beside datasets, LIST of npy, envi, nrrd, mhd joined by ':'\n                       \
(views=npy:envi), or all; may be given more than once\n  \
Generic mount options (dev, nosuid, noatime, _netdev, ...) are accepted and ignored.\n\n\
Environment: RUST_LOG sets the log level; HDF5_PLUGIN_PATH finds filter plugins;\n\
AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_PROFILE: S3 credentials."
)]
pub struct Args {
    /// The HDF5 file to mount (or a directory of them, a family pattern, a split pair's name)
    pub file: PathBuf,
    /// An existing directory to mount it on
    pub mountpoint: PathBuf,
    /// Mount options, comma-separated (see below)
    #[arg(short = 'o', value_name = "OPT[,OPT...]", action = ArgAction::Append)]
    pub options: Vec<String>,
    /// Stay in the foreground and log to stderr
    #[arg(short = 'f')]
    pub foreground: bool,
    /// More log output (repeat for more)
    #[arg(short = 'v', action = ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MountOptions {
    /// `-o rw`: changes go into the file.
    pub read_write: bool,
    pub allow_other: bool,
    pub allow_root: bool,
    pub default_permissions: bool,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub umask: u32,
    pub logfile: Option<PathBuf>,
    /// MiB of decoded chunks kept for reads (`chunk_cache=MIB`).
    pub chunk_cache_mib: usize,
    /// Reads bypass the kernel's page cache (`direct_io`).
    pub direct_io: bool,
    /// Longest one libhdf5 request may take (`hdf5_timeout=SECONDS`); None:
    /// the default for the mount's mode.
    pub hdf5_timeout_secs: Option<u32>,
    /// Address-space limit of each libhdf5 worker (`hdf5_memory=MIB`).
    pub hdf5_memory_mib: u32,
    /// Most libhdf5 workers of a read-only mount (`hdf5_workers=N`).
    pub hdf5_workers: Option<u32>,
    /// Header views shown beside datasets (`views=npy:envi`, `views=all`),
    /// in their listing order.
    pub views: Vec<View>,
    /// Show the file as a Zarr v2 store (`zarr`), read-only.
    pub zarr: bool,
    /// libhdf5's file driver by name (`driver=`); None: from the source
    /// (a family for a name with a `%d`, else sec2).
    pub driver: Option<String>,
    /// Size of each family member (`memb_size=BYTES`).
    pub memb_size: Option<u64>,
    /// Extensions of the split driver's two files (`meta_ext=`, `raw_ext=`).
    pub meta_ext: Option<String>,
    pub raw_ext: Option<String>,
    /// Format bounds of objects created (`libver=`).
    pub libver: Option<(LibVer, LibVer)>,
    /// libhdf5's chunk cache (`rdcc_nbytes=`, `rdcc_nslots=`, `rdcc_w0=`).
    pub chunk_cache: ChunkCacheSpec,
    /// Open for SWMR reading (`swmr`); also chosen when a writer has it so.
    pub swmr: bool,
    /// How long sizes and structure are trusted before they are asked again
    /// for a file that may change (`refresh=SECONDS`).
    pub refresh: std::time::Duration,
    /// Most files of a directory mount in use at once (`max_open=N`); None:
    /// from the limit on open files.
    pub max_open: Option<u32>,
    /// How remote sources are reached (`endpoint=`, `region=`,
    /// `anonymous`, `cache=MIB`).
    pub remote: crate::remote::Settings,
}

/// Default of `refresh=`.
pub const DEFAULT_REFRESH: std::time::Duration = std::time::Duration::from_secs(1);

/// Default size of each libhdf5 worker's address space, in MiB.
pub const DEFAULT_HDF5_MEMORY_MIB: u32 = 1024;
/// Default time limit of one libhdf5 request on a read-only mount, seconds.
pub const DEFAULT_HDF5_TIMEOUT_RO: u32 = 10;
/// On a writable mount: a worker stopped mid-change loses what it had not
/// written out, so it gets longer.
pub const DEFAULT_HDF5_TIMEOUT_RW: u32 = 60;
/// For a remote file: one libhdf5 request may wait on several reads over
/// the network, each bounded by itself (src/remote).
pub const DEFAULT_HDF5_TIMEOUT_REMOTE: u32 = 300;

impl MountOptions {
    /// The time limit of one libhdf5 request.
    /// Longest one libhdf5 request may take, for a local or a `remote` file.
    pub fn hdf5_timeout(&self, remote: bool) -> std::time::Duration {
        let secs = self
            .hdf5_timeout_secs
            .unwrap_or(match (remote, self.read_write) {
                (true, _) => DEFAULT_HDF5_TIMEOUT_REMOTE,
                (false, true) => DEFAULT_HDF5_TIMEOUT_RW,
                (false, false) => DEFAULT_HDF5_TIMEOUT_RO,
            });
        std::time::Duration::from_secs(secs.into())
    }

    /// How many libhdf5 workers a read-only mount runs at most: one per core,
    /// at least 2 (so one stuck request does not stop the others), at most 8.
    pub fn hdf5_workers(&self, cores: usize) -> usize {
        match self.hdf5_workers {
            Some(n) => n as usize,
            None => cores.clamp(2, 8),
        }
    }
}

/// Default size of the decoded-chunk cache, in MiB.
pub const DEFAULT_CHUNK_CACHE_MIB: usize = 64;

impl Default for MountOptions {
    fn default() -> Self {
        MountOptions {
            read_write: false,
            allow_other: false,
            allow_root: false,
            default_permissions: false,
            uid: None,
            gid: None,
            umask: 0,
            logfile: None,
            chunk_cache_mib: DEFAULT_CHUNK_CACHE_MIB,
            direct_io: false,
            hdf5_timeout_secs: None,
            hdf5_memory_mib: DEFAULT_HDF5_MEMORY_MIB,
            hdf5_workers: None,
            views: Vec::new(),
            zarr: false,
            driver: None,
            memb_size: None,
            meta_ext: None,
            raw_ext: None,
            libver: None,
            chunk_cache: ChunkCacheSpec::default(),
            swmr: false,
            refresh: DEFAULT_REFRESH,
            max_open: None,
            remote: crate::remote::Settings::default(),
        }
    }
}

/// Options mount(8) and mount.fuse3 may pass that change nothing for h5fs.
const IGNORED: &[&str] = &[
    "dev",
    "nodev",
    "suid",
    "nosuid",
    "exec",
    "noexec",
    "atime",
    "noatime",
    "relatime",
    "norelatime",
    "strictatime",
    "nodiratime",
    "diratime",
    "async",
    "auto",
    "noauto",
    "user",
    "nouser",
    "users",
    "_netdev",
    "nofail",
    "defaults",
    "lazytime",
    "nolazytime",
];

fn number(key: &str, value: &str, radix: u32) -> Result<u32, String> {
    u32::from_str_radix(value, radix).map_err(|_| format!("invalid value for {key}: '{value}'"))
}

fn positive(key: &str, value: &str) -> Result<u32, String> {
    match number(key, value, 10)? {
        0 => Err(format!("{key} must be at least 1")),
        n => Ok(n),
    }
}

/// A byte count: digits, or with a K, M or G suffix (powers of 1024).
fn big(key: &str, value: &str) -> Result<u64, String> {
    let bad = || format!("invalid value for {key}: '{value}'");
    let (digits, shift) = match value.as_bytes().last() {
        Some(b'K' | b'k') => (&value[..value.len() - 1], 10),
        Some(b'M' | b'm') => (&value[..value.len() - 1], 20),
        Some(b'G' | b'g') => (&value[..value.len() - 1], 30),
        _ => (value, 0),
    };
    let n: u64 = digits.parse().map_err(|_| bad())?;
    n.checked_mul(1 << shift).ok_or_else(bad)
}

/// Parse every `-o` argument (each may hold several comma-separated options).
pub fn parse_options(args: &[String]) -> Result<MountOptions, String> {
    let mut o = MountOptions::default();
    for opt in args
        .iter()
        .flat_map(|a| a.split(','))
        .filter(|s| !s.is_empty())
    {
        let (key, value) = match opt.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (opt, None),
        };
        match (key, value) {
            ("ro", None) => o.read_write = false,
            ("rw", None) => o.read_write = true,
            ("allow_other", None) => o.allow_other = true,
            ("allow_root", None) => o.allow_root = true,
            ("default_permissions", None) => o.default_permissions = true,
            ("direct_io", None) => o.direct_io = true,
            ("zarr", None) => o.zarr = true,
            ("uid", Some(v)) => o.uid = Some(number(key, v, 10)?),
            ("gid", Some(v)) => o.gid = Some(number(key, v, 10)?),
            ("umask", Some(v)) => {
                let m = number(key, v, 8)?;
                if m > 0o777 {
                    return Err(format!("invalid value for umask: '{v}'"));
                }
                o.umask = m;
            }
            ("logfile", Some(v)) if !v.is_empty() => o.logfile = Some(PathBuf::from(v)),
            ("chunk_cache", Some(v)) => o.chunk_cache_mib = number(key, v, 10)? as usize,
            ("hdf5_timeout", Some(v)) => o.hdf5_timeout_secs = Some(positive(key, v)?),
            ("hdf5_memory", Some(v)) => {
                o.hdf5_memory_mib = positive(key, v)?;
                if o.hdf5_memory_mib < 64 {
                    return Err(format!("hdf5_memory must be at least 64 (MiB), not '{v}'"));
                }
            }
            ("hdf5_workers", Some(v)) => o.hdf5_workers = Some(positive(key, v)?.min(64)),
            ("views", Some(v)) => {
                for name in v.split(':') {
                    match (name, View::from_option(name)) {
                        ("all", _) => o.views.extend(HEADER_VIEWS),
                        (_, Some(view)) => o.views.push(view),
                        _ => {
                            return Err(format!(
                                "unknown view '{name}' in views= (npy, envi, nrrd, mhd or all, joined by ':')"
                            ))
                        }
                    }
                }
                o.views.sort();
                o.views.dedup();
            }
            ("driver", Some(v)) => match v {
                "sec2" | "stdio" | "core" | "family" | "split" => o.driver = Some(v.into()),
                _ => {
                    return Err(format!(
                        "unknown driver '{v}' (sec2, stdio, core, family or split)"
                    ))
                }
            },
            ("memb_size", Some(v)) => o.memb_size = Some(big(key, v)?.max(1)),
            ("meta_ext", Some(v)) if !v.is_empty() => o.meta_ext = Some(v.into()),
            ("raw_ext", Some(v)) if !v.is_empty() => o.raw_ext = Some(v.into()),
            ("libver", Some(v)) => o.libver = Some(parse_libver(v)?),
            ("rdcc_nbytes", Some(v)) => o.chunk_cache.nbytes = Some(big(key, v)?),
            ("rdcc_nslots", Some(v)) => o.chunk_cache.nslots = Some(big(key, v)?),
            ("rdcc_w0", Some(v)) => match v.parse::<f64>() {
                Ok(w) if (0.0..=1.0).contains(&w) => o.chunk_cache.w0 = Some(w),
                _ => return Err(format!("rdcc_w0 must be a number from 0 to 1, not '{v}'")),
            },
            ("swmr", None) => o.swmr = true,
            ("endpoint", Some(v)) if v.starts_with("http://") || v.starts_with("https://") => {
                o.remote.endpoint = Some(v.trim_end_matches('/').into())
            }
            ("endpoint", Some(v)) => {
                return Err(format!(
                    "endpoint must be an http:// or https:// URL, not '{v}'"
                ))
            }
            ("region", Some(v)) if !v.is_empty() => o.remote.region = Some(v.into()),
            ("anonymous", None) => o.remote.anonymous = true,
            ("cache", Some(v)) => o.remote.cache_mib = Some(positive(key, v)?),
            ("cache_dir", Some(v)) if !v.is_empty() => {
                // Absolute now: a daemon in the background runs elsewhere.
                let path = std::path::absolute(v).map_err(|e| format!("cache_dir={v}: {e}"))?;
                if path.to_str().is_none() {
                    return Err(format!(
                        "cache_dir={v}: the directory's full name is not UTF-8 text"
                    ));
                }
                o.remote.cache_dir = Some(path)
            }
            ("cache_dir_mib", Some(v)) => {
                o.remote.cache_dir_mib = Some(u64::from(positive(key, v)?))
            }
            ("max_open", Some(v)) => o.max_open = Some(positive(key, v)?),
            ("refresh", Some(v)) => match v.parse::<f64>() {
                Ok(s) if (0.0..=86400.0).contains(&s) => {
                    o.refresh = std::time::Duration::from_secs_f64(s)
                }
                _ => {
                    return Err(format!(
                        "refresh must be a number of seconds from 0 to 86400, not '{v}'"
                    ))
                }
            },
            // mount.fuse3 may pass these through; the mount table shows our own.
            ("fsname" | "subtype", Some(_)) => {}
            (k, None) if IGNORED.contains(&k) => {}
            _ => return Err(format!("unknown option '{opt}'")),
        }
    }
    if o.zarr && o.read_write {
        return Err("option 'zarr' is read-only: it cannot be combined with 'rw'".into());
    }
    if o.zarr && !o.views.is_empty() {
        return Err(
            "options 'zarr' and 'views=' exclude each other (a Zarr store shows no dataset files)"
                .into(),
        );
    }
    if o.memb_size.is_some() && o.driver.as_deref().is_some_and(|d| d != "family") {
        return Err("option 'memb_size' is for driver=family".into());
    }
    if (o.meta_ext.is_some() || o.raw_ext.is_some()) && o.driver.as_deref() != Some("split") {
        return Err("options 'meta_ext' and 'raw_ext' are for driver=split".into());
    }
    if o.swmr && o.read_write {
        return Err("option 'swmr' is for reading: it cannot be combined with 'rw'".into());
    }
    if o.allow_other && o.allow_root {
        return Err("options 'allow_other' and 'allow_root' exclude each other".into());
    }
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &[&str]) -> Result<MountOptions, String> {
        parse_options(&s.iter().map(|x| x.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn defaults_are_read_only_owner_only() {
        assert_eq!(parse(&[]).unwrap(), MountOptions::default());
        assert_eq!(parse(&["ro"]).unwrap(), MountOptions::default());
    }

    #[test]
    fn known_options() {
        let o = parse(&[
            "ro,allow_other",
            "uid=1000,gid=100,umask=022,default_permissions",
        ])
        .unwrap();
        assert!(o.allow_other && o.default_permissions);
        assert_eq!((o.uid, o.gid, o.umask), (Some(1000), Some(100), 0o22));
        let o = parse(&["logfile=/tmp/x.log"]).unwrap();
        assert_eq!(o.logfile, Some(PathBuf::from("/tmp/x.log")));
        assert_eq!(o.chunk_cache_mib, DEFAULT_CHUNK_CACHE_MIB);
        assert_eq!(parse(&["chunk_cache=256"]).unwrap().chunk_cache_mib, 256);
        assert!(parse(&["chunk_cache=lots"]).is_err());
        assert!(parse(&["ro,direct_io"]).unwrap().direct_io);
        assert!(!parse(&["ro"]).unwrap().direct_io);
    }

    #[test]
    fn hdf5_worker_options() {
        let d = parse(&[]).unwrap();
        assert_eq!(d.hdf5_timeout(false), std::time::Duration::from_secs(10));
        assert_eq!(parse(&["rw"]).unwrap().hdf5_timeout(false).as_secs(), 60);
        assert_eq!(d.hdf5_timeout(true).as_secs(), 300);
        assert_eq!(d.hdf5_memory_mib, 1024);
        assert_eq!(
            (d.hdf5_workers(1), d.hdf5_workers(4), d.hdf5_workers(64)),
            (2, 4, 8)
        );
        let o = parse(&["hdf5_timeout=3,hdf5_memory=512,hdf5_workers=1"]).unwrap();
        assert_eq!(o.hdf5_timeout(true).as_secs(), 3);
        assert_eq!(o.hdf5_memory_mib, 512);
        assert_eq!(o.hdf5_workers(8), 1);
        assert!(parse(&["hdf5_timeout=0"]).is_err());
        assert!(parse(&["hdf5_workers=0"]).is_err());
        assert!(parse(&["hdf5_memory=10"]).is_err());
    }

    #[test]
    fn remote_options() {
        let o = parse(&[
            "endpoint=http://127.0.0.1:9000/,region=eu-1,anonymous,cache=16",
            "cache_dir=some/where,cache_dir_mib=300",
        ])
        .unwrap();
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(o.remote.cache_dir, Some(cwd.join("some/where")));
        assert_eq!(o.remote.cache_dir_mib, Some(300));
        assert!(parse(&["cache_dir_mib=0"]).is_err());
        assert_eq!(o.remote.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        assert_eq!(o.remote.region.as_deref(), Some("eu-1"));
        assert!(o.remote.anonymous);
        assert_eq!(o.remote.cache_mib, Some(16));
        assert_eq!(
            crate::remote::Settings::decode(&o.remote.encode()),
            o.remote
        );
        assert!(!parse(&[]).unwrap().remote.anonymous);
        assert!(parse(&["endpoint=127.0.0.1:9000"])
            .unwrap_err()
            .contains("http://"));
        assert!(parse(&["cache=0"]).is_err());
    }

    #[test]
    fn ro_and_rw_the_last_one_wins() {
        assert!(parse(&["rw"]).unwrap().read_write);
        assert!(!parse(&["rw,ro"]).unwrap().read_write);
        assert!(parse(&["ro", "rw"]).unwrap().read_write);
    }

    #[test]
    fn generic_mount_options_are_ignored() {
        assert!(parse(&["ro,nosuid,nodev,noatime,_netdev,defaults"]).is_ok());
    }

    #[test]
    fn refusals() {
        assert!(parse(&["bogus"])
            .unwrap_err()
            .contains("unknown option 'bogus'"));
        assert!(parse(&["uid=abc"]).unwrap_err().contains("uid"));
        assert!(parse(&["umask=999"]).is_err());
        assert!(parse(&["umask=1000"]).is_err());
        assert!(parse(&["allow_other,allow_root"]).is_err());
        assert!(parse(&["ro=1"]).is_err());
    }

    #[test]
    fn views_fit_in_one_option_and_accumulate() {
        assert!(parse(&["ro"]).unwrap().views.is_empty());
        assert_eq!(
            parse(&["ro,views=envi:npy"]).unwrap().views,
            vec![View::Npy, View::Envi]
        );
        assert_eq!(
            parse(&["views=mhd", "views=nrrd,views=mhd"]).unwrap().views,
            vec![View::Nrrd, View::Mhd]
        );
        assert_eq!(parse(&["views=all"]).unwrap().views, HEADER_VIEWS.to_vec());
        assert!(parse(&["views=npy:tiff"]).is_err());
        assert!(parse(&["views="]).is_err());
        assert!(parse(&["views=json"]).is_err());
    }

    #[test]
    fn file_access_options() {
        let o = parse(&["driver=family,memb_size=64K", "libver=v108"]).unwrap();
        assert_eq!(o.driver.as_deref(), Some("family"));
        assert_eq!(o.memb_size, Some(65536));
        assert_eq!(o.libver, Some((LibVer::V108, LibVer::V110)));
        let o = parse(&["rdcc_nbytes=4M,rdcc_nslots=10007,rdcc_w0=0.5"]).unwrap();
        assert_eq!(
            o.chunk_cache,
            ChunkCacheSpec {
                nslots: Some(10007),
                nbytes: Some(4 << 20),
                w0: Some(0.5)
            }
        );
        let o = parse(&["driver=split,meta_ext=.meta,raw_ext=.raw"]).unwrap();
        assert_eq!(o.meta_ext.as_deref(), Some(".meta"));
        assert!(parse(&["memb_size=1000"]).is_ok());
        assert!(parse(&["driver=core,memb_size=1000"]).is_err());
        assert!(parse(&["meta_ext=.m"]).is_err());
        assert!(parse(&["driver=mpio"])
            .unwrap_err()
            .contains("unknown driver"));
        assert!(parse(&["rdcc_w0=1.5"]).is_err());
        assert!(parse(&["rdcc_nbytes=lots"]).is_err());
        assert!(parse(&["rdcc_nbytes=99999999999G"]).is_err());
        assert!(parse(&["libver=v112"]).is_err());
        assert!(parse(&["swmr,rw"]).is_err());
        assert_eq!(parse(&["refresh=0.25"]).unwrap().refresh.as_millis(), 250);
        assert_eq!(parse(&[]).unwrap().refresh, DEFAULT_REFRESH);
        assert!(parse(&["refresh=-1"]).is_err());
        assert!(parse(&["refresh=soon"]).is_err());
        assert_eq!(parse(&["max_open=16"]).unwrap().max_open, Some(16));
        assert!(parse(&["max_open=0"]).is_err());
    }

    #[test]
    fn zarr_is_read_only_and_alone() {
        assert!(parse(&["zarr"]).unwrap().zarr);
        assert!(parse(&["zarr,rw"]).is_err());
        assert!(parse(&["zarr,views=npy"]).is_err());
        assert!(parse(&["ro,zarr"]).unwrap().zarr);
    }
}
