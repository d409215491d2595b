#!/usr/bin/env python3
"""Check the header views of an h5fs mount (-o views=...) against h5py.

usage: views.py MNT FILE --views LIST [--json-out F] [--max-bytes N]

For every dataset h5py can open (walking hard links from the root; each
object once, under its first name), the views that must exist beside it are
worked out here, independently of h5fs, and each is checked with the tool
it is for:
  npy   numpy: np.load and np.load(mmap_mode="r") equal ds[()], and the
        header is byte for byte what np.save writes for that array
  envi  GDAL: gdal.Open(NAME) is the ENVI driver and ReadAsArray() equals
        ds[()]; a geotransform only from evenly spaced, north-up scales
  nrrd  pynrrd: nrrd.read(NAME.nhdr) equals ds[()]; spacing and origin
        equal the dimension scales'
  mhd   SimpleITK: ReadImage(NAME.mhd) equals ds[()] (ranks 2 to 5, what
        ITK reads); spacing and origin equal the scales'
Views that must not exist must be absent. `expected_views` is also used by
oracle.py for listings.
"""

import argparse
import io
import json
import os
import sys

import numpy as np

ALL = ["npy", "envi", "nrrd", "mhd"]
SUFFIX = {"npy": b".npy", "envi": b".hdr", "nrrd": b".nhdr", "mhd": b".mhd"}
MAX_SCALE = 1 << 20


def parse_views(text):
    out = []
    for v in text.split(":"):
        out += ALL if v == "all" else [v]
    return [v for v in ALL if v in out]


def full_shape_and_base(ds):
    """(shape of ds[()], element dtype) or None when numpy cannot hold it."""
    try:
        dt = ds.dtype
    except Exception:
        return None
    if ds.shape is None or dt.hasobject:
        return None
    return tuple(ds.shape) + tuple(dt.shape), dt.base


def numeric(base):
    if base.fields is not None:
        return False
    k, n = base.kind, base.itemsize
    return ((k in "iu" and n in (1, 2, 4, 8)) or (k == "b") or (k == "f" and n in (4, 8))
            or (k == "c" and n in (8, 16)))


def plain_name(name):
    try:
        name.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return not any(c in name for c in b"%\n\r\0") and name[-1:] not in (b" ", b"\t", b"\x0b",
                                                                      b"\x0c")


def applies(view, ds, name):
    sb = full_shape_and_base(ds)
    if sb is None:
        return False
    shape, base = sb
    if view == "npy":
        return True
    if not numeric(base) or len(shape) == 0:
        return False
    if view == "envi":
        ext = name.rsplit(b".", 1)[1].lower() if b"." in name else b""
        if ext in (b"hdr", b"sta", b"zarr"):
            return False     # GDAL will not open such a data file as ENVI
        count = int(np.prod(shape, dtype=object))
        bands = int(np.prod(shape[:-2], dtype=object)) if len(shape) > 2 else 1
        return (not (base.kind == "i" and base.itemsize == 1) and count * base.itemsize >= 2
                and bands <= 65536 and shape[-1] < 2**31
                and (len(shape) < 2 or shape[-2] < 2**31))
    return plain_name(name)


def expected_views(ds, name, members, views):
    """The view names h5fs must list after dataset `ds` named `name` (bytes)
    in a group whose real member names are `members`."""
    out = []
    for v in views:
        n = name + SUFFIX[v]
        if n not in members and len(n) <= 255 and applies(v, ds, name):
            out.append(n)
    return out


def scale_axes(ds, shape):
    """(origin, spacing) per axis from evenly spaced 1-D numeric scales."""
    axes = [None] * len(shape)
    try:
        dims = ds.dims
        n = len(ds.shape)
    except Exception:
        return axes
    for i in range(n):
        try:
            if len(dims[i]) == 0:
                continue
            s = dims[i][0]
            if s.ndim != 1 or s.dtype.kind not in "iuf" or s.shape[0] != shape[i] \
                    or s.shape[0] > MAX_SCALE or s.shape[0] < 2:
                continue
            v = s[()].astype("f8")
        except Exception:
            continue
        step = (v[-1] - v[0]) / (len(v) - 1)
        if not np.isfinite(step) or step == 0:
            continue
        if np.all(np.abs(v - (v[0] + np.arange(len(v)) * step)) <= abs(step) * 1e-3):
            axes[i] = (float(v[0]), float(step))
    return axes


