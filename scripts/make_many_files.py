#!/usr/bin/python3
"""Write a directory tree of many small HDF5 files: FILES files in
sub-directories of 100, each with 10 groups of 9 tiny datasets (100 objects
with the root). Usage: make_many_files.py OUT_DIR [FILES]"""
import os
import sys

import h5py
import numpy as np

out = sys.argv[1]
files = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000
for i in range(files):
    sub = os.path.join(out, f"d{i // 100:03d}")
    os.makedirs(sub, exist_ok=True)
    with h5py.File(os.path.join(sub, f"f{i:05d}.h5"), "w") as f:
        for g in range(10):
            grp = f.create_group(f"g{g}")
            for k in range(9):
                grp[f"d{k}"] = np.arange(16, dtype="<i4") + k
