//! The worker process: answers requests one at a time with src/h5.
//!
//! It keeps the file open and recently used datasets open between requests.
//! It ends when the daemon closes its end of the socket (closing the file
//! cleanly), or with the daemon itself (the parent-death signal).

use std::collections::HashMap;
use std::os::unix::net::UnixStream;

use super::protocol::{
    follows, read_frame, write_frame, ChunkHead, Payload, Reply, Request, Response,
};
use crate::h5::{Dataset, H5File};
use crate::model::{ErrorKind, H5Error, Loc, Result};
use crate::sys::SharedMemory;

/// How long a worker whose daemon ended may go on finishing its request
/// and closing the file.
const ORPHAN_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// Open datasets kept between requests; past this many the set starts over.
const OPEN_DATASETS: usize = 64;

/// The files a worker has open, by the daemon's numbers for them.
struct Worker {
    files: HashMap<u32, OpenFile>,
    /// Most files kept open; past it the least recently used is closed.
    keep: usize,
    /// Use counter, for least recently used.
    clock: u64,
}

/// One open file and what is kept of it between requests.
struct OpenFile {
    file: Option<H5File>,
    /// The file's size when opened: no stored chunk can be larger.
    file_len: u64,
    datasets: HashMap<Loc, Dataset>,
    /// The file is open for SWMR reading: datasets may grow meanwhile.
    swmr: bool,
    used: u64,
}

impl OpenFile {
    /// Close datasets before the file, so the file closes completely.
    fn close(mut self) {
        self.datasets.clear();
        drop(self.file.take());
    }
}

/// The worker's main: serve the socket at descriptor `fd`; the exit code.
pub fn run(fd: i32) -> i32 {
    let cache = super::urls::settings().cache_mib;
    crate::h5::vfd::install(super::urls::open, cache.map(|m| u64::from(m) << 20));
    // When its daemon ends (kill -9 included), a worker sees its socket
    // close once the request in hand is done, and closes the file cleanly.
    // One stuck in libhdf5 never gets there: a watcher notices the daemon's
    // end (the worker is re-parented) and ends the worker after a grace.
    let daemon = crate::sys::parent_pid();
    let watch = std::thread::Builder::new()
        .stack_size(64 << 10)
        .spawn(move || loop {
            std::thread::sleep(std::time::Duration::from_millis(500));
            if crate::sys::parent_pid() != daemon {
                std::thread::sleep(ORPHAN_GRACE);
                crate::sys::exit_now(0);
            }
        });
    if watch.is_err() {
        return 1;
    }
    let shm = match SharedMemory::adopt(crate::sys::WORKER_SHM_FD) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("h5fs worker: shared memory: {e}");
            return 1;
        }
    };
    match serve(crate::sys::worker_socket(fd), shm) {
        Ok(()) => 0,
        // The daemon closed its end mid-answer: it is stopping or gave up.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => 0,
        Err(e) => {
            eprintln!("h5fs worker: {e}");
            1
        }
    }
}

/// Serve requests on `stream` until the daemon closes it; payloads come and
/// go through `shm` where they fit.
pub fn serve(mut stream: UnixStream, mut shm: SharedMemory) -> std::io::Result<()> {
    let mut w = Worker {
        files: HashMap::new(),
        keep: 1,
        clock: 0,
    };
    while let Some(((file, req), payload)) = read_frame::<(u32, Request)>(&mut stream, Some(&shm))?
    {
        let mut out = Output {
            shm: &mut shm,
            used: 0,
            spilled: None,
        };
        let response: Response = w.handle(file, req, payload, &mut out);
        let Output { used, spilled, .. } = out;
        let payload = match (&response, &spilled) {
            (Err(_), _) => Payload::Bytes(&[]),
            (Ok(_), Some(v)) => Payload::Bytes(v),
            (Ok(_), None) => Payload::Shared(used),
        };
        write_frame(&mut stream, &response, payload, Some(&mut shm))?;
    }
    for (_, f) in w.files.drain() {
        f.close();
    }
    Ok(())
}

