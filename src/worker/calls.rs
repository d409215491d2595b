//! Typed calls: one method per request, each unpacking its reply.

use super::client::Workers;
use super::protocol::{follows, ChunkHead, ListedLink, Reply, Request};
use crate::model::{
    AttrData, ChunkData, ChunkPlace, CreateSpec, DatasetInfo, ElementData, ErrorKind, H5Error,
    Link, Loc, ObjectInfo, Result, TypeDesc, Value,
};

fn unexpected(what: &str, reply: Reply) -> H5Error {
    H5Error::new(
        ErrorKind::Other,
        format!("a libhdf5 worker answered {what} with {reply:?}"),
    )
}

/// Call, and expect `Done`.
macro_rules! done {
    ($self:ident, $req:expr) => {
        match $self.call(&$req, &[])?.0 {
            Reply::Done => Ok(()),
            other => Err(unexpected("a change", other)),
        }
    };
}

impl Workers {
    pub fn reopen(&self, writable: bool) -> Result<()> {
        let r = done!(self, Request::Reopen { writable });
        // On failure the worker keeps the file as it was.
        if r.is_ok() {
            self.set_writable(writable);
        }
        r
    }

    pub fn sync(&self) -> Result<()> {
        done!(self, Request::Sync)
    }

    pub fn info_at(&self, loc: &Loc) -> Result<ObjectInfo> {
        match self.call(&Request::Info { loc: loc.clone() }, &[])?.0 {
            Reply::Info(i) => Ok(i),
            other => Err(unexpected("info", other)),
        }
    }

    pub fn info_in(&self, group: &Loc, name: &[u8]) -> Result<ObjectInfo> {
        let req = Request::InfoIn {
            group: group.clone(),
            name: name.to_vec(),
        };
        match self.call(&req, &[])?.0 {
            Reply::Info(i) => Ok(i),
            other => Err(unexpected("info", other)),
        }
    }

    pub fn links(&self, loc: &Loc) -> Result<Vec<Link>> {
        match self.call(&Request::Links { loc: loc.clone() }, &[])?.0 {
            Reply::Links(l) => Ok(l),
            other => Err(unexpected("links", other)),
        }
    }

    /// The links of a group with the objects they lead to. If listing them
    /// together fails the worker (one damaged object), each link is asked
    /// for on its own, so only the damaged ones fail.
    pub fn listing(&self, loc: &Loc, follow_soft: bool) -> Result<Vec<ListedLink>> {
        let req = Request::Listing {
            loc: loc.clone(),
            follow_soft,
        };
        match self.call(&req, &[]) {
            Ok((Reply::Listing(l), _)) => return Ok(l),
            Ok((other, _)) => return Err(unexpected("listing", other)),
            Err(e) if !matches!(e.kind, ErrorKind::Crashed | ErrorKind::TimedOut) => return Err(e),
            Err(_) => {}
        }
        let links = self.links(loc)?;
        Ok(links
            .into_iter()
            .map(|link| {
                let info = follows(&link.kind, follow_soft).then(|| self.info_in(loc, &link.name));
                (link, info)
            })
            .collect())
    }

    pub fn dataset(&self, loc: &Loc) -> Result<DatasetInfo> {
        match self.call(&Request::Dataset { loc: loc.clone() }, &[])?.0 {
            Reply::Dataset(d) => Ok(*d),
            other => Err(unexpected("dataset", other)),
        }
    }

    pub fn datatype(&self, loc: &Loc) -> Result<TypeDesc> {
        match self.call(&Request::Datatype { loc: loc.clone() }, &[])?.0 {
            Reply::Type(t) => Ok(t),
            other => Err(unexpected("datatype", other)),
        }
    }

    pub fn attr_names(&self, loc: &Loc) -> Result<Vec<Vec<u8>>> {
        match self.call(&Request::AttrNames { loc: loc.clone() }, &[])?.0 {
            Reply::Names(n) => Ok(n),
            other => Err(unexpected("attribute names", other)),
        }
    }

    pub fn read_attr(&self, loc: &Loc, name: &[u8]) -> Result<AttrData> {
        let req = Request::ReadAttr {
            loc: loc.clone(),
            name: name.to_vec(),
        };
        match self.call(&req, &[])?.0 {
            Reply::Attr(a) => Ok(a),
            other => Err(unexpected("attribute", other)),
        }
    }

