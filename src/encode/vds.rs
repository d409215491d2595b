//! A virtual dataset's `sources` in its sidecar, rendered and parsed.
//!
//! Each source is `{"file", "dataset", "source_select", "select"}`, as
//! h5py's `VirtualSource` mapped with `layout[select] = source[source_select]`;
//! a sidecar written to create one may add `"source_shape"` (h5py's
//! `VirtualSource(..., shape=)`), which libhdf5 does not keep. A selection is `"all"` (or absent), numpy index
//! text (`"0:100, 3, ::2"`; fewer indices than the rank leave the other axes
//! whole), or a regular hyperslab `{"start", "stride", "count", "block"}`
//! (stride and block default to 1; a `null` count is unlimited). Rendered
//! sidecars show hyperslabs, and `{"other": KIND}` for selections that are
//! neither (points, unions), which are never accepted back.

use serde_json::{json, Map, Value as Json};

use crate::model::{Axis, Select, Slab, VirtualSource};

/// The `sources` array; `mount_paths[i]`, when known, is where source `i`'s
/// dataset is in the mount (from its root), shown as `mount_path`.
pub fn sources_json(sources: &[VirtualSource], mount_paths: &[Option<String>]) -> Json {
    Json::Array(
        sources
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let mut o = Map::new();
                o.insert("file".into(), json!(s.file));
                o.insert("dataset".into(), json!(s.dataset));
                o.insert("source_select".into(), select_json(&s.source_select));
                o.insert("select".into(), select_json(&s.select));
                if let Some(Some(p)) = mount_paths.get(i) {
                    o.insert("mount_path".into(), json!(p));
                }
                Json::Object(o)
            })
            .collect(),
    )
}

fn select_json(s: &Select) -> Json {
    match s {
        Select::All => json!("all"),
        Select::Slab(slab) => json!({
            "start": slab.start,
            "stride": slab.stride,
            "count": slab.count,
            "block": slab.block,
        }),
        Select::Other(kind) => json!({ "other": kind }),
        Select::Slices(axes) => Json::String(
            axes.iter()
                .map(|a| match a {
                    Axis::Index(i) => i.to_string(),
                    Axis::Range { start, stop, step } => {
                        let f = |v: &Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
                        match step {
                            Some(st) => format!("{}:{}:{st}", f(start), f(stop)),
                            None => format!("{}:{}", f(start), f(stop)),
                        }
                    }
                })
                .collect::<Vec<_>>()
                .join(", "),
        ),
    }
}

/// The `sources` array of a sidecar written to create a virtual dataset.
pub fn parse_sources(v: &Json) -> Result<Vec<VirtualSource>, String> {
    let list = v.as_array().ok_or("sources: expected a list")?;
    if list.is_empty() {
        return Err("sources: a virtual dataset needs at least one source".into());
    }
    list.iter()
        .enumerate()
        .map(|(i, s)| parse_source(s).map_err(|e| format!("sources[{i}]: {e}")))
        .collect()
}

fn parse_source(v: &Json) -> Result<VirtualSource, String> {
    let o = v.as_object().ok_or("expected an object")?;
    let text = |k: &str| -> Result<String, String> {
        match o.get(k) {
            Some(Json::String(s)) if !s.is_empty() => Ok(s.clone()),
            _ => Err(format!("\"{k}\" must be a non-empty string")),
        }
    };
    let source_shape = match o.get("source_shape") {
        None | Some(Json::Null) => None,
        Some(Json::Array(a)) => Some(
            a.iter()
                .map(|d| d.as_u64().ok_or("source_shape: expected whole numbers"))
                .collect::<Result<Vec<u64>, _>>()?,
        ),
        Some(_) => return Err("source_shape: expected a list".into()),
    };
    Ok(VirtualSource {
        file: text("file")?,
        dataset: text("dataset")?,
        source_shape,
        source_select: parse_select(o.get("source_select"))
            .map_err(|e| format!("source_select: {e}"))?,
        select: parse_select(o.get("select")).map_err(|e| format!("select: {e}"))?,
    })
}

