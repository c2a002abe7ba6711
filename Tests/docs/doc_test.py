#!/usr/bin/env python3
"""Every command in the README's and docs/'s ```sh blocks is run, so the docs cannot rot.

Usage: doc_test.py MEETINGD

In a scratch folder that holds `./spool` with the shared examples decided (as `make example` leaves it, dates
moved into this year), a config file pointing there, and a daemon serving that spool on 127.0.0.1 (the docs'
`127.0.0.1:8080` and `localhost:8080` are pointed at it):
- `meetingd …` runs the built binary, with `--config` added when the command takes one and names none, and
  must exit 0 (`meetingd check` may exit 1: some rejected), or the status a `# exits N` comment gives;
- `make TARGET…` must be a target the Makefile can make (`make -n`); `make example` runs for real;
- `curl`, `cp`, `mv`, `cat`, `ls`, `head`, `grep`, `python3` and `jq` lines run as they are (in the scratch folder);
- anything else in a ```sh block fails the test: commands a test cannot run (sudo, systemctl, psql against a
  real server) belong in a ```text block.
Prints one line per failing command and `N passed, N failed`.
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOPICS = ["requests-and-rules.md", "configuration.md", "operations.md", "feeds-and-http.md", "shared-ledger.md",
          "reports-and-replay.md", "architecture.md", "testing.md", "performance.md"]
PLAIN = {"curl", "cp", "mv", "cat", "ls", "head", "grep", "python3", "jq", "mkdir", "echo", "test", "wc", "sort"}


def shell_blocks(path):
    """(line number, command) of every command line of every ```sh block, continuation lines joined."""
    commands = []
    inside = False
    pending, start = "", 0
    for number, line in enumerate(open(path, encoding="utf-8"), 1):
        stripped = line.strip()
        if stripped.startswith("```"):
            inside = not inside and stripped in ("```sh", "```shell", "```bash", "```console")
            continue
        if not inside or (not stripped and not pending):
            continue
        if stripped.startswith("$ "):
            stripped = stripped[2:]
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        command = pending + stripped
        pending = ""
        if command and not command.startswith("#"):
            commands.append((start, command))
    return commands


def expected_status(command):
    match = re.search(r"#\s*exits (\d+)", command)
    return int(match.group(1)) if match else None


def without_comment(command):
    # A comment starts at " #" outside quotes.
    quote = None
    for index, char in enumerate(command):
        if char in "'\"":
            quote = None if quote == char else (quote or char)
        elif char == "#" and quote is None and (index == 0 or command[index - 1] == " "):
            return command[:index].rstrip()
    return command


