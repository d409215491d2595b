//! Text views of datasets whose elements have no fixed-size bytes.
//!
//! One element per line, in C order, each line ending in `\n`:
//! - `lines`: variable-length strings, with `\` written `\\` and a newline
//!   inside a string written `\n`, so every element stays on one line;
//! - `ref-paths`: object references as the target's path (empty if null);
//! - `region-refs`: the target's path, a tab, the selection as JSON;
//! - `json-lines`: anything else (sequences, records with variable parts) as
//!   compact JSON.
//!
//! [`render`] writes a view; [`parse_text_view`] is its inverse and reads the
//! elements back from the text written to a `lines` or `json-lines` view
//! (the last line's `\n` may be missing; an empty file is no elements; in
//! `lines` a backslash must be followed by `\` or `n`). References cannot be
//! written.

use serde_json::Value as Json;

use crate::model::{TypeDesc, Value};

use super::json::{value_from_json, value_to_json};

// ---------------------------------------------------------------- rendering

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextFormat {
    Lines,
    RefPaths,
    RegionRefs,
    JsonLines,
}

impl TextFormat {
    pub fn for_type(ty: &TypeDesc) -> TextFormat {
        match ty {
            TypeDesc::VarString { .. } => TextFormat::Lines,
            TypeDesc::ObjectRef => TextFormat::RefPaths,
            TypeDesc::RegionRef => TextFormat::RegionRefs,
            _ => TextFormat::JsonLines,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            TextFormat::Lines => "lines",
            TextFormat::RefPaths => "ref-paths",
            TextFormat::RegionRefs => "region-refs",
            TextFormat::JsonLines => "json-lines",
        }
    }
}

/// Escape one string element so it fits on one line.
pub fn escape_line(s: &[u8], out: &mut Vec<u8>) {
    for &b in s {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            _ => out.push(b),
        }
    }
}

pub fn render(format: TextFormat, values: &[Value]) -> Vec<u8> {
    let mut out = Vec::new();
    for v in values {
        match (format, v) {
            (TextFormat::Lines, Value::Str(s)) => escape_line(s, &mut out),
            (TextFormat::RefPaths, Value::Ref(p)) => {
                if let Some(p) = p {
                    out.extend_from_slice(p.as_bytes());
                }
            }
            (TextFormat::RegionRefs, Value::Region(r)) => {
                if let Some((p, sel)) = r {
                    out.extend_from_slice(p.as_bytes());
                    out.push(b'\t');
                    out.extend_from_slice(sel.to_string().as_bytes());
                }
            }
            (_, other) => out.extend_from_slice(value_to_json(other).to_string().as_bytes()),
        }
        out.push(b'\n');
    }
    out
}

// ---------------------------------------------------------------- parsing

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
    use crate::model::ByteOrder;

    // ---- rendering

    #[test]
    fn strings_are_escaped_one_per_line() {
        let v = vec![
            Value::Str(b"plain".to_vec()),
            Value::Str(b"two\nlines".to_vec()),
            Value::Str(b"back\\slash".to_vec()),
            Value::Str(Vec::new()),
        ];
        assert_eq!(
            render(TextFormat::Lines, &v),
            b"plain\ntwo\\nlines\nback\\\\slash\n\n"
        );
    }

    #[test]
    fn sequences_and_refs() {
        let v = vec![
            Value::List(vec![Value::Int(1), Value::Int(2)]),
            Value::List(vec![]),
        ];
        assert_eq!(render(TextFormat::JsonLines, &v), b"[1,2]\n[]\n");
        let r = vec![Value::Ref(Some("/a".into())), Value::Ref(None)];
        assert_eq!(render(TextFormat::RefPaths, &r), b"/a\n\n");
        let g = vec![Value::Region(Some((
            "/d".into(),
            serde_json::json!({"points": [[1]]}),
        )))];
        assert_eq!(
            render(TextFormat::RegionRefs, &g),
            b"/d\t{\"points\":[[1]]}\n"
        );
    }

    #[test]
    fn formats_follow_the_type() {
        assert_eq!(
            TextFormat::for_type(&TypeDesc::VarString { utf8: false }),
            TextFormat::Lines
        );
        assert_eq!(
            TextFormat::for_type(&TypeDesc::RegionRef),
            TextFormat::RegionRefs
        );
    }

    // ---- parsing

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
            render(TextFormat::Lines, &want),
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
        assert_eq!(render(TextFormat::JsonLines, &got), b"[1,2]\n[]\n");
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
