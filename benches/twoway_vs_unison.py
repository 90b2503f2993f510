#!/usr/bin/env python3
"""tern --two-way against `unison -batch`: the documented cases side by side, and a timed run.

    python3 benches/twoway_vs_unison.py cases            # the case table (local replicas)
    python3 benches/twoway_vs_unison.py bench [--files N] [--changed 0.01]

`cases` runs every case of the two-way test table (tests/tern/twoway.rs) through both tools and
prints, per case, what each replica holds afterwards: where the tools differ is where a reader
should look. `bench` builds N files (default 50,000) on both sides, syncs them once with each
tool, then twice changes `--changed` of the files on each side (updates, a few deletions and
creations) and times the next two-way sync of each tool over the same sshd behind the counting relay of
vs_rsync.py (bytes both ways). Needs: unison, openssh-server, openssh-client, python3, and a
release build (`cargo build --release`).
"""

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vs_rsync  # noqa: E402  (the sshd, the relay, the tern binary)

TERN = vs_rsync.TERN
T_A, T_B = 2_000_000_000, 2_000_000_100


def write(path, data, mtime=None):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())
    if mtime is not None:
        os.utime(path, (mtime, mtime))


def rm(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    else:
        os.unlink(path)


# Each case: base files, an edit of A, an edit of B (functions of the replica's root).
CASES = [
    ("create on one side", {"keep": "k"}, lambda r: write(f"{r}/new", "from a"), lambda r: None),
    ("create on both, same", {}, lambda r: write(f"{r}/same", "x"), lambda r: write(f"{r}/same", "x")),
    ("create on both, different", {}, lambda r: write(f"{r}/n.txt", "from a", T_A),
     lambda r: write(f"{r}/n.txt", "from b", T_B)),
    ("update on one side", {"f": "old"}, lambda r: None, lambda r: write(f"{r}/f", "new from b")),
    ("update on both, differently", {"doc.txt": "old"}, lambda r: write(f"{r}/doc.txt", "a's, newer", T_B),
     lambda r: write(f"{r}/doc.txt", "b's", T_A)),
    ("update on both, alike", {"f": "old"}, lambda r: write(f"{r}/f", "same", T_A),
     lambda r: write(f"{r}/f", "same", T_A)),
    ("delete on one side", {"gone": "g", "stay": "s"}, lambda r: rm(f"{r}/gone"), lambda r: None),
    ("delete on both", {"gone": "g"}, lambda r: rm(f"{r}/gone"), lambda r: rm(f"{r}/gone")),
    ("delete vs update", {"f": "old"}, lambda r: rm(f"{r}/f"), lambda r: write(f"{r}/f", "b's update")),
    ("rename vs update", {"x": "old"}, lambda r: os.rename(f"{r}/x", f"{r}/y"),
     lambda r: write(f"{r}/x", "b's update")),
    ("dir vs file", {}, lambda r: write(f"{r}/p/inside", "i"), lambda r: write(f"{r}/p", "a file")),
    ("dir deleted vs added to", {"d/old": "o"}, lambda r: rm(f"{r}/d"), lambda r: write(f"{r}/d/new", "n")),
    ("metadata only", {"m": "m"}, lambda r: os.chmod(f"{r}/m", 0o600), lambda r: None),
    ("case-only rename", {"readme": "r"}, lambda r: os.rename(f"{r}/readme", f"{r}/README"), lambda r: None),
]


def state(root):
    """Files below root (not tern's or unison's own), as `path=content` (mode if not 644)."""
    out = []
    for d, dirs, files in os.walk(root):
        dirs[:] = [x for x in dirs if x != ".tern"]
        for name in files:
            p = os.path.join(d, name)
            rel = os.path.relpath(p, root)
            with open(p, "rb") as f:
                content = f.read().decode(errors="replace")
            if ".tern-conflict-" in rel:
                rel = rel.split(".tern-conflict-")[0] + ".CONFLICT"
            mode = os.stat(p).st_mode & 0o777
            out.append(f"{rel}={content}" + ("" if mode == 0o644 else f" ({mode:o})"))
    return ", ".join(sorted(out)) or "(empty)"


def unison(a, b, archives, extra=()):
    env = dict(os.environ, UNISON=archives)
    cmd = ["unison", a, b, "-batch", "-times", "-ui", "text", "-confirmbigdel=false", *extra]
    return subprocess.run(cmd, env=env, capture_output=True, text=True)


def tern(a, b, env=None, extra=()):
    return subprocess.run([TERN, "sync", "--two-way", *extra, a, b], env=env, capture_output=True, text=True)


def cases():
    os.umask(0o022)
    print("| case | tern: both replicas | unison -batch: a | unison -batch: b |")
    print("| --- | --- | --- | --- |")
    for name, base, edit_a, edit_b in CASES:
        row = [name]
        results = {}
        for tool in ("tern", "unison"):
            with tempfile.TemporaryDirectory() as tmp:
                a, b = f"{tmp}/a", f"{tmp}/b"
                os.makedirs(a)
                os.makedirs(b)
                for p, c in base.items():
                    write(f"{a}/{p}", c)
                run = (lambda: tern(a, b)) if tool == "tern" else (lambda: unison(a, b, f"{tmp}/arch"))
                first = run()
                if first.returncode not in (0,):
                    sys.exit(f"{tool} first sync failed in {name}: {first.stderr}")
                edit_a(a)
                edit_b(b)
                done = run()
                results[tool] = (state(a), state(b), done.returncode)
        ta, tb, tcode = results["tern"]
        ua, ub, ucode = results["unison"]
        same = "" if ta == tb else f" / b: {tb}"
        row.append(f"{ta}{same} (exit {tcode})")
        row += [f"{ua} (exit {ucode})", ub]
        print("| " + " | ".join(row) + " |")


def bench(files, changed):
    base = tempfile.mkdtemp(prefix="tern-twoway-bench-")
    try:
        sshd = vs_rsync.Sshd(base)
        rng = random.Random(7)
        user, port = sshd.user, sshd.relay.port
        key = os.path.join(sshd.home, ".ssh", "id_ed25519")
        kh = os.path.join(sshd.home, ".ssh", "known_hosts")
        env = dict(os.environ, HOME=sshd.home, TERN_CACHE_DIR=os.path.join(base, "cache"))
        env.pop("SSH_AUTH_SOCK", None)
        dirs = max(1, files // 100)
        roots = {}
        for tool in ("tern", "unison"):
            a, b = os.path.join(base, tool, "a"), os.path.join(base, tool, "b")
            for i in range(files):
                write(os.path.join(a, f"d{i % dirs:04}", f"f{i}"), rng.randbytes(rng.randint(200, 8000)))
            shutil.copytree(a, b, copy_function=shutil.copy2)
            roots[tool] = (a, b)
        unison_arch = os.path.join(base, "unison-archives")
        server = os.path.join(base, "unison-server")
        with open(server, "w") as f:
            f.write(f"#!/bin/sh\nUNISON={unison_arch}-remote exec unison \"$@\"\n")
        os.chmod(server, 0o755)
        sshargs = f"-p {port} -i {key} -o UserKnownHostsFile={kh} -o BatchMode=yes -o Compression=no"

        def run(tool):
            a, b = roots[tool]
            if tool == "tern":
                cmd = [TERN, "sync", "--two-way", "-q", "--remote-tern", TERN, a,
                       f"ssh://{user}@127.0.0.1:{port}{b}"]
                e = env
            else:
                cmd = ["unison", a, f"ssh://{user}@127.0.0.1/{b}", "-batch", "-times", "-ui", "text",
                       "-sshargs", sshargs, "-servercmd", server, "-confirmbigdel=false"]
                e = dict(env, UNISON=unison_arch)
            # No dirty data in the page cache: a tool that makes its writes durable would pay for
            # flushing what the set-up wrote (tern's commit is a syncfs).
            os.sync()
            sshd.relay.take()
            t = time.monotonic()
            p = subprocess.run(cmd, env=e, capture_output=True, text=True)
            took = time.monotonic() - t
            up, down = sshd.relay.take()
            if p.returncode not in ((0, 5) if tool == "tern" else (0, 1)):
                sys.exit(f"{tool} failed ({p.returncode}): {p.stdout}\n{p.stderr}")
            return took, up + down

        first = {tool: run(tool) for tool in ("tern", "unison")}

        def edit(round_):
            """The same edits on both tools' replicas: `changed` of the files on each side."""
            for side, seed in (("a", 11 + 10 * round_), ("b", 12 + 10 * round_)):
                for tool in ("tern", "unison"):
                    r = random.Random(seed)
                    root = roots[tool][0 if side == "a" else 1]
                    picks = r.sample(range(files), int(files * changed))
                    for n, i in enumerate(picks):
                        p = os.path.join(root, f"d{i % dirs:04}", f"f{i}")
                        if n % 10 == 0 and os.path.exists(p):
                            os.unlink(p)
                        elif n % 10 == 1:
                            write(os.path.join(root, f"d{i % dirs:04}", f"new-{side}{round_}-{i}"),
                                  r.randbytes(3000))
                        elif os.path.exists(p):
                            with open(p, "r+b") as f:
                                f.seek(r.randint(0, 100))
                                f.write(r.randbytes(64))

        rounds = []
        for round_ in range(2):
            edit(round_)
            rounds.append({tool: run(tool) for tool in ("tern", "unison")})
        print(f"| {files} files, {changed:.0%} changed on each side | time | bytes on the wire |")
        print("| --- | ---: | ---: |")
        labelled = [("first sync", first), ("after edits, 1st round", rounds[0]),
                    ("after edits, 2nd round", rounds[1])]
        for label, runs in labelled:
            for tool in ("tern", "unison"):
                took, wire = runs[tool]
                print(f"| {label}: {tool} | {took:.2f} s | {wire / 1e6:.2f} MB |")
            (tt, tw), (ut, uw) = runs["tern"], runs["unison"]
            print(f"| {label}: tern/unison | {tt / ut:.2f} | {tw / max(uw, 1):.2f} |")
        sshd.stop()
    finally:
        shutil.rmtree(base, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["cases", "bench"])
    ap.add_argument("--files", type=int, default=50_000)
    ap.add_argument("--changed", type=float, default=0.01)
    args = ap.parse_args()
    if args.what == "cases":
        cases()
    else:
        bench(args.files, args.changed)


if __name__ == "__main__":
    main()
