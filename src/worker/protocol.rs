//! What the daemon asks a worker, and what the worker answers.
//!
//! Each message is a frame: a 4-byte header length H, an 8-byte payload
//! length P (both little-endian) and a byte saying where the payload is,
//! then H bytes of header (a [`Request`] or a [`Response`], postcard-encoded)
//! and, unless the payload is in the memory the two sides share, P bytes of
//! raw payload. Payloads (data written or read) are carried outside the
//! header so they are not encoded byte by byte, and through shared memory
//! where they fit, so a read's bytes are copied, not pushed through a socket.

use std::io::{Read, Write};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::sys::SharedMemory;

#[cfg(doc)]
use crate::model::ErrorKind;
use crate::model::{
    Access, AttrData, ChunkPlace, CreateSpec, DatasetInfo, ElementData, FileFacts, H5Error, Link,
    LinkKind, Loc, ObjectInfo, TypeDesc, Value,
};

/// Largest header accepted (a listing of a million links fits).
pub const MAX_HEADER: usize = 1 << 30;
/// Largest payload accepted (a read or write request, a batch of chunks).
pub const MAX_PAYLOAD: u64 = 1 << 32;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Request {
    /// Open a file under the number the daemon gave it; later requests
    /// name it by that number. A worker keeps at most `keep` files open
    /// (least recently used closed first) and answers a request for a file
    /// it does not have open with [`ErrorKind::NotOpen`]. With `ident`, the
    /// file at `path` must still be that one (device, inode): a file
    /// replaced since is refused with [`ErrorKind::Stale`].
    Open {
        path: PathBuf,
        writable: bool,
        access: Access,
        keep: u32,
        ident: Option<(u64, u64)>,
    },
    /// Close and open the file again, for writing or not.
    Reopen {
        writable: bool,
    },
    /// Flush libhdf5's buffers to the file, then fsync it.
    Sync,
    Info {
        loc: Loc,
    },
    InfoIn {
        group: Loc,
        name: Vec<u8>,
    },
    Links {
        loc: Loc,
    },
    /// The links of a group, each with the object it leads to for hard and
    /// external links (and soft links if `follow_soft`).
    Listing {
        loc: Loc,
        follow_soft: bool,
    },
    Dataset {
        loc: Loc,
    },
    Datatype {
        loc: Loc,
    },
    AttrNames {
        loc: Loc,
    },
    ReadAttr {
        loc: Loc,
        name: Vec<u8>,
    },
    /// Every attribute of an object, each read or the reason it could not be.
    Attrs {
        loc: Loc,
        /// Attributes not read (nor listed).
        skip: Vec<Vec<u8>>,
    },
    ReadElements {
        loc: Loc,
        first: u64,
        end: u64,
    },
    ReadValues {
        loc: Loc,
    },
    /// Chunks as stored where they are stored (else decoded), or all
    /// decoded through libhdf5 if `decoded`.
    ReadChunks {
        loc: Loc,
        grids: Vec<Vec<u64>>,
        decoded: bool,
    },
    /// The stored size of chunks, 0 for one never written (found through the
    /// chunk index, in logarithmic time each).
    ChunkSizes {
        loc: Loc,
        grids: Vec<Vec<u64>>,
    },
    /// Where chunks are stored, None for one never written.
    ChunkLocations {
        loc: Loc,
        grids: Vec<Vec<u64>>,
    },
    /// The payload holds the elements' bytes.
    WriteElements {
        loc: Loc,
        first: u64,
    },
    WriteAll {
        loc: Loc,
        data: ElementData,
    },
    SetExtent {
        loc: Loc,
        dims: Vec<u64>,
    },
    CreateDataset {
        path: Vec<u8>,
        spec: CreateSpec,
    },
    /// A new dataset like the one at `like` (type, creation properties,
    /// attributes), of extent `shape` (its own if None).
    CreateLike {
        like: Loc,
        path: Vec<u8>,
        shape: Option<Vec<u64>>,
    },
    CopyAttrs {
        from: Loc,
        to: Loc,
    },
    /// Copy `len` bytes of dataset `from` at byte `from_byte` into dataset
    /// `to` at byte `to_byte` (whole elements of both).
    CopyBytes {
        from: Loc,
        from_byte: u64,
        to: Loc,
        to_byte: u64,
        len: u64,
    },
    /// Put the object at `with` in the place of the link `path`.
    ReplaceLink {
        path: Vec<u8>,
        with: Vec<u8>,
    },
    CreateGroup {
        path: Vec<u8>,
    },
    DeleteLink {
        path: Vec<u8>,
    },
    MoveLink {
        from: Vec<u8>,
        to: Vec<u8>,
    },
    HardLink {
        target: Loc,
        path: Vec<u8>,
    },
    SoftLink {
        value: Vec<u8>,
        path: Vec<u8>,
    },
    CreateAttr {
        loc: Loc,
        name: Vec<u8>,
        ty: TypeDesc,
        shape: Vec<u64>,
        data: ElementData,
    },
    WriteAttr {
        loc: Loc,
        name: Vec<u8>,
        ty: TypeDesc,
        data: ElementData,
    },
    DeleteAttr {
        loc: Loc,
        name: Vec<u8>,
    },
}