fn parse_select(v: Option<&Json>) -> Result<Select, String> {
    match v {
        None | Some(Json::Null) => Ok(Select::All),
        Some(Json::String(s)) if s.trim() == "all" => Ok(Select::All),
        Some(Json::String(s)) => parse_indices(s).map(Select::Slices),
        Some(Json::Object(o)) => {
            if let Some(kind) = o.get("other") {
                return Ok(Select::Other(kind.as_str().unwrap_or("other").to_string()));
            }
            let list =
                |k: &str, default: Option<u64>| -> Result<Option<Vec<Option<u64>>>, String> {
                    match o.get(k) {
                        None | Some(Json::Null) => Ok(None),
                        Some(Json::Array(a)) => a
                            .iter()
                            .map(|x| match x {
                                Json::Null if k == "count" => Ok(None),
                                Json::Null => Ok(default),
                                x => x
                                    .as_u64()
                                    .map(Some)
                                    .ok_or(format!("{k}: expected whole numbers")),
                            })
                            .collect::<Result<Vec<_>, _>>()
                            .map(Some),
                        Some(_) => Err(format!("{k}: expected a list")),
                    }
                };
            let start = list("start", None)?.ok_or("a hyperslab needs \"start\"")?;
            let count = list("count", None)?.ok_or("a hyperslab needs \"count\"")?;
            let ones = |k: &str| -> Result<Vec<u64>, String> {
                Ok(list(k, Some(1))?
                    .unwrap_or_else(|| vec![Some(1); start.len()])
                    .into_iter()
                    .map(|x| x.unwrap_or(1))
                    .collect())
            };
            Ok(Select::Slab(Slab {
                start: start
                    .iter()
                    .map(|x| x.ok_or("start: expected whole numbers"))
                    .collect::<Result<_, _>>()?,
                stride: ones("stride")?,
                count,
                block: ones("block")?,
            }))
        }
        Some(_) => Err("expected \"all\", index text or a hyperslab object".into()),
    }
}

/// numpy index text: `"3, 1:5, ::2, :"`.
fn parse_indices(s: &str) -> Result<Vec<Axis>, String> {
    let num = |t: &str| -> Result<Option<i64>, String> {
        let t = t.trim();
        if t.is_empty() {
            Ok(None)
        } else {
            t.parse::<i64>()
                .map(Some)
                .map_err(|_| format!("{t:?} is not an integer"))
        }
    };
    s.split(',')
        .map(|part| {
            let pieces: Vec<&str> = part.split(':').collect();
            match pieces[..] {
                [i] => num(i)?
                    .map(Axis::Index)
                    .ok_or_else(|| format!("empty index in {s:?}")),
                [a, b] => Ok(Axis::Range {
                    start: num(a)?,
                    stop: num(b)?,
                    step: None,
                }),
                [a, b, c] => Ok(Axis::Range {
                    start: num(a)?,
                    stop: num(b)?,
                    step: num(c)?,
                }),
                _ => Err(format!("{part:?} is not an index")),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selections_parse_in_three_forms() {
        assert_eq!(parse_select(None).unwrap(), Select::All);
        assert_eq!(parse_select(Some(&json!("all"))).unwrap(), Select::All);
        assert_eq!(
            parse_select(Some(&json!("2, 1:5, ::3"))).unwrap(),
            Select::Slices(vec![
                Axis::Index(2),
                Axis::Range {
                    start: Some(1),
                    stop: Some(5),
                    step: None
                },
                Axis::Range {
                    start: None,
                    stop: None,
                    step: Some(3)
                },
            ])
        );
        assert_eq!(
            parse_select(Some(&json!({"start": [0, 4], "count": [2, null]}))).unwrap(),
            Select::Slab(Slab {
                start: vec![0, 4],
                stride: vec![1, 1],
                count: vec![Some(2), None],
                block: vec![1, 1],
            })
        );
        assert!(parse_select(Some(&json!("1:x"))).is_err());
        assert!(parse_select(Some(&json!("1,,2"))).is_err());
        assert!(parse_select(Some(&json!({"count": [1]}))).is_err());
        assert!(parse_select(Some(&json!(3))).is_err());
    }

    #[test]
    fn rendered_sources_parse_back() {
        let src = VirtualSource {
            file: "a.h5".into(),
            dataset: "/x".into(),
            source_shape: None,
            source_select: Select::All,
            select: Select::Slab(Slab {
                start: vec![1, 0],
                stride: vec![1, 1],
                count: vec![Some(1), Some(1)],
                block: vec![1, 10],
            }),
        };
        let j = sources_json(std::slice::from_ref(&src), &[Some("/a.h5/x".into())]);
        assert_eq!(j[0]["mount_path"], json!("/a.h5/x"));
        assert_eq!(parse_sources(&j).unwrap(), vec![src]);
        let other = json!([{"file": ".", "dataset": "/x", "select": {"other": "points"}}]);
        let parsed = parse_sources(&other).unwrap();
        assert!(parsed[0].select.slab(&[3]).is_err());
    }

    #[test]
    fn sources_need_names() {
        assert!(parse_sources(&json!([])).is_err());
        assert!(parse_sources(&json!([{"file": "a.h5"}])).is_err());
        let e = parse_sources(&json!([{"file": "a.h5", "dataset": "/x", "source_shape": [-1]}]))
            .unwrap_err();
        assert!(e.starts_with("sources[0]: source_shape"), "{e}");
    }
}
