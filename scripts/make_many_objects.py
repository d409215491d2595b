#!/usr/bin/python3
"""Write an HDF5 file with many objects: GROUPS groups of DATASETS small
datasets each (default 100 x 1000 = 100,100 objects with the groups).
Usage: make_many_objects.py OUT.h5 [GROUPS] [DATASETS]"""
import sys

import h5py
import numpy as np

out = sys.argv[1]
groups = int(sys.argv[2]) if len(sys.argv) > 2 else 100
per_group = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
data = np.arange(4, dtype="<i4")
with h5py.File(out, "w", libver="latest") as f:
    for g in range(groups):
        grp = f.create_group(f"g{g:04d}")
        for d in range(per_group):
            grp.create_dataset(f"d{d:05d}", data=data)
