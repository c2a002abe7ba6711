#!/usr/bin/env python3
"""Replay against drain: the same generated history (Tests/replay/history.py, every rule firing; or with
BENCH_MIX=generate the throughput benchmark's mix) decided by
`meetingd drain --group-commit 100` in a fresh spool, then decided again by `meetingd replay` from that
spool's ledger. Prints, per size (N and 3N requests), decisions per second (wall clock) and CPU per
decision (user + system, from getrusage) of each, and the ratio replay rate / drain rate (goal >= 4).

With BASELINE=/path/to/an/older/meetingd, the same requests are also drained by that binary in the same run:
the drain path before and after (its CPU per decision and rate).

Each size runs BENCH_ROUNDS times (default 3), alternating, and medians are taken: CPU time on this shared
machine varies by a third between runs.

Usage: replay.py MEETINGD [N]   (default N 5000)
"""
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "Tests", "replay"))
sys.path.insert(0, HERE)
import generate  # noqa: E402
import history  # noqa: E402


def requests_for(size):
    """BENCH_MIX=history (default): every rule firing, crowded keys, series, revisions, withdrawals.
    BENCH_MIX=generate: the throughput benchmark's realistic mix (Benchmarks/generate.py, valid requests)."""
    if os.environ.get("BENCH_MIX", "history") == "generate":
        rng = random.Random(2024)
        return [generate.request(index, rng) for index in range(size)]
    return history.history(size)


def timed(command):
    """Runs `command`; returns (wall seconds, CPU seconds of the child)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def decisions_in(spool):
    with open(os.path.join(spool, "log", "decisions.jsonl"), encoding="utf-8") as log:
        return sum(1 for _ in log)


def one_round(meetingd, baseline, requests, work):
    # Spools are removed only at the end: on ext4, creating files soon after deleting thousands costs the
    # kernel a scan past every recently deleted inode (`recently_deleted`), which doubled a drain's CPU in
    # later rounds when each round removed the last one's spool.
    spool = tempfile.mkdtemp(dir=work)
    history.drop(requests, spool)
    drain = timed([meetingd, "drain", "--group-commit", "100", "--spool", spool])
    decided = decisions_in(spool)
    replay = timed([meetingd, "replay", "--spool", spool])
    base = None
    if baseline:
        spool = tempfile.mkdtemp(dir=work)
        history.drop(requests, spool)
        base = timed([baseline, "drain", "--group-commit", "100", "--spool", spool])
    return decided, drain, replay, base


def main():
    meetingd = os.path.abspath(sys.argv[1])
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 5000
    baseline = os.environ.get("BASELINE")
    rounds = int(os.environ.get("BENCH_ROUNDS", "3"))
    work = tempfile.mkdtemp(prefix="meetingd-bench-replay-", dir=os.environ.get("BENCH_WORK"))
    results = {}
    try:
        sizes = (n, 3 * n)
        requests = {size: requests_for(size) for size in sizes}
        runs = {size: [] for size in sizes}
        for _ in range(rounds):
            for size in sizes:
                runs[size].append(one_round(meetingd, baseline, requests[size], work))
        print(f"{'requests':>8} {'what':<22} {'decisions/s':>12} {'CPU ms/decision':>16}   (rounds: CPU ms/decision)")
        for size in sizes:
            decided = runs[size][0][0]
            rows = [("drain --group-commit 100", 1), ("replay", 2)] + ([("drain, baseline binary", 3)] if baseline else [])
            medians = {}
            for name, index in rows:
                walls = [r[index][0] for r in runs[size]]
                cpus = [r[index][1] for r in runs[size]]
                rate = decided / statistics.median(walls)
                cpu = statistics.median(cpus) / decided * 1000
                medians[name] = (rate, cpu)
                spread = ", ".join(f"{c / decided * 1000:.3f}" for c in cpus)
                print(f"{size:8d} {name:<22} {rate:12.0f} {cpu:16.3f}   ({spread})")
            ratio = medians["replay"][0] / medians["drain --group-commit 100"][0]
            cpu_ratio = medians["drain --group-commit 100"][1] / medians["replay"][1]
            print(f"{size:8d} replay rate / drain rate: {ratio:.2f} (goal >= 4: {'met' if ratio >= 4 else 'missed'}); "
                  f"drain CPU / replay CPU per decision: {cpu_ratio:.2f}")
            if baseline:
                before, after = medians["drain, baseline binary"], medians["drain --group-commit 100"]
                print(f"{size:8d} drain before -> after: {before[1]:.3f} -> {after[1]:.3f} ms CPU per decision "
                      f"({after[1] / before[1]:.2f}x), {before[0]:.0f} -> {after[0]:.0f} decisions/s")
            results[size] = medians
        growth = results[3 * n]["replay"][1] / results[n]["replay"][1]
        print(f"replay CPU per decision at {3 * n} / at {n}: {growth:.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
