//! The `.npy` file format: reading and writing the header.
//!
//! A `.npy` stream is the magic `\x93NUMPY`, a major and minor version byte
//! (1.0, 2.0 or 3.0), the header length (2 bytes little-endian for 1.0, 4
//! bytes for 2.0 and 3.0), then the header: a Python dict literal such as
//! `{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }`, padded with
//! spaces and ending in `\n`. The data follows at [`NpyHeader::data_offset`].
//! Versions 1.0 and 2.0 headers are latin-1, 3.0 is UTF-8.
//!
//! Rules of the parser:
//! - the dict must have exactly the keys `descr`, `fortran_order`, `shape`;
//! - the Python literal subset understood is strings (`'` or `"`, with the
//!   usual backslash escapes), integers (an old `L` suffix is allowed),
//!   `True`, `False`, `None`, tuples, lists and dicts; tuples and lists both
//!   become JSON arrays;
//! - `descr` becomes the JSON form the sidecar uses: a string, or for a
//!   structured type a list of `[name, descr]` / `[name, descr, shape]`
//!   entries. A field named by a `(title, name)` pair keeps only its name;
//! - a prefix of the stream that ends before the header does gives
//!   [`NpyError::Incomplete`]; call again with more bytes.
//!
//! [`header_bytes`] writes the header `np.save` (numpy 1.24 and later) writes:
//! the dict with its keys in that order, 21 spaces less the digits of the
//! first dimension (room to grow in place), then 1 to 64 spaces and `\n`, so
//! that the data starts at a multiple of 64 bytes. Version 1.0, or 2.0 when
//! the header is longer than 65535 bytes, or 3.0 when a field name is not
//! latin-1. [`view_header`] is the header of a dataset's `.npy` view.

use serde_json::{Map, Number, Value as Json};

use super::dtype::{descr, flatten_array};
use crate::model::{DatasetMeta, TypeDesc};

const MAGIC: &[u8] = b"\x93NUMPY";

