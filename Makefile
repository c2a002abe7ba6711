# meetingd — the two commands a newcomer needs:
#   make run    installs what is missing, builds, and runs the daemon on ./spool
#   make test   installs what is missing, builds, and runs every test
SHELL := /bin/bash
PREFIX ?= /usr/local
DESTDIR ?=
SPOOL ?= $(CURDIR)/spool
SWIFT ?= swift
# What building and running need; what the tests add (PostgreSQL, real calendar clients, a real browser).
APT_PACKAGES = libical-dev libsqlite3-dev tzdata pkg-config
APT_TEST_PACKAGES = python3 python3-pip systemd vdirsyncer khal postgresql chromium chromium-driver fonts-noto-cjk
export MEETINGD_REQUIRE_PARSERS = 1
# A crash in a test's child prints its backtrace at once: full symbolication of the debug binary took minutes
# on this machine, with the child's output pipes held open meanwhile.
export SWIFT_BACKTRACE = enable=yes,symbolicate=fast

.PHONY: run test test-postgresql test-pages bench-shared bench-reports build release deps test-deps apt-install python-deps install example clean bench bench-smoke bench-crowded bench-series bench-replay bench-scale bench-latency property replay-check rrule-differential doc-test fuzz

# Debian packages: installed with apt-get only when one is missing.
deps:
	@$(MAKE) --no-print-directory apt-install PACKAGES="$(APT_PACKAGES)"

test-deps: deps
	@$(MAKE) --no-print-directory apt-install PACKAGES="$(APT_TEST_PACKAGES)"

