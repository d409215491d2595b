#!/usr/bin/env python3
"""Compare xarray.open_zarr on an h5fs Zarr mount with xarray.open_dataset
on the netCDF file it shows.

usage: xarray_check.py MNT FILE --groups /,sub [--save OUT.pkl] [--json-out F]
       xarray_check.py MNT --against OUT.pkl --groups /,sub [--json-out F]

The first form (Debian's python: netCDF4, xarray, zarr 2) opens both and
compares variables, dimensions, coordinates, attributes and decoded values
(CF decoding: _FillValue, scale_factor, times); --save keeps what
open_dataset gave, so that the second form can compare another xarray and
zarr (a venv without netCDF4) with it.
"""

import argparse
import json
import pickle
import sys

import numpy as np


def describe(ds):
    """What must agree: per variable its dims, dtype kind, values, attrs."""
    out = {"dims": dict(ds.sizes), "coords": sorted(map(str, ds.coords)),
           "data_vars": sorted(map(str, ds.data_vars)), "attrs": plain(ds.attrs), "vars": {}}
    for name, v in ds.variables.items():
        out["vars"][str(name)] = {"dims": list(v.dims), "kind": v.dtype.kind,
                                  "values": np.asarray(v.values), "attrs": plain(v.attrs)}
    return out


def plain(attrs):
    out = {}
    for k, v in attrs.items():
        if isinstance(v, np.ndarray):
            v = v.tolist()
        elif isinstance(v, np.generic):
            v = v.item()
        if isinstance(v, (list, tuple)) and len(v) == 1:
            v = v[0]
        out[str(k)] = v
    return out


def same_values(a, b):
    if a.shape != b.shape:
        return f"shape {a.shape} vs {b.shape}"
    if a.dtype.kind in "fc" or b.dtype.kind in "fc":
        # JSON keeps no attribute dtypes: a float32 scale_factor decodes in
        # float64 through zarr.
        if not np.allclose(a.astype("c16"), b.astype("c16"), rtol=1e-6, equal_nan=True):
            return "values differ"
        return None
    if a.dtype.kind != b.dtype.kind or not np.array_equal(a, b):
        return f"values differ ({a.dtype} vs {b.dtype})"
    return None


def same_attr(a, b):
    if isinstance(a, float) or isinstance(b, float):
        try:
            return np.isclose(float(a), float(b), rtol=1e-6, equal_nan=True)
        except (TypeError, ValueError):
            return False
    return a == b


def compare(want, got, where, bad):
    for key in ("dims", "coords", "data_vars"):
        if want[key] != got[key]:
            bad.append(f"{where}: {key} {got[key]} vs {want[key]}")
    for k in set(want["attrs"]) | set(got["attrs"]):
        if not same_attr(want["attrs"].get(k), got["attrs"].get(k)):
            bad.append(f"{where}: attribute {k}: {got['attrs'].get(k)!r} vs {want['attrs'].get(k)!r}")
    for name, w in want["vars"].items():
        g = got["vars"].get(name)
        if g is None:
            bad.append(f"{where}/{name}: missing")
            continue
        if g["dims"] != w["dims"]:
            bad.append(f"{where}/{name}: dims {g['dims']} vs {w['dims']}")
        d = same_values(w["values"], g["values"])
        if d:
            bad.append(f"{where}/{name}: {d}: {g['values']!r} vs {w['values']!r}")
        for k in set(w["attrs"]) | set(g["attrs"]):
            if not same_attr(w["attrs"].get(k), g["attrs"].get(k)):
                bad.append(f"{where}/{name}: attribute {k}: {g['attrs'].get(k)!r} vs "
                           f"{w['attrs'].get(k)!r}")


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("mnt")
    ap.add_argument("file", nargs="?")
    ap.add_argument("--groups", default="/")
    ap.add_argument("--save")
    ap.add_argument("--against")
    ap.add_argument("--json-out")
    args = ap.parse_args(argv)
    import warnings
    warnings.simplefilter("ignore")
    import xarray as xr
    groups = args.groups.split(",")
    bad = []
    if args.against:
        with open(args.against, "rb") as fh:
            wants = pickle.load(fh)
    else:
        wants = {}
        for g in groups:
            with xr.open_dataset(args.file, group=None if g == "/" else g) as ds:
                wants[g] = describe(ds.load())
        if args.save:
            with open(args.save, "wb") as fh:
                pickle.dump(wants, fh)
    for g in groups:
        try:
            with xr.open_zarr(args.mnt, group=None if g == "/" else g, consolidated=True) as ds:
                compare(wants[g], describe(ds.load()), g, bad)
        except Exception as e:
            bad.append(f"{g}: open_zarr failed: {type(e).__name__}: {e}")
    res = {"xarray": xr.__version__, "groups": groups, "mismatches": bad}
    if args.json_out:
        with open(args.json_out, "w") as fh:
            json.dump(res, fh, indent=1, default=str)
    print(f"xarray {xr.__version__}: {len(groups)} groups; {len(bad)} mismatches")
    for b in bad[:30]:
        print("  MISMATCH", b)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
