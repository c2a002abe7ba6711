#!/usr/bin/env python3
"""Crowded keys: does a decision's cost grow with how many meetings share its key?

Two scenarios, each at N and 3N requests, decided by `meetingd drain --group-commit 100` in a fresh spool:
  unit      most requests are business meetings of one organizer unit that one attendee unit must attend,
            spread over ten months (merge-business-meetings counts the same unit's meetings within ±7 days);
  township  most requests require one township's principal, from many organizers (township-leader-load).
A tenth of the requests are ordinary ones of other units. Prints CPU per decision (user + system of the
drain, from getrusage), the ratio 3N ÷ N, and ledger bytes per decision (the SQLite file after a WAL
checkpoint, divided by the decisions).

Each size runs BENCH_ROUNDS times (default 3), alternating sizes, and the median CPU per decision is taken:
CPU time on this shared machine varies by a third between runs.

Usage: crowded.py MEETINGD [N]   (default N 2000; targets: ratio <= 1.3, <= 3072 bytes per decision)
"""
import json
import os
import random
import resource
import shutil
import statistics
import sqlite3
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "replay"))
import history  # noqa: E402  (the one way requests are dropped in arrival order)


def request(index, rng, scenario):
    day = 1 + index * 300 // max(1, TOTAL[0])  # spread over ten months, in arrival order
    month, dom = min(12, 1 + (day - 1) // 30), 1 + (day - 1) % 28
    start = f"2025-{month:02d}-{dom:02d}T{rng.choice([9, 10, 14, 15]):02d}:00:00+08:00"
    end = start[:11] + f"{int(start[11:13]) + 2:02d}:00:00+08:00"
    ordinary = rng.random() < 0.1
    if scenario == "unit" and not ordinary:
        unit, attendees = "杭州市卫生健康委员会", [{"unit": "西湖区卫生健康局", "level": "county", "region": "浙江省/杭州市/西湖区",
                                                  "role": "department-head"}]
    elif scenario == "township" and not ordinary:
        unit = f"杭州市{rng.randrange(200)}局"
        attendees = [{"unit": "转塘街道", "level": "township", "region": "浙江省/杭州市/西湖区/转塘街道", "role": "party-secretary",
                      "reason": "部署"}]
    else:
        unit = f"单位{rng.randrange(500)}"
        attendees = [{"unit": f"参会单位{rng.randrange(500)}", "level": "county", "region": "浙江省/杭州市/上城区",
                      "role": "department-head"}]
    return {"format": 1, "id": f"c-{index}", "title": f"业务工作会议 {index}", "kind": "business",
            "organizer": {"unit": unit, "level": "city", "type": "department", "system": "卫生健康", "region": "浙江省/杭州市"},
            "convener": {"rank": "department-head"}, "start": start, "end": end, "plan_ref": "计划",
            "attendees": attendees, "agenda": [{"type": "main-speech", "minutes": 40}]}


TOTAL = [0]


def drain(meetingd, spool, requests):
    """Drops `requests` into a new spool's incoming/ in arrival order (renamed in, one nanosecond apart), runs
    one `meetingd drain --group-commit 100` and returns its CPU seconds (user + system, from getrusage)."""
    history.drop(requests, spool)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([meetingd, "drain", "--group-commit", "100", "--spool", spool], check=True, stdout=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def run(meetingd, scenario, n, work):
    spool = os.path.join(work, f"{scenario}-{n}")
    rng = random.Random(7)
    TOTAL[0] = n
    cpu = drain(meetingd, spool, [request(index, rng, scenario) for index in range(n)])
    ledger = os.path.join(spool, "state", "ledger.sqlite")
    connection = sqlite3.connect(ledger)
    decisions = connection.execute("SELECT COUNT(*) FROM decision").fetchone()[0]
    verdicts = dict(connection.execute("SELECT verdict, COUNT(*) FROM decision GROUP BY verdict").fetchall())
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    size = os.path.getsize(ledger)
    shutil.rmtree(spool)
    return cpu / decisions, size / decisions, verdicts


def main():
    meetingd = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    work = tempfile.mkdtemp(prefix="meetingd-crowded-", dir=os.environ.get("BENCH_WORK"))
    worst_ratio, worst_bytes = 0.0, 0.0
    try:
        print(f"{'scenario':10} {'requests':>8} {'CPU/decision':>14} {'ledger bytes/decision':>22}  verdicts")
        rounds = int(os.environ.get("BENCH_ROUNDS", "3"))
        for scenario in ["unit", "township"]:
            runs = {n: [], 3 * n: []}
            for _ in range(rounds):
                for size in (n, 3 * n):
                    runs[size].append(run(meetingd, scenario, size, work))
            medians = {}
            for size, results in runs.items():
                cpu = statistics.median(r[0] for r in results)
                size_bytes, verdicts = results[-1][1], results[-1][2]
                medians[size] = cpu
                spread = ", ".join(f"{r[0] * 1000:.2f}" for r in results)
                print(f"{scenario:10} {size:8d} {cpu * 1000:11.3f} ms {size_bytes:22.0f}  {verdicts}  (rounds: {spread} ms)")
                worst_bytes = max(worst_bytes, size_bytes)
            ratio = medians[3 * n] / medians[n]
            worst_ratio = max(worst_ratio, ratio)
            print(f"{scenario:10} median CPU per decision at {3 * n} ÷ at {n}: {ratio:.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"worst ratio {worst_ratio:.2f} (target <= 1.3: {'met' if worst_ratio <= 1.3 else 'missed'}); "
          f"most ledger bytes per decision {worst_bytes:.0f} (target <= 3072: {'met' if worst_bytes <= 3072 else 'missed'})")


if __name__ == "__main__":
    main()
