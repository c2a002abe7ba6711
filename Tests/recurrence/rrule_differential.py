#!/usr/bin/env python3
"""What a series counts is what calendars show (shared/spec/recurrence.md), checked from outside.

Usage: rrule_differential.py MEETINGD   (RRULE_SEED, default 20261208; RRULE_COUNT, default 400)

Seeded random RRULEs over every FREQ with BYDAY (ordinals too), BYMONTHDAY, BYMONTH, BYSETPOS, BYYEARDAY,
BYWEEKNO, INTERVAL, WKST, COUNT and UNTIL, each starting on its own first occurrence in a zone with daylight
saving (30-minute changes included), are drained by one real `meetingd drain`. Then:

- every approved series: the instants `meetingd check --json` counts (`occurrence_starts`) equal
  python-dateutil's expansion of the DTSTART, RRULE and EXDATE of the `.ics` meetingd wrote, read by icalendar;
  and vobject's own expansion of the same file, except where vobject disagrees with dateutil on it (counted
  and printed with the first instant that differs). Those are vobject's: it reads a VTIMEZONE whose observance
  libical split in two (an RRULE with UNTIL, then one without) by one of them only, so it is an hour off in
  some years, and it reads a skipped wall time with the offset after the gap, where RFC 5545 takes the one
  before;
- every refusal at `$.recurrence.rrule` names a shape of meetingd's catalogue of libical's deviations; for each
  shape refused, libical itself (Tests/tools/libical_expand.c, compiled here) expands at least one of the
  refused rules otherwise than dateutil, and an equivalent rule offered is accepted by meetingd and expands,
  under dateutil, to the same dates as the refused rule;
- each catalogue example's RFC 5545 dates are dateutil's.
Prints one summary line per part and `N passed, N failed`; exits 1 on a failure.
"""
import datetime
import json
import os
import random
import re
import subprocess
import sys
import tempfile
from zoneinfo import ZoneInfo

import icalendar
import vobject
from dateutil.rrule import rrulestr

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]
ZONES = ["America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "Pacific/Chatham", "Asia/Shanghai",
         "America/Santiago", "Europe/London", "Australia/Sydney"]
UTC = datetime.timezone.utc


def generate_rule(r):
    freq = r.choice(["DAILY", "WEEKLY", "MONTHLY", "YEARLY"])
    parts = [("FREQ", freq)]
    if r.random() < 0.3:
        parts.append(("INTERVAL", str(r.randint(1, 3))))
    if r.random() < 0.5:
        days = r.sample(DAYS, r.randint(1, 3))
        if freq in ("MONTHLY", "YEARLY") and r.random() < 0.4:
            days = [f"{r.choice([1, 2, 3, 4, -1, -2])}{d}" for d in days]
        parts.append(("BYDAY", ",".join(days)))
    if freq != "WEEKLY" and r.random() < 0.4:
        parts.append(("BYMONTHDAY", ",".join(str(r.choice([1, 5, 13, 15, 28, 29, 30, 31, -1, -2, -5]))
                                             for _ in range(r.randint(1, 3)))))
    if r.random() < 0.3:
        parts.append(("BYMONTH", ",".join(str(m) for m in sorted(r.sample(range(1, 13), r.randint(1, 4))))))
    if freq == "YEARLY" and r.random() < 0.08:
        parts.append(("BYYEARDAY", ",".join(str(r.choice([1, 50, 100, -1, 200])) for _ in range(r.randint(1, 2)))))
    if freq == "YEARLY" and r.random() < 0.08:
        parts.append(("BYWEEKNO", ",".join(str(r.choice([1, 10, 20, -1, 52])) for _ in range(r.randint(1, 2)))))
    if any(p[0].startswith("BY") for p in parts) and r.random() < 0.3:
        parts.append(("BYSETPOS", ",".join(str(r.choice([1, 2, 3, -1, -2])) for _ in range(r.randint(1, 2)))))
    if r.random() < 0.25:
        parts.append(("WKST", r.choice(DAYS)))
    if r.random() < 0.7:
        parts.append(("COUNT", str(r.randint(1, 8))))
    else:
        parts.append(("UNTIL", None))  # filled in once the start is known
    return parts


def text(parts):
    return ";".join(f"{k}={v}" for k, v in parts)


def with_timeout(seconds, body):
    """dateutil searches to the year 9999 for a rule that never matches: such a rule is skipped."""
    import signal

    def expired(*_):
        raise TimeoutError()
    signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        return body()
    except (TimeoutError, ValueError):
        return None
    finally:
        signal.alarm(0)


