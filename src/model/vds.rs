//! Virtual datasets: where each part of a virtual dataset's data comes from
//! (h5py's `VirtualSource` mapped into a `VirtualLayout`), and selections of
//! a dataspace as a sidecar writes them.

use serde::{Deserialize, Serialize};

/// One mapping of a virtual dataset: the elements `select` of the virtual
/// dataset are the elements `source_select` of `dataset` in `file`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VirtualSource {
    /// As libhdf5 stores it: `.` is the virtual dataset's own file, a
    /// relative name is found from that file's directory.
    pub file: String,
    pub dataset: String,
    /// The source dataset's extent, for creating a mapping (libhdf5 does not
    /// record it, so it is never shown). `None`: read from the source
    /// dataset, else [`fallback_source_shape`](Self::fallback_source_shape).
    pub source_shape: Option<Vec<u64>>,
    pub source_select: Select,
    pub select: Select,
}

impl VirtualSource {
    /// A source extent that gives the same mapping when the source dataset
    /// cannot be read: libhdf5 records no source extent, only the selection
    /// (a hyperslab's bounding box, or "all"). `vds_shape` is the virtual
    /// dataset's. `None` when neither tells it (numpy indices, unlimited counts).
    pub fn fallback_source_shape(&self, vds_shape: &[u64]) -> Option<Vec<u64>> {
        match &self.source_select {
            Select::Slab(s) => (0..s.start.len())
                .map(|i| {
                    let c = s.count.get(i).copied()??;
                    c.checked_sub(1)?
                        .checked_mul(*s.stride.get(i)?)?
                        .checked_add(*s.block.get(i)?)?
                        .checked_add(s.start[i])
                })
                .collect(),
            Select::All => {
                let n = match self.select.slab(vds_shape).ok()? {
                    None => vds_shape.iter().try_fold(1u64, |n, d| n.checked_mul(*d))?,
                    Some(s) => s
                        .count
                        .iter()
                        .zip(&s.block)
                        .try_fold(1u64, |n, (c, b)| n.checked_mul((*c)?)?.checked_mul(*b))?,
                };
                Some(vec![n])
            }
            _ => None,
        }
    }
}

/// A selection of a dataspace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Select {
    All,
    /// numpy-style indices, one per axis (fewer than the rank: the rest are whole).
    Slices(Vec<Axis>),
    Slab(Slab),
    /// A selection that is neither of the above (points, unions); shown by
    /// name, never accepted.
    Other(String),
}

/// One axis of a numpy-style index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Axis {
    /// One position (negative counts from the end); the axis is kept.
    Index(i64),
    /// `start:stop:step`, Python's rules; `step` positive.
    Range {
        start: Option<i64>,
        stop: Option<i64>,
        step: Option<i64>,
    },
}

/// One regular hyperslab (HDF5's start, stride, count, block); a `None`
/// count is unlimited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slab {
    pub start: Vec<u64>,
    pub stride: Vec<u64>,
    pub count: Vec<Option<u64>>,
    pub block: Vec<u64>,
}

impl Select {
    /// The hyperslab this selection is in a dataspace of `shape` (`None`
    /// for the whole space). Checks rank and bounds.
    pub fn slab(&self, shape: &[u64]) -> Result<Option<Slab>, String> {
        match self {
            Select::All => Ok(None),
            Select::Other(what) => Err(format!("a {what} selection cannot be made")),
            Select::Slab(s) => {
                let n = shape.len();
                if [s.start.len(), s.stride.len(), s.count.len(), s.block.len()]
                    .iter()
                    .any(|l| *l != n)
                {
                    return Err(format!(
                        "start, stride, count and block need {n} entries each (the rank)"
                    ));
                }
                if s.stride.iter().chain(&s.block).any(|v| *v == 0) || s.count.contains(&Some(0)) {
                    return Err("stride, count and block must be positive".into());
                }
                for (i, dim) in shape.iter().enumerate() {
                    let Some(count) = s.count[i] else { continue };
                    let end = (count - 1)
                        .checked_mul(s.stride[i])
                        .and_then(|v| v.checked_add(s.block[i]))
                        .and_then(|v| v.checked_add(s.start[i]));
                    if end.is_none_or(|e| e > *dim) {
                        return Err(format!("axis {i} selects past its length {dim}"));
                    }
                }
                Ok(Some(s.clone()))
            }
            Select::Slices(axes) => {
                if axes.len() > shape.len() {
                    return Err(format!(
                        "{} indices for a space of rank {}",
                        axes.len(),
                        shape.len()
                    ));
                }
                let mut slab = Slab {
                    start: Vec::new(),
                    stride: Vec::new(),
                    count: Vec::new(),
                    block: Vec::new(),
                };
                for (i, dim) in shape.iter().enumerate() {
                    let axis = axes.get(i).copied().unwrap_or(Axis::Range {
                        start: None,
                        stop: None,
                        step: None,
                    });
                    let (start, step, count) = resolve_axis(axis, *dim)
                        .map_err(|e| format!("index {} (axis of length {dim}): {e}", i))?;
                    slab.start.push(start);
                    slab.stride.push(step);
                    slab.count.push(Some(count));
                    slab.block.push(1);
                }
                Ok(Some(slab))
            }
        }
    }
}