    /// Every attribute of the object at `loc`, each read or the reason it
    /// could not be. If reading them together fails the worker, each is
    /// read on its own, so only the damaged ones fail.
    pub fn attrs(&self, loc: &Loc) -> Result<Vec<(Vec<u8>, Result<AttrData>)>> {
        self.attrs_except(loc, &[])
    }

    /// Every attribute but those named in `skip`, each read or the reason
    /// it could not be.
    pub fn attrs_except(
        &self,
        loc: &Loc,
        skip: &[Vec<u8>],
    ) -> Result<Vec<(Vec<u8>, Result<AttrData>)>> {
        let req = Request::Attrs {
            loc: loc.clone(),
            skip: skip.to_vec(),
        };
        match self.call(&req, &[]) {
            Ok((Reply::Attrs(a), _)) => return Ok(a),
            Ok((other, _)) => return Err(unexpected("attributes", other)),
            Err(e) if !matches!(e.kind, ErrorKind::Crashed | ErrorKind::TimedOut) => return Err(e),
            Err(_) => {}
        }
        let names = self.attr_names(loc)?;
        Ok(names
            .into_iter()
            .filter(|n| !skip.contains(n))
            .map(|n| {
                let v = self.read_attr(loc, &n);
                (n, v)
            })
            .collect())
    }

    pub fn read_elements(&self, loc: &Loc, first: u64, end: u64) -> Result<Vec<u8>> {
        let req = Request::ReadElements {
            loc: loc.clone(),
            first,
            end,
        };
        match self.call(&req, &[])? {
            (Reply::Bytes, data) => Ok(data),
            (other, _) => Err(unexpected("a read", other)),
        }
    }

    pub fn read_values(&self, loc: &Loc) -> Result<Vec<Value>> {
        match self.call(&Request::ReadValues { loc: loc.clone() }, &[])?.0 {
            Reply::Values(v) => Ok(v),
            other => Err(unexpected("a read of values", other)),
        }
    }

    pub fn read_chunks(&self, loc: &Loc, grids: &[Vec<u64>]) -> Result<Vec<ChunkData>> {
        self.chunks(loc, grids, false)
    }

    /// Chunks decoded through libhdf5 (h5py's bytes, in the chunk's full
    /// shape), also those stored.
    pub fn read_chunks_decoded(&self, loc: &Loc, grids: &[Vec<u64>]) -> Result<Vec<ChunkData>> {
        self.chunks(loc, grids, true)
    }

    /// The stored size of each chunk, 0 for one never written.
    pub fn chunk_sizes(&self, loc: &Loc, grids: &[Vec<u64>]) -> Result<Vec<u64>> {
        let req = Request::ChunkSizes {
            loc: loc.clone(),
            grids: grids.to_vec(),
        };
        match self.call(&req, &[])?.0 {
            Reply::Sizes(s) if s.len() == grids.len() => Ok(s),
            other => Err(unexpected("chunk sizes", other)),
        }
    }

    fn chunks(&self, loc: &Loc, grids: &[Vec<u64>], decoded: bool) -> Result<Vec<ChunkData>> {
        let req = Request::ReadChunks {
            loc: loc.clone(),
            grids: grids.to_vec(),
            decoded,
        };
        let (heads, mut data) = match self.call(&req, &[])? {
            (Reply::Chunks(h), data) => (h, data),
            (other, _) => return Err(unexpected("a read of chunks", other)),
        };
        let total: u64 = heads
            .iter()
            .map(|h| match h {
                ChunkHead::Stored { len, .. } | ChunkHead::Decoded { len } => *len,
            })
            .sum();
        if total != data.len() as u64 || heads.len() != grids.len() {
            return Err(H5Error::new(
                ErrorKind::Other,
                "a libhdf5 worker's chunks do not add up",
            ));
        }
        // Split the payload from its end, so each piece is moved once.
        let mut out = Vec::with_capacity(heads.len());
        for h in heads.iter().rev() {
            let (len, stored) = match h {
                ChunkHead::Stored { filter_mask, len } => (*len, Some(*filter_mask)),
                ChunkHead::Decoded { len } => (*len, None),
            };
            let bytes = data.split_off(data.len() - len as usize);
            out.push(match stored {
                Some(filter_mask) => ChunkData::Stored { filter_mask, bytes },
                None => ChunkData::Decoded(bytes),
            });
        }
        out.reverse();
        Ok(out)
    }

