//! ENVI headers (`NAME.hdr`), as GDAL's ENVI driver reads them.
//!
//! GDAL opens the raw file `NAME` and looks for `NAME.hdr` in the directory
//! listing (then `NAME` with its extension replaced by `.hdr`), so the header
//! is named by appending `.hdr`, which works for names with and without dots.
//! The header starts with `ENVI`; `samples`, `lines` and `bands` are the
//! dimensions: 1-D as one line, 2-D as lines x samples, 3-D as bands x
//! lines x samples, more dimensions folded into bands (`interleave = bsq`:
//! C order). `data type` codes: 1 u8 (and bool), 2 i16, 3 i32, 4 f32, 5 f64,
//! 6 complex64, 9 complex128, 12 u16, 13 u32, 14 i64, 15 u64; ENVI has no
//! 8-bit signed type, so int8 has no header. `byte order` is 0 (little) or
//! 1 (big). GDAL refuses data files under 2 bytes, more than 65536 bands,
//! and data files named `*.hdr`, `*.sta` or `*.zarr`: those have no header.
//!
//! `map info` (a geotransform) is written only when it is honest: the last
//! two axes have evenly spaced scales, x increasing and y decreasing (north
//! up, as ENVI's pixel sizes are positive), the reference being the first
//! pixel's centre (1.5, 1.5). `description` names the HDF5 path and holds
//! the string attributes.

use super::raster::{number, Num, Raster};

/// Longest `description` text written (GDAL's line limit is 10,000).
const MAX_DESCRIPTION: usize = 8000;

/// Most bands GDAL's ENVI driver opens.
const MAX_BANDS: u64 = 65536;

fn code(num: Num) -> Option<u8> {
    Some(match num {
        Num::U8 => 1,
        Num::I16 => 2,
        Num::I32 => 3,
        Num::F32 => 4,
        Num::F64 => 5,
        Num::C64 => 6,
        Num::C128 => 9,
        Num::U16 => 12,
        Num::U32 => 13,
        Num::I64 => 14,
        Num::U64 => 15,
        Num::I8 => return None,
    })
}

/// Text inside `{ }`: no braces, one line.
fn braced(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '{' => '(',
            '}' => ')',
            '\n' | '\r' => ' ',
            c => c,
        })
        .collect()
}

/// Data file extensions GDAL will not open as ENVI data.
const REFUSED_EXTENSIONS: &[&str] = &["hdr", "sta", "zarr"];

