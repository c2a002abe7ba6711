#!/usr/bin/env python3
"""A generated history for `meetingd replay`: N requests in arrival order, a mix that makes every rule of the
catalogue fire (violations and warnings), with caps reached (comprehensive meetings of one region and system,
township heads called many times a month, on-site meetings of one unit, year-end pile-ups), waivers, revisions,
withdrawals, statutory meetings, recurring series and a few invalid files. Deterministic for (N, seed).

Used by Tests/replay/self_check.py (make test) and Benchmarks/replay.py (make bench-replay).
Usage as a script: history.py N DIR   writes the requests into DIR/incoming in arrival order.
"""
import json
import os
import random
import sys

CITIES = ["杭州市", "宁波市", "温州市", "嘉兴市"]
COUNTIES = ["西湖区", "上城区", "拱墅区", "滨江区", "萧山区"]
SYSTEMS = ["卫生健康", "教育", "交通", "民政", "财政", "农业农村"]
TOWNS = ["转塘街道", "西溪街道", "留下街道", "三墩镇", "双浦镇", "蒋村街道"]
RULES_WAIVABLE = ["annual-comprehensive-cap", "onsite-promotion-frequency", "year-end-clustering", "township-leader-load",
                  "session-length", "principal-attendance-justified"]


def town_principal(rng, reason=True):
    town = rng.choice(TOWNS)
    attendee = {"unit": town, "level": "township", "region": f"浙江省/杭州市/西湖区/{town}", "type": "party-committee",
                "role": rng.choice(["party-secretary", "government-head"])}
    if reason:
        attendee["reason"] = "部署重点工作"
    return attendee


def county_department(rng):
    county = rng.choice(COUNTIES)
    return {"unit": f"{county}{rng.choice(SYSTEMS)}局", "level": "county", "region": f"浙江省/杭州市/{county}",
            "role": "department-head"}


def base(index, rng, year):
    month = rng.randrange(1, 13)
    day = rng.randrange(1, 29)
    hour = rng.choice([9, 10, 14, 15])
    level = rng.choice(["city", "county"])
    city = "杭州市" if rng.random() < 0.7 else rng.choice(CITIES)
    region = f"浙江省/{city}" if level == "city" else f"浙江省/{city}/{rng.choice(COUNTIES)}"
    system = rng.choice(SYSTEMS)
    return {
        "format": 1, "id": f"h-{index}", "title": f"工作会议 {index}", "kind": "business",
        "organizer": {"unit": f"{region.split('/')[-1]}{system}局{rng.randrange(8)}", "level": level, "type": "department",
                      "system": system, "region": region},
        "convener": {"rank": "department-head"},
        "start": f"{year}-{month:02d}-{day:02d}T{hour:02d}:00:00+08:00",
        "end": f"{year}-{month:02d}-{day:02d}T{hour + 2:02d}:00:00+08:00",
        "plan_ref": "年度会议计划",
        "attendees": [county_department(rng) for _ in range(rng.randint(1, 3))],
        "agenda": [{"type": "main-speech", "speaker_role": "department-head", "minutes": rng.choice([30, 40, 50, 55])}],
    }


def with_time(req, month, day, hour=9, hours=2):
    year = req["start"][:4]
    req["start"] = f"{year}-{month:02d}-{day:02d}T{hour:02d}:00:00+08:00"
    req["end"] = f"{year}-{month:02d}-{day:02d}T{hour + hours:02d}:00:00+08:00"