    pub fn chunk_locations(
        &self,
        loc: &Loc,
        grids: &[Vec<u64>],
    ) -> Result<Vec<Option<ChunkPlace>>> {
        let req = Request::ChunkLocations {
            loc: loc.clone(),
            grids: grids.to_vec(),
        };
        match self.call(&req, &[])?.0 {
            Reply::Locations(l) => Ok(l),
            other => Err(unexpected("chunk locations", other)),
        }
    }

    pub fn write_elements(&self, loc: &Loc, first: u64, bytes: &[u8]) -> Result<()> {
        let req = Request::WriteElements {
            loc: loc.clone(),
            first,
        };
        match self.call(&req, bytes)?.0 {
            Reply::Done => Ok(()),
            other => Err(unexpected("a write", other)),
        }
    }

    pub fn write_all(&self, loc: &Loc, data: ElementData) -> Result<()> {
        done!(
            self,
            Request::WriteAll {
                loc: loc.clone(),
                data
            }
        )
    }

    pub fn set_extent(&self, loc: &Loc, dims: &[u64]) -> Result<()> {
        done!(
            self,
            Request::SetExtent {
                loc: loc.clone(),
                dims: dims.to_vec()
            }
        )
    }

    pub fn create_dataset(&self, path: &[u8], spec: &CreateSpec) -> Result<()> {
        done!(
            self,
            Request::CreateDataset {
                path: path.to_vec(),
                spec: spec.clone()
            }
        )
    }

    pub fn create_like(&self, like: &Loc, path: &[u8], shape: Option<&[u64]>) -> Result<()> {
        done!(
            self,
            Request::CreateLike {
                like: like.clone(),
                path: path.to_vec(),
                shape: shape.map(|s| s.to_vec())
            }
        )
    }

    pub fn copy_attrs(&self, from: &Loc, to: &Loc) -> Result<()> {
        done!(
            self,
            Request::CopyAttrs {
                from: from.clone(),
                to: to.clone()
            }
        )
    }

    pub fn copy_bytes(
        &self,
        from: &Loc,
        from_byte: u64,
        to: &Loc,
        to_byte: u64,
        len: u64,
    ) -> Result<()> {
        done!(
            self,
            Request::CopyBytes {
                from: from.clone(),
                from_byte,
                to: to.clone(),
                to_byte,
                len
            }
        )
    }

    pub fn replace_link(&self, path: &[u8], with: &[u8]) -> Result<()> {
        done!(
            self,
            Request::ReplaceLink {
                path: path.to_vec(),
                with: with.to_vec()
            }
        )
    }

    pub fn create_group(&self, path: &[u8]) -> Result<()> {
        done!(
            self,
            Request::CreateGroup {
                path: path.to_vec()
            }
        )
    }

    pub fn delete_link(&self, path: &[u8]) -> Result<()> {
        done!(
            self,
            Request::DeleteLink {
                path: path.to_vec()
            }
        )
    }

    pub fn move_link(&self, from: &[u8], to: &[u8]) -> Result<()> {
        done!(
            self,
            Request::MoveLink {
                from: from.to_vec(),
                to: to.to_vec()
            }
        )
    }

    pub fn hard_link(&self, target: &Loc, path: &[u8]) -> Result<()> {
        done!(
            self,
            Request::HardLink {
                target: target.clone(),
                path: path.to_vec()
            }
        )
    }

    pub fn soft_link(&self, value: &[u8], path: &[u8]) -> Result<()> {
        done!(
            self,
            Request::SoftLink {
                value: value.to_vec(),
                path: path.to_vec()
            }
        )
    }

    pub fn create_attr(
        &self,
        loc: &Loc,
        name: &[u8],
        ty: &TypeDesc,
        shape: &[u64],
        data: ElementData,
    ) -> Result<()> {
        done!(
            self,
            Request::CreateAttr {
                loc: loc.clone(),
                name: name.to_vec(),
                ty: ty.clone(),
                shape: shape.to_vec(),
                data
            }
        )
    }

    pub fn write_attr(
        &self,
        loc: &Loc,
        name: &[u8],
        ty: &TypeDesc,
        data: ElementData,
    ) -> Result<()> {
        done!(
            self,
            Request::WriteAttr {
                loc: loc.clone(),
                name: name.to_vec(),
                ty: ty.clone(),
                data
            }
        )
    }

    pub fn delete_attr(&self, loc: &Loc, name: &[u8]) -> Result<()> {
        done!(
            self,
            Request::DeleteAttr {
                loc: loc.clone(),
                name: name.to_vec()
            }
        )
    }
}
