#!/usr/bin/env python3
"""How meetingd's cost grows with the ledger: start-up, RSS and one decision at 0, 1 M and 10 M meetings.

Usage: scale.py MEETINGD WORKDIR SIZE...   (sizes ascending; BENCH_DECISIONS, default 300, per measured batch;
BENCH_SEED_REQUESTS, default 3000, the seed spool's requests)

The ledger is grown, not hand-written: a seed spool of real decisions (Benchmarks/generate.py, 3,000 requests
of 2027, drained by meetingd itself) is copied into the measured ledger as often as SIZE needs, every table of
KEYS whatever its columns (read with PRAGMA table_info; a table the schema gains stops the run until it is
added), each copy with its own ids and decision numbers and moved to one of twenty years before the feeds'
horizon. The copies' VEVENT text keeps the seed's (no feed shows them). So a schema change cannot break the
fill silently: `make bench-smoke` runs it at a tiny size. Copies keep no request bytes (a real ledger of that
size holds them in overflow pages that no decision reads); everything the rules, the feeds and the pages read
is there.

An empty ledger of its own is the baseline. For each size: the daemon's start-up to READY (sd_notify) and its RSS; then BENCH_DECISIONS new 2027 requests
drained three times (three batches), the cost of one decision taken between the first and last decision time
of each batch in the log (the final feed flush apart), and drain's own wall time. After the ledger grows,
the feeds' note says they reflect every decision (the copies are before the horizon, so no feed shows
them, as after a clean stop), and `meetingd feeds rebuild` is timed apart. BENCH_REUSE=1 measures the ledger a
run before left (BENCH_KEEP=1 keeps it) without growing it again. Prints one line per size and the
ratio of each size's decision cost to the empty ledger's.
"""
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from datetime import datetime

HERE = os.path.dirname(os.path.abspath(__file__))
SEED_REQUESTS = int(os.environ.get("BENCH_SEED_REQUESTS", "3000"))
SEED_YEAR = 2027
# Per table: the columns a copy changes. {offset} moves its decision numbers past every decision recorded, and
# marks its ids (unique across runs, BENCH_REUSE's included).
KEYS = {
    "decision": {"seq": "seq + {offset}", "request_id": "request_id || '~{offset}'", "input_name": "input_name || '~{offset}'",
                 "request_bytes": "NULL", "year": "year - {years}", "decided_at": "decided_at - {seconds}"},
    "meeting": {"id": "id || '~{offset}'", "decision_seq": "decision_seq + {offset}", "start_utc": "start_utc - {seconds}",
                "end_utc": "end_utc - {seconds}", "decided_at": "decided_at - {seconds}"},
    "occurrence": {"meeting_id": "meeting_id || '~{offset}'", "start_utc": "start_utc - {seconds}"},
    "meeting_attendee": {"meeting_id": "meeting_id || '~{offset}'"},
    "meeting_principal_region": {"meeting_id": "meeting_id || '~{offset}'"},
    "decision_unit": {"seq": "seq + {offset}"},
    "decision_rule": {"seq": "seq + {offset}"},
}
# Tables that hold no per-decision rows: the migrations done, and the list of feeds (every copy's feeds exist).
NOT_COPIED = {"grdb_migrations", "feed"}
DATE_COLUMNS = {"local_date", "last_date", "occurrence_dates"}


def seed_spool(binary, work):
    spool = os.path.join(work, "seed")
    if not os.path.exists(os.path.join(spool, "state", "ledger.sqlite")):
        shutil.rmtree(spool, ignore_errors=True)
        subprocess.run([sys.executable, os.path.join(HERE, "generate.py"), spool, str(SEED_REQUESTS), "11"], check=True,
                       stdout=subprocess.DEVNULL)
        subprocess.run([binary, "drain", "--spool", spool], check=True, stdout=subprocess.DEVNULL)
    return os.path.join(spool, "state", "ledger.sqlite")


def meetings(ledger):
    db = sqlite3.connect(ledger)
    try:
        return db.execute("SELECT count(*) FROM meeting").fetchone()[0]
    finally:
        db.close()


