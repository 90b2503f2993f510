#!/usr/bin/env bash
# Benchmark tern against rsync over the same local sshd and print a table of ratios.
#   benches/vs-rsync.sh [SIZE] [extra vs_rsync.py options]
# SIZE scales every data set (1 = the sizes of issue 6: 50k small files, 1 GiB files, 200k files);
# the default 0.02 is a smoke run of under a minute. Needs: openssh-server, openssh-client, rsync,
# python3 (bash .ci/run installs the Debian packages).
set -euo pipefail
cd "$(dirname "$0")/.."
size="${1:-0.02}"
shift || true
cargo build --release --locked --quiet
mkdir -p benches/results
out="benches/results/vs-rsync-size-${size}.md"
python3 benches/vs_rsync.py --size "$size" --out "$out" "$@"
echo "written to $out"
