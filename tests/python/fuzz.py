#!/usr/bin/python3
"""Seeded fuzz harness: find HDF5 files that crash, hang or balloon an h5fs mount.

Each case is one file with one small change (a seeded mutation of a corpus file,
or with --replay a given file as it is). The harness mounts it with
`h5fs FILE MNT -f` on a fresh mountpoint and walks the whole mount in a child
process: every directory listed, every entry lstat'ed, every symlink read,
every regular file (datasets, NAME.json sidecars, text views) read whole in
1 MiB reads, every xattr listed and read. The walker reports each operation
before it starts it on a pipe, so a hang names the operation. Meanwhile the
resident memory of the daemon and all its descendants is sampled every 50 ms.

Classes (one per case):
  refused        the daemon exited before mounting with a clean one-line error (fine)
  ok             the walk finished; errnos such as EIO are the contained outcome (fine)
  crash          the daemon died, the mount vanished, or an operation got
                 ENOTCONN/ECONNABORTED
  hang           one operation (or the mount itself) took longer than --timeout
  memory         daemon + descendants went over --mem-limit-mib resident
  unmount-stuck  after the walk, `fusermount3 -u` failed, or the daemon did not
                 exit within 10 s, or exited with a failure status
Exit status 1 if any case is crash, hang, memory or unmount-stuck.

A case is reproducible from the seed and its index alone: case I of seed S uses
random.Random("S:I") to pick the source file (from the sorted file list) and the
mutation. `--index I` runs just that case; `--out DIR` keeps each failing file.

Usage (scripts/fuzz builds the binary and passes --binary):
  fuzz.py --binary target/release/h5fs --seed 1 --count 60
  fuzz.py --binary target/release/h5fs --replay tests/data/fuzz/*.h5
Only the standard library is used (numpy and h5py are not needed).
"""

import argparse
import errno
import glob
import json
import os
import random
import select
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORPUS = os.path.join(REPO, "tests", "data", "corpus")
READ_SIZE = 1 << 20
FAILING = ("crash", "hang", "memory", "unmount-stuck")
CLASSES = ("refused", "ok") + FAILING
DEAD_ERRNOS = (errno.ENOTCONN, errno.ECONNABORTED)
SAMPLE_S = 0.05
UNMOUNT_WAIT_S = 10.0


# ---------------------------------------------------------------- the walker
# Runs in a child process (`fuzz.py --walk MNT`). Protocol on stdout, one line
# each, tab separated: "S op path" before an operation, "K" after one that
# succeeded, "E errno message" after one that failed, "D" when done.


