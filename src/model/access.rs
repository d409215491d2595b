//! How a file is opened: libhdf5's file driver, the format bounds of new
//! objects, the chunk cache, SWMR reading (h5py's `File` arguments), and the
//! member names of a family. Plain data, checked where it is parsed.

use serde::{Deserialize, Serialize};

/// libhdf5's file driver (h5py's `driver=`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Driver {
    /// POSIX read and write (libhdf5's default).
    #[default]
    Sec2,
    /// C stdio.
    Stdio,
    /// The whole file read into memory when opened.
    Core,
    /// A file in parts named by a printf pattern with one integer; each
    /// part but the last holds `memb_size` bytes (0: as the file records).
    Family { memb_size: u64 },
    /// Metadata and raw data in two files: the name plus each extension.
    Split { meta_ext: String, raw_ext: String },
    /// An object behind a URL (`http://`, `https://`), read by h5fs's own
    /// driver (read-only).
    Url,
}

impl Driver {
    pub fn name(&self) -> &'static str {
        match self {
            Driver::Sec2 => "sec2",
            Driver::Stdio => "stdio",
            Driver::Core => "core",
            Driver::Family { .. } => "family",
            Driver::Split { .. } => "split",
            Driver::Url => "url",
        }
    }
}

/// Default extensions of the split driver (as h5py's).
pub const SPLIT_META_EXT: &str = "-m.h5";
pub const SPLIT_RAW_EXT: &str = "-r.h5";

/// A bound of the file format versions libhdf5 may write (h5py's `libver`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum LibVer {
    Earliest,
    V108,
    V110,
}

impl LibVer {
    /// The newest bound libhdf5 1.10 knows (h5py's "latest").
    pub const LATEST: LibVer = LibVer::V110;

    pub fn parse(s: &str) -> Result<LibVer, String> {
        match s {
            "earliest" => Ok(LibVer::Earliest),
            "v108" => Ok(LibVer::V108),
            "v110" | "latest" => Ok(LibVer::V110),
            "v112" | "v114" | "v200" => Err(format!(
                "libver {s} needs a newer libhdf5 than the 1.10 h5fs is built with (earliest, v108, v110 or latest)"
            )),
            _ => Err(format!(
                "unknown libver '{s}' (earliest, v108, v110 or latest, or LOW:HIGH)"
            )),
        }
    }
}

/// `libver=LOW` (high is latest, as h5py does) or `libver=LOW:HIGH`.
pub fn parse_libver(v: &str) -> Result<(LibVer, LibVer), String> {
    let (low, high) = match v.split_once(':') {
        Some((l, h)) => (LibVer::parse(l)?, LibVer::parse(h)?),
        None => (LibVer::parse(v)?, LibVer::LATEST),
    };
    if low > high {
        return Err(format!("libver {v}: the low bound is above the high one"));
    }
    if v.split_once(':').is_some() && high == LibVer::Earliest {
        return Err(format!("libver {v}: the high bound cannot be 'earliest'"));
    }
    Ok((low, high))
}

/// libhdf5's raw-data chunk cache of each open dataset (h5py's `rdcc_*`);
/// what is not given keeps libhdf5's default.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct ChunkCacheSpec {
    pub nslots: Option<u64>,
    pub nbytes: Option<u64>,
    pub w0: Option<f64>,
}

/// Everything about opening a file besides its name and intent.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Access {
    pub driver: Driver,
    /// Format bounds of objects created (None: libhdf5's default).
    pub libver: Option<(LibVer, LibVer)>,
    pub chunk_cache: ChunkCacheSpec,
    /// Open for reading while an SWMR writer appends.
    pub swmr: bool,
}

/// The name of member `index` of a family: `pattern` with its one integer
/// conversion (`%d`, `%05d`, `%x`...) filled in, `%%` a percent sign, as
/// libhdf5 does with sprintf. None if the pattern is not of that form.
pub fn member_name(pattern: &str, index: u64) -> Option<String> {
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut chars = pattern.chars().peekable();
    let mut filled = false;
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'%') {
            chars.next();
            out.push('%');
            continue;
        }
        if filled {
            return None;
        }
        let zero = chars.peek() == Some(&'0');
        if zero {
            chars.next();
        }
        let mut width = 0usize;
        while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
            width = width.checked_mul(10)?.checked_add(d as usize)?;
            chars.next();
        }
        if width > 32 {
            return None;
        }
        let digits = match chars.next()? {
            'd' | 'i' | 'u' => index.to_string(),
            'x' => format!("{index:x}"),
            'X' => format!("{index:X}"),
            'o' => format!("{index:o}"),
            _ => return None,
        };
        let pad = if zero { '0' } else { ' ' };
        out.extend(std::iter::repeat_n(pad, width.saturating_sub(digits.len())));
        out.push_str(&digits);
        filled = true;
    }
    filled.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_names_as_sprintf() {
        assert_eq!(member_name("run-%05d.h5", 7).unwrap(), "run-00007.h5");
        assert_eq!(member_name("f%d.h5", 12).unwrap(), "f12.h5");
        assert_eq!(member_name("f%3d", 5).unwrap(), "f  5");
        assert_eq!(member_name("f%x", 255).unwrap(), "fff");
        assert_eq!(member_name("100%%-%i", 3).unwrap(), "100%-3");
        assert_eq!(member_name("f%05d.h5", 123456).unwrap(), "f123456.h5");
        assert_eq!(member_name("plain.h5", 0), None);
        assert_eq!(member_name("a%d%d", 0), None);
        assert_eq!(member_name("a%s", 0), None);
        assert_eq!(member_name("a%", 0), None);
        assert_eq!(member_name("100%%", 0), None);
        assert_eq!(member_name("a%099999999999999999999d", 0), None);
    }

    #[test]
    fn libver_as_h5py() {
        assert_eq!(
            parse_libver("earliest").unwrap(),
            (LibVer::Earliest, LibVer::V110)
        );
        assert_eq!(
            parse_libver("latest").unwrap(),
            (LibVer::V110, LibVer::V110)
        );
        assert_eq!(parse_libver("v108").unwrap(), (LibVer::V108, LibVer::V110));
        assert_eq!(
            parse_libver("earliest:v108").unwrap(),
            (LibVer::Earliest, LibVer::V108)
        );
        assert!(parse_libver("v110:v108").is_err());
        assert!(parse_libver("earliest:earliest").is_err());
        assert!(parse_libver("v112").unwrap_err().contains("newer libhdf5"));
        assert!(parse_libver("new").is_err());
    }
}
