#!/usr/bin/env python3
"""Checks `meetingd schema` with Python jsonschema (draft 2020-12) against meetingd's own parser.

Usage: check_schema.py MEETINGD EXAMPLES_DIR
- the schema is a valid draft 2020-12 schema;
- every example request validates (the invalid example too: what it breaks, end before start, the
  schema cannot express, and meetingd says so);
- every invalid class the parser knows that JSON Schema can express fails the schema, and meetingd
  (`check --json`) calls the same document invalid at the same field;
- documents meetingd accepts (withdrawals, blank and null optionals, unknown members, a series) pass.
Prints one line per disagreement; exits 1 if there is any.
"""
import copy
import glob
import json
import os
import subprocess
import sys
import tempfile

import jsonschema

MEETINGD, EXAMPLES = sys.argv[1], sys.argv[2]
schema = json.loads(subprocess.run([MEETINGD, "schema"], check=True, capture_output=True).stdout)
jsonschema.Draft202012Validator.check_schema(schema)
validator = jsonschema.Draft202012Validator(schema)
failures = []


SPOOL = tempfile.mkdtemp(prefix="meetingd-schema-")  # an empty spool: `check` reads its (empty) ledger only


def meetingd_problems(document):
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8") as f:
        json.dump(document, f, ensure_ascii=False)
    try:
        result = subprocess.run([MEETINGD, "check", "--json", "--spool", SPOOL, f.name], capture_output=True, text=True)
    finally:
        os.unlink(f.name)
    line = json.loads(result.stdout.strip().splitlines()[-1])
    return line.get("problems", []) if line["verdict"] == "invalid" else []


examples = sorted(glob.glob(os.path.join(EXAMPLES, "*.json")))
if not examples:
    failures.append(f"no examples in {EXAMPLES}")
for path in examples:
    with open(path, encoding="utf-8-sig") as f:
        document = json.load(f)
    errors = [e.message for e in validator.iter_errors(document)]
    if errors:
        failures.append(f"{os.path.basename(path)}: an example fails the schema: {errors[:3]}")

base = {
    "format": 1, "id": "schema-base", "title": "全市卫生健康工作会议", "kind": "business",
    "organizer": {"unit": "杭州市卫生健康委员会", "level": "city", "type": "department", "region": "浙江省/杭州市"},
    "convener": {"rank": "principal"},
    "start": "2025-03-18T09:00:00+08:00", "end": "2025-03-18T11:00:00+08:00",
    "attendees": [{"unit": "西湖区卫生健康局", "level": "county", "region": "浙江省/杭州市/西湖区", "role": "department-head"}],
    "agenda": [{"type": "speech", "minutes": 10}],
    "approvals": [{"rule": "plan-required", "date": "2025-03-01"}],
}


def mutated(change):
    document = copy.deepcopy(base)
    change(document)
    return document


def setter(*path_and_value):
    *path, value = path_and_value

    def change(document):
        target = document
        for key in path[:-1]:
            target = target[key]
        if value is DELETE:
            del target[path[-1]]
        else:
            target[path[-1]] = value
    return change


DELETE = object()