def genuine(rule, first):
    """Whether `first` is an occurrence of `rule` when its period is taken whole. dateutil builds the first
    period's BYSETPOS set from DTSTART on, where RFC 5545 takes the whole period and then drops what precedes
    DTSTART: expanded from one INTERVAL earlier, the period of `first` is whole."""
    parts = dict(p.split("=", 1) for p in rule.split(";"))
    step = int(parts.get("INTERVAL", "1"))
    frequency = parts["FREQ"]
    if frequency == "DAILY":
        earlier = first - datetime.timedelta(days=step)
    elif frequency == "WEEKLY":
        earlier = first - datetime.timedelta(weeks=step)
    elif frequency == "MONTHLY":
        month = first.month - 1 - step
        earlier = first.replace(year=first.year + month // 12, month=month % 12 + 1, day=min(first.day, 28))
    else:
        earlier = first.replace(year=first.year - step, day=min(first.day, 28))
    # Every date of the first period must be there too, not only `first`: dateutil's first period can hold dates
    # RFC 5545's does not (a BYSETPOS counted from DTSTART on).
    open_ended = ";".join(p for p in rule.split(";") if not p.startswith(("COUNT=", "UNTIL="))) + ";COUNT=400"
    whole = with_timeout(2, lambda: [d for d in rrulestr(open_ended, dtstart=earlier) if d >= first][:10])
    own = with_timeout(2, lambda: list(rrulestr(open_ended, dtstart=first))[:10])
    return bool(whole) and whole == own


def request(identifier, start, end, zone, rule, exdates):
    recurrence = {"rrule": rule}
    if exdates:
        recurrence["exdates"] = exdates
    return {
        "format": 1, "id": identifier, "revision": 1, "title": "例会 " + identifier, "kind": "business", "purpose": "study",
        "organizer": {"unit": f"测试单位{identifier}", "level": "city", "type": "department", "system": "测试",
                      "region": "浙江省/杭州市"},
        "convener": {"name": "陈一", "rank": "principal"},
        "start": start.isoformat(), "end": end.isoformat(), "timezone": zone, "location": "会议室",
        "mode": "in-person", "group_discussion": False, "reaches_grassroots": False, "plan_ref": "计划 1",
        "attendees": [], "agenda": [{"type": "main-speech", "speaker": "陈一", "speaker_role": "department-head",
                                      "minutes": 30}],
        "approvals": [], "recurrence": recurrence,
    }


def make_cases(seed, count):
    """(request, rule) pairs whose start is the rule's first occurrence under dateutil, in wall time."""
    r = random.Random(seed)
    cases = []
    attempts = 0
    while len(cases) < count and attempts < count * 20:
        attempts += 1
        parts = generate_rule(r)
        zone = r.choice(ZONES)
        base = datetime.datetime(2026, 1, 1) + datetime.timedelta(days=r.randint(0, 500))
        # Times near the clock changes (01:30, 02:30 in New York; 02:00-03:00 elsewhere) come up often.
        base = base.replace(hour=r.choice([1, 2, 2, 3, 9, 14]), minute=r.choice([0, 15, 30, 45]))
        if parts[-1][0] == "UNTIL":
            parts[-1] = ("UNTIL", (base + datetime.timedelta(days=r.randint(20, 330))).strftime("%Y%m%d"))
        rule = text(parts)
        first = with_timeout(2, lambda: rrulestr(rule, dtstart=base).after(base, inc=True))
        if first is None:
            continue
        wall = with_timeout(2, lambda: list(rrulestr(rule, dtstart=first))[:60])
        if not wall or wall[0] != first or ("BYSETPOS" in rule and not genuine(rule, first)):
            continue
        start = first.replace(tzinfo=ZoneInfo(zone))
        if start.utcoffset() != start.replace(fold=1).utcoffset() and r.random() < 0.5:
            start = start.replace(fold=1)  # the second pass through a repeated hour, now and then
        start_utc = start.astimezone(UTC)
        # A start in a skipped hour is the instant RFC 5545 gives it (the offset before the gap).
        local_start = start_utc.astimezone(ZoneInfo(zone))
        end = local_start + datetime.timedelta(minutes=r.choice([30, 60, 90]))
        exdates = []
        if len(wall) > 2 and r.random() < 0.3:
            exdates = [wall[1].date().isoformat()]
        identifier = f"rr-{seed}-{len(cases):04d}"
        cases.append((request(identifier, local_start, end, zone, rule, exdates), rule))
    return cases


def dateutil_instants(ics_bytes):
    """The instants of the one VEVENT as dateutil expands its DTSTART, RRULE and EXDATE (read by icalendar)."""
    calendar = icalendar.Calendar.from_ical(ics_bytes)
    event = next(c for c in calendar.walk("VEVENT"))
    dtstart = event.decoded("DTSTART")
    if event.get("RRULE") is None:
        return [dtstart.astimezone(UTC)]
    rrule = event.get("RRULE").to_ical().decode()
    rule = rrulestr(rrule, dtstart=dtstart)
    exdates = set()
    values = event.get("EXDATE")
    for value in (values if isinstance(values, list) else [values] if values is not None else []):
        for item in value.dts:
            exdates.add(item.dt.astimezone(UTC))
    instants = [d.astimezone(UTC) for d in rule]
    return [d for d in instants if d not in exdates]


def vobject_instants(ics_bytes):
    event = vobject.readOne(ics_bytes.decode()).vevent
    return [d.astimezone(UTC) for d in event.getrruleset(addRDate=True)]


def rfc3339(text_value):
    return datetime.datetime.fromisoformat(text_value).astimezone(UTC)


def libical(helper, rule, first_wall):
    out = subprocess.run([helper], input=f"{rule}\t{first_wall.strftime('%Y%m%dT%H%M%S')}\n", capture_output=True,
                         text=True, check=True).stdout.strip()
    return [datetime.datetime.strptime(x, "%Y%m%dT%H%M%S") for x in out.split(",") if x]


# The clock changes of 2027 in three zones: New York (an hour), Lord Howe (half an hour), Chatham (at 02:45).
# (zone, the repeated hour's day and a wall time in it, the skipped hour's day and a wall time in it)
CLOCK_CHANGES = [
    ("America/New_York", datetime.datetime(2027, 11, 7, 1, 30), datetime.datetime(2027, 3, 14, 2, 30)),
    ("Australia/Lord_Howe", datetime.datetime(2027, 4, 4, 1, 45), datetime.datetime(2027, 10, 3, 2, 15)),
    ("Pacific/Chatham", datetime.datetime(2027, 4, 4, 3, 15), datetime.datetime(2027, 9, 26, 3, 15)),
]


def clock_change_cases():
    """(request, expectation) pairs: 'approved' (counted instants = dateutil's reading of the .ics, and equal to
    `instants` when given) or 'refused-start' (invalid at $.start)."""
    cases = []
    for number, (zone, repeated, skipped) in enumerate(CLOCK_CHANGES):
        tz = ZoneInfo(zone)
        first_pass = repeated.replace(tzinfo=tz)
        second_pass = repeated.replace(tzinfo=tz, fold=1)
        weekly = "FREQ=WEEKLY;COUNT=4"

        def case(name, start, minutes, rule, expectation, instants=None):
            start = start.astimezone(tz)
            payload = request(f"clock-{number}-{name}", start, (start + datetime.timedelta(minutes=minutes)).astimezone(tz),
                              zone, rule, [])
            if rule is None:
                del payload["recurrence"]
            cases.append((payload, expectation, instants))

        case("single-second-pass", second_pass, 45, None, "approved", [second_pass.astimezone(UTC)])
        case("single-first-pass", first_pass, 45, None, "approved", [first_pass.astimezone(UTC)])
        # Ends in the second pass: a DTEND written as that wall time would mean the first.
        case("single-ends-in-second-pass", first_pass - datetime.timedelta(minutes=20), 80, None, "approved",
             [(first_pass - datetime.timedelta(minutes=20)).astimezone(UTC)])
        case("series-second-pass", second_pass, 45, weekly, "refused-start")
        # A series whose end is in the second pass: its length must survive (DTEND there would read an hour short).
        case("series-ends-in-second-pass", first_pass - datetime.timedelta(minutes=20), 80, weekly, "approved")
        case("series-first-pass", first_pass, 45, weekly, "approved")
        # A weekly series whose third occurrence falls on the repeated wall time: RFC 5545 reads it as the first.
        before = (repeated - datetime.timedelta(weeks=2)).replace(tzinfo=tz)
        case("series-into-repeated", before, 45, weekly, "approved",
             [(repeated + datetime.timedelta(weeks=w)).replace(tzinfo=tz).astimezone(UTC) for w in (-2, -1, 0, 1)])
        # ... and on the skipped wall time: the offset before the gap, so the clock shows the time after it.
        before = (skipped - datetime.timedelta(weeks=2)).replace(tzinfo=tz)
        case("series-into-skipped", before, 45, weekly, "approved",
             [(skipped + datetime.timedelta(weeks=w)).replace(tzinfo=tz).astimezone(UTC) for w in (-2, -1, 0, 1)])
    return cases


def check_clock_changes(meetingd, work, failures):
    cases = clock_change_cases()
    spool = os.path.join(work, "clock-spool")
    copies = os.path.join(work, "clock-requests")
    empty = os.path.join(work, "clock-empty")
    for folder in (os.path.join(spool, "incoming"), copies, empty):
        os.makedirs(folder)
    for payload, _, _ in cases:
        for folder in (os.path.join(spool, "incoming"), copies):
            with open(os.path.join(folder, payload["id"] + ".json"), "w") as f:
                json.dump(payload, f, ensure_ascii=False)
    subprocess.run([meetingd, "drain", "--spool", spool], capture_output=True, check=False)
    verdicts = {json.loads(x)["id"]: json.loads(x) for x in open(os.path.join(spool, "log", "decisions.jsonl"), encoding="utf-8")}
    checked = subprocess.run([meetingd, "check", "--json", "--spool", empty] +
                             [os.path.join(copies, p["id"] + ".json") for p, _, _ in cases], capture_output=True, text=True)
    counted = {d["id"]: [rfc3339(x) for x in d.get("occurrence_starts", [])] for d in map(json.loads, checked.stdout.splitlines())}
    passed = 0
    for payload, expectation, instants in cases:
        identifier = payload["id"]
        line = verdicts.get(identifier, {})
        if expectation == "refused-start":
            if line.get("verdict") == "invalid" and any(p.startswith("$.start") and "second" in p for p in line.get("problems", [])):
                passed += 1
            else:
                failures.append(f"{identifier}: a series starting in the repeated hour's second pass: {line.get('verdict')} "
                                f"{line.get('problems') or line.get('violations')}")
            continue
        if line.get("verdict") != "approved":
            failures.append(f"{identifier}: {line.get('verdict')} {line.get('problems') or line.get('violations')}")
            continue
        ics = open(os.path.join(spool, "approved", identifier + ".ics"), "rb").read()
        read = dateutil_instants(ics)
        event = next(c for c in icalendar.Calendar.from_ical(ics).walk("VEVENT"))
        length = (event.decoded("DURATION") if event.get("DURATION") is not None
                  else event.decoded("DTEND").astimezone(UTC) - event.decoded("DTSTART").astimezone(UTC))
        wanted = datetime.datetime.fromisoformat(payload["end"]) - datetime.datetime.fromisoformat(payload["start"])
        if counted.get(identifier) != read or (instants is not None and read != instants) or length != wanted:
            failures.append(f"{identifier}: counted {[d.isoformat() for d in counted.get(identifier, [])]}, the .ics "
                            f"reads as {[d.isoformat() for d in read]} lasting {length}, expected "
                            f"{[d.isoformat() for d in instants or []]} lasting {wanted}")
        else:
            passed += 1
    print(f"clock changes (New York, Lord Howe, Chatham): {len(cases)} requests, {passed} as expected")
    return passed


def main():
    meetingd = os.path.abspath(sys.argv[1])
    seed = int(os.environ.get("RRULE_SEED", "20261208"))
    count = int(os.environ.get("RRULE_COUNT", "400"))
    failures = []
    passed = 0
    work = tempfile.mkdtemp(prefix="meetingd-rrule-")
    helper = os.path.join(work, "libical_expand")
    subprocess.run(["cc", "-O1", "-o", helper, os.path.join(ROOT, "Tests/tools/libical_expand.c"), "-lical"], check=True)

    passed += check_clock_changes(meetingd, work, failures)

    cases = make_cases(seed, count)
    spool = os.path.join(work, "spool")
    copies = os.path.join(work, "requests")
    os.makedirs(os.path.join(spool, "incoming"))
    os.makedirs(copies)
    by_id = {}
    for payload, rule in cases:
        name = payload["id"] + ".json"
        by_id[payload["id"]] = (payload, rule)
        with open(os.path.join(copies, name), "w") as f:
            json.dump(payload, f, ensure_ascii=False)
        with open(os.path.join(spool, "incoming", name), "w") as f:
            json.dump(payload, f, ensure_ascii=False)
    subprocess.run([meetingd, "drain", "--spool", spool], capture_output=True, check=False)
    lines = [json.loads(x) for x in open(os.path.join(spool, "log", "decisions.jsonl"), encoding="utf-8")]
    verdicts = {line["id"]: line for line in lines}

    # What check counts, against an empty ledger (the drained spool has every id decided already).
    empty = os.path.join(work, "empty")
    os.makedirs(empty)
    checked = subprocess.run([meetingd, "check", "--json", "--spool", empty] +
                             [os.path.join(copies, p["id"] + ".json") for p, _ in cases], capture_output=True, text=True)
    counted = {}
    for line in checked.stdout.splitlines():
        decision = json.loads(line)
        if "occurrence_starts" in decision:
            counted[decision["id"]] = [rfc3339(x) for x in decision["occurrence_starts"]]

    approved = 0
    vobject_off = []
    refusals = {}
    series_refused_elsewhere = 0
    other_reasons = []
    for identifier, (payload, rule) in by_id.items():
        line = verdicts.get(identifier)
        if line is None:
            failures.append(f"{identifier}: no decision logged")
            continue
        if line["verdict"] == "approved":
            approved += 1
            ics = open(os.path.join(spool, "approved", identifier + ".ics"), "rb").read()
            expected = dateutil_instants(ics)
            mine = counted.get(identifier)
            if mine != expected:
                failures.append(f"{identifier}: {rule} in {payload['timezone']} from {payload['start']}: counted "
                                f"{[d.isoformat() for d in (mine or [])][:5]}, dateutil reads the .ics as "
                                f"{[d.isoformat() for d in expected][:5]}")
            else:
                passed += 1
            try:
                theirs = vobject_instants(ics)
            except Exception as error:  # vobject's own failure to read a valid rule
                theirs = f"vobject failed: {error}"
            if theirs != expected:
                vobject_off.append((identifier, rule, payload["timezone"], expected, theirs))
        elif line["verdict"] == "invalid":
            problems = [p for p in line.get("problems", []) if p.startswith("$.recurrence.rrule")]
            shape = [re.search(r"meetingd's libical ([a-z0-9-]+)\)", p) for p in problems]
            shape = [m.group(1) for m in shape if m]
            if shape:
                refusals.setdefault(shape[0], []).append((payload, rule, problems[0]))
            else:
                series_refused_elsewhere += 1
                other_reasons.append(line.get("problems", []))
                if any("has no occurrence" in p or "is not an occurrence" in p for p in line.get("problems", [])):
                    failures.append(f"{identifier}: {rule} from {payload['start']}: refused without naming a shape: "
                                    f"{line['problems']}")
                elif any(p.startswith("$.start") and "second" in p for p in line.get("problems", [])):
                    passed += 1  # a series starting in the repeated hour's second pass: refused, as the spec allows
    print(f"rrule differential (seed {seed}): {len(cases)} series, {approved} approved and compared with dateutil; "
          f"vobject disagrees with dateutil on {len(vobject_off)} of them (vobject's own deviations)")
    # Where vobject is not right: it reads the same file otherwise than dateutil (its first difference shown).
    for identifier, rule, zone, expected, theirs in vobject_off[:5]:
        if isinstance(theirs, str):
            print(f"  vobject differs: {identifier} {rule} {zone}: {theirs}")
            continue
        index = next((i for i, (a, b) in enumerate(zip(expected, theirs)) if a != b), min(len(expected), len(theirs)))
        print(f"  vobject differs: {identifier} {rule} {zone}: occurrence {index + 1}, dateutil "
              f"{expected[index].isoformat() if index < len(expected) else 'none'}, vobject "
              f"{theirs[index].isoformat() if index < len(theirs) else 'none'}")

    # Every shape refused is one libical truly gets wrong, and an equivalent offered is one.
    catalogue = open(os.path.join(ROOT, "Sources/MeetingCalendar/LibicalDeviation.swift"), encoding="utf-8").read()
    known = set(re.findall(r'id: "([a-z0-9-]+)"', catalogue))
    offered = os.path.join(work, "offered")
    os.makedirs(offered)
    offered_files = []
    skipped = 0
    for shape, items in sorted(refusals.items()):
        if shape not in known:
            failures.append(f"refusal names {shape}, not in the catalogue")
            continue
        wrong = 0
        for payload, rule, problem in items:
            first = datetime.datetime.fromisoformat(payload["start"]).replace(tzinfo=None)
            truth = with_timeout(5, lambda: list(rrulestr(rule, dtstart=first))[:60])
            if truth is None:
                skipped += 1  # dateutil could not expand it in time: nothing to compare
                continue
            if libical(helper, rule, first) != truth:
                wrong += 1
            equivalent = re.search(r'write the equivalent "([^"]+)"', problem)
            if equivalent:
                other = with_timeout(5, lambda: list(rrulestr(equivalent.group(1), dtstart=first))[:60])
                if other is None or other != truth:
                    failures.append(f"{payload['id']}: the equivalent offered for {rule} ({equivalent.group(1)}) "
                                    f"expands to {other[:3]}, the rule to {truth[:3]}")
                else:
                    passed += 1
                if libical(helper, equivalent.group(1), first) != truth:
                    failures.append(f"{payload['id']}: libical expands the offered {equivalent.group(1)} otherwise")
                changed = dict(payload, id=payload["id"] + "-offered")
                changed["recurrence"] = dict(payload["recurrence"], rrule=equivalent.group(1))
                path = os.path.join(offered, changed["id"] + ".json")
                with open(path, "w") as f:
                    json.dump(changed, f, ensure_ascii=False)
                offered_files.append(path)
        print(f"  refused as {shape}: {len(items)} rules, libical wrong on {wrong} of them")
        # Every shape's catalogue example is checked below; a shape refused often but never wrong is too wide.
        if wrong == 0 and len(items) >= 10:
            failures.append(f"{shape}: {len(items)} rules refused, libical expands every one as dateutil does")
        else:
            passed += 1
    if offered_files:
        result = subprocess.run([meetingd, "check", "--json", "--spool", empty] + offered_files, capture_output=True, text=True)
        for line in result.stdout.splitlines():
            decision = json.loads(line)
            problems = decision.get("problems", [])
            # An equivalent keeps the series' dates, so it may still be over the span or count bounds, as the
            # refused rule was; it must not be refused for its shape or its start.
            if any("meetingd's libical" in p or "is not an occurrence" in p or "has no occurrence" in p for p in problems):
                failures.append(f"{decision['id']}: the equivalent rule offered is refused: {problems}")
            else:
                passed += 1
    print(f"  {sum(len(v) for v in refusals.values())} refused by shape, {len(offered_files)} equivalents offered and "
          f"checked ({skipped} dateutil could not expand in time); {series_refused_elsewhere} invalid for other reasons:")
    reasons = {}
    for problems in other_reasons:
        key = re.sub(r"[0-9]+", "N", problems[0].split(": ", 1)[-1])[:70] if problems else "?"
        reasons[key] = reasons.get(key, 0) + 1
    for key, number in sorted(reasons.items(), key=lambda item: -item[1]):
        print(f"    {number} × {key}")

    # The catalogue's examples: RFC 5545's dates are dateutil's, libical's are libical's.
    examples = re.findall(r'Example\(rule: "([^"]+)", start: "([^"]+)",\s*rfc5545: \[([^\]]*)\],\s*libical: \[([^\]]*)\]',
                          catalogue)
    for rule, start, rfc, lib in examples:
        first = datetime.datetime.strptime(start, "%Y%m%dT%H%M%S")
        listed = re.findall(r'"([^"]+)"', rfc)
        truth = [d.strftime("%Y%m%dT%H%M%S") for d in rrulestr(rule, dtstart=first)][:len(listed)]
        actual = [d.strftime("%Y%m%dT%H%M%S") for d in libical(helper, rule, first)][:len(re.findall(r'"([^"]+)"', lib))]
        if truth != listed:
            failures.append(f"catalogue example {rule}: RFC 5545 dates {listed}, dateutil says {truth}")
        elif actual != re.findall(r'"([^"]+)"', lib) or actual == truth:
            failures.append(f"catalogue example {rule}: libical gives {actual}")
        else:
            passed += 1
    print(f"  {len(examples)} catalogue examples checked against dateutil and libical")
    if len(examples) < len(known):
        failures.append(f"{len(known)} shapes, {len(examples)} examples found")
    if approved < count // 2:
        failures.append(f"only {approved} of {len(cases)} series approved: the generator no longer exercises the comparison")

    for failure in failures[:40]:
        print("FAIL", failure)
    print(f"rrule differential: {passed} passed, {len(failures)} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
