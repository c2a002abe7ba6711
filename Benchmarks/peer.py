#!/usr/bin/env python3
"""What an office might write instead of meetingd: for each request in DIR/incoming (name order), parse the
JSON, check one cap (comprehensive meetings per region + system + year) in sqlite3, write the .ics with the
PyPI `icalendar` package durably (tmp + fsync + rename), and move the request. Prints: requests, seconds,
requests/s."""
import datetime
import json
import os
import sqlite3
import sys
import time

import icalendar


def main():
    root = sys.argv[1]
    incoming, out, done = (os.path.join(root, name) for name in ("incoming", "peer-out", "peer-done"))
    os.makedirs(out, exist_ok=True)
    os.makedirs(done, exist_ok=True)
    ledger = sqlite3.connect(os.path.join(root, "peer.sqlite"))
    ledger.execute("PRAGMA journal_mode=WAL")
    ledger.execute("PRAGMA synchronous=FULL")
    ledger.execute("CREATE TABLE IF NOT EXISTS meeting (id TEXT PRIMARY KEY, region TEXT, system TEXT, year INTEGER, kind TEXT)")
    names = sorted(name for name in os.listdir(incoming) if name.endswith(".json") and not name.startswith("."))
    started = time.monotonic()
    for name in names:
        path = os.path.join(incoming, name)
        try:
            with open(path, encoding="utf-8") as handle:
                request = json.load(handle)
            start = datetime.datetime.fromisoformat(request["start"])
            end = datetime.datetime.fromisoformat(request["end"])
            organizer = request["organizer"]
        except (ValueError, KeyError):
            os.rename(path, os.path.join(done, name))
            continue
        if request["kind"] == "comprehensive":
            (count,) = ledger.execute("SELECT COUNT(*) FROM meeting WHERE kind = 'comprehensive' AND region = ? AND system = ? AND year = ?",
                                      (organizer["region"], organizer.get("system"), start.year)).fetchone()
            if count >= 1:
                os.rename(path, os.path.join(done, name))
                continue
        with ledger:
            ledger.execute("INSERT OR REPLACE INTO meeting VALUES (?, ?, ?, ?, ?)",
                           (request["id"], organizer["region"], organizer.get("system"), start.year, request["kind"]))
        calendar = icalendar.Calendar()
        calendar.add("version", "2.0")
        calendar.add("prodid", "-//peer//EN")
        event = icalendar.Event()
        event.add("uid", request["id"] + "@peer")
        event.add("dtstamp", datetime.datetime.now(datetime.timezone.utc))
        event.add("dtstart", start)
        event.add("dtend", end)
        event.add("summary", request["title"])
        event.add("location", request.get("location", ""))
        for attendee in request.get("attendees", []):
            address = icalendar.vCalAddress("urn:unit:" + attendee["unit"])
            address.params["cn"] = attendee["unit"]
            event.add("attendee", address)
        calendar.add_component(event)
        temporary = os.path.join(out, "." + request["id"] + ".ics")
        with open(temporary, "wb") as handle:
            handle.write(calendar.to_ical())
            handle.flush()
            os.fsync(handle.fileno())
        os.rename(temporary, os.path.join(out, request["id"] + ".ics"))
        os.rename(path, os.path.join(done, name))
    seconds = time.monotonic() - started
    print(f"{len(names)} {seconds:.3f} {len(names) / seconds:.1f}")


if __name__ == "__main__":
    main()
