#!/usr/bin/env python3
"""Self-test of powerloss-fs against real FUSE mounts.

Usage: selftest.py --bin PATH/TO/powerloss-fs

Each check gets its own backing directory and mountpoint under one temporary directory,
acts through the mount with the os module, triggers power loss (SIGUSR1), remounts a fresh
daemon on the same backing directory and inspects the result. Prints one line per check,
exits 1 if any check failed. Always unmounts (fusermount3 -uz) and kills its daemons.
"""

import argparse
import json
import os
import random
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

BIN = None
TMP = None
DAEMONS = []  # every Daemon started, for cleanup


class Failure(Exception):
    pass


def expect(cond, msg):
    if not cond:
        raise Failure(msg)


def is_mounted(path):
    real = os.path.realpath(path)
    with open("/proc/self/mounts") as f:
        return any(line.split()[1] == real for line in f)


def unmount(path):
    subprocess.run(["fusermount3", "-uz", path], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class Daemon:
    """One powerloss-fs process on (backing, mnt)."""

    def __init__(self, backing, mnt, lying=False):
        self.backing, self.mnt = backing, mnt
        args = [BIN] + (["--lying-disk"] if lying else []) + [backing, mnt]
        self.stderr_path = os.path.join(TMP, "daemon-%d.stderr" % len(DAEMONS))
        self.stderr = open(self.stderr_path, "w")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.stderr)
        DAEMONS.append(self)
        line = self.readline(10)
        expect(line == "mounted %s" % mnt, "daemon did not report mount, got %r (%s)" % (line, self.err()))

    def err(self):
        try:
            with open(self.stderr_path) as f:
                return f.read().strip()[-500:]
        except OSError:
            return ""

    def readline(self, timeout):
        fd = self.proc.stdout.fileno()
        buf = b""
        deadline = time.monotonic() + timeout
        while not buf.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            r, _, _ = select.select([fd], [], [], left)
            if not r:
                return None
            chunk = os.read(fd, 1)
            if not chunk:
                break
            buf += chunk
        return buf.decode().strip() if buf else None

    def wait(self, timeout=10):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def power_loss(self):
        """SIGUSR1, parse the JSON line, wait for exit, unmount the dead mount."""
        self.proc.send_signal(signal.SIGUSR1)
        line = self.readline(10)
        rc = self.wait()
        unmount(self.mnt)
        expect(rc == 0, "daemon exit code after power loss: %r (%s)" % (rc, self.err()))
        expect(line is not None, "no JSON line after power loss")
        ev = json.loads(line)
        expect(ev.get("event") == "power_loss", "unexpected event line %r" % line)
        for k in ("lying_disk", "dropped_bytes", "dropped_files", "undone_ops", "undo_failures"):
            expect(k in ev, "JSON lacks %s: %r" % (k, line))
        expect(ev["undo_failures"] == 0, "undo failures: %r (%s)" % (line, self.err()))
        return ev

    def terminate(self):
        self.proc.send_signal(signal.SIGTERM)
        rc = self.wait()
        return rc

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        unmount(self.mnt)
        self.stderr.close()


def fresh(name, lying=False, seed=None):
    """A new backing dir (optionally seeded with durable files) and a mounted daemon."""
    base = os.path.join(TMP, name)
    backing, mnt = os.path.join(base, "backing"), os.path.join(base, "mnt")
    os.makedirs(os.path.join(backing, "root"))
    os.makedirs(mnt)
    for rel, data in (seed or {}).items():
        with open(os.path.join(backing, "root", rel), "wb") as f:
            f.write(data)
    return Daemon(backing, mnt, lying=lying)


def remount(d):
    return Daemon(d.backing, d.mnt)


def fsync_dir(path):
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write(path, data, sync=False, flags=0):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | flags, 0o644)
    try:
        os.write(fd, data)
        if sync:
            os.fsync(fd)
    finally:
        os.close(fd)


def create(path):
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))


def read(path):
    with open(path, "rb") as f:
        return f.read()


def trash(d):
    return sorted(os.listdir(os.path.join(d.backing, "trash")))


# ---- checks ----


def check_unsynced_write_dropped():
    d = fresh("c1")
    p = os.path.join(d.mnt, "f")
    create(p)
    fsync_dir(d.mnt)
    write(p, b"never synced")
    ev = d.power_loss()
    expect(ev["dropped_bytes"] > 0, "dropped_bytes should be > 0: %r" % ev)
    expect(ev["dropped_files"] >= 1, "dropped_files should be >= 1: %r" % ev)
    d = remount(d)
    expect(os.path.exists(p), "file whose create was synced is gone")
    expect(read(p) == b"", "unsynced data survived: %r" % read(p))
    return d


