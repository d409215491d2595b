"""Check a directory mount file by file against h5py, in random order.

Usage: dir_check.py MNT SRC [--seed N] [--only-h5]

Every HDF5 file under SRC (found by h5py.is_hdf5) must be a directory at the
same place under MNT whose datasets (walked in SRC with h5py) read as
ds[()].tobytes() and whose sidecars give the shape; every other regular
file must read as its bytes. Prints one JSON line: counts and mismatches.
"""
import argparse
import json
import os
import random

import h5py


def datasets(f):
    out = []
    f.visititems(lambda name, obj: out.append(name) if isinstance(obj, h5py.Dataset) else None)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mnt")
    ap.add_argument("src")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    files = []
    for d, _, names in os.walk(a.src):
        for n in names:
            files.append(os.path.relpath(os.path.join(d, n), a.src))
    random.Random(a.seed).shuffle(files)
    res = {"hdf5": 0, "plain": 0, "datasets": 0, "mismatches": []}
    for rel in files:
        src = os.path.join(a.src, rel)
        mnt = os.path.join(a.mnt, rel)
        if os.path.islink(src):
            continue
        try:
            if h5py.is_hdf5(src):
                res["hdf5"] += 1
                if not os.path.isdir(mnt):
                    res["mismatches"].append(f"{rel}: not a directory in the mount")
                    continue
                with h5py.File(src, "r") as f:
                    for name in datasets(f):
                        res["datasets"] += 1
                        want = f[name][()].tobytes()
                        with open(os.path.join(mnt, name), "rb") as fh:
                            got = fh.read()
                        if got != want:
                            res["mismatches"].append(f"{rel}/{name}: {len(got)} bytes differ")
                        with open(os.path.join(mnt, name + ".json")) as fh:
                            shape = json.load(fh)["shape"]
                        if list(shape) != list(f[name].shape):
                            res["mismatches"].append(f"{rel}/{name}.json: shape {shape}")
            else:
                res["plain"] += 1
                with open(src, "rb") as fh:
                    want = fh.read()
                with open(mnt, "rb") as fh:
                    got = fh.read()
                if got != want:
                    res["mismatches"].append(f"{rel}: plain file differs")
        except OSError as e:
            res["mismatches"].append(f"{rel}: {e}")
    print(json.dumps(res))


if __name__ == "__main__":
    main()
