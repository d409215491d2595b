use super::*;
use crate::model::{Field, StrPad};

fn filter(id: i32, params: &[u32]) -> Filter {
    Filter {
        id,
        name: String::new(),
        params: params.to_vec(),
        available: true,
    }
}

#[test]
fn pipelines_map_when_numcodecs_reads_the_bytes() {
    // h5py's shuffle + gzip: shuffle is a filter, zlib the compressor.
    let p = map_filters(&[filter(2, &[4]), filter(1, &[6])], 4).unwrap();
    assert_eq!(p.filters, vec![Codec::Shuffle { elementsize: 4 }]);
    assert_eq!(p.compressor, Some(Codec::Zlib { level: 6 }));
    assert!(!p.strip_checksum);
    // fletcher32 last: cut off; anywhere else: no mapping.
    let p = map_filters(&[filter(2, &[8]), filter(1, &[4]), filter(3, &[])], 8).unwrap();
    assert!(p.strip_checksum);
    assert!(map_filters(&[filter(3, &[]), filter(1, &[4])], 8).is_none());
    // Shuffle after deflate (written by some): not whole elements.
    assert!(map_filters(&[filter(1, &[1]), filter(2, &[32])], 32).is_none());
    // A lone shuffle has no compressor.
    let p = map_filters(&[filter(2, &[2])], 2).unwrap();
    assert_eq!((p.filters.len(), p.compressor), (1, None));
    // blosc from hdf5plugin's cd_values; zstd; lz4, lzf, szip do not map.
    let p = map_filters(&[filter(32001, &[2, 2, 4, 4096, 5, 1, 1])], 4).unwrap();
    assert_eq!(
        p.compressor,
        Some(Codec::Blosc {
            cname: "lz4",
            clevel: 5,
            shuffle: 1
        })
    );
    assert!(map_filters(&[filter(32015, &[])], 4).is_some());
    for id in [32004, 32000, 4, 32008, 5, 6] {
        assert!(map_filters(&[filter(id, &[])], 4).is_none(), "{id}");
    }
    assert_eq!(map_filters(&[], 4).unwrap().compressor, None);
}

#[test]
fn zarray_documents() {
    let a = ArrayMeta {
        shape: vec![10, 7],
        chunks: vec![4, 3],
        dtype: json!(">f4"),
        fill_value: json!("NaN"),
        pipeline: map_filters(&[filter(2, &[4]), filter(1, &[6])], 4),
    };
    let z = zarray(&a);
    assert_eq!(z["filters"], json!([{"id": "shuffle", "elementsize": 4}]));
    assert_eq!(z["compressor"], json!({"id": "zlib", "level": 6}));
    assert_eq!(z["order"], "C");
    assert_eq!(z["zarr_format"], 2);
    let plain = zarray(&ArrayMeta {
        pipeline: None,
        ..a
    });
    assert_eq!(plain["filters"], Json::Null);
    assert_eq!(plain["compressor"], Json::Null);
}

#[test]
fn dtypes_and_what_has_no_zarr_form() {
    let f4 = TypeDesc::Float {
        size: 4,
        order: ByteOrder::Big,
    };
    let (_, dims, d) = zarr_dtype(&TypeDesc::Array {
        base: Box::new(f4.clone()),
        dims: vec![2, 3],
    })
    .unwrap();
    assert_eq!((dims, d), (vec![2, 3], json!(">f4")));
    assert!(zarr_dtype(&TypeDesc::VarString { utf8: true }).is_err());
    assert!(zarr_dtype(&TypeDesc::Float {
        size: 16,
        order: ByteOrder::Little
    })
    .is_err());
    let nested = TypeDesc::Compound {
        size: 8,
        fields: vec![Field {
            name: "a".into(),
            offset: 0,
            ty: TypeDesc::Array {
                base: Box::new(f4.clone()),
                dims: vec![2],
            },
        }],
    };
    assert!(zarr_dtype(&nested).is_err());
    let flat = TypeDesc::Compound {
        size: 8,
        fields: vec![Field {
            name: "a".into(),
            offset: 4,
            ty: f4,
        }],
    };
    assert_eq!(
        zarr_dtype(&flat).unwrap().2,
        json!([["", "|V4"], ["a", ">f4"]])
    );
}