def check_new_file_without_dir_fsync_gone():
    d = fresh("c2")
    p = os.path.join(d.mnt, "g")
    write(p, b"synced data, unsynced name", sync=True)
    ev = d.power_loss()
    expect(ev["undone_ops"] >= 1, "create should have been undone: %r" % ev)
    d = remount(d)
    expect(not os.path.exists(p), "file created without dir fsync survived")
    return d


def check_synced_file_and_dir_kept():
    d = fresh("c3")
    p = os.path.join(d.mnt, "h")
    write(p, b"fully synced", sync=True)
    fsync_dir(d.mnt)
    ev = d.power_loss()
    expect(ev["dropped_bytes"] == 0 and ev["undone_ops"] == 0, "nothing should be dropped: %r" % ev)
    d = remount(d)
    expect(os.path.exists(p), "synced file gone")
    expect(read(p) == b"fully synced", "contents: %r" % read(p))
    return d


def check_overwrite_in_place_reverted():
    d = fresh("c4")
    p = os.path.join(d.mnt, "f")
    write(p, b"0123456789", sync=True)
    fsync_dir(d.mnt)
    fd = os.open(p, os.O_WRONLY)
    os.pwrite(fd, b"XXXX", 3)
    os.close(fd)
    expect(read(p) == b"012XXXX789", "overwrite not visible before power loss: %r" % read(p))
    d.power_loss()
    d = remount(d)
    expect(read(p) == b"0123456789", "old contents not back: %r" % read(p))
    return d


def check_rename():
    # Without dir fsync: undone, and the replaced target comes back.
    d = fresh("c5a", seed={"a": b"AAAA", "b": b"old b"})
    a, b = os.path.join(d.mnt, "a"), os.path.join(d.mnt, "b")
    os.rename(a, b)
    expect(not os.path.exists(a) and read(b) == b"AAAA", "rename not visible before power loss")
    ev = d.power_loss()
    expect(ev["undone_ops"] == 1, "one rename should be undone: %r" % ev)
    d = remount(d)
    expect(os.path.exists(a) and read(a) == b"AAAA", "a not back with its contents")
    expect(read(b) == b"old b", "b not back with its old contents: %r" % read(b))
    d.kill()
    # With dir fsync: kept, the replaced file is gone from the trash.
    d = fresh("c5b", seed={"a": b"AAAA", "b": b"old b"})
    a, b = os.path.join(d.mnt, "a"), os.path.join(d.mnt, "b")
    os.rename(a, b)
    expect(len(trash(d)) == 1, "replaced target should wait in the trash: %r" % trash(d))
    fsync_dir(d.mnt)
    expect(trash(d) == [], "trash not purged after durable rename: %r" % trash(d))
    d.power_loss()
    d = remount(d)
    expect(not os.path.exists(a), "a reappeared after durable rename")
    expect(read(b) == b"AAAA", "b lost the renamed contents: %r" % read(b))
    return d


def check_unlink():
    d = fresh("c6a", seed={"u": b"durable"})
    p = os.path.join(d.mnt, "u")
    os.unlink(p)
    expect(not os.path.exists(p), "unlink not visible before power loss")
    d.power_loss()
    d = remount(d)
    expect(os.path.exists(p) and read(p) == b"durable", "unlinked file not restored")
    d.kill()
    d = fresh("c6b", seed={"u": b"durable"})
    p = os.path.join(d.mnt, "u")
    os.unlink(p)
    fsync_dir(d.mnt)
    expect(trash(d) == [], "trash not empty after durable unlink: %r" % trash(d))
    d.power_loss()
    d = remount(d)
    expect(not os.path.exists(p), "durably unlinked file came back")
    return d


def check_mkdir_without_parent_fsync_gone():
    d = fresh("c7")
    sub = os.path.join(d.mnt, "dir")
    os.mkdir(sub)
    write(os.path.join(sub, "x"), b"inside", sync=True)
    fsync_dir(sub)
    d.power_loss()
    d = remount(d)
    expect(not os.path.exists(sub), "mkdir without parent fsync survived")
    expect(os.listdir(os.path.join(d.backing, "root")) == [], "backing root not empty")
    return d


def check_truncate_reverted():
    d = fresh("c8", seed={"t": b"x" * 1000})
    p = os.path.join(d.mnt, "t")
    os.truncate(p, 10)
    expect(os.stat(p).st_size == 10, "truncate not visible: %d" % os.stat(p).st_size)
    d.power_loss()
    d = remount(d)
    expect(os.stat(p).st_size == 1000, "old size not back: %d" % os.stat(p).st_size)
    expect(read(p) == b"x" * 1000, "old contents not back")
    return d


