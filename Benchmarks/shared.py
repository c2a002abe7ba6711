#!/usr/bin/env python3
"""Several offices on one PostgreSQL ledger (issue 10), measured in one run on this machine:

- throughput of 1, 2 and 3 nodes (`meetingd drain` on their own spools, at once) against one database, on an
  uncontended mix (every request its own keys) and a contended one (a third comprehensive meetings of a few
  region + system keys, a third calling one township's head, a third plain), beside one node on SQLite;
- the floor: `pgbench` running the database work of one decision and nothing else — the statements the
  ledger sends for a typical approval, captured from the server's log, in one transaction with its key locks
  and the commit-order lock — with as many clients as nodes;
- the p99 drop → decision latency of 1, 2 and 3 daemons (`meetingd run`) fed 50 requests/s each, on a fixed
  schedule whatever the daemons do (an open loop: a slow decision does not slow the load, so a backlog shows
  as the latency it is), each decision seen arriving in approved/ through inotify (Benchmarks/arrivals.py);
- cap violations after every run: comprehensive meetings per region + system + year above 1, meetings
  calling one township's head in a month above 4 (none may exist).

Usage: shared.py MEETINGD [N=1500 per node]. BENCH_ROUNDS (default 1) repeats each throughput figure and
keeps the median; BENCH_WORK names the folder to work in (default: the system's temporary folder). Starts its
own cluster (Tests/tools/pg_cluster.sh), removed at the end.

Nothing is deleted until the end. On ext4 without a journal (this machine's root file system), a new inode
is not taken from those freed in the last few minutes (up to five): each file created scans past them. Deleting a finished phase's tens of thousands of files made every file the next
phase created cost about 1 ms instead of 30–40 µs, the daemons' feed files included — a cost of the
harness, not of meetingd. The cost of creating a file where the benchmark works is printed first.
"""
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "replay"))
import history  # noqa: E402  (the one way requests are dropped in arrival order)
from arrivals import Arrivals  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
CLUSTER_TOOL = os.path.join(HERE, "..", "Tests", "tools", "pg_cluster.sh")
BINARY = sys.argv[1]
N = int(sys.argv[2]) if len(sys.argv) > 2 else 1500
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "1"))
LATENCY_SECONDS = float(os.environ.get("BENCH_LATENCY_SECONDS", "20"))
TOWN = "浙江省/杭州市/西湖区/转塘街道"


def psql(url, sql):
    return subprocess.run(["psql", url, "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c", sql], check=True,
                          capture_output=True, text=True).stdout


