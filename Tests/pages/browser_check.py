#!/usr/bin/env python3
"""The report and the decision browser in a real browser: headless Chromium (Debian's chromium and
chromium-driver, driven by Selenium) opens the pages a real `meetingd run` serves on 127.0.0.1, at 1280 px and
at 390 px: no console errors, no script on the page, no sideways scroll of the page itself, every chart's SVG
present and drawn, hostile values shown as text. The report also prints to an A4 PDF. Screenshots and the PDF
are kept in ARTEFACTS (default .build/artefacts/pages).

Usage: browser_check.py MEETINGD [ARTEFACTS]
"""
import base64
import json
import re
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "replay"))
import history  # noqa: E402

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.print_page_options import PrintOptions  # noqa: E402

BINARY = os.path.abspath(sys.argv[1])
ARTEFACTS = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else ".build/artefacts/pages")
HOSTILE_TITLE = "<script>window.hacked=1</script> \"q\" 'x' \u200fRTL\u202e &amp;"
LONG_UNIT = "县" * 193 + "卫生健康委员会"
failures = []
passed = 0


def check(condition, message):
    global passed
    if condition:
        passed += 1
    else:
        failures.append(message)
        print("FAIL:", message, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def hostile(index, day, kind="on-site"):
    return {"format": 1, "id": f"hostile-{index}", "revision": 1, "title": HOSTILE_TITLE, "kind": kind,
            "organizer": {"unit": LONG_UNIT, "level": "city", "type": "department", "system": "卫生健康", "region": "浙江省/杭州市"},
            "convener": {"rank": "principal"}, "start": f"{day}T09:00:00+08:00", "end": f"{day}T11:00:00+08:00",
            "plan_ref": "计划第1项", "location": "杭州市民中心",
            "attendees": [{"unit": "西湖区卫生健康局", "level": "county", "region": "浙江省/杭州市/西湖区", "role": "department-head", "required": True}]}


def main():
    os.makedirs(ARTEFACTS, exist_ok=True)
    root = tempfile.mkdtemp(prefix="meetingd-pages-")
    spool = os.path.join(root, "spool")
    long_id = "L" * 128  # the longest id, nothing to break it on
    requests = history.history(400, seed=11) + [hostile(i, f"2025-0{4 + i}-10") for i in range(3)] \
        + [dict(hostile(9, "2025-09-09", kind="business"), id=long_id)]
    history.drop(requests, spool)
    drained = subprocess.run([BINARY, "drain", "--spool", spool], capture_output=True, text=True)
    check(drained.returncode in (0, 1, 2), f"drain ran: {drained.stderr[-300:]}")
    # The year the history holds most of.
    years = {}
    for year in range(2024, 2028):
        report = json.loads(subprocess.run([BINARY, "report", "--spool", spool, "--year", str(year), "--format", "json"],
                                           capture_output=True, text=True, check=True).stdout)
        years[year] = report["totals"]["approved"] + report["totals"]["rejected"]
    year = max(years, key=years.get)
    check(years[year] > 50, f"the history fills a year: {years}")

    port = free_port()
    log = open(os.path.join(root, "daemon.log"), "w")
    daemon = subprocess.Popen([BINARY, "run", "--spool", spool, "--http", f"127.0.0.1:{port}"], stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        up = False
        for _ in range(300):
            if daemon.poll() is not None:
                break
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1)
                up = True
                break
            except OSError:
                time.sleep(0.1)
        if not up:
            log.flush()
            with open(log.name) as f:
                print(f.read()[-3000:], flush=True)
            raise SystemExit(f"the daemon did not come up (exit {daemon.poll()})")
        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        for argument in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars"]:
            options.add_argument(argument)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
        try:
            pages = [("report", f"/report/?year={year}", ["chart-months", "chart-calendar", "chart-township", "chart-bars", "bar"]),
                     ("decisions", "/decisions/", []),
                     ("decisions-hostile", "/decisions/?unit=" + urllib.parse.quote(LONG_UNIT), []),
                     ("history-hostile", "/decisions/hostile-2", []),
                     ("history-long-id", "/decisions/" + long_id, []),
                     ("feeds-index", "/", [])]
            for name, path, charts in pages:
                for width in (1280, 390):
                    driver.set_window_size(width, 900)
                    driver.get(base + path)
                    # The viewport's width as the page sees it: what "no sideways scroll" is measured against.
                    metrics = driver.execute_script("""
                        return {scroll: document.documentElement.scrollWidth, viewport: document.documentElement.clientWidth,
                                scripts: document.querySelectorAll('script').length, hacked: window.hacked === 1,
                                title: document.title, text: document.body.innerText}""")
                    where = f"{name} at {width} px"
                    check(metrics["scroll"] <= metrics["viewport"], f"{where}: the page scrolls sideways ({metrics['scroll']} > {metrics['viewport']})")
                    check(metrics["scripts"] == 0 and not metrics["hacked"], f"{where}: no script on the page, none run")
                    errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
                    check(not errors, f"{where}: console errors {errors[:3]}")
                    for chart in charts:
                        boxes = driver.execute_script(
                            "return Array.from(document.querySelectorAll('svg.' + arguments[0].split(' ').join('.')))"
                            ".map(s => { const r = s.getBoundingClientRect(); return [r.width, r.height, r.right]; })", chart)
                        check(boxes and all(w > 0 and h > 0 for w, h, _ in boxes), f"{where}: chart {chart} drawn ({boxes[:2]})")
                        check(all(right <= metrics["viewport"] + 1 for _, _, right in boxes), f"{where}: chart {chart} fits the width")
                    if name.endswith("hostile"):
                        check(HOSTILE_TITLE.replace("\u200f", "").replace("\u202e", "")[:30] in metrics["text"].replace("\u200f", "").replace("\u202e", ""),
                              f"{where}: the hostile title is shown as text")
                    if name == "decisions-hostile":
                        check(LONG_UNIT in metrics["text"], f"{where}: the 200-character unit is shown whole")
                    # The whole page in one picture: the window as tall as the page.
                    height = driver.execute_script("return document.documentElement.scrollHeight")
                    driver.set_window_size(width, min(height + 120, 16000))
                    driver.save_screenshot(os.path.join(ARTEFACTS, f"{name}-{width}.png"))
            # Links between the pages, both ways.
            driver.get(base + "/")
            links = driver.execute_script("return Array.from(document.querySelectorAll('a')).map(a => a.getAttribute('href'))")
            check("/report/" in links and "/decisions/" in links, f"the feeds index links to the report and the browser: {links[:5]}")
            driver.get(base + "/report/")
            links = driver.execute_script("return Array.from(document.querySelectorAll('nav a')).map(a => a.getAttribute('href'))")
            check(links == ["/", "/report/", "/decisions/"], f"the report links back: {links}")
            # Printed on A4: with the print stylesheet at an A4 page's width (794 px at 96 dpi), the navigation is
            # hidden, no chart or table row may be cut by a page break, and nothing is wider than the page.
            driver.set_window_size(794, 1123)
            driver.get(base + f"/report/?year={year}")
            driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
            printed = driver.execute_script("""
                const svgs = Array.from(document.querySelectorAll('svg'));
                return {nav: getComputedStyle(document.querySelector('nav')).display,
                        unbreakable: svgs.every(s => getComputedStyle(s).breakInside === 'avoid'),
                        widest: Math.max(...svgs.map(s => s.getBoundingClientRect().right)),
                        scroll: document.documentElement.scrollWidth, viewport: document.documentElement.clientWidth}""")
            check(printed["nav"] == "none", f"print: the navigation is hidden ({printed['nav']})")
            check(printed["unbreakable"], "print: no chart is cut by a page break (break-inside: avoid)")
            check(printed["widest"] <= printed["viewport"] and printed["scroll"] <= printed["viewport"], f"print: everything fits the page's width {printed}")
            driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
            # The PDF Chromium prints: A4 pages (595 x 842 points).
            options = PrintOptions()
            options.page_width, options.page_height = 21.0, 29.7
            pdf = base64.b64decode(driver.print_page(options))
            with open(os.path.join(ARTEFACTS, "report.pdf"), "wb") as f:
                f.write(pdf)
            boxes = re.findall(rb"/MediaBox\s*\[\s*0\s+0\s+([0-9.]+)\s+([0-9.]+)", pdf)
            pages = len(boxes)
            check(pdf.startswith(b"%PDF") and pages >= 1 and all(abs(float(w) - 595.3) < 2 and abs(float(h) - 841.9) < 2 for w, h in boxes),
                  f"the report prints on A4: {pages} pages, boxes {boxes[:2]}")
        finally:
            driver.quit()
    finally:
        daemon.send_signal(signal.SIGTERM)
        try:
            status = daemon.wait(timeout=30)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()
            status = None
        check(status == 0, f"the daemon stops on SIGTERM with exit 0 (exit {status}; log {log.name})")
    print(f"pages in a browser: {passed} checks passed, {len(failures)} failed (screenshots in {ARTEFACTS})", flush=True)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