def check_odsync_durable():
    d = fresh("c9")
    p = os.path.join(d.mnt, "s")
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_DSYNC, 0o644)
    fsync_dir(d.mnt)
    os.write(fd, b"dsync data")
    os.close(fd)
    ev = d.power_loss()
    expect(ev["dropped_bytes"] == 0, "O_DSYNC data counted as dropped: %r" % ev)
    d = remount(d)
    expect(read(p) == b"dsync data", "O_DSYNC write lost: %r" % read(p))
    return d


def check_read_your_writes():
    d = fresh("c10", seed={"r": b"base-contents"})
    p = os.path.join(d.mnt, "r")
    fd = os.open(p, os.O_RDWR)
    os.pwrite(fd, b"NEW", 0)
    os.pwrite(fd, b"tail", 20)  # extends with a zero gap
    expect(os.fstat(fd).st_size == 24, "fstat size %d" % os.fstat(fd).st_size)
    os.close(fd)
    expect(os.stat(p).st_size == 24, "stat size %d" % os.stat(p).st_size)
    want = b"NEW" + b"e-contents" + b"\0" * 7 + b"tail"
    expect(read(p) == want, "read %r, want %r" % (read(p), want))
    backing = os.path.join(d.backing, "root", "r")
    expect(read(backing) == b"base-contents", "unsynced data reached the backing file")
    os.truncate(p, 5)
    os.truncate(p, 8)
    expect(read(p) == b"NEWe-\0\0\0", "truncate+extend read %r" % read(p))
    n = os.path.join(d.mnt, "n")
    write(n, b"x" * 70000)
    expect(os.stat(n).st_size == 70000 and read(n) == b"x" * 70000, "new file not readable")
    d.power_loss()
    d = remount(d)
    expect(read(p) == b"base-contents", "after power loss: %r" % read(p))
    return d


def check_lying_disk():
    d = fresh("c11", lying=True, seed={"old": b"old contents"})
    p = os.path.join(d.mnt, "l")
    write(p, b"acknowledged but lost", sync=True)
    write(os.path.join(d.mnt, "old"), b"NEW CONTENTS", sync=True)
    fsync_dir(d.mnt)
    ev = d.power_loss()
    expect(ev["lying_disk"] is True, "lying_disk flag: %r" % ev)
    expect(ev["dropped_bytes"] > 0, "dropped_bytes should be > 0: %r" % ev)
    d = remount(d)
    expect(not os.path.exists(p), "lying disk kept a new file")
    expect(read(os.path.join(d.mnt, "old")) == b"old contents", "lying disk kept overwritten data")
    return d


def check_sigterm_writes_back():
    d = fresh("c12", seed={"keep": b"k"})
    write(os.path.join(d.mnt, "w"), b"unsynced but written back")
    os.mkdir(os.path.join(d.mnt, "dd"))
    os.rename(os.path.join(d.mnt, "keep"), os.path.join(d.mnt, "dd", "kept"))
    rc = d.terminate()
    expect(rc == 0, "exit code after SIGTERM: %r (%s)" % (rc, d.err()))
    expect(not is_mounted(d.mnt), "still mounted after SIGTERM")
    root = os.path.join(d.backing, "root")
    expect(read(os.path.join(root, "w")) == b"unsynced but written back", "data not written back")
    expect(read(os.path.join(root, "dd", "kept")) == b"k", "rename not kept")
    expect(trash(d) == [], "trash not emptied: %r" % trash(d))
    d.kill()
    # And an external unmount behaves the same.
    d = fresh("c12b")
    write(os.path.join(d.mnt, "w"), b"via fusermount -u")
    subprocess.run(["fusermount3", "-u", d.mnt], check=True)
    rc = d.wait()
    expect(rc == 0, "exit code after fusermount3 -u: %r (%s)" % (rc, d.err()))
    expect(read(os.path.join(d.backing, "root", "w")) == b"via fusermount -u", "not written back on unmount")
    return d