impl Request {
    /// Whether the request changes the file (never asked twice).
    pub fn changes(&self) -> bool {
        !matches!(
            self,
            Request::Open { .. }
                | Request::Info { .. }
                | Request::InfoIn { .. }
                | Request::Links { .. }
                | Request::Listing { .. }
                | Request::Dataset { .. }
                | Request::Datatype { .. }
                | Request::AttrNames { .. }
                | Request::ReadAttr { .. }
                | Request::Attrs { .. }
                | Request::ReadElements { .. }
                | Request::ReadValues { .. }
                | Request::ReadChunks { .. }
                | Request::ChunkSizes { .. }
                | Request::ChunkLocations { .. }
        )
    }

    /// The dataset whose data the request reads, if it reads data.
    pub fn data_of(&self) -> Option<&Loc> {
        match self {
            Request::ReadElements { loc, .. }
            | Request::ReadValues { loc }
            | Request::ReadChunks { loc, .. }
            | Request::ChunkSizes { loc, .. }
            | Request::ChunkLocations { loc, .. } => Some(loc),
            _ => None,
        }
    }

    /// What the request does, for log lines ("reading attribute units").
    pub fn doing(&self) -> String {
        let s = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        match self {
            Request::Open { .. } => "opening the file".into(),
            Request::Reopen { .. } => "reopening the file".into(),
            Request::Sync => "flushing the file".into(),
            Request::Info { .. } => "getting object info".into(),
            Request::InfoIn { name, .. } => format!("getting object info of {}", s(name)),
            Request::Links { .. } => "listing the group".into(),
            Request::Listing { .. } => "listing the group with its objects".into(),
            Request::Dataset { .. } => "opening the dataset".into(),
            Request::Datatype { .. } => "describing the datatype".into(),
            Request::AttrNames { .. } => "listing attributes".into(),
            Request::ReadAttr { name, .. } => format!("reading attribute {}", s(name)),
            Request::Attrs { .. } => "reading all attributes".into(),
            Request::ReadElements { first, end, .. } => {
                format!("reading elements {first}..{end}")
            }
            Request::ReadValues { .. } => "reading all values".into(),
            Request::ReadChunks { grids, .. } => format!("reading {} chunks", grids.len()),
            Request::ChunkLocations { grids, .. } => format!("locating {} chunks", grids.len()),
            Request::ChunkSizes { grids, .. } => format!("sizing {} chunks", grids.len()),
            Request::WriteElements { first, .. } => format!("writing from element {first}"),
            Request::WriteAll { .. } => "writing all elements".into(),
            Request::SetExtent { dims, .. } => format!("resizing to {dims:?}"),
            Request::CreateDataset { .. } => "creating a dataset".into(),
            Request::CreateLike { .. } => "creating a replacement dataset".into(),
            Request::CopyAttrs { .. } => "copying attributes".into(),
            Request::CopyBytes { from_byte, len, .. } => {
                format!("copying {len} bytes from byte {from_byte}")
            }
            Request::ReplaceLink { .. } => "putting a replacement in place".into(),
            Request::CreateGroup { .. } => "creating a group".into(),
            Request::DeleteLink { .. } => "deleting a link".into(),
            Request::MoveLink { .. } => "moving a link".into(),
            Request::HardLink { .. } => "creating a hard link".into(),
            Request::SoftLink { .. } => "creating a soft link".into(),
            Request::CreateAttr { name, .. } => format!("creating attribute {}", s(name)),
            Request::WriteAttr { name, .. } => format!("writing attribute {}", s(name)),
            Request::DeleteAttr { name, .. } => format!("deleting attribute {}", s(name)),
        }
    }

