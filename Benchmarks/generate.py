#!/usr/bin/env python3
"""Writes N meeting requests (a realistic mix) into DIR/incoming, renamed in whole, in arrival order.

The mix: mostly business meetings of many city and county units, some comprehensive meetings (the annual
cap rejects repeats), routine meetings, on-site meetings, a few long sessions and long speeches, statutory
meetings, and a few invalid files. About 20 % are rejected or invalid under the default settings.
Deterministic for a given N and seed, so every contender decides the same files.
"""
import json
import os
import random
import sys


def request(index, rng):
    city = rng.choice(["杭州市", "宁波市", "温州市", "嘉兴市", "湖州市", "绍兴市", "金华市", "衢州市"])
    county = rng.choice(["西湖区", "上城区", "拱墅区", "滨江区", "萧山区", "余杭区", "临平区", "钱塘区"])
    system = rng.choice(["卫生健康", "教育", "交通", "民政", "财政", "农业农村", "应急管理", "生态环境", "文化旅游", "市场监管"])
    level = rng.choice(["city", "county"])
    region = f"浙江省/{city}" if level == "city" else f"浙江省/{city}/{county}"
    unit = f"{city if level == 'city' else county}{system}局{rng.randrange(40)}"
    month = rng.randrange(1, 13)
    day = rng.randrange(1, 29)
    hour = rng.choice([8, 9, 10, 14, 15])
    roll = rng.random()
    kind, end_hour, minutes, group = "business", hour + 2, 45, False
    if roll < 0.08:
        kind = "comprehensive"
    elif roll < 0.18:
        kind = "routine"
    elif roll < 0.22:
        kind = "on-site"
    elif roll < 0.25:
        kind = "statutory"
    elif roll < 0.30:
        end_hour = hour + 7  # a full day without group discussion: rejected
    elif roll < 0.34:
        minutes = 80  # a main speech over an hour: rejected
    elif roll < 0.36:
        group = True
        end_hour = hour + 3
    attendees = [{"unit": f"{rng.choice(['西湖区', '上城区', '滨江区'])}{system}局", "level": "county",
                  "region": f"浙江省/{city}/{county}", "role": "department-head"}]
    if rng.random() < 0.1:
        attendees.append({"unit": f"{county}某街道", "level": "township", "region": f"浙江省/{city}/{county}/某街道",
                          "type": "party-committee", "role": "party-secretary", "reason": "主责部署"})
    return {
        "format": 1, "id": f"bench-{index:06d}", "revision": 1, "title": f"{system}工作会议 第{index}号",
        "kind": kind, "purpose": "study",
        "organizer": {"unit": unit, "level": level, "type": "government" if kind == "comprehensive" else "department",
                      "system": system, "region": region},
        "convener": {"name": "张三", "rank": "principal"},
        "start": f"2027-{month:02d}-{day:02d}T{hour:02d}:00:00+08:00",
        "end": f"2027-{month:02d}-{day:02d}T{end_hour:02d}:00:00+08:00",
        "location": f"{city}行政中心 {rng.randrange(1, 9)}号楼", "mode": "in-person", "group_discussion": group,
        "plan_ref": f"年度会议计划 第{index}项",
        "attendees": attendees,
        "agenda": [{"type": "main-speech", "speaker": "张三", "speaker_role": "department-head", "minutes": minutes}],
    }


def main():
    directory, count = sys.argv[1], int(sys.argv[2])
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 2024
    rng = random.Random(seed)
    incoming = os.path.join(directory, "incoming")
    os.makedirs(incoming, exist_ok=True)
    base = 1_700_000_000
    for index in range(count):
        if rng.random() < 0.02:
            body = '{"format": 1, "id": "broken-%d", "title": ' % index  # invalid JSON
        else:
            body = json.dumps(request(index, rng), ensure_ascii=False)
        name = f"r{index:06d}.json"
        hidden = os.path.join(incoming, "." + name)
        with open(hidden, "w", encoding="utf-8") as handle:
            handle.write(body)
        os.utime(hidden, ns=(base * 10**9 + index * 1000, base * 10**9 + index * 1000))
        os.rename(hidden, os.path.join(incoming, name))


if __name__ == "__main__":
    main()