/// What a `.npy` header says about the array that follows.
#[derive(Debug, Clone, PartialEq)]
pub struct NpyHeader {
    pub descr: Json,
    pub fortran_order: bool,
    pub shape: Vec<u64>,
    /// Where the array data starts in the stream.
    pub data_offset: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NpyError {
    /// The bytes end before the header does.
    #[error("the .npy header is incomplete (needs more bytes)")]
    Incomplete,
    #[error("not a valid .npy header: {0}")]
    Invalid(String),
}

fn invalid(msg: impl Into<String>) -> NpyError {
    NpyError::Invalid(msg.into())
}

/// Parse the header at the start of `bytes`, which may be only a prefix of the file.
pub fn parse_header(bytes: &[u8]) -> Result<NpyHeader, NpyError> {
    let n = bytes.len().min(MAGIC.len());
    if bytes[..n] != MAGIC[..n] {
        return Err(invalid("missing the \\x93NUMPY magic"));
    }
    let Some(&[major, minor]) = bytes.get(6..8) else {
        return Err(NpyError::Incomplete);
    };
    let len_bytes = match (major, minor) {
        (1, 0) => 2,
        (2, 0) | (3, 0) => 4,
        _ => return Err(invalid(format!("unsupported version {major}.{minor}"))),
    };
    let Some(len_field) = bytes.get(8..8 + len_bytes) else {
        return Err(NpyError::Incomplete);
    };
    let header_len = len_field
        .iter()
        .rev()
        .fold(0usize, |acc, b| (acc << 8) | *b as usize);
    let data_offset = 8 + len_bytes + header_len;
    let Some(raw) = bytes.get(8 + len_bytes..data_offset) else {
        return Err(NpyError::Incomplete);
    };
    let text: String = if major == 3 {
        std::str::from_utf8(raw)
            .map_err(|_| invalid("a version 3.0 header must be UTF-8"))?
            .to_string()
    } else {
        raw.iter().map(|b| *b as char).collect()
    };
    let dict = match parse_literal(&text).map_err(NpyError::Invalid)? {
        Json::Object(m) => m,
        _ => return Err(invalid("the header is not a dict")),
    };
    if let Some(k) = dict
        .keys()
        .find(|k| !matches!(k.as_str(), "descr" | "fortran_order" | "shape"))
    {
        return Err(invalid(format!("unexpected key '{k}'")));
    }
    let get = |k: &str| {
        dict.get(k)
            .ok_or_else(|| invalid(format!("missing key '{k}'")))
    };
    let descr = normalize_descr(get("descr")?)?;
    let fortran_order = get("fortran_order")?
        .as_bool()
        .ok_or_else(|| invalid("fortran_order must be True or False"))?;
    let shape = match get("shape")? {
        Json::Array(dims) => dims
            .iter()
            .map(|d| {
                d.as_u64()
                    .ok_or_else(|| invalid("shape must hold non-negative integers"))
            })
            .collect::<Result<Vec<u64>, NpyError>>()?,
        _ => return Err(invalid("shape must be a tuple")),
    };
    Ok(NpyHeader {
        descr,
        fortran_order,
        shape,
        data_offset,
    })
}

/// Check the descr's form and keep only the name of `(title, name)` fields.
fn normalize_descr(d: &Json) -> Result<Json, NpyError> {
    match d {
        Json::String(_) => Ok(d.clone()),
        Json::Array(fields) => fields
            .iter()
            .map(|f| match f.as_array().map(Vec::as_slice) {
                Some([name, sub, rest @ ..]) if rest.len() <= 1 => {
                    let name = match name {
                        Json::String(_) => name.clone(),
                        Json::Array(pair) if pair.len() == 2 && pair[1].is_string() => {
                            pair[1].clone()
                        }
                        _ => return Err(invalid("a field name must be a string")),
                    };
                    let mut out = vec![name, normalize_descr(sub)?];
                    out.extend(rest.iter().cloned());
                    Ok(Json::Array(out))
                }
                _ => Err(invalid(
                    "a structured descr holds (name, descr[, shape]) tuples",
                )),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Json::Array),
        _ => Err(invalid("descr must be a string or a list")),
    }
}

/// Parse one Python literal (followed only by whitespace) into JSON.
fn parse_literal(text: &str) -> Result<Json, String> {
    let mut p = PyParser {
        chars: text.chars().collect(),
        pos: 0,
        depth: 0,
    };
    let v = p.value()?;
    p.skip_ws();
    if p.pos < p.chars.len() {
        return Err(format!("unexpected text at character {}", p.pos));
    }
    Ok(v)
}

/// How deep tuples, lists and dicts may nest in a header. numpy's own
/// structured dtypes need a handful of levels; the limit keeps a crafted
/// header from exhausting the stack of this recursive parser.
const MAX_DEPTH: usize = 64;

/// A recursive-descent parser for the Python literals numpy writes.
struct PyParser {
    chars: Vec<char>,
    pos: usize,
    /// Containers open around the current position.
    depth: usize,
}

impl PyParser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        self.pos += 1;
        c
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn expect(&mut self, c: char) -> Result<(), String> {
        self.skip_ws();
        match self.next() {
            Some(got) if got == c => Ok(()),
            Some(got) => Err(format!("expected '{c}', found '{got}'")),
            None => Err(format!("expected '{c}', found the end")),
        }
    }

    fn value(&mut self) -> Result<Json, String> {
        self.skip_ws();
        match self.peek() {
            Some('\'' | '"') => self.string().map(Json::String),
            Some(open @ ('(' | '[' | '{')) => {
                if self.depth >= MAX_DEPTH {
                    return Err(format!("containers nest more than {MAX_DEPTH} deep"));
                }
                self.depth += 1;
                let v = match open {
                    '(' => self.sequence('(', ')'),
                    '[' => self.sequence('[', ']'),
                    _ => self.dict(),
                };
                self.depth -= 1;
                v
            }
            Some(c) if c == '-' || c == '+' || c.is_ascii_digit() => self.int(),
            Some(c) if c.is_alphabetic() => {
                let start = self.pos;
                while self.peek().is_some_and(char::is_alphanumeric) {
                    self.pos += 1;
                }
                let word: String = self.chars[start..self.pos].iter().collect();
                match word.as_str() {
                    "True" => Ok(Json::Bool(true)),
                    "False" => Ok(Json::Bool(false)),
                    "None" => Ok(Json::Null),
                    _ => Err(format!("unexpected name '{word}'")),
                }
            }
            Some(c) => Err(format!("unexpected '{c}'")),
            None => Err("unexpected end of the header".into()),
        }
    }

    fn int(&mut self) -> Result<Json, String> {
        let start = self.pos;
        if matches!(self.peek(), Some('-' | '+')) {
            self.pos += 1;
        }
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        let digits: String = self.chars[start..self.pos].iter().collect();
        // Python 2 numpy wrote longs as `3L`.
        if matches!(self.peek(), Some('L' | 'l')) {
            self.pos += 1;
        }
        let digits = digits.strip_prefix('+').unwrap_or(&digits);
        if let Ok(i) = digits.parse::<i64>() {
            Ok(Json::from(i))
        } else if let Ok(u) = digits.parse::<u64>() {
            Ok(Json::from(u))
        } else {
            Err(format!("bad integer '{digits}'"))
        }
    }

    fn string(&mut self) -> Result<String, String> {
        let quote = self.next();
        let mut out = String::new();
        loop {
            match self.next() {
                None => return Err("unterminated string".into()),
                Some(c) if Some(c) == quote => return Ok(out),
                Some('\\') => out.push(self.escape()?),
                Some(c) => out.push(c),
            }
        }
    }

    fn escape(&mut self) -> Result<char, String> {
        let hex = |p: &mut Self, n: usize| -> Result<char, String> {
            let s: String = (0..n).filter_map(|_| p.next()).collect();
            u32::from_str_radix(&s, 16)
                .ok()
                .filter(|_| s.len() == n)
                .and_then(char::from_u32)
                .ok_or_else(|| format!("bad escape '{s}'"))
        };
        Ok(match self.next() {
            Some('n') => '\n',
            Some('t') => '\t',
            Some('r') => '\r',
            Some('0') => '\0',
            Some('x') => hex(self, 2)?,
            Some('u') => hex(self, 4)?,
            Some('U') => hex(self, 8)?,
            Some(c @ ('\\' | '\'' | '"')) => c,
            Some(c) => return Err(format!("unsupported escape '\\{c}'")),
            None => return Err("unterminated string".into()),
        })
    }

    /// A tuple or list; `(x)` without a comma is just `x`, as in Python.
    fn sequence(&mut self, open: char, close: char) -> Result<Json, String> {
        self.expect(open)?;
        let mut items = Vec::new();
        let mut comma = false;
        loop {
            self.skip_ws();
            if self.peek() == Some(close) {
                self.pos += 1;
                break;
            }
            items.push(self.value()?);
            self.skip_ws();
            match self.peek() {
                Some(',') => {
                    self.pos += 1;
                    comma = true;
                }
                _ => {
                    self.expect(close)?;
                    break;
                }
            }
        }
        if open == '(' && items.len() == 1 && !comma {
            return Ok(items.remove(0));
        }
        Ok(Json::Array(items))
    }

    fn dict(&mut self) -> Result<Json, String> {
        self.expect('{')?;
        let mut map = Map::new();
        loop {
            self.skip_ws();
            if self.peek() == Some('}') {
                self.pos += 1;
                return Ok(Json::Object(map));
            }
            let key = match self.value()? {
                Json::String(s) => s,
                _ => return Err("dict keys must be strings".into()),
            };
            self.expect(':')?;
            let v = self.value()?;
            if map.insert(key.clone(), v).is_some() {
                return Err(format!("duplicate key '{key}'"));
            }
            self.skip_ws();
            match self.peek() {
                Some(',') => self.pos += 1,
                _ => {
                    self.expect('}')?;
                    return Ok(Json::Object(map));
                }
            }
        }
    }
}

/// A Python string literal as `repr` writes it: in single quotes, or double
/// quotes when the text has a `'` and no `"`.
fn py_str(s: &str, out: &mut String) {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            // Not printable for Python: C0, DEL, C1, no-break space, soft hyphen.
            c if (c as u32) < 0x20 || (0x7f..=0xa0).contains(&(c as u32)) || c == '\u{ad}' => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push(quote);
}

/// A JSON value as a Python literal, arrays written as tuples.
fn py_tuple(v: &Json, out: &mut String) {
    match v {
        Json::String(s) => py_str(s, out),
        Json::Number(n) => out.push_str(&n.to_string()),
        Json::Bool(b) => out.push_str(if *b { "True" } else { "False" }),
        Json::Null => out.push_str("None"),
        Json::Array(items) => {
            out.push('(');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                py_tuple(item, out);
            }
            if items.len() == 1 {
                out.push(',');
            }
            out.push(')');
        }
        Json::Object(_) => py_str(&v.to_string(), out),
    }
}

