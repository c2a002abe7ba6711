#!/usr/bin/env python3
"""Reports follow the year and region, not the ledger's size.

Builds SQLite ledgers of N/3 and N meetings (default N 1,000,000) over ten years (2016-2025) and twenty cities,
the rows written as meetingd writes them (a decision with its subject columns, unit and rule rows; for an
approval its meeting, occurrence, attendee and principal rows), and for each, a ledger that holds only its
slice: year 2025 and organizer region 浙江省/杭州市 (with its districts), every row with the same decision number.
Then, on each pair, alternating, BENCH_ROUNDS times (default 5):
  report   `meetingd report --year 2025 --region 浙江省/杭州市 --format json` (the process's wall clock);
  unit     GET /decisions/?unit=杭州市单位0 from a `meetingd run` serving that ledger on 127.0.0.1 (the request's
           wall clock, the median of 20 a round);
and prints the fastest round of each and the ratio whole ledger ÷ slice (goal: <= 2). The report and the
page must be the same bytes on both ledgers (generated time aside), and `report --explain` prints the plans.

Usage: reports.py MEETINGD [N]   (BENCH_SMOKE=1: a run too small for the goals; the same bytes and the plans are still checked)
"""
import json
import os
import random
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

BINARY = os.path.abspath(sys.argv[1])
TOTAL = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
# A smoke run (`make bench-smoke`) keeps the script working at a size too small for its goals: it measures nothing,
# but the report must still be the same on both ledgers and no statement may scan.
SMOKE = os.environ.get("BENCH_SMOKE") == "1"
YEAR, REGION, UNIT = 2025, "浙江省/杭州市", "杭州市单位0"
CITIES = [f"浙江省/{name}" for name in ["杭州市", "宁波市", "温州市", "嘉兴市", "湖州市", "绍兴市", "金华市", "衢州市", "舟山市", "台州市"]] \
    + [f"江苏省/{name}" for name in ["南京市", "无锡市", "徐州市", "常州市", "苏州市", "南通市", "连云港市", "淮安市", "盐城市", "扬州市"]]
SYSTEMS = ["卫生健康", "教育", "交通", "农业", "应急", "民政", "财政", "文旅", "水利", "住建"]
KINDS = [("business", 0.78), ("routine", 0.08), ("on-site", 0.03), ("promotion", 0.02), ("comprehensive", 0.02), ("statutory", 0.04),
         ("relay", 0.03)]


def city_name(city):
    return city.split("/")[-1]


def meetings(total, seed=20261128):
    """Every meeting in decision order (chronological by year), as the rows of each table it writes."""
    rng = random.Random(seed)
    per_year = total // 10
    seq = 0
    for year in range(2016, 2026):
        for index in range(per_year):
            seq += 1
            city = rng.choice(CITIES)
            district = rng.random() < 0.5
            region = city + (f"/区{rng.randrange(5)}" if district else "")
            unit = f"{city_name(city)}单位{rng.randrange(40)}"
            roll, kind = rng.random(), "business"
            for name, share in KINDS:
                if roll < share:
                    kind = name
                    break
                roll -= share
            system = rng.choice(SYSTEMS)
            month, day = 1 + rng.randrange(12), 1 + rng.randrange(28)
            date = f"{year}-{month:02d}-{day:02d}"
            start = time.mktime((year, month, day, 9, 0, 0, 0, 0, 0)) - 8 * 3600
            attendees = sorted({f"{city_name(city)}单位{rng.randrange(40)}" for _ in range(1 + rng.randrange(2))} - {unit})
            principal = f"{city}/区{rng.randrange(5)}/街道{rng.randrange(8)}" if rng.random() < 0.15 else None
            rejected = rng.random() < 0.15
            mid = f"m-{seq}"
            body = ('{"assessment":{"violations":[{"rule":"township-leader-load"}]},"settingsVersion":"bench"}' if rejected
                    else '{"assessment":{},"settingsVersion":"bench"}')
            level = "county" if district else "city"
            comprehensive = kind == "comprehensive"
            rows = {
                "decision": [(seq, f"r{seq}.json", f"d{seq}", mid, 1, "propose", "rejected" if rejected else "approved", start + 60,
                              f"{'rejected' if rejected else 'approved'}/{mid}.r1.json", body, "", None, "bench", f"会议 {mid}", kind, unit,
                              region, date, date, year)],
                "decision_unit": [(name, seq) for name in sorted({unit, *attendees, *([principal + "党工委"] if principal else [])})],
                "decision_rule": [("township-leader-load", seq)] if rejected else [],
            }
            if not rejected:
                exempt = 1 if kind == "statutory" else 0
                rows["meeting"] = [(mid, 1, "approved", 0, kind, f"会议 {mid}", unit, level, "department", system, region, start, date, 0, exempt,
                                    json.dumps(attendees, ensure_ascii=False), "bench", start + 60, seq, "BEGIN:VEVENT\r\nEND:VEVENT\r\n",
                                    "Asia/Shanghai", start + 7200, "", None)]
                rows["occurrence"] = [] if exempt else [(unit, kind, date, mid, 0, None, level if comprehensive else None,
                                                         region if comprehensive else None, system if comprehensive else None)]
                rows["meeting_attendee"] = [] if exempt else [(name, unit, kind, date, mid, 0) for name in attendees]
                rows["meeting_principal_region"] = [(mid, 0, principal, date)] if principal else []
            yield year, region, rows


