#!/usr/bin/env python3
"""Copies the shared example requests into a spool's incoming/, their dates moved into the current year.

Usage: rebase_examples.py EXAMPLES_DIR SPOOL_DIR [--today YYYY-MM-DD]

The examples are dated in one year (2025). A newcomer who drops them as they are sees empty feeds (past the
feeds' horizon) and an empty `meetingd report` (this year by default). So every date moves by the same whole
number of weeks (weekdays stay: a Tuesday meeting stays on a Tuesday), chosen so that all of them fall in the
current year, the latest about four weeks from today where the year leaves room (in December the last ones
are still ahead, in January all of them are), so their order, their gaps and the pairs a rule compares (two
comprehensive meetings of one year) stay as written. Ids (`hz-wj-2025-001`) and document numbers are names
and stay, so the docs that quote them stay true. Only `YYYY-MM-DD` dates move: an example with an RRULE's
UNTIL, BYMONTHDAY or a fixed offset across a clock change would need more. Each file is written beside
incoming/ and renamed in, as every writer should.
"""
import datetime
import os
import re
import sys

DATE = re.compile(r"(?<!\d)(\d{4})-(\d{2})-(\d{2})(?!\d)")


def shift_for(dates, today):
    year = today.year
    first, last = min(dates), max(dates)
    span = (last - first).days
    start, end = datetime.date(year, 1, 1), datetime.date(year, 12, 31)
    wanted = min(max(today + datetime.timedelta(days=28), start + datetime.timedelta(days=span)), end)
    weeks = (wanted - last).days // 7  # rounded down: the latest stays on or before `wanted`
    while first + datetime.timedelta(weeks=weeks) < start:
        weeks += 1
    return datetime.timedelta(weeks=weeks)


def main():
    source, spool = sys.argv[1], sys.argv[2]
    today = datetime.date.today()
    if len(sys.argv) > 4 and sys.argv[3] == "--today":
        today = datetime.date.fromisoformat(sys.argv[4])
    names = sorted(n for n in os.listdir(source) if n.endswith(".json"))
    texts = {n: open(os.path.join(source, n), encoding="utf-8").read() for n in names}
    dates = [datetime.date(int(y), int(m), int(d)) for t in texts.values() for y, m, d in DATE.findall(t)]
    shift = shift_for(dates, today)
    incoming = os.path.join(spool, "incoming")
    os.makedirs(incoming, exist_ok=True)
    for name in names:
        text = DATE.sub(lambda m: (datetime.date(int(m[1]), int(m[2]), int(m[3])) + shift).isoformat(), texts[name])
        temporary = os.path.join(spool, "." + name)
        with open(temporary, "w", encoding="utf-8") as out:
            out.write(text)
        os.rename(temporary, os.path.join(incoming, name))
    print(f"examples moved by {shift.days // 7} weeks into {today.year}", file=sys.stderr)


if __name__ == "__main__":
    main()