pub fn header(r: &Raster) -> Option<Vec<u8>> {
    let data_type = code(r.num)?;
    if let Some(dot) = r.data_name.iter().rposition(|b| *b == b'.') {
        let ext = &r.data_name[dot + 1..];
        if REFUSED_EXTENSIONS
            .iter()
            .any(|x| x.as_bytes().eq_ignore_ascii_case(ext))
        {
            return None;
        }
    }
    if r.shape.is_empty() || r.byte_len() < 2 {
        return None;
    }
    let n = r.shape.len();
    let samples = r.shape[n - 1];
    let lines = if n >= 2 { r.shape[n - 2] } else { 1 };
    let bands = r.shape[..n.saturating_sub(2)]
        .iter()
        .try_fold(1u64, |a, d| a.checked_mul(*d))?;
    let max = i32::MAX as u64;
    if samples > max || lines > max || bands > MAX_BANDS {
        return None;
    }
    let mut desc = format!("HDF5 dataset {}", r.path);
    for (k, v) in &r.notes {
        let note = format!("; {k} = {v}");
        // GDAL reads header lines of up to 10,000 characters: a longer
        // `description` would lose its closing brace, and the keys after it.
        if desc.len() + note.len() > MAX_DESCRIPTION {
            break;
        }
        desc.push_str(&note);
    }
    let mut t = String::from("ENVI\n");
    t.push_str(&format!("description = {{{}}}\n", braced(&desc)));
    t.push_str(&format!(
        "samples = {samples}\nlines = {lines}\nbands = {bands}\n"
    ));
    t.push_str("header offset = 0\nfile type = ENVI Standard\n");
    t.push_str(&format!("data type = {data_type}\ninterleave = bsq\n"));
    t.push_str(&format!("byte order = {}\n", u8::from(r.big_endian)));
    if n >= 2 {
        if let (Some(y), Some(x)) = (r.axes[n - 2], r.axes[n - 1]) {
            if x.spacing > 0.0 && y.spacing < 0.0 {
                t.push_str(&format!(
                    "map info = {{Arbitrary, 1.5, 1.5, {}, {}, {}, {}}}\n",
                    number(x.origin),
                    number(y.origin),
                    number(x.spacing),
                    number(-y.spacing)
                ));
            }
        }
    }
    Some(t.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::raster::{sample, Axis};

    fn raster(num: Num, shape: &[u64]) -> Raster {
        sample(num, shape, "x")
    }

    fn text(r: &Raster) -> String {
        String::from_utf8(header(r).unwrap()).unwrap()
    }

    #[test]
    fn dimensions_fold_into_bands() {
        let t = text(&raster(Num::F32, &[2, 3, 4, 5]));
        assert!(t.starts_with("ENVI\n"));
        assert!(t.contains("samples = 5\nlines = 4\nbands = 6\n"));
        assert!(t.contains("data type = 4\ninterleave = bsq\nbyte order = 0\n"));
        assert!(text(&raster(Num::U16, &[7])).contains("samples = 7\nlines = 1\nbands = 1\n"));
        let mut big = raster(Num::I64, &[3, 4]);
        big.big_endian = true;
        let t = text(&big);
        assert!(t.contains("data type = 14") && t.contains("byte order = 1"));
    }

    #[test]
    fn what_envi_cannot_say_has_no_header() {
        assert!(header(&raster(Num::I8, &[4, 4])).is_none());
        assert!(header(&raster(Num::U8, &[1])).is_none());
        assert!(header(&raster(Num::U8, &[])).is_none());
        assert!(header(&raster(Num::F32, &[65537, 2, 2])).is_none());
        assert!(header(&raster(Num::F32, &[65536, 1, 1])).is_some());
        let mut r = raster(Num::U8, &[4]);
        r.data_name = b"a.HDR".to_vec();
        assert!(header(&r).is_none());
        r.data_name = b"a.hdrx".to_vec();
        assert!(header(&r).is_some());
    }

    #[test]
    fn map_info_only_north_up() {
        let mut r = raster(Num::F64, &[3, 4]);
        r.axes = vec![
            Some(Axis {
                origin: 50.0,
                spacing: -0.5,
            }),
            Some(Axis {
                origin: 10.0,
                spacing: 0.25,
            }),
        ];
        assert!(text(&r).contains("map info = {Arbitrary, 1.5, 1.5, 10, 50, 0.25, 0.5}\n"));
        r.axes[0].as_mut().unwrap().spacing = 0.5;
        assert!(!text(&r).contains("map info"));
    }

    #[test]
    fn description_fits_on_a_line_gdal_reads() {
        let mut r = raster(Num::U8, &[2, 2]);
        r.notes = (0..20)
            .map(|i| (format!("n{i}"), "x".repeat(1000)))
            .collect();
        let t = text(&r);
        let line = t.lines().find(|l| l.starts_with("description")).unwrap();
        assert!(line.len() < 10_000 && line.ends_with('}'), "{}", line.len());
        assert!(t.contains("\nsamples = 2\n"));
    }

    #[test]
    fn description_holds_path_and_notes() {
        let mut r = raster(Num::U8, &[2, 2]);
        r.notes = vec![("title".into(), "a {b}\nc".into())];
        assert!(text(&r).contains("description = {HDF5 dataset /g/x; title = a (b) c}\n"));
    }
}
