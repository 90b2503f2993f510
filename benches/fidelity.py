#!/usr/bin/env python3
"""Replicate a real tree with tern and with `rsync -aHAX`, time both, and compare each replica
with the source entry by entry.

    benches/fidelity.py [SOURCE] [--work DIR] [--out FILE] [--no-content]

SOURCE defaults to /usr. Each entry is compared by kind, permission bits, owner, mtime (to the
nanosecond), size, device number, symlink target, extended attributes (ACLs and capabilities
among them) and content (byte by byte; --no-content compares sizes only); the trees' hard-link
groups (names of one inode) are compared as sets. A tern replica's `.tern` is left out. The
report counts the differences of each kind for both tools: the target is 0. Run as root to read
and keep everything (trusted.* xattrs, owners, device files). Needs target/release/tern
(`cargo build --release`) and rsync.
"""

import argparse
import os
import shutil
import stat
import subprocess
import sys
import time
from collections import Counter, defaultdict

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TERN = os.path.join(ROOT, "target", "release", "tern")


def walk(root):
    """Every entry below root (not following symlinks), relative path -> lstat, without .tern."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        if rel_dir == ".":
            dirnames[:] = [d for d in dirnames if d != ".tern"]
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            rel = os.path.normpath(os.path.join(rel_dir, name))
            try:
                out[rel] = os.lstat(full)
            except FileNotFoundError:
                pass
    return out


def xattrs(path):
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return {}
    got = {}
    for n in names:
        try:
            got[n] = os.getxattr(path, n, follow_symlinks=False)
        except OSError:
            pass
    return got


def kind(st):
    m = st.st_mode
    for test, name in ((stat.S_ISREG, "file"), (stat.S_ISDIR, "dir"), (stat.S_ISLNK, "symlink"),
                       (stat.S_ISFIFO, "fifo"), (stat.S_ISCHR, "char-device"),
                       (stat.S_ISBLK, "block-device"), (stat.S_ISSOCK, "socket")):
        if test(m):
            return name
    return "other"


def same_content(a, b, size):
    with open(a, "rb") as fa, open(b, "rb") as fb:
        while True:
            x, y = fa.read(1 << 20), fb.read(1 << 20)
            if x != y:
                return False
            if not x:
                return True


def link_groups(tree):
    by_inode = defaultdict(list)
    for rel, st in tree.items():
        if stat.S_ISREG(st.st_mode) and st.st_nlink > 1:
            by_inode[(st.st_dev, st.st_ino)].append(rel)
    return {tuple(sorted(g)) for g in by_inode.values() if len(g) > 1}


def compare(src_root, src, dst_root, content):
    """Differences of dst_root against the source, counted by kind, with examples."""
    dst = walk(dst_root)
    diffs = Counter()
    examples = defaultdict(list)

    def note(what, rel):
        diffs[what] += 1
        if len(examples[what]) < 3:
            examples[what].append(rel)

    for rel, s in src.items():
        if stat.S_ISSOCK(s.st_mode):
            continue
        d = dst.get(rel)
        if d is None:
            note("missing", rel)
            continue
        if kind(s) != kind(d):
            note("kind", rel)
            continue
        if not stat.S_ISLNK(s.st_mode) and stat.S_IMODE(s.st_mode) != stat.S_IMODE(d.st_mode):
            note("mode", rel)
        if (s.st_uid, s.st_gid) != (d.st_uid, d.st_gid):
            note("owner", rel)
        if not stat.S_ISDIR(s.st_mode) and s.st_mtime_ns != d.st_mtime_ns:
            note("mtime", rel)
        if stat.S_ISDIR(s.st_mode) and s.st_mtime_ns != d.st_mtime_ns:
            note("dir mtime", rel)
        if stat.S_ISREG(s.st_mode):
            if s.st_size != d.st_size:
                note("size", rel)
            elif content and not same_content(os.path.join(src_root, rel),
                                              os.path.join(dst_root, rel), s.st_size):
                note("content", rel)
            if s.st_blocks < s.st_size // 512 and d.st_blocks > s.st_blocks + 128:
                note("holes filled", rel)
        if stat.S_ISCHR(s.st_mode) or stat.S_ISBLK(s.st_mode):
            if s.st_rdev != d.st_rdev:
                note("device number", rel)
        if stat.S_ISLNK(s.st_mode):
            if os.readlink(os.path.join(src_root, rel)) != os.readlink(os.path.join(dst_root, rel)):
                note("symlink target", rel)
        if xattrs(os.path.join(src_root, rel)) != xattrs(os.path.join(dst_root, rel)):
            note("xattrs/ACL/capability", rel)
    for rel in dst:
        if rel not in src:
            note("extra", rel)
    want, got = link_groups(src), link_groups(dst)
    for g in want - got:
        note("hard-link group", g[0])
    return diffs, examples, len(dst)


def cold():
    """Write back and drop the page cache, so each tool reads the source from disk (as root)."""
    subprocess.run(["sync"])
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return True
    except OSError:
        return False


def timed(cmd):
    start = time.monotonic()
    done = subprocess.run(cmd, capture_output=True, text=True)
    took = time.monotonic() - start
    if done.returncode not in (0, 23, 24):  # rsync: partial transfer codes are reported below
        sys.exit(f"{cmd[0]} failed ({done.returncode}): {done.stderr.strip()[:500]}")
    return took, done


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("source", nargs="?", default="/usr")
    ap.add_argument("--work", default="/var/tmp/tern-fidelity")
    ap.add_argument("--out", default=os.path.join(ROOT, "benches", "results", "fidelity.md"))
    ap.add_argument("--no-content", action="store_true")
    a = ap.parse_args()
    if not os.path.exists(TERN):
        sys.exit(f"no {TERN}: run `cargo build --release` first")
    if shutil.which("rsync") is None:
        sys.exit("no rsync: apt-get install rsync")
    shutil.rmtree(a.work, ignore_errors=True)
    os.makedirs(a.work)
    tern_dst, rsync_dst = os.path.join(a.work, "tern"), os.path.join(a.work, "rsync")
    env = dict(os.environ, TERN_CACHE_DIR=os.path.join(a.work, "cache"))
    dropped = cold()
    start = time.monotonic()
    tern = subprocess.run([TERN, "sync", "-q", a.source, tern_dst], env=env, capture_output=True,
                          text=True)
    tern_s = time.monotonic() - start
    if tern.returncode not in (0, 3):
        sys.exit(f"tern failed ({tern.returncode}): {tern.stderr.strip()[:500]}")
    cold()
    # tern's data is durable when it ends; rsync's once a sync has written it back.
    rsync_s, rsync = timed(["rsync", "-aHAX", a.source.rstrip("/") + "/", rsync_dst + "/"])
    start = time.monotonic()
    subprocess.run(["sync"])
    rsync_sync_s = rsync_s + time.monotonic() - start
    src = walk(a.source)
    results = {name: compare(a.source, src, root, not a.no_content)
               for name, root in (("tern", tern_dst), ("rsync -aHAX", rsync_dst))}
    kinds = sorted(set().union(*(r[0].keys() for r in results.values())))
    lines = [
        f"# Fidelity: {a.source} replicated by tern and by rsync -aHAX",
        "",
        f"{len(src)} source entries ({sum(1 for s in src.values() if stat.S_ISREG(s.st_mode))} "
        f"files, {len(link_groups(src))} hard-link groups); one run, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; content compared "
        f"{'by size only' if a.no_content else 'byte by byte'}; page cache "
        f"{'dropped before each tool' if dropped else 'not dropped (not root)'}.",
        "",
        "| | tern | rsync -aHAX |",
        "| --- | ---: | ---: |",
        f"| wall time (s) | {tern_s:.1f} | {rsync_s:.1f} |",
        f"| wall time, rsync then sync (s) | | {rsync_sync_s:.1f} |",
        f"| tern / rsync time | {tern_s / rsync_s:.2f} | |",
        f"| tern / (rsync then sync) time | {tern_s / rsync_sync_s:.2f} | |",
        f"| replica entries | {results['tern'][2]} | {results['rsync -aHAX'][2]} |",
    ]
    for k in kinds or ["(none)"]:
        lines.append(f"| differences: {k} | {results['tern'][0].get(k, 0)} | "
                     f"{results['rsync -aHAX'][0].get(k, 0)} |")
    lines.append("")
    for name, (diffs, examples, _) in results.items():
        for k, ex in examples.items():
            lines.append(f"- {name}, {k}: e.g. {', '.join(map(str, ex))}")
    if tern.stderr.strip():
        lines += ["", "tern said:", "", "```", tern.stderr.strip()[:2000], "```"]
    text = "\n".join(lines) + "\n"
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as f:
        f.write(text)
    print(text)
    print(f"written to {a.out}")


if __name__ == "__main__":
    main()
