import Foundation
import MeetingLedger
import MeetingModel
import MeetingPostgres
import MeetingReport
import MeetingRules
import MeetingSpool
import TestSupport
import XCTest

/// `meetingd report` on a spool built by real drains: caps reached and not, a withdrawal freeing a place,
/// waived and exempt meetings, a year-end pile-up across the new year and a township at its limit.
final class ReportTests: XCTestCase {
    static let westLake = #"[{"unit": "西湖区卫生健康局", "level": "county", "region": "浙江省/杭州市/西湖区", "role": "department-head", "required": true}]"#
    static let township = #"[{"unit": "转塘街道党工委", "level": "township", "region": "浙江省/杭州市/西湖区/转塘街道", "type": "party-committee", "role": "party-secretary", "required": true, "reason": "主责部署"}]"#

    /// A request on `day` from `hours.0` to `hours.1` (Asia/Shanghai).
    static func request(_ id: String, kind: String = "business", day: String, unit: String = "杭州市卫生健康委员会", system: String = "卫生健康",
                        type: String = "department", attendees: String = westLake, title: String? = nil, hours: (String, String) = ("09:00", "11:30"),
                        region: String = "浙江省/杭州市", extra: String = "") -> String {
        requestJSON(id: id, kind: kind, start: "\(day)T\(hours.0):00+08:00", end: "\(day)T\(hours.1):00+08:00", unit: unit, extra: extra,
                    attendees: attendees, title: title, type: type, system: system, region: region)
    }

    static let waiver = #", "approvals": [{"rule": "onsite-promotion-frequency", "approver": "杭州市人民政府办公厅", "approver_role": "government-head", "approver_level": "city", "ref": "杭政办〔2025〕7号", "date": "2025-06-01"}]"#