def request(node, index, contended):
    """A request of node `node`; contended ones share caps across nodes."""
    month, day = 1 + index % 11, 1 + index % 28
    body = {
        "format": 1, "id": f"n{node}-{index}", "title": f"会议 {node}-{index}", "kind": "business",
        "organizer": {"unit": f"单位{node}-{index}", "level": "city", "type": "department", "system": "交通", "region": "浙江省/杭州市"},
        "convener": {"rank": "department-head"},
        "start": f"2027-{month:02d}-{day:02d}T09:00:00+08:00", "end": f"2027-{month:02d}-{day:02d}T11:00:00+08:00",
        "plan_ref": "年度会议计划",
        "attendees": [{"unit": f"区局{node}-{index}", "level": "county", "region": "浙江省/杭州市/西湖区", "role": "department-head"},
                      {"unit": f"区局{node}-{index + 1}", "level": "county", "region": "浙江省/杭州市/西湖区", "role": "department-head"}],
        "agenda": [{"type": "main-speech", "speaker_role": "department-head", "minutes": 45}],
    }
    if contended and index % 3 == 0:
        body["kind"] = "comprehensive"
        body["organizer"]["system"] = ["卫生健康", "教育", "民政"][index % 9 // 3]
    elif contended and index % 3 == 1:
        body["organizer"].update({"unit": "西湖区人民政府", "level": "county", "type": "government", "region": "浙江省/杭州市/西湖区"})
        body["attendees"] = [{"unit": "转塘街道", "level": "township", "region": TOWN, "type": "party-committee",
                              "role": "party-secretary", "reason": "部署重点工作"}]
    return body


def cap_violations(url):
    """Rows above a cap: none may exist (no request of these mixes carries a waiver)."""
    comprehensive = psql(url, """
        SELECT organizer_region, organizer_system, substr(local_date, 1, 4), COUNT(*) FROM occurrence WHERE kind = 'comprehensive'
        GROUP BY 1, 2, 3 HAVING COUNT(*) > 1""").strip()
    township = psql(url, """
        SELECT p.region, substr(p.local_date, 1, 7), COUNT(*) FROM meeting_principal_region p JOIN meeting m ON m.id = p.meeting_id
        WHERE m.status = 'approved' AND m.exempt = 0 GROUP BY 1, 2 HAVING COUNT(*) > 4""").strip()
    return [line for line in (comprehensive + "\n" + township).splitlines() if line]


class Cluster:
    def __init__(self, root):
        # A folder of its own: the server runs as the postgres user, who cannot enter the benchmark's private one.
        self.dir = tempfile.mkdtemp(prefix="meetingd-bench-pg-", dir=os.environ.get("BENCH_WORK"))
        self.url = subprocess.run([CLUSTER_TOOL, "start", self.dir], check=True, capture_output=True, text=True).stdout.strip()
        self.databases = 0

    def fresh(self):
        self.databases += 1
        name = f"bench{self.databases}"
        psql(self.url, f"CREATE DATABASE {name}")
        return self.url.replace("/postgres?", f"/{name}?")

    def stop(self):
        subprocess.run([CLUSTER_TOOL, "stop", self.dir], check=False)


def decision_span(spools):
    """Seconds from the first decision to the last, across the spools' decision logs (their `time`, to the
    millisecond): the rate of deciding, without the process start and each drain's closing feed pass."""
    from datetime import datetime
    times = []
    for spool in spools:
        with open(os.path.join(spool, "log", "decisions.jsonl")) as f:
            lines = [json.loads(line) for line in f if line.strip()]
        times += [datetime.fromisoformat(lines[0]["time"]).timestamp(), datetime.fromisoformat(lines[-1]["time"]).timestamp()]
    return max(times) - min(times)


def throughput(root, cluster, nodes, contended):
    """Decisions per second of `nodes` drains at once, each on N requests of its own spool: by the wall clock
    of the whole drains, and over the span of the decisions themselves."""
    ledger = cluster.fresh() if cluster else None
    spools = []
    for node in range(nodes):
        spool = os.path.join(root, f"tp-{time.monotonic_ns()}-{node}")
        history.drop([request(node, index, contended) for index in range(N)], spool)
        spools.append(spool)
    started = time.monotonic()
    processes = []
    for node, spool in enumerate(spools):
        arguments = [BINARY, "drain", "--spool", spool] + (["--ledger", ledger] if ledger else [])
        environment = {**os.environ}
        processes.append(subprocess.Popen(arguments, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=environment))
    for process in processes:
        _, error = process.communicate()
        if process.returncode != 0:
            raise SystemExit(f"drain failed: {error.decode()[-800:]}")
    elapsed = time.monotonic() - started
    span = decision_span(spools)
    violations = cap_violations(ledger) if ledger else []
    return nodes * N / elapsed, violations, (nodes * N - 1) / span


def capture_statements(root, cluster):
    """The statements one typical approval sends, from the server's log (log_statement = all on a database)."""
    ledger = cluster.fresh()
    database = ledger.split("/")[-1].split("?")[0]
    spool = os.path.join(root, "capture")
    history.drop([request(0, 0, False)], spool)
    subprocess.run([BINARY, "drain", "--spool", spool, "--ledger", ledger], check=True, capture_output=True)  # schema, first decision
    psql(cluster.url, f"ALTER DATABASE {database} SET log_statement = 'all'")
    log = os.path.join(cluster.dir, "server.log")
    mark = os.path.getsize(log)
    history.drop([request(0, 1, False)], spool)
    subprocess.run([BINARY, "drain", "--spool", spool, "--ledger", ledger], check=True, capture_output=True)
    psql(cluster.url, f"ALTER DATABASE {database} RESET log_statement")
    with open(log, errors="replace") as f:
        f.seek(mark)
        text = f.read()
    # Log entries start with a timestamp; a parameter's value (a VEVENT) may span lines.
    entries = re.split(r"\n(?=\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)", text)
    statements = []
    for entry in entries:
        found = re.search(r"LOG:  (?:execute [^:]*|statement): (.*)", entry, re.S)
        if found:
            statements.append([found.group(1).strip(), ""])
        elif "DETAIL:  parameters: " in entry and statements:
            statements[-1][1] = entry.split("DETAIL:  parameters: ", 1)[1]
    return statements


def pgbench_script(statements):
    """The decision's statements with its literal values in place of `$n`, the ids made unique per transaction."""
    body = []
    begun = False
    for sql, parameters in statements:
        values = {}
        if parameters:
            for match in re.finditer(r"\$(\d+) = (NULL|'(?:[^']|'')*')", parameters, re.S):
                values[int(match.group(1))] = match.group(2)
        text = re.sub(r"\$(\d+)", lambda m: values.get(int(m.group(1)), "NULL"), sql)
        if text.startswith("BEGIN ISOLATION LEVEL READ COMMITTED"):
            begun = True  # the decision's transaction, which opens with the look for an interrupted decision of the file
        if not begun:
            continue  # the schema check and start-up reads are not the decision's work
        # Every decision a new id, unit and input: no unique key is hit twice.
        text = text.replace("n0-1", "b:k").replace("单位0-1", "单位:k").replace("r000001.json", "r:k.json").replace("r000000.json", "r:k.json")
        text = text.replace("区局0-1", "区局:k").replace("区局0-2", "区局:k2")
        body.append(" ".join(text.split()) + ";")
        if text.startswith("COMMIT"):
            break
    if not body or not body[-1].startswith("COMMIT"):
        raise SystemExit(f"the floor's script: no decision's transaction found among {len(statements)} statements logged")
    # From 4e18 values: among 1e9, two of the ~10,000 transactions of a run (k, or k + 1) met often enough to
    # abort one run in three on a duplicate key.
    return "\\set k random(1, 4000000000000000000)\n\\set k2 :k + 1\n" + "\n".join(body) + "\n"


def floor(root, cluster, statements, clients):
    ledger = cluster.fresh()
    spool = os.path.join(root, f"floor-{clients}")
    history.drop([request(9, 0, False)], spool)
    subprocess.run([BINARY, "drain", "--spool", spool, "--ledger", ledger], check=True, capture_output=True)  # the schema
    script = os.path.join(root, "decision.sql")
    with open(script, "w") as f:
        f.write(pgbench_script(statements))
    result = subprocess.run(["pgbench", "-n", "-M", "simple", "-f", script, "-c", str(clients), "-j", str(clients),
                             "-T", os.environ.get("BENCH_FLOOR_SECONDS", "15"), "--max-tries", "100", ledger],
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"pgbench failed: {result.stderr[-1500:]}")
    for line in result.stdout.splitlines():
        if line.startswith("tps = "):
            return float(line.split()[2])
    raise SystemExit(f"pgbench printed no tps: {result.stdout}")


def latency(root, cluster, nodes=3, rate=50.0):
    """p50/p99/max drop → decision (the request renamed into approved/) of `nodes` daemons fed `rate`
    requests/s each; `cluster` None: one daemon on its own SQLite ledger."""
    ledger = cluster.fresh() if cluster else None
    daemons, spools = [], []
    for node in range(nodes):
        spool = os.path.join(root, f"lat-{time.monotonic_ns()}-{node}")
        os.makedirs(os.path.join(spool, "incoming"))
        config = spool + ".yaml"
        with open(config, "w") as f:
            f.write(f"spool: {spool}\n" + (f"ledger: {ledger}\n" if ledger else "") + f"node: bench-{node}\nhttp: off\n")
        daemons.append(subprocess.Popen([BINARY, "run", "--config", config], stderr=subprocess.DEVNULL))
        spools.append(spool)
    arrivals = [Arrivals(os.path.join(spool, "approved")) for spool in spools]
    time.sleep(2)
    count = int(rate * LATENCY_SECONDS)
    results = [[] for _ in range(nodes)]

    def feed(node):
        """Drops on a fixed schedule whatever the daemon does (an open loop: a slow decision does not slow the
        load), then reads when each decision's request reached approved/ (inotify, so no polling steals CPU)."""
        spool = spools[node]
        dropped = {}
        started = time.monotonic()
        for index in range(count):
            time.sleep(max(0.0, started + index / rate - time.monotonic()))
            body = request(node, index, False)
            hidden = os.path.join(spool, "incoming", f".r{index}")
            with open(hidden, "w") as f:
                json.dump(body, f, ensure_ascii=False)
            dropped[f"{body['id']}.r1.json"] = time.monotonic()
            os.rename(hidden, os.path.join(spool, "incoming", f"r{index}.json"))
        for name, at in dropped.items():
            results[node].append((arrivals[node].wait(name) - at) * 1000)

    failures = []

    def feed_or_record(node):
        # An exception in a thread is only printed: recorded here and raised below, so that a lost sample (the
        # slowest, most likely) fails the run rather than leaving p99 computed without it.
        try:
            feed(node)
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=feed_or_record, args=(node,)) for node in range(nodes)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        raise SystemExit(f"latency run failed: {failures[0]}")
    assert all(len(r) == count for r in results), "a node lost samples"
    for daemon in daemons:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=30)
    everything = sorted(sum(results, []))
    p = lambda q: everything[min(len(everything) - 1, int(len(everything) * q))]
    return p(0.5), p(0.99), everything[-1], cap_violations(ledger) if ledger else []