    /// The HDF5 path the request is about, for log lines.
    pub fn path(&self) -> Vec<u8> {
        match self {
            Request::Open { .. } | Request::Reopen { .. } | Request::Sync => b"/".to_vec(),
            Request::Info { loc }
            | Request::InfoIn { group: loc, .. }
            | Request::Links { loc }
            | Request::Listing { loc, .. }
            | Request::Dataset { loc }
            | Request::Datatype { loc }
            | Request::AttrNames { loc }
            | Request::ReadAttr { loc, .. }
            | Request::Attrs { loc, .. }
            | Request::ReadElements { loc, .. }
            | Request::ReadValues { loc }
            | Request::ReadChunks { loc, .. }
            | Request::ChunkSizes { loc, .. }
            | Request::ChunkLocations { loc, .. }
            | Request::WriteElements { loc, .. }
            | Request::WriteAll { loc, .. }
            | Request::SetExtent { loc, .. }
            | Request::HardLink { target: loc, .. }
            | Request::CreateAttr { loc, .. }
            | Request::WriteAttr { loc, .. }
            | Request::DeleteAttr { loc, .. }
            | Request::CreateLike { like: loc, .. }
            | Request::CopyAttrs { to: loc, .. }
            | Request::CopyBytes { to: loc, .. } => loc.path.clone(),
            Request::CreateDataset { path, .. }
            | Request::CreateGroup { path }
            | Request::DeleteLink { path }
            | Request::SoftLink { path, .. }
            | Request::MoveLink { from: path, .. }
            | Request::ReplaceLink { path, .. } => path.clone(),
        }
    }
}

/// The head of one chunk of a [`Reply::Chunks`]; its bytes follow in the
/// payload, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChunkHead {
    Stored { filter_mask: u32, len: u64 },
    Decoded { len: u64 },
}

/// Whether a [`Request::Listing`] follows a link of this kind to its object:
/// hard and external links always, soft links if asked.
pub fn follows(kind: &LinkKind, follow_soft: bool) -> bool {
    match kind {
        LinkKind::Hard | LinkKind::External { .. } => true,
        LinkKind::Soft(_) => follow_soft,
        LinkKind::Other => false,
    }
}

/// One link of a [`Reply::Listing`] with what it leads to, if it was followed.
pub type ListedLink = (Link, Option<Result<ObjectInfo, H5Error>>);

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Reply {
    Done,
    Facts(FileFacts),
    Info(ObjectInfo),
    Links(Vec<Link>),
    Listing(Vec<ListedLink>),
    Dataset(Box<DatasetInfo>),
    Type(TypeDesc),
    Names(Vec<Vec<u8>>),
    Attr(AttrData),
    Attrs(Vec<(Vec<u8>, Result<AttrData, H5Error>)>),
    /// The payload holds the bytes.
    Bytes,
    Values(Vec<Value>),
    Chunks(Vec<ChunkHead>),
    Locations(Vec<Option<ChunkPlace>>),
    Sizes(Vec<u64>),
}

pub type Response = Result<Reply, H5Error>;

/// A frame's payload as the writer has it.
#[derive(Debug, Clone, Copy)]
pub enum Payload<'a> {
    /// These bytes (sent through the shared memory if they fit).
    Bytes(&'a [u8]),
    /// The first this many bytes of the shared memory, written there already.
    Shared(usize),
}

/// Write one frame.
pub fn write_frame<T: Serialize>(
    out: &mut impl Write,
    header: &T,
    payload: Payload,
    shm: Option<&mut SharedMemory>,
) -> std::io::Result<()> {
    let head = postcard::to_allocvec(header).map_err(std::io::Error::other)?;
    let (len, shared, bytes) = match payload {
        Payload::Shared(n) => (n, true, &[][..]),
        Payload::Bytes(b) => {
            let shared = !b.is_empty() && shm.is_some_and(|m| m.put(b));
            (b.len(), shared, b)
        }
    };
    let mut prefix = [0u8; 13];
    prefix[..4].copy_from_slice(&(head.len() as u32).to_le_bytes());
    prefix[4..12].copy_from_slice(&(len as u64).to_le_bytes());
    prefix[12] = shared as u8;
    out.write_all(&prefix)?;
    out.write_all(&head)?;
    if !shared {
        out.write_all(bytes)?;
    }
    out.flush()
}