def grow(ledger, seed, target, k):
    """Copies of the seed's rows until the ledger holds at least `target` meetings; `k` copies were made before.
    Returns the number made in all."""
    db = sqlite3.connect(ledger)
    db.execute("PRAGMA synchronous = OFF")
    db.execute("ATTACH DATABASE ? AS seed", (seed,))
    stride = db.execute("SELECT max(seq) FROM seed.decision").fetchone()[0] + 1
    # After the decisions already here (the measured batches' among them), whatever was copied before.
    base = (db.execute("SELECT max(seq) FROM main.decision").fetchone()[0] or 0) + 1
    per_copy = db.execute("SELECT count(*) FROM seed.meeting").fetchone()[0]
    have = db.execute("SELECT count(*) FROM main.meeting").fetchone()[0]
    columns = {table: [row[1] for row in db.execute(f"PRAGMA seed.table_info({table})")] for table in KEYS}
    # A table the schema gained must be copied too (or named here as one that holds no per-decision rows), or
    # the grown ledger would not be what meetingd writes: the smoke run in make test stops on it.
    tables = {row[0] for row in db.execute("SELECT name FROM seed.sqlite_master WHERE type = 'table'")}
    unknown = tables - set(KEYS) - NOT_COPIED - {t for t in tables if t.startswith("sqlite_")}
    if unknown:
        raise SystemExit(f"scale.py: the ledger has tables it does not know how to grow: {', '.join(sorted(unknown))} (add them to KEYS)")
    copied = 0
    while have < target:
        k += 1
        # Years before the feeds' horizon (a year back from today): the copies are history, as a long-kept
        # ledger's old years are, and the feeds stay the size a daemon's current meetings make them.
        years = (SEED_YEAR - datetime.now().year + 2) + (k - 1) % 20
        # Whole calendar years, as the date columns move: the days between 1 January of the two years.
        seconds = (datetime(SEED_YEAR, 1, 1) - datetime(SEED_YEAR - years, 1, 1)).days * 86_400
        values = {"k": k, "offset": base + copied * stride, "years": years, "seconds": seconds}
        copied += 1
        with db:
            for table, changed in KEYS.items():
                expressions = []
                for column in columns[table]:
                    if column in changed:
                        expressions.append(changed[column].format(**values))
                    elif column in DATE_COLUMNS:
                        expressions.append(f"replace({column}, '{SEED_YEAR}-', '{SEED_YEAR - years}-')")
                    else:
                        expressions.append(column)
                names = ", ".join(columns[table])
                db.execute(f"INSERT INTO main.{table} ({names}) SELECT {', '.join(expressions)} FROM seed.{table}")
        have += per_copy
    db.execute("DETACH DATABASE seed")
    db.execute("ANALYZE")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    # The fill ran unsynced: write it back now, or the first decision's barrier would pay for it.
    os.sync()
    return k


