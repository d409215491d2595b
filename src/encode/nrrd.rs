//! Detached NRRD headers (`NAME.nhdr`), as teem (ITK, 3D Slicer) and
//! pynrrd read them.
//!
//! `NRRD0004`, then fields in the order teem needs them: `type`,
//! `dimension` (before `sizes`), `space dimension` (before the per-axis
//! space fields), `sizes` fastest axis first (the reverse of C order),
//! `space directions`, `kinds`, `endian`, `encoding: raw`, `spacings`,
//! `axis mins`, `space origin`, and `data file: ./NAME` (the `./` keeps
//! names such as `LIST...` plain). Complex numbers are an extra fastest
//! axis of 2 (`kinds: complex ...`). Any rank; no header for names teem
//! would read as a printf pattern (`%`) or that readers would trim.
//!
//! Geometry: when every axis has an evenly spaced scale, the space form
//! (`space directions` one vector per axis, `space origin`); when some do,
//! `spacings` and `axis mins` with `NaN` for the others. String attributes
//! become `key:=value` lines (`\` and newlines escaped as `\\` and `\n`),
//! except keys with `:` or a field's name, which pynrrd would misread.

use super::raster::{number, plain_file_name, Num, Raster};

fn type_name(num: Num) -> &'static str {
    match num {
        Num::U8 => "uint8",
        Num::I8 => "int8",
        Num::U16 => "uint16",
        Num::I16 => "int16",
        Num::U32 => "uint32",
        Num::I32 => "int32",
        Num::U64 => "uint64",
        Num::I64 => "int64",
        Num::F32 | Num::C64 => "float",
        Num::F64 | Num::C128 => "double",
    }
}

/// Field names (spaces removed, lower case) a key must not be.
const FIELDS: &[&str] = &[
    "type",
    "dimension",
    "spacedimension",
    "space",
    "sizes",
    "spacedirections",
    "kinds",
    "endian",
    "encoding",
    "min",
    "max",
    "oldmin",
    "oldmax",
    "content",
    "sampleunits",
    "spacings",
    "thicknesses",
    "axismins",
    "axismaxs",
    "centerings",
    "labels",
    "units",
    "spaceunits",
    "spaceorigin",
    "measurementframe",
    "datafile",
    "lineskip",
    "byteskip",
    "number",
    "blocksize",
];

