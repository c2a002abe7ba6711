#!/usr/bin/env python3
"""Recurring meetings: what does a series cost against the same number of single meetings?

In one run, three spools are drained by `meetingd drain --group-commit 100`, each holding N requests of routine
meetings, each of its own organizer unit (so that what is measured is a series against itself, not against
other units' crowds: Benchmarks/crowded.py measures crowds), spread over the year:
  single    N single meetings;
  series    N weekly series of K occurrences each (K = BENCH_OCCURRENCES, default 10);
  series3   N weekly series of 3K occurrences each.
Prints CPU per decision and per occurrence (user + system of the drain, from getrusage), ledger bytes per
occurrence, and the ratios: series CPU per occurrence ÷ single CPU per decision (what an occurrence costs
against a meeting of its own), and 3K ÷ K per occurrence (does a longer series cost more per occurrence?).

Usage: series.py MEETINGD [N]   (default N 200)
"""
import os
import random
import shutil
import sqlite3
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import crowded  # noqa: E402  (its drop-and-drain harness)


def request(index, rng, occurrences):
    week = 1 + index % 40 if occurrences else 1 + index % 52
    day = 1 + (week - 1) * 7
    month, dom = min(12, 1 + (day - 1) // 31), 1 + (day - 1) % 28
    start = f"2025-{month:02d}-{dom:02d}T{rng.choice([9, 10, 14, 15]):02d}:00:00+08:00"
    end = start[:11] + f"{int(start[11:13]) + 1:02d}:00:00+08:00"
    body = {"format": 1, "id": f"s-{index}", "title": f"例会 {index}", "kind": "routine",
            "organizer": {"unit": f"单位{index}", "level": "county", "type": "department", "region": "浙江省/杭州市/西湖区"},
            "convener": {"rank": "department-head"}, "start": start, "end": end, "plan_ref": "计划",
            "attendees": [{"unit": f"参会单位{rng.randrange(300)}", "level": "county", "region": "浙江省/杭州市/西湖区",
                           "role": "department-head"}]}
    if occurrences:
        body["recurrence"] = {"rrule": f"FREQ=WEEKLY;COUNT={occurrences}"}
    return body


def run(meetingd, label, n, occurrences, work):
    spool = os.path.join(work, label)
    rng = random.Random(11)
    cpu = crowded.drain(meetingd, spool, [request(index, rng, occurrences) for index in range(n)])
    ledger = os.path.join(spool, "state", "ledger.sqlite")
    connection = sqlite3.connect(ledger)
    verdicts = dict(connection.execute("SELECT verdict, COUNT(*) FROM decision GROUP BY verdict").fetchall())
    counted = connection.execute("SELECT COUNT(*) FROM occurrence").fetchone()[0]
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    size = os.path.getsize(ledger)
    shutil.rmtree(spool)
    return cpu, size, verdicts, counted


def main():
    meetingd = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    k = int(os.environ.get("BENCH_OCCURRENCES", "10"))
    work = tempfile.mkdtemp(prefix="meetingd-series-", dir=os.environ.get("BENCH_WORK"))
    results = {}
    try:
        print(f"{'spool':8} {'requests':>8} {'occurrences':>11} {'CPU/decision':>13} {'CPU/occurrence':>15} {'bytes/occurrence':>17}  verdicts")
        for label, occurrences in [("single", 0), ("series", k), ("series3", 3 * k)]:
            cpu, size, verdicts, counted = run(meetingd, label, n, occurrences, work)
            each = max(1, occurrences) * n
            results[label] = cpu / each
            print(f"{label:8} {n:8d} {each:11d} {cpu / n * 1000:10.3f} ms {cpu / each * 1000:12.3f} ms {size / each:17.0f}  "
                  f"{verdicts} (counted rows: {counted})")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"an occurrence of a {k}-week series ÷ a single meeting: {results['series'] / results['single']:.2f}; "
          f"per occurrence, {3 * k} weeks ÷ {k} weeks: {results['series3'] / results['series']:.2f}")


if __name__ == "__main__":
    main()
