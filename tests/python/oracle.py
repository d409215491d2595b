#!/usr/bin/python3
"""oracle.py -- check an h5fs mount against h5py reading the same HDF5 file.

Usage:
    /usr/bin/python3 tests/python/oracle.py MNT FILE [--json-out F] [options]
    /usr/bin/python3 tests/python/oracle.py --expect-only FILE [--json-out F]

Run with Debian's /usr/bin/python3 (h5py 3.x on HDF5 1.10, numpy).  MNT is where
`h5fs FILE MNT -f` has mounted FILE.  The oracle walks FILE with h5py (following
external links the way libhdf5 does) and checks the mount with plain os calls:

  * directory listings (os.listdir order == link creation order when the group
    tracks it, else name order; a dataset NAME is followed by its sidecar
    NAME.json unless the group has a real member NAME.json)
  * dataset bytes (sequential read + os.pread at odd offsets), st_size,
    the sidecar JSON (shape/dtype round trip through np.fromfile, layout, chunks,
    filters, fill value, attributes, enum, dimension labels/scales)
  * text representations (lines, json-lines, ref-paths, region-refs)
  * attributes as user.* extended attributes (listxattr + getxattr, E2BIG > 64 KiB)
  * soft links (relative readlink text, resolution), external links (followed,
    or dangling "FILE:/PATH"), hard links (one st_ino, st_nlink == HDF5 link count)
  * committed datatypes (a regular file holding JSON)
  * datasets h5py cannot read (missing filter, no numpy type) must give EIO
  * read-only modes (no write bits; dirs r-x, files r--)

--expect-only computes every expectation without a mount (to prove the oracle
copes with a file) and prints the counts.

Output: one summary line; --json-out F writes
  {"files", "groups", "datasets", "attributes", "links", "datatypes",
   "mismatches": [{"path", "check", "detail"}...], "eio": [paths],
   "warnings": [...], "hdf5_files": [...]}
Exit status: 0 all good, 1 any mismatch, 2 FILE cannot be opened by h5py / bad usage.

"path" in reports is the path inside the mount ("/grp/ds"); for objects reached
through an external link the target file and its HDF5 path follow in brackets.

Rules where the contract leaves room (decided here):
  * sidecars: every dataset name gets one, including hard-link aliases and
    external links that resolve to a dataset; soft links and dangling links don't.
  * sidecar "path": the walked path, any other name of the same object, or (for
    external objects) any of its mount paths.  "shape" may include array-type
    element dims for text datasets too; "maxshape" may or may not include them.
  * compound members declared out of offset order: the expected descr lists them
    in offset order (a .npy descr cannot express anything else).
  * symlink text must be relative, stay inside the mount and resolve to the HDF5
    target; a non-canonical but equivalent spelling is only a warning.  Soft links
    inside externally linked files are not checked (warning).
  * st_ino: one per HDF5 object (file, address), also across external links;
    st_nlink == h5o.get_info().rc for files and directories (--no-dir-nlink).
    Note rc also counts datasets that use a committed datatype.
  * xattrs: enum scalars may be the number or the name; object references in
    JSON are the target path (any of its names), null refs null or ""; region
    references the path (optionally + TAB + selection); opaque/datetime values in
    JSON are not compared.  E2BIG is required when the exact text (strings,
    numbers) exceeds 65536 bytes; for JSON the estimate has a +-10 % band.
  * attributes h5py cannot read (e.g. '>u16') are not compared (warning).
  * h5py 3.7 returns vlen sequences of non-native byte order (vlen of >f8)
    unconverted; this is probed at start and corrected (VLEN_BYTEORDER_BUG).
  * datasets too large for --max-bytes: st_size and a few elements only.
"""

import argparse
import errno
import json
import math
import os
import posixpath
import signal
import stat
import sys
import traceback

import numpy as np
import h5py
from h5py import h5d, h5o, h5p, h5s

import views

XATTR_SIZE_MAX = 65536
READ_CHUNK = 65536

LAYOUT_NAMES = {h5d.COMPACT: "compact", h5d.CONTIGUOUS: "contiguous", h5d.CHUNKED: "chunked"}
try:
    LAYOUT_NAMES[h5d.VIRTUAL] = "virtual"
except AttributeError:  # pragma: no cover
    pass

REQUIRED_SIDECAR_KEYS = ("h5fs_sidecar", "path", "shape", "maxshape", "dtype", "itemsize",
                         "representation", "layout", "chunks", "filters", "fillvalue",
                         "attributes", "dimension_labels", "dimension_scales")


# ----------------------------------------------------------------------------
# dtype helpers


def descr_from_json(d):
    """Turn a sidecar "dtype" (numpy .npy descr that went through JSON) back into
    something numpy.lib.format.descr_to_dtype accepts: lists of fields become lists
    of tuples, field shapes become tuples, nested structured descrs recurse."""
    if isinstance(d, str):
        return d
    if isinstance(d, list):
        out = []
        for fld in d:
            if not isinstance(fld, (list, tuple)) or len(fld) not in (2, 3):
                raise ValueError(f"bad field in descr: {fld!r}")
            name = fld[0]
            if isinstance(name, list):          # (title, name) pair
                name = tuple(name)
            sub = descr_from_json(fld[1])
            if len(fld) == 3:
                out.append((name, sub, tuple(fld[2])))
            else:
                out.append((name, sub))
        return out
    raise ValueError(f"bad descr: {d!r}")


def dtype_from_sidecar(d):
    return np.lib.format.descr_to_dtype(descr_from_json(d))


def strip_meta(dt):
    """The same dtype without h5py's metadata (enum/vlen/encoding tags).  Compound
    members are put in offset order: HDF5 allows members declared out of offset
    order, a .npy descr cannot express that, and the bytes are the same."""
    if dt.subdtype is not None:
        base, shape = dt.subdtype
        return np.dtype((strip_meta(base), shape))
    if dt.names is not None:
        names = sorted(dt.names, key=lambda n: dt.fields[n][1])
        return np.dtype({"names": names,
                         "formats": [strip_meta(dt.fields[n][0]) for n in names],
                         "offsets": [dt.fields[n][1] for n in names],
                         "itemsize": dt.itemsize})
    return np.dtype(dt.str)


def descr_json(dt):
    """What the sidecar "dtype" should be for numpy dtype dt, as JSON would give it."""
    return json.loads(json.dumps(np.lib.format.dtype_to_descr(strip_meta(dt))))


def enum_map(dt):
    try:
        m = h5py.check_enum_dtype(dt)
    except Exception:
        return None
    if m is None or dt.kind == "b":
        return None
    return {str(k): int(v) for k, v in m.items()}


def is_vlen_str(dt):
    try:
        info = h5py.check_string_dtype(dt)
    except Exception:
        return False
    return info is not None and info.length is None


def classify(dt):
    """('raw', None) or ('text', [admissible text_format values])."""
    if is_vlen_str(dt):
        return "text", ["lines"]
    rk = h5py.check_ref_dtype(dt)
    if rk is h5py.Reference:
        return "text", ["ref-paths"]
    if rk is h5py.RegionReference:
        return "text", ["region-refs"]
    if dt.hasobject:
        if dt.subdtype is not None and is_vlen_str(dt.subdtype[0]):
            # array type whose elements are vlen strings: one JSON array per dataset
            # element, or the flattened strings one per line; both are admissible.
            return "text", ["json-lines", "lines"]
        return "text", ["json-lines"]
    return "raw", None


def _probe_vlen_byteorder_bug():
    """h5py 3.7 returns the elements of a vlen sequence of a non-native byte order
    type (e.g. vlen of >f8) as native-dtype arrays holding the unconverted bytes.
    Probe for it once, in memory."""
    try:
        other = ">" if sys.byteorder == "little" else "<"
        with h5py.File("probe.h5", "w", driver="core", backing_store=False) as f:
            d = f.create_dataset("v", shape=(1,), dtype=h5py.vlen_dtype(np.dtype(other + "f8")))
            d[0] = np.array([0.5], dtype=other + "f8")
            return float(d[()][0][0]) != 0.5
    except Exception:
        return False


VLEN_BYTEORDER_BUG = _probe_vlen_byteorder_bug()


def fix_vlen(v, dt):
    """Undo h5py's vlen byte-order bug (see above) in a value read with dtype dt."""
    if not VLEN_BYTEORDER_BUG or dt is None or not dt.hasobject:
        return v
    try:
        return _fix_vlen(v, dt)
    except Exception:
        return v