def native(a):
    """The values of `a` in native byte order, bool as bytes."""
    a = np.asarray(a)
    if a.dtype.kind == "b":
        a = a.view("u1")
    return a.astype(a.dtype.newbyteorder("="), copy=False)


def as_channels(data):
    """Complex numbers as a last axis of (real, imaginary), as NRRD and
    MetaImage show them."""
    if data.dtype.kind != "c":
        return data
    part = np.dtype(f"f{data.dtype.itemsize // 2}").newbyteorder(data.dtype.byteorder)
    return data.view(part).reshape(data.shape + (2,))


def same_values(got, want):
    got, want = native(got), native(want)
    return got.shape == want.shape and got.tobytes() == want.tobytes()


class Checker:
    def __init__(self, mnt, views, max_bytes):
        self.mnt = mnt
        self.views = views
        self.max_bytes = max_bytes
        self.mismatches = []
        self.counts = {v: 0 for v in ALL}
        self.counts["datasets"] = 0
        self.seen = set()
        self.listings = {}

    def bad(self, path, view, detail):
        self.mismatches.append({"path": path, "view": view, "detail": detail})

    def listing(self, dirpath):
        if dirpath not in self.listings:
            self.listings[dirpath] = set(os.listdir(dirpath))
        return self.listings[dirpath]

    def walk(self, grp, mrel):
        import h5py
        names = []
        grp.id.links.iterate(names.append)
        members = set(names)
        for name in names:
            link = grp.get(name, getlink=True)
            if not isinstance(link, h5py.HardLink):
                continue
            try:
                obj = grp[name]
            except Exception:
                continue
            key = obj.id.fileno, h5py.h5o.get_info(obj.id).addr
            if key in self.seen:
                continue
            self.seen.add(key)
            child = os.path.join(mrel, name)
            if isinstance(obj, h5py.Group):
                self.walk(obj, child)
            elif isinstance(obj, h5py.Dataset):
                try:
                    self.check(obj, name, members, os.path.join(self.mnt, mrel))
                except Exception as e:
                    self.bad(obj.name, "?", f"checker failed: {type(e).__name__}: {e}")

    def check(self, ds, name, members, dirpath):
        self.counts["datasets"] += 1
        listed = self.listing(dirpath)
        want = expected_views(ds, name, members, self.views)
        for v in self.views:
            n = name + SUFFIX[v]
            if n in members:
                continue
            if (n in want) != (n in listed):
                self.bad(ds.name, v, f"{n!r} listed: {n in listed}, expected: {n in want}")
        sb = full_shape_and_base(ds)
        if sb is None or not want:
            return
        shape, base = sb
        nbytes = int(np.prod(shape, dtype=object)) * base.itemsize
        if nbytes > self.max_bytes:
            return
        try:
            data = ds[()]
        except Exception:
            return      # h5py cannot read it: the mount's EIO is oracle.py's business
        if not isinstance(data, np.ndarray):
            data = np.array(data, dtype=ds.dtype)    # scalars: in the file's byte order
        data = data.reshape(shape)
        axes = scale_axes(ds, shape)
        path = os.path.join(dirpath, name)
        for v in self.views:
            if name + SUFFIX[v] in want:
                self.counts[v] += 1
                getattr(self, "check_" + v)(ds.name, path, data, axes)

    def check_npy(self, where, path, data, axes):
        p = path + b".npy"
        for mode in (None, "r"):
            a = np.load(p, mmap_mode=mode)
            if a.shape != data.shape or np.asarray(a).tobytes() != data.tobytes():
                self.bad(where, "npy", f"np.load(mmap_mode={mode}) differs: shape {a.shape} "
                                       f"vs {data.shape}")
                return
        a = np.load(p, mmap_mode="r")
        names = data.dtype.names
        in_order = names is None or list(names) == sorted(
            names, key=lambda n: data.dtype.fields[n][1])
        if in_order:
            plain = drop_metadata(data.dtype)
            if a.dtype != plain:
                self.bad(where, "npy", f"dtype {a.dtype} vs h5py's {plain}")
            want_head = np_header(data.view(plain))
            with open(p, "rb") as fh:
                got_head = fh.read(len(want_head))
            if got_head != want_head:
                self.bad(where, "npy", f"header {got_head!r} differs from numpy's {want_head!r}")
        if os.stat(p).st_size != a.offset + data.nbytes:
            self.bad(where, "npy", "st_size is not header + data")

    def check_envi(self, where, path, data, axes):
        from osgeo import gdal
        gdal.UseExceptions()
        try:
            d = gdal.Open(path.decode("utf-8", "surrogateescape"))
        except RuntimeError as e:
            # ENVI's 64-bit integer codes 14 and 15: Debian 12's GDAL 3.6
            # refuses them (later releases read them).
            if data.dtype.kind in "iu" and data.dtype.itemsize == 8 and \
                    "data_type" in str(e) and int(gdal.VersionInfo()) < 3070000:
                self.counts["envi_int64_gdal_too_old"] = \
                    self.counts.get("envi_int64_gdal_too_old", 0) + 1
                return
            raise
        if d.GetDriver().ShortName != "ENVI":
            # Another driver claimed the raw bytes first; ENVI must still read it.
            d = gdal.OpenEx(path.decode("utf-8", "surrogateescape"), allowed_drivers=["ENVI"])
        got = d.ReadAsArray()
        s = data.shape
        lines = s[-2] if len(s) >= 2 else 1
        bands = int(np.prod(s[:-2])) if len(s) > 2 else 1
        want = data.reshape((bands, lines, s[-1]) if bands > 1 else (lines, s[-1]))
        if got is None or not same_values(got, want):
            self.bad(where, "envi", f"GDAL read differs: {None if got is None else got.shape} "
                                    f"vs {want.shape}")
        gt = d.GetGeoTransform(can_return_null=True)
        if len(s) >= 2 and axes[-1] and axes[-2] and axes[-1][1] > 0 and axes[-2][1] < 0:
            (x0, dx), (y0, dy) = axes[-1], axes[-2]
            exp = (x0 - dx / 2, dx, 0.0, y0 - dy / 2, 0.0, dy)
            if gt is None or not np.allclose(gt, exp):
                self.bad(where, "envi", f"geotransform {gt}, expected {exp}")
        elif gt is not None:
            self.bad(where, "envi", f"geotransform {gt} without north-up scales")

    def check_nrrd(self, where, path, data, axes):
        import nrrd
        nhdr = path.decode("utf-8", "surrogateescape") + ".nhdr"
        name = os.path.basename(path)
        if name.isascii():
            got, hdr = nrrd.read(nhdr, index_order="C")
        else:
            # pynrrd decodes headers as ASCII, dropping the rest of a UTF-8
            # data file name (teem, so ITK and Slicer, reads it): check that
            # the line names the file, then read with pynrrd past it.
            with open(nhdr, "rb") as fh:
                lines = fh.read().split(b"\n")
            if b"data file: ./" + name not in lines:
                self.bad(where, "nrrd", f"no data file line for {name!r}")
            with open(nhdr, "rb") as fh:
                hdr = nrrd.read_header(fh)
            hdr["data file"] = "./" + name.decode("utf-8")
            got = nrrd.read_data(hdr, None, nhdr, index_order="C")
        want = as_channels(data)
        if not same_values(got, want):
            self.bad(where, "nrrd", f"pynrrd read differs: {got.shape} vs {want.shape}")
        if any(axes):
            fastest = list(reversed(axes))
            if all(axes):
                dirs = np.asarray(hdr["space directions"], dtype=float)
                if data.dtype.kind == "c":
                    dirs = dirs[1:]
                origin = np.asarray(hdr["space origin"], dtype=float)
                ok = np.allclose(np.diag(dirs), [a[1] for a in fastest]) and np.allclose(
                    origin, [a[0] for a in fastest])
            else:
                sp = np.asarray(hdr["spacings"], dtype=float)
                if data.dtype.kind == "c":
                    sp = sp[1:]
                ok = all((a is None and np.isnan(x)) or (a is not None and np.isclose(x, a[1]))
                         for a, x in zip(fastest, sp))
            if not ok:
                self.bad(where, "nrrd", f"geometry {hdr} differs from scales {axes}")

    def check_mhd(self, where, path, data, axes):
        if not 2 <= data.ndim <= 5:
            return      # ITK reads 2 to 5 dimensions
        import SimpleITK as sitk
        img = sitk.ReadImage(path.decode("utf-8", "surrogateescape") + ".mhd")
        got = sitk.GetArrayFromImage(img)
        want = as_channels(data)
        if not same_values(got, want):
            self.bad(where, "mhd", f"SimpleITK read differs: {got.shape} vs {want.shape}")
        if any(axes):
            fastest = list(reversed(axes))
            sp = [abs(a[1]) if a else 1.0 for a in fastest]
            org = [a[0] if a else 0.0 for a in fastest]
            sign = np.diag([-1.0 if a and a[1] < 0 else 1.0 for a in fastest]).ravel()
            if not (np.allclose(img.GetSpacing(), sp) and np.allclose(img.GetOrigin(), org)
                    and np.allclose(img.GetDirection(), sign)):
                self.bad(where, "mhd", f"spacing {img.GetSpacing()} origin {img.GetOrigin()}, "
                                       f"expected {sp} {org}")