# (what, change, the field meetingd must name)
invalid = [
    ("missing title", setter("title", DELETE), "$.title"),
    ("blank title", setter("title", " \u3000 "), "$.title"),
    ("title of 201 characters", setter("title", "会" * 201), "$.title"),
    ("control character in the title", setter("title", "a\u0007b"), "$"),
    ("DEL in a unit", setter("organizer", "unit", "a\u007fb"), "$"),
    ("kind not in the enum", setter("kind", "meeting"), "$.kind"),
    ("format 2", setter("format", 2), "$.format"),
    ("id with a space", setter("id", "a b"), "$.id"),
    ("id starting with a dot", setter("id", ".hidden"), "$.id"),
    ("id of 129 characters", setter("id", "a" * 129), "$.id"),
    ("revision 0", setter("revision", 0), "$.revision"),
    ("revision as text", setter("revision", "2"), "$.revision"),
    ("action unknown", setter("action", "cancel"), "$.action"),
    ("organizer missing", setter("organizer", DELETE), "$.organizer"),
    ("organizer level unknown", setter("organizer", "level", "galaxy"), "$.organizer.level"),
    ("region with an empty name", setter("organizer", "region", "浙江省//杭州市"), "$.organizer.region"),
    ("region ending in /", setter("organizer", "region", "浙江省/"), "$.organizer.region"),
    ("region with a blank name", setter("organizer", "region", "浙江省/ /杭州市"), "$.organizer.region"),
    ("comprehensive without a system", lambda d: d.update(kind="comprehensive"), "$.organizer.system"),
    ("comprehensive with a blank system",
     lambda d: (d.update(kind="comprehensive"), d["organizer"].update(system="  ")), "$.organizer.system"),
    ("relay without a directive date", setter("kind", "relay"), "$.directive_date"),
    ("convener rank missing", setter("convener", "rank", DELETE), "$.convener.rank"),
    ("start without an offset", setter("start", "2025-03-18T09:00:00"), "$.start"),
    ("start as a date", setter("start", "2025-03-18"), "$.start"),
    ("start in year 3001", setter("start", "3001-03-18T09:00:00+08:00"), "$.start"),
    ("timezone unknown", setter("timezone", "Mars/Olympus_Mons"), "$.timezone"),
    ("contact not a URI", setter("contact", "office at example.org"), "$.contact"),
    ("mode unknown", setter("mode", "telepathy"), "$.mode"),
    ("group_discussion as text", setter("group_discussion", "yes"), "$.group_discussion"),
    ("directive_date not a date", setter("directive_date", "last week"), "$.directive_date"),
    ("attendees not an array", setter("attendees", {"unit": "x"}), "$.attendees"),
    ("attendee not an object", setter("attendees", ["西湖区"]), "$.attendees[0]"),
    ("attendee without a role", setter("attendees", 0, "role", DELETE), "$.attendees[0].role"),
    ("attendee role unknown", setter("attendees", 0, "role", "boss"), "$.attendees[0].role"),
    ("attendee e-mail not an address", setter("attendees", 0, "email", "not-an-address"), "$.attendees[0].email"),
    ("attendee reason of 1001 characters", setter("attendees", 0, "reason", "x" * 1001), "$.attendees[0].reason"),
    ("agenda minutes over 20160", setter("agenda", 0, "minutes", 20161), "$.agenda[0].minutes"),
    ("agenda minutes negative", setter("agenda", 0, "minutes", -1), "$.agenda[0].minutes"),
    ("agenda type missing", setter("agenda", 0, "type", DELETE), "$.agenda[0].type"),
    ("approval rule unknown", setter("approvals", 0, "rule", "no-such-rule"), "$.approvals[0].rule"),
    ("approval date not a date", setter("approvals", 0, "date", "yesterday"), "$.approvals[0].date"),
    ("recurrence without rrule", setter("recurrence", {"exdates": []}), "$.recurrence.rrule"),
    ("rrule that never ends", setter("recurrence", {"rrule": "FREQ=WEEKLY;BYDAY=TU"}), "$.recurrence.rrule"),
    ("exdate not a date", setter("recurrence", {"rrule": "FREQ=WEEKLY;COUNT=3", "exdates": ["25 March"]}), "$.recurrence.exdates[0]"),
    ("exdate twice", setter("recurrence", {"rrule": "FREQ=WEEKLY;COUNT=3", "exdates": ["2025-03-25", "2025-03-25"]}),
     "$.recurrence.exdates[1]"),
    ("recurrence not an object", setter("recurrence", "weekly"), "$.recurrence"),
    ("rrule with COUNT=0", setter("recurrence", {"rrule": "FREQ=DAILY;COUNT=0"}), "$.recurrence.rrule"),
    ("rrule with COUNT and UNTIL", setter("recurrence", {"rrule": "FREQ=DAILY;COUNT=3;UNTIL=20250401"}), "$.recurrence.rrule"),
    ("rrule with a local UNTIL date-time", setter("recurrence", {"rrule": "FREQ=DAILY;UNTIL=20250401T090000"}), "$.recurrence.rrule"),
    ("rrule with a dashed UNTIL", setter("recurrence", {"rrule": "FREQ=DAILY;UNTIL=2025-04-01"}), "$.recurrence.rrule"),
    ("rrule without FREQ", setter("recurrence", {"rrule": "BYDAY=TU;COUNT=3"}), "$.recurrence.rrule"),
    ("rrule HOURLY", setter("recurrence", {"rrule": "FREQ=HOURLY;COUNT=3"}), "$.recurrence.rrule"),
    ("rrule with BYHOUR", setter("recurrence", {"rrule": "FREQ=DAILY;BYHOUR=9,14;COUNT=3"}), "$.recurrence.rrule"),
    ("rrule with an unknown part", setter("recurrence", {"rrule": "FREQ=DAILY;COUNT=3;RSCALE=CHINESE"}), "$.recurrence.rrule"),
    ("rrule with a dotless i", setter("recurrence", {"rrule": "FREQ=DAILY;UNT\u0131L=20250401"}), "$.recurrence.rrule"),
]
for what, change, field in invalid:
    document = mutated(change)
    if validator.is_valid(document):
        failures.append(f"{what}: passes the schema")
    problems = meetingd_problems(document)
    if not any(p.startswith(field + ":") or p.startswith(field + ".") or p.startswith(field + "[") for p in problems):
        failures.append(f"{what}: meetingd does not name {field}: {problems}")

