//! Text views of datasets whose elements have no fixed-size bytes.
//!
//! One element per line, in C order, each line ending in `\n`:
//! - `lines`: variable-length strings, with `\` written `\\` and a newline
//!   inside a string written `\n`, so every element stays on one line;
//! - `ref-paths`: object references as the target's path (empty if null);
//! - `region-refs`: the target's path, a tab, the selection as JSON;
//! - `json-lines`: anything else (sequences, records with variable parts) as
//!   compact JSON.

use crate::model::{TypeDesc, Value};

use super::json::value_to_json;

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