def takes_config(meetingd, words):
    subcommand = [w for w in words[1:3] if not w.startswith("-")]
    result = subprocess.run([meetingd] + subcommand + ["--help"], capture_output=True, text=True)
    return "--config" in result.stdout


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main():
    meetingd = os.path.abspath(sys.argv[1])
    scratch = tempfile.mkdtemp(prefix="meetingd-docs-")
    spool = os.path.join(scratch, "spool")
    subprocess.run([sys.executable, os.path.join(ROOT, "scripts/rebase_examples.py"),
                    os.path.join(ROOT, "Tests/MeetingSpoolTests/Fixtures/examples"), spool], check=True, capture_output=True)
    subprocess.run([meetingd, "drain", "--spool", spool], check=True, capture_output=True)
    # What a newcomer must see after `make example`: approved meetings in this year's report, and a feed with
    # events in it.
    proof = []
    report = json.loads(subprocess.run([meetingd, "report", "--spool", spool, "--format", "json"], check=True,
                                       capture_output=True, text=True).stdout)
    if report["totals"]["approved"] < 1:
        proof.append(f"the examples leave this year's report without an approved meeting: {report['totals']}")
    if b"BEGIN:VEVENT" not in open(os.path.join(spool, "feeds", "all.ics"), "rb").read():
        proof.append("the examples leave feeds/all.ics without an event")
    port = free_port()
    config = os.path.join(scratch, "meetingd.yaml")
    with open(config, "w") as out:
        out.write(f"spool: {spool}\nhttp: 127.0.0.1:{port}\n")
    # A request of the reader's own, as the README's session drops one.
    approved = sorted(n for n in os.listdir(os.path.join(spool, "approved")) if n.endswith(".json"))[0]
    request = json.load(open(os.path.join(spool, "approved", approved), encoding="utf-8"))
    request["id"] = "my-request-1"
    with open(os.path.join(scratch, "my-request.json"), "w", encoding="utf-8") as out:
        json.dump(request, out, ensure_ascii=False)
    daemon = subprocess.Popen([meetingd, "run", "--config", config], cwd=scratch, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    documents = [os.path.join(ROOT, "README.md")] + sorted(
        os.path.join(ROOT, "docs", n) for n in os.listdir(os.path.join(ROOT, "docs")) if n.endswith(".md"))
    passed, failures = (0, proof) if proof else (2, [])
    env = dict(os.environ, PATH=os.path.dirname(meetingd) + os.pathsep + os.environ["PATH"])
    try:
        for document in documents:
            name = os.path.relpath(document, ROOT)
            for number, raw in shell_blocks(document):
                wanted = expected_status(raw)
                command = without_comment(raw)
                if not command:
                    continue
                command = command.replace("127.0.0.1:8080", f"127.0.0.1:{port}").replace("localhost:8080", f"127.0.0.1:{port}")
                words = command.split()
                where = f"{name}:{number}: {raw}"
                if words[0] == "make":
                    targets = [w for w in words[1:] if "=" not in w and not w.startswith("-")] or ["all"]
                    if targets == ["example"]:
                        # A spool of its own: the daemon holds the scratch one, and drain refuses a held spool.
                        run = subprocess.run(["make", "-s", "-C", ROOT, "example", f"SPOOL={scratch}/example-spool"],
                                             capture_output=True, text=True)
                    else:
                        run = subprocess.run(["make", "-n", "-C", ROOT] + targets, capture_output=True, text=True)
                    ok = run.returncode == 0
                elif words[0] == "meetingd" or words[0] in PLAIN or words[0].startswith("./"):
                    if words[0] == "meetingd" and "--config" not in words and "--ledger" not in words and takes_config(meetingd, words):
                        subcommand_end = next((i for i, w in enumerate(words[1:], 1) if w.startswith("-")), len(words))
                        command = " ".join(words[:subcommand_end] + ["--config", config] + words[subcommand_end:])
                    run = subprocess.run(command, shell=True, cwd=scratch, env=env, capture_output=True, text=True, timeout=120)
                    allowed = {wanted} if wanted is not None else ({0, 1} if words[:2] == ["meetingd", "check"] else {0})
                    ok = run.returncode in allowed
                else:
                    failures.append(f"{where}\n    not a command a test can run: put it in a ```text block")
                    continue
                if ok:
                    passed += 1
                else:
                    failures.append(f"{where}\n    exit {run.returncode}: {(run.stderr or run.stdout).strip()[:300]}")
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=30)
        shutil.rmtree(scratch, ignore_errors=True)
    # The README stays a newcomer's guide; the rest has its own page.
    size = os.path.getsize(os.path.join(ROOT, "README.md"))
    if size > 12 * 1024:
        failures.append(f"README.md is {size} bytes, over 12 KB: move the detail into docs/")
    else:
        passed += 1
    for topic in TOPICS:
        if not os.path.exists(os.path.join(ROOT, "docs", topic)):
            failures.append(f"docs/{topic} is missing")
        elif f"docs/{topic}" not in open(os.path.join(ROOT, "README.md"), encoding="utf-8").read():
            failures.append(f"README.md does not link docs/{topic}")
        else:
            passed += 1
    for failure in failures:
        print("FAIL", failure)
    print(f"doc test: {passed} passed, {len(failures)} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