def _fix_vlen(v, dt):
    if dt.subdtype is not None:
        return _fix_vlen(v, dt.subdtype[0])
    if dt.names is not None:
        if isinstance(v, (np.ndarray, np.void)):
            for n in dt.names:
                fdt = dt.fields[n][0]
                if fdt.hasobject:
                    if isinstance(v, np.void):
                        v[n] = _fix_vlen(v[n], fdt)
                    else:
                        col = v[n]
                        for i in np.ndindex(col.shape):
                            col[i] = _fix_vlen(col[i], fdt)
        return v
    base = h5py.check_vlen_dtype(dt)
    if base is None or base.byteorder in ("=", "|") or base.isnative:
        return v
    if isinstance(v, np.ndarray) and v.dtype == object:
        for i in np.ndindex(v.shape):
            v[i] = _fix_vlen(v[i], dt)
        return v
    if isinstance(v, np.ndarray) and v.dtype.itemsize == base.itemsize and v.dtype != base:
        return v.view(base)
    return v


def escape_line(b):
    return b.replace(b"\\", b"\\\\").replace(b"\n", b"\\n")


def as_bytes(v):
    if isinstance(v, str):
        return v.encode("utf-8", "surrogateescape")
    if isinstance(v, (bytes, np.bytes_)):
        return bytes(v)
    if v is None:
        return b""
    raise TypeError(f"not a string element: {type(v).__name__}")


# ----------------------------------------------------------------------------
# expected JSON values (semantic comparison)


class FloatE:
    def __init__(self, value, dt):
        self.value = value
        self.dt = np.dtype(dt)


class EnumE:
    def __init__(self, value, mapping):
        self.value = int(value)
        self.names = {v: k for k, v in mapping.items()}


class RefE:
    """An object reference: the mount shows the target's HDF5 path."""

    def __init__(self, oracle, fileobj, ref):
        self.null = not bool(ref)
        self.key = None
        self.name = None
        if not self.null:
            try:
                tgt = fileobj[ref]
                self.name = tgt.name
                self.key = oracle.objkey(tgt)
            except Exception:
                self.key = None


class RegRefE(RefE):
    pass


class AnyE:
    """No expectation (types whose JSON form the contract leaves open)."""


def to_expect(v, dt, oracle, fileobj):
    """h5py value -> expected JSON tree (with FloatE/EnumE/RefE/AnyE leaves)."""
    if isinstance(v, h5py.Empty):
        return None
    if isinstance(v, np.ndarray):
        if v.ndim == 0:
            return to_expect(v[()], v.dtype, oracle, fileobj)
        return [to_expect(e, v.dtype, oracle, fileobj) for e in v]
    if isinstance(v, np.void):
        if v.dtype.names:
            return {n: to_expect(v[n], v.dtype.fields[n][0], oracle, fileobj)
                    for n in v.dtype.names}
        return AnyE()
    if isinstance(v, h5py.RegionReference):
        return RegRefE(oracle, fileobj, v)
    if isinstance(v, h5py.Reference):
        return RefE(oracle, fileobj, v)
    if isinstance(v, (bytes, np.bytes_)):
        return bytes(v).rstrip(b"\0").decode("utf-8", "replace")
    if isinstance(v, str):
        return v
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (np.datetime64, np.timedelta64)):
        return AnyE()           # the contract does not say how these look in JSON
    if dt is not None:
        base = dt.subdtype[0] if dt.subdtype is not None else dt
        m = enum_map(base)
        if m is not None and isinstance(v, (int, np.integer)):
            return EnumE(v, m)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (np.complexfloating, complex)):
        cdt = np.dtype(v.dtype) if isinstance(v, np.generic) else np.dtype("c16")
        fdt = np.dtype(f"f{cdt.itemsize // 2}")
        return [FloatE(v.real, fdt), FloatE(v.imag, fdt)]
    if isinstance(v, (np.floating, float)):
        return FloatE(v, v.dtype if isinstance(v, np.generic) else "f8")
    if isinstance(v, (list, tuple)):
        return [to_expect(e, None, oracle, fileobj) for e in v]
    return AnyE()


def has_ref(t):
    if isinstance(t, RefE):
        return True
    if isinstance(t, list):
        return any(has_ref(e) for e in t)
    if isinstance(t, dict):
        return any(has_ref(e) for e in t.values())
    return False


def canon(t):
    """The expected tree as plain JSON (for size estimates and messages)."""
    if isinstance(t, FloatE):
        x = float(t.value)
        if math.isnan(x):
            return "nan"
        if math.isinf(x):
            return "inf" if x > 0 else "-inf"
        return x
    if isinstance(t, EnumE):
        return t.value
    if isinstance(t, RefE):
        return None if t.null else (t.name or "?")
    if isinstance(t, AnyE):
        return None
    if isinstance(t, list):
        return [canon(e) for e in t]
    if isinstance(t, dict):
        return {k: canon(e) for k, e in t.items()}
    return t