def check_stress():
    d = fresh("c13")
    p = os.path.join(d.mnt, "db")
    fd = os.open(p, os.O_RDWR | os.O_CREAT, 0o644)
    os.fsync(fd)
    fsync_dir(d.mnt)
    rng = random.Random(1234)
    model = bytearray()
    synced = bytes()
    span = 512 * 1024
    t0 = time.monotonic()
    syncs = 0
    for i in range(1, 2001):
        n = rng.randint(100, 4000)
        off = rng.randint(0, span)
        data = rng.randbytes(n)
        os.pwrite(fd, data, off)
        if len(model) < off + n:
            model.extend(b"\0" * (off + n - len(model)))
        model[off : off + n] = data
        if i % 50 == 25:  # the last 25 writes stay unsynced
            os.fdatasync(fd)
            syncs += 1
            synced = bytes(model)
    elapsed = time.monotonic() - t0
    expect(os.fstat(fd).st_size == len(model), "size before power loss")
    got = os.pread(fd, len(model) + 10, 0)
    expect(got == bytes(model), "read-back before power loss differs from the model")
    os.close(fd)
    ev = d.power_loss()
    expect(ev["dropped_bytes"] > 0, "the trailing writes should be dropped: %r" % ev)
    d = remount(d)
    after = read(p)
    expect(len(after) == len(synced), "size %d, want %d (last fdatasync)" % (len(after), len(synced)))
    expect(after == synced, "contents differ from the state at the last fdatasync")
    expect(after != bytes(model), "model sanity: unsynced writes should differ")
    return d, "2000 pwrites + %d fdatasync in %.2fs (%.0f writes/s)" % (syncs, elapsed, 2000 / elapsed)


def check_links_and_dirs_undone():
    d = fresh("c14", seed={"f": b"file"})
    os.makedirs(os.path.join(d.backing, "root", "old"), exist_ok=True)
    m = d.mnt
    os.symlink("f", os.path.join(m, "sym"))
    os.link(os.path.join(m, "f"), os.path.join(m, "hard"))
    os.rmdir(os.path.join(m, "old"))
    os.mkdir(os.path.join(m, "new"))
    os.rename(os.path.join(m, "new"), os.path.join(m, "new2"))
    expect(os.readlink(os.path.join(m, "sym")) == "f", "readlink")
    expect(os.stat(os.path.join(m, "f")).st_nlink == 2, "link count")
    ev = d.power_loss()
    expect(ev["undone_ops"] == 5, "5 ops should be undone: %r" % ev)
    d = remount(d)
    expect(sorted(os.listdir(m)) == ["f", "old"], "namespace not restored: %r" % sorted(os.listdir(m)))
    expect(os.stat(os.path.join(m, "f")).st_nlink == 1, "hard link not undone")
    return d


CHECKS = [
    ("1 unsynced write dropped, synced create kept", check_unsynced_write_dropped),
    ("2 fsynced file without dir fsync disappears", check_new_file_without_dir_fsync_gone),
    ("3 fsynced file + dir fsync survives", check_synced_file_and_dir_kept),
    ("4 unsynced in-place overwrite reverted", check_overwrite_in_place_reverted),
    ("5 rename undone / kept with dir fsync", check_rename),
    ("6 unlink undone / kept with dir fsync", check_unlink),
    ("7 mkdir without parent fsync disappears", check_mkdir_without_parent_fsync_gone),
    ("8 unsynced truncate reverted", check_truncate_reverted),
    ("9 O_DSYNC write durable without fsync", check_odsync_durable),
    ("10 read-your-writes before power loss", check_read_your_writes),
    ("11 lying disk loses acknowledged data", check_lying_disk),
    ("12 SIGTERM / unmount writes everything back", check_sigterm_writes_back),
    ("13 stress: 2000 pwrites, state at last fdatasync", check_stress),
    ("14 symlink/link/rmdir/mkdir/rename undone", check_links_and_dirs_undone),
]


def main():
    global BIN, TMP
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("-k", help="run only checks whose name contains this")
    args = ap.parse_args()
    BIN = os.path.abspath(args.bin)
    TMP = tempfile.mkdtemp(prefix="powerloss-selftest-")
    t0 = time.monotonic()
    passed = failed = 0
    try:
        for name, fn in CHECKS:
            if args.k and args.k not in name:
                continue
            t = time.monotonic()
            d = None
            try:
                res = fn()
                d, note = res if isinstance(res, tuple) else (res, "")
                passed += 1
                print("ok    %-52s %5.2fs %s" % (name, time.monotonic() - t, note), flush=True)
            except Exception as e:  # noqa: BLE001 - a check's failure of any kind
                failed += 1
                print("FAIL  %-52s %s: %s" % (name, type(e).__name__, e), flush=True)
            finally:
                for dm in DAEMONS:
                    dm.kill()
    finally:
        for dm in DAEMONS:
            try:
                dm.kill()
            except Exception:  # noqa: BLE001
                pass
        leftover = [dm.mnt for dm in DAEMONS if is_mounted(dm.mnt)]
        for mnt in leftover:
            unmount(mnt)
        shutil.rmtree(TMP, ignore_errors=True)
    print("selftest: %.1fs" % (time.monotonic() - t0))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