INSERTS = {
    "decision": "INSERT INTO decision (seq, input_name, input_digest, request_id, revision, action, verdict, decided_at, destination, "
                "decision_json, touched_feeds, request_bytes, node, title, kind, organizer_unit, organizer_region, local_date, last_date, year) "
                "VALUES (" + ",".join("?" * 20) + ")",
    "decision_unit": "INSERT INTO decision_unit (unit, seq) VALUES (?, ?)",
    "decision_rule": "INSERT INTO decision_rule (rule, seq) VALUES (?, ?)",
    "meeting": "INSERT INTO meeting (id, revision, status, sequence, kind, title, organizer_unit, organizer_level, organizer_type, "
               "organizer_system, organizer_region, start_utc, local_date, reaches_grassroots, exempt, attendee_units, settings_version, "
               "decided_at, decision_seq, vevent, tzid, end_utc, feed_keys, occurrence_dates) VALUES (" + ",".join("?" * 24) + ")",
    "occurrence": "INSERT INTO occurrence VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    "meeting_attendee": "INSERT INTO meeting_attendee VALUES (?, ?, ?, ?, ?, ?)",
    "meeting_principal_region": "INSERT INTO meeting_principal_region (meeting_id, n, region, local_date) VALUES (?, ?, ?, ?)",
}


def in_slice(year, region):
    return year == YEAR and (region == REGION or region.startswith(REGION + "/"))


def build(folder, total):
    """The whole ledger and its slice, each made by meetingd (its schema), then filled."""
    paths = {}
    for name in ["whole", "slice"]:
        spool = os.path.join(folder, name)
        os.makedirs(spool)
        subprocess.run([BINARY, "drain", "--spool", spool], check=True, capture_output=True)
        paths[name] = os.path.join(spool, "state", "ledger.sqlite")
    databases = {name: sqlite3.connect(path) for name, path in paths.items()}
    for db in databases.values():
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=OFF")
    batches = {name: {table: [] for table in INSERTS} for name in databases}
    count = {"whole": 0, "slice": 0}

    def flush(name):
        for table, rows in batches[name].items():
            if rows:
                databases[name].executemany(INSERTS[table], rows)
                rows.clear()

    for year, region, rows in meetings(total):
        targets = ["whole", "slice"] if in_slice(year, region) else ["whole"]
        for name in targets:
            count[name] += 1
            for table, table_rows in rows.items():
                batches[name][table].extend(table_rows)
            if len(batches[name]["decision"]) >= 20000:
                flush(name)
    for name, db in databases.items():
        flush(name)
        db.execute("UPDATE sqlite_sequence SET seq = (SELECT MAX(seq) FROM decision) WHERE name = 'decision'")
        db.commit()
        db.execute("ANALYZE")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.close()
    return paths, count


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def report_once(ledger):
    started = time.perf_counter()
    result = subprocess.run([BINARY, "report", "--ledger", ledger, "--year", str(YEAR), "--region", REGION, "--format", "json"],
                            capture_output=True, text=True, check=True)
    elapsed = time.perf_counter() - started
    report = json.loads(result.stdout)
    report.pop("generated")
    return elapsed, report


