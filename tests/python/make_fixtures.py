#!/usr/bin/python3
"""make_fixtures.py -- write the deterministic HDF5 test fixtures for h5fs.

Usage:
    /usr/bin/python3 tests/python/make_fixtures.py OUTDIR

Needs Debian's python3 with h5py 3.x (HDF5 1.10) and numpy.  Writes into OUTDIR:

    types.h5   every datatype / layout / filter / attribute kind the h5fs contract
               covers (see the group names below), plus two datasets that h5py
               itself cannot read (/unreadable/*), which the mount must answer with EIO.
    links.h5   creation-order tracked and untracked groups, soft links (absolute,
               relative, dangling, to root), hard links (dataset and group),
               external links (to ext.h5, dangling file, dangling path),
               committed datatypes, a real member "foo.json" beside dataset "foo",
               non-ASCII and odd member names.
    ext.h5     the target of links.h5's external links (with an external link back
               into links.h5).

Everything is deterministic: the same h5py/HDF5 versions give byte-identical files
(object time stamps are switched off).  Total size is well under 1 MB.

Check the fixtures against a mount with:
    /usr/bin/python3 tests/python/oracle.py MNT OUTDIR/types.h5
"""

import os
import sys

import numpy as np
import h5py
from h5py import h5a, h5d, h5f, h5g, h5p, h5s, h5t, h5z, h5r

# ----------------------------------------------------------------------------
# helpers (time stamps off so that files are reproducible)


def gcpl(track_order=False):
    p = h5p.create(h5p.GROUP_CREATE)
    p.set_obj_track_times(False)
    if track_order:
        p.set_link_creation_order(h5p.CRT_ORDER_TRACKED | h5p.CRT_ORDER_INDEXED)
        p.set_attr_creation_order(h5p.CRT_ORDER_TRACKED | h5p.CRT_ORDER_INDEXED)
    return p


def new_file(path, track_order=False, libver=None):
    """h5py.File(path, "w") whose root group has no time stamps."""
    fcpl = h5p.create(h5p.FILE_CREATE)
    fcpl.set_obj_track_times(False)
    if track_order:
        fcpl.set_link_creation_order(h5p.CRT_ORDER_TRACKED | h5p.CRT_ORDER_INDEXED)
        fcpl.set_attr_creation_order(h5p.CRT_ORDER_TRACKED | h5p.CRT_ORDER_INDEXED)
    fapl = h5p.create(h5p.FILE_ACCESS)
    if libver == "latest":
        fapl.set_libver_bounds(h5f.LIBVER_LATEST, h5f.LIBVER_LATEST)
    fid = h5f.create(path.encode(), h5f.ACC_TRUNC, fcpl=fcpl, fapl=fapl)
    return h5py.File(fid)


def group(parent, name, track_order=False):
    """Create a group without time stamps (h5py's create_group always tracks times)."""
    lcpl = h5p.create(h5p.LINK_CREATE)
    lcpl.set_create_intermediate_group(True)
    h5g.create(parent.id, name.encode("utf-8"), lcpl=lcpl, gcpl=gcpl(track_order))
    return parent[name]


def ds(parent, name, data=None, **kw):
    kw.setdefault("track_times", False)
    return parent.create_dataset(name, data=data, **kw)


def lowlevel_ds(parent, name, tid, shape, data=None, mtype=None, dcpl=None):
    """Create a dataset with an explicit HDF5 type through the low-level API."""
    if dcpl is None:
        dcpl = h5p.create(h5p.DATASET_CREATE)
    dcpl.set_obj_track_times(False)
    space = h5s.create(h5s.SCALAR) if shape == () else h5s.create_simple(shape)
    did = h5d.create(parent.id, name.encode("utf-8"), tid, space, dcpl=dcpl)
    if data is not None:
        did.write(h5s.ALL, h5s.ALL, data, mtype=mtype)
    return parent[name]


def fixed_str_type(size, pad, cset):
    t = h5t.C_S1.copy()
    t.set_size(size)
    t.set_strpad(pad)
    t.set_cset(cset)
    return t


