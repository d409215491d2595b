#!/usr/bin/env python3
"""Check an h5fs Zarr mount (-o zarr) against h5py, with zarr-python.

usage: zarr_check.py MNT FILE [--json-out F] [--expected-only OUT.npz]
       zarr_check.py MNT --against OUT.npz [--json-out F]

The first form (Debian's python: h5py, numpy, zarr 2) opens the store with
zarr.open_consolidated(MNT) and zarr.open(MNT) and compares every array
with h5py's dataset of the same path (dtype, shape, every byte), checks
that the store holds exactly the datasets that have a Zarr form, and that
each chunk file of an array served as stored holds the chunk's stored
bytes (h5py's read_direct_chunk; a fletcher32 checksum cut off).

The second form is for an environment without h5py (current zarr-python
in its own venv): --expected-only OUT.npz of the first form saves h5py's
arrays, and --against compares the store with them.
"""

import argparse
import json
import os
import sys

import numpy as np

from views import drop_metadata

NOT_A_VARIABLE = b"This is a netCDF dimension but not a netCDF variable"


def zarr_form(ds):
    """Whether h5fs must put dataset `ds` in the store."""
    try:
        dt = ds.dtype
    except Exception:
        return False
    if ds.shape is None or dt.hasobject:
        return False
    base = dt.base
    if base.kind == "f" and base.itemsize > 8:
        return False
    if base.fields is not None and any(
            f[0].fields is not None or f[0].subdtype is not None
            for f in base.fields.values()):
        return False
    name = ds.attrs.get("NAME") if "NAME" in ds.attrs else None
    if isinstance(name, (bytes, np.bytes_)) and bytes(name).startswith(NOT_A_VARIABLE):
        return False
    return True


def expected_arrays(f):
    """{store key: h5py dataset} over hard links, as h5fs walks them."""
    import h5py
    out = {}

    def walk(grp, key, ancestors):
        names = []
        grp.id.links.iterate(names.append)
        for n in names:
            link = grp.get(n, getlink=True)
            if not isinstance(link, h5py.HardLink):
                continue
            try:
                name = n.decode("utf-8")
            except UnicodeDecodeError:
                continue
            if name.startswith(".") or "/" in name:
                continue
            try:
                obj = grp[n]
            except Exception:
                continue
            k = f"{key}/{name}" if key else name
            if isinstance(obj, h5py.Group):
                addr = h5py.h5o.get_info(obj.id).addr
                if addr not in ancestors:
                    walk(obj, k, ancestors | {addr})
            elif isinstance(obj, h5py.Dataset) and zarr_form(obj):
                out[k] = obj
    walk(f["/"], "", frozenset({h5py.h5o.get_info(f["/"].id).addr}))
    return out


def store_arrays(group):
    out = {}

    def walk(g, prefix):
        for k, a in g.arrays():
            out[prefix + k] = a
        for k, sub in g.groups():
            walk(sub, prefix + k + "/")
    walk(group, "")
    return out


def same(got, want):
    got, want = np.asarray(got), np.asarray(want)
    if got.shape != want.shape:
        return f"shape {got.shape} vs {want.shape}"
    if got.dtype.itemsize != want.dtype.itemsize:
        return f"dtype {got.dtype} vs {want.dtype}"
    if want.dtype.names:
        # Field by field: padding is nobody's bytes (numpy's npz writer and
        # zarr 3, which names it, do not keep it).
        for n in want.dtype.names:
            if np.asarray(got[n]).tobytes() != np.asarray(want[n]).tobytes():
                return f"field {n} differs"
        return None
    if got.tobytes() != want.tobytes():
        return "bytes differ"
    return None


