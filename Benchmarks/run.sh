#!/usr/bin/env bash
# meetingd's throughput against the file-system floor and a Python peer, measured in one run on this machine.
#   bash Benchmarks/run.sh              20,000 requests, release build (make bench)
#   BENCH_REQUESTS=200 BENCH_BUILD=debug bash Benchmarks/run.sh    the smoke size make test runs
# Every contender decides the same generated requests (Benchmarks/generate.py) in a fresh folder on the same
# file system; ratios are against the floor measured in the same run, because these machines are shared.
set -euo pipefail
cd "$(dirname "$0")/.."
N="${BENCH_REQUESTS:-20000}"
BUILD="${BENCH_BUILD:-release}"
BASE="${BENCH_WORK:-$PWD/.build/bench}"
# A folder of its own per run, removed when the run ends: ext4 slows down creating files next to inodes deleted
# in the last few minutes, so deleting the previous run's files just before a contender would handicap it.
WORK="$BASE/run-$(date +%s)-$$"
mkdir -p "$WORK"
trap 'rm -rf "$WORK"' EXIT
cc -O2 -Wall -o "$WORK/floor" Benchmarks/floor.c
swift build -c "$BUILD" --product meetingd >/dev/null 2>&1
BIN="$(swift build -c "$BUILD" --show-bin-path 2>/dev/null)/meetingd"
python3 -c "import icalendar" 2>/dev/null || python3 -m pip install --quiet icalendar

fresh() { python3 Benchmarks/generate.py "$WORK/$1" "$N"; echo "$WORK/$1"; }
rate() { awk '{print $3}'; }

# Every contender's requests are written before any contender runs, and written back to disk.
for name in floor-durable floor-group peer meetingd-durable meetingd-group; do fresh "$name" >/dev/null; done
sync
floor_durable=$("$WORK/floor" "$WORK/floor-durable" durable | rate)
floor_group=$("$WORK/floor" "$WORK/floor-group" group | rate)
peer=$(python3 Benchmarks/peer.py "$WORK/peer" | rate)
dir="$WORK/meetingd-durable"
start=$(date +%s.%N)
"$BIN" drain --spool "$dir" >/dev/null
end=$(date +%s.%N)
meetingd_durable=$(python3 -c "print(f'{$N / ($end - $start):.1f}')")
decided=$(wc -l < "$dir/log/decisions.jsonl")
[ "$decided" -eq "$N" ] || { echo "meetingd decided $decided of $N requests" >&2; exit 1; }
dir="$WORK/meetingd-group"
start=$(date +%s.%N)
"$BIN" drain --group-commit 100 --spool "$dir" >/dev/null
end=$(date +%s.%N)
meetingd_group=$(python3 -c "print(f'{$N / ($end - $start):.1f}')")
decided=$(wc -l < "$dir/log/decisions.jsonl")
[ "$decided" -eq "$N" ] || { echo "meetingd (group commit) decided $decided of $N requests" >&2; exit 1; }

python3 - "$N" "$floor_durable" "$floor_group" "$peer" "$meetingd_durable" "$meetingd_group" "$BUILD" <<'PY'
import sys
n, floor_durable, floor_group, peer, durable, group, build = sys.argv[1], *map(float, sys.argv[2:7]), sys.argv[7]
rows = [
    ("floor, fsync per request (C)", floor_durable),
    ("floor, fsync per 100 (C)", floor_group),
    ("Python peer (icalendar + sqlite3)", peer),
    (f"meetingd drain, durable ({build})", durable),
    (f"meetingd drain, group commit 100 ({build})", group),
]
print(f"{n} requests, one run, same file system")
print(f"{'contender':40} {'requests/s':>12} {'÷ durable floor':>16} {'÷ group floor':>14} {'÷ peer':>8}")
for name, value in rows:
    print(f"{name:40} {value:12.1f} {value / floor_durable:16.2f} {value / floor_group:14.2f} {value / peer:8.2f}")
print(f"targets: durable >= 0.7 x durable floor: {durable / floor_durable:.2f}; "
      f"group >= 0.5 x group floor: {group / floor_group:.2f}; group >= 5 x peer: {group / peer:.2f}")
PY
