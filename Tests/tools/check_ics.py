#!/usr/bin/env python3
"""Checks iCalendar files with two independent parsers and at the byte level.

Usage: check_ics.py FILE...   Prints one line per problem; exits 1 if any file has a problem.
Parsers: icalendar (PyPI) and vobject. Byte checks: CRLF only, no BOM, lines of at most 75 octets,
no fold inside a UTF-8 character, every TZID parameter defined by a VTIMEZONE in the same file.
"""
import re
import sys

import icalendar
import vobject


def byte_problems(data: bytes):
    problems = []
    if data.startswith(b"\xef\xbb\xbf"):
        problems.append("starts with a byte-order mark")
    if not data.endswith(b"\r\n"):
        problems.append("does not end with CRLF")
    body = data[:-2] if data.endswith(b"\r\n") else data
    for number, line in enumerate(body.split(b"\r\n"), 1):
        if b"\n" in line or b"\r" in line:
            problems.append(f"line {number}: bare LF or CR")
        if len(line) > 75:
            problems.append(f"line {number}: {len(line)} octets, over 75")
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            problems.append(f"line {number}: a fold splits a UTF-8 character")
    text = data.decode("utf-8", errors="replace")
    unfolded = re.sub(r"\r\n[ \t]", "", text)
    defined = set(re.findall(r"^TZID:(.+?)\r?$", unfolded, re.M))
    used = set(re.findall(r";TZID=([^;:]+)", unfolded))
    for zone in sorted(used - defined):
        problems.append(f"TZID {zone} has no VTIMEZONE")
    return problems


def parser_problems(data: bytes):
    problems = []
    calendar = icalendar.Calendar.from_ical(data)
    for component in calendar.walk():
        for error in getattr(component, "errors", []) or []:
            problems.append(f"icalendar: {component.name}: {error}")
        if component.name == "VEVENT":
            for required in ("UID", "DTSTAMP", "DTSTART", "DTEND", "SEQUENCE"):
                if component.get(required) is None:
                    problems.append(f"icalendar: VEVENT without {required}")
    try:
        vobject.readOne(data.decode("utf-8")).validate(raiseException=True)
    except Exception as error:  # vobject raises several unrelated types
        problems.append(f"vobject: {error!r}")
    return problems


def main(paths):
    failed = False
    for path in paths:
        with open(path, "rb") as handle:
            data = handle.read()
        for problem in byte_problems(data) + parser_problems(data):
            failed = True
            print(f"{path}: {problem}")
    print(f"checked {len(paths)} file(s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