/// A JSON descr as numpy writes it: a list of field tuples, or a string.
fn py_descr(d: &Json, out: &mut String) {
    let Json::Array(fields) = d else {
        return py_tuple(d, out);
    };
    out.push('[');
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        match f.as_array().map(Vec::as_slice) {
            Some([name, sub, rest @ ..]) => {
                out.push('(');
                py_tuple(name, out);
                out.push_str(", ");
                py_descr(sub, out);
                for r in rest {
                    out.push_str(", ");
                    py_tuple(r, out);
                }
                out.push(')');
            }
            _ => py_tuple(f, out),
        }
    }
    out.push(']');
}

/// Room numpy (1.24 on) leaves after the dict for the first dimension's
/// number to grow in place.
const GROWTH_AXIS_MAX_DIGITS: usize = 21;

/// A complete header (magic to newline) for a C-order array of `descr` and
/// `shape`, byte for byte what `np.save` writes.
pub fn header_bytes(descr: &Json, shape: &[u64]) -> Vec<u8> {
    let mut dict = String::from("{'descr': ");
    py_descr(descr, &mut dict);
    dict.push_str(", 'fortran_order': False, 'shape': ");
    let dims: Vec<Json> = shape
        .iter()
        .map(|d| Json::Number(Number::from(*d)))
        .collect();
    py_tuple(&Json::Array(dims), &mut dict);
    dict.push_str(", }");
    if let Some(first) = shape.first() {
        let digits = first.to_string().len();
        dict.extend(std::iter::repeat_n(
            ' ',
            GROWTH_AXIS_MAX_DIGITS.saturating_sub(digits),
        ));
    }
    // Latin-1 text is version 1.0 (2.0 when too long for a 16-bit length),
    // anything else version 3.0 in UTF-8.
    let latin1: Option<Vec<u8>> = dict.chars().map(|c| u8::try_from(c).ok()).collect();
    let padded = |prefix: usize, text_len: usize| {
        let hlen = text_len + 1;
        hlen + 64 - (prefix + hlen) % 64
    };
    let (major, text) = match latin1 {
        Some(t) if padded(10, t.len()) <= usize::from(u16::MAX) => (1u8, t),
        Some(t) => (2, t),
        None => (3, dict.into_bytes()),
    };
    let len_bytes = if major == 1 { 2 } else { 4 };
    let prefix = MAGIC.len() + 2 + len_bytes;
    let header_len = padded(prefix, text.len());
    let mut out = Vec::with_capacity(prefix + header_len);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[major, 0]);
    out.extend_from_slice(&(header_len as u32).to_le_bytes()[..len_bytes]);
    out.extend_from_slice(&text);
    out.resize(prefix + header_len - 1, b' ');
    out.push(b'\n');
    out
}