    /// The year's requests, in the order dropped.
    static let requests: [(String, String)] = [
        ("01.json", request("comp-a", kind: "comprehensive", day: "2025-03-10")),
        ("02.json", request("comp-b", kind: "comprehensive", day: "2025-06-10")),  // the cap is full: rejected
        ("03.json", request("comp-c", kind: "comprehensive", day: "2025-12-29", unit: "杭州市教育局", system: "教育")),
        ("04.json", request("comp-d", kind: "comprehensive", day: "2026-01-02", unit: "杭州市交通运输局", system: "交通")),
        ("05.json", request("comp-e", kind: "comprehensive", day: "2025-12-31", unit: "杭州市农业农村局", system: "农业")),  // third in 7 days
        ("06.json", request("site-1", kind: "on-site", day: "2025-04-10", unit: "杭州市交通运输局", system: "交通")),
        ("07.json", request("site-2", kind: "promotion", day: "2025-05-10", unit: "杭州市交通运输局", system: "交通")),
        ("08.json", request("site-3", kind: "on-site", day: "2025-06-10", unit: "杭州市交通运输局", system: "交通")),  // full: rejected
        ("09.json", request("site-4", kind: "on-site", day: "2025-07-10", unit: "杭州市交通运输局", system: "交通", extra: waiver)),  // waived
        ("10.json", request("promo-x", kind: "promotion", day: "2025-08-10", unit: "杭州市教育局", system: "教育")),
        ("11.json", request("promo-y", kind: "promotion", day: "2025-09-10", unit: "杭州市教育局", system: "教育")),
        ("12.json", #"{"format": 1, "id": "promo-y", "action": "withdraw"}"#),  // frees a place
        ("13.json", request("law-1", kind: "statutory", day: "2025-03-20", unit: "杭州市人大常委会", system: "人大", type: "party-committee")),
        ("14.json", "{not json"),
    ] + (1...5).map { index in
        ("2\(index).json", request("town-\(index)", day: "2025-04-0\(index)", unit: "杭州市人民政府", system: "政府", type: "government",
                                   attendees: township, hours: ("14:00", "16:00")))
    }

    private func drained() throws -> (TestSpool, DecisionPipeline) {
        let spool = try TestSpool()
        for (name, json) in Self.requests { try spool.drop(name, json: json) }
        let pipeline = try spool.pipeline()
        let outcomes = try pipeline.drain()
        XCTAssertEqual(outcomes.map(\.recorded.decision.verdict), [
            .approved, .rejected, .approved, .approved, .rejected, .approved, .approved, .rejected, .approved, .approved, .approved,
            .withdrawn, .approved, .invalid, .approved, .approved, .approved, .approved, .rejected,
        ])
        return (spool, pipeline)
    }

    private func builder(_ settings: RuleSettingsSet = RuleSettingsSet()) -> ReportBuilder {
        ReportBuilder(settings: settings, timeZone: TimeZone(identifier: "Asia/Shanghai")!)
    }

    private static let generated = Date(timeIntervalSince1970: 1_762_048_800)  // 2025-11-02T10:00:00+08:00

    func test_aDrainedYear_givesExactlyTheExpectedJSON() throws {
        let (_, pipeline) = try drained()
        let report = try builder().build(ledger: pipeline.ledger, year: 2025, region: nil, now: Self.generated)
        let expected = """
            {"year":2025,"region":null,"generated":"2025-11-02T10:00:00+08:00","settings":"\(RuleSettingsSet().version)",\
            "totals":{"approved":11,"rejected":4,"invalid":0,"withdrawn":1,"exempt":1},\
            "by_kind":[{"kind":"comprehensive","approved":2,"rejected":2},{"kind":"business","approved":4,"rejected":1},\
            {"kind":"on-site","approved":2,"rejected":1},{"kind":"promotion","approved":2,"rejected":0},\
            {"kind":"statutory","approved":1,"rejected":0}],\
            "by_month":[{"month":"2025-03","approved":2,"rejected":0},{"month":"2025-04","approved":5,"rejected":1},\
            {"month":"2025-05","approved":1,"rejected":0},{"month":"2025-06","approved":0,"rejected":2},\
            {"month":"2025-07","approved":1,"rejected":0},{"month":"2025-08","approved":1,"rejected":0},\
            {"month":"2025-12","approved":1,"rejected":1}],\
            "caps":[{"rule":"annual-comprehensive-cap","key":{"region":"浙江省/杭州市","system":"卫生健康"},"period":"2025","used":1,"limit":1,"remaining":0,"meetings":["comp-a"]},\
            {"rule":"annual-comprehensive-cap","key":{"region":"浙江省/杭州市","system":"教育"},"period":"2025","used":1,"limit":1,"remaining":0,"meetings":["comp-c"]},\
            {"rule":"onsite-promotion-frequency","key":{"unit":"杭州市交通运输局"},"period":"2025","used":3,"limit":2,"remaining":0,"meetings":["site-1","site-2","site-4"]},\
            {"rule":"onsite-promotion-frequency","key":{"unit":"杭州市教育局"},"period":"2025","used":1,"limit":2,"remaining":1,"meetings":["promo-x"]},\
            {"rule":"township-leader-load","key":{"region":"浙江省/杭州市/西湖区/转塘街道"},"period":"2025-04","used":4,"limit":4,"remaining":0,"meetings":["town-1","town-2","town-3","town-4"]}],\
            "year_end":[{"region":"浙江省/杭州市","window":["2025-12-01","2026-01-31"],\
            "days":[{"date":"2025-12-29","count":1,"meetings":["comp-c"]},{"date":"2026-01-02","count":1,"meetings":["comp-d"]}],\
            "busiest_7_days":{"from":"2025-12-27","to":"2026-01-02","count":2},"limit_7_days":2,"in_window":2,"limit_window":6}],\
            "rejections_by_rule":[{"rule":"annual-comprehensive-cap","clause":"4","count":1},{"rule":"onsite-promotion-frequency","clause":"4","count":1},\
            {"rule":"township-leader-load","clause":"4","count":1},{"rule":"year-end-clustering","clause":"4","count":1}],\
            "rejections_by_organizer":[{"unit":"杭州市交通运输局","count":1},{"unit":"杭州市人民政府","count":1},\
            {"unit":"杭州市农业农村局","count":1},{"unit":"杭州市卫生健康委员会","count":1}]}
            """
        XCTAssertEqual(report.json.serialized, expected)

        // The next year holds the window's second half, the comprehensive meeting of 2026 and the invalid file,
        // decided (in UTC) on the pipeline's fixed clock: 2026-01-01.
        let next = try builder().build(ledger: pipeline.ledger, year: 2026, region: nil, now: Self.generated)
        XCTAssertEqual(next.totals, Report.Totals(approved: 1, rejected: 0, invalid: 1, withdrawn: 0, exempt: 0))
        XCTAssertEqual(next.caps.map(\.keyText), ["浙江省/杭州市 · 交通"])
        XCTAssertEqual(next.yearEnd, [], "the window that starts in 2026 holds nothing yet")
    }

    func test_remaining_isWhatTheNextRequestOfEachKeySees() throws {
        let (spool, pipeline) = try drained()
        let report = try builder().build(ledger: pipeline.ledger, year: 2025, region: nil)
        let decider = Decider(engine: RuleEngine(settings: RuleSettingsSet()))
        let parser = RequestParser()
        // One more request for each key, on a day of the key's period that is free of every other rule.
        let probes: [(key: String, json: String)] = [
            ("浙江省/杭州市 · 卫生健康", Self.request("probe-1", kind: "comprehensive", day: "2025-09-15")),
            ("浙江省/杭州市 · 教育", Self.request("probe-2", kind: "comprehensive", day: "2025-09-15", unit: "杭州市教育局", system: "教育")),
            ("杭州市交通运输局", Self.request("probe-3", kind: "promotion", day: "2025-10-15", unit: "杭州市交通运输局", system: "交通")),
            ("杭州市教育局", Self.request("probe-4", kind: "promotion", day: "2025-10-15", unit: "杭州市教育局", system: "教育")),
            ("浙江省/杭州市/西湖区/转塘街道", Self.request("probe-5", day: "2025-04-20", unit: "杭州市人民政府", system: "政府", type: "government",
                                                attendees: Self.township, hours: ("14:00", "16:00"))),
        ]
        XCTAssertEqual(Set(probes.map(\.key)), Set(report.caps.map(\.keyText)), "every key is probed")
        for probe in probes {
            let cap = try XCTUnwrap(report.caps.first { $0.keyText == probe.key })
            let decision = try pipeline.ledger.read { state in try decider.decide(parser.parse(Array(probe.json.utf8)), state: state) }
            let rejectedByTheCap = decision.assessment.violations.contains { $0.rule == cap.rule }
            XCTAssertEqual(rejectedByTheCap, cap.remaining == 0, "\(probe.key): remaining \(cap.remaining), decided \(decision.verdict)")
            if cap.remaining > 0 { XCTAssertEqual(decision.verdict, .approved, probe.key) }
            // And `meetingd check`, the command an office runs, decides the same against the same ledger.
            let file = spool.url("probe-\(cap.rule.rawValue)-\(probes.firstIndex { $0.key == probe.key }!).json")
            try Data(probe.json.utf8).write(to: file)
            let ledger = try TestLedger.location(sqlitePath: spool.url("state/ledger.sqlite").path)
            let checked = try runMeetingd(["check", "--json", "--ledger", ledger, file.path])
            let line = try JSONReader.parse(Array(checked.output.utf8))
            XCTAssertEqual(line["verdict"], .string(decision.verdict.rawValue), "\(probe.key): \(checked.errors)")
            XCTAssertEqual(checked.output.contains("\"\(cap.rule.rawValue)\""), rejectedByTheCap, "\(probe.key): \(checked.output)")
        }
        // With the limits raised, the same keys have room, and the report says so with the same counts.
        var raised = RuleSettingsSet()
        raised[.annualComprehensiveCap].values["max_per_year"] = .integer(3)
        let roomier = try builder(raised).build(ledger: pipeline.ledger, year: 2025, region: nil)
        XCTAssertEqual(roomier.caps.filter { $0.rule == .annualComprehensiveCap }.map(\.remaining), [2, 2])
        XCTAssertEqual(roomier.caps.filter { $0.rule == .annualComprehensiveCap }.map(\.used), [1, 1])
    }

    func test_aRuleSetOff_listsNoCaps_andARegionKeepsItselfAndWhatIsUnderIt() throws {
        let (_, pipeline) = try drained()
        var settings = RuleSettingsSet()
        settings[.townshipLeaderLoad].severity = .off
        settings[.yearEndClustering].severity = .off
        let report = try builder(settings).build(ledger: pipeline.ledger, year: 2025, region: nil)
        XCTAssertFalse(report.caps.contains { $0.rule == .townshipLeaderLoad })
        XCTAssertEqual(report.yearEnd, [])

        let city = try builder().build(ledger: pipeline.ledger, year: 2025, region: "浙江省/杭州市", now: Self.generated)
        XCTAssertEqual(city.totals.approved, 11)
        let province = try builder().build(ledger: pipeline.ledger, year: 2025, region: "浙江省", now: Self.generated)
        XCTAssertEqual(province.json.serialized.replacingOccurrences(of: "\"浙江省\"", with: "\"浙江省/杭州市\""),
                       city.json.serialized, "a region keeps what is under it")
        for elsewhere in ["浙江省/宁波市", "浙江省/杭", "浙"] {
            let report = try builder().build(ledger: pipeline.ledger, year: 2025, region: elsewhere)
            XCTAssertEqual(report.totals, Report.Totals(), elsewhere)
            XCTAssertEqual(report.caps.filter { $0.rule != .townshipLeaderLoad }, [], elsewhere)
            XCTAssertEqual(report.yearEnd, [], elsewhere)
        }
        // A township's load is listed where its organizers are: the city's report lists 转塘街道 (called by the
        // city government), 西湖区's lists nothing, since no organizer of 西湖区 calls it.
        XCTAssertEqual(city.caps.filter { $0.rule == .townshipLeaderLoad }.map(\.keyText), ["浙江省/杭州市/西湖区/转塘街道"])
        let district = try builder().build(ledger: pipeline.ledger, year: 2025, region: "浙江省/杭州市/西湖区")
        XCTAssertEqual(district.caps, [])
    }

    func test_anEmptyLedger_givesEmptyListsAndZeroTotals() throws {
        let report = try builder().build(ledger: SQLiteLedger.scratch(), year: 2025, region: nil, now: Self.generated)
        XCTAssertEqual(report.json.serialized, """
            {"year":2025,"region":null,"generated":"2025-11-02T10:00:00+08:00","settings":"\(RuleSettingsSet().version)",\
            "totals":{"approved":0,"rejected":0,"invalid":0,"withdrawn":0,"exempt":0},"by_kind":[],"by_month":[],"caps":[],\
            "year_end":[],"rejections_by_rule":[],"rejections_by_organizer":[]}
            """)
        XCTAssertTrue(ReportPage.render(report).contains("<svg"))
    }

    /// Reports take the years requests may name (1900–2999), so a 1950 meeting approved can be reported; an
    /// empty year or region means not given, on the command line as over HTTP (a form's "all regions").
    func test_reportYears_areTheRequestsYears_andAnEmptyValueMeansNotGiven() throws {
        XCTAssertEqual(try ReportParameters(year: "1950", region: nil).year, 1950)
        XCTAssertEqual(try ReportParameters(year: "2999", region: "").region, nil)
        XCTAssertEqual(try ReportParameters(year: "", region: "").year, nil)
        for bad in ["1899", "3000", "+950", "195", "１９５０"] {
            XCTAssertThrowsError(try ReportParameters(year: bad, region: nil), bad) { error in
                XCTAssertTrue("\(error)".contains("1900 to 2999"), "\(error)")
            }
        }
        let spool = try TestSpool()
        try spool.drop("old.json", json: requestJSON(id: "old", start: "1950-03-14T09:00:00+08:00", end: "1950-03-14T10:00:00+08:00"))
        _ = try runMeetingd(["drain", "--spool", spool.root.path])
        let run = try runMeetingd(["report", "--spool", spool.root.path, "--year", "1950", "--region", "", "--format", "json"])
        XCTAssertEqual(run.status, 0, run.errors)
        let report = try JSONReader.parse(Array(run.output.utf8))
        XCTAssertEqual(report["totals"]?["approved"], .integer(1), run.output)
        XCTAssertTrue(run.output.contains(#""region": null"#), run.output)
    }

    func test_hostileValues_appearEscaped_neverAsMarkup() throws {
        let spool = try TestSpool()
        // What the report shows of a request: units, regions and systems (in caps, the window and the rejections).
        let longUnit = String(repeating: "县", count: 193) + "卫生健康委员会"
        XCTAssertEqual(longUnit.count, 200)
        let hostileUnit = "<script>alert(\"x\")</script>'q'\u{200F}"
        let hostileRegion = "浙江省/<b>杭州</b>\u{202E}"
        for (index, unit) in [longUnit, longUnit, longUnit, hostileUnit, hostileUnit, hostileUnit].enumerated() {
            try spool.drop("\(index).json", json: Self.request("h-\(index)", kind: index % 3 == 2 ? "comprehensive" : "on-site",
                                                                  day: "2025-12-1\(index)", unit: unit, system: "<i>sys</i>", region: hostileRegion))
        }
        let pipeline = try spool.pipeline()
        XCTAssertEqual(try pipeline.drain().map(\.recorded.decision.verdict), [.approved, .approved, .approved, .approved, .approved, .rejected])
        let report = try builder().build(ledger: pipeline.ledger, year: 2025, region: nil)
        XCTAssertTrue(report.caps.contains { $0.key.unit == hostileUnit }, "the hostile unit is a key of the report")
        XCTAssertTrue(report.rejectionsByOrganizer.contains { $0.unit == hostileUnit })
        let page = ReportPage.render(report)
        XCTAssertTrue(page.contains(longUnit), "the long unit is shown whole")
        XCTAssertTrue(page.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#39;q&#39;&#x200F;"), "the unit, escaped")
        XCTAssertTrue(page.contains("浙江省/&lt;b&gt;杭州&lt;/b&gt;&#x202E;"), "the region, escaped")
        XCTAssertTrue(page.contains("&lt;i&gt;sys&lt;/i&gt;"), "the system, escaped")
        for markup in ["<script", "<b>", "<i>", "\u{202E}", "\u{200F}"] { XCTAssertFalse(page.contains(markup), markup) }
        XCTAssertEqual(page.components(separatedBy: "<style>").count, 2, "one style element, the page's own")
        XCTAssertFalse(report.text.isEmpty)
    }

    /// A ledger of schema v9 knew nothing of what decisions were about: migrating fills it in from the request
    /// bytes every proposal kept (a withdrawal from its proposal), and the report is the one a v10 ledger gives.
    func test_aVersion9Ledger_isMigrated_andReportsTheSame() throws {
        if TestLedger.onPostgres { throw XCTSkip("reads the SQLite file") }
        let (spool, pipeline) = try drained()
        let current = try builder().build(ledger: pipeline.ledger, year: 2025, region: nil, now: Self.generated)
        let path = spool.url("state/ledger.sqlite").path
        let copy = spool.url("state/v9.sqlite").path
        // The same ledger as v9 left it: v10's tables, index and columns removed, and its migration forgotten.
        let script = """
            import sqlite3, sys
            source = sqlite3.connect(sys.argv[1])
            db = sqlite3.connect(sys.argv[2])
            source.backup(db)
            for statement in ["DROP TABLE decision_unit", "DROP TABLE decision_rule", "DROP INDEX decision_by_year",
                              "DROP INDEX decision_series_by_year", "DROP INDEX decision_by_request_id", "DROP INDEX principal_by_year"]:
                db.execute(statement)
            for column in ["title", "kind", "organizer_unit", "organizer_region", "local_date", "last_date", "year"]:
                db.execute("ALTER TABLE decision DROP COLUMN " + column)
            db.execute("DELETE FROM grdb_migrations WHERE identifier LIKE 'v10:%'")
            db.commit()
            """
        let (status, output) = try runTool(["python3", "-c", script, path, copy])
        XCTAssertEqual(status, 0, output)
        let migrated = try SQLiteLedger(path: copy)
        XCTAssertEqual(try builder().build(ledger: migrated, year: 2025, region: nil, now: Self.generated), current)
        // The next year holds the invalid file, migrated with the year it was decided in.
        let next = try builder().build(ledger: pipeline.ledger, year: 2026, region: nil, now: Self.generated)
        XCTAssertEqual(next.totals.invalid, 1)
        XCTAssertEqual(try builder().build(ledger: migrated, year: 2026, region: nil, now: Self.generated), next)
        XCTAssertEqual(try migrated.select("SELECT rule, seq FROM decision_rule ORDER BY rule, seq", []),
                       try pipeline.ledger.select("SELECT rule, seq FROM decision_rule ORDER BY rule, seq", []))
        let units = try migrated.select("SELECT COUNT(*) FROM decision_unit", [])
        XCTAssertEqual(units, try pipeline.ledger.select("SELECT COUNT(*) FROM decision_unit", []))
    }

    /// Every statement of the report's own and the browser's unit listing reads an index range of its year and
    /// region (or its unit): none scans a table, so a report's cost follows what its year and region hold.
    func test_theReportsStatements_readIndexRanges_neverWholeTables() throws {
        if TestLedger.onPostgres { throw XCTSkip("SQLite's plans; PostgreSQL's are shown by the benchmark") }
        let (_, pipeline) = try drained()
        let plans = try builder().explain(ledger: pipeline.ledger, year: 2025, region: "浙江省/杭州市", unit: "杭州市教育局")
        let steps = plans.split(separator: "\n").filter { $0.hasPrefix("   ") }
        XCTAssertFalse(steps.isEmpty)
        for step in steps where step.contains("SCAN") { XCTFail("a statement scans: \(step)\n\(plans)") }
        XCTAssertTrue(plans.contains("decision_by_year (year=? AND organizer_region>? AND organizer_region<?)"), plans)
        XCTAssertTrue(plans.contains("principal_by_year (<expr>=? AND region>? AND region<?)"), plans)
    }

    /// The same on the shared ledger: a PostgreSQL ledger of schema v1 is migrated to v2, its decisions filled
    /// in from their request bytes in pages, and reports as it did.
    func test_aVersion1SharedLedger_isMigrated_andReportsTheSame() throws {
        guard TestLedger.onPostgres else { throw XCTSkip("the shared ledger's migration") }
        let (spool, pipeline) = try drained()
        let current = try builder().build(ledger: pipeline.ledger, year: 2025, region: nil, now: Self.generated)
        let next = try builder().build(ledger: pipeline.ledger, year: 2026, region: nil, now: Self.generated)
        let units = try pipeline.ledger.select("SELECT unit, seq FROM decision_unit ORDER BY unit, seq", [])
        XCTAssertFalse(units.isEmpty)
        let url = try TestLedger.location(sqlitePath: spool.url("state/ledger.sqlite").path)
        let downgrade = """
            DROP TABLE decision_unit; DROP TABLE decision_rule; DROP INDEX principal_by_year; DROP INDEX decision_by_request_id;
            ALTER TABLE decision DROP COLUMN title, DROP COLUMN kind, DROP COLUMN organizer_unit, DROP COLUMN organizer_region,
                DROP COLUMN local_date, DROP COLUMN last_date, DROP COLUMN year;
            DELETE FROM meetingd_schema WHERE name LIKE 'v2:%';
            """
        let (status, output) = try runTool(["psql", url, "-v", "ON_ERROR_STOP=1", "-qc", downgrade])
        XCTAssertEqual(status, 0, output)
        let migrated = try PostgresLedger(url: url, node: "")
        XCTAssertEqual(try builder().build(ledger: migrated, year: 2025, region: nil, now: Self.generated), current)
        XCTAssertEqual(try builder().build(ledger: migrated, year: 2026, region: nil, now: Self.generated), next)
        XCTAssertEqual(try migrated.select("SELECT unit, seq FROM decision_unit ORDER BY unit, seq", []), units)
    }
}
