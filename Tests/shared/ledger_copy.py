#!/usr/bin/env python3
"""`meetingd ledger copy`: a SQLite ledger built by a real drain, copied into an empty PostgreSQL ledger, gives
the same `check` results (and the same `replay`) against either ledger; a second copy into the now non-empty
ledger is refused; a drain on the copy numbers its decisions after the copied ones and keeps the caps.

Usage: ledger_copy.py MEETINGD   (MEETINGD_TEST_POSTGRES: the server's URL)
"""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "replay"))
import history  # noqa: E402

BINARY = sys.argv[1]
SERVER = os.environ["MEETINGD_TEST_POSTGRES"]
failures = []


def check(condition, message):
    if not condition:
        failures.append(message)
        print("FAIL:", message, flush=True)


def run(*arguments, expect=None):
    result = subprocess.run([BINARY, *arguments], capture_output=True, text=True)
    if expect is not None:
        check(result.returncode == expect, f"{' '.join(arguments[:2])}: exit {result.returncode}, want {expect}: {result.stderr[-500:]}")
    return result


def main():
    root = tempfile.mkdtemp(prefix="meetingd-copy-")
    spool = os.path.join(root, "spool")
    generated = history.history(500, seed=7)
    past, probes = generated[:400], generated[400:]
    history.drop(past, spool)
    run("drain", "--spool", spool, expect=0)
    sqlite = os.path.join(spool, "state", "ledger.sqlite")
    subprocess.run(["psql", SERVER, "-qc", "CREATE DATABASE copied"], check=True)
    target = SERVER.replace("/postgres?", "/copied?")

    copied = run("ledger", "copy", "--from", sqlite, "--to", target, "--node", "office-old", expect=0)
    print(copied.stdout.strip(), flush=True)
    again = run("ledger", "copy", "--from", sqlite, "--to", target, expect=1)
    check("already holds" in again.stderr, f"a second copy is refused, naming why: {again.stderr.strip()}")
    bad = run("ledger", "copy", "--from", sqlite, "--to", os.path.join(root, "x.sqlite"))
    check(bad.returncode != 0 and "--to" in bad.stderr, f"a --to that is not a URL is refused: {bad.stderr.strip()}")

    # A ledger from before decisions named their node: the copy names --node on them.
    import shutil
    import sqlite3
    old = os.path.join(root, "old.sqlite")
    shutil.copy(sqlite, old)
    with sqlite3.connect(old) as db:
        db.execute("UPDATE decision SET node = ''")
    subprocess.run(["psql", SERVER, "-qc", "CREATE DATABASE copied_old"], check=True)
    target_old = SERVER.replace("/postgres?", "/copied_old?")
    run("ledger", "copy", "--from", old, "--to", target_old, "--node", "office-old", expect=0)
    nodes = subprocess.run(["psql", target_old, "-At", "-c", "SELECT DISTINCT node FROM decision"], check=True, capture_output=True,
                           text=True).stdout.split()
    check(nodes == ["office-old"], f"decisions without a node are copied as --node's: {nodes}")

    # Every probe decided against each ledger: the same verdict, findings and notes' facts.
    probe_dir = os.path.join(root, "probes")
    os.makedirs(probe_dir)
    files = []
    for index, body in enumerate(probes):
        path = os.path.join(probe_dir, f"p{index:03d}.json")
        with open(path, "w") as f:
            json.dump(body, f, ensure_ascii=False)
        files.append(path)

    def decisions(*ledger):
        out = run("check", "--json", *ledger, *files).stdout.splitlines()
        lines = [json.loads(line) for line in out]
        for line in lines:
            line.pop("time", None)
        return lines

    on_sqlite = decisions("--ledger", sqlite)
    on_postgres = decisions("--ledger", target)
    check(len(on_sqlite) == len(probes), f"check decided {len(on_sqlite)} of {len(probes)} probes")
    check(len(on_postgres) == len(probes), f"check on PostgreSQL decided {len(on_postgres)} of {len(probes)} probes")
    different = [a["input"] for a, b in zip(on_sqlite, on_postgres) if a != b]
    check(not different, f"check gives the same decisions on either ledger: {len(different)} differ, e.g. {different[:3]}")
    rejected = sum(1 for line in on_sqlite if line["verdict"] == "rejected")
    check(rejected > 10, f"the probes meet caps the copied history reached ({rejected} rejected)")

    # Replay reads either ledger the same way.
    replays = []
    for ledger in [sqlite, target]:
        result = run("replay", "--ledger", ledger, "--format", "json", "--set", "rules.township-leader-load.max_per_month=2", expect=0)
        report = json.loads(result.stdout)
        report.pop("generated_at", None)
        replays.append(report)
    check(replays[0] == replays[1], "replay gives the same report on either ledger")

    # So does `report`: every year the history touches, and one region, give the same numbers on either ledger.
    for arguments in [["--year", "2025"], ["--year", "2026"], ["--year", "2025", "--region", "浙江省/杭州市"]]:
        reports = []
        for ledger in [sqlite, target]:
            result = run("report", "--ledger", ledger, "--format", "json", *arguments, expect=0)
            report = json.loads(result.stdout)
            report.pop("generated", None)
            reports.append(report)
        check(reports[0] == reports[1], f"report {' '.join(arguments)} is the same on either ledger")
        if arguments == ["--year", "2025"]:
            check(reports[0]["totals"]["approved"] > 0 and reports[0]["caps"], f"the 2025 report counts the copied history: {reports[0]['totals']}")

    # New decisions on the copy come after the copied ones, and the copied caps hold.
    rows = subprocess.run(["psql", target, "-At", "-c", "SELECT COUNT(*), MAX(seq), COUNT(*) FILTER (WHERE node <> '') FROM decision"],
                          check=True, capture_output=True, text=True).stdout.strip().split("|")
    count, highest, old = map(int, rows)
    check(count == old == highest, f"every copied decision kept its number and names a node ({rows})")
    spool2 = os.path.join(root, "spool2")
    history.drop(probes, spool2)
    run("drain", "--spool", spool2, "--ledger", target, expect=0)
    with open(os.path.join(spool2, "log", "decisions.jsonl")) as f:
        logged = [json.loads(line) for line in f]
    check(min(line["seq"] for line in logged) > highest, "decisions on the copy are numbered after the copied ones")
    drained = {line["input"].split("/")[-1]: line["verdict"] for line in logged}
    checked = {os.path.basename(line["input"]): line["verdict"] for line in on_postgres}
    # The probes decided in order see each other; the first one decides as check decided it alone.
    first = "r000000.json"
    check(drained.get(first) == checked.get("p000.json"), f"the first probe drains as check decided it ({drained.get(first)}, {checked.get('p000.json')})")

    if failures:
        print(f"ledger copy: {len(failures)} check(s) failed (files in {root})", flush=True)
        sys.exit(1)
    print(f"ledger copy: {len(probes)} probes decided the same on SQLite and PostgreSQL; replay the same; every check passed", flush=True)


if __name__ == "__main__":
    main()
