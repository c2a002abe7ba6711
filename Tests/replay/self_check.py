#!/usr/bin/env python3
"""Replay's self-check (make test): a generated history of tens of thousands of decisions, every rule firing,
decided by one real `meetingd drain --group-commit 100`, then replayed under the settings it was decided with:
there must be zero flips, which also shows that the decision path is deterministic. Also checked:
  - every proposal and withdrawal the log records is replayed, all under the one settings version, none skipped;
  - the same history replayed under a tighter setting does flip (the check can fail);
  - the spool, feeds and ledger are byte for byte as they were;
  - a progress line on a terminal (standard error a pty), none otherwise.

Usage: self_check.py MEETINGD [--count N]   (default N 20000)
"""
import argparse
import hashlib
import json
import os
import pty
import select
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import history  # noqa: E402


def snapshot(root):
    files = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            with open(path, "rb") as f:
                files[os.path.relpath(path, root)] = hashlib.sha256(f.read()).hexdigest()
    return files


def replay(meetingd, spool, *extra):
    run = subprocess.run([meetingd, "replay", "--spool", spool, "--format", "json", *extra], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stderr == "", f"standard error is not a terminal, yet: {run.stderr!r}"
    return json.loads(run.stdout)


def progress_on_a_terminal(meetingd, spool):
    """Runs replay with standard error on a pseudo-terminal; returns what it wrote there."""
    leader, follower = pty.openpty()
    process = subprocess.Popen([meetingd, "replay", "--spool", spool], stdout=subprocess.DEVNULL, stderr=follower)
    os.close(follower)
    seen = b""
    while True:
        ready, _, _ = select.select([leader], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(leader, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    process.wait()
    os.close(leader)
    assert process.returncode == 0
    return seen.decode("utf-8", "replace")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("meetingd")
    parser.add_argument("--count", type=int, default=int(os.environ.get("REPLAY_COUNT", "20000")))
    args = parser.parse_args()
    meetingd = os.path.abspath(args.meetingd)
    work = tempfile.mkdtemp(prefix="meetingd-replay-")
    try:
        spool = os.path.join(work, "spool")
        history.drop(history.history(args.count), spool)
        started = time.monotonic()
        subprocess.run([meetingd, "drain", "--group-commit", "100", "--spool", spool], check=True, stdout=subprocess.DEVNULL)
        drained = time.monotonic() - started

        lines = [json.loads(line) for line in open(os.path.join(spool, "log", "decisions.jsonl"), encoding="utf-8")]
        assert len(lines) == args.count, (len(lines), args.count)
        recorded = [line for line in lines if line["verdict"] in ("approved", "rejected", "withdrawn")]
        fired = {finding["rule"] for line in lines for finding in line["violations"] + line["warnings"]}
        rules = subprocess.run([meetingd, "rules"], capture_output=True, text=True, check=True).stdout
        catalogue = {line.split()[0] for line in rules.splitlines() if "  clause " in line and not line.startswith(" ")}
        assert catalogue and catalogue <= fired, f"rules that never fired: {sorted(catalogue - fired)}"
        series = sum(1 for line in recorded if "occurrences" in line)
        assert series > 0, "the history holds recurring series"

        before = snapshot(spool)
        started = time.monotonic()
        report = replay(meetingd, spool)
        replayed = time.monotonic() - started
        assert report["replayed"] == len(recorded), (report["replayed"], len(recorded))
        assert report["compared"] == len(recorded)
        assert report["not_replayed"] == [], report["not_replayed"][:3]
        assert report["changed"] == {}, report["changed"]
        version = report["settings"]["before"]
        assert report["settings"]["after"] == version
        assert report["decided_under"] == {version: len(recorded)}, report["decided_under"]
        flips = report["flips"]
        assert all(count == 0 for count in flips.values()) and report["decisions"] == [], \
            f"replaying under the same settings flipped: {flips} {report['decisions'][:3]}"

        tighter = replay(meetingd, spool, "--set", "rules.township-leader-load.max_per_month=2", "--set", "rules.main-speech-one-hour.max_minutes=45")
        assert tighter["flips"]["approved_to_rejected"] > 0, tighter["flips"]
        assert tighter["decisions"], "a tighter setting flips some decisions"
        assert {row["rule"] for row in tighter["by_rule"] if row["newly_violated"]} >= {"township-leader-load", "main-speech-one-hour"}

        seen = progress_on_a_terminal(meetingd, spool)
        assert "replayed" in seen and "/s" in seen and "left" in seen, repr(seen[-300:])

        after = snapshot(spool)
        wal = os.path.join("state", "ledger.sqlite-wal")
        if wal not in before:  # SQLite's companions a reader makes when there are none: empty WAL and its index
            assert after.pop(wal, hashlib.sha256(b"").hexdigest()) == hashlib.sha256(b"").hexdigest()
            after.pop(os.path.join("state", "ledger.sqlite-shm"), None)
        assert after == before, "replay changed the spool: " + repr({k for k in set(before) | set(after) if before.get(k) != after.get(k)})

        verdicts = {}
        for line in lines:
            verdicts[line["verdict"]] = verdicts.get(line["verdict"], 0) + 1
        print(f"replay self-check: {args.count} requests {verdicts}, {len(recorded)} replayed with zero flips, "
              f"{len(catalogue)} rules all fired, {series} series; drain {drained:.1f} s, replay {replayed:.1f} s (debug build); "
              f"a tighter setting flips {tighter['flips']['approved_to_rejected']} approvals")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
