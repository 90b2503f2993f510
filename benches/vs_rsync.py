#!/usr/bin/env python3
"""tern against rsync, over the same OpenSSH server, on one machine, in one run.

Starts its own sshd on 127.0.0.1 (throwaway keys, as the tests do) behind a counting TCP relay,
generates seeded data sets, and runs `tern sync`, `rsync -a --delete` and
`rsync -a --delete -z --compress-choice=zstd` on each scenario, alternating the tools, several
times, reporting medians of:

- wall time, client CPU time and peak RSS (GNU time around the client; its CPU time includes the
  ssh child for rsync, as tern's SSH is in-process, but its peak RSS is that of the largest process
  alone);
- remote CPU time and peak RSS (the remote command runs under GNU time through a wrapper given as
  `--remote-tern` / `--rsync-path`). GNU time, a small C program, is the parent because Linux folds
  the pre-exec memory of a forking parent into the child's peak RSS: measured from Python, every
  tool would show Python's size;
- for the memory scenario (6), each end's peak memory with all its processes: GNU time's figure is
  the peak of the largest process alone, which leaves out rsync's ssh child on the client and one
  of its two processes (generator and receiver) on the remote side. `EndMemory` samples every
  process of each end from /proc and counts each resident page once (see there);
- bytes on the wire in both directions, counted by the relay between client and sshd (SSH framing
  included, the same for every tool).

Each scenario's destinations are on a new ext4 file system (a sparse image, loop-mounted; needs
root), so that every run starts from the same file-system state (see `FreshFs`);
`--no-fresh-fs` keeps them in the bench's directory.

Usage: benches/vs-rsync.sh [SIZE]   (SIZE scales every data set; 1 = the sizes of issue 6)
Environment: VS_RSYNC_VERBOSE=1 prints each run's summary and its bytes up and down;
TERN_EXTRA="--compress-level 19" adds arguments to every tern run.
"""
import argparse
import json
import os
import queue
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TERN = os.path.join(ROOT, "target", "release", "tern")
TIME = "/usr/bin/time"
TIME_FORMAT = "%e %U %S %M"
SSHD = "/usr/sbin/sshd"
TOOLS = ["tern", "rsync", "rsync-z"]
PIN = False  # --pin: each end on its own core, as two machines would be
DURABLE = False  # --durable-rsync: each rsync run ends with `sync -f` of its destination

WORDS = (
    "the of and to in is that for it as was with be by on not he this are or his from at which "
    "but have an they you were her she there been one all we their has would when if so no will "
    "error warning info debug request response user session token index value key count total "
    "fn let mut pub struct impl return match Some None Ok Err self use mod crate where async await "
    "GET POST 200 404 500 /api/v1/items /static/app.js latency_ms bytes=1024 host=web-01 pid=4242"
).split()


# ---------------------------------------------------------------- data sets (seeded, reproducible)

def text(rng, n):
    out, size = [], 0
    while size < n:
        line = " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 14))) + "\n"
        out.append(line)
        size += len(line)
    return "".join(out).encode()[:n]


def set_mtime(path, secs):
    os.utime(path, (secs, secs), follow_symlinks=False)


def small_tree(root, seed, files, dirs):
    rng = random.Random(seed)
    for i in range(files):
        d = os.path.join(root, f"d{i % dirs:04d}")
        os.makedirs(d, exist_ok=True)
        size = int(64 * (512 ** rng.random()))  # 64 B .. 32 KiB, log-uniform
        p = os.path.join(d, f"f{i:06d}.txt")
        with open(p, "wb") as f:
            f.write(text(rng, size))
        set_mtime(p, 1_700_000_000 + i)