class Walker:
    def __init__(self, root, max_file_bytes, skip=(), skip_xattrs=()):
        self.root = root
        self.max_file_bytes = max_file_bytes
        # Mount-relative paths ("/a/b") not to touch at all, or whose xattrs not to touch.
        self.skip = set(skip)
        self.skip_xattrs = set(skip_xattrs)
        self.out = sys.stdout
        self.seen_dirs = set()

    def send(self, *fields):
        self.out.write("\t".join(str(f).replace("\t", " ").replace("\n", " ") for f in fields) + "\n")
        self.out.flush()

    def rel(self, path):
        r = os.path.relpath(path, self.root)
        return "/" if r == "." else "/" + r

    def op(self, name, path, fn, *args, detail=None, **kwargs):
        """Run fn(*args, **kwargs), reported as "name path detail"; returns (ok, value)."""
        self.send("S", " ".join(x for x in (name, self.rel(path), detail) if x))
        try:
            value = fn(*args, **kwargs)
        except OSError as e:
            code = e.errno if e.errno is not None else -1
            self.send("E", code, e.strerror or str(e))
            if code in DEAD_ERRNOS:
                # The mount is gone: every further call fails the same way.
                self.send("D")
                sys.exit(0)
            return False, None
        except Exception as e:  # noqa: BLE001 - report anything, keep walking
            self.send("E", -1, "%s: %s" % (type(e).__name__, e))
            return False, None
        self.send("K")
        return True, value

    def read_file(self, path):
        ok, fd = self.op("open", path, os.open, path, os.O_RDONLY | os.O_NOFOLLOW)
        if not ok:
            return
        try:
            offset = 0
            while True:
                if self.max_file_bytes and offset >= self.max_file_bytes:
                    # A huge (sparse or fill-value) dataset: read its last MiB too.
                    ok, st = self.op("fstat", path, os.fstat, fd)
                    if ok and st.st_size > offset:
                        tail = max(offset, st.st_size - READ_SIZE)
                        self.op("read", path, os.pread, fd, READ_SIZE, tail, detail="@%d" % tail)
                    break
                ok, data = self.op("read", path, os.pread, fd, READ_SIZE, offset, detail="@%d" % offset)
                if not ok or not data:
                    break
                offset += len(data)
        finally:
            self.op("close", path, os.close, fd)

    def xattrs(self, path):
        if self.rel(path) in self.skip_xattrs:
            return
        ok, names = self.op("listxattr", path, os.listxattr, path, follow_symlinks=False)
        if not ok:
            return
        for name in names:
            self.op("getxattr", path, os.getxattr, path, name, follow_symlinks=False, detail=name)

    def entry(self, path):
        ok, st = self.op("lstat", path, os.lstat, path)
        if not ok:
            return None
        if stat.S_ISLNK(st.st_mode):
            self.op("readlink", path, os.readlink, path)
        elif stat.S_ISREG(st.st_mode):
            self.read_file(path)
        self.xattrs(path)
        return st

    def walk_dir(self, path, st):
        key = (st.st_dev, st.st_ino)
        if key in self.seen_dirs:
            return  # a group hard-linked into itself: list it once
        self.seen_dirs.add(key)
        ok, names = self.op("listdir", path, os.listdir, path)
        if not ok:
            return
        subdirs = []
        for name in sorted(names):
            child = os.path.join(path, name)
            if self.rel(child) in self.skip:
                continue
            cst = self.entry(child)
            if cst is not None and stat.S_ISDIR(cst.st_mode):
                subdirs.append((child, cst))
        for child, cst in subdirs:
            self.walk_dir(child, cst)

    def run(self):
        self.op("statvfs", self.root, os.statvfs, self.root)
        st = self.entry(self.root)
        if st is not None:
            self.walk_dir(self.root, st)
        self.send("D")


def walk_main(root, max_file_bytes, skip, skip_xattrs):
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the harness ends us
    Walker(root, max_file_bytes, skip, skip_xattrs).run()


# ---------------------------------------------------------------- processes


def proc_table():
    """{pid: (ppid, session)} of every process."""
    table = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name, "rb") as f:
                data = f.read().decode("latin-1")
        except OSError:
            continue
        fields = data[data.rfind(")") + 2:].split()
        try:
            table[int(name)] = (int(fields[1]), int(fields[3]))
        except (IndexError, ValueError):
            continue
    return table


def family(pid):
    """The daemon and every descendant: by parent links, and by session (the
    daemon leads its own session, so orphaned workers are found too)."""
    table = proc_table()
    found = {pid} if pid in table else set()
    for p, (_, sid) in table.items():
        if sid == pid:
            found.add(p)
    changed = True
    while changed:
        changed = False
        for p, (ppid, _) in table.items():
            if ppid in found and p not in found:
                found.add(p)
                changed = True
    return found


def rss_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def family_rss_kib(pid):
    return sum(rss_kib(p) for p in family(pid))


def kill_family(pid):
    for p in family(pid):
        try:
            os.kill(p, signal.SIGKILL)
        except OSError:
            pass


def mount_entry(mnt):
    """The /proc/self/mountinfo line of mnt split in fields, or None."""
    want = mnt.replace("\\", "\\134").replace(" ", "\\040")
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                fields = line.split(" ")
                if len(fields) > 4 and fields[4] == want:
                    return fields
    except OSError:
        pass
    return None