def file_creation_micros(root, count=300):
    """Microseconds to create one empty file in a new folder under `root` (the files are kept, see above)."""
    folder = os.path.join(root, "probe")
    os.makedirs(folder)
    started = time.perf_counter()
    for index in range(count):
        os.close(os.open(os.path.join(folder, str(index)), os.O_CREAT | os.O_WRONLY, 0o644))
    return (time.perf_counter() - started) / count * 1e6


def main():
    root = tempfile.mkdtemp(prefix="meetingd-shared-bench-", dir=os.environ.get("BENCH_WORK"))
    cluster = Cluster(root)
    try:
        print(f"# {N} requests per node; {ROUNDS} round(s) per figure (median); creating a file here takes "
              f"{file_creation_micros(root):.0f} µs", flush=True)
        statements = capture_statements(root, cluster)
        runs = [throughput(root, None, 1, False) for _ in range(ROUNDS)]
        sqlite = statistics.median(r[2] for r in runs)
        print(f"sqlite 1 node: {sqlite:.0f} decisions/s ({statistics.median(r[0] for r in runs):.0f} /s by the drain's wall clock)", flush=True)
        rows = {}
        for contended in [False, True]:
            for nodes in [1, 2, 3]:
                runs = [throughput(root, cluster, nodes, contended) for _ in range(ROUNDS)]
                rate = statistics.median(r[2] for r in runs)
                wall = statistics.median(r[0] for r in runs)
                violations = sum(len(r[1]) for r in runs)
                rows[(contended, nodes)] = rate
                print(f"postgresql {nodes} node(s), {'contended' if contended else 'uncontended'}: {rate:.0f} decisions/s "
                      f"({wall:.0f} /s by the drains' wall clock), cap violations {violations}", flush=True)
        floors = {}
        for clients in [1, 2, 3]:
            floors[clients] = floor(root, cluster, statements, clients)
            print(f"floor (pgbench, one decision's statements, {clients} client(s)): {floors[clients]:.0f} tps", flush=True)
        print(f"three nodes uncontended / floor with 3 clients: {rows[(False, 3)] / floors[3]:.2f} (goal >= 0.5)", flush=True)
        print(f"one node on PostgreSQL / one node on SQLite: {rows[(False, 1)] / sqlite:.2f}", flush=True)
        p50, p99, worst, _ = latency(root, None, nodes=1)
        print(f"latency, 1 daemon on SQLite at 50 requests/s: p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {worst:.1f} ms", flush=True)
        for nodes in [1, 2, 3]:
            p50, p99, worst, violations = latency(root, cluster, nodes=nodes)
            print(f"latency, {nodes} daemon(s) on PostgreSQL at 50 requests/s each: p50 {p50:.1f} ms, p99 {p99:.1f} ms, "
                  f"max {worst:.1f} ms (goal p99 <= 50 ms); cap violations {len(violations)}", flush=True)
        script = pgbench_script(statements).splitlines()
        print(f"statements per approval (the floor's script): {sum(1 for line in script if line.endswith(';'))}", flush=True)
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