def lowlevel_attr(obj, name, tid, shape, data, mtype=None):
    space = h5s.create(h5s.SCALAR) if shape == () else h5s.create_simple(shape)
    aid = h5a.create(obj.id, name.encode("utf-8"), tid, space)
    aid.write(data, mtype=mtype)


# ----------------------------------------------------------------------------
# attributes of every kind


def add_attrs(obj, f, ref_target, tag):
    """Attach one attribute of each kind the contract names to obj."""
    a = obj.attrs
    a["tag"] = tag                                               # vlen utf-8 str scalar
    a.create("str_fixed", np.bytes_(b"hello"), dtype="S5")       # fixed, exactly full
    a.create("str_fixed_pad", np.bytes_(b"abc"), dtype="S10")    # fixed, NULL padded
    a.create("str_fixed_utf8", "h\u00e9llo".encode("utf-8"),
             dtype=h5py.string_dtype("utf-8", 10))
    a["str_vlen"] = "vlen text"
    a["str_vlen_utf8"] = "\u00fcn\u00ef\ncode \\ tab\tend"
    a.create("str_vlen_ascii", b"ascii bytes", dtype=h5py.string_dtype("ascii"))
    a.create("int", 42, dtype="<i8")
    a.create("int_neg_i1", -5, dtype="i1")
    a.create("int_u8_max", np.uint64(2**64 - 1), dtype="<u8")
    a.create("int_i2_be", 1234, dtype=">i2")
    a.create("float", 3.14, dtype="<f8")
    a.create("float_one", 1.0, dtype="<f8")
    a.create("float_f4", np.float32(0.1), dtype="<f4")
    a.create("float_f2", np.float16(0.1), dtype="<f2")
    a.create("float_be", 2.5e-300, dtype=">f8")
    a.create("float_tiny", 1e-7, dtype="<f8")
    a.create("float_huge", 1e300, dtype="<f8")
    a.create("nan", np.nan, dtype="<f8")
    a.create("inf", np.inf, dtype="<f4")
    a.create("neg_inf", -np.inf, dtype="<f8")
    a["bool_true"] = np.bool_(True)
    a["bool_false"] = np.bool_(False)
    a["int_array"] = np.array([1, 2, 3], dtype="<i4")
    a["int_array_len1"] = np.array([7], dtype="<i2")
    a["float_array"] = np.array([0.5, np.nan, -np.inf, 1e-7], dtype="<f4")
    a["array_2d"] = np.arange(6, dtype=">i4").reshape(2, 3)
    a["bool_array"] = np.array([True, False, True])
    a.create("str_array_vlen", ["a", "b\nc", "\u00e9"], dtype=h5py.string_dtype())
    a.create("str_array_fixed", np.array([b"x", b"yy", b""], dtype="S3"))
    cdt = np.dtype([("x", "<i4"), ("y", "<f8"), ("name", "S4"), ("v", "<i2", (2,))])
    a.create("compound", np.array((1, 2.5, b"ab", [3, 4]), dtype=cdt)[()], dtype=cdt)
    a.create("compound_array", np.array([(1, 0.5, b"p", [1, 2]), (2, np.nan, b"qrst", [3, 4])],
                                        dtype=cdt))
    a.create("complex", np.complex128(1.5 - 2j), dtype="<c16")
    a.create("complex_array", np.array([1 + 1j, -0.5j], dtype=">c8"))
    a["ref"] = ref_target.ref
    refs = np.array([ref_target.ref, h5py.Reference(), f.ref], dtype=h5py.ref_dtype)
    a.create("ref_array", refs, dtype=h5py.ref_dtype)
    a.create("empty", h5py.Empty("<f4"))
    a.create("empty_str", h5py.Empty("S5"))
    a.create("zero_len", np.zeros((0,), dtype="<i4"))
    edt = h5py.enum_dtype({"OFF": 0, "ON": 1, "BROKEN": 9}, basetype="i1")
    a.create("enum_scalar", np.array(9, dtype=edt)[()], dtype=edt)
    # JSON text > 64 KiB while the raw value (48 KB) still fits an object header message
    a.create("big_array", np.arange(1000000, 1012000, dtype="<i4"))
    a["big_string"] = "x" * 70000            # vlen: text > 64 KiB, data in the global heap