def force_unmount(mnt):
    """Detach mnt whatever state its daemon is in."""
    for _ in range(3):
        fields = mount_entry(mnt)
        if fields is None:
            return
        # Abort the FUSE connection (frees callers stuck in requests), then detach.
        try:
            minor = fields[2].split(":")[1]
            with open("/sys/fs/fuse/connections/%s/abort" % minor, "w") as f:
                f.write("1")
        except (OSError, IndexError):
            pass
        subprocess.run(["umount", "-l", mnt], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.05)


def reap(proc, wait_s):
    try:
        proc.wait(timeout=wait_s)
        return True
    except subprocess.TimeoutExpired:
        return False


# ---------------------------------------------------------------- mutations


def corpus_files(globs):
    if not globs:
        globs = [os.path.join(CORPUS, "**", "*" + ext) for ext in (".h5", ".hdf5", ".nc")]
    files = set()
    for g in globs:
        matched = glob.glob(g, recursive=True)
        if not matched and os.path.isfile(g):
            matched = [g]
        files.update(os.path.abspath(m) for m in matched if os.path.isfile(m))
    return sorted(files)


def short(path):
    path = os.path.abspath(path)
    for base in (CORPUS, REPO):
        if path.startswith(base + os.sep):
            return os.path.relpath(path, base)
    return path


def mutate(data, rng):
    """One small change of data (bytes), chosen by rng: (new bytes, record)."""
    size = len(data)
    kinds = ["bitflip"] * 3 + ["byte"] * 3 + ["zero"] * 2 + ["copy"] * 2 + ["truncate"]
    for _ in range(100):
        kind = rng.choice(kinds)
        if kind == "bitflip":
            off = rng.randrange(size)
            mask = 0
            for _ in range(rng.choice((1, 1, 1, 2, 3))):
                mask |= 1 << rng.randrange(8)
            new = bytes([data[off] ^ mask])
            rec = {"kind": kind, "offset": off, "length": 1, "mask": "%02x" % mask}
        elif kind == "byte":
            off = rng.randrange(size)
            value = rng.choice((0x00, 0xFF, 0x7F, 0x80)) if rng.random() < 0.5 else rng.randrange(256)
            new = bytes([value])
            rec = {"kind": kind, "offset": off, "length": 1}
        elif kind == "zero":
            length = min(rng.randint(1, 512), size)
            off = rng.randrange(size - length + 1)
            new = bytes(length)
            rec = {"kind": kind, "offset": off, "length": length}
        elif kind == "copy":
            length = min(rng.randint(1, 512), size)
            src = rng.randrange(size - length + 1)
            off = rng.randrange(size - length + 1)
            new = data[src:src + length]
            rec = {"kind": kind, "offset": off, "length": length, "from": src}
        else:
            new_size = rng.randrange(size)
            rec = {"kind": kind, "offset": new_size, "length": size - new_size}
            return data[:new_size], rec
        old = data[off:off + len(new)]
        if old == new:
            continue  # a change that changes nothing: draw again
        rec["old"] = old.hex()
        rec["new"] = new.hex()
        return data[:off] + new + data[off + len(new):], rec
    raise RuntimeError("no effective mutation found")


def describe(rec):
    if rec is None:
        return "none (replay)"
    k, off, n = rec["kind"], rec["offset"], rec["length"]
    if k == "truncate":
        return "truncate to %d bytes (-%d)" % (off, n)
    if k == "copy":
        return "copy %d bytes from %d to %d" % (n, rec["from"], off)
    if k == "zero":
        return "zero %d bytes at %d" % (n, off)
    return "%s at %d: %s -> %s" % (k, off, rec["old"], rec["new"])


def make_case(seed, index, files):
    rng = random.Random("%d:%d" % (seed, index))
    src = rng.choice(files)
    with open(src, "rb") as f:
        data = f.read()
    new, rec = mutate(data, rng)
    return src, new, rec


# ---------------------------------------------------------------- one case