apt-install:
	@missing=""; for p in $(PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

# The independent iCalendar parsers and the JSON Schema validator the tests use (PyPI).
python-deps: test-deps
	@python3 -c "import icalendar, vobject, jsonschema, selenium" 2>/dev/null || \
	  python3 -m pip install --quiet icalendar vobject jsonschema selenium || \
	  python3 -m pip install --quiet --break-system-packages icalendar vobject jsonschema selenium

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

run: build
	mkdir -p $(SPOOL)
	@echo "meetingd: drop requests into $(SPOOL)/incoming (Ctrl-C stops)"
	.build/debug/meetingd run --spool $(SPOOL)

test: python-deps
	$(SWIFT) build --build-tests
	set -o pipefail; $(SWIFT) test --skip-build 2>&1 | tee .build/test.log
	$(MAKE) test-postgresql
	$(MAKE) test-pages
	$(MAKE) property
	$(MAKE) replay-check
	$(MAKE) rrule-differential
	$(MAKE) doc-test
	$(MAKE) bench-smoke
	@# The XCTest totals of both runs (SQLite, then PostgreSQL) once more, last, as the closing line of the run.
	@for log in .build/test.log .build/test-postgresql.log; do \
	  grep -E 'Executed [0-9]+ tests?, with ([0-9]+ tests? skipped and )?[0-9]+ failures?' $$log | tail -1; done | \
	  sed -E 's/.*Executed ([0-9]+) tests?, with (([0-9]+) tests? skipped and )?([0-9]+) failures?.*/\1 0\3 \4/' | \
	  awk '{run += $$1; skipped += $$2; failed += $$3} END {print "tests: " run - skipped - failed " passed, " skipped " skipped, " failed " failed (SQLite and PostgreSQL runs)"}'

# The rule-engine and spool tests again on a PostgreSQL ledger, then three real daemons on one database and
# `ledger copy`, against a throwaway cluster started here (initdb into a temporary folder; stopped and removed
# at the end, whatever happens). Nothing is assumed to be running.
PG_TESTS = MeetingRulesTests|CountedKeysLedgerTests|ScenarioTests|ReportTests|PagesTests|RevisionTests|RecurrenceTests|FeedTests|CrowdedKeyTests|CalendarOutputTests|RobustnessTests|HostileSpoolTests
test-postgresql: python-deps
	$(SWIFT) build --build-tests
	@dir=$$(mktemp -d /tmp/meetingd-pg.XXXXXX); trap 'Tests/tools/pg_cluster.sh stop '"$$dir" EXIT; \
	url=$$(Tests/tools/pg_cluster.sh start $$dir) || exit 1; echo "PostgreSQL for the tests: $$url ($$dir)"; \
	set -o pipefail; \
	MEETINGD_TEST_BACKEND=postgresql MEETINGD_TEST_POSTGRES=$$url $(SWIFT) test --skip-build --filter '$(PG_TESTS)' 2>&1 | \
	  tee .build/test-postgresql.log && \
	MEETINGD_TEST_POSTGRES=$$url python3 Tests/shared/three_offices.py .build/debug/meetingd $$dir && \
	MEETINGD_TEST_POSTGRES=$$url python3 Tests/shared/ledger_copy.py .build/debug/meetingd

# The report and the decision browser in headless Chromium (Selenium), served by a real daemon on 127.0.0.1:
# 1280 px and 390 px, no console errors, no sideways scroll, every chart drawn, hostile values as text, A4
# print. Screenshots and the PDF are kept in .build/artefacts/pages.
test-pages: python-deps
	$(SWIFT) build
	python3 Tests/pages/browser_check.py .build/debug/meetingd .build/artefacts/pages

# Whole-drain property test: thousands of seeded generated, mutated and hostile entries through one real
# `meetingd drain`; every entry in exactly one destination, every calendar parsed, nothing outside the spool.
# PROPERTY_SEED and PROPERTY_COUNT change the seed (default 20261127) and the size (default 2000).
property: python-deps
	python3 Tests/property/drain_property.py .build/debug/meetingd

# Replay's self-check: a generated history of REPLAY_COUNT (default 20,000) requests with every rule firing,
# drained, then replayed under the same settings: zero flips; a tighter setting flips; the spool unchanged.
replay-check: python-deps
	python3 Tests/replay/self_check.py .build/debug/meetingd

# What a series counts is what calendars show: RRULE_COUNT (default 400) seeded random series (RRULE_SEED, default
# 20261208) drained, each approved one's counted starts compared with python-dateutil's and vobject's reading of
# its .ics; every refusal's shape checked against libical itself; the clock changes of New York, Lord Howe and
# Chatham, single meetings and series (Tests/recurrence/rrule_differential.py).
rrule-differential: python-deps
	python3 Tests/recurrence/rrule_differential.py .build/debug/meetingd

# Every command in the README's and docs/'s ```sh blocks, run against a spool of the examples and a daemon
# on 127.0.0.1; the README's size and the docs' topics (Tests/docs/doc_test.py).
doc-test: python-deps
	python3 Tests/docs/doc_test.py .build/debug/meetingd

# libFuzzer (swiftc -sanitize=fuzzer,address) on the request reader and the HTTP date and path parsers,
# seeded with the shared examples, for FUZZ_SECONDS (default 300). Findings land in .build/fuzz/.
FUZZ_SECONDS ?= 300
fuzz: deps
	mkdir -p .build/fuzz/corpus
	cp Tests/MeetingSpoolTests/Fixtures/examples/*.json .build/fuzz/corpus/
	swiftc -sanitize=fuzzer,address -parse-as-library -O Sources/MeetingModel/*.swift Fuzz/RequestReaderFuzz.swift \
	  -o .build/fuzz/request-reader 2>&1 | grep -v "Cannot export local symbol" || true
	cd .build/fuzz && ./request-reader -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -timeout=10 corpus

# Throughput against the file-system floor and a Python peer (Benchmarks/run.sh; figures in BENCHMARKS.md).
bench: python-deps
	bash Benchmarks/run.sh

# Crowded keys: CPU per decision at 2,000 and 6,000 requests on one unit's key and one township's, and ledger
# bytes per decision (Benchmarks/crowded.py; targets: ratio <= 1.3, <= 3 KB).
bench-crowded: release python-deps
	python3 Benchmarks/crowded.py .build/release/meetingd 2000

# Replay against drain --group-commit 100 of the same history, at N and 3N requests (Benchmarks/replay.py;
# goal: replay rate >= 4x drain's). BASELINE=/path/to/older/meetingd adds that binary's drain, before and after.
bench-replay: release python-deps
	python3 Benchmarks/replay.py .build/release/meetingd 5000

# Recurring meetings: CPU and ledger bytes per occurrence of 10- and 30-week series against single meetings
# (Benchmarks/series.py).
bench-series: release python-deps
	python3 Benchmarks/series.py .build/release/meetingd 200

# Several offices on one PostgreSQL: 1, 2 and 3 nodes with and without contention beside SQLite, the pgbench
# floor of one decision's statements, p99 latency of three daemons at 50 requests/s each, cap violations
# (Benchmarks/shared.py; goals: 3 nodes >= 0.5x the floor, p99 <= 50 ms, no violation).
bench-shared: release python-deps
	python3 Benchmarks/shared.py .build/release/meetingd 1500

# Reports on ledgers of 333,333 and 1,000,000 meetings against ledgers of only the year and region reported:
# `report --year --region` and a unit's page of the decision browser (Benchmarks/reports.py; goal: ratio <= 2),
# with the plans. About 6 minutes.
bench-reports: release python-deps
	python3 Benchmarks/reports.py .build/release/meetingd 1000000

# Drop -> decision latency of one daemon at a steady 50 requests/s (Benchmarks/latency.py: p50, p99, max).
bench-latency: release python-deps
	python3 Benchmarks/latency.py .build/release/meetingd .build/bench-latency 50 1500

# Ledgers of 0, 1 M and 10 M meetings (grown from a seed spool meetingd drained itself): start-up, RSS and one
# decision's cost against the empty ledger's (Benchmarks/scale.py; goal: <= 1.5x at 10 M). About 50 minutes and
# 21 GB of disk at 10 M.
SCALE_SIZES ?= 0 1000000 10000000
bench-scale: release python-deps
	python3 Benchmarks/scale.py .build/release/meetingd .build/bench-scale $(SCALE_SIZES)

# The same harness at a tiny size on the debug build: keeps the benchmark scripts working, measures nothing.
bench-smoke: python-deps
	BENCH_REQUESTS=200 BENCH_ROUNDS=1 BENCH_BUILD=debug bash Benchmarks/run.sh
	BENCH_ROUNDS=1 python3 Benchmarks/crowded.py .build/debug/meetingd 100
	BENCH_OCCURRENCES=3 python3 Benchmarks/series.py .build/debug/meetingd 20
	BENCH_ROUNDS=1 python3 Benchmarks/replay.py .build/debug/meetingd 100
	BENCH_FLOOR_SECONDS=2 BENCH_LATENCY_SECONDS=2 python3 Benchmarks/shared.py .build/debug/meetingd 30
	BENCH_ROUNDS=1 BENCH_SMOKE=1 python3 Benchmarks/reports.py .build/debug/meetingd 6000
	python3 Benchmarks/latency.py .build/debug/meetingd .build/bench-latency-smoke 20 40
	BENCH_SEED_REQUESTS=200 BENCH_DECISIONS=20 python3 Benchmarks/scale.py .build/debug/meetingd .build/bench-scale-smoke 0 2000

# Drops the shared examples into ./spool/incoming, their dates moved into this year (scripts/rebase_examples.py:
# whole weeks, so weekdays stay), and decides them: a first look at the outputs, the feeds and the report.
example: build
	python3 scripts/rebase_examples.py Tests/MeetingSpoolTests/Fixtures/examples $(SPOOL)
	.build/debug/meetingd drain --spool $(SPOOL)

# Honours DESTDIR and PREFIX; the unit's ExecStart follows PREFIX.
UNITDIR ?= /etc/systemd/system
install: release
	install -D -m 0755 .build/release/meetingd $(DESTDIR)$(PREFIX)/bin/meetingd
	@# The config names the ledger the unit uses, so commands run by hand read the daemon's ledger; an existing
	@# config is the administrator's and is kept (the new defaults go beside it).
	install -d $(DESTDIR)/etc/meetingd
	sed 's|^ledger: null$$|ledger: /var/lib/meetingd/ledger.sqlite|' etc/meetingd.yaml > $(DESTDIR)/etc/meetingd/meetingd.yaml.dist
	[ -e $(DESTDIR)/etc/meetingd/meetingd.yaml ] || cp $(DESTDIR)/etc/meetingd/meetingd.yaml.dist $(DESTDIR)/etc/meetingd/meetingd.yaml
	install -D -m 0644 README.md $(DESTDIR)$(PREFIX)/share/doc/meetingd/README.md
	install -d $(DESTDIR)$(UNITDIR)
	sed 's|/usr/local|$(PREFIX)|g' systemd/meetingd.service > $(DESTDIR)$(UNITDIR)/meetingd.service
	install -D -m 0644 systemd/meetingd.sysusers $(DESTDIR)/etc/sysusers.d/meetingd.conf
	install -D -m 0644 systemd/meetingd.tmpfiles $(DESTDIR)/etc/tmpfiles.d/meetingd.conf

clean:
	rm -rf .build $(SPOOL)
