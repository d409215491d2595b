"""An h5py SWMR writer for tests and benchmarks.

Creates FILE (libver latest) with `rows`, an (N, 4) int64 dataset in chunks
of 16 rows, and `gz`, a float32 series in gzip chunks of 64; switches to
SWMR mode; prints "ready"; then appends one row to each at HZ per second,
flushing both after each row. With --times F it writes the time of each
flush (time.time(), one per line) to F.
"""
import argparse
import time

import h5py
import numpy as np


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("file")
    ap.add_argument("rows", type=int)
    ap.add_argument("hz", type=float)
    ap.add_argument("--times", metavar="F")
    a = ap.parse_args()
    f = h5py.File(a.file, "w", libver="latest")
    rows = f.create_dataset("rows", shape=(0, 4), maxshape=(None, 4), chunks=(16, 4),
                            dtype="<i8")
    gz = f.create_dataset("gz", shape=(0,), maxshape=(None,), chunks=(64,), dtype="<f4",
                          compression="gzip")
    f.swmr_mode = True
    print("ready", flush=True)
    times = []
    for i in range(a.rows):
        rows.resize((i + 1, 4))
        rows[i] = np.arange(4, dtype="<i8") * 1000 + i
        gz.resize((i + 1,))
        gz[i] = i / 2
        rows.flush()
        gz.flush()
        times.append(time.time())
        time.sleep(1 / a.hz)
    f.close()
    if a.times:
        with open(a.times, "w") as fh:
            fh.write("".join(f"{t!r}\n" for t in times))


if __name__ == "__main__":
    main()