def start_daemon(binary, spool):
    notify_path = os.path.join(spool, "notify.sock")
    if os.path.exists(notify_path):
        os.unlink(notify_path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(notify_path)
    listener.settimeout(900)
    started = time.monotonic()
    daemon = subprocess.Popen([binary, "run", "--spool", spool, "--http", "off"], env={**os.environ, "NOTIFY_SOCKET": notify_path},
                              stderr=subprocess.DEVNULL)
    while b"READY=1" not in listener.recv(4096):
        pass
    ready = time.monotonic() - started
    time.sleep(0.5)
    with open(f"/proc/{daemon.pid}/status") as status:
        rss = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
    daemon.send_signal(signal.SIGTERM)
    daemon.wait(timeout=120)
    listener.close()
    return ready, rss / 1024


def batch(binary, spool, seed, count):
    """ms per decision of `count` new requests, and drain's wall time."""
    log = os.path.join(spool, "log", "decisions.jsonl")
    before = sum(1 for _ in open(log, encoding="utf-8")) if os.path.exists(log) else 0
    incoming = os.path.join(spool, "batch")
    shutil.rmtree(incoming, ignore_errors=True)
    subprocess.run([sys.executable, os.path.join(HERE, "generate.py"), incoming, str(count), str(seed)], check=True,
                   stdout=subprocess.DEVNULL)
    for name in sorted(os.listdir(os.path.join(incoming, "incoming"))):
        # generate.py numbers its ids from 0 whatever the seed: each batch's own ids, or a second batch would be
        # decided as copies ("already decided"), not as new meetings.
        path = os.path.join(incoming, "incoming", name)
        with open(path, encoding="utf-8") as source:
            text = source.read().replace('"id": "bench-', f'"id": "s{seed}-bench-')
        with open(path, "w", encoding="utf-8") as out:
            out.write(text)
        os.rename(path, os.path.join(spool, "incoming", f"s{seed}-{name}"))
    began = time.monotonic()
    subprocess.run([binary, "drain", "--spool", spool], check=True, stdout=subprocess.DEVNULL)
    wall = time.monotonic() - began
    with open(log, encoding="utf-8") as lines:
        times = [datetime.fromisoformat(json.loads(line)["time"]).timestamp() for n, line in enumerate(lines) if n >= before]
    return (times[-1] - times[0]) / (len(times) - 1) * 1000, wall


def fresh_spool(binary, path):
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(os.path.join(path, "incoming"))
    subprocess.run([binary, "drain", "--spool", path], check=True, stdout=subprocess.DEVNULL)


def note_through(spool, ledger):
    """Records that the feeds reflect every decision: the copies lie before the feeds' horizon, so no feed
    shows them, as after a clean stop of a daemon that decided them. (Without it, a start reads every copied
    decision to find the feeds it touched, a cost no real start pays.)"""
    db = sqlite3.connect(ledger)
    last = db.execute("SELECT max(seq) FROM decision").fetchone()[0]
    db.close()
    with open(os.path.join(spool, "feeds", ".meetingd-feeds-through"), "w") as note:
        note.write(f"{last}\n")


def measure(binary, spool, ledger, number, count):
    """start-up, RSS, the three batches' ms per decision and drain's longest wall time."""
    os.sync()
    ready, rss = start_daemon(binary, spool)
    costs, walls = [], []
    for attempt in range(3):
        os.sync()
        cost, wall = batch(binary, spool, 100 + 3 * number + attempt, count)
        costs.append(cost)
        walls.append(wall)
    return ready, rss, costs, max(walls)


def main():
    binary, work = os.path.abspath(sys.argv[1]), sys.argv[2]
    count = int(os.environ.get("BENCH_DECISIONS", "300"))
    os.makedirs(work, exist_ok=True)
    seed = seed_spool(binary, work)
    print("meetings startup_s rss_mib ms_per_decision(3 batches) drain_wall_s ledger_mib fill_s feeds_rebuild_s  ratio (median batch / empty's)",
          flush=True)
    # The baseline: an empty ledger of its own.
    empty_spool = os.path.join(work, "empty")
    fresh_spool(binary, empty_spool)
    ready, rss, costs, wall = measure(binary, empty_spool, os.path.join(empty_spool, "state", "ledger.sqlite"), 0, count)
    empty = sorted(costs)[1]
    print(f"0 {ready:.2f} {rss:.1f} {' '.join(f'{c:.3f}' for c in costs)} {wall:.2f} 0 0 0.0   ratio 1.00", flush=True)
    shutil.rmtree(empty_spool, ignore_errors=True)
    # The grown ledger; BENCH_REUSE=1 keeps the one a run before left (its growth is not timed again).
    spool = os.path.join(work, "measured")
    ledger = os.path.join(spool, "state", "ledger.sqlite")
    if not (os.environ.get("BENCH_REUSE") == "1" and os.path.exists(ledger)):
        fresh_spool(binary, spool)
    copies = 0
    for number, size in enumerate((int(s) for s in sys.argv[3:] if int(s) > 0), 1):
        began = time.monotonic()
        copies = grow(ledger, seed, size, copies)
        fill = time.monotonic() - began
        held = meetings(ledger)
        note_through(spool, ledger)
        began = time.monotonic()
        subprocess.run([binary, "feeds", "rebuild", "--spool", spool], check=True, stdout=subprocess.DEVNULL)
        rebuild = time.monotonic() - began
        ready, rss, costs, wall = measure(binary, spool, ledger, number, count)
        size_mib = sum(os.path.getsize(os.path.join(spool, "state", f)) for f in os.listdir(os.path.join(spool, "state"))
                       if f.startswith("ledger.sqlite")) / 2**20
        print(f"{held} {ready:.2f} {rss:.1f} {' '.join(f'{c:.3f}' for c in costs)} {wall:.2f} {size_mib:.0f} {fill:.0f}"
              f" {rebuild:.1f}   ratio {sorted(costs)[1] / empty:.2f}", flush=True)
    if os.environ.get("BENCH_KEEP") != "1":
        shutil.rmtree(spool, ignore_errors=True)


if __name__ == "__main__":
    main()