/// The header of dataset `meta`'s `.npy` view: the dtype and shape of h5py's
/// `ds[()]` (an HDF5 array element type adds its dimensions to the shape).
/// None when numpy cannot hold the type without objects, or for an empty
/// (null) dataspace.
pub fn view_header(meta: &DatasetMeta) -> Option<Vec<u8>> {
    if meta.ty.unsupported().is_some() || meta.ty.is_variable() {
        return None;
    }
    let mut shape = meta.shape.clone()?;
    let elem = match &meta.ty {
        TypeDesc::Array { base, dims } => {
            let (base, dims) = flatten_array(base, dims);
            shape.extend(dims.iter().map(|d| *d as u64));
            base
        }
        other => other,
    };
    let d = descr(elem);
    if d.is_null() || d.to_string().contains("|O") {
        return None;
    }
    Some(header_bytes(&d, &shape))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn v1(header: &str) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&[1, 0]);
        out.extend_from_slice(&(header.len() as u16).to_le_bytes());
        out.extend_from_slice(header.as_bytes());
        out
    }

    #[test]
    fn simple_header() {
        let mut b = v1("{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }          \n");
        let offset = b.len();
        b.extend_from_slice(&[0; 8]);
        let h = parse_header(&b).unwrap();
        assert_eq!(h.descr, json!("<f8"));
        assert!(!h.fortran_order);
        assert_eq!(h.shape, vec![3, 4]);
        assert_eq!(h.data_offset, offset);
    }

    #[test]
    fn scalar_one_dim_and_python2_forms() {
        let h = parse_header(&v1(
            "{'descr': '|u1', 'fortran_order': True, 'shape': ()}\n",
        ))
        .unwrap();
        assert_eq!(h.shape, Vec::<u64>::new());
        assert!(h.fortran_order);
        let h = parse_header(&v1(
            "{\"shape\": (5L,), \"descr\": \"<i4\", \"fortran_order\": False}",
        ))
        .unwrap();
        assert_eq!(h.shape, vec![5]);
        assert_eq!(h.descr, json!("<i4"));
    }

    #[test]
    fn structured_descr_becomes_sidecar_json() {
        let text = "{'descr': [('a', '<i4'), (('title', 'b'), '<f8', (2,)), ('', '|V4'), \
                    ('n', [('x', '<i2')])], 'fortran_order': False, 'shape': (2,), }\n";
        let h = parse_header(&v1(text)).unwrap();
        assert_eq!(
            h.descr,
            json!([
                ["a", "<i4"],
                ["b", "<f8", [2]],
                ["", "|V4"],
                ["n", [["x", "<i2"]]]
            ])
        );
    }

    #[test]
    fn strings_with_escapes() {
        assert_eq!(parse_literal(r"'it\'s\n\x41'").unwrap(), json!("it's\nA"));
        assert_eq!(parse_literal(r#""a\\b""#).unwrap(), json!("a\\b"));
        assert_eq!(parse_literal("(7)").unwrap(), json!(7));
        assert_eq!(
            parse_literal("[1, -2, None, ]").unwrap(),
            json!([1, -2, null])
        );
        assert!(parse_literal("'open").is_err());
        assert!(parse_literal("{'a': 1, 'a': 2}").is_err());
        assert!(parse_literal("[1 2]").is_err());
        assert!(parse_literal("foo").is_err());
        assert!(parse_literal("1 2").is_err());
    }

    #[test]
    fn prefixes_are_incomplete() {
        let full = header_bytes(&json!("<f8"), &[3]);
        for n in 0..full.len() {
            assert_eq!(parse_header(&full[..n]), Err(NpyError::Incomplete), "{n}");
        }
        assert!(parse_header(&full).is_ok());
    }

    #[test]
    fn invalid_headers() {
        assert!(matches!(
            parse_header(b"PK\x03\x04"),
            Err(NpyError::Invalid(_))
        ));
        let mut bad_version = header_bytes(&json!("<f8"), &[3]);
        bad_version[6] = 4;
        assert!(matches!(
            parse_header(&bad_version),
            Err(NpyError::Invalid(_))
        ));
        for text in [
            "{'descr': '<f8', 'shape': (3,)}",
            "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), 'x': 1}",
            "{'descr': '<f8', 'fortran_order': 0, 'shape': (3,)}",
            "{'descr': '<f8', 'fortran_order': False, 'shape': (-1,)}",
            "{'descr': 5, 'fortran_order': False, 'shape': (1,)}",
            "[1]",
        ] {
            assert!(
                matches!(parse_header(&v1(text)), Err(NpyError::Invalid(_))),
                "{text}"
            );
        }
        assert!(NpyError::Incomplete.to_string().contains("incomplete"));
    }

    #[test]
    fn deep_nesting_is_refused_not_a_stack_overflow() {
        for open in ["[", "(", "{'a': "] {
            let deep = format!("{{'descr': {}", open.repeat(20_000));
            let e = parse_header(&v1(&deep)).unwrap_err();
            assert!(e.to_string().contains("nest more than 64"), "{e}");
        }
        // numpy's own nesting (a structured field of a structured type) is fine.
        let nested = "{'descr': [('a', [('b', [('c', '<i4', (2,))])])], 'fortran_order': False, 'shape': (1,), }";
        assert!(parse_header(&v1(nested)).is_ok());
    }

    #[test]
    fn version_2_and_3() {
        let text = "{'descr': '<i2', 'fortran_order': False, 'shape': (1,)}\n";
        let mut b = MAGIC.to_vec();
        b.extend_from_slice(&[2, 0]);
        b.extend_from_slice(&(text.len() as u32).to_le_bytes());
        b.extend_from_slice(text.as_bytes());
        assert_eq!(parse_header(&b).unwrap().data_offset, b.len());
        // Field names beyond latin-1 need version 3.0 (UTF-8).
        let descr = json!([["α", "<f4"]]);
        let h3 = header_bytes(&descr, &[2]);
        assert_eq!(h3[6], 3);
        assert_eq!(parse_header(&h3).unwrap().descr, descr);
    }

    #[test]
    fn written_headers_are_aligned_and_read_back() {
        let descr = json!([
            ["a", "<i4"],
            ["b", "<f8", [2, 3]],
            ["", "|V4"],
            ["it's", [["x", "|u1"]]]
        ]);
        for shape in [vec![], vec![7], vec![2, 3, 4]] {
            let b = header_bytes(&descr, &shape);
            assert_eq!(b.len() % 64, 0);
            assert_eq!(b[6..8], [1, 0]);
            assert_eq!(b.last(), Some(&b'\n'));
            let h = parse_header(&b).unwrap();
            assert_eq!(h.descr, descr);
            assert_eq!(h.shape, shape);
            assert_eq!(h.data_offset, b.len());
        }
        let text = String::from_utf8(header_bytes(&json!("<f8"), &[3])[10..].to_vec()).unwrap();
        assert!(text.starts_with("{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }"));
    }

    /// Headers `np.save` wrote (numpy 1.24.2), byte for byte.
    #[test]
    fn headers_are_numpys() {
        let pad = |text: &str, n: usize| format!("{text}{}\n", " ".repeat(n));
        let mut want = b"\x93NUMPY\x01\x00v\x00".to_vec();
        want.extend(
            pad(
                "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }",
                58,
            )
            .bytes(),
        );
        assert_eq!(header_bytes(&json!("<f8"), &[3, 4]), want);
        let mut want = b"\x93NUMPY\x01\x00v\x00".to_vec();
        want.extend(
            pad(
                "{'descr': '>i2', 'fortran_order': False, 'shape': (), }",
                62,
            )
            .bytes(),
        );
        assert_eq!(header_bytes(&json!(">i2"), &[]), want);
        let descr = json!([
            ["", "|V2"],
            ["x", "<u2"],
            ["", "|V4"],
            ["y", ">f4"],
            ["", "|V4"]
        ]);
        let mut want = b"\x93NUMPY\x01\x00\xb6\x00".to_vec();
        want.extend(pad("{'descr': [('', '|V2'), ('x', '<u2'), ('', '|V4'), ('y', '>f4'), ('', '|V4')], 'fortran_order': False, 'shape': (2,), }", 62).bytes());
        assert_eq!(header_bytes(&descr, &[2]), want);
        // A name with a quote is written in double quotes; a non-latin-1
        // name makes it version 3.0 (UTF-8).
        let descr = json!([["it's", "|u1"], ["α", "<f4"]]);
        let mut want = b"\x93NUMPY\x03\x00t\x00\x00\x00".to_vec();
        want.extend(pad("{'descr': [(\"it's\", '|u1'), ('α', '<f4')], 'fortran_order': False, 'shape': (1,), }", 31).bytes());
        assert_eq!(header_bytes(&descr, &[1]), want);
        // Already aligned: numpy still pads with 64 spaces.
        assert_eq!(
            header_bytes(&json!([["a".repeat(32), "|u1"]]), &[5]).len(),
            192
        );
    }

    #[test]
    fn long_headers_are_version_2() {
        let fields: Vec<Json> = (0..4000).map(|i| json!([format!("f{i}"), "<f4"])).collect();
        let b = header_bytes(&Json::Array(fields), &[1]);
        assert_eq!(b[6], 2);
        assert_eq!(b.len() % 64, 0);
        assert_eq!(parse_header(&b).unwrap().data_offset, b.len());
        // Latin-1 text stays version 1.0, one byte per character.
        let b = header_bytes(&json!([["température", "<f4"]]), &[1]);
        assert_eq!(b[6], 1);
        assert!(b.windows(2).any(|w| w == b"p\xe9"));
    }
}
