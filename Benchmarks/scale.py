#!/usr/bin/env python3
"""How meetingd's cost grows with the ledger.

For each SIZE: a spool whose ledger already holds SIZE approved meetings (filled directly with sqlite3 in
meetingd's schema; the newest 100,000 at most are inside the feeds' horizon, the rest are years old), then:
start-up time to READY and RSS of `meetingd run`; cost of one decision (300 requests drained, measured between
the first and last decision time in the log, so the final feed flush is apart); and the feed flush after them
(all.ics and the region feeds hold up to 100,000 events).
Usage: scale.py MEETINGD WORKDIR SIZE... Prints one line per size."""
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


def vevent(index):
    return ("BEGIN:VEVENT\r\nUID:fill-%d@meetingd\r\nDTSTAMP:20260101T000000Z\r\nLAST-MODIFIED:20260101T000000Z\r\n"
            "SEQUENCE:0\r\nDTSTART;TZID=Asia/Shanghai:20270310T090000\r\nDTEND;TZID=Asia/Shanghai:20270310T110000\r\n"
            "SUMMARY:既有会议 %d\r\nSTATUS:CONFIRMED\r\nORGANIZER;CN=单位:urn:meetingd:unit:x\r\nCATEGORIES:business\r\n"
            "END:VEVENT\r\n") % (index, index)


def fill(ledger, size):
    db = sqlite3.connect(ledger)
    db.execute("PRAGMA synchronous = OFF")
    visible = min(size, 100_000)
    decision_json = json.dumps({"verdict": "approved", "requestID": "x", "revision": 1, "problems": [], "sequence": 0,
                                "settingsVersion": "fill", "assessment": {"violations": [], "warnings": [], "waived": []}})
    with db:
        for start in range(0, size, 50_000):
            decisions, meetings, attendees, feeds = [], [], [], set()
            for index in range(start, min(size, start + 50_000)):
                seq = index + 1
                city = ["杭州市", "宁波市", "温州市", "嘉兴市", "湖州市", "绍兴市", "金华市", "衢州市"][index % 8]
                region = f"浙江省/{city}"
                unit = f"{city}填充单位{index % 5000}"
                recent = index >= size - visible
                year = 2027 if recent else 2016 + index % 9
                start_utc = datetime(year, 1 + index % 12, 1 + index % 28, 1).timestamp()
                local = f"{year}-{1 + index % 12:02d}-{1 + index % 28:02d}"
                kind = ["business", "routine", "comprehensive", "on-site"][index % 4]
                keys = {"all", "region:浙江省", f"region:{region}", f"organizer:{unit}", f"attendee:区局{index % 300}"}
                decisions.append((seq, f"fill-{index}.json", "fill", f"fill-{index}", 1, "propose", "approved", 1_767_225_600.0,
                                  f"approved/fill-{index}.r1.json", decision_json))
                meetings.append((f"fill-{index}", 1, "approved", 0, kind, f"既有会议 {index}", unit, "city", "department",
                                 f"系统{index % 40}", region, start_utc, local, 0, 0, json.dumps([f"区局{index % 300}"]),
                                 b'{"format":1}', "fill", 1_767_225_600.0, seq,
                                 vevent(index), "Asia/Shanghai", start_utc + 7200, "\n".join(sorted(keys))))
                attendees.append((f"区局{index % 300}", unit, kind, local, f"fill-{index}"))
                feeds.update(keys)
            db.executemany("INSERT INTO decision (seq, input_name, input_digest, request_id, revision, action, verdict, decided_at,"
                           " destination, decision_json) VALUES (?,?,?,?,?,?,?,?,?,?)", decisions)
            db.executemany("INSERT INTO meeting (id, revision, status, sequence, kind, title, organizer_unit, organizer_level,"
                           " organizer_type, organizer_system, organizer_region, start_utc, local_date, reaches_grassroots, exempt,"
                           " attendee_units, request_bytes, settings_version, decided_at, decision_seq, vevent, tzid,"
                           " end_utc, feed_keys) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", meetings)
            db.executemany("INSERT INTO meeting_attendee (unit, organizer_unit, kind, local_date, meeting_id) VALUES (?,?,?,?,?)",
                           attendees)
            db.executemany("INSERT OR IGNORE INTO feed (key) VALUES (?)", [(key,) for key in feeds])
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    # The fill ran unsynced: write it back now, or the first decision's barrier would pay for it.
    os.sync()


def start_daemon(binary, spool):
    notify_path = os.path.join(spool, "notify.sock")
    if os.path.exists(notify_path):
        os.unlink(notify_path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(notify_path)
    listener.settimeout(600)
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
    daemon.wait(timeout=60)
    listener.close()
    return ready, rss / 1024


def main():
    binary, work = sys.argv[1], sys.argv[2]
    print("size startup_s rss_mb ms_per_decision flush_s all_ics_events")
    for size in map(int, sys.argv[3:]):
        spool = os.path.join(work, f"scale-{size}")
        shutil.rmtree(spool, ignore_errors=True)
        os.makedirs(spool)
        subprocess.run([binary, "drain", "--spool", spool], check=True, stdout=subprocess.DEVNULL)
        fill(os.path.join(spool, "state", "ledger.sqlite"), size)
        with open(os.path.join(spool, "feeds", ".meetingd-feeds-through"), "w") as marker:
            marker.write(f"{size}\n")
        ready, rss = start_daemon(binary, spool)
        subprocess.run([sys.executable, os.path.join(HERE, "generate.py"), spool, "300", "7"], check=True)
        began = time.monotonic()
        subprocess.run([binary, "drain", "--spool", spool], check=True, stdout=subprocess.DEVNULL)
        total = time.monotonic() - began
        with open(os.path.join(spool, "log", "decisions.jsonl"), encoding="utf-8") as log:
            times = [datetime.fromisoformat(json.loads(line)["time"]).timestamp() for line in log]
        per_decision = (times[-1] - times[0]) / (len(times) - 1) * 1000
        flush = total - (times[-1] - times[0])
        events = 0
        all_ics = os.path.join(spool, "feeds", "all.ics")
        if os.path.exists(all_ics):
            with open(all_ics, "rb") as feed:
                events = feed.read().count(b"BEGIN:VEVENT")
        print(f"{size} {ready:.2f} {rss:.1f} {per_decision:.2f} {flush:.2f} {events}", flush=True)
        if size >= 100_000:
            shutil.rmtree(spool, ignore_errors=True)


if __name__ == "__main__":
    main()
