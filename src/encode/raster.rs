//! What the header views describe: a dataset of numbers as a raw raster.
//!
//! ENVI (`.hdr`), NRRD (`.nhdr`) and MetaImage (`.mhd`) headers each
//! describe the raw file `NAME` beside them: its element type and byte
//! order, its dimensions, and where known the spacing and origin of its
//! axes. [`Raster`] is that description, built from a dataset's type and
//! shape; [`header`] writes it in the format of a view. Only numeric types
//! map (integers, bool as bytes, enums and bitfields as their integers,
//! 32- and 64-bit floats and complex numbers); each format then refuses
//! what it cannot say (ENVI has no 8-bit signed type, for one).
//!
//! Geometry comes from dimension scales that are 1-D, numeric and evenly
//! spaced ([`even_axis`]); string attributes become the free-form text a
//! format has ([`string_notes`]).

use crate::model::{AttrData, ByteOrder, DatasetMeta, TypeDesc, Value};
use crate::tree::View;

use super::sidecar::AttrResult;
use super::{envi, mhd, npy, nrrd};

/// A numeric element type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Num {
    U8,
    I8,
    U16,
    I16,
    U32,
    I32,
    U64,
    I64,
    F32,
    F64,
    /// Two float32: real, imaginary.
    C64,
    /// Two float64.
    C128,
}

impl Num {
    pub fn size(self) -> usize {
        match self {
            Num::U8 | Num::I8 => 1,
            Num::U16 | Num::I16 => 2,
            Num::U32 | Num::I32 | Num::F32 => 4,
            Num::U64 | Num::I64 | Num::F64 | Num::C64 => 8,
            Num::C128 => 16,
        }
    }
}

/// Origin and step of an axis, in the units of its dimension scale.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Axis {
    pub origin: f64,
    pub spacing: f64,
}

/// A dataset as a raw raster.
#[derive(Debug, Clone, PartialEq)]
pub struct Raster {
    /// The raw file's name, beside the header.
    pub data_name: Vec<u8>,
    /// The dataset's HDF5 path, for the header's comment.
    pub path: String,
    /// Dimensions, slowest first (C order), array element dimensions last.
    pub shape: Vec<u64>,
    pub num: Num,
    pub big_endian: bool,
    /// Geometry of each axis (same order as `shape`), where known.
    pub axes: Vec<Option<Axis>>,
    /// String attributes (name, text).
    pub notes: Vec<(String, String)>,
}

/// The numeric type and byte order (true: big-endian) of `ty`.
pub fn numeric(ty: &TypeDesc) -> Option<(Num, bool)> {
    let big = |o: &ByteOrder| *o == ByteOrder::Big;
    let int = |size: usize, signed: bool| match (size, signed) {
        (1, false) => Some(Num::U8),
        (1, true) => Some(Num::I8),
        (2, false) => Some(Num::U16),
        (2, true) => Some(Num::I16),
        (4, false) => Some(Num::U32),
        (4, true) => Some(Num::I32),
        (8, false) => Some(Num::U64),
        (8, true) => Some(Num::I64),
        _ => None,
    };
    match ty {
        TypeDesc::Int {
            size,
            signed,
            order,
        } => Some((int(*size, *signed)?, big(order))),
        TypeDesc::Bitfield { size, order } => Some((int(*size, false)?, big(order))),
        TypeDesc::Bool => Some((Num::U8, false)),
        TypeDesc::Enum { base, .. } => numeric(base),
        TypeDesc::Float { size: 4, order } => Some((Num::F32, big(order))),
        TypeDesc::Float { size: 8, order } => Some((Num::F64, big(order))),
        TypeDesc::Complex { size: 8, order } => Some((Num::C64, big(order))),
        TypeDesc::Complex { size: 16, order } => Some((Num::C128, big(order))),
        _ => None,
    }
}

impl Raster {
    /// The raster of dataset `meta`, shown as the raw file `data_name`;
    /// None for types that are not numbers and for empty dataspaces.
    pub fn of(meta: &DatasetMeta, data_name: &[u8], path: &str) -> Option<Raster> {
        let mut shape = meta.shape.clone()?;
        let elem = match &meta.ty {
            TypeDesc::Array { base, dims } => {
                let (base, dims) = super::dtype::flatten_array(base, dims);
                shape.extend(dims.iter().map(|d| *d as u64));
                base
            }
            other => other,
        };
        let (num, big_endian) = numeric(elem)?;
        Some(Raster {
            data_name: data_name.to_vec(),
            path: path.to_string(),
            axes: vec![None; shape.len()],
            shape,
            num,
            big_endian,
            notes: Vec::new(),
        })
    }