class Server:
    def __init__(self, folder, ledger):
        self.port = free_port()
        spool = os.path.join(folder, f"serve-{self.port}")
        os.makedirs(spool)
        self.log = open(spool + ".log", "w")
        self.process = subprocess.Popen([BINARY, "run", "--spool", spool, "--ledger", ledger, "--http", f"127.0.0.1:{self.port}"],
                                        stdout=self.log, stderr=self.log)
        for _ in range(600):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1)
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("the daemon did not answer")

    def page(self, round):
        # An unknown parameter of its own makes each request a page made anew (the daemon keeps pages it made,
        # by their whole URL), with the same content.
        started = time.perf_counter()
        body = urllib.request.urlopen(f"http://127.0.0.1:{self.port}/decisions/?unit=" + urllib.parse.quote(UNIT) + f"&round={round}",
                                      timeout=60).read()
        return time.perf_counter() - started, body

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=60)


def main():
    folder = tempfile.mkdtemp(prefix="meetingd-reports-")
    print(f"reports: whole ledger ÷ its slice (year {YEAR}, region {REGION}); {ROUNDS} rounds, fastest shown", flush=True)
    failures = []
    for total in [TOTAL // 3, TOTAL]:
        started = time.perf_counter()
        paths, count = build(os.path.join(folder, str(total)), total)
        sizes = {name: os.path.getsize(path) for name, path in paths.items()}
        print(f"\n{total:,} meetings: whole {count['whole']:,} ({sizes['whole'] / 1e6:.0f} MB), slice {count['slice']:,} "
              f"({sizes['slice'] / 1e6:.1f} MB); built in {time.perf_counter() - started:.0f} s", flush=True)
        if total == TOTAL:
            plans = subprocess.run([BINARY, "report", "--ledger", paths["whole"], "--year", str(YEAR), "--region", REGION, "--explain"],
                                   capture_output=True, text=True, check=True).stdout
            print("plans on the whole ledger:")
            print("\n".join(line for line in plans.splitlines() if not line.startswith("SELECT")))
            if "SCAN" in plans:
                failures.append("a statement scans a table")
        times = {"whole": [], "slice": []}
        reports = {}
        for _ in range(ROUNDS):
            for name in ["whole", "slice"]:
                elapsed, reports[name] = report_once(paths[name])
                times[name].append(elapsed)
        if reports["whole"] != reports["slice"]:
            failures.append(f"{total}: the report differs between the whole ledger and its slice")
        servers = {}
        pages = {"whole": [], "slice": []}
        bodies = {}
        sample = 0
        try:
            for name in ["whole", "slice"]:
                servers[name] = Server(folder, paths[name])
            for _ in range(ROUNDS):
                for name, server in servers.items():
                    samples = []
                    for _ in range(20):
                        sample += 1
                        elapsed, bodies[name] = server.page(sample)
                        samples.append(elapsed)
                    pages[name].append(statistics.median(samples))
        finally:
            for server in servers.values():
                server.stop()
        # (At a smoke size the unit has fewer than a page of decisions in the slice: its pages differ there.)
        if bodies["whole"] != bodies["slice"] and not SMOKE:
            failures.append(f"{total}: the unit's page differs between the whole ledger and its slice")
        report_ratio = min(times["whole"]) / min(times["slice"])
        page_ratio = min(pages["whole"]) / min(pages["slice"])
        approved = reports["whole"]["totals"]["approved"]
        print(f"report --year {YEAR} --region {REGION}: whole {min(times['whole']) * 1000:.1f} ms, slice {min(times['slice']) * 1000:.1f} ms, "
              f"ratio {report_ratio:.2f} ({approved:,} approved, {len(reports['whole']['caps']):,} caps)")
        print(f"/decisions/?unit={UNIT}: whole {min(pages['whole']) * 1000:.2f} ms, slice {min(pages['slice']) * 1000:.2f} ms, "
              f"ratio {page_ratio:.2f}", flush=True)
        for name, ratio in [("report", report_ratio), ("unit page", page_ratio)]:
            if ratio > 2 and not SMOKE:  # a smoke size is too small for the goal
                failures.append(f"{total}: {name} ratio {ratio:.2f} > 2")
    for failure in failures:
        print("FAIL:", failure)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
