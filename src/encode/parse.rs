//! Parsers for what users write into a mount: the inverses of the encoders.
//!
//! - [`type_from_descr`] reads a numpy descr in the sidecar's JSON form (the
//!   inverse of [`super::dtype::descr`]): `<i4`, `>f8`, `|b1`, `|S5`, `|V4`,
//!   `<M8[s]`, `<c16`, the short forms `float64`, `int32`, `bool`, `f8`, `i4`
//!   (little-endian; `=` means little too), and structured lists of
//!   `[name, descr]` / `[name, descr, shape]` packed in order, where `["",
//!   "|V<n>"]` is padding. `|O` and unicode `<U<n>` are refused.
//!   [`type_from_hdf5_json`] is the inverse of [`super::dtype::type_json`].
//! - [`parse_sidecar_spec`] reads a sidecar written to create or resize a
//!   dataset. A full sidecar as h5fs shows it parses: `hdf5_type` is used
//!   when its descr equals `dtype` (it keeps enum members, string charset and
//!   padding, opaque tags) or when `dtype` is missing; `compression` and
//!   `shuffle` come from `filters` when not given. `shape`, `maxshape` and
//!   `chunks` are returned as written. As in the sidecar, when the type is a
//!   fixed-size array type (only `hdf5_type` can say so), `shape` and
//!   `maxshape` end with the array's dimensions (checked, not removed) and
//!   `chunks` has the rank of the rest.
//! - [`encode_values`] turns values into the bytes [`crate::h5::value`]
//!   decodes (C order, the type's byte order, padding zero).
//! - [`values_from_json`] reads values by the JSON rules of
//!   [`super::json`], nested by the dataspace shape; enums also by name,
//!   and floats also from `"nan"`, `"inf"`, `"-inf"`.
//! - [`parse_attr_text`] is the inverse of [`super::xattr::attr_value`]:
//!   scalar strings are taken byte for byte, scalar numbers and bools as
//!   plain text (surrounding whitespace allowed), everything else as JSON.
//! - [`infer_new_attr`] picks a type for a new attribute: an integer (int64),
//!   a number (float64), a rectangular JSON array of numbers (int64 if all
//!   are integers, else float64), or else a UTF-8 variable-length string of
//!   the exact bytes.
//! - [`parse_text_view`] is the inverse of [`super::text::render`].

use serde_json::Value as Json;

use crate::h5::{TypeDesc, Value};

use super::json::value_from_json;
use super::text::TextFormat;

// ---------------------------------------------------------------- text views

/// Elements of type `elem` from a text view written in `format`.
pub fn parse_text_view(
    format: TextFormat,
    elem: &TypeDesc,
    bytes: &[u8],
) -> Result<Vec<Value>, String> {
    if matches!(format, TextFormat::RefPaths | TextFormat::RegionRefs) {
        return Err("references cannot be written".into());
    }
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    body.split(|b| *b == b'\n')
        .enumerate()
        .map(|(i, line)| {
            let v = if format == TextFormat::Lines {
                unescape_line(line).map(Value::Str)
            } else {
                serde_json::from_slice::<Json>(line)
                    .map_err(|e| format!("not JSON: {e}"))
                    .and_then(|j| value_from_json(elem, &j))
            };
            v.map_err(|e| format!("line {}: {e}", i + 1))
        })
        .collect()
}

/// Undo the `lines` escapes: `\\` is a backslash, `\n` a newline.
fn unescape_line(line: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(line.len());
    let mut it = line.iter();
    while let Some(&b) = it.next() {
        if b != b'\\' {
            out.push(b);
            continue;
        }
        match it.next() {
            Some(b'\\') => out.push(b'\\'),
            Some(b'n') => out.push(b'\n'),
            _ => return Err("a backslash must be followed by \\ or n".into()),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::testing::int;
    use crate::h5::ByteOrder;

    // ---- text views

    #[test]
    fn lines_views() {
        let vs = TypeDesc::VarString { utf8: true };
        let got = parse_text_view(
            TextFormat::Lines,
            &vs,
            b"plain\ntwo\\nlines\nback\\\\slash\n\n",
        )
        .unwrap();
        let want: Vec<Value> = [&b"plain"[..], b"two\nlines", b"back\\slash", b""]
            .iter()
            .map(|s| Value::Str(s.to_vec()))
            .collect();
        assert_eq!(got, want);
        assert_eq!(
            super::super::text::render(TextFormat::Lines, &want),
            b"plain\ntwo\\nlines\nback\\\\slash\n\n"
        );
        assert_eq!(
            parse_text_view(TextFormat::Lines, &vs, b"a\nb")
                .unwrap()
                .len(),
            2
        );
        assert_eq!(
            parse_text_view(TextFormat::Lines, &vs, b"").unwrap(),
            vec![]
        );
        assert_eq!(
            parse_text_view(TextFormat::Lines, &vs, b"\n").unwrap(),
            vec![Value::Str(vec![])]
        );
        assert_eq!(
            parse_text_view(TextFormat::Lines, &vs, b"ok\nbad\\t\n").unwrap_err(),
            "line 2: a backslash must be followed by \\ or n"
        );
        assert!(parse_text_view(TextFormat::Lines, &vs, b"end\\").is_err());
    }

    #[test]
    fn json_lines_views_and_refs() {
        let vl = TypeDesc::VarLen {
            base: Box::new(int(4, true, ByteOrder::Little)),
        };
        let got = parse_text_view(TextFormat::JsonLines, &vl, b"[1,2]\n[]\n").unwrap();
        assert_eq!(
            got,
            vec![
                Value::List(vec![Value::Int(1), Value::Int(2)]),
                Value::List(vec![])
            ]
        );
        assert_eq!(
            super::super::text::render(TextFormat::JsonLines, &got),
            b"[1,2]\n[]\n"
        );
        let e = parse_text_view(TextFormat::JsonLines, &vl, b"[1]\n[\"x\"]").unwrap_err();
        assert!(e.starts_with("line 2: [0]: expected an integer"), "{e}");
        assert!(parse_text_view(TextFormat::JsonLines, &vl, b"[1]\n\n")
            .unwrap_err()
            .starts_with("line 2: not JSON"));
        for f in [TextFormat::RefPaths, TextFormat::RegionRefs] {
            assert_eq!(
                parse_text_view(f, &TypeDesc::ObjectRef, b"/a\n").unwrap_err(),
                "references cannot be written"
            );
        }
    }
}
