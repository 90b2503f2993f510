#!/usr/bin/env python3
"""`tern watch` against lsyncd (its default rsync mode), over the same OpenSSH server, in one run.

Starts its own sshd on 127.0.0.1 behind the counting relay of vs_rsync.py, builds a seeded source
tree of --files files, and for each tool in turn (tern watch with its default 200 ms delay;
lsyncd with `delay = 0`; lsyncd with its default delay of 15 s, fewer repetitions) starts it,
waits for the first full copy, then makes bounded bursts of changes and measures, per change:

- the time from the last write to the replica having every changed path byte-identical (polled
  every 5 ms), as p50/p99 over the repetitions;
- the bytes on the wire in both directions for that change (the relay counts SSH's bytes);

then the CPU time the tool's processes use while idle for --idle seconds. After each change the
whole replica is compared with the source (outside the timing): no change may be lost.

Changes: one small file written; 1,000 files written at once; a 100 MiB file rewritten in place
with 1 MiB changed; a directory tree of 1,000 files moved (renamed).

Usage: benches/watch_vs_lsyncd.py [--files N] [--reps N] [--idle SECONDS]
Needs: lsyncd, rsync, openssh-server, openssh-client (apt-get install lsyncd rsync openssh-server).
"""
import argparse
import hashlib
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vs_rsync  # noqa: E402  (the sshd, the relay, the tern binary)

TERN = vs_rsync.TERN


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def build(src, files, seed):
    rng = random.Random(seed)
    dirs = max(1, files // 100)
    for i in range(files):
        d = os.path.join(src, f"d{i % dirs:05}", f"s{i % 7}")
        write(os.path.join(d, f"f{i}"), rng.randbytes(rng.randint(100, 4000)))
    write(os.path.join(src, "big", "image.bin"), rng.randbytes(100 << 20))
    for i in range(1000):
        write(os.path.join(src, "tree", f"t{i % 10}", f"x{i}"), rng.randbytes(2000))


def digest(path):
    try:
        with open(path, "rb") as f:
            return hashlib.sha256(f.read()).digest()
    except OSError:
        return None


def tree_digest(root):
    out = {}
    for base, dirs, files in os.walk(root):
        if base == root and ".tern" in dirs:
            dirs.remove(".tern")
        rel = os.path.relpath(base, root)
        for name in files:
            out[os.path.join(rel, name)] = digest(os.path.join(base, name))
        for name in dirs:
            out[os.path.join(rel, name) + "/"] = None
    return out


class Tool:
    def __init__(self, name, bench, src, dst):
        self.name, self.bench, self.src, self.dst = name, bench, src, dst
        self.proc = None

    def start(self):
        s = self.bench.sshd
        env = self.bench.env
        if self.name == "tern watch":
            url = f"ssh://{s.user}@127.0.0.1:{s.relay.port}{self.dst}"
            cmd = [TERN, "watch", "-q", "--remote-tern", TERN, self.src, url]
        else:
            delay = 0 if self.name == "lsyncd delay=0" else 15
            conf = os.path.join(self.bench.base, f"lsyncd-{delay}.lua")
            with open(conf, "w") as f:
                f.write(
                    "settings { nodaemon = true, insist = true, "
                    f"logfile = '{self.bench.base}/lsyncd.log' }}\n"
                    f"sync {{ default.rsync, source = '{self.src}', "
                    f"target = '{s.user}@127.0.0.1:{self.dst}', delay = {delay}, "
                    f"rsync = {{ archive = true, rsh = '{self.bench.ssh}' }} }}\n"
                )
            cmd = ["lsyncd", conf]
        self.proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()

    def cpu_ticks(self):
        """User + system ticks of the tool and every process below it."""
        total = 0
        parents = {pid: parent for pid, (parent, _) in vs_rsync.processes().items()}
        for pid in vs_rsync.descendants(self.proc.pid, parents):
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])
            except OSError:
                pass
        return total


RUNNING = []


def wait_until(check, limit, what):
    start = time.monotonic()
    while not check():
        for tool in RUNNING:
            if tool.proc.poll() is not None:
                err = tool.proc.stderr.read().decode(errors="replace")
                sys.exit(f"{tool.name} exited ({tool.proc.returncode}) waiting for {what}: {err}")
        if time.monotonic() - start > limit:
            sys.exit(f"timed out after {limit}s waiting for {what}")
        time.sleep(0.005)
    return time.monotonic() - start


def converged(src, dst, paths):
    def check():
        for p in paths:
            if digest(os.path.join(src, p)) != digest(os.path.join(dst, p)):
                return False
        return True
    return check


def gone(dst, paths):
    return lambda: all(not os.path.exists(os.path.join(dst, p)) for p in paths)