/// The elements `[first, end)` that are exactly `len` bytes at byte `at`.
fn whole_elements(ds: &Dataset, at: u64, len: u64) -> Result<(u64, u64)> {
    let size = ds.info().meta.ty.size().max(1) as u64;
    if at % size != 0 || len % size != 0 {
        return Err(H5Error::new(
            ErrorKind::Other,
            format!("{len} bytes at {at} are not whole {size}-byte elements"),
        ));
    }
    Ok((at / size, (at + len) / size))
}

/// A reply's payload, written straight into the shared memory while it
/// fits, and into a vector from the first piece that does not.
struct Output<'a> {
    shm: &'a mut SharedMemory,
    used: usize,
    spilled: Option<Vec<u8>>,
}

impl Output<'_> {
    /// The next `n` bytes of the payload, to fill.
    fn next(&mut self, n: usize) -> &mut [u8] {
        if self.spilled.is_none() && self.used + n <= self.shm.len() {
            let start = self.used;
            self.used += n;
            // Zeroed: libhdf5 leaves some bytes unwritten (compound padding,
            // a chunk's part past the extent), which must not show what an
            // earlier request left in the shared buffer.
            let out = &mut self.shm.bytes_mut()[start..start + n];
            out.fill(0);
            return out;
        }
        let used = self.used;
        let shm = &mut *self.shm;
        let v = self
            .spilled
            .get_or_insert_with(|| shm.bytes_mut()[..used].to_vec());
        let start = v.len();
        v.resize(start + n, 0);
        &mut v[start..]
    }
}

fn no_file() -> H5Error {
    H5Error::new(ErrorKind::Other, "no file is open in this worker")
}