/// Read one frame; `Ok(None)` at a clean end of the stream (before a frame).
/// Lengths are checked against the limits before anything is allocated.
pub fn read_frame<T: for<'de> Deserialize<'de>>(
    input: &mut impl Read,
    shm: Option<&SharedMemory>,
) -> std::io::Result<Option<(T, Vec<u8>)>> {
    let mut prefix = [0u8; 13];
    let mut got = 0;
    while got < prefix.len() {
        match input.read(&mut prefix[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let head_len = u32::from_le_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]) as usize;
    let mut p = [0u8; 8];
    p.copy_from_slice(&prefix[4..12]);
    let payload_len = u64::from_le_bytes(p);
    let invalid = |m: String| std::io::Error::new(std::io::ErrorKind::InvalidData, m);
    if head_len > MAX_HEADER || payload_len > MAX_PAYLOAD {
        return Err(invalid(format!(
            "frame of {head_len} + {payload_len} bytes is over the limit"
        )));
    }
    let mut head = vec![0u8; head_len];
    input.read_exact(&mut head)?;
    let header = postcard::from_bytes(&head).map_err(|e| invalid(e.to_string()))?;
    let payload = match prefix[12] {
        0 => {
            let mut payload = Vec::new();
            input.take(payload_len).read_to_end(&mut payload)?;
            if payload.len() as u64 != payload_len {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            payload
        }
        1 => shm
            .and_then(|m| m.take(payload_len as usize))
            .ok_or_else(|| invalid(format!("{payload_len} bytes past the shared memory")))?,
        other => return Err(invalid(format!("payload place {other}"))),
    };
    Ok(Some((header, payload)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ErrorKind, LinkKind};

    #[test]
    fn frames_round_trip_with_their_payload() {
        let mut buf = Vec::new();
        let req = Request::WriteElements {
            loc: Loc {
                path: b"/a/b".to_vec(),
                addr: Some(4096),
            },
            first: 7,
        };
        write_frame(&mut buf, &req, Payload::Bytes(b"payload"), None).unwrap();
        let reply: Response = Ok(Reply::Listing(vec![(
            Link {
                name: b"x".to_vec(),
                kind: LinkKind::Soft(b"/y".to_vec()),
            },
            Some(Err(H5Error::new(ErrorKind::NotFound, "gone"))),
        )]));
        write_frame(&mut buf, &reply, Payload::Bytes(&[]), None).unwrap();
        let mut r = &buf[..];
        let (back, payload): (Request, Vec<u8>) = read_frame(&mut r, None).unwrap().unwrap();
        assert!(matches!(back, Request::WriteElements { first: 7, .. }));
        assert_eq!(payload, b"payload");
        let (back, payload): (Response, Vec<u8>) = read_frame(&mut r, None).unwrap().unwrap();
        assert!(payload.is_empty());
        match back {
            Ok(Reply::Listing(l)) => {
                assert_eq!(l[0].0.name, b"x");
                assert!(matches!(&l[0].1, Some(Err(e)) if e.kind == ErrorKind::NotFound));
            }
            other => panic!("{other:?}"),
        }
        assert!(read_frame::<Request>(&mut r, None).unwrap().is_none());
    }

    #[test]
    fn values_with_region_selections_and_wide_ints_travel() {
        let v = Value::List(vec![
            Value::Int(i128::from(u64::MAX) + 1),
            Value::Region(Some((
                "/d".into(),
                serde_json::json!({"blocks": [[[0, 1], [2, 3]]]}),
            ))),
            Value::Float(f64::NAN),
        ]);
        let mut buf = Vec::new();
        write_frame(
            &mut buf,
            &Reply::Values(vec![v.clone()]),
            Payload::Bytes(&[]),
            None,
        )
        .unwrap();
        let (back, _): (Reply, Vec<u8>) = read_frame(&mut &buf[..], None).unwrap().unwrap();
        let Reply::Values(back) = back else {
            panic!("not values")
        };
        // NaN != NaN: compare the text forms.
        assert_eq!(format!("{back:?}"), format!("{:?}", vec![v]));
    }

    #[test]
    fn oversized_and_cut_frames_are_errors() {
        let mut prefix = [0u8; 13];
        prefix[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        let e = read_frame::<Request>(&mut &prefix[..], None).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidData);
        let mut buf = Vec::new();
        write_frame(&mut buf, &Request::Sync, Payload::Bytes(b"abc"), None).unwrap();
        buf.pop();
        let e = read_frame::<Request>(&mut &buf[..], None).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof);
        let garbage = [1u8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff];
        assert!(read_frame::<Request>(&mut &garbage[..], None).is_err());
        // A payload said to be in shared memory that is not there.
        let mut no_shm = Vec::new();
        let mut shm = SharedMemory::new(16).unwrap();
        write_frame(
            &mut no_shm,
            &Request::Sync,
            Payload::Bytes(b"abc"),
            Some(&mut shm),
        )
        .unwrap();
        assert!(read_frame::<Request>(&mut &no_shm[..], None).is_err());
    }

    #[test]
    fn payloads_go_through_shared_memory_where_they_fit() {
        let mut shm = SharedMemory::new(8).unwrap();
        let mut buf = Vec::new();
        write_frame(
            &mut buf,
            &Request::Sync,
            Payload::Bytes(b"12345678"),
            Some(&mut shm),
        )
        .unwrap();
        assert_eq!(
            buf.len(),
            13 + postcard::to_allocvec(&Request::Sync).unwrap().len()
        );
        let (_, p): (Request, Vec<u8>) = read_frame(&mut &buf[..], Some(&shm)).unwrap().unwrap();
        assert_eq!(p, b"12345678");
        // Too large for it: through the socket.
        let mut buf = Vec::new();
        write_frame(
            &mut buf,
            &Request::Sync,
            Payload::Bytes(b"123456789"),
            Some(&mut shm),
        )
        .unwrap();
        let (_, p): (Request, Vec<u8>) = read_frame(&mut &buf[..], Some(&shm)).unwrap().unwrap();
        assert_eq!(p, b"123456789");
    }
}
