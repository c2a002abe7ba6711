#!/usr/bin/env python3
"""Three offices, one ledger: three real `meetingd run` daemons on three spools against one PostgreSQL database.

Requests are dropped into the three spools at once, with heavy contention on the same caps — comprehensive
meetings of one region and system, many meetings requiring one township's head in one month — and then:
office B is killed with SIGKILL twice mid-run and restarted; the same file is dropped in two offices; the
database is stopped and started while requests arrive (/healthz answers 503 with the reason meanwhile).
At the end: every cap exact, each request decided exactly once, every file in exactly one place, the three
decision logs and the ledger agree line for line, every node's feeds show every approved meeting, and a
decision made on one node reaches another node's feeds within 2 s.

Usage: three_offices.py MEETINGD CLUSTER_DIR   (MEETINGD_TEST_POSTGRES: the server's URL; pg_cluster.sh
pauses and resumes the cluster in CLUSTER_DIR). Exit status 0 when every check holds.
"""
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

BINARY, CLUSTER = sys.argv[1], sys.argv[2]
SERVER = os.environ["MEETINGD_TEST_POSTGRES"]
TOOLS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools")
OFFICES = ["office-a", "office-b", "office-c"]
TOWN = "浙江省/杭州市/西湖区/转塘街道"
SYSTEMS = ["卫生健康", "教育"]
TOWN_LIMIT = 4  # rules.township-leader-load.max_per_month, default
failures = []


def check(condition, message):
    if not condition:
        failures.append(message)
        print("FAIL:", message, flush=True)


def psql(url, sql):
    return subprocess.run(["psql", url, "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c", sql], check=True,
                          capture_output=True, text=True).stdout


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def meeting(identifier, kind="business", unit="杭州市交通运输局", region="浙江省/杭州市", level="city", system="交通",
            organizer_type="department", month=5, day=10, hour=9, attendees=None):
    return {
        "format": 1, "id": identifier, "title": f"会议 {identifier}", "kind": kind,
        "organizer": {"unit": unit, "level": level, "type": organizer_type, "system": system, "region": region},
        "convener": {"rank": "department-head"},
        "start": f"2027-{month:02d}-{day:02d}T{hour:02d}:00:00+08:00", "end": f"2027-{month:02d}-{day:02d}T{hour + 2:02d}:00:00+08:00",
        "plan_ref": "年度会议计划",
        "attendees": attendees or [{"unit": "西湖区交通运输局", "level": "county", "region": "浙江省/杭州市/西湖区", "role": "department-head"}],
        "agenda": [{"type": "main-speech", "speaker_role": "department-head", "minutes": 45}],
    }


def requests():
    rng = random.Random(20261127)
    out = []
    for s, system in enumerate(SYSTEMS):  # the annual cap: 1 per region + system
        for k in range(15):
            out.append(("comp", meeting(f"comp-{s}-{k}", kind="comprehensive", unit=f"杭州市{system}局{k % 3}", system=system,
                                        month=3 + k % 4, day=1 + k)))
    for k in range(40):  # one township head called many times in April: the monthly load
        out.append(("town", meeting(f"town-{k}", unit="西湖区人民政府", region="浙江省/杭州市/西湖区", level="county",
                                    organizer_type="government", system="政府办", month=4, day=1 + k % 28, hour=9 + (k % 3) * 2,
                                    attendees=[{"unit": "转塘街道", "level": "township", "region": TOWN, "type": "party-committee",
                                                "role": "party-secretary", "reason": "部署重点工作"}])))
    for k in range(60):  # nothing in common: all approved
        out.append(("plain", meeting(f"plain-{k}", unit=f"杭州市单位{k}", month=6 + k % 5, day=1 + k % 28)))
    # The contended ones first, in a burst into all three spools at once, so that the three nodes decide them
    # at the same moments; then the rest, spread out, while office B is killed.
    rng.shuffle(out)
    out.sort(key=lambda item: item[0] == "plain")
    return out


class Office:
    def __init__(self, name, root, ledger):
        self.name = name
        self.spool = os.path.join(root, name)
        self.port = free_port()
        os.makedirs(os.path.join(self.spool, "incoming"))
        self.config = os.path.join(root, name + ".yaml")
        with open(self.config, "w") as f:
            f.write(f"spool: {self.spool}\nledger: {ledger}\nnode: {name}\nhttp: 127.0.0.1:{self.port}\n")
        self.process = None
        self.dropped = []
        self.log = open(os.path.join(root, name + ".stderr"), "ab")

    def start(self):
        self.process = subprocess.Popen([BINARY, "run", "--config", self.config], stdout=self.log, stderr=self.log)

    def kill(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()

    def drop(self, name, body):
        path = os.path.join(self.spool, "incoming", name)
        with open(path + ".part", "w") as f:
            json.dump(body, f, ensure_ascii=False)
        os.rename(path + ".part", path)
        self.dropped.append(name)

    def http(self, path):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()
        except OSError:
            return None, ""

    def waiting(self):
        return [n for n in os.listdir(os.path.join(self.spool, "incoming")) if not n.startswith(".")]

    def log_lines(self):
        path = os.path.join(self.spool, "log", "decisions.jsonl")
        if not os.path.exists(path):
            return []
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]

    def feed(self):
        path = os.path.join(self.spool, "feeds", "all.ics")
        return open(path).read() if os.path.exists(path) else ""