/// The identity (device, inode) of the file at `path`.
fn ident_of(path: &std::path::Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// Open the remote file at `path` read-only, as the version the mount
/// found (`version`, of its ETag): a source of another version this worker
/// knows is let go first, and a file that is another version now (the
/// object was replaced) is an error, never read.
fn open_version(
    path: &std::path::Path,
    access: &crate::model::Access,
    version: Option<u64>,
) -> Result<H5File> {
    let name = path.to_string_lossy();
    let Some(want) = version else {
        return H5File::open(path, false, access);
    };
    if crate::h5::vfd::version_of(&name).is_some_and(|v| v != want) {
        crate::h5::vfd::forget(&name);
    }
    let file = H5File::open(path, false, access)?;
    if crate::h5::vfd::version_of(&name) != Some(want) {
        drop(file);
        return Err(H5Error::new(
            ErrorKind::Other,
            format!("{name}: the object changed since it was mounted; mount it again"),
        ));
    }
    Ok(file)
}

impl Worker {
    fn handle(&mut self, id: u32, req: Request, payload: Vec<u8>, out: &mut Output) -> Response {
        self.clock += 1;
        if let Request::Open {
            path,
            writable,
            access,
            keep,
            ident,
        } = req
        {
            if let Some(old) = self.files.remove(&id) {
                old.close();
            }
            self.keep = (keep as usize).max(1);
            while self.files.len() >= self.keep {
                let Some((&oldest, _)) = self.files.iter().min_by_key(|(_, f)| f.used) else {
                    break;
                };
                if let Some(f) = self.files.remove(&oldest) {
                    f.close();
                }
            }
            let stale = || {
                H5Error::new(
                    ErrorKind::Stale,
                    format!("{}: replaced since it was mounted", path.display()),
                )
            };
            let remote = access.driver == crate::model::Driver::Url;
            let file = if remote {
                open_version(&path, &access, ident.map(|(v, _)| v))?
            } else {
                if ident.is_some() && ident_of(&path) != ident {
                    return Err(stale());
                }
                let file = H5File::open(&path, writable, &access)?;
                // Checked again: the name may have been taken over meanwhile.
                if ident.is_some() && ident_of(&path) != ident {
                    return Err(stale());
                }
                file
            };
            let facts = file.facts()?;
            self.files.insert(
                id,
                OpenFile {
                    file: Some(file),
                    file_len: facts.size,
                    datasets: HashMap::new(),
                    swmr: access.swmr && !writable,
                    used: self.clock,
                },
            );
            return Ok(Reply::Facts(facts));
        }
        let clock = self.clock;
        let Some(f) = self.files.get_mut(&id) else {
            return Err(H5Error::new(
                ErrorKind::NotOpen,
                format!("file {id} is not open in this worker"),
            ));
        };
        f.used = clock;
        crate::h5::vfd::take_failure();
        let mut response = f.handle(req, payload, out);
        // A remote read failed: the error says why, and the file is opened
        // anew for the next request (the daemon reopens it on NotOpen), with
        // none of libhdf5's state.
        if let Some(why) = crate::h5::vfd::take_failure() {
            if let Some(f) = self.files.remove(&id) {
                f.close();
            }
            if let Err(e) = &mut response {
                e.msg = format!("{} ({why})", e.msg);
            }
        }
        response
    }
}

impl OpenFile {
    fn file(&self) -> Result<&H5File> {
        self.file.as_ref().ok_or_else(no_file)
    }

    /// The dataset at `loc`, opened now if it is not open.
    fn dataset(&mut self, loc: &Loc) -> Result<&Dataset> {
        if !self.datasets.contains_key(loc) {
            let ds = Dataset::open(self.file()?, loc)?;
            if self.datasets.len() >= OPEN_DATASETS {
                self.datasets.clear();
            }
            self.datasets.insert(loc.clone(), ds);
        }
        self.datasets.get(loc).ok_or_else(no_file)
    }

    fn handle(&mut self, req: Request, payload: Vec<u8>, out: &mut Output) -> Response {
        // Names change meaning after a namespace change: reopen by location.
        if req.changes()
            && !matches!(
                req,
                Request::WriteElements { .. } | Request::CopyBytes { .. } | Request::Sync
            )
        {
            self.datasets.clear();
        }
        Ok(match req {
            Request::Open { .. } => return Err(no_file()),
            Request::Reopen { writable } => {
                let file = self.file.as_mut().ok_or_else(no_file)?;
                file.reopen(writable)?;
                Reply::Done
            }
            Request::Sync => {
                self.file()?.sync()?;
                Reply::Done
            }
            Request::Info { loc } => Reply::Info(self.file()?.info_at(&loc)?),
            Request::InfoIn { group, name } => Reply::Info(self.file()?.info_in(&group, &name)?),
            Request::Links { loc } => Reply::Links(self.file()?.links(&loc)?),
            Request::Listing { loc, follow_soft } => {
                let file = self.file()?;
                let links = file.links(&loc)?;
                Reply::Listing(
                    links
                        .into_iter()
                        .map(|link| {
                            let info = follows(&link.kind, follow_soft)
                                .then(|| file.info_in(&loc, &link.name));
                            (link, info)
                        })
                        .collect(),
                )
            }
            Request::Dataset { loc } => {
                // Always opened anew: the description must be current.
                self.datasets.remove(&loc);
                if self.swmr {
                    let ds = Dataset::open_fresh(self.file()?, &loc)?;
                    let info = ds.info().clone();
                    if self.datasets.len() >= OPEN_DATASETS {
                        self.datasets.clear();
                    }
                    self.datasets.insert(loc, ds);
                    Reply::Dataset(Box::new(info))
                } else {
                    Reply::Dataset(Box::new(self.dataset(&loc)?.info().clone()))
                }
            }
            Request::Datatype { loc } => Reply::Type(self.file()?.datatype(&loc)?),
            Request::AttrNames { loc } => Reply::Names(self.file()?.attr_names(&loc)?),
            Request::ReadAttr { loc, name } => Reply::Attr(self.file()?.read_attr(&loc, &name)?),
            Request::Attrs { loc, skip } => {
                let file = self.file()?;
                let names = file.attr_names(&loc)?;
                Reply::Attrs(
                    names
                        .into_iter()
                        .filter(|n| !skip.contains(n))
                        .map(|n| {
                            let v = file.read_attr(&loc, &n);
                            (n, v)
                        })
                        .collect(),
                )
            }
            Request::ReadElements { loc, first, end } => {
                let swmr = self.swmr;
                let ds = self.dataset(&loc)?;
                let mut n = ds.elements_len(first, end)?;
                // Under an SWMR writer, the daemon may know a larger extent
                // than this worker's handle (another worker answered).
                if swmr
                    && (n as u64)
                        < end
                            .saturating_sub(first)
                            .saturating_mul(ds.info().meta.ty.size() as u64)
                {
                    ds.refresh()?;
                    n = ds.elements_len(first, end)?;
                }
                ds.read_elements_into(first, end, out.next(n))?;
                Reply::Bytes
            }
            Request::ReadValues { loc } => Reply::Values(self.dataset(&loc)?.read_values()?),
            Request::ReadChunks {
                loc,
                grids,
                decoded,
            } => {
                let file_len = self.file_len;
                let ds = self.dataset(&loc)?;
                let mut heads = Vec::with_capacity(grids.len());
                for grid in &grids {
                    let offset = ds.chunk_offset(grid)?;
                    let stored = match decoded {
                        true => None,
                        false => ds.chunk_stored_len(&offset, file_len)?,
                    };
                    heads.push(match stored {
                        Some(len) => ChunkHead::Stored {
                            filter_mask: ds.read_chunk_stored(&offset, out.next(len))?,
                            len: len as u64,
                        },
                        None => {
                            let len = ds.chunk_bytes();
                            ds.read_chunk_decoded(&offset, out.next(len))?;
                            ChunkHead::Decoded { len: len as u64 }
                        }
                    });
                }
                Reply::Chunks(heads)
            }
            Request::ChunkSizes { loc, grids } => {
                let file_len = self.file_len;
                let ds = self.dataset(&loc)?;
                let sizes = grids
                    .iter()
                    .map(|g| {
                        let len = ds.chunk_stored_len(&ds.chunk_offset(g)?, file_len)?;
                        Ok(len.unwrap_or(0) as u64)
                    })
                    .collect::<Result<_>>()?;
                Reply::Sizes(sizes)
            }
            Request::ChunkLocations { loc, grids } => {
                let ds = self.dataset(&loc)?;
                let places = grids
                    .iter()
                    .map(|g| ds.chunk_location(&ds.chunk_offset(g)?))
                    .collect::<Result<_>>()?;
                Reply::Locations(places)
            }
            Request::WriteElements { loc, first } => {
                self.dataset(&loc)?.write_elements(first, &payload)?;
                Reply::Done
            }
            Request::WriteAll { loc, data } => {
                self.dataset(&loc)?.write_all(&data)?;
                Reply::Done
            }
            Request::SetExtent { loc, dims } => {
                self.dataset(&loc)?.set_extent(&dims)?;
                Reply::Done
            }
            Request::CreateDataset { path, spec } => {
                self.file()?.create_dataset(&path, &spec)?;
                Reply::Done
            }
            Request::CreateLike { like, path, shape } => {
                self.file()?.create_like(&like, &path, shape.as_deref())?;
                Reply::Done
            }
            Request::CopyAttrs { from, to } => {
                self.file()?.copy_attrs(&from, &to)?;
                Reply::Done
            }
            Request::CopyBytes {
                from,
                from_byte,
                to,
                to_byte,
                len,
            } => {
                let src = self.dataset(&from)?;
                let (first, end) = whole_elements(src, from_byte, len)?;
                let bytes = src.read_elements(first, end)?;
                let dst = self.dataset(&to)?;
                let (first, _) = whole_elements(dst, to_byte, len)?;
                dst.write_elements(first, &bytes)?;
                Reply::Done
            }
            Request::ReplaceLink { path, with } => {
                self.file()?.replace_link(&path, &with)?;
                Reply::Done
            }
            Request::CreateGroup { path } => {
                self.file()?.create_group(&path)?;
                Reply::Done
            }
            Request::DeleteLink { path } => {
                self.file()?.delete_link(&path)?;
                Reply::Done
            }
            Request::MoveLink { from, to } => {
                self.file()?.move_link(&from, &to)?;
                Reply::Done
            }
            Request::HardLink { target, path } => {
                self.file()?.hard_link(&target, &path)?;
                Reply::Done
            }
            Request::SoftLink { value, path } => {
                self.file()?.soft_link(&value, &path)?;
                Reply::Done
            }
            Request::CreateAttr {
                loc,
                name,
                ty,
                shape,
                data,
            } => {
                self.file()?.create_attr(&loc, &name, &ty, &shape, &data)?;
                Reply::Done
            }
            Request::WriteAttr {
                loc,
                name,
                ty,
                data,
            } => {
                self.file()?.write_attr(&loc, &name, &ty, &data)?;
                Reply::Done
            }
            Request::DeleteAttr { loc, name } => {
                self.file()?.delete_attr(&loc, &name)?;
                Reply::Done
            }
        })
    }
}