class Harness:
    def __init__(self, args):
        self.args = args
        self.binary = os.path.abspath(args.binary)
        self.limit_kib = args.mem_limit_mib * 1024
        self.kill_kib = args.mem_kill_mib * 1024
        # What is live right now, for cleanup on any exit.
        self.daemon = None
        self.walker = None
        self.mnt = None
        self.tmp = None

    def cleanup(self):
        blocked = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
        old = signal.pthread_sigmask(signal.SIG_BLOCK, blocked)
        try:
            self._cleanup()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)

    def _cleanup(self):
        if self.walker is not None and self.walker.poll() is None:
            try:
                self.walker.kill()
            except OSError:
                pass
        if self.daemon is not None:
            kill_family(self.daemon.pid)
        if self.mnt is not None:
            force_unmount(self.mnt)
        if self.walker is not None:
            reap(self.walker, 10)
        if self.daemon is not None:
            reap(self.daemon, 10)
            kill_family(self.daemon.pid)  # stragglers that left the session tree
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
        self.daemon = self.walker = self.mnt = self.tmp = None

    def run_case(self, path, data, meta):
        """Mount data (bytes; written to a scratch copy) and classify it."""
        self.tmp = tempfile.mkdtemp(prefix="h5fs-fuzz-")
        try:
            return self._run_case(path, data, meta)
        finally:
            self.cleanup()

    def _run_case(self, path, data, meta):
        file = os.path.join(self.tmp, os.path.basename(path))
        with open(file, "wb") as f:
            f.write(data)
        self.mnt = os.path.join(self.tmp, "mnt")
        os.mkdir(self.mnt)
        log_path = os.path.join(self.tmp, "daemon.log")
        res = dict(meta)
        res.update({"class": None, "op": None, "detail": "", "peak_rss_mib": 0.0, "peak_op": None,
                    "errnos": {}, "ops": 0, "log_tail": []})
        peak = [0]

        def sample(op=None):
            kib = family_rss_kib(self.daemon.pid)
            if kib > peak[0]:
                peak[0] = kib
                res["peak_op"] = op
            return kib

        def finish(cls, op=None, detail=""):
            res["class"] = cls
            res["op"] = op
            res["detail"] = detail
            res["peak_rss_mib"] = round(peak[0] / 1024.0, 1)
            return res

        with open(log_path, "wb") as log:
            self.daemon = subprocess.Popen(
                [self.binary, file, self.mnt, "-f"],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
                start_new_session=True)
        result = self._mount_and_walk(res, peak, sample, finish)
        try:
            with open(log_path, "rb") as f:
                text = f.read().decode("utf-8", "replace")
        except OSError:
            text = ""
        res["log"] = text[-20000:]
        res["log_tail"] = [l for l in text.splitlines() if l.strip()][-5:]
        if self.args.out and result["class"] in FAILING:
            self.keep(result, data, text)
        return result

    def _mount_and_walk(self, res, peak, sample, finish):
        args = self.args
        # 1. The mount comes up, or the daemon refuses the file.
        start = time.monotonic()
        while mount_entry(self.mnt) is None:
            code = self.daemon.poll()
            if code is not None:
                with open(os.path.join(self.tmp, "daemon.log"), "rb") as f:
                    err = f.read().decode("utf-8", "replace")
                lines = [l for l in err.splitlines() if l.strip()]
                if code < 0:
                    return finish("crash", "mount", "daemon killed by signal %d before mounting" % -code)
                if code > 0 and len(lines) == 1 and lines[0].startswith("h5fs: ") and "panicked" not in err:
                    return finish("refused", None, lines[0])
                return finish("crash", "mount", "daemon exited with status %d before mounting "
                              "without a clean one-line error (%d log lines)" % (code, len(lines)))
            kib = sample("mount")
            if kib > self.kill_kib:
                kill_family(self.daemon.pid)
                return finish("memory", "mount", "killed at %d MiB while mounting" % (kib // 1024))
            if time.monotonic() - start > args.timeout:
                return finish("hang", "mount", "not mounted after %ss" % args.timeout)
            time.sleep(0.02)

        # 2. Walk it in a child process, watching the daemon.
        walker_err = os.path.join(self.tmp, "walker.err")
        with open(walker_err, "wb") as err:
            self.walker = subprocess.Popen(
                [sys.executable, os.path.abspath(__file__), "--walk", self.mnt,
                 "--max-file-mib", str(args.max_file_mib)],
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err,
                start_new_session=True)
        fd = self.walker.stdout.fileno()
        buf = b""
        current = None  # the operation in progress, "op path [detail]"
        op_start = time.monotonic()
        dead_op = None  # first operation answered ENOTCONN/ECONNABORTED
        done = False
        daemon_died = None
        killed_for_memory = None
        hang = None
        while not done:
            r, _, _ = select.select([fd], [], [], SAMPLE_S)
            if r:
                chunk = os.read(fd, 65536)
                if not chunk:
                    done = True  # walker exited (or died)
                buf += chunk
                *lines, buf = buf.split(b"\n")
                for raw in lines:
                    f = raw.decode("utf-8", "replace").split("\t")
                    if f[0] == "S":
                        current = f[1]
                        op_start = time.monotonic()
                        res["ops"] += 1
                    elif f[0] == "K":
                        current = None
                    elif f[0] == "E":
                        code = int(f[1])
                        name = errno.errorcode.get(code, str(code))
                        res["errnos"][name] = res["errnos"].get(name, 0) + 1
                        if code in DEAD_ERRNOS and dead_op is None:
                            dead_op = "%s (%s)" % (current, name) if current else name
                        current = None
                    elif f[0] == "D":
                        done = True
            kib = sample(current)
            if kib > self.kill_kib and killed_for_memory is None:
                killed_for_memory = current
                kill_family(self.daemon.pid)
                res["detail_memory"] = "killed at %d MiB" % (kib // 1024)
                break
            code = self.daemon.poll()
            if code is not None and daemon_died is None:
                daemon_died = code
                # Give the walker a moment to report the call that failed.
                grace = time.monotonic() + 1.0
                while dead_op is None and time.monotonic() < grace and not done:
                    r, _, _ = select.select([fd], [], [], 0.05)
                    if not r:
                        continue
                    chunk = os.read(fd, 65536)
                    if not chunk:
                        break
                    buf += chunk
                    *lines, buf = buf.split(b"\n")
                    for raw in lines:
                        f = raw.decode("utf-8", "replace").split("\t")
                        if f[0] == "S":
                            current = f[1]
                        elif f[0] == "E" and int(f[1]) in DEAD_ERRNOS and dead_op is None:
                            name = errno.errorcode.get(int(f[1]), f[1])
                            dead_op = "%s (%s)" % (current, name) if current else name
                break
            if dead_op is not None:
                break
            if mount_entry(self.mnt) is None:
                break
            if current is not None and time.monotonic() - op_start > args.timeout:
                hang = current
                break
            if current is None and not done and time.monotonic() - op_start > args.timeout:
                hang = "(walker silent)"
                break

        if dead_op is not None and daemon_died is None:
            # The walker saw the connection drop: give the daemon a moment to be reaped.
            try:
                daemon_died = self.daemon.wait(timeout=1.0)
            except subprocess.TimeoutExpired:
                pass
        res["over_memory_limit"] = peak[0] > self.limit_kib
        if killed_for_memory is not None or res.get("detail_memory"):
            return finish("memory", killed_for_memory, res.pop("detail_memory", ""))
        if daemon_died is not None:
            how = ("killed by signal %d" % -daemon_died) if daemon_died < 0 else ("exited with status %d" % daemon_died)
            op = dead_op or current
            return finish("crash", op, "daemon %s during the walk" % how)
        if dead_op is not None:
            return finish("crash", dead_op, "mount disconnected")
        if mount_entry(self.mnt) is None:
            return finish("crash", current, "the mount vanished")
        if hang is not None:
            return finish("hang", hang, "no answer within %ss" % args.timeout)
        if self.walker.wait(timeout=10) != 0:
            # The walker itself failed (a bug here, not in h5fs): show it, do not hide it.
            with open(walker_err, "rb") as f:
                last = (f.read().decode("utf-8", "replace").strip().splitlines() or [""])[-1]
            return finish("crash", current,
                          "walker exited with status %d: %s" % (self.walker.returncode, last))
        # 3. A clean unmount, as a user would do it.
        try:
            um = subprocess.run(["fusermount3", "-u", self.mnt], stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, timeout=UNMOUNT_WAIT_S)
            um_ok, um_err = um.returncode == 0, um.stderr.decode("utf-8", "replace").strip()
        except subprocess.TimeoutExpired:
            um_ok, um_err = False, "fusermount3 -u did not return within %ss" % UNMOUNT_WAIT_S
        stuck = None
        if not um_ok:
            stuck = "fusermount3 -u failed: %s" % um_err
        else:
            deadline = time.monotonic() + UNMOUNT_WAIT_S
            while self.daemon.poll() is None and time.monotonic() < deadline:
                sample("unmount")
                time.sleep(SAMPLE_S)
            code = self.daemon.poll()
            if code is None:
                stuck = "daemon still running %ss after unmount" % UNMOUNT_WAIT_S
            elif code < 0:
                return finish("crash", "unmount", "daemon killed by signal %d at unmount" % -code)
            elif code != 0:
                stuck = "daemon exited with status %d after unmount" % code
        if peak[0] > self.limit_kib:
            res["over_memory_limit"] = True
            res["unmount"] = stuck or "clean"
            return finish("memory", res.get("peak_op"),
                          "peak %d MiB > %d MiB" % (peak[0] // 1024, args.mem_limit_mib))
        if stuck is not None:
            return finish("unmount-stuck", "unmount", stuck)
        return finish("ok")

    def keep(self, res, data, log_text):
        os.makedirs(self.args.out, exist_ok=True)
        if res.get("index") is not None:
            stem = "seed%d-%04d-%s-%s" % (res["seed"], res["index"], res["class"],
                                         os.path.basename(res["source"]))
        else:
            stem = "replay-%s-%s" % (res["class"], os.path.basename(res["source"]))
        with open(os.path.join(self.args.out, stem), "wb") as f:
            f.write(data)
        with open(os.path.join(self.args.out, stem + ".log"), "w") as f:
            f.write(log_text)
        with open(os.path.join(self.args.out, stem + ".json"), "w") as f:
            json.dump({k: v for k, v in res.items() if k != "log"}, f, indent=2)
        res["kept"] = os.path.join(self.args.out, stem)


# ---------------------------------------------------------------- main


def case_line(res):
    who = ("seed=%d index=%d" % (res["seed"], res["index"])) if res.get("index") is not None else "replay"
    tail = " | ".join(res["log_tail"][-3:]) or "(empty)"
    return ("%s %s %s source=%s mutation=[%s] op=[%s] %s peak=%.0fMiB log: %s"
            % (res["class"].upper(), who, "", res["source"], describe(res["mutation"]),
               res["op"] or "-", res["detail"], res["peak_rss_mib"], tail)).replace("  ", " ")


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n\n".join(__doc__.split("\n\n")[1:]))
    p.add_argument("--binary", default=os.path.join(REPO, "target", "release", "h5fs"),
                   help="the h5fs binary (default: target/release/h5fs)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--count", type=int, default=100, help="number of mutations (default 100)")
    p.add_argument("--index", type=int, nargs="+", metavar="I",
                   help="run only these case indexes of the seed (reproduce a case)")
    p.add_argument("--files", nargs="+", metavar="GLOB",
                   help="source files (default: every .h5/.hdf5/.nc under tests/data/corpus)")
    p.add_argument("--replay", nargs="+", metavar="FILE",
                   help="mount and walk these files unmodified instead of mutating")
    p.add_argument("--timeout", type=float, default=20.0,
                   help="seconds one filesystem operation may take (default 20)")
    p.add_argument("--mem-limit-mib", type=int, default=2048,
                   help="peak resident MiB of daemon + descendants (default 2048)")
    p.add_argument("--mem-kill-mib", type=int, default=None,
                   help="kill the daemon past this many MiB to protect the machine "
                        "(default: 3x --mem-limit-mib)")
    p.add_argument("--max-file-mib", type=int, default=512,
                   help="read at most this much of one file, then its last MiB (default 512; 0: all)")
    p.add_argument("--out", metavar="DIR", help="keep each failing file, its log and a JSON report here")
    p.add_argument("--json-out", metavar="FILE", help="write the full report as JSON")
    p.add_argument("-v", "--verbose", action="store_true", help="one line per case, not only failures")
    # The walker alone (what each case runs in a child process; tests/bad_files.rs
    # uses it too): walk MNT, reporting on stdout; --skip/--skip-xattrs take
    # mount-relative paths such as /group/dataset.
    p.add_argument("--walk", metavar="MNT", help=argparse.SUPPRESS)
    p.add_argument("--skip", action="append", default=[], help=argparse.SUPPRESS)
    p.add_argument("--skip-xattrs", action="append", default=[], help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.mem_kill_mib is None:
        a.mem_kill_mib = 3 * a.mem_limit_mib
    return a


def main(argv):
    args = parse_args(argv)
    if args.walk:
        walk_main(args.walk, args.max_file_mib * READ_SIZE, args.skip, args.skip_xattrs)
        return 0
    if not os.access(args.binary, os.X_OK):
        print("fuzz: no h5fs binary at %s (build it: cargo build --release)" % args.binary, file=sys.stderr)
        return 2

    def on_signal(signum, _frame):
        raise KeyboardInterrupt("signal %d" % signum)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    if args.replay:
        plan = [("replay", os.path.abspath(f)) for f in args.replay]
        files = []
    else:
        files = corpus_files(args.files)
        if not files:
            print("fuzz: no source files match", file=sys.stderr)
            return 2
        indexes = args.index if args.index else range(args.count)
        plan = [("mutate", i) for i in indexes]

    harness = Harness(args)
    results = []
    interrupted = False
    started = time.monotonic()
    try:
        for kind, what in plan:
            if kind == "replay":
                with open(what, "rb") as f:
                    data = f.read()
                meta = {"seed": None, "index": None, "source": short(what), "mutation": None}
                res = harness.run_case(what, data, meta)
            else:
                src, data, rec = make_case(args.seed, what, files)
                meta = {"seed": args.seed, "index": what, "source": short(src), "mutation": rec}
                res = harness.run_case(src, data, meta)
            results.append(res)
            if res["class"] in FAILING or args.verbose:
                print(case_line(res), flush=True)
    except KeyboardInterrupt:
        interrupted = True
        print("fuzz: interrupted, cleaning up", file=sys.stderr)
    finally:
        harness.cleanup()

    counts = {c: sum(1 for r in results if r["class"] == c) for c in CLASSES}
    peak = max([r["peak_rss_mib"] for r in results] or [0.0])
    what = ("replay of %d files" % len(results)) if args.replay else (
        "%d mutations, seed %d, %d source files" % (len(results), args.seed, len(files)))
    print("fuzz: %s: %s; peak memory %.0f MiB (daemon + descendants); %.0fs"
          % (what, ", ".join("%s %d" % (c, counts[c]) for c in CLASSES), peak,
             time.monotonic() - started), flush=True)
    if args.json_out:
        report = {
            "binary": harness.binary, "seed": None if args.replay else args.seed,
            "count": len(results), "timeout": args.timeout, "mem_limit_mib": args.mem_limit_mib,
            "files": [short(f) for f in files], "replay": [short(f) for f in args.replay or []],
            "counts": counts, "peak_rss_mib": peak, "interrupted": interrupted, "cases": results,
        }
        with open(args.json_out, "w") as f:
            json.dump(report, f, indent=2)
    if interrupted:
        return 130
    return 1 if any(counts[c] for c in FAILING) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