def compact(v):
    return json.dumps(v, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def short(v, n=160):
    s = v if isinstance(v, str) else repr(v)
    return s if len(s) <= n else s[:n] + "..."


def float_matches(exp, actual):
    x = exp.value
    if isinstance(actual, bool):
        return False
    if np.isnan(x):
        return actual == "nan"
    if np.isinf(x):
        return actual == ("inf" if x > 0 else "-inf")
    if isinstance(actual, str):
        return False
    if not isinstance(actual, (int, float)):
        return False
    try:
        with np.errstate(over="ignore"):
            return exp.dt.type(actual) == exp.dt.type(x)
    except Exception:
        return False


def compare(exp, actual, oracle, where="$"):
    """Semantic comparison of an expected tree with a parsed JSON value.
    Returns a list of difference strings (empty = equal)."""
    if isinstance(exp, AnyE):
        return []
    if exp is None:
        return [] if actual is None else [f"{where}: expected null, got {short(actual)}"]
    if isinstance(exp, FloatE):
        if float_matches(exp, actual):
            return []
        return [f"{where}: expected {canon(exp)!r} ({exp.dt}), got {short(actual)}"]
    if isinstance(exp, EnumE):
        if (isinstance(actual, int) and not isinstance(actual, bool) and actual == exp.value) \
                or (isinstance(actual, str) and actual == exp.names.get(exp.value)):
            return []
        return [f"{where}: expected enum {exp.value} ({exp.names.get(exp.value)}), "
                f"got {short(actual)}"]
    if isinstance(exp, RefE):
        return oracle.ref_diff(exp, actual, where)
    if isinstance(exp, bool):
        if isinstance(actual, bool) or (isinstance(actual, int) and actual in (0, 1)):
            if bool(actual) == exp:
                return []
        return [f"{where}: expected {exp}, got {short(actual)}"]
    if isinstance(exp, int):
        if isinstance(actual, int) and not isinstance(actual, bool) and actual == exp:
            return []
        return [f"{where}: expected {exp}, got {short(actual)}"]
    if isinstance(exp, str):
        if actual == exp:
            return []
        return [f"{where}: expected {short(exp)!r}, got {short(actual)}"]
    if isinstance(exp, list):
        if not isinstance(actual, list):
            return [f"{where}: expected a list of {len(exp)}, got {short(actual)}"]
        if len(actual) != len(exp):
            return [f"{where}: expected {len(exp)} items, got {len(actual)}"]
        out = []
        for i, (e, a) in enumerate(zip(exp, actual)):
            out += compare(e, a, oracle, f"{where}[{i}]")
            if len(out) > 5:
                break
        return out
    if isinstance(exp, dict):
        if not isinstance(actual, dict):
            return [f"{where}: expected an object, got {short(actual)}"]
        if set(actual) != set(exp):
            return [f"{where}: keys {sorted(actual)} != expected {sorted(exp)}"]
        out = []
        for k in exp:
            out += compare(exp[k], actual[k], oracle, f"{where}.{k}")
        return out
    return [f"{where}: oracle cannot compare {type(exp).__name__}"]


# ----------------------------------------------------------------------------
# the oracle


class Timeout(BaseException):
    """--timeout expired (a BaseException so that per-object handlers let it through)."""


class Oracle:
    def __init__(self, mnt, h5file, args):
        self.mnt = os.fsencode(mnt) if mnt is not None else None
        self.h5file = h5file
        self.args = args
        self.counts = dict(files=0, groups=0, datasets=0, attributes=0, links=0, datatypes=0)
        self.mismatches = []
        self.eio = []
        self.eio_reasons = {}
        self.warnings = []
        self.hdf5_files = []
        self.objs = {}          # key -> {"rc", "local": set, "inos": [(disp, ino, nlink, isdir)]}
        self.visited_groups = set()
        self.pending = []       # checks that need the complete alias map (references)
        self.expect_cache = {}
        self.views = views.parse_views(args.views) if args.views else []

    # --- reporting ----------------------------------------------------------

    def mismatch(self, path, check, detail):
        self.mismatches.append({"path": path, "check": check, "detail": detail})

    def warn(self, path, detail):
        self.warnings.append(f"{path}: {detail}")

    def oops(self, path, what):
        tb = traceback.format_exc().strip().splitlines()
        self.mismatch(path, "oracle-exception", f"{what}: {tb[-1] if tb else '?'}")
        if self.args.verbose:
            traceback.print_exc()

    # --- paths and identities ------------------------------------------------

    def mp(self, mrel):
        return self.mnt if not mrel else os.path.join(self.mnt, mrel)

    @staticmethod
    def disp(mrel, ext=None):
        p = "/" + mrel.decode("utf-8", "backslashreplace")
        if ext:
            p += f" [{ext[0]}:{ext[1]}]"
        return p

    def objkey(self, obj):
        info = h5o.get_info(obj.id)
        fn = os.path.realpath(obj.file.filename)
        if fn not in self.hdf5_files:
            self.hdf5_files.append(fn)
        return (fn, info.addr)

    def record(self, obj, local, mrel, st, disp):
        key = self.objkey(obj)
        ent = self.objs.setdefault(key, {"rc": None, "local": set(), "mount": set(),
                                         "inos": []})
        ent["mount"].add("/" + mrel.decode("utf-8", "surrogateescape"))
        try:
            ent["rc"] = h5o.get_info(obj.id).rc
        except Exception:
            pass
        if local:
            ent["local"].add(local)
        if obj.name:
            ent["local"].add(obj.name)
        if st is not None:
            ent["inos"].append((disp, st.st_ino, st.st_nlink, stat.S_ISDIR(st.st_mode)))
        return key

    # --- mount helpers -------------------------------------------------------

    def lstat(self, mrel, disp, check="stat"):
        try:
            return os.lstat(self.mp(mrel))
        except OSError as e:
            self.mismatch(disp, check, f"lstat failed: {e}")
            return None

    def check_mode(self, st, disp, kind):
        mode = stat.S_IMODE(st.st_mode)
        if mode & 0o222:
            self.mismatch(disp, "mode", f"write permission bits set: {oct(mode)}")
        if kind == "dir":
            if (mode & 0o500) != 0o500:
                self.mismatch(disp, "mode", f"directory not r-x for owner: {oct(mode)}")
        else:
            if not mode & 0o400:
                self.mismatch(disp, "mode", f"file not readable by owner: {oct(mode)}")
            if mode & 0o111:
                self.mismatch(disp, "mode", f"file has execute bits: {oct(mode)}")

    def read_all(self, mrel):
        fd = os.open(self.mp(mrel), os.O_RDONLY)
        try:
            chunks = []
            while True:
                b = os.read(fd, READ_CHUNK)
                if not b:
                    break
                chunks.append(b)
            return b"".join(chunks)
        finally:
            os.close(fd)

    def pread_checks(self, mrel, disp, expected, check):
        """os.pread at odd offsets/lengths, each compared with expected[off:off+n]."""
        n = len(expected)
        probes = [(0, 1), (1, 7), (3, 4093), (n // 2 - 1, 17), (n // 3, 65537),
                  (n - 5, 5), (n - 1, 100), (n, 10), (n + 3, 10), (0, n + 100)]
        fd = os.open(self.mp(mrel), os.O_RDONLY)
        try:
            for off, ln in probes:
                if off < 0:
                    continue
                got = os.pread(fd, ln, off)
                want = expected[off:off + ln]
                if got != want:
                    self.mismatch(disp, check, f"pread({ln}, offset {off}) gave {len(got)} bytes"
                                  f" differing from expected {len(want)} bytes"
                                  f" (first diff at +{first_diff(got, want)})")
                    return
        finally:
            os.close(fd)

    # --- references ----------------------------------------------------------

    def aliases(self, key):
        ent = self.objs.get(key)
        return ent["local"] if ent else set()

    def ref_diff(self, exp, actual, where):
        if exp.null:
            if actual in (None, ""):
                return []
            return [f"{where}: expected a null reference (null or \"\"), got {short(actual)}"]
        ok = set(self.aliases(exp.key)) | ({exp.name} if exp.name else set())
        if isinstance(exp, RegRefE):
            # attribute/compound region reference: the path, optionally followed by
            # a TAB and the selection; an object with a "path" member is also taken
            if isinstance(actual, dict):
                actual = actual.get("path")
            if isinstance(actual, str):
                actual = actual.split("\t", 1)[0]
        if not isinstance(actual, str):
            return [f"{where}: expected the path of the referenced object, got {short(actual)}"]
        if exp.key is None and exp.name is None:
            return []       # h5py could not dereference: anything goes
        if actual in ok:
            return []
        return [f"{where}: reference should name {sorted(ok)}, got {short(actual)!r}"]

    def later_or_now(self, exp, fn):
        """Run check fn now, or after the walk when it involves references."""
        if has_ref(exp):
            self.pending.append(fn)
        else:
            fn()

    # --- the walk ------------------------------------------------------------

    def first_part(self):
        """The file that holds the start of the address space."""
        if self.args.driver == "family":
            return self.h5file % 0
        if self.args.driver == "split":
            return self.h5file + "-m.h5"
        return self.h5file

    def check_userblock(self):
        """/.userblock holds the bytes before the HDF5 data (h5py's userblock_size)."""
        if self.mnt is None:
            return
        n = self.root_file.userblock_size
        with open(self.first_part(), "rb") as fh:
            want = fh.read(n)
        try:
            with open(self.mp(b".userblock"), "rb") as fh:
                got = fh.read()
        except OSError as e:
            self.mismatch("/.userblock", "read", f"cannot read: {e}")
            return
        if got != want:
            self.mismatch("/.userblock", "content",
                          f"{len(got)} bytes differ from the file's first {n}")

    def run(self):
        try:
            kw = {}
            if self.args.driver:
                kw["driver"] = self.args.driver
            if self.args.driver == "family":
                kw["memb_size"] = 0     # as the file records it
            f = h5py.File(self.h5file, "r", **kw)
        except Exception as e:
            print(f"oracle: h5py cannot open {self.h5file}: {e}", file=sys.stderr)
            return None
        self.root_file = f
        if self.mnt is not None and not os.path.isdir(self.mnt):
            print(f"oracle: mount point {self.mnt!r} is not a directory", file=sys.stderr)
            return None
        try:
            # f["/"], not f: File.id is a FileID, whose plist hides link creation order
            self.walk_group(f["/"], "/", b"", None, frozenset())
            for fn in self.pending:
                try:
                    fn()
                except Exception:
                    self.oops("?", "deferred check")
            self.check_identities()
        except Exception:
            self.oops("/", "walk")
        except Timeout:
            self.mismatch("/", "timeout", f"no result within --timeout {self.args.timeout} s "
                                          "(mount hung or too slow); results are partial")
        return True

    def walk_group(self, grp, local, mrel, ext, ancestors):
        disp = self.disp(mrel, ext)
        key = self.objkey(grp)
        if key in ancestors:
            self.warn(disp, "group is its own ancestor (link cycle); not descended")
            return
        self.counts["groups"] += 1
        st = None
        if self.mnt is not None:
            st = self.lstat(mrel, disp)
            if st is not None:
                if not stat.S_ISDIR(st.st_mode):
                    self.mismatch(disp, "type", f"expected a directory, mode {oct(st.st_mode)}")
                else:
                    self.check_mode(st, disp, "dir")
        self.record(grp, local, mrel, st, disp)
        self.check_attrs(grp, mrel, disp)
        members = self.members(grp, disp)
        if members is None:
            return
        first_visit = key not in self.visited_groups
        self.visited_groups.add(key)

        # resolve every member once: (name, kind, link, obj)
        resolved = []
        for name in members:
            try:
                link = grp.get(name, getlink=True)
            except Exception:
                self.warn(disp, f"h5py cannot get link {name!r}")
                resolved.append((name, "unknown", None, None))
                continue
            obj = None
            kind = type(link).__name__
            # Soft links inside an externally linked file name paths in that
            # file, which the mount does not show as such: they are followed.
            followed_soft = ext is not None and isinstance(link, h5py.SoftLink)
            if isinstance(link, (h5py.HardLink, h5py.ExternalLink)) or followed_soft:
                try:
                    obj = grp[name]
                except Exception as e:
                    if isinstance(link, h5py.HardLink):
                        self.warn(disp, f"h5py cannot open member {name!r}: {e}")
                    obj = None
            resolved.append((name, kind, link, obj))

        names = set(members)
        expected = []
        for name, kind, link, obj in resolved:
            expected.append(name)
            if isinstance(obj, h5py.Dataset) and name + b".json" not in names:
                expected.append(name + b".json")
            if isinstance(obj, h5py.Dataset) and self.views:
                expected += views.expected_views(obj, name, names, self.views)
        if mrel == b"" and ext is None and self.root_file.userblock_size > 0 \
                and b".userblock" not in names:
            expected.append(b".userblock")
            self.check_userblock()

        if self.mnt is not None:
            try:
                got = os.listdir(self.mp(mrel))
            except OSError as e:
                self.mismatch(disp, "listdir", f"listdir failed: {e}")
                got = None
            if got is not None and got != expected:
                self.listing_diff(disp, expected, got)

        if not first_visit:
            return      # another name of a group already walked: listing and inode only

        for name, kind, link, obj in resolved:
            cm = os.path.join(mrel, name) if mrel else name
            cl = posixpath.join(local, name.decode("utf-8", "surrogateescape"))
            cdisp = self.disp(cm, ext)
            sidecar = name + b".json" not in names
            try:
                if isinstance(link, h5py.SoftLink) and ext is not None:
                    self.counts["links"] += 1
                    if obj is None:
                        self.check_followed_soft_dangling(link, cm, cdisp)
                    else:
                        tl = obj.name or cl
                        self.dispatch(obj, tl, cm, ext, ancestors | {key}, sidecar)
                elif isinstance(link, h5py.SoftLink):
                    self.check_soft(grp, name, link, cl, cm, ext, cdisp)
                elif isinstance(link, h5py.ExternalLink):
                    self.counts["links"] += 1
                    if obj is None:
                        self.check_dangling_ext(link, cm, cdisp)
                    else:
                        tl = posixpath.normpath("/" + link.path.lstrip("/"))
                        self.dispatch(obj, tl, cm, (link.filename, tl), ancestors | {key},
                                      sidecar)
                elif obj is not None:
                    self.dispatch(obj, cl, cm, ext, ancestors | {key}, sidecar)
            except Exception:
                self.oops(cdisp, "checking member")

    def dispatch(self, obj, local, mrel, ext, ancestors, sidecar):
        if isinstance(obj, h5py.Group):
            self.walk_group(obj, local, mrel, ext, ancestors)
        elif isinstance(obj, h5py.Dataset):
            self.check_dataset(obj, local, mrel, ext, sidecar)
        elif isinstance(obj, h5py.Datatype):
            self.check_datatype(obj, local, mrel, ext)
        else:
            self.warn(self.disp(mrel, ext), f"unknown object kind {type(obj).__name__}")

    def members(self, grp, disp):
        """Member names (bytes) in the order the mount must list them."""
        gid = grp.id
        tracked = False
        try:
            tracked = bool(gid.get_create_plist().get_link_creation_order()
                           & h5p.CRT_ORDER_TRACKED)
        except Exception:
            pass
        if tracked:
            names = []
            try:
                gid.links.iterate(names.append, idx_type=h5py.h5.INDEX_CRT_ORDER)
                return names
            except Exception as e:
                self.warn(disp, f"creation order tracked but not iterable ({e}); "
                                "expecting name order")
        names = []
        try:
            gid.links.iterate(names.append, idx_type=h5py.h5.INDEX_NAME)
            return names
        except Exception as e:
            self.warn(disp, f"h5py cannot iterate group: {e}")
            return None

    def listing_diff(self, disp, expected, got):
        es, gs = set(expected), set(got)
        parts = []
        if es - gs:
            parts.append(f"missing {sorted(es - gs)[:10]}")
        if gs - es:
            parts.append(f"extra {sorted(gs - es)[:10]}")
        if not parts:
            for i, (a, b) in enumerate(zip(expected, got)):
                if a != b:
                    parts.append(f"order differs at #{i}: expected {a!r}, got {b!r}; "
                                 f"expected order {expected[:12]}")
                    break
        if len(got) != len(set(got)):
            parts.append("duplicate names")
        self.mismatch(disp, "listdir", "; ".join(parts) or "differs")

    # --- links ---------------------------------------------------------------

    def check_followed_soft_dangling(self, link, mrel, disp):
        """A soft link in an external file that h5py cannot resolve: a symlink
        holding the link's value."""
        if self.mnt is None:
            return
        try:
            text = os.readlink(self.mp(mrel))
        except OSError as e:
            self.mismatch(disp, "symlink", f"dangling soft link in external file: readlink failed: {e}")
            return
        want = link.path.encode("utf-8", "surrogateescape") if isinstance(link.path, str) else link.path
        if text != want:
            self.mismatch(disp, "symlink", f"dangling soft link in external file: text {text!r}, expected {want!r}")

    def check_soft(self, grp, name, link, local, mrel, ext, disp):
        self.counts["links"] += 1
        target = link.path
        try:
            resolved = grp[name]
        except Exception:
            resolved = None
        if self.mnt is None:
            return
        st = self.lstat(mrel, disp, "symlink")
        if st is None:
            return
        if not stat.S_ISLNK(st.st_mode):
            self.mismatch(disp, "symlink", f"soft link -> {target!r} is not a symlink "
                                           f"(mode {oct(st.st_mode)})")
            return
        try:
            text = os.readlink(self.mp(mrel))
        except OSError as e:
            self.mismatch(disp, "symlink", f"readlink failed: {e}")
            return
        text_s = text.decode("utf-8", "surrogateescape")
        parent = [c for c in os.path.dirname(mrel).decode("utf-8", "surrogateescape").split("/")
                  if c]
        hparent = [c for c in posixpath.dirname(local).split("/") if c]
        tcomps = [c for c in target.split("/") if c and c != "."]
        want = tcomps if target.startswith("/") else hparent + tcomps
        if ext is not None:
            # a soft link inside an externally linked file: its absolute target means
            # that file's root, which is not the mount's; the contract is silent.
            self.warn(disp, f"soft link in external file -> {target!r} shown as {text_s!r} "
                            "(not checked)")
            return
        if text.startswith(b"/"):
            self.mismatch(disp, "symlink", f"target {text_s!r} is absolute (link -> {target!r})")
            return
        if ".." in tcomps:
            self.warn(disp, f"HDF5 target {target!r} contains '..'; text not checked")
            return
        got = list(parent)
        for c in text_s.split("/"):
            if c in ("", "."):
                continue
            if c == "..":
                if not got:
                    self.mismatch(disp, "symlink", f"target {text_s!r} escapes the mount "
                                                   f"(link -> {target!r})")
                    return
                got.pop()
            else:
                got.append(c)
        if got != want:
            canonical = "/".join([".."] * len(parent) + tcomps) or "." \
                if target.startswith("/") else target
            self.mismatch(disp, "symlink", f"readlink {text_s!r} resolves to /{'/'.join(got)}, "
                                           f"HDF5 target {target!r} (expected e.g. {canonical!r})")
            return
        if target.startswith("/"):
            canonical = "/".join([".."] * len(parent) + tcomps) or "."
            if text_s != canonical:
                self.warn(disp, f"readlink {text_s!r} is equivalent to but not {canonical!r}")
        # resolution: h5py resolves it <=> the symlink resolves in the mount
        try:
            st2 = os.stat(self.mp(mrel))
        except OSError as e:
            st2 = None
            if resolved is not None:
                self.mismatch(disp, "symlink", f"-> {target!r} resolves in HDF5 but not in the "
                                               f"mount: {e}")
        if st2 is not None:
            if resolved is None:
                self.warn(disp, f"dangling HDF5 soft link -> {target!r} resolves in the mount")
            else:
                self.record(resolved, None, mrel, st2, disp + " (via symlink)")

    def check_dangling_ext(self, link, mrel, disp):
        want = f"{link.filename}:{link.path}".encode("utf-8", "surrogateescape")
        if self.mnt is None:
            return
        st = self.lstat(mrel, disp, "external")
        if st is None:
            return
        if not stat.S_ISLNK(st.st_mode):
            self.mismatch(disp, "external", f"unresolvable external link {want!r} is not a "
                                            f"symlink (mode {oct(st.st_mode)})")
            return
        try:
            text = os.readlink(self.mp(mrel))
        except OSError as e:
            self.mismatch(disp, "external", f"readlink failed: {e}")
            return
        if text != want:
            self.mismatch(disp, "external", f"readlink {text!r}, expected {want!r}")

    # --- identities ----------------------------------------------------------

    def check_identities(self):
        if self.mnt is None:
            return
        by_ino = {}
        for key, ent in self.objs.items():
            inos = {i for _, i, _, _ in ent["inos"]}
            if len(inos) > 1:
                self.mismatch(ent["inos"][0][0], "inode",
                              "one HDF5 object, several st_ino: "
                              + ", ".join(f"{d}={i}" for d, i, _, _ in ent["inos"]))
            for d, ino, nlink, isdir in ent["inos"]:
                by_ino.setdefault(ino, set()).add(key)
                if ent["rc"] is not None and nlink != ent["rc"] \
                        and not (isdir and self.args.no_dir_nlink):
                    self.mismatch(d, "nlink", f"st_nlink {nlink}, HDF5 link count {ent['rc']}")
        for ino, keys in by_ino.items():
            if len(keys) > 1:
                names = [sorted(self.objs[k]["local"])[:1] for k in keys]
                self.mismatch(str(names), "inode", f"different HDF5 objects share st_ino {ino}")

    # --- attributes ----------------------------------------------------------

    def attr_expect(self, obj, name):
        """-> (checker(bytes) -> list of diffs, estimated text length, what)"""
        aid = obj.attrs.get_id(name)
        dt = aid.dtype
        stype = aid.get_space().get_simple_extent_type()
        val = fix_vlen(obj.attrs[name], dt)
        fileobj = obj.file
        if stype == h5s.NULL or isinstance(val, h5py.Empty):
            return self.json_checker(None), 4, "null"
        if stype == h5s.SCALAR:
            if h5py.check_string_dtype(dt) is not None and isinstance(val, (str, bytes, np.bytes_)):
                want = as_bytes(val) if isinstance(val, str) else bytes(val).rstrip(b"\0")
                return (lambda b: [] if b == want else
                        [f"expected {short(want)!r}, got {short(b)!r}"]), len(want), "string"
            if dt.kind == "b":
                want = b"1" if bool(val) else b"0"
                return (lambda b: [] if b == want else [f"expected {want!r}, got {short(b)!r}"]), \
                    1, "bool"
            m = enum_map(dt)
            if m is not None:
                names = {v: k for k, v in m.items()}
                ok = {str(int(val)).encode(), names.get(int(val), "").encode(),
                      json.dumps(names.get(int(val), "")).encode()}
                return (lambda b: [] if b in ok else
                        [f"expected enum {int(val)} ({names.get(int(val))}), got {short(b)!r}"]), \
                    8, "enum"
            if dt.kind in "iu":
                want = str(int(val)).encode()
                return (lambda b: [] if b == want else [f"expected {want!r}, got {short(b)!r}"]), \
                    len(want), "integer"
            if dt.kind == "f":
                return self.float_checker(val, dt), 24, "float"
        exp = to_expect(val, dt, self, fileobj)
        try:
            est = len(compact(canon(exp)).encode())
        except Exception:
            est = 0
        return self.json_checker(exp), est, "json"

    def json_checker(self, exp):
        def check(b):
            try:
                actual = json.loads(b.decode("utf-8"))
            except Exception as e:
                return [f"not JSON ({e}): {short(b)!r}"]
            return compare(exp, actual, self)
        check.exp = exp
        return check

    @staticmethod
    def float_checker(val, dt):
        def check(b):
            try:
                s = b.decode("ascii")
            except UnicodeDecodeError:
                return [f"not ASCII: {short(b)!r}"]
            x = float(val)
            if math.isnan(x) or math.isinf(x):
                want = "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")
                return [] if s == want else [f"expected {want!r}, got {s!r}"]
            try:
                got = dt.type(s)
            except Exception:
                return [f"not a number: {s!r}"]
            if s.strip() != s or s.lower() in ("nan", "inf", "-inf", "+inf"):
                return [f"bad float text {s!r}"]
            return [] if got == dt.type(val) else [f"expected {x!r} ({dt}), got {s!r}"]
        return check

    def check_attrs(self, obj, mrel, disp):
        try:
            names = list(obj.attrs)
        except Exception as e:
            self.warn(disp, f"h5py cannot list attributes: {e}")
            return []
        self.counts["attributes"] += len(names)
        expects = {}
        for n in names:
            try:
                expects[n] = self.attr_expect(obj, n)
            except Exception as e:
                self.warn(disp, f"h5py cannot read attribute {n!r} ({type(e).__name__}: {e}); "
                                "its value is not checked")
                expects[n] = None
        if self.mnt is None:
            return expects
        mp = self.mp(mrel)
        try:
            listed = [a for a in os.listxattr(mp, follow_symlinks=False) if a.startswith("user.")]
        except OSError as e:
            self.mismatch(disp, "listxattr", f"listxattr failed: {e}")
            listed = None
        want = ["user." + n for n in names]
        if listed is not None and sorted(listed) != sorted(want):
            missing = sorted(set(want) - set(listed))
            extra = sorted(set(listed) - set(want))
            self.mismatch(disp, "listxattr", f"missing {missing[:10]} extra {extra[:10]}")
        for n in names:
            e = expects[n]
            xname = "user." + n
            try:
                b = os.getxattr(mp, xname, follow_symlinks=False)
            except OSError as err:
                if e is None:
                    continue
                # exact text lengths (strings, numbers) decide exactly; the length of
                # a JSON text is an estimate (float spelling varies), so +-10 %
                lo = XATTR_SIZE_MAX if e[2] != "json" else XATTR_SIZE_MAX * 0.9
                if err.errno == errno.E2BIG and e[1] > lo:
                    continue
                self.mismatch(disp, "xattr", f"getxattr {xname!r} failed: {err}")
                continue
            if e is None:
                continue
            checker, est, what = e
            hi = XATTR_SIZE_MAX if what != "json" else XATTR_SIZE_MAX * 1.1
            if est > hi or len(b) > XATTR_SIZE_MAX:
                self.mismatch(disp, "xattr", f"{xname!r}: value of ~{est} bytes should give "
                                             f"E2BIG, got {len(b)} bytes")
                continue

            def run(checker=checker, b=b, xname=xname, what=what):
                diffs = checker(b)
                if diffs:
                    self.mismatch(disp, "xattr", f"{xname!r} ({what}): " + "; ".join(diffs[:3]))
            self.later_or_now(getattr(checker, "exp", None), run)
        return expects

    # --- datasets ------------------------------------------------------------

    def expect_dataset(self, ds):
        key = self.objkey(ds)
        if key in self.expect_cache:
            return self.expect_cache[key]
        e = {"status": "ok"}
        self.expect_cache[key] = e
        try:
            dt = ds.dtype
        except Exception as x:
            e.update(status="eio", why=f"h5py has no numpy type ({type(x).__name__}: {x})")
            return e
        e["dtype"] = dt
        try:
            e["shape_ds"] = ds.shape
            e["maxshape"] = ds.maxshape
        except Exception as x:
            e.update(status="eio", why=f"h5py cannot read the dataspace ({x})")
            return e
        rep, formats = classify(dt)
        e["representation"], e["formats"] = rep, formats
        sub = dt.subdtype
        e["arr_dtype"] = sub[0] if sub is not None else dt
        e["arr_shape"] = None if ds.shape is None else tuple(ds.shape) + (sub[1] if sub else ())
        try:
            if ds.shape is None:
                data = h5py.Empty(dt)
            elif ds.shape == ():
                data = ds[...]
            else:
                if ds.size * max(dt.itemsize, 1) > self.args.max_bytes:
                    e.update(status="skip" if rep == "raw" else "skip-text",
                             why="larger than --max-bytes: only st_size and a few elements "
                                 "are checked" if rep == "raw" else "larger than --max-bytes")
                    if rep == "raw":
                        self.window_expect(ds, e)
                    return e
                data = ds[()]
        except Exception as x:
            e.update(status="eio", why=f"h5py cannot read it ({type(x).__name__}: {x})")
            return e
        if isinstance(data, h5py.Empty):
            e["bytes"] = b""
            e["arr_shape"] = None
            e["arr_dtype"] = dt.subdtype[0] if dt.subdtype is not None else dt
            e["lines"] = []
            return e
        arr = fix_vlen(np.asarray(data), dt)
        e["arr_shape"] = arr.shape
        e["arr_dtype"] = arr.dtype
        if rep == "raw":
            e["bytes"] = arr.tobytes()
            return e
        # text representations
        fileobj = ds.file
        if formats == ["lines"]:
            e["bytes"] = b"".join(escape_line(as_bytes(v)) + b"\n" for v in arr.flat)
            return e
        if formats[0] in ("ref-paths", "region-refs"):
            cls = RegRefE if formats[0] == "region-refs" else RefE
            e["lines"] = [cls(self, fileobj, r) for r in arr.flat]
            return e
        # json-lines: one line per dataset element (array types give nested lists)
        elem_shape = ds.shape
        e["lines"] = [to_expect(arr[idx], dt, self, fileobj) for idx in np.ndindex(*elem_shape)]
        if "lines" in formats:
            e["alt_bytes"] = b"".join(escape_line(as_bytes(v)) + b"\n" for v in arr.flat)
        return e

    @staticmethod
    def window_expect(ds, e):
        """For datasets too large to read whole: a few elements read with h5py."""
        n = ds.size
        isz = ds.dtype.itemsize
        e["size"] = n * isz
        e["windows"] = []
        for i in sorted({0, 1, n // 3, n // 2 + 1, n - 1}):
            if 0 <= i < n:
                idx = tuple(slice(int(j), int(j) + 1) for j in np.unravel_index(i, ds.shape))
                e["windows"].append((i * isz, np.asarray(ds[idx]).tobytes()))

    def check_windows(self, e, mrel, disp, st):
        if st.st_size != e["size"]:
            self.mismatch(disp, "st_size", f"st_size {st.st_size}, expected {e['size']}")
        fd = os.open(self.mp(mrel), os.O_RDONLY)
        try:
            for off, want in e["windows"]:
                got = os.pread(fd, len(want), off)
                if got != want:
                    self.mismatch(disp, "pread", f"element at byte {off}: got {got[:16].hex()},"
                                                 f" expected {want[:16].hex()}")
                    return
        finally:
            os.close(fd)

    def check_dataset(self, ds, local, mrel, ext, sidecar=True):
        disp = self.disp(mrel, ext)
        self.counts["datasets"] += 1
        self.counts["files"] += 1
        e = self.expect_dataset(ds)
        st = None
        if self.mnt is not None:
            st = self.lstat(mrel, disp, "dataset")
            if st is not None and not stat.S_ISREG(st.st_mode):
                self.mismatch(disp, "type", f"dataset is not a regular file (mode {oct(st.st_mode)})")
                st = None
            elif st is not None:
                self.check_mode(st, disp, "file")
        self.record(ds, local, mrel, st, disp)
        if e["status"] == "eio":
            self.eio.append(disp)
        elif e["status"].startswith("skip"):
            self.warn(disp, e["why"])
        try:
            self.check_attrs(ds, mrel, disp)
        except Exception:
            self.oops(disp, "attributes")
        meta = None
        sc_mrel = mrel + b".json"
        if sidecar:
            self.counts["files"] += 1
            meta = self.sidecar_expect(ds, e, local)
        if e["status"] == "eio":
            self.eio_reasons[disp] = e.get("why", "")
        if self.mnt is None or st is None:
            return
        if e["status"] == "eio":
            self.check_eio(mrel, disp)
        elif e["status"] == "ok":
            self.check_content(e, mrel, disp, st)
        elif e["status"] == "skip":
            self.check_windows(e, mrel, disp, st)
        if sidecar:
            try:
                self.check_sidecar(ds, e, meta, sc_mrel, mrel, disp, local, ext)
            except Exception:
                self.oops(disp + ".json", "sidecar")

    def check_eio(self, mrel, disp):
        try:
            fd = os.open(self.mp(mrel), os.O_RDONLY)
        except OSError as err:
            if err.errno != errno.EIO:
                self.mismatch(disp, "eio", f"open failed with {err}, expected EIO")
            return
        try:
            try:
                data = os.pread(fd, 4096, 0)
            except OSError as err:
                if err.errno != errno.EIO:
                    self.mismatch(disp, "eio", f"read failed with {err}, expected EIO")
                return
            msg = (f"h5py cannot read this dataset but the mount returned {len(data)} bytes "
                   "(expected EIO)")
            if self.args.lenient_eio:
                self.warn(disp, msg)
            else:
                self.mismatch(disp, "eio", msg)
        finally:
            os.close(fd)

    def check_content(self, e, mrel, disp, st):
        try:
            got = self.read_all(mrel)
        except OSError as err:
            self.mismatch(disp, "read", f"read failed: {err}")
            return
        want = e.get("bytes")
        if want is not None and e["representation"] == "text" and "alt_bytes" in e:
            pass
        if want is not None:
            if got != want:
                self.mismatch(disp, "bytes", f"content differs: {len(got)} bytes read, "
                                             f"{len(want)} expected, first diff at "
                                             f"{first_diff(got, want)}"
                              + (f"; got {short(got[:80])} want {short(want[:80])}"
                                 if e["representation"] == "text" else ""))
            if st.st_size != len(want):
                self.mismatch(disp, "st_size", f"st_size {st.st_size}, expected {len(want)}")
            self.pread_checks(mrel, disp, want, "pread")
        else:
            if st.st_size != len(got):
                self.mismatch(disp, "st_size", f"st_size {st.st_size} but {len(got)} bytes read")
            self.pread_checks(mrel, disp, got, "pread-consistency")
        e["_got"] = got

    def check_text_lines(self, e, got, fmt, disp):
        if fmt == "lines" and "alt_bytes" in e:
            if got != e["alt_bytes"]:
                self.mismatch(disp, "text", f"'lines' text differs at {first_diff(got, e['alt_bytes'])}")
            return
        lines = e.get("lines")
        if lines is None:
            return
        if got and not got.endswith(b"\n"):
            self.mismatch(disp, "text", "text does not end with a newline")
            return
        parts = got[:-1].split(b"\n") if got else []
        if len(parts) != len(lines):
            self.mismatch(disp, "text", f"{len(parts)} lines, expected {len(lines)}")
            return
        for i, (exp, line) in enumerate(zip(lines, parts)):
            try:
                s = line.decode("utf-8")
            except UnicodeDecodeError:
                self.mismatch(disp, "text", f"line {i + 1} is not UTF-8")
                return
            if fmt == "ref-paths":
                diffs = self.ref_diff(exp, s, f"line {i + 1}")
            elif fmt == "region-refs":
                if exp.null:
                    diffs = [] if s == "" else [f"line {i + 1}: expected empty line for a null "
                                                f"region reference, got {short(s)!r}"]
                else:
                    path, tab, sel = s.partition("\t")
                    diffs = self.ref_diff(exp, path, f"line {i + 1}")
                    if not tab:
                        diffs.append(f"line {i + 1}: no TAB before the selection")
                    else:
                        try:
                            json.loads(sel)
                        except Exception:
                            diffs.append(f"line {i + 1}: selection is not JSON: {short(sel)!r}")
            else:
                try:
                    actual = json.loads(s)
                except Exception as x:
                    diffs = [f"line {i + 1}: not JSON ({x})"]
                else:
                    diffs = compare(exp, actual, self, f"line {i + 1}")
                if s != s.strip() or ("\n" in s):
                    diffs.append(f"line {i + 1}: not compact JSON")
            if diffs:
                self.mismatch(disp, "text", "; ".join(diffs[:3]))
                return

    # --- sidecars ------------------------------------------------------------

    @staticmethod
    def sources_check(ds, shown):
        """A virtual dataset's sidecar "sources" against h5py's virtual_sources()."""
        try:
            maps = ds.virtual_sources()
        except Exception as x:
            return [f"h5py cannot list the virtual sources: {x}"]
        if not isinstance(shown, list) or len(shown) != len(maps):
            return [f"sources {short(shown)!r}, expected {len(maps)} mappings"]

        def sel(space):
            t = space.get_select_type()
            if t == h5s.SEL_ALL:
                return "all"
            if t == h5s.SEL_HYPERSLABS and space.is_regular_hyperslab():
                start, stride, count, block = space.get_regular_hyperslab()
                return {"start": list(start), "stride": list(stride),
                        "count": [None if c == h5s.UNLIMITED else c for c in count],
                        "block": list(block)}
            return None

        bad = []
        for i, (m, j) in enumerate(zip(maps, shown)):
            if not isinstance(j, dict):
                bad.append(f"sources[{i}] is not an object")
                continue
            want = {"file": m.file_name, "dataset": m.dset_name,
                    "select": sel(m.vspace), "source_select": sel(m.src_space)}
            for k, v in want.items():
                if v is not None and j.get(k) != v:
                    bad.append(f"sources[{i}].{k} {short(j.get(k))!r}, expected {short(v)!r}")
        return bad

    def sidecar_expect(self, ds, e, local):
        """Expected sidecar values (computed even in --expect-only mode)."""
        m = {}
        if e["status"] not in ("ok", "skip"):
            return m
        dt = e["dtype"]
        m["shape"] = None if e["shape_ds"] is None else [
            list(e["shape_ds"]), list(e["arr_shape"]) if e["arr_shape"] is not None
            else list(e["shape_ds"])]
        ms = e["maxshape"]
        if ms is None:
            m["maxshape"] = None
        else:
            sub = list(dt.subdtype[1]) if dt.subdtype is not None else []
            m["maxshape"] = [list(ms), list(ms) + sub]
        if e["representation"] == "raw":
            m["dtype"] = descr_json(e["arr_dtype"])
            m["itemsize"] = e["arr_dtype"].itemsize
        m["enum"] = enum_map(dt.subdtype[0] if dt.subdtype is not None else dt)
        dcpl = ds.id.get_create_plist()
        m["layout"] = LAYOUT_NAMES.get(dcpl.get_layout(), str(dcpl.get_layout()))
        m["chunks"] = list(ds.chunks) if ds.chunks else None
        filters = []
        for i in range(dcpl.get_nfilters()):
            code, flags, params, name = dcpl.get_filter(i)
            filters.append({"id": int(code), "params": [int(p) for p in params]})
        m["filters"] = filters
        try:
            defined = dcpl.fill_value_defined()
            fv = ds.fillvalue if e["representation"] == "raw" else None
            m["fillvalue"] = (defined == h5d.FILL_VALUE_USER_DEFINED,
                              to_expect(fv, dt, self, ds.file) if fv is not None else AnyE())
        except Exception:
            m["fillvalue"] = (False, AnyE())
        try:
            dims = ds.dims
            m["dimension_labels"] = [d.label for d in dims] if ds.shape else []
            m["dimension_scales"] = [[s.name for s in d.values()] for d in dims] if ds.shape else []
        except Exception:
            m["dimension_labels"] = m["dimension_scales"] = None
        return m

    def check_sidecar(self, ds, e, m, sc_mrel, mrel, disp, local, ext):
        sdisp = disp + ".json"
        st = self.lstat(sc_mrel, sdisp, "sidecar")
        if st is None:
            return
        if not stat.S_ISREG(st.st_mode):
            self.mismatch(sdisp, "sidecar", f"not a regular file (mode {oct(st.st_mode)})")
            return
        self.check_mode(st, sdisp, "file")
        try:
            raw = self.read_all(sc_mrel)
        except OSError as err:
            self.mismatch(sdisp, "sidecar", f"read failed: {err}")
            return
        if st.st_size != len(raw):
            self.mismatch(sdisp, "st_size", f"st_size {st.st_size} but {len(raw)} bytes read")
        try:
            meta = json.loads(raw.decode("utf-8"))
        except Exception as x:
            self.mismatch(sdisp, "sidecar", f"not JSON: {x}")
            return
        if not isinstance(meta, dict):
            self.mismatch(sdisp, "sidecar", "not a JSON object")
            return
        bad = []
        if meta.get("h5fs_sidecar") != 1:
            bad.append(f"h5fs_sidecar={meta.get('h5fs_sidecar')!r}")
        spath = meta.get("path")
        if not isinstance(spath, str):
            bad.append(f"path {spath!r} is not a string")
        elif spath != local:
            # another name of the same object (hard link), or for an object reached
            # through an external link one of its paths in the mount, are accepted too
            key = self.objkey(ds)

            def check_path(key=key, spath=spath):
                ent = self.objs.get(key, {})
                if spath not in self.aliases(key) and spath not in ent.get("mount", ()):
                    self.mismatch(sdisp, "sidecar", f"path {spath!r} is not a name of this "
                                                    f"dataset ({local!r})")
            self.pending.append(check_path)
        if e["status"] not in ("ok", "skip"):
            if bad:
                self.mismatch(sdisp, "sidecar", "; ".join(bad))
            return
        missing = [k for k in REQUIRED_SIDECAR_KEYS if k not in meta]
        if e.get("representation") == "text" and "text_format" not in meta:
            missing.append("text_format")
        if missing:
            bad.append(f"missing keys {missing}")
        # shape / maxshape
        if "shape" in meta:
            if m["shape"] is None:
                if meta["shape"] is not None:
                    bad.append(f"shape {meta['shape']!r}, expected null")
            elif meta["shape"] not in m["shape"]:
                bad.append(f"shape {meta['shape']!r}, expected {m['shape'][-1]!r}")
        if "maxshape" in meta:
            if m["maxshape"] is None:
                if meta["maxshape"] is not None:
                    bad.append(f"maxshape {meta['maxshape']!r}, expected null")
            elif meta["maxshape"] not in m["maxshape"]:
                bad.append(f"maxshape {meta['maxshape']!r}, expected {m['maxshape'][0]!r}")
        rep = e["representation"]
        if meta.get("representation") != rep:
            bad.append(f"representation {meta.get('representation')!r}, expected {rep!r}")
        fmt = None
        if rep == "text":
            fmt = meta.get("text_format")
            if fmt not in e["formats"]:
                bad.append(f"text_format {fmt!r}, expected {' or '.join(e['formats'])}")
                fmt = None
        if rep == "raw" and "dtype" in meta:
            try:
                sdt = dtype_from_sidecar(meta["dtype"])
            except Exception as x:
                bad.append(f"dtype {short(meta['dtype'])} not a numpy descr: {x}")
                sdt = None
            if sdt is not None:
                if sdt != strip_meta(e["arr_dtype"]):
                    bad.append(f"dtype {short(meta['dtype'])} gives {sdt}, expected "
                               f"{short(m['dtype'])}")
                elif meta["dtype"] != m["dtype"]:
                    self.warn(sdisp, f"dtype {short(meta['dtype'])} equivalent to but not "
                                     f"numpy's descr {short(m['dtype'])}")
                elif e["status"] == "ok" and (meta.get("shape") is not None
                                              or e["arr_shape"] is None):
                    self.fromfile_check(e, sdt, meta.get("shape"), mrel, disp)
            if meta.get("itemsize") != m["itemsize"]:
                bad.append(f"itemsize {meta.get('itemsize')!r}, expected {m['itemsize']}")
        # layout, chunks, filters
        lay = meta.get("layout")
        if "layout" in meta and (not isinstance(lay, (str, dict)) or
                                 m["layout"] not in json.dumps(lay).lower()):
            bad.append(f"layout {short(lay)!r}, expected {m['layout']!r}")
        if "chunks" in meta and meta["chunks"] != m["chunks"]:
            bad.append(f"chunks {meta['chunks']!r}, expected {m['chunks']!r}")
        if m["layout"] == "virtual":
            bad.extend(self.sources_check(ds, meta.get("sources")))
        elif "sources" in meta:
            bad.append("sources shown for a dataset that is not virtual")
        if "filters" in meta:
            fl = meta["filters"]
            if not isinstance(fl, list) or not all(isinstance(x, dict) for x in fl):
                bad.append(f"filters {short(fl)} is not a list of objects")
            else:
                got = [{"id": x.get("id"), "params": x.get("params")} for x in fl]
                if got != m["filters"]:
                    bad.append(f"filters {short(got)} != expected {short(m['filters'])}")
                if any("name" not in x for x in fl):
                    bad.append("a filter lacks \"name\"")
        # fill value
        if "fillvalue" in meta and rep == "raw":
            user, fexp = m["fillvalue"]
            fv = meta["fillvalue"]
            if not (fv is None and not user):
                diffs = compare(fexp, fv, self, "fillvalue")
                if diffs:
                    bad.append("; ".join(diffs[:2]))
        # enum
        if m["enum"] is not None:
            if meta.get("enum") != m["enum"]:
                bad.append(f"enum {short(meta.get('enum'))}, expected {short(m['enum'])}")
        elif meta.get("enum") not in (None, {}):
            bad.append(f"enum {short(meta.get('enum'))} for a non-enum dtype")
        # dimension labels / scales
        if m["dimension_labels"] is not None and "dimension_labels" in meta:
            dl = meta["dimension_labels"]
            norm = [x if x else None for x in m["dimension_labels"]]
            if dl is None:
                if any(norm):
                    bad.append(f"dimension_labels null, expected {m['dimension_labels']!r}")
            elif not isinstance(dl, list) or [x if x else None for x in dl] != norm:
                if not (dl == [] and not any(norm)):
                    bad.append(f"dimension_labels {short(dl)}, expected {m['dimension_labels']!r}")
        if m["dimension_scales"] is not None and "dimension_scales" in meta:
            ds_ = meta["dimension_scales"]
            want = m["dimension_scales"]
            if isinstance(ds_, list) and all(isinstance(x, list) and all(isinstance(y, str)
                                                                         for y in x) for x in ds_):
                if ds_ != want and not (ds_ == [] and not any(want)):
                    bad.append(f"dimension_scales {short(ds_)}, expected {short(want)}")
            elif ds_ is None and not any(want):
                pass
            else:
                self.warn(sdisp, f"dimension_scales in an unrecognised form: {short(ds_)}")
        # attributes
        if "attributes" in meta:
            self.sidecar_attrs(ds, meta["attributes"], sdisp, bad)
        if bad:
            self.mismatch(sdisp, "sidecar", "; ".join(bad))
        # text content against the chosen format
        if rep == "text" and fmt is not None and "_got" in e:
            self.later_or_now(e.get("lines"),
                              lambda got=e["_got"]: self.check_text_lines(e, got, fmt, disp))

    def fromfile_check(self, e, sdt, shape, mrel, disp):
        try:
            arr = np.fromfile(self.mp(mrel), dtype=sdt)
            if shape is not None:
                arr = arr.reshape(shape)
        except Exception as x:
            self.mismatch(disp, "fromfile", f"np.fromfile/reshape with the sidecar failed: {x}")
            return
        if e["arr_shape"] is not None and arr.shape != tuple(e["arr_shape"]):
            self.mismatch(disp, "fromfile", f"shape {arr.shape}, h5py {e['arr_shape']}")
        elif arr.tobytes() != e["bytes"]:
            self.mismatch(disp, "fromfile", "np.fromfile data differs from h5py")

    def sidecar_attrs(self, ds, lst, sdisp, bad):
        if not isinstance(lst, list) or not all(isinstance(a, dict) for a in lst):
            bad.append("attributes is not a list of objects")
            return
        try:
            names = list(ds.attrs)
        except Exception:
            return
        got = [a.get("name") for a in lst]
        if sorted(got, key=str) != sorted(names):
            bad.append(f"attribute names {short(got)} != {short(names)}")
            return
        for a in lst:
            n = a.get("name")
            for k in ("dtype", "shape", "value"):
                if k not in a:
                    bad.append(f"attribute {n!r} lacks {k!r}")
            try:
                aid = ds.attrs.get_id(n)
                val = fix_vlen(ds.attrs[n], aid.dtype)
            except Exception:
                continue
            exp = to_expect(val, aid.dtype, self, ds.file)
            try:
                big = len(compact(canon(exp)).encode()) > XATTR_SIZE_MAX * 0.9
            except Exception:
                big = False
            if big and a.get("value") is None:
                continue
            if isinstance(val, h5py.Empty):
                shapes = [None]
            else:   # dataspace shape, or with an array type's element dims appended
                shapes = [list(aid.shape), list(np.asarray(val).shape)]
            if a.get("shape") not in shapes:
                bad.append(f"attribute {n!r} shape {a.get('shape')!r}, expected {shapes[0]!r}")

            def run(exp=exp, v=a.get("value"), n=n):
                diffs = compare(exp, v, self, f"attributes[{n}]")
                if diffs:
                    self.mismatch(sdisp, "sidecar-attribute", "; ".join(diffs[:3]))
            self.later_or_now(exp, run)

    # --- committed datatypes ---------------------------------------------------

    def check_datatype(self, obj, local, mrel, ext):
        disp = self.disp(mrel, ext)
        self.counts["datatypes"] += 1
        self.counts["files"] += 1
        st = None
        if self.mnt is not None:
            st = self.lstat(mrel, disp, "datatype")
            if st is not None and not stat.S_ISREG(st.st_mode):
                self.mismatch(disp, "type", f"committed datatype is not a regular file "
                                            f"(mode {oct(st.st_mode)})")
                st = None
        self.record(obj, local, mrel, st, disp)
        self.check_attrs(obj, mrel, disp)
        if st is None:
            return
        self.check_mode(st, disp, "file")
        try:
            raw = self.read_all(mrel)
        except OSError as err:
            self.mismatch(disp, "datatype", f"read failed: {err}")
            return
        if st.st_size != len(raw):
            self.mismatch(disp, "st_size", f"st_size {st.st_size} but {len(raw)} bytes read")
        try:
            json.loads(raw.decode("utf-8"))
        except Exception as x:
            self.mismatch(disp, "datatype", f"content is not JSON: {x}")

    # --- result ----------------------------------------------------------------

    def result(self):
        r = dict(self.counts)
        r.update(mismatches=self.mismatches, eio=self.eio, eio_reasons=self.eio_reasons,
                 warnings=self.warnings,
                 hdf5_files=self.hdf5_files)
        return r


def first_diff(a, b):
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mnt", nargs="?", help="mount point (omit with --expect-only)")
    ap.add_argument("file", help="the HDF5 file that is mounted")
    ap.add_argument("--json-out", metavar="F", help="write the result as JSON to F")
    ap.add_argument("--expect-only", action="store_true",
                    help="compute the expectations only (no mount needed)")
    ap.add_argument("--lenient-eio", action="store_true",
                    help="a dataset h5py cannot read but the mount can is a warning, not a "
                         "mismatch (for filters the mount has built in)")
    ap.add_argument("--no-dir-nlink", action="store_true",
                    help="do not compare st_nlink of directories with the HDF5 link count")
    ap.add_argument("--max-bytes", type=int, default=256 << 20,
                    help="skip content checks of datasets larger than this (default 256 MiB)")
    ap.add_argument("--timeout", type=int, default=0, metavar="S",
                    help="give up after S seconds (a hung mount), reporting a mismatch")
    ap.add_argument("--views", default="", metavar="LIST",
                    help="the mount shows these header views (-o views=LIST): expect them "
                         "in listings (views.py checks their contents)")
    ap.add_argument("--driver", default="", metavar="NAME",
                    help="open FILE with this h5py driver (family: FILE is the pattern; "
                         "split: FILE is the name before -m.h5/-r.h5)")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every mismatch")
    args = ap.parse_args(argv)
    if args.expect_only:
        if args.mnt is not None and args.file is not None:
            ap.error("--expect-only takes only FILE")
        mnt = None
    else:
        if args.mnt is None:
            ap.error("MNT and FILE are required (or --expect-only FILE)")
        mnt = args.mnt
    o = Oracle(mnt, args.file, args)
    if args.timeout > 0:
        def on_alarm(signum, frame):
            raise Timeout()
        signal.signal(signal.SIGALRM, on_alarm)
        signal.alarm(args.timeout)
    ok = o.run()
    signal.alarm(0)
    res = o.result()
    if ok is None:
        res["error"] = "cannot start (see stderr)"
    if args.json_out:
        with open(args.json_out, "w") as fh:
            json.dump(res, fh, indent=1, ensure_ascii=False, default=str)
    c = o.counts
    mode = "expect-only" if mnt is None else "checked"
    print(f"oracle {mode} {args.file}: {c['groups']} groups, {c['datasets']} datasets, "
          f"{c['attributes']} attributes, {c['links']} links, {c['datatypes']} datatypes, "
          f"{c['files']} files; {len(o.mismatches)} mismatches, {len(o.eio)} eio, "
          f"{len(o.warnings)} warnings")
    shown = o.mismatches if args.verbose else o.mismatches[:40]
    for mm in shown:
        print(f"  MISMATCH {mm['path']} [{mm['check']}] {mm['detail']}")
    if len(shown) < len(o.mismatches):
        print(f"  ... {len(o.mismatches) - len(shown)} more (use -v or --json-out)")
    if args.verbose:
        for w in o.warnings:
            print(f"  warning {w}")
        for p in o.eio:
            print(f"  eio {p}: {o.eio_reasons.get(p, '')}")
    if ok is None:
        return 2
    return 1 if o.mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