def drop_metadata(dt):
    """`dt` without h5py's metadata (enum members, string encodings), which
    np.save does not keep (numpy 1.24 still writes it for fields), its
    fields in offset order."""
    if dt.fields is not None:
        # In offset order, the only order np.save can write.
        names = sorted(dt.names, key=lambda n: dt.fields[n][1])
        return np.dtype({"names": names,
                         "formats": [drop_metadata(dt.fields[n][0]) for n in names],
                         "offsets": [dt.fields[n][1] for n in names],
                         "itemsize": dt.itemsize})
    if dt.subdtype is not None:
        return np.dtype((drop_metadata(dt.subdtype[0]), dt.subdtype[1]))
    return np.dtype(dt.str)


def np_header(a):
    """The header np.save writes for array `a` (without its data)."""
    buf = io.BytesIO()
    np.lib.format._write_array_header(buf, np.lib.format.header_data_from_array_1_0(a), None)
    return buf.getvalue()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("mnt")
    ap.add_argument("file")
    ap.add_argument("--views", required=True)
    ap.add_argument("--json-out")
    ap.add_argument("--max-bytes", type=int, default=64 << 20)
    args = ap.parse_args(argv)
    import h5py
    import warnings
    warnings.simplefilter("ignore")
    c = Checker(os.fsencode(args.mnt), parse_views(args.views), args.max_bytes)
    with h5py.File(args.file, "r") as f:
        c.walk(f["/"], b"")
    res = dict(c.counts, mismatches=c.mismatches)
    if args.json_out:
        with open(args.json_out, "w") as fh:
            json.dump(res, fh, indent=1, default=str)
    print(f"views {args.file}: " + ", ".join(f"{k} {v}" for k, v in c.counts.items())
          + f"; {len(c.mismatches)} mismatches")
    for m in c.mismatches[:40]:
        print(f"  MISMATCH {m['path']} [{m['view']}] {m['detail']}")
    return 1 if c.mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