    /// Bytes of the raw file.
    pub fn byte_len(&self) -> u64 {
        self.shape
            .iter()
            .try_fold(self.num.size() as u64, |n, d| n.checked_mul(*d))
            .unwrap_or(u64::MAX)
    }
}

/// The contents of header view `view` of `raster`; None when the format
/// cannot describe it. (`.npy` and the sidecar are not raster headers.)
pub fn header(view: View, raster: &Raster) -> Option<Vec<u8>> {
    match view {
        View::Envi => envi::header(raster),
        View::Nrrd => nrrd::header(raster),
        View::Mhd => mhd::header(raster),
        _ => None,
    }
}

/// Whether view `view` is shown for dataset `meta` named `name`.
pub fn applies(view: View, meta: &DatasetMeta, name: &[u8]) -> bool {
    match view {
        View::Sidecar => true,
        View::Npy => npy::view_header(meta).is_some(),
        View::ZGroup | View::ZAttrs | View::ZArray | View::ZMetadata => false,
        _ => Raster::of(meta, name, "").is_some_and(|r| header(view, &r).is_some()),
    }
}

/// The geometry of a dimension scale with these values, if they are evenly
/// spaced (each within a thousandth of a step of where it should be) and
/// there are at least two.
pub fn even_axis(values: &[f64]) -> Option<Axis> {
    let (first, last) = (*values.first()?, *values.last()?);
    if values.len() < 2 || !first.is_finite() || !last.is_finite() {
        return None;
    }
    let spacing = (last - first) / (values.len() - 1) as f64;
    if spacing == 0.0 || !spacing.is_finite() {
        return None;
    }
    let even = values
        .iter()
        .enumerate()
        .all(|(i, v)| (v - (first + i as f64 * spacing)).abs() <= spacing.abs() * 1e-3);
    even.then_some(Axis {
        origin: first,
        spacing,
    })
}

/// Attributes of the dimension-scale and netCDF machinery (what h5netcdf
/// hides), not an object's own notes.
pub const MACHINERY: &[&str] = &[
    "CLASS",
    "NAME",
    "REFERENCE_LIST",
    "DIMENSION_LIST",
    "DIMENSION_LABELS",
    "_Netcdf4Dimid",
    "_Netcdf4Coordinates",
    "_nc3_strict",
    "_NCProperties",
];

/// Most notes a header carries, and the longest text of one.
const MAX_NOTES: usize = 64;
const MAX_NOTE: usize = 1024;

/// The scalar string attributes (name, text), in order, that fit in a header.
pub fn string_notes(attrs: &[AttrResult]) -> Vec<(String, String)> {
    attrs
        .iter()
        .filter_map(|(name, a)| {
            let name = std::str::from_utf8(name).ok()?;
            if MACHINERY.contains(&name) || name.is_empty() {
                return None;
            }
            let AttrData { shape, values, ty } = a.as_ref().ok()?;
            if !matches!(
                ty,
                TypeDesc::FixedString { .. } | TypeDesc::VarString { .. }
            ) || shape.as_ref()?.iter().product::<u64>() != 1
            {
                return None;
            }
            let Some(Value::Str(s)) = values.first() else {
                return None;
            };
            let text = std::str::from_utf8(s).ok()?;
            (text.len() <= MAX_NOTE).then(|| (name.to_string(), text.to_string()))
        })
        .take(MAX_NOTES)
        .collect()
}

/// A raster of `num` and `shape` shown as `name` (at `/g/NAME`), without
/// geometry or notes: for the formats' tests.
#[cfg(test)]
pub fn sample(num: Num, shape: &[u64], name: &str) -> Raster {
    Raster {
        data_name: name.as_bytes().to_vec(),
        path: format!("/g/{name}"),
        shape: shape.to_vec(),
        num,
        big_endian: false,
        axes: vec![None; shape.len()],
        notes: vec![],
    }
}

/// A number as the header formats read it (`strtod`): shortest round trip.
pub fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == v.trunc() && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v:?}")
    }
}