#[test]
fn fill_values_per_type() {
    let int = TypeDesc::Int {
        size: 2,
        signed: true,
        order: ByteOrder::Big,
    };
    assert_eq!(fill_value(&int, &[0xff, 0x9d]), json!(-99));
    let f8 = TypeDesc::Float {
        size: 8,
        order: ByteOrder::Little,
    };
    assert_eq!(fill_value(&f8, &f64::NAN.to_le_bytes()), json!("NaN"));
    assert_eq!(
        fill_value(&f8, &f64::NEG_INFINITY.to_le_bytes()),
        json!("-Infinity")
    );
    assert_eq!(fill_value(&f8, &1.5f64.to_le_bytes()), json!(1.5));
    let f2 = TypeDesc::Float {
        size: 2,
        order: ByteOrder::Little,
    };
    assert_eq!(fill_value(&f2, &[0x00, 0x3e]), json!(1.5));
    assert_eq!(fill_value(&TypeDesc::Bool, &[1]), json!(true));
    let s = TypeDesc::FixedString {
        size: 6,
        utf8: false,
        pad: StrPad::NullPad,
    };
    assert_eq!(fill_value(&s, b"abc\0\0\0"), json!("YWJjAAAA"));
    assert_eq!(base64(b"ab"), "YWI=");
    assert_eq!(base64(b"a"), "YQ==");
    let c = TypeDesc::Complex {
        size: 8,
        order: ByteOrder::Little,
    };
    let mut b = 1.0f32.to_le_bytes().to_vec();
    b.extend(f32::INFINITY.to_le_bytes());
    assert_eq!(fill_value(&c, &b), json!([1.0, "Infinity"]));
}

#[test]
fn json_text_is_ascii_sorted_with_nan_tokens() {
    let j = json!({"b": [attr_value(&Value::Float(f64::NAN)), 1], "a": "é\u{1F600}", "e": {}});
    let t = String::from_utf8(to_text(&j)).unwrap();
    assert_eq!(
        t,
        "{\n    \"a\": \"\\u00e9\\ud83d\\ude00\",\n    \"b\": [\n        NaN,\n        1\n    ],\n    \"e\": {}\n}\n"
    );
    assert_eq!(
        attr_json(Some(&[1]), &[Value::Float(f64::INFINITY)]),
        json!(INF)
    );
    assert_eq!(
        attr_json(
            Some(&[2, 2]),
            &[Value::Int(1), Value::Int(2), Value::Int(3), Value::Int(4)]
        ),
        json!([[1, 2], [3, 4]])
    );
    assert_eq!(attr_json(None, &[]), Json::Null);
}

#[test]
fn chunk_keys() {
    assert_eq!(chunk_key(&[2, 4]), "2.4");
    assert_eq!(chunk_key(&[]), "0");
    assert_eq!(parse_chunk_key(b"2.4", &[3, 5]), Some(vec![2, 4]));
    assert_eq!(parse_chunk_key(b"0", &[]), Some(vec![]));
    for bad in [
        &b"3.0"[..],
        b"2",
        b"2.4.0",
        b"02.4",
        b"2.",
        b"-1.0",
        b"a.b",
        b".zarray",
    ] {
        assert_eq!(parse_chunk_key(bad, &[3, 5]), None, "{bad:?}");
    }
}

#[test]
fn contiguous_runs() {
    assert_eq!(row_chunks(&[1000, 100], 4, 4096), vec![10, 100]);
    // A row larger than the target: split along the next axis.
    assert_eq!(row_chunks(&[3, 1 << 20], 8, 4096), vec![1, 512]);
    assert_eq!(row_chunks(&[2, 3, 1000], 8, 16000), vec![1, 2, 1000]);
    assert_eq!(row_chunks(&[5], 8, 1 << 20), vec![5]);
    assert_eq!(row_chunks(&[0, 4], 8, 64), vec![1, 4]);
    assert_eq!(row_chunks(&[4, 0], 8, 64), vec![4, 1]);
    assert!(row_chunks(&[], 8, 64).is_empty());
}

#[test]
fn consolidated_is_the_whole_written_at_once() {
    let docs = vec![
        (".zattrs".to_string(), json!({})),
        (".zgroup".to_string(), zgroup()),
        ("a/.zattrs".to_string(), json!({"x": [1, 2]})),
    ];
    let whole = json!({
        "metadata": docs.iter().cloned().collect::<serde_json::Map<_, _>>(),
        "zarr_consolidated_format": 1
    });
    assert_eq!(consolidated_text(docs.into_iter()), to_text(&whole));
    let empty = json!({"metadata": {}, "zarr_consolidated_format": 1});
    assert_eq!(consolidated_text(std::iter::empty()), to_text(&empty));
}