def request(index, rng, year, approved_ids):
    """One request; `approved_ids` are ids of earlier proposals, for relays, revisions and withdrawals."""
    req = base(index, rng, year)
    roll = rng.random()
    if roll < 0.10:  # comprehensive meetings of few regions and systems: the annual cap and the year-end window
        req["kind"] = "comprehensive"
        req["organizer"]["region"] = rng.choice(["浙江省/杭州市", "浙江省/杭州市/西湖区"])
        req["organizer"]["level"] = "city" if req["organizer"]["region"] == "浙江省/杭州市" else "county"
        req["organizer"]["system"] = rng.choice(SYSTEMS[:3])
        if rng.random() < 0.5:
            with_time(req, rng.choice([12, 12, 1]), rng.randrange(1, 29))
        if rng.random() < 0.1:
            req["approvals"] = [{"rule": "annual-comprehensive-cap", "approver": "市委书记", "approver_role": "party-secretary",
                                 "ref": f"批〔{index}〕"}]
    elif roll < 0.26:  # township heads called: township-leader-load, principal-attendance-justified, deputy-convened
        req["attendees"].append(town_principal(rng, reason=rng.random() < 0.85))
        # A county's party committee or government calls them; a department needs the committee's approval.
        req["organizer"].update({"level": "county", "region": "浙江省/杭州市/西湖区", "unit": rng.choice(["西湖区委", "西湖区人民政府"]),
                                 "type": rng.choice(["party-committee", "government"])})
        if rng.random() < 0.1:
            req["organizer"].update({"unit": "西湖区卫生健康局", "type": "department"})
        if rng.random() < 0.15:
            req["convener"]["rank"] = "deputy"
        if rng.random() < 0.05:
            req["approvals"] = [{"rule": "township-leader-load", "approver": "区委书记", "approver_role": "party-secretary"}]
    elif roll < 0.32:  # one unit's business meetings a few days apart, same attendee: merge-business-meetings
        req["organizer"]["unit"] = "杭州市卫生健康委员会"
        req["attendees"] = [{"unit": "西湖区卫生健康局", "level": "county", "region": "浙江省/杭州市/西湖区", "role": "department-head"}]
    elif roll < 0.37:
        req["kind"] = "routine"
        req["organizer"]["unit"] = "杭州市教育局"
        with_time(req, rng.choice([3, 4]), rng.randrange(1, 29))
    elif roll < 0.41:
        req["kind"] = rng.choice(["on-site", "promotion"])
        req["organizer"]["unit"] = rng.choice(["杭州市农业农村局", "杭州市交通运输局"])
    elif roll < 0.43:
        req["kind"] = "relay"
        req["directive_date"] = req["start"][:10]
        if approved_ids and rng.random() < 0.5:
            req["relays"] = rng.choice(approved_ids)
    elif roll < 0.46:
        req["reaches_grassroots"] = True
        if rng.random() < 0.6:
            req["approvals"] = [{"rule": "grassroots-direct-approval", "approver": "市委书记", "approver_role": "party-secretary",
                                 "approver_level": req["organizer"]["level"]}]
    elif roll < 0.48:
        req["purpose"] = "deploy"
        req["covered_by_document"] = "杭政办〔2025〕3号"
    elif roll < 0.50:
        req["attendees"][0]["accompanying"] = True
    elif roll < 0.52:
        req["attendees"].append({"unit": f"{rng.choice(COUNTIES)}人民政府", "level": "county", "region": "浙江省/杭州市/西湖区",
                                 "type": "government", "role": "deputy"})
        req["organizer"]["level"] = "city"
        req["organizer"]["region"] = "浙江省/杭州市"
    elif roll < 0.54:
        req["organizer"].update({"level": "central", "region": "中央", "unit": "某部"})
        req["attendees"].append({"unit": "杭州市卫生健康委员会", "level": "city", "region": "浙江省/杭州市", "role": "department-head"})
    elif roll < 0.56:
        req["organizer"].update({"level": "province", "region": "浙江省", "unit": "浙江省教育厅"})
        req["attendees"].append({**town_principal(rng), "role": "department-head", "type": "department"})
    elif roll < 0.58:
        req["agenda"] = [{"type": "speech", "speaker_role": "party-secretary", "minutes": 10},
                         {"type": "speech", "speaker_role": "government-head", "minutes": 10}]
    elif roll < 0.61:
        req["agenda"][0]["minutes"] = rng.choice([70, 90])
    elif roll < 0.64:
        req["agenda"].append({"type": rng.choice(["work-report", "pledge", "speech"]), "minutes": rng.choice([10, 20])})
    elif roll < 0.68:
        if rng.random() < 0.5:
            req["group_discussion"] = True
            with_time(req, int(req["start"][5:7]), min(int(req["start"][8:10]), 26), hour=9, hours=8)
            req["end"] = req["end"][:8] + f"{int(req['end'][8:10]) + 2:02d}" + req["end"][10:]
        else:
            with_time(req, int(req["start"][5:7]), int(req["start"][8:10]), hour=9, hours=7)
    elif roll < 0.70:
        req["attendees"] = [{"unit": f"{c}{s}局", "level": "county", "region": f"浙江省/{c}", "role": "department-head"}
                            for c, s in zip(CITIES + ["湖州市", "绍兴市"], SYSTEMS)]
    elif roll < 0.71:
        req["kind"] = rng.choice(["inspection-mobilization", "inspection-feedback"])
    elif roll < 0.73:
        req.pop("plan_ref")
    elif roll < 0.75:
        req["kind"] = "statutory"
        req["organizer"]["type"] = "party-committee"
        req["attendees"].append(town_principal(rng))
    elif roll < 0.78:  # a weekly series requiring a township head: its occurrences count month by month
        req["recurrence"] = {"rrule": f"FREQ=WEEKLY;COUNT={rng.choice([3, 4, 6])}"}
        with_time(req, rng.randrange(1, 11), rng.randrange(1, 29))
        if rng.random() < 0.6:
            req["organizer"]["type"] = "government"
            req["attendees"].append(town_principal(rng))
    elif roll < 0.80 and approved_ids:  # a later revision of an earlier request
        old = rng.choice(approved_ids)
        return {**req, "id": old, "revision": 2 + index % 5, "title": f"修订 {index}"}
    elif roll < 0.83 and approved_ids:
        return {"format": 1, "id": rng.choice(approved_ids), "action": "withdraw"}
    elif roll < 0.84:
        req["end"] = req["start"]  # invalid: end not after start
    if rng.random() < 0.03:
        req["approvals"] = req.get("approvals", []) + [{"rule": rng.choice(RULES_WAIVABLE), "approver": "书记",
                                                        "approver_role": "party-secretary", "ref": f"批〔{index}〕"}]
    return req


def history(n, seed=20261127, year=2025):
    rng = random.Random(seed)
    ids, out = [], []
    for index in range(n):
        req = request(index, rng, year, ids)
        if req.get("action", "propose") == "propose" and req.get("revision", 1) == 1:
            ids.append(req["id"])
        out.append(req)
    return out


def drop(requests, spool):
    """Writes the requests into spool/incoming, renamed in whole, one nanosecond apart in arrival order."""
    incoming = os.path.join(spool, "incoming")
    os.makedirs(incoming, exist_ok=True)
    for index, body in enumerate(requests):
        path = os.path.join(incoming, f"r{index:06d}.json")
        with open(path + ".tmp", "w") as f:
            json.dump(body, f, ensure_ascii=False)
        os.utime(path + ".tmp", ns=(1_700_000_000_000_000_000 + index, 1_700_000_000_000_000_000 + index))
        os.rename(path + ".tmp", path)


if __name__ == "__main__":
    drop(history(int(sys.argv[1])), sys.argv[2])
