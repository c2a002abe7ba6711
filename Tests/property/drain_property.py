#!/usr/bin/env python3
"""Whole-drain property test (make test): thousands of seeded generated and mutated requests plus hostile
names and entries are dropped into a fresh spool, `meetingd drain` runs once, and these must hold:
drain exits 0; every entry that entered incoming/ is in exactly one destination, byte for byte (links as
links, folders and FIFOs as themselves); every decision has one log line and every log line is JSON; every
.ics written (approved/ and feeds/) passes Python icalendar, vobject and the byte checks; nothing outside the
spool changed.

Usage: drain_property.py MEETINGD [--seed N] [--count N]
"""
import argparse
import json
import os
import random
import shutil
import stat
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ZONES = ["Asia/Shanghai"] * 12 + ["UTC", "GMT", "PRC", "Zulu", "EST5EDT", "America/New_York", "Europe/Berlin", "Asia/Chongqing",
         "SystemV/EST5", "US/Pacific-New", "Mars/Olympus", "", " "]
LEVELS = ["province", "city", "county", "township", "village", "central", "galaxy"]
KINDS = ["comprehensive", "business", "routine", "on-site", "promotion", "relay", "statutory", "other", "party"]
UNITS = ["杭州市卫生健康委员会", "西湖区卫生健康局", "西湖区 卫生健康局", "西湖区_卫生健康局-b7c63be2", "a" * 73, "单" * 200,
         "e" + "\u0301" * 300, "unit/with/slashes", "-leading-dash", "町役場", "x"]


def request(rng, index):
    day = rng.randint(1, 28)
    month = rng.randint(1, 12)
    year = rng.choice([2025] * 6 + [2026, 2030, 1899, 2999, 3001])
    hour = rng.randint(6, 20)
    length = rng.choice([1, 2, 3, 4, 8, 30])
    end_hour = min(hour + length, 23)
    zone = rng.choice(ZONES)
    kind = rng.choice(KINDS)
    fraction = rng.choice(["", ".5", ".123456789012"])
    req = {
        "format": 1, "id": f"p-{index}", "revision": rng.choice([1, 1, 1, 2]),
        "title": rng.choice(["工作会议", "T" * 190, "会议\u2028", "x"]) + str(index), "kind": kind,
        "organizer": {"unit": rng.choice(UNITS), "level": rng.choice(LEVELS[:5]), "type": "department",
                      "system": rng.choice(["教育", "卫生健康", "x" * 150]), "region": rng.choice(["浙江省/杭州市", "浙江省", "浙江省/杭州市/西湖区"])},
        "convener": {"rank": rng.choice(["principal", "deputy", "department-head"])},
        "start": f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:00:00{fraction}+08:00",
        "end": f"{year:04d}-{month:02d}-{day:02d}T{end_hour:02d}:30:00+08:00",
        "attendees": [{"unit": rng.choice(UNITS), "level": rng.choice(["township", "county", "village"]),
                       "region": "浙江省/杭州市/西湖区", "role": rng.choice(["party-secretary", "government-head", "department-head"])}
                      for _ in range(rng.randint(0, 3))],
        "agenda": [{"type": "main-speech", "minutes": rng.choice([30, 60, 90])}],
    }
    if zone:
        req["timezone"] = zone
    if kind == "relay":
        req["directive_date"] = "2025-01-01"
    if rng.random() < 0.3:
        req["plan_ref"] = rng.choice(["计划第1项", " ", "\u3000"])
    if rng.random() < 0.12:
        # A series, sound or not: every occurrence counted, RRULE and EXDATE in the calendars.
        rule = rng.choice(["FREQ=WEEKLY;COUNT=4", "FREQ=DAILY;COUNT=3", "FREQ=MONTHLY;COUNT=12", "FREQ=WEEKLY;UNTIL=20251231",
                           "FREQ=WEEKLY;UNTIL=20250301T000000Z", "FREQ=DAILY;COUNT=401", "FREQ=WEEKLY", "FREQ=HOURLY;COUNT=3",
                           "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30;COUNT=2", "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR,SA,SU;COUNT=7", "garbage"])
        req["recurrence"] = {"rrule": rule}
        if rng.random() < 0.3:
            req["recurrence"]["exdates"] = [f"{year:04d}-{month:02d}-{min(day + rng.choice([0, 1, 7]), 28):02d}"]
    if rng.random() < 0.05:
        req = {"format": 1, "id": f"p-{rng.randint(0, index)}", "action": "withdraw"}
    return json.dumps(req, ensure_ascii=rng.random() < 0.5).encode()


