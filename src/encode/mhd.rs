//! MetaImage headers (`NAME.mhd`), as ITK's MetaIO reads them.
//!
//! `Key = value` lines; keys are case-sensitive, `NDims` comes before every
//! per-axis key and `ElementDataFile = ./NAME` last (reading stops there;
//! the `./` keeps names such as `LOCAL` or `LIST...` plain). `DimSize`,
//! `ElementSpacing` and `Offset` list the fastest axis first. Element types
//! `MET_CHAR`/`MET_UCHAR`/`MET_SHORT`/`MET_USHORT`/`MET_INT`/`MET_UINT`/
//! `MET_LONG_LONG`/`MET_ULONG_LONG`/`MET_FLOAT`/`MET_DOUBLE` (`MET_LONG` is
//! 4 bytes to MetaIO); complex numbers are 2 channels of floats. Any rank
//! (ITK reads 2 to 5); no header for names MetaIO would read as a printf
//! pattern (`%`) or trim.
//!
//! Geometry: when some axis has an evenly spaced scale, `ElementSpacing`
//! and `Offset` (1 and 0 for axes without); spacings are positive, so an
//! axis whose scale decreases gets -1 in a diagonal `TransformMatrix`.

use super::raster::{number, plain_file_name, Num, Raster};

/// The longest line MetaIO reads whole.
const MAX_LINE: usize = 500;

fn element_type(num: Num) -> &'static str {
    match num {
        Num::I8 => "MET_CHAR",
        Num::U8 => "MET_UCHAR",
        Num::I16 => "MET_SHORT",
        Num::U16 => "MET_USHORT",
        Num::I32 => "MET_INT",
        Num::U32 => "MET_UINT",
        Num::I64 => "MET_LONG_LONG",
        Num::U64 => "MET_ULONG_LONG",
        Num::F32 | Num::C64 => "MET_FLOAT",
        Num::F64 | Num::C128 => "MET_DOUBLE",
    }
}

pub fn header(r: &Raster) -> Option<Vec<u8>> {
    if r.shape.is_empty() || !plain_file_name(&r.data_name) {
        return None;
    }
    let name = std::str::from_utf8(&r.data_name).ok()?;
    if name.len() + 20 > MAX_LINE {
        return None;
    }
    let fastest = |f: &dyn Fn(usize) -> String| -> String {
        (0..r.shape.len())
            .rev()
            .map(f)
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut t = String::from("ObjectType = Image\n");
    t.push_str(&format!("NDims = {}\n", r.shape.len()));
    t.push_str("BinaryData = True\n");
    t.push_str(if r.big_endian {
        "BinaryDataByteOrderMSB = True\n"
    } else {
        "BinaryDataByteOrderMSB = False\n"
    });
    t.push_str("CompressedData = False\n");
    if r.axes.iter().any(|a| a.is_some()) {
        // Spacings are positive; an axis whose scale decreases points back.
        if r.axes.iter().flatten().any(|a| a.spacing < 0.0) {
            let n = r.shape.len();
            let signs: Vec<f64> = (0..n)
                .rev()
                .map(|i| r.axes[i].map_or(1.0, |a| a.spacing.signum()))
                .collect();
            let matrix: Vec<String> = (0..n * n)
                .map(|k| number(if k % (n + 1) == 0 { signs[k / n] } else { 0.0 }))
                .collect();
            t.push_str(&format!("TransformMatrix = {}\n", matrix.join(" ")));
        }
        let origin = fastest(&|i| number(r.axes[i].map_or(0.0, |a| a.origin)));
        let spacing = fastest(&|i| number(r.axes[i].map_or(1.0, |a| a.spacing.abs())));
        t.push_str(&format!("Offset = {origin}\nElementSpacing = {spacing}\n"));
    }
    t.push_str(&format!(
        "DimSize = {}\n",
        fastest(&|i| r.shape[i].to_string())
    ));
    if matches!(r.num, Num::C64 | Num::C128) {
        t.push_str("ElementNumberOfChannels = 2\n");
    }
    t.push_str(&format!("ElementType = {}\n", element_type(r.num)));
    t.push_str(&format!("ElementDataFile = ./{name}\n"));
    Some(t.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::raster::{sample, Axis};

    fn raster(num: Num, shape: &[u64]) -> Raster {
        Raster {
            big_endian: true,
            ..sample(num, shape, "LOCAL")
        }
    }

    #[test]
    fn header_fastest_first_data_file_last() {
        let mut r = raster(Num::I64, &[3, 4]);
        r.axes[1] = Some(Axis {
            origin: 10.0,
            spacing: 0.5,
        });
        let t = String::from_utf8(header(&r).unwrap()).unwrap();
        assert_eq!(
            t,
            "ObjectType = Image\nNDims = 2\nBinaryData = True\nBinaryDataByteOrderMSB = True\n\
             CompressedData = False\nOffset = 10 0\nElementSpacing = 0.5 1\nDimSize = 4 3\n\
             ElementType = MET_LONG_LONG\nElementDataFile = ./LOCAL\n"
        );
    }

    #[test]
    fn decreasing_scales_flip_the_direction() {
        let mut r = raster(Num::F32, &[3, 4]);
        r.axes = vec![
            Some(Axis {
                origin: 50.0,
                spacing: -0.5,
            }),
            None,
        ];
        let t = String::from_utf8(header(&r).unwrap()).unwrap();
        assert!(t.contains("TransformMatrix = 1 0 0 -1\nOffset = 0 50\nElementSpacing = 1 0.5\n"));
    }

    #[test]
    fn complex_is_two_channels() {
        let t = String::from_utf8(header(&raster(Num::C64, &[5])).unwrap()).unwrap();
        assert!(t.contains("DimSize = 5\nElementNumberOfChannels = 2\nElementType = MET_FLOAT\n"));
    }

    #[test]
    fn no_header_for_patterns_or_scalars() {
        let mut r = raster(Num::U8, &[2]);
        r.data_name = b"a%x".to_vec();
        assert!(header(&r).is_none());
        assert!(header(&raster(Num::U8, &[])).is_none());
    }
}