# ----------------------------------------------------------------------------
# types.h5


def make_types(path):
    f = new_file(path)

    # --- integers, every size and both byte orders ---
    g = group(f, "ints")
    for kind in "iu":
        for size in (1, 2, 4, 8):
            for order, oname in (("<", "le"), (">", "be")):
                dt = np.dtype(f"{order}{kind}{size}")
                info = np.iinfo(dt)
                vals = [info.min, info.max, 0, 1, info.max // 3] + ([-1] if kind == "i" else [5])
                ds(g, f"{kind}{size}_{oname}", np.array(vals, dtype=dt))

    # --- floats ---
    g = group(f, "floats")
    for size in (2, 4, 8):
        for order, oname in (("<", "le"), (">", "be")):
            dt = np.dtype(f"{order}f{size}")
            vals = np.array([0.0, -0.0, 1.5, np.nan, np.inf, -np.inf, 0.1, 65504.0, 1e-7],
                            dtype=dt)
            ds(g, f"f{size}_{oname}", vals)
    ds(g, "f8_2d", np.linspace(-1, 1, 12).reshape(3, 4))

    # --- bool, complex ---
    g = group(f, "misc")
    ds(g, "bool", np.array([True, False, True, True]))
    for dt, n in (("<c8", "c8_le"), (">c8", "c8_be"), ("<c16", "c16_le"), (">c16", "c16_be")):
        ds(g, n, np.array([1 + 2j, -0.5j, np.nan + 1j, 3], dtype=dt))

    # --- enums ---
    g = group(f, "enum")
    e1 = h5py.enum_dtype({"RED": 0, "GREEN": 1, "BLUE": -3}, basetype="i1")
    ds(g, "enum_i1", np.array([0, 1, -3, 1], dtype="i1"), dtype=e1)
    e2 = h5py.enum_dtype({"LOW": 1, "HIGH": 0x1234, "MAX": 0xFFFF}, basetype=np.dtype(">u2"))
    ds(g, "enum_u2_be", np.array([1, 0x1234, 0xFFFF], dtype=">u2"), dtype=e2)

    # --- fixed-length strings: every padding, ascii and utf-8 ---
    g = group(f, "strings")
    words = [b"ab", b"abcdef", "\u00e9t\u00e9".encode("utf-8"), b""]
    for pad_name, pad in (("nullpad", h5t.STR_NULLPAD), ("nullterm", h5t.STR_NULLTERM),
                          ("spacepad", h5t.STR_SPACEPAD)):
        for cs_name, cs in (("ascii", h5t.CSET_ASCII), ("utf8", h5t.CSET_UTF8)):
            ftype = fixed_str_type(6, pad, cs)
            mtype = fixed_str_type(6, h5t.STR_NULLPAD, cs)
            lowlevel_ds(g, f"fixed_{cs_name}_{pad_name}", ftype, (4,),
                        np.array(words, dtype="S6"), mtype=mtype)
    ds(g, "fixed_2d", np.array([[b"a", b"bb"], [b"ccc", b"dddd"]], dtype="S4"))
    ds(g, "fixed_scalar", np.bytes_(b"hi"), dtype="S8")

    # --- compounds ---
    g = group(f, "compound")
    simple = np.dtype([("a", "<i4"), ("b", "<f8"), ("c", "S3")])
    ds(g, "simple", np.array([(1, 1.5, b"x"), (-2, np.nan, b"yz")], dtype=simple))
    inner = np.dtype([("x", "<i2"), ("y", ">f4")])
    nested = np.dtype([("id", "<u4"), ("pos", inner), ("tags", "S2", (2,)),
                       ("m", "<f4", (2, 2))])
    ds(g, "nested", np.array([(7, (1, 2.5), [b"p", b"q"], [[1, 2], [3, 4]]),
                              (8, (-1, -2.5), [b"rr", b""], [[5, 6], [7, 8]])], dtype=nested))
    padded = np.dtype({"names": ["a", "b", "c"], "formats": ["<i2", ">f8", ("<i4", (2,))],
                       "offsets": [0, 4, 16], "itemsize": 32})
    ds(g, "padded", np.array([(1, 2.0, [3, 4]), (5, -6.5, [7, 8]), (9, 0.1, [-1, -2])],
                             dtype=padded))
    with_enum = np.dtype([("state", e1), ("flag", "?"), ("c", "<c8")])
    ds(g, "with_enum_bool_complex", np.array([(1, True, 1j), (-3, False, 2)], dtype=with_enum))
    ds(g, "scalar", np.array((3, 4.5, b"sc"), dtype=simple)[()], dtype=simple)

    # --- array datatypes ---
    g = group(f, "array")
    d = ds(g, "f8x3", shape=(4,), dtype=np.dtype(("<f8", (3,))))
    d[...] = np.arange(12, dtype="<f8").reshape(4, 3)
    d = ds(g, "i2x2x3_be", shape=(2,), dtype=np.dtype((">i2", (2, 3))))
    d[...] = np.arange(12, dtype=">i2").reshape(2, 2, 3)
    d = ds(g, "compound_x2", shape=(2,), dtype=np.dtype((inner, (2,))))
    d[...] = np.array([[(1, 1.0), (2, 2.0)], [(3, 3.0), (4, 4.0)]], dtype=inner)
    d = ds(g, "scalar_u1x4", shape=(), dtype=np.dtype(("u1", (4,))))
    d[()] = np.array([1, 2, 3, 250], dtype="u1")

    # --- opaque, datetime, bitfield ---
    g = group(f, "opaque")
    ds(g, "void8", np.array([b"\x00\x01\x02\x03\x04\x05\x06\x07", b"ABCDEFGH"], dtype="V8"))
    odt = h5py.opaque_dtype(np.dtype("<M8[s]"))
    ds(g, "datetime64_s", np.array([0, 86400, 10**9], dtype="<M8[s]").astype(odt))
    tdt = h5py.opaque_dtype(np.dtype("<m8[ms]"))
    ds(g, "timedelta64_ms", np.array([1, -1000], dtype="<m8[ms]").astype(tdt))
    g = group(f, "bitfield")
    for name, tid, vals in (("b8le", h5t.STD_B8LE, [1, 2, 128, 255]),
                            ("b16be", h5t.STD_B16BE, [1, 0x1234, 0xFFFF]),
                            ("b32le", h5t.STD_B32LE, [1, 0xDEADBEEF])):
        d = lowlevel_ds(g, name, tid, (len(vals),))
        d[...] = np.array(vals, dtype=d.dtype)

    # --- variable length ---
    g = group(f, "vlen")
    sdt = h5py.string_dtype("utf-8")
    ds(g, "str_utf8", np.array(["plain", "new\nline", "back\\slash", "", "\u00fcn\u00efc\u00f8de",
                                "both \\n and\n", "tab\there"], dtype=object), dtype=sdt)
    adt = h5py.string_dtype("ascii")
    ds(g, "str_ascii", np.array([b"abc", b"x\\y\nz", b"raw \xff\xfe bytes", b""], dtype=object),
       dtype=adt)
    ds(g, "str_2d", np.array([["a", "b", "c"], ["d", "e\n", "f\\"]], dtype=object), dtype=sdt)
    ds(g, "str_scalar", "just one\nstring", dtype=sdt)
    ds(g, "str_empty", h5py.Empty(sdt))
    d = ds(g, "int_seq", shape=(4,), dtype=h5py.vlen_dtype(np.dtype("<i4")))
    for i, v in enumerate([[1, 2, 3], [], [-4], list(range(10))]):
        d[i] = np.array(v, dtype="<i4")
    d = ds(g, "f8_seq_be", shape=(2,), dtype=h5py.vlen_dtype(np.dtype(">f8")))
    d[0] = np.array([0.5, np.nan], dtype=">f8")
    d[1] = np.array([np.inf], dtype=">f8")
    cvl = np.dtype([("id", "<i4"), ("name", sdt), ("vals", h5py.vlen_dtype(np.dtype("<f4")))])
    d = ds(g, "compound_vlen", shape=(2,), dtype=cvl)
    d[0] = (1, "first\n", np.array([1.5, 2.5], dtype="<f4"))
    d[1] = (2, "", np.array([], dtype="<f4"))
    d = ds(g, "str_array2", shape=(2,), dtype=np.dtype((sdt, (2,))))
    d[0] = ["a", "b"]
    d[1] = ["c\n", "d"]

    # --- references ---
    g = group(f, "refs")
    target = f["ints/i4_le"]
    grid = ds(g, "grid", np.arange(20, dtype="<i4").reshape(4, 5))
    d = ds(g, "objref", shape=(4,), dtype=h5py.ref_dtype)
    d[0] = target.ref
    d[1] = f["floats"].ref
    d[2] = f.ref
    # d[3] stays a null reference
    d = ds(g, "regionref", shape=(3,), dtype=h5py.regionref_dtype)
    d[0] = grid.regionref[1:3, 0:4:2]
    sp = grid.id.get_space()
    sp.select_elements(np.array([[0, 0], [3, 4], [2, 1]], dtype="u8"))
    d[1] = h5r.create(f.id, b"/refs/grid", h5r.DATASET_REGION, sp)
    # d[2] stays a null region reference
    ds(g, "objref_scalar", grid.ref, dtype=h5py.ref_dtype)
    cref = np.dtype([("obj", h5py.ref_dtype), ("n", "<i4")])
    d = ds(g, "compound_ref", shape=(2,), dtype=cref)
    d[0] = (grid.ref, 1)
    d[1] = (target.ref, 2)

    # --- scalars, empties, zero-size ---
    g = group(f, "scalar")
    ds(g, "i4", np.int32(-17))
    ds(g, "f8", np.float64(2.5))
    ds(g, "bool", np.bool_(True))
    ds(g, "c16", np.complex128(1 - 1j))
    g = group(f, "empty")
    ds(g, "f4", h5py.Empty("<f4"))
    ds(g, "i8_be", h5py.Empty(">i8"))
    ds(g, "S5", h5py.Empty("S5"))
    ds(g, "compound", h5py.Empty(simple))
    ds(g, "zero_size_1d", np.zeros((0,), dtype="<f4"))
    ds(g, "zero_size_2d", np.zeros((3, 0), dtype=">i2"))
    ds(g, "zero_size_chunked", shape=(0, 4), maxshape=(None, 4), dtype="<i4", chunks=(2, 4))

    # --- layouts ---
    g = group(f, "layout")
    d = ds(g, "chunked3d", shape=(6, 8, 10), dtype="<i2", chunks=(3, 4, 5), fillvalue=7,
           maxshape=(None, 8, 10))
    d[0:3, 0:4, 0:5] = np.arange(60, dtype="<i2").reshape(3, 4, 5)
    d[4, 5, 7] = -1                                   # second chunk, partly written
    d = ds(g, "chunked_edge", shape=(5, 7), dtype="<f4", chunks=(2, 3), fillvalue=-1.5)
    d[0:4, 0:6] = np.arange(24, dtype="<f4").reshape(4, 6)
    d[4, 6] = 99
    dcpl = h5p.create(h5p.DATASET_CREATE)
    dcpl.set_layout(h5d.COMPACT)
    lowlevel_ds(g, "compact", h5t.STD_I32LE, (10,), np.arange(10, dtype="<i4"), dcpl=dcpl)
    dcpl = h5p.create(h5p.DATASET_CREATE)
    dcpl.set_layout(h5d.COMPACT)
    lowlevel_ds(g, "compact_scalar_be", h5t.IEEE_F64BE, (), np.array(6.25, dtype=">f8"), dcpl=dcpl)
    ds(g, "contiguous_be_2d", np.arange(16 * 12, dtype=">f8").reshape(16, 12) / 7.0)
    ds(g, "contiguous_unwritten", shape=(5,), dtype="<i4", fillvalue=-3)

    # --- filters ---
    g = group(f, "filters")
    base = (np.sin(np.arange(2000)) * 1000).astype("<f4").reshape(50, 40)
    ds(g, "gzip_shuffle", base, chunks=(10, 10), compression="gzip", compression_opts=4,
       shuffle=True)
    ds(g, "gzip9_i8_be", np.arange(3000, dtype=">i8"), chunks=(256,), compression="gzip",
       compression_opts=9)
    ds(g, "fletcher32", np.arange(500, dtype="<i4"), chunks=(100,), fletcher32=True)
    ds(g, "lzf", base.astype("<f8"), chunks=(25, 20), compression="lzf")
    ds(g, "shuffle_fletcher_gzip", np.arange(1000, dtype="<u2"), chunks=(128,), shuffle=True,
       fletcher32=True, compression="gzip")
    d = ds(g, "gzip_sparse", shape=(100, 100), dtype="<i4", chunks=(10, 10), compression="gzip",
           fillvalue=42)
    d[5:15, 5:15] = 1

    # --- dimension scales ---
    g = group(f, "dims")
    data = ds(g, "data", np.arange(12, dtype="<f4").reshape(3, 4))
    ys = ds(g, "y", np.array([10, 20, 30], dtype="<i4"))
    xs = ds(g, "x", np.array([0.0, 0.5, 1.0, 1.5]))
    ys.make_scale("y")
    xs.make_scale("x")
    data.dims[0].label = "lat"
    data.dims[1].label = "lon"
    data.dims[0].attach_scale(ys)
    data.dims[1].attach_scale(xs)

    # --- things h5py cannot read: the mount must answer EIO, the rest must work ---
    g = group(f, "unreadable")
    dcpl = h5p.create(h5p.DATASET_CREATE)
    dcpl.set_chunk((4,))
    dcpl.set_filter(32123, h5z.FLAG_OPTIONAL, (1, 2))   # unregistered filter id
    d = lowlevel_ds(g, "unknown_filter", h5t.STD_I32LE, (8,), dcpl=dcpl)
    d.id.write_direct_chunk((0,), b"\x01" * 16, filter_mask=0)
    d.id.write_direct_chunk((4,), b"\x02" * 16, filter_mask=0)
    t = h5t.STD_U64LE.copy()
    t.set_size(16)
    t.set_precision(128)
    lowlevel_ds(g, "u128", t, (2,))                     # no numpy type
    ds(g, "readable_neighbour", np.arange(3, dtype="<i4"))

    # --- attributes on root, a group and a dataset ---
    add_attrs(f, f, target, "root")
    ag = group(f, "attrs")
    add_attrs(ag, f, target, "group")
    ad = ds(ag, "dataset", np.arange(4, dtype="<i4"))
    add_attrs(ad, f, ag, "dataset")
    lowlevel_attr(ad, "str_spacepad", fixed_str_type(8, h5t.STR_SPACEPAD, h5t.CSET_ASCII), (),
                  np.array(b"pad", dtype="S8"), mtype=fixed_str_type(8, h5t.STR_NULLPAD,
                                                                     h5t.CSET_ASCII))
    lowlevel_attr(ad, "str_nullterm_utf8", fixed_str_type(8, h5t.STR_NULLTERM, h5t.CSET_UTF8), (),
                  np.array("\u00e9t\u00e9".encode("utf-8"), dtype="S8"),
                  mtype=fixed_str_type(8, h5t.STR_NULLPAD, h5t.CSET_UTF8))
    f.close()


# ----------------------------------------------------------------------------
# links.h5 and ext.h5


def make_ext(path):
    # newest file format (superblock v3, v2 object headers) for variety
    f = new_file(path, libver="latest")
    g = group(f, "data")
    ds(g, "vec", np.arange(10, dtype="<f8") * 1.5)
    grp = group(f, "grp", track_order=True)
    grp.attrs["origin"] = "ext.h5"
    ds(grp, "values", np.array([3, 1, 2], dtype=">i4"))
    ds(grp, "label", "external group", dtype=h5py.string_dtype())
    sub = group(grp, "sub")
    ds(sub, "deep", np.array([[1, 2], [3, 4]], dtype="<u1"))
    grp["soft_in_ext"] = h5py.SoftLink("/data/vec")
    grp["back"] = h5py.ExternalLink("links.h5", "/zebra")
    f.close()


def make_links(path):
    f = new_file(path, track_order=True)
    # root members are created out of alphabetical order and tracked

    z = group(f, "zebra", track_order=True)
    for name in ("c", "a", "b"):                                    # creation order c, a, b
        ds(z, name, np.array([ord(name)], dtype="<i4"))
    group(z, "0_sub", track_order=True)
    ds(z, "B_upper", np.array([1.0]))

    u = group(f, "untracked")                                          # name order
    for name in ("z", "y", "x", "X", "a.b", "a"):
        ds(u, name, np.frombuffer(name.encode(), dtype="u1"))

    d = group(f, "data", track_order=True)
    ds(d, "foo", np.arange(5, dtype="<i2"))
    ds(d, "foo.json", np.bytes_(b'{"real": true}'), dtype="S14")   # real member wins
    ds(d, "bar", np.arange(3, dtype="<i2"))
    ds(d, "\u00fcn\u00efc\u00f8de", np.array([1], dtype="u1"))
    ds(d, "with space", np.array([2], dtype="u1"))
    ds(d, "sub", np.arange(4, dtype="<i8"))

    lk = group(f, "links", track_order=True)
    lk["abs"] = h5py.SoftLink("/zebra/a")
    lk["rel"] = h5py.SoftLink("sub/ds")
    group(lk, "sub")
    ds(lk["sub"], "ds", np.array([1, 2, 3], dtype="<u2"))
    lk["dangling"] = h5py.SoftLink("/nope/nothing")
    lk["rel_dangling"] = h5py.SoftLink("missing")
    lk["to_root"] = h5py.SoftLink("/")
    lk["to_group"] = h5py.SoftLink("/untracked")
    deep = group(lk, "deep/g2")
    deep["abs2"] = h5py.SoftLink("/untracked/x")
    deep["up_root"] = h5py.SoftLink("/")
    f["root_soft"] = h5py.SoftLink("/data/foo")

    h = group(f, "hard", track_order=True)
    ds(h, "ds_a", np.arange(6, dtype="<f4"))
    h["ds_b"] = h["ds_a"]                                              # same dataset twice
    hg = group(h, "grp_a")
    ds(hg, "inner", np.array([9], dtype="u1"))
    h["grp_b"] = hg                                                    # same group twice
    h["alias_of_zebra_a"] = f["zebra/a"]                               # across groups

    e = group(f, "ext", track_order=True)
    e["ds"] = h5py.ExternalLink("ext.h5", "/data/vec")
    e["grp"] = h5py.ExternalLink("ext.h5", "/grp")
    e["dangling_file"] = h5py.ExternalLink("missing.h5", "/x")
    e["dangling_path"] = h5py.ExternalLink("ext.h5", "/no/such")

    t = group(f, "types", track_order=True)
    t["point"] = np.dtype([("x", "<f8"), ("y", "<f8")])
    t["color"] = h5py.enum_dtype({"R": 0, "G": 1, "B": 2}, basetype="u1")
    ds(t, "points", np.array([(1.0, 2.0), (3.0, 4.0)], dtype=t["point"].dtype), dtype=t["point"])
    f.attrs["file"] = "links.h5"
    f.close()


def main(argv):
    if len(argv) != 2:
        sys.stderr.write(__doc__)
        return 2
    out = argv[1]
    os.makedirs(out, exist_ok=True)
    make_types(os.path.join(out, "types.h5"))
    make_ext(os.path.join(out, "ext.h5"))
    make_links(os.path.join(out, "links.h5"))
    total = sum(os.path.getsize(os.path.join(out, n)) for n in ("types.h5", "ext.h5", "links.h5"))
    print(f"make_fixtures: wrote types.h5 ext.h5 links.h5 to {out} ({total} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