valid = [
    ("a withdrawal", {"format": 1, "id": "schema-base", "action": "withdraw"}),
    ("a withdrawal naming its revision", {"format": 1, "id": "schema-base", "action": "withdraw", "revision": 2}),
    ("blank optional enum", mutated(setter("purpose", "  "))),
    ("null optionals", mutated(lambda d: d.update(purpose=None, location=None, mode=None, attendees=None))),
    ("unknown member kept", mutated(setter("x-oa-ticket", {"n": 1}))),
    ("a 200-character Chinese unit", mutated(setter("organizer", "unit", "西" * 200))),
    ("fraction digits", mutated(setter("start", "2025-03-18T09:00:00.123456789+08:00"))),
    ("a series", mutated(setter("recurrence", {"rrule": "FREQ=WEEKLY;BYDAY=TU;UNTIL=20250415", "exdates": ["2025-04-01"]}))),
    ("a series ending by COUNT", mutated(setter("recurrence", {"rrule": "FREQ=DAILY;COUNT=3"}))),
    ("a series in lower case", mutated(setter("recurrence", {"rrule": "rrule:freq=weekly;byday=tu;until=20250415t000000z"}))),
    ("timezone UTC", mutated(setter("timezone", "UTC"))),
    ("timezone Link PRC", mutated(setter("timezone", "PRC"))),
    ("relay with a date-time directive", mutated(lambda d: d.update(kind="relay", directive_date="2025-03-17T18:00:00+08:00"))),
]
for what, document in valid:
    errors = [e.message for e in validator.iter_errors(document)]
    if errors:
        failures.append(f"{what}: fails the schema: {errors[:3]}")
    # A withdrawal is decided against the ledger: "nothing to withdraw" is about the ledger, not the format.
    problems = [p for p in meetingd_problems(document) if "has no approved meeting to withdraw" not in p]
    if problems:
        failures.append(f"{what}: meetingd calls it invalid: {problems}")

subprocess.run(["rm", "-rf", SPOOL], check=True)
for failure in failures:
    print(failure)
print(f"schema: {len(examples)} examples, {len(invalid)} invalid classes, {len(valid)} valid documents; {len(failures)} disagreements")
sys.exit(1 if failures else 0)