def check_chunks(mnt, key, arr, ds, bad):
    """Stored chunk files hold the stored bytes; returns how many checked."""
    meta = json.load(open(os.path.join(mnt, key, ".zarray")))
    if meta["compressor"] is None and meta["filters"] is None:
        return 0
    n = 0
    dcpl = ds.id.get_create_plist()
    fletcher_last = dcpl.get_nfilters() > 0 and \
        dcpl.get_filter(dcpl.get_nfilters() - 1)[0] == 3
    for name in sorted(os.listdir(os.path.join(mnt, key)))[:200]:
        if name.startswith("."):
            continue
        grid = [int(x) for x in name.split(".")][:len(ds.chunks)]
        offset = tuple(g * c for g, c in zip(grid, ds.chunks))
        mask, stored = ds.id.read_direct_chunk(offset)
        if mask != 0:
            continue       # re-encoded: checked through the values
        if fletcher_last:
            stored = stored[:-4]
        with open(os.path.join(mnt, key, name), "rb") as fh:
            got = fh.read()
        if got != stored:
            bad.append({"path": key, "check": "chunk", "detail": f"{name}: not the stored bytes"})
        n += 1
    return n


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("mnt")
    ap.add_argument("file", nargs="?")
    ap.add_argument("--json-out")
    ap.add_argument("--expected-only", metavar="NPZ")
    ap.add_argument("--against", metavar="NPZ")
    args = ap.parse_args(argv)
    import zarr
    bad = []
    counts = {"arrays": 0, "chunks": 0, "zarr": zarr.__version__}
    if args.against:
        want = dict(np.load(args.against, allow_pickle=False))
    else:
        import h5py
        f = h5py.File(args.file, "r")
        dsets = expected_arrays(f)
        want = {}
        for k, ds in dsets.items():
            try:
                v = ds[()]
                if not isinstance(v, np.ndarray):
                    v = np.array(v, dtype=ds.dtype)     # scalars: the file's byte order
                # Without h5py's dtype metadata, which numpy 2 cannot load.
                v = v.view(drop_metadata(v.dtype))
                want[k] = v.reshape(ds.shape + ds.dtype.shape)
            except Exception:
                pass   # h5py cannot read it: nor can the store's chunks
        if args.expected_only:
            np.savez(args.expected_only, **want)
    for how in ("consolidated", "plain"):
        try:
            root = zarr.open_consolidated(args.mnt, mode="r") if how == "consolidated" \
                else zarr.open_group(args.mnt, mode="r")
            got = store_arrays(root)
        except Exception as e:
            bad.append({"path": "/", "check": how, "detail": f"{type(e).__name__}: {e}"})
            continue
        # Arrays h5py cannot read may be in the store only if served as
        # stored (numcodecs decodes what libhdf5 here cannot).
        unreadable = {k for k in got if k not in want and got[k].compressor is not None}
        if set(got) - unreadable != set(want) and not args.expected_only:
            missing = sorted(set(want) - set(got))[:10]
            extra = sorted(set(got) - unreadable - set(want))[:10]
            bad.append({"path": "/", "check": how, "detail": f"arrays differ: missing {missing}, extra {extra}"})
        for k in sorted(set(got) & set(want)):
            try:
                v = got[k][...]
                if not isinstance(v, np.ndarray):
                    v = np.array(v, dtype=got[k].dtype)   # zarr 3 gives 0-d as scalars
                d = same(v, want[k])
            except Exception as e:
                d = f"{type(e).__name__}: {e}"
            if d:
                bad.append({"path": k, "check": how, "detail": d})
        counts["arrays"] = len(got)
    if not args.against:
        for k, ds in dsets.items():
            if ds.chunks is not None and k in want:
                try:
                    counts["chunks"] += check_chunks(args.mnt, k, None, ds, bad)
                except Exception as e:
                    bad.append({"path": k, "check": "chunk", "detail": f"{type(e).__name__}: {e}"})
    res = dict(counts, mismatches=bad)
    if args.json_out:
        with open(args.json_out, "w") as fh:
            json.dump(res, fh, indent=1, default=str)
    print(f"zarr {counts['zarr']} {args.mnt}: {counts['arrays']} arrays, {counts['chunks']} "
          f"chunk files checked; {len(bad)} mismatches")
    for m in bad[:30]:
        print(f"  MISMATCH {m['path']} [{m['check']}] {m['detail']}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
