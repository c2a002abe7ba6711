import Foundation
import MeetingCalendar
import MeetingLedger
import MeetingModel
import MeetingRules
import MeetingSpool
import TestSupport
import XCTest

/// Recurring meetings (`shared/spec/recurrence.md`): every occurrence checked and counted on its own.
final class RecurrenceTests: XCTestCase {
    /// A county government's weekly meeting that requires the party secretary of 转塘街道.
    static func weekly(id: String = "xh-weekly", revision: Int = 1, start: String = "2025-09-02T09:00:00+08:00",
                       end: String = "2025-09-02T10:00:00+08:00", recurrence: String? = #"{"rrule": "FREQ=WEEKLY;BYDAY=TU;UNTIL=20250930"}"#,
                       timezone: String = "Asia/Shanghai") -> String {
        """
        {"format": 1, "id": "\(id)", "revision": \(revision), "title": "西湖区每周工作例会 \(id)", "kind": "routine",
         "organizer": {"unit": "西湖区人民政府办公室", "level": "county", "type": "government", "region": "浙江省/杭州市/西湖区"},
         "convener": {"rank": "principal"}, "start": "\(start)", "end": "\(end)", "timezone": "\(timezone)",
         "plan_ref": "西政办〔2025〕3号",
         "attendees": [{"unit": "转塘街道", "level": "township", "region": "浙江省/杭州市/西湖区/转塘街道", "role": "party-secretary",
                        "type": "party-committee", "reason": "例会部署"}]\(recurrence.map { #", "recurrence": "# + $0 } ?? "")}
        """
    }