def wait_for(condition, seconds, step=0.05):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


def main():
    global DATABASE
    psql(SERVER, "CREATE DATABASE three_offices")
    DATABASE = SERVER.replace("/postgres?", "/three_offices?")
    root = tempfile.mkdtemp(prefix="meetingd-offices-")
    # Office C reaches the database through its unix socket, the others over TCP.
    with open(os.path.join(CLUSTER, "port")) as f:
        port = f.read().strip()
    socket_url = f"postgresql:///three_offices?host={CLUSTER}&port={port}&user=meetingd"
    offices = [Office(name, root, socket_url if name == "office-c" else DATABASE) for name in OFFICES]
    for office in offices:
        office.start()
    check(wait_for(lambda: all(o.http("/healthz")[0] == 200 for o in offices), 60), "the three daemons answer /healthz")

    # Phase 1: contention from three offices at once; B is killed twice meanwhile.
    work = requests()
    shares = {o.name: [] for o in offices}
    for index, (group, body) in enumerate(work):
        shares[OFFICES[index % 3]].append((f"r{index:04d}-{body['id']}.json", body))
    duplicate = meeting("dup-1", unit="杭州市双投单位")

    start = threading.Barrier(3)

    def dropper(office):
        start.wait()
        for position, (name, body) in enumerate(shares[office.name]):
            office.drop(name, body)
            if office.name == "office-a" and position == 10:
                office.drop("same.json", duplicate)
            if office.name == "office-c" and position == 10:
                office.drop("same.json", duplicate)
            if body["id"].startswith("plain-"):
                time.sleep(random.uniform(0.001, 0.02))

    threads = [threading.Thread(target=dropper, args=(o,)) for o in offices]
    for t in threads:
        t.start()
    # B is killed while it decides: right after its log has grown (the next decision is under way).
    b = offices[1]
    logged_at_kill = []
    for _ in range(2):
        before = len(b.log_lines())
        wait_for(lambda: len(b.log_lines()) >= before + 5, 30, step=0.005)
        b.kill()
        logged_at_kill.append(len(b.log_lines()))
        time.sleep(0.2)
        b.start()
    for t in threads:
        t.join()
    check(wait_for(lambda: not any(o.waiting() for o in offices), 120), "phase 1: every request leaves incoming/")
    check(len(b.log_lines()) > logged_at_kill[-1] > logged_at_kill[0] > 0,
          f"office B decided before, between and after its two kills ({logged_at_kill}, then {len(b.log_lines())})")

    # Phase 2: the database stops while requests arrive; they wait, /healthz says why; it comes back.
    subprocess.run([os.path.join(TOOLS, "pg_cluster.sh"), "pause", CLUSTER], check=True)
    outage = []
    for k in range(9):
        office = offices[k % 3]
        body = meeting(f"outage-{k}", unit=f"杭州市停机单位{k}", month=9, day=1 + k)
        office.drop(f"o{k:02d}.json", body)
        outage.append(body["id"])
    a = offices[0]
    check(wait_for(lambda: a.http("/healthz")[0] == 503, 20), "/healthz answers 503 while the database is down")
    status, text = a.http("/healthz")
    check("unreachable" in text or "PostgreSQL" in text, f"/healthz names the reason: {text!r}")
    check("meetingd_deciding_blocked 1" in a.http("/metrics")[1], "/metrics shows deciding blocked")
    time.sleep(1)
    check(all(len(o.waiting()) == 3 for o in offices), "requests wait in incoming/ while the database is down")
    subprocess.run([os.path.join(TOOLS, "pg_cluster.sh"), "resume", CLUSTER], check=True)
    check(wait_for(lambda: not any(o.waiting() for o in offices), 120), "the backlog is decided when the database is back")
    check(wait_for(lambda: a.http("/healthz")[0] == 200, 30), "/healthz is 200 again")
    for office in offices:
        order = [line["id"] for line in office.log_lines() if (line.get("id") or "").startswith("outage-")]
        check(order == sorted(order), f"{office.name}: the backlog decided in arrival order: {order}")

    # Phase 3: a decision on one node reaches another node's feeds within 2 s.
    c = offices[2]
    time.sleep(2)
    a.drop("latency.json", meeting("latency-1", unit="杭州市时延单位", month=10, day=8))
    wait_for(lambda: any(line.get("id") == "latency-1" for line in a.log_lines()), 30, step=0.01)
    decided = time.time()
    seen = wait_for(lambda: "latency-1@" in c.feed() or "UID:latency-1" in c.feed(), 10, step=0.02)
    latency = time.time() - decided
    check(seen and latency <= 2.0, f"another node's feeds show a decision within 2 s (took {latency:.2f} s)")
    print(f"cross-node feed latency: {latency:.2f} s", flush=True)

    for office in offices:
        office.stop()

    # The ledger: every cap exact, each request decided once.
    rows = [line.split("\t") for line in psql(DATABASE, "SELECT seq, node, COALESCE(request_id, ''), verdict, action FROM decision ORDER BY seq").splitlines()]
    decided = {}
    for seq, node, request_id, verdict, action in rows:
        if action == "propose":
            check(request_id not in decided, f"{request_id} decided twice")
            decided[request_id] = (verdict, node)
    expected_ids = {body["id"] for _, body in work} | {"dup-1", "latency-1"} | set(outage)
    check(set(decided) == expected_ids, f"every request decided: missing {sorted(expected_ids - set(decided))[:5]}")
    for s, system in enumerate(SYSTEMS):
        approved = [i for i, (v, _) in decided.items() if i.startswith(f"comp-{s}-") and v == "approved"]
        check(len(approved) == 1, f"annual cap for {system}: {len(approved)} approved, want exactly 1")
    town_approved = [i for i, (v, _) in decided.items() if i.startswith("town-") and v == "approved"]
    check(len(town_approved) == TOWN_LIMIT, f"township load: {len(town_approved)} approved, want exactly {TOWN_LIMIT}")
    plain_rejected = [i for i, (v, _) in decided.items() if (i.startswith("plain-") or i.startswith("outage-")) and v != "approved"]
    check(not plain_rejected, f"uncontended requests all approved: {plain_rejected[:5]}")
    nodes_used = {node for _, (_, node) in decided.items()}
    check(nodes_used == set(OFFICES), f"every office decided some: {nodes_used}")

    # The duplicate: decided once; the other copy invalid, naming the node that decided it.
    dup_node = decided.get("dup-1", (None, None))[1]
    invalid_copies = [line for o in offices for line in o.log_lines() if line.get("id") == "dup-1" and line["verdict"] == "invalid"]
    check(len(invalid_copies) == 1, f"the second copy of the same file is invalid once: {len(invalid_copies)}")
    if invalid_copies:
        problem = invalid_copies[0]["problems"][0]
        check(problem.startswith("$.revision: revision 1 of \"dup-1\" was already decided (node " + str(dup_node)),
              f"the invalid copy names the deciding node: {problem}")

    # Logs and ledger agree, line for line; every file is in exactly one place.
    logged = []
    for office in offices:
        lines = office.log_lines()
        seqs = [line["seq"] for line in lines]
        check(len(seqs) == len(set(seqs)), f"{office.name}: no decision logged twice")
        check(seqs == sorted(seqs), f"{office.name}: log in decision order")
        check(all(line.get("node") == office.name for line in lines), f"{office.name}: every line carries its node")
        logged += [(str(line["seq"]), line["node"], line.get("id") or "", line["verdict"]) for line in lines]
        placed = []
        for folder in ["approved", "rejected", "withdrawn", "invalid"]:
            path = os.path.join(office.spool, folder)
            placed += [n for n in os.listdir(path) if n.endswith(".json")] if os.path.isdir(path) else []
        check(len(placed) == len(office.dropped), f"{office.name}: {len(office.dropped)} dropped, {len(placed)} placed")
    ledger = sorted((seq, node, request_id, verdict) for seq, node, request_id, verdict, _ in rows)
    check(sorted(logged) == ledger, f"logs and ledger agree ({len(logged)} lines, {len(ledger)} rows)")

    # Every node publishes the whole ledger.
    approved_ids = [i for i, (v, _) in decided.items() if v == "approved"]
    for office in offices:
        feed = office.feed()
        missing = [i for i in approved_ids if f"UID:{i}@" not in feed and f"UID:{i}\r" not in feed]
        check(not missing, f"{office.name}'s feeds show every office's approved meetings (missing {missing[:3]})")

    kills = sum(1 for line in open(os.path.join(root, "office-b.stderr"), errors="replace") if "watching incoming" in line)
    print(f"three offices: {len(rows)} decisions, {len(approved_ids)} approved, office-b started {kills} times", flush=True)
    if failures:
        print(f"three offices: {len(failures)} check(s) failed; daemons' stderr in {root}", flush=True)
        sys.exit(1)
    print("three offices: every check passed", flush=True)


if __name__ == "__main__":
    main()
