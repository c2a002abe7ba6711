#!/usr/bin/env bash
# meetingd's throughput against the file-system floor and a Python peer, measured in one run on this machine.
#   bash Benchmarks/run.sh              3 rounds of 20,000 requests, release build (make bench)
#   BENCH_REQUESTS=200 BENCH_ROUNDS=1 BENCH_BUILD=debug bash Benchmarks/run.sh    the smoke size make test runs
# Every contender decides the same generated requests (Benchmarks/generate.py) in a fresh folder on the same
# file system; ratios are against the floor measured in the same round, because these machines are shared.
# The disk's speed drifts within minutes, so the contenders run in several rounds, one after another within
# a round, and the summary gives each ratio's median over the rounds with its lowest and highest.
set -euo pipefail
cd "$(dirname "$0")/.."
N="${BENCH_REQUESTS:-20000}"
ROUNDS="${BENCH_ROUNDS:-3}"
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

rate() { awk '{print $3}'; }
seconds() { date +%s.%N; }

# Prints one line: floor_durable floor_group peer meetingd_durable meetingd_group (requests/s).
round() {
    local dir="$WORK/round-$1" name
    # Every contender's requests are written before any contender runs, and written back to disk.
    for name in floor-durable floor-group peer meetingd-durable meetingd-group; do
        python3 Benchmarks/generate.py "$dir/$name" "$N" >/dev/null
    done
    sync
    local floor_durable floor_group peer start end durable group
    floor_durable=$("$WORK/floor" "$dir/floor-durable" durable | rate)
    floor_group=$("$WORK/floor" "$dir/floor-group" group | rate)
    peer=$(python3 Benchmarks/peer.py "$dir/peer" | rate)
    start=$(seconds); "$BIN" drain --spool "$dir/meetingd-durable" >/dev/null; end=$(seconds)
    durable=$(python3 -c "print(f'{$N / ($end - $start):.1f}')")
    start=$(seconds); "$BIN" drain --group-commit 100 --spool "$dir/meetingd-group" >/dev/null; end=$(seconds)
    group=$(python3 -c "print(f'{$N / ($end - $start):.1f}')")
    for name in meetingd-durable meetingd-group; do
        local decided
        decided=$(wc -l < "$dir/$name/log/decisions.jsonl")
        [ "$decided" -eq "$N" ] || { echo "$name decided $decided of $N requests" >&2; exit 1; }
    done
    echo "$floor_durable $floor_group $peer $durable $group"
}

results="$WORK/results"
for index in $(seq 1 "$ROUNDS"); do round "$index" >> "$results"; done

python3 - "$N" "$BUILD" "$results" <<'PY'
import statistics
import sys

n, build, path = sys.argv[1], sys.argv[2], sys.argv[3]
rounds = [list(map(float, line.split())) for line in open(path) if line.strip()]
names = ["floor, fsync per request (C)", "floor, fsync per 100 (C)", "Python peer (icalendar + sqlite3)",
         f"meetingd drain, durable ({build})", f"meetingd drain, group commit 100 ({build})"]
print(f"{n} requests, {len(rounds)} round(s), same file system; requests/s per round, then ratios within each round")
print(f"{'contender':44} {'requests/s by round':>28}")
for column, name in enumerate(names):
    print(f"{name:44} {' '.join(f'{r[column]:8.1f}' for r in rounds):>28}")


def ratio(label, numerator, denominator, target):
    values = sorted(r[numerator] / r[denominator] for r in rounds)
    median = statistics.median(values)
    verdict = "met" if median >= target else "missed"
    print(f"{label:44} median {median:5.2f}  (rounds {values[0]:.2f}–{values[-1]:.2f})  target >= {target}: {verdict}")


ratio("durable ÷ durable floor", 3, 0, 0.7)
ratio("group commit ÷ group floor", 4, 1, 0.5)
ratio("group commit ÷ Python peer", 4, 2, 5)
PY
