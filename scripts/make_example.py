#!/usr/bin/python3
"""Write the small example file the demo mounts: a few groups, datasets of
common types, attributes, and links. Usage: make_example.py OUT.h5"""
import sys

import h5py
import numpy as np

with h5py.File(sys.argv[1], "w", track_order=True) as f:
    f.attrs["title"] = "h5fs example"
    f.attrs["version"] = 3
    run = f.create_group("run1")
    run.attrs["temperature_K"] = 293.15
    t = run.create_dataset("time", data=np.linspace(0.0, 1.0, 8))
    t.attrs["units"] = "s"
    run.create_dataset("counts", data=np.arange(24, dtype="<i4").reshape(4, 6),
                       chunks=(2, 3), compression="gzip")
    run.create_dataset("labels", data=["alpha", "beta", "gamma"],
                       dtype=h5py.string_dtype())
    f.create_dataset("big_endian", data=np.arange(4, dtype=">u2"))
    f["latest"] = h5py.SoftLink("/run1")
    f["time_again"] = run["time"]