/// `(start, step, count)` of one numpy index on an axis of length `len`.
fn resolve_axis(axis: Axis, len: u64) -> Result<(u64, u64, u64), String> {
    let len = i64::try_from(len).map_err(|_| "axis too long".to_string())?;
    let clamp = |v: i64| if v < 0 { (v + len).max(0) } else { v.min(len) };
    match axis {
        Axis::Index(i) => {
            let at = if i < 0 { i + len } else { i };
            if at < 0 || at >= len {
                return Err(format!("{i} is out of range"));
            }
            Ok((at as u64, 1, 1))
        }
        Axis::Range { start, stop, step } => {
            let step = step.unwrap_or(1);
            if step <= 0 {
                return Err("the step must be positive".into());
            }
            let start = start.map_or(0, clamp);
            let stop = stop.map_or(len, clamp);
            if stop <= start {
                return Err("the range selects nothing".into());
            }
            let count = (stop - start - 1) / step + 1;
            Ok((start as u64, step as u64, count as u64))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(start: Option<i64>, stop: Option<i64>, step: Option<i64>) -> Axis {
        Axis::Range { start, stop, step }
    }

    #[test]
    fn numpy_indices_become_hyperslabs() {
        let s = Select::Slices(vec![Axis::Index(-1), range(Some(2), None, Some(3))]);
        let slab = s.slab(&[4, 10]).unwrap().unwrap();
        assert_eq!(slab.start, vec![3, 2]);
        assert_eq!(slab.stride, vec![1, 3]);
        assert_eq!(slab.count, vec![Some(1), Some(3)]);
        assert_eq!(slab.block, vec![1, 1]);
        // Missing axes are whole; stops past the end are clamped as in Python.
        let s = Select::Slices(vec![range(None, Some(100), None)]);
        let slab = s.slab(&[5, 6]).unwrap().unwrap();
        assert_eq!(slab.count, vec![Some(5), Some(6)]);
        assert_eq!(Select::All.slab(&[3]).unwrap(), None);
    }

    #[test]
    fn source_extents_without_the_source() {
        let slab = Slab {
            start: vec![2],
            stride: vec![3],
            count: vec![Some(2)],
            block: vec![2],
        };
        let mut src = VirtualSource {
            file: "a.h5".into(),
            dataset: "/x".into(),
            source_shape: None,
            source_select: Select::Slab(slab),
            select: Select::All,
        };
        assert_eq!(src.fallback_source_shape(&[4]), Some(vec![7]));
        src.source_select = Select::All;
        src.select = Select::Slices(vec![Axis::Index(1)]);
        assert_eq!(src.fallback_source_shape(&[3, 10]), Some(vec![10]));
        src.select = Select::All;
        assert_eq!(src.fallback_source_shape(&[3, 10]), Some(vec![30]));
        src.source_select = Select::Slices(vec![Axis::Index(1)]);
        assert_eq!(src.fallback_source_shape(&[3, 10]), None);
    }

    #[test]
    fn bad_selections_are_refused() {
        assert!(Select::Slices(vec![Axis::Index(4)]).slab(&[4]).is_err());
        assert!(Select::Slices(vec![Axis::Index(0); 2]).slab(&[4]).is_err());
        assert!(Select::Slices(vec![range(Some(3), Some(3), None)])
            .slab(&[4])
            .is_err());
        assert!(Select::Slices(vec![range(None, None, Some(-1))])
            .slab(&[4])
            .is_err());
        let slab = Slab {
            start: vec![0],
            stride: vec![1],
            count: vec![Some(0)],
            block: vec![1],
        };
        assert!(Select::Slab(slab.clone()).slab(&[4]).is_err());
        assert!(Select::Slab(slab.clone()).slab(&[4, 4]).is_err());
        let past = Slab {
            start: vec![1],
            stride: vec![2],
            count: vec![Some(2)],
            block: vec![2],
        };
        assert!(Select::Slab(past.clone()).slab(&[4]).is_err());
        assert!(Select::Slab(past).slab(&[5]).is_ok());
        let unlimited = Slab {
            count: vec![None],
            ..slab
        };
        assert!(Select::Slab(unlimited).slab(&[1]).is_ok());
        assert!(Select::Other("points".into()).slab(&[4]).is_err());
    }
}
