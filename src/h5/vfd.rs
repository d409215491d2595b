//! h5fs's own read-only file driver: libhdf5 reads a file through a block
//! cache from any [`RangeSource`] (an object in S3-compatible storage, a
//! URL), so that opening a file and walking its tree costs a handful of
//! large requests instead of hundreds of small ones.
//!
//! The driver is registered once per process; the file name libhdf5 is
//! given reaches [`Opener`] unchanged (a URL). Reads of raw data at least a
//! block long go to the source directly; every other read is served from
//! whole blocks, kept up to a byte budget (least recently used dropped).
//! Every callback catches panics: none may unwind into libhdf5.

use std::collections::HashMap;
use std::ffi::{CStr, CString};
use std::os::raw::{c_char, c_int, c_uint, c_ulong, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use super::vfd_sys::*;
use crate::model::{ErrorKind, H5Error, Result};

/// Bytes of a file, read by range.
pub trait RangeSource: Send + Sync {
    fn size(&self) -> u64;
    /// Fill `buf` with the bytes from `offset` (all within the file).
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::result::Result<(), String>;
    /// Which version of the file this is (remote objects: of their ETag).
    fn version(&self) -> u64 {
        0
    }
}

/// Opens the source a file name (as given to libhdf5) names.
pub type Opener = fn(&str) -> std::result::Result<Box<dyn RangeSource>, String>;

/// Block size of the cache.
pub const BLOCK: u64 = 4 << 20;
/// Bytes of blocks kept per open file (`cache=MIB`).
static BUDGET: AtomicU64 = AtomicU64::new(64 << 20);

static OPENER: OnceLock<Opener> = OnceLock::new();
static DRIVER: OnceLock<hid_t> = OnceLock::new();
static NAME: &CStr = c"h5fs";

/// The driver's id, registered on first use with `opener` (later calls
/// keep the first opener).
pub fn driver_id(opener: Opener) -> Result<hid_t> {
    let _ = OPENER.set(opener);
    if let Some(id) = DRIVER.get() {
        return Ok(*id);
    }
    let class = H5FD_class_t {
        name: NAME.as_ptr(),
        maxaddr: i64::MAX as u64,
        fc_degree: H5F_CLOSE_WEAK,
        terminate: None,
        sb_size: None,
        sb_encode: None,
        sb_decode: None,
        fapl_size: 0,
        fapl_get: None,
        fapl_copy: None,
        fapl_free: None,
        dxpl_size: 0,
        dxpl_copy: None,
        dxpl_free: None,
        open: Some(open),
        close: Some(close),
        cmp: Some(cmp),
        query: Some(query),
        get_type_map: None,
        alloc: None,
        free: None,
        get_eoa: Some(get_eoa),
        set_eoa: Some(set_eoa),
        get_eof: Some(get_eof),
        get_handle: None,
        read: Some(read),
        write: Some(write),
        flush: None,
        truncate: None,
        lock: None,
        unlock: None,
        fl_map: H5FD_FLMAP_DICHOTOMY,
    };
    // SAFETY: libhdf5 copies the class; the name is static.
    let id = super::handle::locked(|| unsafe { H5FDregister(&class) });
    if id < 0 {
        return Err(H5Error::new(
            ErrorKind::Other,
            "cannot register h5fs's file driver",
        ));
    }
    Ok(*DRIVER.get_or_init(|| id))
}

/// The opener every later [`set_installed`] uses (the first given wins),
/// and the bytes of blocks each open file may keep (None: 64 MiB).
pub fn install(opener: Opener, budget: Option<u64>) {
    let _ = OPENER.set(opener);
    if let Some(b) = budget {
        BUDGET.store(b.max(BLOCK), Ordering::Relaxed);
    }
}

/// Select the driver, with the installed opener, on file access list `fapl`.
pub fn set_installed(fapl: hid_t) -> Result<()> {
    match OPENER.get() {
        Some(op) => set_on(fapl, *op),
        None => Err(H5Error::new(
            ErrorKind::Other,
            "no source for URLs in this process",
        )),
    }
}

/// Select the driver on file access list `fapl`.
pub fn set_on(fapl: hid_t, opener: Opener) -> Result<()> {
    let id = driver_id(opener)?;
    // SAFETY: no driver info (fapl_size 0).
    let r = super::handle::locked(|| unsafe { H5Pset_driver(fapl, id, std::ptr::null()) });
    if r < 0 {
        return Err(super::handle::last_error("H5Pset_driver"));
    }
    Ok(())
}

/// An open file: libhdf5's part first.
#[repr(C)]
struct File {
    public: H5FD_t,
    eoa: haddr_t,
    name: CString,
    opened: Arc<Opened>,
}

/// A source and its blocks, shared by every open of the same name: libhdf5
/// opens an external file anew at each traversal, and finds a file already
/// open (a link back into the mounted file) only through [`cmp`].
struct Opened {
    source: Box<dyn RangeSource>,
    cache: Mutex<Blocks>,
}

/// Sources by name, with when each was last opened.
type Sources = HashMap<String, (Arc<Opened>, u64)>;

/// Sources no file has open are let go past this many.
const KEEP_SOURCES: usize = 16;

static SOURCES: Mutex<Option<Sources>> = Mutex::new(None);

/// The source named `name`: the one already known, or a new one.
fn source_for(name: &str, opener: Opener) -> std::result::Result<Arc<Opened>, String> {
    static CLOCK: AtomicU64 = AtomicU64::new(0);
    let now = CLOCK.fetch_add(1, Ordering::Relaxed);
    let mut guard = SOURCES.lock().unwrap_or_else(|e| e.into_inner());
    let sources = guard.get_or_insert_with(HashMap::new);
    if let Some((o, used)) = sources.get_mut(name) {
        *used = now;
        return Ok(o.clone());
    }
    let opened = Arc::new(Opened {
        source: opener(name)?,
        cache: Mutex::new(Blocks::new()),
    });
    sources.insert(name.to_string(), (opened.clone(), now));
    while sources.len() > KEEP_SOURCES {
        let idle = sources
            .iter()
            .filter(|(_, (o, _))| Arc::strong_count(o) == 1)
            .min_by_key(|(_, (_, used))| *used)
            .map(|(k, _)| k.clone());
        match idle {
            Some(k) => sources.remove(&k),
            None => break,
        };
    }
    Ok(opened)
}

/// The version of the source known by `name`, if one is.
pub fn version_of(name: &str) -> Option<u64> {
    let guard = SOURCES.lock().unwrap_or_else(|e| e.into_inner());
    guard.as_ref()?.get(name).map(|(o, _)| o.source.version())
}

/// Let the source named `name` go: the next open reads the object as it
/// is now (its size and ETag, its blocks), while files open on the old
/// source keep reading that version (or fail, if it is gone).
pub fn forget(name: &str) {
    let mut guard = SOURCES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(sources) = guard.as_mut() {
        sources.remove(name);
    }
}

/// Whole blocks of a source, least recently used dropped past the budget.
struct Blocks {
    kept: HashMap<u64, (Arc<Vec<u8>>, u64)>,
    bytes: u64,
    clock: u64,
}

impl Blocks {
    fn new() -> Blocks {
        Blocks {
            kept: HashMap::new(),
            bytes: 0,
            clock: 0,
        }
    }

    fn block(
        &mut self,
        src: &dyn RangeSource,
        index: u64,
    ) -> std::result::Result<Arc<Vec<u8>>, String> {
        self.clock += 1;
        if let Some((b, used)) = self.kept.get_mut(&index) {
            *used = self.clock;
            return Ok(b.clone());
        }
        let start = index * BLOCK;
        let len = BLOCK.min(src.size().saturating_sub(start));
        let mut buf = vec![0u8; len as usize];
        src.read_at(start, &mut buf)?;
        let b = Arc::new(buf);
        while self.bytes + len > BUDGET.load(Ordering::Relaxed) && !self.kept.is_empty() {
            let oldest = self
                .kept
                .iter()
                .min_by_key(|(_, (_, u))| *u)
                .map(|(k, _)| *k);
            if let Some((old, _)) = oldest.and_then(|k| self.kept.remove(&k)) {
                self.bytes -= old.len() as u64;
            }
        }
        self.bytes += len;
        self.kept.insert(index, (b.clone(), self.clock));
        Ok(b)
    }

    /// Fill `buf` from `addr`: bytes past the source's end read as zeros
    /// (as libhdf5's own drivers give them).
    fn read(
        &mut self,
        src: &dyn RangeSource,
        raw: bool,
        addr: u64,
        buf: &mut [u8],
    ) -> std::result::Result<(), String> {
        let end = addr
            .checked_add(buf.len() as u64)
            .ok_or("address overflow")?;
        let have = src.size().min(end).saturating_sub(addr) as usize;
        buf[have..].fill(0);
        if have == 0 {
            return Ok(());
        }
        if raw && have as u64 >= BLOCK {
            return src.read_at(addr, &mut buf[..have]);
        }
        let mut at = addr;
        let mut done = 0usize;
        while done < have {
            let index = at / BLOCK;
            let block = self.block(src, index)?;
            let off = (at - index * BLOCK) as usize;
            let n = (have - done).min(block.len().saturating_sub(off));
            if n == 0 {
                return Err(format!("source shorter than it said at {at}"));
            }
            buf[done..done + n].copy_from_slice(&block[off..off + n]);
            done += n;
            at += n as u64;
        }
        Ok(())
    }
}

fn guarded<T>(fail: T, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(fail)
}

unsafe extern "C" fn open(
    name: *const c_char,
    flags: c_uint,
    _fapl: hid_t,
    _maxaddr: haddr_t,
) -> *mut H5FD_t {
    guarded(std::ptr::null_mut(), || {
        if name.is_null() || flags & H5F_ACC_RDWR != 0 {
            return std::ptr::null_mut();
        }
        let name = CStr::from_ptr(name);
        let Some(opener) = OPENER.get() else {
            return std::ptr::null_mut();
        };
        let Ok(opened) = source_for(&name.to_string_lossy(), *opener) else {
            return std::ptr::null_mut();
        };
        let file = Box::new(File {
            // SAFETY: H5FD_t is plain data; libhdf5 fills it after open.
            public: std::mem::zeroed(),
            eoa: 0,
            name: name.to_owned(),
            opened,
        });
        Box::into_raw(file).cast()
    })
}

unsafe extern "C" fn close(file: *mut H5FD_t) -> herr_t {
    guarded(-1, || {
        if !file.is_null() {
            drop(Box::from_raw(file.cast::<File>()));
        }
        0
    })
}

/// Files are the same if they read the same source.
unsafe extern "C" fn cmp(a: *const H5FD_t, b: *const H5FD_t) -> c_int {
    guarded(-1, || {
        if a.is_null() || b.is_null() {
            return -1;
        }
        let (a, b) = (&(*a.cast::<File>()).opened, &(*b.cast::<File>()).opened);
        match Arc::as_ptr(a).cmp(&Arc::as_ptr(b)) {
            std::cmp::Ordering::Less => -1,
            std::cmp::Ordering::Equal => 0,
            std::cmp::Ordering::Greater => 1,
        }
    })
}

/// No features: in particular no data sieve. libhdf5 1.10 records where
/// its sieve buffer is before filling it, so a read that fails leaves the
/// old bytes standing for the new place, and a later read would get them.
/// The block cache does what the sieve would.
unsafe extern "C" fn query(_file: *const H5FD_t, flags: *mut c_ulong) -> herr_t {
    if !flags.is_null() {
        *flags = 0;
    }
    0
}

/// The first read from a source that failed since [`take_failure`].
static FAILED: Mutex<Option<String>> = Mutex::new(None);

/// Why a read failed since the last call, if one did. After a failed read
/// libhdf5's caches of the file are not to be trusted: the caller closes
/// the file.
pub fn take_failure() -> Option<String> {
    FAILED.lock().unwrap_or_else(|e| e.into_inner()).take()
}

unsafe extern "C" fn get_eoa(file: *const H5FD_t, _ty: H5FD_mem_t) -> haddr_t {
    if file.is_null() {
        return HADDR_UNDEF;
    }
    (*file.cast::<File>()).eoa
}

unsafe extern "C" fn set_eoa(file: *mut H5FD_t, _ty: H5FD_mem_t, addr: haddr_t) -> herr_t {
    if file.is_null() {
        return -1;
    }
    (*file.cast::<File>()).eoa = addr;
    0
}

unsafe extern "C" fn get_eof(file: *const H5FD_t, _ty: H5FD_mem_t) -> haddr_t {
    if file.is_null() {
        return HADDR_UNDEF;
    }
    guarded(HADDR_UNDEF, || {
        let f = &*file.cast::<File>();
        f.opened.source.size()
    })
}

unsafe extern "C" fn read(
    file: *mut H5FD_t,
    ty: H5FD_mem_t,
    _dxpl: hid_t,
    addr: haddr_t,
    size: usize,
    buf: *mut c_void,
) -> herr_t {
    guarded(-1, || {
        if file.is_null() || (buf.is_null() && size > 0) {
            return -1;
        }
        let f = &*file.cast::<File>();
        let out = std::slice::from_raw_parts_mut(buf.cast::<u8>(), size);
        let mut cache = f.opened.cache.lock().unwrap_or_else(|e| e.into_inner());
        match cache.read(&*f.opened.source, ty == H5FD_MEM_DRAW, addr, out) {
            Ok(()) => 0,
            Err(e) => {
                // `e` names the object.
                let what = format!("read of {size} bytes at {addr}: {e}");
                FAILED
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get_or_insert(what);
                -1
            }
        }
    })
}

unsafe extern "C" fn write(
    _file: *mut H5FD_t,
    _ty: H5FD_mem_t,
    _dxpl: hid_t,
    _addr: haddr_t,
    _size: usize,
    _buf: *const c_void,
) -> herr_t {
    -1
}

/// A local file as a [`RangeSource`] (tests, and files the driver is asked
/// to read by path).
pub struct LocalRange(std::fs::File, u64);

impl LocalRange {
    pub fn open(path: &str) -> std::result::Result<Box<dyn RangeSource>, String> {
        let f = std::fs::File::open(path).map_err(|e| format!("{path}: {e}"))?;
        let len = f.metadata().map_err(|e| e.to_string())?.len();
        Ok(Box::new(LocalRange(f, len)))
    }
}

impl RangeSource for LocalRange {
    fn size(&self) -> u64 {
        self.1
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::result::Result<(), String> {
        std::os::unix::fs::FileExt::read_exact_at(&self.0, buf, offset).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct Counted(Vec<u8>, AtomicUsize);

    impl RangeSource for Counted {
        fn size(&self) -> u64 {
            self.0.len() as u64
        }
        fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::result::Result<(), String> {
            self.1.fetch_add(1, Ordering::Relaxed);
            let o = offset as usize;
            buf.copy_from_slice(&self.0[o..o + buf.len()]);
            Ok(())
        }
    }

    #[test]
    fn small_reads_come_from_whole_blocks_and_the_end_reads_as_zeros() {
        let data: Vec<u8> = (0..(BLOCK as usize + 1000))
            .map(|i| (i % 251) as u8)
            .collect();
        let src = Counted(data.clone(), AtomicUsize::new(0));
        let mut blocks = Blocks::new();
        let mut buf = vec![0u8; 100];
        blocks.read(&src, false, 10, &mut buf).unwrap();
        assert_eq!(buf, data[10..110]);
        blocks.read(&src, false, 5000, &mut buf).unwrap();
        assert_eq!(src.1.load(Ordering::Relaxed), 1, "one block fetched once");
        // Across the block boundary and past the end.
        let mut buf = vec![7u8; 2000];
        blocks.read(&src, false, BLOCK - 500, &mut buf).unwrap();
        assert_eq!(&buf[..1500], &data[BLOCK as usize - 500..]);
        assert!(buf[1500..].iter().all(|b| *b == 0));
        assert_eq!(src.1.load(Ordering::Relaxed), 2);
        // Raw data of a block or more goes straight to the source.
        let mut big = vec![0u8; BLOCK as usize];
        blocks.read(&src, true, 3, &mut big).unwrap();
        assert_eq!(big, data[3..3 + BLOCK as usize]);
        assert_eq!(src.1.load(Ordering::Relaxed), 3);
    }

    struct Http(crate::remote::Remote);

    impl RangeSource for Http {
        fn size(&self) -> u64 {
            self.0.size()
        }
        fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::result::Result<(), String> {
            self.0.read(offset..offset + buf.len() as u64, buf)
        }
    }

    static OPENED: AtomicUsize = AtomicUsize::new(0);

    /// Local paths from the disk, URLs over HTTP; counted.
    fn opener(name: &str) -> std::result::Result<Box<dyn RangeSource>, String> {
        OPENED.fetch_add(1, Ordering::Relaxed);
        if name.starts_with("http://") {
            return Ok(Box::new(Http(crate::remote::Remote::open(
                name,
                &Default::default(),
            )?)));
        }
        LocalRange::open(name)
    }

    /// libhdf5 opens a file through the driver, from the disk and from an
    /// HTTP server (tests/python/range_server.py), and reads what sec2 reads.
    #[test]
    fn libhdf5_reads_a_file_through_the_driver() {
        use crate::model::Access;
        use std::io::BufRead;
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/corpus/h5py");
        let path = format!("{dir}/compound-dtype-complex.h5");
        let plain =
            super::super::H5File::open(std::path::Path::new(&path), false, &Access::default())
                .unwrap();
        let mut server = std::process::Command::new("/usr/bin/python3")
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/python/range_server.py"
            ))
            .arg(dir)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut url = String::new();
        std::io::BufReader::new(server.stdout.as_mut().unwrap())
            .read_line(&mut url)
            .unwrap();
        let url = format!("{}/compound-dtype-complex.h5", url.trim());
        let result = std::panic::catch_unwind(|| {
            for (n, name) in [path.as_str(), url.as_str()].into_iter().enumerate() {
                let via = super::super::file::open_with_driver(name, opener).unwrap();
                assert_eq!(
                    OPENED.load(Ordering::Relaxed),
                    n + 1,
                    "opened through the driver"
                );
                for ds in [b"/<c16".as_slice(), b"/>c8", b"/c16"] {
                    let loc = crate::model::Loc::path(ds);
                    let a = super::super::Dataset::open(&plain, &loc).unwrap();
                    let b = super::super::Dataset::open(&via, &loc).unwrap();
                    assert_eq!(
                        a.read_elements(0, 100).unwrap(),
                        b.read_elements(0, 100).unwrap(),
                        "{name}: {}",
                        String::from_utf8_lossy(ds)
                    );
                }
            }
        });
        let _ = server.kill();
        let _ = server.wait();
        result.unwrap();
    }
}