def churn(root, seed, files, dirs):
    """1% of the files changed, 0.5% added, 0.5% deleted."""
    rng = random.Random(seed)
    paths = sorted(os.path.join(dp, f) for dp, _, fs in os.walk(root) for f in fs)
    k = max(1, len(paths) // 100)
    for p in rng.sample(paths, k):
        size = os.path.getsize(p)
        with open(p, "wb") as f:
            f.write(text(rng, size))
        set_mtime(p, 1_800_000_000)
    for p in rng.sample(paths, max(1, k // 2)):
        if os.path.exists(p):
            os.unlink(p)
    for i in range(max(1, k // 2)):
        d = os.path.join(root, f"d{rng.randrange(dirs):04d}")
        os.makedirs(d, exist_ok=True)
        p = os.path.join(d, f"new{seed}_{i}.txt")
        with open(p, "wb") as f:
            f.write(text(rng, int(64 * (512 ** rng.random()))))


def heavy_churn(root, seed, dirs):
    """Issue 23's heavier churn: 5% of the files edited (a few lines replaced or inserted), 5%
    renamed (to another directory), 5% deleted, and 5% new files of up to 100 KB."""
    rng = random.Random(seed)
    paths = sorted(os.path.join(dp, f) for dp, _, fs in os.walk(root) for f in fs)
    k = max(1, len(paths) // 20)
    picked = rng.sample(paths, 3 * k)
    edited, renamed, deleted = picked[:k], picked[k:2 * k], picked[2 * k:]
    for p in edited:
        with open(p, "rb") as f:
            lines = f.read().split(b"\n")
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(lines))
            new = text(rng, rng.randint(20, 80)).replace(b"\n", b" ")
            if rng.random() < 0.5:
                lines[at] = new
            else:
                lines.insert(at, new)
        with open(p, "wb") as f:
            f.write(b"\n".join(lines))
        set_mtime(p, 1_800_000_000)
    for i, p in enumerate(renamed):
        d = os.path.join(root, f"d{rng.randrange(dirs):04d}")
        os.makedirs(d, exist_ok=True)
        os.rename(p, os.path.join(d, f"moved{seed}_{i}.txt"))
    for p in deleted:
        os.unlink(p)
    for i in range(k):
        d = os.path.join(root, f"d{rng.randrange(dirs):04d}")
        os.makedirs(d, exist_ok=True)
        p = os.path.join(d, f"new{seed}_{i}.txt")
        with open(p, "wb") as f:
            f.write(text(rng, int(64 * (1600 ** rng.random()))))  # 64 B .. 100 KiB


def big_file(root, seed, size):
    """Half compressible text, half random."""
    rng = random.Random(seed)
    p = os.path.join(root, "big.bin")
    block = 1 << 20
    with open(p, "wb") as f:
        written = 0
        while written < size:
            n = min(block, size - written)
            f.write(text(rng, n) if written < size // 2 else rng.randbytes(n))
            written += n
    set_mtime(p, 1_700_000_000)


def big_edit(root, seed):
    """10 scattered 4 KiB overwrites and 3 small insertions that shift the content."""
    rng = random.Random(seed)
    p = os.path.join(root, "big.bin")
    size = os.path.getsize(p)
    with open(p, "r+b") as f:
        for _ in range(10):
            f.seek(rng.randrange(0, max(1, size - 4096)))
            f.write(rng.randbytes(4096))
    inserts = sorted(rng.randrange(0, size) for _ in range(3))
    tmp = p + ".tmp"
    with open(p, "rb") as src, open(tmp, "wb") as dst:
        pos = 0
        for at in inserts:
            dst.write(src.read(at - pos))
            dst.write(b"<<inserted %d>>" % at)
            pos = at
        shutil.copyfileobj(src, dst, 1 << 20)
    os.replace(tmp, p)
    set_mtime(p, 1_800_000_000)


def bulk_text(root, seed, total):
    rng = random.Random(seed)
    i = 0
    while total > 0:
        n = min(total, 1 << 20)
        d = os.path.join(root, f"logs{i // 100:03d}")
        os.makedirs(d, exist_ok=True)
        p = os.path.join(d, f"part{i:05d}.log")
        with open(p, "wb") as f:
            f.write(text(rng, n))
        set_mtime(p, 1_700_000_000 + i)
        total -= n
        i += 1


def tiny_tree(root, seed, files):
    rng = random.Random(seed)
    for i in range(files):
        d = os.path.join(root, f"t{i // 200:05d}")
        if i % 200 == 0:
            os.makedirs(d, exist_ok=True)
        p = os.path.join(d, f"{i:07d}")
        with open(p, "wb") as f:
            f.write(text(rng, 100))
        set_mtime(p, 1_700_000_000)


def parse_time(line):
    """A `%e %U %S %M` line of GNU time: wall, user, system seconds, peak RSS in KiB."""
    parts = line.split()
    if len(parts) != 4:
        return None
    wall, user, system, rss = parts
    return {"wall": float(wall), "cpu": float(user) + float(system), "rss": int(rss)}


# ---------------------------------------------------------------- memory of each end

def descendants(root, parents):
    kids = {}
    for pid, ppid in parents.items():
        kids.setdefault(ppid, []).append(pid)
    out, stack = [], [root]
    while stack:
        pid = stack.pop()
        out.append(pid)
        stack += kids.get(pid, [])
    return out


def processes():
    """{pid: (parent pid, command name)} of every process now."""
    out = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        close = stat.rindex(")")
        out[int(name)] = (int(stat[close + 2:].split()[1]), stat[stat.index("(") + 1:close])
    return out


def resident_once(pids):
    """KiB resident in these processes together, each page counted once.

    A process's private pages are its own; the rest of a mapping's resident pages are shared with
    some other process, so they are counted once for all the processes given: a file's pages by
    file and offset (libc in rsync and in its ssh), an anonymous mapping's by address (the pages a
    forked rsync shares with its parent until either writes them). Pages shared with processes
    outside the set still count in full, as they do in RSS."""
    private, shared = 0, {}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps") as f:
                lines = f.readlines()
        except OSError:
            continue
        key, rss, own = None, 0, 0
        for line in lines + ["0-0 ---p 0 0:0 0 [end]\n"]:
            head = re.match(r"^([0-9a-f]+)-[0-9a-f]+ \S+ ([0-9a-f]+) \S+ \S+\s*(.*)$", line)
            if head:
                if key is not None:
                    private += own
                    shared[key] = max(shared.get(key, 0), rss - own)
                path = head.group(3)
                key = (path, head.group(2)) if path.startswith("/") else ("anon", head.group(1))
                rss = own = 0
            elif line.startswith("Rss:"):
                rss += int(line.split()[1])
            elif line.startswith("Private_"):
                own += int(line.split()[1])
    return private + sum(shared.values())


class EndMemory:
    """Samples the peak memory of each end of a run every 20 ms, all of its processes together
    (`resident_once`): the client end is every process under `client` but GNU time itself, the
    remote end every `tern` or `rsync` under `sshd` (not sshd's own session processes, the same
    for every tool)."""

    def __init__(self, client, sshd):
        self.client, self.sshd = client, sshd
        self.peak = {"end": 0, "rend": 0}
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.sample, daemon=True)
        self.thread.start()

    def sample(self):
        while not self.done.is_set():
            procs = processes()
            parents = {pid: ppid for pid, (ppid, _) in procs.items()}
            # (a process may end between the listing and these lines: it is left out)
            name = {pid: comm for pid, (_, comm) in procs.items()}
            client = [p for p in descendants(self.client, parents) if name.get(p, "time") != "time"]
            remote = [p for p in descendants(self.sshd, parents) if name.get(p) in ("tern", "rsync")]
            for key, pids in (("end", client), ("rend", remote)):
                self.peak[key] = max(self.peak[key], resident_once(pids))
            self.done.wait(0.02)

    def stop(self):
        self.done.set()
        self.thread.join()
        return self.peak


# ---------------------------------------------------------------- sshd and the counting relay

class Relay:
    """A TCP relay from a local port to sshd that counts bytes in both directions.

    With `wan=(rate, rtt)` it is a slow link: each direction carries at most `rate` bytes per
    second and delivers each piece `rtt / 2` seconds after it came in, holding at most two
    bandwidth-delay products of data in flight (beyond that it stops reading, and TCP's flow
    control pushes back on the sender, as a router's queue would)."""

    def __init__(self, target, wan=None):
        self.target = target
        self.wan = wan
        self.up = self.down = 0
        self.lock = threading.Lock()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            client, _ = self.sock.accept()
            server = socket.create_connection(("127.0.0.1", self.target))
            for a, b, up in ((client, server, True), (server, client, False)):
                if self.wan:
                    link = queue.Queue(maxsize=self.slots())
                    threading.Thread(target=self.pump, args=(a, link, up), daemon=True).start()
                    threading.Thread(target=self.deliver, args=(link, b), daemon=True).start()
                else:
                    threading.Thread(target=self.pump, args=(a, b, up), daemon=True).start()

    def slots(self):
        """Pieces of up to 64 KiB the link holds: two bandwidth-delay products, at least 4."""
        rate, rtt = self.wan
        return max(4, int(2 * rate * rtt / (1 << 16)) + 1)

    def pump(self, a, b, up):
        """Read from `a`; write to socket `b`, or with a WAN, queue for `deliver`."""
        try:
            while True:
                data = a.recv(1 << 16)
                if not data:
                    break
                with self.lock:
                    if up:
                        self.up += len(data)
                    else:
                        self.down += len(data)
                if self.wan:
                    b.put((time.monotonic() + self.wan[1] / 2, data))
                else:
                    b.sendall(data)
        except OSError:
            pass
        finally:
            if self.wan:
                b.put((0, None))
            else:
                for s in (a, b):
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass

    def deliver(self, link, b):
        """Send each queued piece once it is due, no faster than the link's rate."""
        rate = self.wan[0]
        free_at = time.monotonic()
        try:
            while True:
                due, data = link.get()
                if data is None:
                    break
                now = time.monotonic()
                start = max(due, free_at, now)
                if start > now:
                    time.sleep(start - now)
                b.sendall(data)
                free_at = start + len(data) / rate
        except OSError:
            pass
        finally:
            try:
                b.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def take(self):
        with self.lock:
            up, down = self.up, self.down
            self.up = self.down = 0
        return up, down


class Sshd:
    def __init__(self, base, wan=None):
        self.dir = os.path.join(base, "ssh")
        self.home = os.path.join(self.dir, "home")
        os.makedirs(os.path.join(self.home, ".ssh"))
        bindir = os.path.join(self.dir, "bin")
        os.makedirs(bindir)
        for key in (os.path.join(self.dir, "host_key"), os.path.join(self.home, ".ssh", "id_ed25519")):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key], check=True)
        shutil.copy(os.path.join(self.home, ".ssh", "id_ed25519.pub"), os.path.join(self.dir, "authorized_keys"))
        self.remote_log = os.path.join(self.dir, "remote.jsonl")
        for name, real in (("tern-measured", TERN), ("rsync-measured", shutil.which("rsync"))):
            with open(os.path.join(bindir, name), "w") as f:
                f.write(f'#!/bin/sh\nexec {TIME} -a -o {self.remote_log} -f "{TIME_FORMAT}" {real} "$@"\n')
            os.chmod(os.path.join(bindir, name), 0o755)
        self.bindir = bindir
        if os.geteuid() == 0:
            os.makedirs("/run/sshd", exist_ok=True)
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()
        d = self.dir
        with open(os.path.join(d, "sshd_config"), "w") as f:
            f.write(
                f"Port {self.port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nPidFile {d}/sshd.pid\n"
                f"AuthorizedKeysFile {d}/authorized_keys\nUsePAM no\nStrictModes no\n"
                "PasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin yes\n"
                f"SetEnv PATH={bindir}:/usr/local/bin:/usr/bin:/bin\nMaxStartups 50\nCompression no\n"
            )
        self.log = open(os.path.join(d, "sshd.log"), "w")
        # Pinned (--pin): the server end (sshd, its sessions and the remote tool) on core 1.
        pin = ["taskset", "-c", "1"] if PIN else []
        self.proc = subprocess.Popen(pin + [SSHD, "-D", "-e", "-f", os.path.join(d, "sshd_config")],
                                     stdout=self.log, stderr=self.log, stdin=subprocess.DEVNULL)
        deadline = time.time() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port)).close()
                break
            except OSError:
                if time.time() > deadline or self.proc.poll() is not None:
                    sys.exit("sshd did not start; see " + os.path.join(d, "sshd.log"))
                time.sleep(0.05)
        self.relay = Relay(self.port, wan)
        with open(os.path.join(d, "host_key.pub")) as f:
            key = " ".join(f.read().split()[:2])
        with open(os.path.join(self.home, ".ssh", "known_hosts"), "w") as f:
            f.write(f"[127.0.0.1]:{self.relay.port} {key}\n")
        self.user = subprocess.run(["id", "-un"], capture_output=True, text=True).stdout.strip()

    def stop(self):
        self.proc.terminate()
        self.proc.wait()

    def remote_usage(self):
        """Sum the CPU and take the peak RSS of the remote processes since the last call."""
        if not os.path.exists(self.remote_log):
            return 0.0, 0
        with open(self.remote_log) as f:
            rows = [parse_time(line) for line in f if line.strip()]
        os.unlink(self.remote_log)
        rows = [r for r in rows if r]
        return sum(r["cpu"] for r in rows), max((r["rss"] for r in rows), default=0)


# ---------------------------------------------------------------- running the tools

class Bench:
    def __init__(self, base, sshd):
        self.base = base
        self.sshd = sshd
        self.cache = os.path.join(base, "tern-cache")
        self.env = dict(os.environ, HOME=sshd.home, TERN_CACHE_DIR=self.cache)
        self.env.pop("SSH_AUTH_SOCK", None)
        key = os.path.join(sshd.home, ".ssh", "id_ed25519")
        kh = os.path.join(sshd.home, ".ssh", "known_hosts")
        self.fresh_fs = None
        # Sample each end's memory, all processes together, during runs (the memory scenario).
        self.ends = False
        self.ssh = (f"ssh -p {sshd.relay.port} -i {key} -o UserKnownHostsFile={kh} "
                    "-o StrictHostKeyChecking=yes -o BatchMode=yes -o Compression=no")

    def command(self, tool, src, dst):
        s = self.sshd
        if tool == "tern":
            quiet = [] if os.environ.get("VS_RSYNC_VERBOSE") else ["-q"]
            return [TERN, "sync", *quiet, *os.environ.get("TERN_EXTRA", "").split(), "--remote-tern", os.path.join(s.bindir, "tern-measured"), src,
                    f"ssh://{s.user}@127.0.0.1:{s.relay.port}{dst}"]
        cmd = ["rsync", "-a", "--delete", "-e", self.ssh, "--rsync-path", os.path.join(s.bindir, "rsync-measured")]
        if tool == "rsync-z":
            cmd += ["-z", "--compress-choice=zstd"]
        cmd += [src + "/", f"{s.user}@127.0.0.1:{dst}/"]
        if DURABLE:  # as durable as tern's run: rsync, then the destination's file system synced
            import shlex
            return ["sh", "-c", f"{shlex.join(cmd)} && sync -f {shlex.quote(dst)}"]
        return cmd

    def run(self, tool, src, dst):
        # Start every run with no dirty data in the page cache: otherwise a tool that makes its
        # writes durable (tern's syncfs) pays for flushing what the previous tool left behind.
        os.sync()
        self.sshd.relay.take()
        self.sshd.remote_usage()
        usage = os.path.join(self.base, "client-usage")
        pin = ["taskset", "-c", "0"] if PIN else []  # the client end (and its ssh) on core 0
        cmd = [TIME, "-o", usage, "-f", TIME_FORMAT] + pin + self.command(tool, src, dst)
        verbose = bool(os.environ.get("VS_RSYNC_VERBOSE"))
        p = subprocess.Popen(cmd, env=self.env, stdin=subprocess.DEVNULL,
                             stdout=None if verbose else subprocess.DEVNULL, stderr=subprocess.PIPE)
        ends = EndMemory(p.pid, self.sshd.proc.pid) if self.ends else None
        _, err = p.communicate()
        peaks = ends.stop() if ends else None
        if p.returncode != 0:
            sys.exit(f"{tool} failed ({p.returncode}): {err.decode(errors='replace')}")
        with open(usage) as f:
            client = parse_time(f.read().strip().splitlines()[-1])
        up, down = self.sshd.relay.take()
        if verbose:
            print(f"  {tool}: {up} bytes up, {down} down", file=sys.stderr)
        rcpu, rrss = self.sshd.remote_usage()
        row = {"wall": client["wall"], "cpu": client["cpu"], "rss": client["rss"], "rcpu": rcpu,
               "rrss": rrss, "up": up, "down": down, "bytes": up + down}
        if peaks:
            # An end holds at least what its largest process did at its exact peak, which the
            # samples may fall either side of.
            row["end"] = max(peaks["end"], client["rss"])
            row["rend"] = max(peaks["rend"], rrss)
        return row

    def dst(self, scenario, tool):
        parent = os.path.join(self.base, "dst", scenario)
        if not os.path.isdir(parent):
            os.makedirs(parent)
            if self.fresh_fs:
                self.fresh_fs.mount(parent, scenario)
        return os.path.join(parent, tool)


class FreshFs:
    """Each scenario's destinations on a new ext4 file system: a sparse image, loop-mounted.

    File creation on a file system that has lived a while (this VM's, after the previous run's
    hundreds of thousands of deletions) cost both tools' remote side two to three times more CPU
    from one run to the next, which decided scenario 1's ratio. A new file system per scenario
    makes every run start from the same state. Needs root, `mkfs.ext4` and loop devices;
    `--no-fresh-fs` (or their absence) puts the destinations in the bench's directory instead."""

    # Per scenario at size 1: image bytes (sparse) and inodes, enough for every run's copy.
    SIZES = {"small": (8 << 30, 600_000), "churn": (4 << 30, 300_000), "big": (12 << 30, 10_000),
             "bulk": (16 << 30, 10_000), "tiny": (12 << 30, 1_500_000)}

    def __init__(self, scale, reps=1):
        self.scale = scale
        self.reps = reps
        self.mounts = []

    @staticmethod
    def available():
        return os.geteuid() == 0 and all(shutil.which(t) for t in ("mkfs.ext4", "losetup", "mount", "umount"))

    def mount(self, path, scenario):
        size, inodes = self.SIZES.get(scenario, (4 << 30, 200_000))
        size = max(1 << 30, int(size * max(self.scale, 0.01)))
        inodes = max(65_536, int(inodes * max(self.scale, 0.01)))
        if scenario == "real":  # a real tree does not scale with --size: room for 9 copies of 2 GiB
            size, inodes = 18 << 30, 1_000_000
        if scenario.startswith("scale"):  # three tools' copies of N files, in N/200 directories
            n = int(scenario[len("scale"):])
            size, inodes = max(1 << 30, 3 * self.reps * n * 5 * 1024), 3 * self.reps * n * 11 // 10 + 65_536
        image = path + ".img"
        try:
            with open(image, "wb") as f:
                f.truncate(size)
            # Inode tables written now, not by a kernel thread during the runs; no journal, as the
            # VM's own file system (where the earlier runs put their destinations).
            subprocess.run(["mkfs.ext4", "-q", "-F", "-O", "^has_journal", "-N", str(inodes), "-E",
                            "lazy_itable_init=0,lazy_journal_init=0", image], check=True,
                           capture_output=True, text=True)
            # Direct I/O from the loop device to its image: written once, as to a disk, not cached
            # again (and flushed again) by the file system that holds the image.
            device = subprocess.run(["losetup", "--find", "--show", "--direct-io=on", image],
                                    check=True, capture_output=True, text=True).stdout.strip()
            subprocess.run(["mount", device, path], check=True, capture_output=True, text=True)
        except (OSError, subprocess.CalledProcessError) as e:
            detail = getattr(e, "stderr", None) or e
            sys.exit(f"cannot put the {scenario} destinations on a new file system at {path}: "
                     f"{str(detail).strip()}; run with --no-fresh-fs")
        self.mounts.append((path, image, device))

    def close(self):
        for path, image, device in reversed(self.mounts):
            subprocess.run(["umount", path], check=False)
            subprocess.run(["losetup", "--detach", device], check=False)
            os.unlink(image)
        self.mounts = []


def same_tree(a, b):
    out = subprocess.run(["rsync", "-anc", "--delete", "--exclude=/.tern", a + "/", b + "/", "--itemize-changes"],
                         capture_output=True, text=True).stdout
    # the top directory's own mtime is not part of a replica (tern replicates contents)
    changes = [l for l in out.splitlines() if l.strip() and not l.endswith(" ./")]
    return not changes, changes[:5]


def medians(rows):
    return {k: statistics.median(r[k] for r in rows) for k in rows[0]}


def scenario(bench, name, reps, prepare, before_rep=None, fresh=True, verify=True, dst_of=None):
    """Run every tool `reps` times, alternating their order; `prepare(tool)` returns the source.

    `fresh`: every run syncs into a new, empty destination (`NAME/TOOL-REP`). Old ones are not
    deleted until the end: on an ext4 without a journal (this VM's), files created within
    seconds of a mass deletion make the inode allocator skip every recently freed inode, which
    slowed whichever tool ran next by up to 3x. Otherwise each tool keeps `NAME/TOOL`, or
    `dst_of(tool, rep)`."""
    results = {t: [] for t in TOOLS}
    for rep in range(reps):
        order = TOOLS[rep % 3:] + TOOLS[:rep % 3]
        if before_rep:
            before_rep(rep)
        for tool in order:
            if dst_of:
                dst = dst_of(tool, rep)
            else:
                dst = bench.dst(name, f"{tool}-{rep}" if fresh else tool)
            src = prepare(tool, rep)
            if fresh and tool == "tern":  # an initial sync starts without tern's caches
                shutil.rmtree(bench.cache, ignore_errors=True)
            results[tool].append(bench.run(tool, src, dst))
            if verify and rep == 0:
                ok, diff = same_tree(src, dst)
                if not ok:
                    sys.exit(f"{name}: {tool} left {dst} different from {src}: {diff}")
    return {t: medians(r) for t, r in results.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=float, default=0.02, help="scale of every data set (1 = issue 6 sizes)")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--out", default=None, help="write the table here too")
    ap.add_argument("--only", default=None,
                    help="comma-separated scenario numbers (7, real upgrades, downloads from crates.io; 8, a 5%% churn; 9, a real tree)")
    ap.add_argument("--real", default=os.path.expanduser("~/.cargo/registry/src"), metavar="DIR",
                    help="scenario 9: a first sync of this real tree (default: cargo's registry sources)")
    ap.add_argument("--scale", default=None, metavar="N,N,...",
                    help="a scale series instead of the scenarios: for each file count, a first sync "
                         "of that many 100-byte files and an unchanged re-sync, with each end's memory")
    ap.add_argument("--plot", default=None, metavar="PNG",
                    help="with --scale: plot time and memory against the file count (needs matplotlib)")
    ap.add_argument("--replot", default=None, metavar="TABLE",
                    help="with --plot: draw the scale series of a table written by --scale --out, and stop")
    ap.add_argument("--durable-rsync", action="store_true",
                    help="end every rsync run with `sync -f` of its destination (tern syncs before it commits)")
    ap.add_argument("--pin", action="store_true",
                    help="pin the client end to core 0 and the server end (sshd, remote tool) to core 1")
    ap.add_argument("--no-fresh-fs", action="store_true",
                    help="destinations in the bench's directory, not on a new ext4 per scenario")
    ap.add_argument("--wan", default=None, metavar="RATE,RTT",
                    help="a slow link between the tools and sshd: Mbit/s and round trip in ms, "
                         "e.g. 100,20 or 10,80")
    args = ap.parse_args()
    global PIN, DURABLE
    PIN, DURABLE = args.pin, args.durable_rsync
    if args.replot:
        plot_scale(series_from_table(args.replot), args.plot or "scale.png")
        return
    S = args.size
    only = set(args.only.split(",")) if args.only else None
    base = tempfile.mkdtemp(prefix="tern-bench-")
    wan = None
    if args.wan:
        mbit, rtt_ms = (float(x) for x in args.wan.split(","))
        wan = (mbit * 1e6 / 8, rtt_ms / 1000)
        print(f"a link of {mbit:g} Mbit/s with a {rtt_ms:g} ms round trip between the tools and sshd")
    sshd = Sshd(base, wan)
    bench = Bench(base, sshd)
    if not args.no_fresh_fs and FreshFs.available():
        bench.fresh_fs = FreshFs(args.size, args.reps)
    else:
        print("destinations on the bench directory's file system (no fresh ext4 per scenario)")
    rows = []
    try:
        n_small = max(200, int(50_000 * S))
        n_dirs = max(4, int(1000 * S))
        data = os.path.join(base, "data")

        def want(n):
            return only is None or str(n) in only

        if args.scale:
            series = []
            for n in (int(x) for x in args.scale.split(",")):
                tiny = os.path.join(data, f"scale-{n}")
                tiny_tree(tiny, 6, n)
                bench.ends = True
                first = scenario(bench, f"scale{n}", args.reps, lambda t, rep: tiny)
                last = args.reps - 1
                again = scenario(bench, f"scale{n}", args.reps, lambda t, rep: tiny, fresh=False,
                                 dst_of=lambda t, rep: bench.dst(f"scale{n}", f"{t}-{last}"))
                bench.ends = False
                rows.append(("first sync", f"{n} files", first))
                rows.append(("no change", f"{n} files", again))
                series.append((n, first, again))
                # The next count needs the room (and inodes) these took.
                shutil.rmtree(tiny, ignore_errors=True)
                if not bench.fresh_fs:  # (a new file system's image is freed at the end)
                    shutil.rmtree(os.path.join(base, "dst", f"scale{n}"), ignore_errors=True)
            if args.plot:
                plot_scale(series, args.plot)
            only = set()
        if want(1) or want(2) or want(3) or want(8):
            small = os.path.join(data, "small")
            small_tree(small, 1, n_small, n_dirs)
            r1 = scenario(bench, "small", args.reps, lambda t, rep: small)
            if want(1):
                rows.append(("1 initial small files", f"{n_small} files", r1))
            if want(2):
                # the destinations of scenario 1 are in sync: run again with no change
                last = args.reps - 1
                r2 = scenario(bench, "small", args.reps, lambda t, rep: small, fresh=False,
                              dst_of=lambda t, rep: bench.dst("small", f"{t}-{last}"))
                rows.append(("2 no change", f"{n_small} files", r2))
            if want(3):
                work = os.path.join(data, "small-work")

                def reset(rep):
                    subprocess.run(["rsync", "-a", "--delete", small + "/", work + "/"], check=True)
                    for t in TOOLS:  # every destination back to the base state, untimed
                        bench.run(t, work, bench.dst("churn", t))
                    churn(work, 100 + rep, n_small, n_dirs)

                r3 = scenario(bench, "churn", args.reps, lambda t, rep: work, before_rep=reset, fresh=False)
                rows.append(("3 1% churn", f"{n_small} files", r3))
            if want(8):
                work = os.path.join(data, "small-heavy")

                def reset_heavy(rep):
                    subprocess.run(["rsync", "-a", "--delete", small + "/", work + "/"], check=True)
                    for t in TOOLS:
                        bench.run(t, work, bench.dst("heavy", t))
                    heavy_churn(work, 300 + rep, n_dirs)

                r8 = scenario(bench, "heavy", args.reps, lambda t, rep: work, before_rep=reset_heavy,
                              fresh=False)
                rows.append(("8 5% churn", f"{n_small} files", r8))
        if want(4):
            big = os.path.join(data, "big")
            os.makedirs(big)
            size = max(8 << 20, int((1 << 30) * S))

            def reset_big(rep):
                shutil.rmtree(big)
                os.makedirs(big)
                big_file(big, 4, size)
                for t in TOOLS:
                    bench.run(t, big, bench.dst("big", t))
                big_edit(big, 200 + rep)

            r4 = scenario(bench, "big", args.reps, lambda t, rep: big, before_rep=reset_big, fresh=False)
            rows.append(("4 large file edits", f"{size >> 20} MiB", r4))
        if want(5):
            bulk = os.path.join(data, "bulk")
            size = max(8 << 20, int((1 << 30) * S))
            bulk_text(bulk, 5, size)
            r5 = scenario(bench, "bulk", args.reps, lambda t, rep: bulk)
            rows.append(("5 compressible bulk", f"{size >> 20} MiB", r5))
        if want(7):
            rel = os.path.join(data, "releases")
            fetch_releases(rel)
            work = os.path.join(data, "releases-work")

            def reset_releases(rep):
                subprocess.run(["rsync", "-a", "--delete", rel + "/old/", work + "/"], check=True)
                for t in TOOLS:  # every destination at the old releases, untimed
                    bench.run(t, work, bench.dst("releases", t))
                subprocess.run(["rsync", "-a", "--delete", rel + "/new/", work + "/"], check=True)

            r7 = scenario(bench, "releases", args.reps, lambda t, rep: work,
                          before_rep=reset_releases, fresh=False)
            rows.append(("7 real upgrades", f"{len(RELEASES)} crates, 2 releases each", r7))
        if want(9):
            real = os.path.abspath(args.real)
            files = sum(len(fs) for _, _, fs in os.walk(real))
            mib = sum(os.lstat(os.path.join(d, f)).st_size for d, _, fs in os.walk(real) for f in fs) >> 20
            r9 = scenario(bench, "real", args.reps, lambda t, rep: real)
            rows.append(("9 real tree, first sync", f"{files} files, {mib} MiB", r9))
        if want(6):
            tiny = os.path.join(data, "tiny")
            n = max(1000, int(200_000 * S))
            tiny_tree(tiny, 6, n)
            bench.ends = True
            r6 = scenario(bench, "tiny", max(1, args.reps - 1), lambda t, rep: tiny)
            bench.ends = False
            for t in r6:
                r6[t]["end_per_100k"] = r6[t]["end"] * 100_000 / n
                r6[t]["rend_per_100k"] = r6[t]["rend"] * 100_000 / n
            rows.append(("6 memory, many files", f"{n} files", r6))
    finally:
        sshd.stop()
        if bench.fresh_fs:
            bench.fresh_fs.close()
        shutil.rmtree(base, ignore_errors=True)
    report = table(rows, S, args.reps, bool(bench.fresh_fs))
    print(report)
    if args.out:
        with open(args.out, "w") as f:
            f.write(report)


# Two consecutive releases of a few packages, as the registries serve them: the "real upgrade"
# data set (scenario 7). Each release's files are extracted under the package's name, so the
# newer release lands on the older one's paths, as an upgrade of an unpacked tree would.
RELEASES = [
    ("tokio", "1.41.0", "1.41.1"),
    ("syn", "2.0.86", "2.0.87"),
    ("serde_json", "1.0.132", "1.0.133"),
    ("regex", "1.11.0", "1.11.1"),
    ("clap_builder", "4.5.20", "4.5.21"),
]


def fetch_releases(root):
    """Download both releases of each package into root/dl (once), and extract them into
    root/old and root/new. A file of the new release that differs from the old one (or is new)
    gets a new mtime, as an upgrade writes it; an unchanged one keeps the old one's."""
    import tarfile
    import urllib.request
    dl = os.path.join(root, "dl")
    os.makedirs(dl, exist_ok=True)
    for name, *versions in RELEASES:
        for v in versions:
            path = os.path.join(dl, f"{name}-{v}.crate")
            if not os.path.exists(path):
                url = f"https://static.crates.io/crates/{name}/{name}-{v}.crate"
                with urllib.request.urlopen(url, timeout=60) as r, open(path + ".part", "wb") as f:
                    shutil.copyfileobj(r, f)
                os.rename(path + ".part", path)
            side = "old" if v == versions[0] else "new"
            with tarfile.open(path) as t:
                t.extractall(os.path.join(root, "x", side), filter="data")
            os.makedirs(os.path.join(root, side), exist_ok=True)
            os.rename(os.path.join(root, "x", side, f"{name}-{v}"), os.path.join(root, side, name))
    now = time.time()
    for d, _, files in os.walk(os.path.join(root, "new")):
        for f in files:
            p = os.path.join(d, f)
            old = os.path.join(root, "old", os.path.relpath(p, os.path.join(root, "new")))
            same = os.path.exists(old) and open(old, "rb").read() == open(p, "rb").read()
            t = os.stat(old).st_mtime if same else now
            os.utime(p, (t, t))


def plot_scale(series, path):
    """Time and each end's memory against the file count, log-log, one line per tool and run."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker
    ns = [n for n, _, _ in series]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.6))
    panels = [("wall time (s)", "wall"), ("client end peak (MiB)", "end"), ("remote end peak (MiB)", "rend")]
    styles = {"tern": "tab:blue", "rsync": "tab:orange", "rsync-z": "tab:green"}
    for ax, (label, key) in zip(axes, panels):
        for tool, colour in styles.items():
            scale = 1 if key == "wall" else 1 / 1024
            ax.plot(ns, [f[tool][key] * scale for _, f, _ in series], "o-", color=colour,
                    label=f"{tool}, first sync")
            ax.plot(ns, [a[tool][key] * scale for _, _, a in series], "s--", color=colour,
                    label=f"{tool}, no change")
        ax.set_xscale("log")
        if key == "wall":
            ax.set_yscale("log")
            ax.yaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
            ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        else:
            ax.set_ylim(bottom=0)
        ax.set_xlabel("files (100 B each)")
        ax.set_title(label)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle("tern vs rsync over one loopback sshd: " + time.strftime("%Y-%m-%d", time.gmtime()))
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def series_from_table(path):
    """The scale series of a table this script wrote (`--out`), for `--replot`."""
    keys = {"wall time (s)": ("wall", 1), "client end peak, all processes (MiB)": ("end", 1024),
            "remote end peak, all processes (MiB)": ("rend", 1024)}
    runs = {}
    for line in open(path):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 6 or cells[0] not in ("first sync", "no change") or cells[2] not in keys:
            continue
        n = int(cells[1].split()[0])
        key, unit = keys[cells[2]]
        run = runs.setdefault(n, ({t: {} for t in TOOLS}, {t: {} for t in TOOLS}))[cells[0] == "no change"]
        for tool, value in zip(TOOLS, cells[3:6]):
            run[tool][key] = float(value) * unit
    return [(n, first, again) for n, (first, again) in sorted(runs.items())]


def table(rows, size, reps, fresh_fs=False):
    def ratio(a, b):
        return f"{a / b:.2f}" if b else "-"

    lines = [
        f"tern vs rsync, size {size}, medians of {reps} runs, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
        + (", destinations on a new ext4 per scenario" if fresh_fs else ""),
        "",
        "| scenario | data | metric | tern | rsync | rsync -z | tern/rsync | tern/rsync -z |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    metrics = [
        ("wall", "wall time (s)", lambda v: f"{v:.2f}"),
        ("cpu", "client CPU (s)", lambda v: f"{v:.2f}"),
        ("rcpu", "remote CPU (s)", lambda v: f"{v:.2f}"),
        ("bytes", "bytes on the wire (KiB)", lambda v: f"{v / 1024:.0f}"),
        ("rss", "client peak RSS (MiB)", lambda v: f"{v / 1024:.1f}"),
        ("rrss", "remote peak RSS (MiB)", lambda v: f"{v / 1024:.1f}"),
        ("end", "client end peak, all processes (MiB)", lambda v: f"{v / 1024:.1f}"),
        ("rend", "remote end peak, all processes (MiB)", lambda v: f"{v / 1024:.1f}"),
        ("end_per_100k", "client end per 100k files (MiB)", lambda v: f"{v / 1024:.1f}"),
        ("rend_per_100k", "remote end per 100k files (MiB)", lambda v: f"{v / 1024:.1f}"),
    ]
    for name, data, r in rows:
        for key, label, fmt in metrics:
            if key not in r["tern"]:
                continue
            t, a, z = r["tern"][key], r["rsync"][key], r["rsync-z"][key]
            lines.append(f"| {name} | {data} | {label} | {fmt(t)} | {fmt(a)} | {fmt(z)} | {ratio(t, a)} | {ratio(t, z)} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