/// Whether `name` can be written as a data file name on one header line:
/// no line breaks or `%` (a printf pattern to NRRD and MetaImage), no
/// trailing blanks (readers strip them), valid UTF-8.
pub fn plain_file_name(name: &[u8]) -> bool {
    std::str::from_utf8(name).is_ok()
        && !name.iter().any(|b| matches!(b, b'\n' | b'\r' | b'%' | 0))
        && !name.last().is_some_and(|b| b.is_ascii_whitespace())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Layout, StrPad};

    fn meta(ty: TypeDesc, shape: &[u64]) -> DatasetMeta {
        DatasetMeta {
            ty,
            shape: Some(shape.to_vec()),
            maxshape: None,
            layout: Layout::Contiguous,
            chunks: None,
            filters: vec![],
            fill: Value::Null,
            sources: Vec::new(),
        }
    }

    #[test]
    fn numbers_map_other_types_do_not() {
        let int = |size, signed, order| TypeDesc::Int {
            size,
            signed,
            order,
        };
        assert_eq!(
            numeric(&int(2, true, ByteOrder::Big)),
            Some((Num::I16, true))
        );
        assert_eq!(numeric(&TypeDesc::Bool), Some((Num::U8, false)));
        assert_eq!(
            numeric(&TypeDesc::Float {
                size: 2,
                order: ByteOrder::Little
            }),
            None
        );
        assert_eq!(
            numeric(&TypeDesc::FixedString {
                size: 3,
                utf8: false,
                pad: StrPad::NullPad
            }),
            None
        );
        // An array element type adds its dimensions.
        let m = meta(
            TypeDesc::Array {
                base: Box::new(TypeDesc::Complex {
                    size: 16,
                    order: ByteOrder::Little,
                }),
                dims: vec![3],
            },
            &[2],
        );
        let r = Raster::of(&m, b"x", "/x").unwrap();
        assert_eq!(
            (r.shape.clone(), r.num, r.byte_len()),
            (vec![2, 3], Num::C128, 96)
        );
        let mut empty = meta(TypeDesc::Bool, &[]);
        empty.shape = None;
        assert!(Raster::of(&empty, b"x", "/x").is_none());
    }

    #[test]
    fn only_even_scales_give_geometry() {
        assert_eq!(
            even_axis(&[10.0, 10.5, 11.0]),
            Some(Axis {
                origin: 10.0,
                spacing: 0.5
            })
        );
        assert_eq!(even_axis(&[3.0, 2.0, 1.0]).unwrap().spacing, -1.0);
        assert!(even_axis(&[0.0, 1.0, 3.0]).is_none());
        assert!(even_axis(&[1.0]).is_none());
        assert!(even_axis(&[1.0, 1.0]).is_none());
        assert!(even_axis(&[0.0, f64::NAN, 2.0]).is_none());
        // float32 scales are even within rounding.
        let f32s: Vec<f64> = (0..1000).map(|i| (i as f32 * 0.1f32) as f64).collect();
        assert!(even_axis(&f32s).is_some());
    }

    #[test]
    fn notes_are_scalar_strings_but_not_machinery() {
        let s = |t: &str| AttrData {
            ty: TypeDesc::VarString { utf8: true },
            shape: Some(vec![]),
            values: vec![Value::Str(t.as_bytes().to_vec())],
        };
        let attrs: Vec<AttrResult> = vec![
            (b"units".to_vec(), Ok(s("K"))),
            (b"CLASS".to_vec(), Ok(s("DIMENSION_SCALE"))),
            (b"bad".to_vec(), Err("unreadable".into())),
            (
                b"n".to_vec(),
                Ok(AttrData {
                    ty: TypeDesc::Bool,
                    shape: Some(vec![]),
                    values: vec![Value::Bool(true)],
                }),
            ),
        ];
        assert_eq!(string_notes(&attrs), vec![("units".into(), "K".into())]);
    }

    #[test]
    fn numbers_and_names() {
        assert_eq!(number(2.0), "2");
        assert_eq!(number(-0.25), "-0.25");
        assert_eq!(number(1e-7), "1e-7");
        assert_eq!(number(f64::NAN), "NaN");
        assert!(plain_file_name(b"a b.c"));
        assert!(!plain_file_name(b"a%d"));
        assert!(!plain_file_name(b"a "));
        assert!(!plain_file_name(b"a\nb"));
        assert!(!plain_file_name(b"\xff"));
    }
}