    func test_weeklySeries_overATownshipPrincipalsLoad_failsOnItsFifthTuesday_andCountsEveryOccurrence() throws {
        let spool = try TestSpool()
        let pipeline = try spool.pipeline()

        // September 2025 has five Tuesdays; the principal may be called to four meetings a month.
        try spool.drop("series.json", json: Self.weekly())
        try pipeline.drain()
        XCTAssertEqual(spool.files("rejected"), ["xh-weekly.r1.json", "xh-weekly.txt"])
        var line = try XCTUnwrap(spool.logLines().last)
        XCTAssertEqual(line["occurrences"], .integer(5))
        let violations = try XCTUnwrap(line["violations"].flatMap { if case let .array(items) = $0 { items } else { nil } })
        XCTAssertEqual(violations.map { $0["rule"] }, [.string("township-leader-load")])
        XCTAssertEqual(violations[0]["dates"], .array([.string("2025-09-30")]), "the fifth date, and only it, fails")
        let note = try spool.text("rejected/xh-weekly.txt")
        XCTAssertTrue(note.contains("未通过的日期 Failing dates: 2025-09-30"), note)
        XCTAssertTrue(note.contains(#""exdates": ["2025-09-30"]"#), "the fix names the dates to exclude:\n\(note)")
        XCTAssertTrue(note.contains("共 5 次 / 5 occurrences"), note)

        // The fix the note gives: the same series without its fifth date.
        try spool.drop("series-2.json", json: Self.weekly(revision: 2,
            recurrence: #"{"rrule": "FREQ=WEEKLY;BYDAY=TU;UNTIL=20250930", "exdates": ["2025-09-30"]}"#))
        try pipeline.drain()
        XCTAssertTrue(spool.files("approved").contains("xh-weekly.ics"))
        line = try XCTUnwrap(spool.logLines().last)
        XCTAssertEqual(line["verdict"], .string("approved"))
        XCTAssertEqual(line["occurrences"], .integer(4))
        let calendar = try spool.text("approved/xh-weekly.ics")
        XCTAssertEqual(calendar.components(separatedBy: "BEGIN:VEVENT").count, 2, "one VEVENT for the series")
        XCTAssertTrue(calendar.contains("RRULE:FREQ=WEEKLY;UNTIL=20250930T155959Z;BYDAY=TU\r\n"), calendar)
        XCTAssertTrue(calendar.contains("EXDATE;TZID=Asia/Shanghai:20250930T090000\r\n"), calendar)
        assertCalendarsPass([spool.url("approved/xh-weekly.ics")])

        // Every occurrence counts: one more meeting that month requiring the same principal is over the load.
        let single = Self.weekly(id: "xh-single", start: "2025-09-25T14:00:00+08:00", end: "2025-09-25T15:00:00+08:00", recurrence: nil)
        try spool.drop("single.json", json: single)
        try pipeline.drain()
        line = try XCTUnwrap(spool.logLines().last)
        XCTAssertEqual(line["verdict"], .string("rejected"))
        XCTAssertNil(line["occurrences"], "one meeting is not a series")
        let facts = try XCTUnwrap(spool.text("rejected/xh-single.txt"))
        for date in ["2025-09-02", "2025-09-09", "2025-09-16", "2025-09-23"] {
            XCTAssertTrue(facts.contains("xh-weekly  \(date)"), "the series' occurrence on \(date) is counted:\n\(facts)")
        }

        // Withdrawn, the series frees every place: the single meeting passes as its next revision.
        try spool.drop("withdraw.json", json: #"{"format": 1, "id": "xh-weekly", "action": "withdraw"}"#)
        try spool.drop("single-2.json", json: single.replacingOccurrences(of: #""revision": 1"#, with: #""revision": 2"#))
        try pipeline.drain()
        XCTAssertEqual(try spool.logLines().suffix(2).map { $0["verdict"] }, [.string("withdrawn"), .string("approved")])
        let cancelled = try spool.text("approved/xh-weekly.ics")
        XCTAssertTrue(cancelled.contains("STATUS:CANCELLED") && cancelled.contains("RRULE:"), "the whole series is cancelled")
    }

    /// Killed after the rejection of a series is committed, the next run writes the note from the ledger's
    /// decision: the same note, its own earlier occurrences named with the series' title.
    func test_aRejectedSeries_interruptedAfterItsCommit_getsTheSameNote() throws {
        let uninterrupted = try TestSpool()
        try uninterrupted.drop("series.json", json: Self.weekly())
        try uninterrupted.pipeline().drain()
        let expected = try uninterrupted.text("rejected/xh-weekly.txt")
        XCTAssertTrue(expected.contains("xh-weekly  2025-09-02  西湖区每周工作例会 xh-weekly"), expected)

        let spool = try TestSpool()
        try spool.drop("series.json", json: Self.weekly())
        let crashing = try spool.pipeline()
        crashing.faultInjector = { step, _ in if step == .afterLedgerCommit { throw RobustnessTests.InjectedCrash() } }
        XCTAssertThrowsError(try crashing.drain())
        XCTAssertEqual(spool.files("rejected"), [], "killed before the note")
        let outcomes = try spool.pipeline().drain()
        XCTAssertEqual(outcomes.map(\.resumed), [true])
        XCTAssertEqual(try spool.text("rejected/xh-weekly.txt"), expected)
        XCTAssertEqual(try spool.logLines().last?["occurrences"], .integer(5))
    }

    func test_aRevision_replacesTheWholeSeries_inTheLedgersCounts() throws {
        let spool = try TestSpool()
        let pipeline = try spool.pipeline()
        try spool.drop("a.json", json: Self.weekly(recurrence: #"{"rrule": "FREQ=WEEKLY;BYDAY=TU;COUNT=3"}"#))
        try pipeline.drain()
        let september = LocalDate("2025-09-01")!...LocalDate("2025-09-30")!
        let query = MeetingQuery(startDates: september, grassrootsPrincipalRegion: "浙江省/杭州市/西湖区/转塘街道")
        XCTAssertEqual(try pipeline.ledger.read { try $0.countApproved(matching: query) }, 3)
        XCTAssertEqual(try pipeline.ledger.read { try $0.approvedStartDates(matching: query) }.map(\.description),
                       ["2025-09-02", "2025-09-09", "2025-09-16"])
        // The same id as a daily series of two: the three weekly places are freed, two daily ones taken.
        try spool.drop("b.json", json: Self.weekly(revision: 2, recurrence: #"{"rrule": "FREQ=DAILY;COUNT=2"}"#))
        try pipeline.drain()
        XCTAssertEqual(try pipeline.ledger.read { try $0.approvedStartDates(matching: query) }.map(\.description),
                       ["2025-09-02", "2025-09-03"])
        let listed = try pipeline.ledger.read { try $0.approvedMeetings(matching: query) }
        XCTAssertEqual(listed.map(\.localStartDate.description), ["2025-09-02", "2025-09-03"])
        XCTAssertEqual(listed.map(\.start), [RFC3339.parse("2025-09-02T09:00:00+08:00")!.instant, RFC3339.parse("2025-09-03T09:00:00+08:00")!.instant])
        XCTAssertEqual(listed.map(\.grassrootsPrincipalRegions), [["浙江省/杭州市/西湖区/转塘街道"], ["浙江省/杭州市/西湖区/转塘街道"]])
    }

    /// Each class of broken series is invalid at its own path.
    func test_brokenSeries_areInvalid_namingTheField() throws {
        var settings = RuleSettingsSet()
        settings.recurrence = RecurrenceLimits(maxOccurrences: 10, maxSpanDays: 60)
        let parser = DecisionPipeline.parser(timeZone: "Asia/Shanghai", settings: settings)
        let cases: [(String, String, String)] = [
            (#"{"rrule": "FREQ=WEEKLY;BYDAY=TU"}"#, "$.recurrence.rrule", "never ends"),
            (#"{"rrule": "FREQ=WEEKLY;BYDAY=XX;COUNT=3"}"#, "$.recurrence.rrule", "libical"),
            (#"{"rrule": "FREQ=FORTNIGHTLY;COUNT=3"}"#, "$.recurrence.rrule", "libical"),
            (#"{"rrule": "FREQ=WEEKLY;COUNT=3;UNTIL=20250930"}"#, "$.recurrence.rrule", "both"),
            (#"{"rrule": "FREQ=WEEKLY;COUNT=0"}"#, "$.recurrence.rrule", "COUNT=0"),
            (#"{"rrule": "FREQ=WEEKLY;UNTIL=2025-09-30"}"#, "$.recurrence.rrule", "UNTIL"),
            (#"{"rrule": "FREQ=WEEKLY;UNTIL=20250930T120000"}"#, "$.recurrence.rrule", "UNTIL"),
            (#"{"rrule": "FREQ=WEEKLY;COUNT=3;RSCALE=CHINESE"}"#, "$.recurrence.rrule", "RSCALE"),
            (#"{"rrule": "FREQ=WEEKLY;COUNT=3;COUNT=4"}"#, "$.recurrence.rrule", "twice"),
            (#"{"rrule": "FREQ=WEEKLY;BYDAY=WE;COUNT=3"}"#, "$.recurrence.rrule", "not an occurrence"),
            (#"{"rrule": "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30;COUNT=2"}"#, "$.recurrence.rrule", "never fall on the same date"),
            (#"{"rrule": "FREQ=DAILY;BYMONTH=4,6;BYMONTHDAY=31;COUNT=2"}"#, "$.recurrence.rrule", "never fall on the same date"),
            (#"{"rrule": "FREQ=YEARLY;BYYEARDAY=366;BYMONTH=1;COUNT=2"}"#, "$.recurrence.rrule", "libical byyearday-bymonth"),
            (#"{"rrule": "FREQ=WEEKLY;BYDAY=MO,TU;BYSETPOS=2;COUNT=3"}"#, "$.recurrence.rrule", #"write the equivalent "FREQ=WEEKLY;BYDAY=TU;COUNT=3""#),
            (#"{"rrule": "FREQ=YEARLY;BYMONTHDAY=2,16;COUNT=3"}"#, "$.recurrence.rrule", "BYMONTH=1,2,3,4,5,6,7,8,9,10,11,12;COUNT=3"),
            (#"{"rrule": "FREQ=HOURLY;COUNT=3"}"#, "$.recurrence.rrule", "daily, weekly, monthly or yearly"),
            (#"{"rrule": "FREQ=SECONDLY;BYMONTHDAY=31;BYMONTH=4;COUNT=2"}"#, "$.recurrence.rrule", "daily, weekly, monthly or yearly"),
            (#"{"rrule": "FREQ=DAILY;BYHOUR=9,14;COUNT=4"}"#, "$.recurrence.rrule", "time of day"),
            (#"{"rrule": "FREQ=MONTHLY;BYWEEKNO=20;COUNT=2"}"#, "$.recurrence.rrule", "BYWEEKNO"),
            (#"{"rrule": "FREQ=WEEKLY;BYMONTHDAY=2;COUNT=2"}"#, "$.recurrence.rrule", "BYMONTHDAY"),
            (#"{"rrule": "FREQ=MONTHLY;BYSETPOS=2,3;COUNT=2"}"#, "$.recurrence.rrule", "BYSETPOS"),
            (#"{"rrule": "FREQ=DAILY;BYDAY=2TU;COUNT=2"}"#, "$.recurrence.rrule", "ordinal"),
            (#"{"rrule": "FREQ=MONTHLY;BYDAY=6TU;COUNT=2"}"#, "$.recurrence.rrule", "at most 5"),
            (#"{"rrule": "FREQ=DAILY;COUNT=11"}"#, "$.recurrence.rrule", "max_occurrences (10)"),
            (#"{"rrule": "FREQ=DAILY;COUNT=12", "exdates": ["2025-09-03", "2025-09-04"]}"#, "", ""),
            (#"{"rrule": "FREQ=MONTHLY;COUNT=3"}"#, "$.recurrence.rrule", "max_span_days (60)"),
            // The second occurrence a year after the first: far past the span, not just a day past it.
            (#"{"rrule": "FREQ=YEARLY;COUNT=2"}"#, "$.recurrence.rrule", "max_span_days (60)"),
            (#"{"rrule": "FREQ=WEEKLY;UNTIL=20261231"}"#, "$.recurrence.rrule", "max_span_days (60)"),
            (#"{"rrule": "FREQ=WEEKLY;COUNT=2", "exdates": ["2025-09-03"]}"#, "$.recurrence.exdates[0]", "not the date of an occurrence"),
            (#"{"rrule": "FREQ=WEEKLY;COUNT=2", "exdates": ["2025-09-02", "2025-09-09"]}"#, "$.recurrence.exdates", "no occurrence is left"),
            (#"{"rrule": "FREQ=WEEKLY;COUNT=2", "exdates": ["2025-09-09", "2025-09-09"]}"#, "$.recurrence.exdates[1]", "twice"),
            (#"{"rrule": "FREQ=WEEKLY;COUNT=2", "exdates": ["9/9/2025"]}"#, "$.recurrence.exdates[0]", "not a date"),
            (#"{"rrule": "FREQ=WEEKLY;COUNT=2", "exdates": "2025-09-09"}"#, "$.recurrence.exdates", "expected an array"),
            (#"{"exdates": []}"#, "$.recurrence.rrule", "missing"),
            (#"{"rrule": "  "}"#, "$.recurrence.rrule", "must not be empty"),
            (#""weekly""#, "$.recurrence", "expected an object"),
        ]
        for (recurrence, path, words) in cases {
            let result = parser.parse(Array(Self.weekly(recurrence: recurrence).utf8))
            if path.isEmpty {
                guard case let .success(.proposal(request)) = result else { XCTFail("\(recurrence): \(result)"); continue }
                XCTAssertEqual(request.recurrence?.occurrences.count, 10, "12 less 2 exdates is within 10")
                continue
            }
            guard case let .failure(invalid) = result else { XCTFail("\(recurrence) was accepted"); continue }
            XCTAssertTrue(invalid.problems.contains { $0.hasPrefix(path + ":") && $0.contains(words) }, "\(recurrence): \(invalid.problems)")
        }
        // libical's iterator stops after 2582 without a word: a series reaching past it is refused, not cut short.
        let late = Self.weekly(start: "2582-12-20T09:00:00+08:00", end: "2582-12-20T10:00:00+08:00", recurrence: #"{"rrule": "FREQ=WEEKLY;COUNT=4"}"#)
        guard case let .failure(cut) = parser.parse(Array(late.utf8)) else { return XCTFail("a series past 2582 was accepted") }
        XCTAssertTrue(cut.problems.contains { $0.hasPrefix("$.recurrence.rrule:") && $0.contains("2582-12-31") }, "\(cut.problems)")
        let early = late.replacingOccurrences(of: "2582-12-20", with: "2582-12-03")
        guard case let .success(.proposal(fits)) = parser.parse(Array(early.utf8)) else { return XCTFail("a series ending in 2582 is fine") }
        XCTAssertEqual(fits.recurrence?.occurrences.count, 4)
        // null means absent: one meeting.
        guard case let .success(.proposal(single)) = parser.parse(Array(Self.weekly(recurrence: "null").utf8)) else { return XCTFail() }
        XCTAssertNil(single.recurrence)
    }

    /// A weekly 09:00 in New York across the March change stays 09:00 local: its instants move by an hour,
    /// the .ics passes the independent parsers, and Python's own expansion of its RRULE gives the same
    /// occurrences as the ledger counted.
    func test_dst_weeklyInNewYork_keepsItsWallClock_andPythonExpandsTheSameOccurrences() throws {
        try XCTSkipIf(TestLedger.onPostgres, "reads the SQLite ledger file with Python")
        let spool = try TestSpool()
        let pipeline = try spool.pipeline()
        func newYork(_ id: String, start: String, end: String, _ recurrence: String) -> String {
            Self.weekly(id: id, start: start, end: end, recurrence: recurrence, timezone: "America/New_York")
                .replacingOccurrences(of: #""role": "party-secretary""#, with: #""role": "staff""#)
        }
        try spool.drop("ny.json", json: newYork("ny-weekly", start: "2025-02-25T09:00:00-05:00", end: "2025-02-25T10:30:00-05:00",
                                               #"{"rrule": "FREQ=WEEKLY;BYDAY=TU;UNTIL=20250401", "exdates": ["2025-03-18"]}"#))
        // Twelve months: both changes of 2025 in one VTIMEZONE.
        try spool.drop("ny-monthly.json", json: newYork("ny-monthly", start: "2025-03-03T14:00:00-05:00", end: "2025-03-03T15:00:00-05:00",
                                                       #"{"rrule": "FREQ=MONTHLY;BYDAY=1MO;COUNT=12"}"#))
        try pipeline.drain()
        XCTAssertEqual(spool.files("approved"), ["ny-monthly.ics", "ny-monthly.r1.json", "ny-weekly.ics", "ny-weekly.r1.json"],
                       (try? spool.text("log/decisions.jsonl")) ?? "")
        assertCalendarsPass([spool.url("approved/ny-weekly.ics"), spool.url("approved/ny-monthly.ics")])
        // vobject expands the series through the file's own VTIMEZONE, dateutil from the RRULE text with the
        // system's zone; both must give the instants the ledger counted.
        let script = """
            import sqlite3, sys, datetime, icalendar, vobject
            from dateutil import tz
            from dateutil.rrule import rrulestr
            meeting, ledger, path = sys.argv[1], sys.argv[2], sys.argv[3]
            counted = [datetime.datetime.fromtimestamp(row[0], datetime.timezone.utc) for row in sqlite3.connect(ledger).execute(
                "SELECT COALESCE(o.start_utc, m.start_utc) FROM occurrence o JOIN meeting m ON m.id = o.meeting_id"
                " WHERE o.meeting_id = ? ORDER BY o.n", (meeting,))]
            data = open(path, 'rb').read()
            by_vobject = [d.astimezone(datetime.timezone.utc) for d in vobject.readOne(data.decode()).vevent.getrruleset(addRDate=True)]
            event = icalendar.Calendar.from_ical(data).walk('VEVENT')[0]
            rule = rrulestr(event['RRULE'].to_ical().decode(), dtstart=event.decoded('DTSTART'))
            exdates = event.get('EXDATE', [])
            excluded = {e.dt for x in (exdates if isinstance(exdates, list) else [exdates]) for e in x.dts}
            by_dateutil = [d.astimezone(datetime.timezone.utc) for d in rule if d not in excluded]
            assert counted == by_vobject, (counted, by_vobject)
            assert counted == by_dateutil, (counted, by_dateutil)
            print(' '.join(d.astimezone(tz.gettz('America/New_York')).strftime('%m-%d %H:%M') for d in counted))
            """
        let ledger = spool.url("state/ledger.sqlite").path
        let weekly = try runPython(script, arguments: ["ny-weekly", ledger, spool.url("approved/ny-weekly.ics").path])
        XCTAssertEqual(weekly.trimmingCharacters(in: .whitespacesAndNewlines),
                       "02-25 09:00 03-04 09:00 03-11 09:00 03-25 09:00 04-01 09:00", "09:00 local on both sides of 9 March")
        let monthly = try runPython(script, arguments: ["ny-monthly", ledger, spool.url("approved/ny-monthly.ics").path])
        XCTAssertEqual(monthly.split(separator: " ").count, 24, monthly)
        XCTAssertFalse(monthly.contains("13:00") || monthly.contains("15:00"), "14:00 local all year: \(monthly)")
        let calendar = try spool.text("approved/ny-monthly.ics")
        XCTAssertTrue(calendar.contains("TZOFFSETTO:-0400") && calendar.contains("TZOFFSETTO:-0500"), calendar)
    }

    /// 02:30 on the Sunday New York skips from 02:00 to 03:00 is read as RFC 5545 reads it (with the offset
    /// before the gap: 03:30 daylight time), as dateutil does; 01:30 on the Sunday that repeats that hour is
    /// the first 01:30. (vobject, through the file's VTIMEZONE, puts the skipped time an hour earlier: it is
    /// not the reference for that one instant.)
    func test_dst_aSkippedWallTime_readsAsRFC5545_andARepeatedOne_isTheFirst() throws {
        try XCTSkipIf(TestLedger.onPostgres, "reads the SQLite ledger file with Python")
        let spool = try TestSpool()
        let pipeline = try spool.pipeline()
        for (id, start, end) in [("gap", "2025-03-02T02:30:00-05:00", "2025-03-02T03:00:00-05:00"),
                                 ("fold", "2025-10-26T01:30:00-04:00", "2025-10-26T02:00:00-04:00")] {
            try spool.drop("\(id).json", json: Self.weekly(id: id, start: start, end: end, recurrence: #"{"rrule": "FREQ=WEEKLY;COUNT=3"}"#,
                                                          timezone: "America/New_York")
                .replacingOccurrences(of: #""role": "party-secretary""#, with: #""role": "staff""#))
        }
        try pipeline.drain()
        assertCalendarsPass([spool.url("approved/gap.ics"), spool.url("approved/fold.ics")])
        let script = """
            import sqlite3, sys, datetime, icalendar, vobject
            from dateutil.rrule import rrulestr
            db = sqlite3.connect(sys.argv[1])
            for meeting in ['gap', 'fold']:
                counted = [datetime.datetime.fromtimestamp(r[0], datetime.timezone.utc)
                           for r in db.execute("SELECT COALESCE(o.start_utc, m.start_utc) FROM occurrence o JOIN meeting m ON m.id = o.meeting_id"
                " WHERE o.meeting_id = ? ORDER BY o.n", (meeting,))]
                data = open(sys.argv[2] + '/' + meeting + '.ics', 'rb').read()
                event = icalendar.Calendar.from_ical(data).walk('VEVENT')[0]
                by_dateutil = [d.astimezone(datetime.timezone.utc) for d in rrulestr(event['RRULE'].to_ical().decode(), dtstart=event.decoded('DTSTART'))]
                assert counted == by_dateutil, (meeting, counted, by_dateutil)
                if meeting == 'fold':
                    by_vobject = [d.astimezone(datetime.timezone.utc) for d in vobject.readOne(data.decode()).vevent.getrruleset(addRDate=True)]
                    assert counted == by_vobject, (counted, by_vobject)
                print(meeting, ' '.join(d.strftime('%m-%dT%H:%MZ') for d in counted))
            """
        let output = try runPython(script, arguments: [spool.url("state/ledger.sqlite").path, spool.url("approved").path])
        XCTAssertEqual(output.split(separator: "\n").map(String.init), [
            "gap 03-02T07:30Z 03-09T07:30Z 03-16T06:30Z",  // 02:30 EST, 03:30 EDT (02:30 does not exist), 02:30 EDT
            "fold 10-26T05:30Z 11-02T05:30Z 11-09T06:30Z",  // 01:30 EDT, the first 01:30 (EDT), 01:30 EST
        ])
    }

    /// Each shape of libical's deviations: libical still expands its example as the catalogue says, which is
    /// not RFC 5545's dates (else the refusal is needless); a rule of that shape is refused naming it; and an
    /// equivalent rule offered is one libical expands to RFC 5545's dates.
    func test_libicalDeviations_stillDeviate_areRefusedByName_andOfferRulesLibicalGetsRight() throws {
        let libical = LibicalRecurrence()
        func first(_ start: String) -> LocalDateTime {
            let date = LocalDate(year: Int(start.prefix(4))!, month: Int(start.dropFirst(4).prefix(2))!, day: Int(start.dropFirst(6).prefix(2))!)
            return LocalDateTime(date: date, secondsOfDay: 9 * 3600)
        }
        func expand(_ rule: String, from start: String) throws -> [String] {
            let first = first(start)
            let through = LocalDateTime(date: LocalDate(year: 2100, month: 1, day: 1), secondsOfDay: 0)
            return try libical.expand(rule: rule, first: first, through: through, limit: 60).get().map {
                "\($0.date.year)" + String(format: "%02d%02dT090000", $0.date.month, $0.date.day)
            }
        }
        XCTAssertEqual(Set(LibicalDeviation.all.map(\.id)).count, LibicalDeviation.all.count, "ids are unique")
        for deviation in LibicalDeviation.all {
            let example = deviation.example
            let dates = try expand(example.rule, from: example.start)
            XCTAssertEqual(Array(dates.prefix(example.libical.count)), example.libical, "\(deviation.id): libical's own dates")
            XCTAssertNotEqual(Array(dates.prefix(example.rfc5545.count)), example.rfc5545, "\(deviation.id): libical now gets it right")
            let parts = try RecurrenceRuleParts.parse(example.rule).get()
            let refusal = try XCTUnwrap(libical.refusal(for: parts, from: first(example.start)), deviation.id)
            XCTAssertTrue(refusal.contains("meetingd's libical \(deviation.id)") && refusal.contains(deviation.shape), refusal)
            if case let .equivalent(offered)? = LibicalDeviation.first(in: parts, from: first(example.start)).map({ $0.1 }),
               let quoted = refusal.range(of: #"write the equivalent ""#) {
                let rule = String(refusal[quoted.upperBound...].prefix { $0 != "\"" })
                XCTAssertNil(libical.refusal(for: try RecurrenceRuleParts.parse(rule).get(), from: first(example.start)),
                             "\(deviation.id): \(rule) is refused too")
                XCTAssertEqual(Array(try expand(rule, from: example.start).prefix(example.rfc5545.count)), example.rfc5545,
                               "\(deviation.id): \(offered) → \(rule)")
            }
        }
        // Rules libical expands as RFC 5545 does are not refused: shapes are drawn as narrowly as its errors.
        for (rule, start) in [("FREQ=MONTHLY;BYDAY=2TU,-1FR;BYSETPOS=1;COUNT=3", "20260113"),
                              ("FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE;COUNT=3", "20260105"),
                              ("FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,TH;WKST=WE;COUNT=6", "20261015"),  // a Thursday, after WKST
                              ("FREQ=MONTHLY;BYMONTHDAY=1,15,-1;BYSETPOS=2;COUNT=3", "20260115")] {  // no day named twice
            XCTAssertNil(libical.refusal(for: try RecurrenceRuleParts.parse(rule).get(), from: first(start)), rule)
            let dates = try expand(rule, from: start)
            XCTAssertEqual(dates.first, start + "T090000", rule)
        }
    }

    /// The second 01:30 of New York's autumn change: one meeting's start is written in UTC, so readers see
    /// the instant decided (its end, 02:15, happens once and keeps its TZID); a series starting there is refused at $.start (a TZID wall time means the first).
    func test_theRepeatedHoursSecondPass_isWrittenInUTC_forOneMeeting_andRefusedForASeries() throws {
        let spool = try TestSpool()
        let start = "2027-11-07T01:30:00-05:00", end = "2027-11-07T02:15:00-05:00"
        func meeting(_ id: String, _ recurrence: String?) -> String {
            Self.weekly(id: id, start: start, end: end, recurrence: recurrence, timezone: "America/New_York")
                .replacingOccurrences(of: #""role": "party-secretary""#, with: #""role": "staff""#)
        }
        try spool.drop("one.json", json: meeting("one", nil))
        try spool.drop("series.json", json: meeting("series", #"{"rrule": "FREQ=WEEKLY;COUNT=3"}"#))
        let outcomes = try spool.pipeline().drain().map(\.recorded.decision)
        XCTAssertEqual(outcomes.map(\.verdict), [.approved, .invalid])
        XCTAssertTrue(outcomes[1].problems.contains { $0.hasPrefix("$.start:") && $0.contains("second 01:30:00 of America/New_York")
            && $0.contains("2027-11-07T01:30:00-04:00") }, "\(outcomes[1].problems)")
        let ics = String(decoding: try Data(contentsOf: spool.url("approved/one.ics")), as: UTF8.self)
        XCTAssertTrue(ics.contains("DTSTART:20271107T063000Z\r\n") && ics.contains("DTEND;TZID=America/New_York:20271107T021500\r\n"), ics)
        assertCalendarsPass([spool.url("approved/one.ics")])
    }

    /// A series that starts after libical's last date names that limit, not "no occurrence".
    func test_aSeriesStartingAfterLibicalsLastDate_namesTheLimit() throws {
        let parser = DecisionPipeline.parser(timeZone: "Asia/Shanghai", settings: RuleSettingsSet())
        let late = Self.weekly(start: "2999-12-01T09:00:00+08:00", end: "2999-12-01T10:00:00+08:00", recurrence: #"{"rrule": "FREQ=WEEKLY;COUNT=2"}"#)
        guard case let .failure(invalid) = parser.parse(Array(late.utf8)) else { return XCTFail("accepted") }
        XCTAssertTrue(invalid.problems.contains { $0.hasPrefix("$.recurrence.rrule:") && $0.contains("starts after 2582-12-31") }, "\(invalid.problems)")
        XCTAssertFalse(invalid.problems.contains { $0.contains("has no occurrence") })
    }

    /// `check --json` lists every counted start with its own offset, across the March change.
    func test_checkJSON_listsTheOccurrenceStarts() throws {
        let spool = try TestSpool()
        let file = spool.url("series.json")
        try Data(Self.weekly(start: "2027-03-02T09:00:00-05:00", end: "2027-03-02T10:00:00-05:00",
                             recurrence: #"{"rrule": "FREQ=WEEKLY;COUNT=3", "exdates": ["2027-03-09"]}"#, timezone: "America/New_York")
            .utf8).write(to: file)
        let run = try runMeetingd(["check", "--json", "--spool", spool.root.path, file.path])
        let line = try JSONReader.parse(Array(run.output.utf8))
        XCTAssertEqual(line["occurrence_starts"], .array([.string("2027-03-02T09:00:00-05:00"), .string("2027-03-16T09:00:00-04:00")]), run.output)
        XCTAssertEqual(line["occurrences"], .integer(2))
    }

    /// A statutory series is approved and published, and counts for nothing.
    func test_aStatutorySeries_isPublished_andCountsForNothing() throws {
        let spool = try TestSpool()
        let pipeline = try spool.pipeline()
        try spool.drop("s.json", json: Self.weekly(id: "congress", recurrence: #"{"rrule": "FREQ=DAILY;COUNT=5"}"#)
            .replacingOccurrences(of: #""kind": "routine""#, with: #""kind": "statutory""#))
        try pipeline.drain()
        let line = try XCTUnwrap(spool.logLines().last)
        XCTAssertEqual(line["verdict"], .string("approved"))
        XCTAssertEqual(line["note"], .string("exempt: statutory"))
        XCTAssertEqual(line["occurrences"], .integer(5))
        XCTAssertTrue(try spool.text("approved/congress.ics").contains("RRULE:FREQ=DAILY;COUNT=5"))
        let september = LocalDate("2025-09-01")!...LocalDate("2025-09-30")!
        XCTAssertEqual(try pipeline.ledger.read { try $0.countApproved(matching: MeetingQuery(startDates: september)) }, 0)
        XCTAssertEqual(try pipeline.ledger.read {
            try $0.countApproved(matching: MeetingQuery(startDates: september, grassrootsPrincipalRegion: "浙江省/杭州市/西湖区/转塘街道"))
        }, 0)
    }

    /// A meeting approved before meetingd knew `recurrence` carried it as an unknown member and was counted
    /// once: its withdrawal publishes one cancelled meeting, not a series.
    func test_aMeetingApprovedBeforeSeriesExisted_isWithdrawnAsOneMeeting() throws {
        let spool = try TestSpool()
        let pipeline = try spool.pipeline()
        let bytes = Array(Self.weekly(id: "old", start: "2030-09-03T09:00:00+08:00", end: "2030-09-03T10:00:00+08:00",
                                      recurrence: #"{"rrule": "FREQ=WEEKLY;COUNT=3"}"#).utf8)
        guard case let .success(.proposal(single)) = pipeline.parser.parseStored(bytes, asSeries: false) else { return XCTFail() }
        XCTAssertNil(single.recurrence)
        let event = EventBuilder.event(single, sequence: 0, stamp: Date(), assessment: Assessment(), settingsVersion: "v", note: nil, cancelled: false)
        _ = try pipeline.ledger.decideAndRecord(input: InputIdentity(name: "old.json", digest: "d"), decidedAt: Date()) { _ in
            DecisionToRecord(decision: Decision(verdict: .approved, requestID: "old", revision: 1, sequence: 0, settingsVersion: "v"),
                             destination: "approved/old.r1.json", requestBytes: bytes, approved: single,
                             publication: Publication(vevent: try ICalendarWriter.renderEvent(event), timeZone: "Asia/Shanghai",
                                                      start: single.start, end: single.end, feedKeys: ["all"]))
        }
        try spool.drop("w.json", json: #"{"format": 1, "id": "old", "action": "withdraw"}"#)
        try pipeline.drain()
        let calendar = try spool.text("approved/old.ics")
        XCTAssertTrue(calendar.contains("STATUS:CANCELLED"), calendar)
        XCTAssertFalse(calendar.contains("RRULE"), "counted once, cancelled once:\n\(calendar)")
    }

    func test_seriesInTheFeeds_khalShowsEachOccurrenceOnItsDay() throws {
        try KhalSubscriber.requireTools()
        let spool = try TestSpool()
        try spool.drop("s.json", json: Self.weekly(id: "kh-weekly", start: "2030-04-02T09:00:00+08:00", end: "2030-04-02T10:00:00+08:00",
                                                  recurrence: #"{"rrule": "FREQ=WEEKLY;BYDAY=TU;COUNT=4", "exdates": ["2030-04-16"]}"#))
        let port = HTTPTests.freePort()
        let notify = try NotifyListener()
        let daemon = try DaemonProcess(spool: spool.root, notify: notify, arguments: ["--http", "127.0.0.1:\(port)"])
        defer {
            daemon.signal(SIGTERM)
            _ = daemon.waitForExit()
        }
        XCTAssertNotNil(notify.waitFor("READY=1"), daemon.stderr)
        let feed = FeedKey(kind: .attendee, name: "转塘街道")
        XCTAssertTrue(eventually { ((try? spool.text("feeds/" + feed.path)) ?? "").contains("RRULE:FREQ=WEEKLY") }, daemon.stderr)
        let path = feed.path.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed)!
        let listed = try KhalSubscriber(feedURL: "http://127.0.0.1:\(port)/" + path).list(from: "2030-03-25", days: 60)
        XCTAssertEqual(listed.filter { $0.contains("kh-weekly") },
                       ["2030-04-02 09:00 西湖区每周工作例会 kh-weekly", "2030-04-09 09:00 西湖区每周工作例会 kh-weekly",
                        "2030-04-23 09:00 西湖区每周工作例会 kh-weekly"], "each occurrence on its day, the excluded one not")
    }

    private func assertCalendarsPass(_ files: [URL], file: StaticString = #filePath, line: UInt = #line) {
        do {
            let result = try runChecker(files.map(\.path))
            XCTAssertEqual(result.status, 0, result.output, file: file, line: line)
        } catch {
            XCTFail("\(error)", file: file, line: line)
        }
    }

    private func runPython(_ script: String, arguments: [String]) throws -> String {
        let (status, text) = try runTool(["python3", "-c", script] + arguments)
        XCTAssertEqual(status, 0, text)
        return text
    }
}