def changes(src, rng, rep):
    """Each change: (name, do it, paths to compare, paths that must disappear)."""
    def small():
        p = f"d00001/s3/small-{rep}"
        write(os.path.join(src, p), rng.randbytes(4096))
        return [p], []

    def burst():
        paths = [f"burst-{rep}/b{i % 20}/f{i}" for i in range(1000)]
        for p in paths:
            write(os.path.join(src, p), rng.randbytes(rng.randint(100, 4000)))
        return paths, []

    def big():
        p = "big/image.bin"
        with open(os.path.join(src, p), "r+b") as f:
            data = bytearray(f.read())
            at = rng.randrange(0, len(data) - (1 << 20))
            data[at:at + (1 << 20)] = rng.randbytes(1 << 20)
            f.seek(0)
            f.truncate()
            f.write(data)
        return [p], []

    def move():
        old = "tree" if rep == 0 else f"tree-{rep - 1}"
        new = f"tree-{rep}"
        os.rename(os.path.join(src, old), os.path.join(src, new))
        files = [os.path.join(new, f"t{i % 10}", f"x{i}") for i in range(1000)]
        return files, [old]

    return [("one small file", small), ("1,000 files at once", burst),
            ("100 MiB rewritten, 1 MiB changed", big), ("a tree of 1,000 files moved", move)]


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=20000)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--idle", type=int, default=60)
    ap.add_argument("--tools", default="tern watch,lsyncd delay=0,lsyncd default")
    args = ap.parse_args()
    if not shutil.which("lsyncd"):
        sys.exit("lsyncd is not installed: apt-get install lsyncd")
    base = tempfile.mkdtemp(prefix="tern-watch-bench-")
    sshd = vs_rsync.Sshd(base)
    bench = vs_rsync.Bench(base, sshd)
    results = {}
    try:
        for tool_name in args.tools.split(","):
            src = os.path.join(base, "src-" + tool_name.replace(" ", "-").replace("=", ""))
            dst = src.replace("src-", "dst-")
            build(src, args.files, 1)
            tool = Tool(tool_name, bench, src, dst)
            sshd.relay.take()
            started = time.monotonic()
            tool.start()
            RUNNING[:] = [tool]
            # The first copy: everything there (lsyncd's start-up rsync, tern's first pass).
            wait_until(lambda: os.path.isdir(dst) and tree_digest(src) == tree_digest(dst), 3600,
                       f"{tool_name}'s first copy")
            first = time.monotonic() - started
            sshd.relay.take()
            rng = random.Random(7)
            reps = args.reps if tool_name != "lsyncd default" else 1
            rows = {}
            for rep in range(reps):
                for name, change in changes(src, rng, rep):
                    time.sleep(0.5 if tool_name != "lsyncd default" else 1)
                    sshd.relay.take()
                    paths, removed = change()
                    t = wait_until(converged(src, dst, paths), 600, f"{tool_name}: {name}")
                    if removed:
                        t = max(t, wait_until(gone(dst, removed), 600, f"{tool_name}: {name}"))
                    # Let the tool finish its run (lsyncd's rsync may still be deleting).
                    wait_until(lambda: tree_digest(src) == tree_digest(dst), 600,
                               f"{tool_name}: the whole replica after {name}")
                    up, down = sshd.relay.take()
                    rows.setdefault(name, []).append((t, up + down))
            time.sleep(2)
            before = tool.cpu_ticks()
            time.sleep(args.idle)
            idle = tool.cpu_ticks() - before
            tool.stop()
            results[tool_name] = (first, rows, idle)
            shutil.rmtree(src)
            shutil.rmtree(dst)
    finally:
        sshd.stop()
    hz = os.sysconf("SC_CLK_TCK")
    print(f"# tern watch vs lsyncd: {args.files} files + a 100 MiB file, {args.reps} repetitions "
          f"(lsyncd default: 1), loopback sshd\n")
    print("| change | tool | p50 s | p99 s | bytes on the wire (median) |")
    print("| --- | --- | ---: | ---: | ---: |")
    names = [n for n, _ in changes("", random.Random(0), 0)]
    for name in names:
        for tool_name, (_, rows, _) in results.items():
            ts = [t for t, _ in rows.get(name, [])]
            bs = [b for _, b in rows.get(name, [])]
            if ts:
                print(f"| {name} | {tool_name} | {pct(ts, 0.5):.3f} | {pct(ts, 0.99):.3f} | "
                      f"{int(statistics.median(bs)):,} |")
    print("\n| tool | first copy s | CPU while idle for %d s |" % args.idle)
    print("| --- | ---: | ---: |")
    for tool_name, (first, _, idle) in results.items():
        print(f"| {tool_name} | {first:.1f} | {idle / hz:.2f} s ({idle} ticks) |")


if __name__ == "__main__":
    main()
