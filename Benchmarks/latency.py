#!/usr/bin/env python3
"""Drop → decision latency of the running daemon at a steady rate.

Starts `meetingd run` on a fresh spool (fake NOTIFY_SOCKET for READY), renames COUNT requests into incoming/
at RATE per second, and for each measures the time from the rename until its approved/<id>.ics arrives (inotify).
Usage: latency.py MEETINGD WORKDIR [RATE=50] [COUNT=500]. Prints p50, p99 and max in milliseconds."""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

from arrivals import Arrivals


def main():
    binary, work = sys.argv[1], sys.argv[2]
    rate = float(sys.argv[3]) if len(sys.argv) > 3 else 50
    count = int(sys.argv[4]) if len(sys.argv) > 4 else 500
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(os.path.join(work, "incoming"))
    notify_path = os.path.join(work, "notify.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(notify_path)
    listener.settimeout(60)
    daemon = subprocess.Popen([binary, "run", "--spool", work, "--http", "off"], env={**os.environ, "NOTIFY_SOCKET": notify_path},
                              stderr=subprocess.DEVNULL)
    try:
        while b"READY=1" not in listener.recv(4096):
            pass
        arrivals = Arrivals(os.path.join(work, "approved"))  # told by inotify, not polled (a poller steals a core's share)
        latencies = []
        started = time.monotonic()
        for index in range(count):
            due = started + index / rate
            time.sleep(max(0.0, due - time.monotonic()))
            request = {"format": 1, "id": f"lat-{index}", "title": f"延迟测试 {index}", "kind": "business",
                       "organizer": {"unit": f"单位{index}", "level": "city", "type": "department", "region": "浙江省/杭州市"},
                       "convener": {"rank": "principal"}, "start": "2027-03-18T09:00:00+08:00", "end": "2027-03-18T11:00:00+08:00",
                       "plan_ref": "计划", "attendees": [{"unit": f"区局{index}", "level": "county", "region": "浙江省/杭州市/西湖区",
                                                          "role": "department-head"}]}
            hidden = os.path.join(work, "incoming", f".lat-{index}")
            with open(hidden, "w", encoding="utf-8") as handle:
                json.dump(request, handle, ensure_ascii=False)
            dropped = time.monotonic()
            os.rename(hidden, os.path.join(work, "incoming", f"lat-{index}.json"))
            latencies.append((arrivals.wait(f"lat-{index}.ics") - dropped) * 1000)
        latencies.sort()
        p50 = latencies[len(latencies) // 2]
        p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
        print(f"{count} {rate:.0f} {p50:.2f} {p99:.2f} {latencies[-1]:.2f}")
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=30)


if __name__ == "__main__":
    main()