def mutate(rng, data):
    choice = rng.randrange(8)
    if choice == 0 and data:  # flip bytes
        data = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        return bytes(data)
    if choice == 1:  # truncate
        return data[: rng.randrange(len(data) + 1)]
    if choice == 2:  # a duplicate key
        return data.replace(b'"title":', b'"title": "dup", "title":', 1)
    if choice == 3:  # a control character
        return data.replace(b'"kind":', b'"k\\u0001ind": 1, "kind":', 1)
    if choice == 4:  # a wrong type
        return data.replace(b'"revision": ', b'"revision": "', 1)
    if choice == 5:  # huge number
        return data.replace(b'"format": 1', b'"format": 99999999999999999999999', 1)
    if choice == 6:  # a BOM and trailing garbage
        return b"\xef\xbb\xbf" + data + rng.choice([b"", b"}", b" x"])
    return data.replace(b'"format": 1', b'"format": 1, "future": {"a": [1, 2, {"b": null}]}', 1)


def snapshot(root, skip):
    """Every path under root (but skip) with its type and, for files, bytes; links by target."""
    found = {}
    for folder, dirs, files in os.walk(root, followlinks=False):
        if os.path.abspath(folder).startswith(skip):
            dirs[:] = []
            continue
        for name in dirs + files:
            path = os.path.join(folder, name)
            if path.startswith(skip):
                continue
            info = os.lstat(path)
            if stat.S_ISREG(info.st_mode):
                found[path] = open(path, "rb").read()
            elif stat.S_ISLNK(info.st_mode):
                found[path] = ("link", os.readlink(path))
            else:
                found[path] = ("type", stat.S_IFMT(info.st_mode))
    return found


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("meetingd")
    parser.add_argument("--seed", type=int, default=int(os.environ.get("PROPERTY_SEED", "20261127")))
    parser.add_argument("--count", type=int, default=int(os.environ.get("PROPERTY_COUNT", "2000")))
    args = parser.parse_args()
    rng = random.Random(args.seed)
    sandbox = tempfile.mkdtemp(prefix="meetingd-property-")
    failures = []
    try:
        spool = os.path.join(sandbox, "spool")
        incoming = os.path.join(spool, "incoming")
        os.makedirs(incoming)
        outside = os.path.join(sandbox, "outside")
        os.makedirs(outside)
        with open(os.path.join(outside, "secret.json"), "wb") as f:
            f.write(request(rng, 0))
        entries = {}  # name bytes -> what it is

        def drop(name, data):
            path = os.path.join(incoming.encode(), name)
            with open(path, "wb") as f:
                f.write(data)
            entries[name] = data

        for index in range(args.count):
            data = request(rng, index)
            if rng.random() < 0.25:
                data = mutate(rng, data)
            drop(f"r{index:05d}.json".encode(), data)
        # Hostile names and entries.
        drop(b"n" * 250 + b".json", request(rng, 90001))
        drop(b"\xff" * 200 + b".json", b"{")
        drop(b"%FFx.json", b"{")
        drop(b"\xffx.json", b"[")
        drop(b"line\nbreak.json", request(rng, 90002))
        drop(b"-rf.json", request(rng, 90003))
        drop(b"--help.json", b"{}")
        drop(b"empty.json", b"")
        drop(b"oversized.json", b" " * (1_048_576 + 1))
        drop("西湖区卫生健康局".encode() * 10 + b".json", request(rng, 90004))
        os.symlink("/etc/passwd", os.path.join(incoming, "passwd.json"))
        entries[b"passwd.json"] = ("link", "/etc/passwd")
        os.symlink(os.path.join(outside, "secret.json"), os.path.join(incoming, "secret.json"))
        entries[b"secret.json"] = ("link", os.path.join(outside, "secret.json"))
        os.mkfifo(os.path.join(incoming, "fifo.json"))
        entries[b"fifo.json"] = ("type", stat.S_IFIFO)
        os.mkdir(os.path.join(incoming, "folder.json"))
        entries[b"folder.json"] = ("type", stat.S_IFDIR)

        before_outside = snapshot(sandbox, spool)
        run = subprocess.run([args.meetingd, "drain", "--spool", spool, "--group-commit", "16"], capture_output=True, timeout=1200)
        if run.returncode != 0:
            failures.append(f"drain exited {run.returncode}: {run.stderr.decode(errors='replace')[-2000:]}")
        if snapshot(sandbox, spool) != before_outside:
            failures.append("something outside the spool changed")

        # Exactly one destination each, byte for byte.
        remaining = os.listdir(incoming.encode())
        if remaining:
            failures.append(f"{len(remaining)} entries still in incoming/: {remaining[:5]}")
        landed = []
        for folder in ["approved", "rejected", "withdrawn", "invalid"]:
            path = os.path.join(spool, folder).encode()
            names = set(os.listdir(path))
            for name in names:
                if folder == "invalid" and name.endswith(b".txt") and name[:-4] in names:
                    continue  # a note
                if folder != "invalid" and not name.endswith(b".json"):
                    continue  # calendars and rejection notes
                full = os.path.join(path, name)
                info = os.lstat(full)
                if stat.S_ISREG(info.st_mode):
                    landed.append(open(full, "rb").read())
                elif stat.S_ISLNK(info.st_mode):
                    landed.append(("link", os.fsdecode(os.readlink(full))))
                else:
                    landed.append(("type", stat.S_IFMT(info.st_mode)))
                if len(name) > 255:
                    failures.append(f"name over 255 bytes: {name[:40]!r}")
        def key(value):
            return repr(value)
        expected = sorted(map(key, entries.values()))
        got = sorted(map(key, landed))
        if expected != got:
            missing = sorted(set(expected) - set(got))
            extra = sorted(set(got) - set(expected))
            failures.append(f"destinations differ from inputs: {len(expected)} in, {len(got)} out; not found: "
                            f"{[m[:80] for m in missing[:3]]}; unexpected: {[m[:80] for m in extra[:3]]}")

        # One JSON log line per decision.
        lines = open(os.path.join(spool, "log", "decisions.jsonl"), "rb").read().split(b"\n")
        if lines[-1] != b"":
            failures.append("the log does not end with a newline")
        decoded = []
        for line in lines[:-1]:
            try:
                decoded.append(json.loads(line))
            except ValueError as error:
                failures.append(f"log line is not JSON: {error}")
        if len(decoded) != len(entries):
            failures.append(f"{len(decoded)} log lines for {len(entries)} entries")

        # Every calendar passes the independent parsers and the byte checks.
        calendars = [os.path.join(folder, name) for folder, _, names in os.walk(os.path.join(spool, "approved")) for name in names if name.endswith(".ics")]
        calendars += [os.path.join(folder, name) for folder, _, names in os.walk(os.path.join(spool, "feeds")) for name in names if name.endswith(".ics")]
        checked = subprocess.run([sys.executable, os.path.join(HERE, "..", "tools", "check_ics.py")] + calendars, capture_output=True)
        if checked.returncode != 0:
            failures.append("calendars fail the checkers:\n" + checked.stdout.decode(errors="replace")[:3000])
        verdicts = {}
        for line in decoded:
            verdicts[line.get("verdict")] = verdicts.get(line.get("verdict"), 0) + 1
        print(f"property: seed {args.seed}, {len(entries)} entries, verdicts {verdicts}, {len(calendars)} calendars checked")
    finally:
        shutil.rmtree(sandbox, ignore_errors=True)
    for failure in failures:
        print("FAIL:", failure)
    print(f"{0 if failures else 1} passed, {1 if failures else 0} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