fn escaped(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' | '\t' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

fn key_ok(k: &str) -> bool {
    let squeezed: String = k
        .chars()
        .filter(|c| *c != ' ')
        .collect::<String>()
        .to_lowercase();
    !k.contains(':')
        && !k.starts_with('#')
        && !k.chars().any(char::is_control)
        && k.trim() == k
        && !FIELDS.contains(&squeezed.as_str())
}

fn vector(v: &[f64]) -> String {
    let parts: Vec<String> = v.iter().map(|x| number(*x)).collect();
    format!("({})", parts.join(","))
}

pub fn header(r: &Raster) -> Option<Vec<u8>> {
    if r.shape.is_empty() || !plain_file_name(&r.data_name) {
        return None;
    }
    let complex = matches!(r.num, Num::C64 | Num::C128);
    // Fastest axis first.
    let axes: Vec<_> = r.axes.iter().rev().collect();
    let mut sizes: Vec<String> = r.shape.iter().rev().map(|d| d.to_string()).collect();
    if complex {
        sizes.insert(0, "2".into());
    }
    let n = r.shape.len();
    let all = axes.iter().all(|a| a.is_some());
    let some = axes.iter().any(|a| a.is_some());
    let mut t = String::from("NRRD0004\n");
    t.push_str(&format!("# h5fs: HDF5 dataset {}\n", escaped(&r.path)));
    t.push_str(&format!("type: {}\n", type_name(r.num)));
    t.push_str(&format!("dimension: {}\n", sizes.len()));
    if all {
        t.push_str(&format!("space dimension: {n}\n"));
    }
    t.push_str(&format!("sizes: {}\n", sizes.join(" ")));
    if all {
        let mut dirs: Vec<String> = Vec::new();
        if complex {
            dirs.push("none".into());
        }
        for (i, a) in axes.iter().enumerate() {
            let mut v = vec![0.0; n];
            v[i] = a.map_or(1.0, |a| a.spacing);
            dirs.push(vector(&v));
        }
        t.push_str(&format!("space directions: {}\n", dirs.join(" ")));
    }
    if complex {
        let kinds: Vec<&str> = std::iter::once("complex")
            .chain(std::iter::repeat_n("domain", n))
            .collect();
        t.push_str(&format!("kinds: {}\n", kinds.join(" ")));
    }
    t.push_str(if r.big_endian {
        "endian: big\n"
    } else {
        "endian: little\n"
    });
    t.push_str("encoding: raw\n");
    if some && !all {
        let per = |f: &dyn Fn(&super::raster::Axis) -> f64| {
            let mut v: Vec<String> = Vec::new();
            if complex {
                v.push("NaN".into());
            }
            v.extend(axes.iter().map(|a| number(a.map_or(f64::NAN, |a| f(&a)))));
            v.join(" ")
        };
        t.push_str(&format!("spacings: {}\n", per(&|a| a.spacing)));
        t.push_str(&format!("axis mins: {}\n", per(&|a| a.origin)));
    }
    if all {
        let origin: Vec<f64> = axes.iter().map(|a| a.map_or(0.0, |a| a.origin)).collect();
        t.push_str(&format!("space origin: {}\n", vector(&origin)));
    }
    t.push_str("data file: ./");
    t.push_str(std::str::from_utf8(&r.data_name).ok()?);
    t.push('\n');
    for (k, v) in &r.notes {
        if key_ok(k) {
            t.push_str(&format!("{}:={}\n", escaped(k), escaped(v)));
        }
    }
    Some(t.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::raster::{sample, Axis};

    fn raster(num: Num, shape: &[u64]) -> Raster {
        sample(num, shape, "x.y")
    }

    fn text(r: &Raster) -> String {
        String::from_utf8(header(r).unwrap()).unwrap()
    }

    #[test]
    fn sizes_fastest_first() {
        let t = text(&raster(Num::I16, &[2, 3, 4]));
        assert_eq!(
            t,
            "NRRD0004\n# h5fs: HDF5 dataset /g/x.y\ntype: int16\ndimension: 3\nsizes: 4 3 2\n\
             endian: little\nencoding: raw\ndata file: ./x.y\n"
        );
    }

    #[test]
    fn complex_is_an_axis_of_two() {
        let mut r = raster(Num::C128, &[5]);
        r.big_endian = true;
        let t = text(&r);
        assert!(t.contains(
            "type: double\ndimension: 2\nsizes: 2 5\nkinds: complex domain\nendian: big\n"
        ));
    }

    #[test]
    fn geometry_space_form_or_spacings() {
        let mut r = raster(Num::F32, &[3, 4]);
        r.axes = vec![
            Some(Axis {
                origin: 20.0,
                spacing: 0.25,
            }),
            Some(Axis {
                origin: 10.0,
                spacing: 0.5,
            }),
        ];
        let t = text(&r);
        assert!(t.contains("space dimension: 2\nsizes: 4 3\nspace directions: (0.5,0) (0,0.25)\n"));
        assert!(t.contains("space origin: (10,20)\n"));
        r.axes[1] = None;
        let t = text(&r);
        assert!(t.contains("spacings: NaN 0.25\naxis mins: NaN 20\n"));
        assert!(!t.contains("space"));
    }

    #[test]
    fn notes_escaped_and_unsafe_keys_left_out() {
        let mut r = raster(Num::U8, &[2]);
        r.notes = vec![
            ("title".into(), "a\\b\nc".into()),
            ("a:b".into(), "x".into()),
            ("Space Origin".into(), "x".into()),
        ];
        let t = text(&r);
        assert!(t.ends_with("data file: ./x.y\ntitle:=a\\\\b\\nc\n"));
    }

    #[test]
    fn patterns_and_scalars_have_no_header() {
        let mut r = raster(Num::U8, &[2]);
        r.data_name = b"a%03d".to_vec();
        assert!(header(&r).is_none());
        assert!(header(&raster(Num::U8, &[])).is_none());
    }
}
