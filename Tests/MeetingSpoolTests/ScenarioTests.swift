import Foundation
import MeetingModel
import MeetingRules
import MeetingSpool
import XCTest

final class ScenarioTests: XCTestCase {
    func test_sharedExamples_inOrder_reachTheListedDecisions() throws {
        let spool = try TestSpool()
        for name in TestSpool.exampleNames { try spool.dropExample(name) }
        let outcomes = try spool.pipeline().drain()
        let expected: [(String, Verdict, [String])] = [
            ("01-approved-business.json", .approved, []),
            ("02-approved-comprehensive.json", .approved, []),
            ("03-rejected-second-comprehensive.json", .rejected, ["annual-comprehensive-cap"]),
            ("04-rejected-long-speech.json", .rejected, ["main-speech-one-hour"]),
            ("05-rejected-full-day-without-discussion.json", .rejected, ["session-length"]),
            ("06-approved-with-discussion.json", .approved, []),
            ("07-rejected-grassroots-without-approval.json", .rejected, ["grassroots-direct-approval"]),
            ("08-rejected-provincial-scope.json", .rejected, ["provincial-meeting-scope"]),
            ("09-rejected-pledges.json", .rejected, ["speech-time-controlled"]),
            ("10-withdraw.json", .withdrawn, []),
            ("11-invalid-end-before-start.json", .invalid, []),
        ]
        XCTAssertEqual(outcomes.map(\.file), expected.map(\.0))
        for (outcome, (name, verdict, rules)) in zip(outcomes, expected) {
            XCTAssertEqual(outcome.recorded.decision.verdict, verdict, name)
            XCTAssertEqual(outcome.recorded.decision.assessment.violations.map(\.rule.rawValue), rules, name)
        }
        XCTAssertTrue(outcomes.last!.recorded.decision.problems.first!.hasPrefix("$.end:"))

        // Outputs and the moved requests, as the spec lays them out.
        XCTAssertEqual(spool.files("incoming"), [])
        XCTAssertTrue(spool.files("approved").contains("hz-wj-2025-014.ics"))
        XCTAssertTrue(spool.files("approved").contains("hz-wj-2025-014.r1.json"))
        XCTAssertTrue(spool.files("rejected").contains("hz-wj-2025-002.txt"))
        XCTAssertEqual(spool.files("withdrawn"), ["hz-wj-2025-001.r1.withdraw.json"])
        XCTAssertEqual(spool.files("invalid"), ["11-invalid-end-before-start.json", "11-invalid-end-before-start.json.txt"])
        XCTAssertTrue(try spool.text("approved/hz-wj-2025-001.ics").contains("STATUS:CANCELLED"))

        // Moved byte for byte.
        let original = try Data(contentsOf: Bundle.module.url(forResource: "Fixtures/examples/03-rejected-second-comprehensive.json", withExtension: nil)!)
        XCTAssertEqual(try Data(contentsOf: spool.url("rejected/hz-wj-2025-002.r1.json")), original)

        // The rejection note: Chinese first, then English; rule id, clause, sentence, counted meeting, fix.
        let note = try spool.text("rejected/hz-wj-2025-002.txt")
        for expectedText in ["annual-comprehensive-cap", "第4条", "本系统本领域综合性工作会议，原则上每年不超过1次",
                             "hz-wj-2025-001  2025-02-25", "How to pass:", "整改："] {
            XCTAssertTrue(note.contains(expectedText), "note lacks \(expectedText)")
        }
        XCTAssertLessThan(note.range(of: "事实：")!.lowerBound, note.range(of: "Facts:")!.lowerBound)

        // One log line per decision, in the spec's shape.
        let lines = try spool.logLines()
        XCTAssertEqual(lines.count, 11)
        XCTAssertEqual(lines.map { $0["verdict"] }, expected.map { .string($0.1.rawValue) })
        let settingsVersion = RuleSettingsSet().version
        for line in lines {
            for key in ["time", "verdict", "violations", "warnings", "waived", "settings", "input"] { XCTAssertNotNil(line[key], key) }
            XCTAssertEqual(line["settings"], .string(settingsVersion))
        }
        XCTAssertEqual(lines[2]["violations"].flatMap { if case let .array(items) = $0 { items.first?["rule"] } else { nil } },
                       .string("annual-comprehensive-cap"))
        XCTAssertNotNil(lines[10]["problems"])
    }

    func test_sameSpool_givesTheSameDecisions() throws {
        func run() throws -> [String] {
            let spool = try TestSpool()
            for name in TestSpool.exampleNames.reversed() { try spool.dropExample(name) }
            return try spool.pipeline().drain().map { "\($0.file) \($0.recorded.decision.verdict)" }
        }
        XCTAssertEqual(try run(), try run())
    }

    func test_arrivalOrder_isModificationTimeThenName() throws {
        let spool = try TestSpool()
        try spool.drop("b.json", json: requestJSON(id: "b"))
        try spool.drop("a.json", json: requestJSON(id: "a"))
        let sameTime = Date(timeIntervalSince1970: 1_600_000_000)
        try spool.drop("d.json", json: requestJSON(id: "d"))
        try spool.drop("c.json", json: requestJSON(id: "c"))
        for name in ["c.json", "d.json"] {
            try FileManager.default.setAttributes([.modificationDate: sameTime], ofItemAtPath: spool.url("incoming/" + name).path)
        }
        XCTAssertEqual(try spool.pipeline().drain().map(\.file), ["c.json", "d.json", "b.json", "a.json"])
    }

    func test_statutoryMeeting_isApprovedAndLoggedAsExempt() throws {
        let spool = try TestSpool()
        try spool.drop("npc.json", json: requestJSON(id: "npc", kind: "statutory", start: "2025-01-10T09:00:00+08:00", end: "2025-01-12T17:00:00+08:00"))
        let outcome = try XCTUnwrap(try spool.pipeline().drain().first)
        XCTAssertEqual(outcome.recorded.decision.verdict, .approved)
        XCTAssertEqual(try spool.logLines().first?["note"], .string("exempt: statutory"))
        XCTAssertTrue(try spool.text("approved/npc.ics").contains("X-MEETINGD-NOTE:exempt: statutory"))
    }

    func test_sameInstantInUTC_isDecidedLikeLocalTime() throws {
        // 09:00–12:31 in Shanghai crosses the 12:30 boundary whichever way it is written.
        let spool = try TestSpool()
        try spool.drop("local.json", json: requestJSON(id: "local", start: "2025-04-02T09:00:00+08:00", end: "2025-04-02T12:31:00+08:00"))
        try spool.drop("utc.json", json: requestJSON(id: "utc", start: "2025-04-02T01:00:00Z", end: "2025-04-02T04:31:00Z",
                                                     unit: "杭州市教育局"))
        let outcomes = try spool.pipeline().drain()
        XCTAssertEqual(outcomes.map(\.recorded.decision.verdict), [.rejected, .rejected])
        XCTAssertEqual(outcomes.map { $0.recorded.decision.assessment.violations.map(\.rule) }, [[.sessionLength], [.sessionLength]])
    }
}

final class YearBoundaryTests: XCTestCase {
    func test_annualCap_countsTheLocalYear_acrossNewYearInUTC() throws {
        // 2025-12-31T17:00Z is 01:00 on 2026-01-01 in Shanghai: a second comprehensive meeting "in 2025" by UTC
        // is the first of 2026 locally, and must be approved.
        let spool = try TestSpool()
        try spool.drop("y1.json", json: requestJSON(id: "y1", kind: "comprehensive", start: "2025-06-01T09:00:00+08:00", end: "2025-06-01T11:00:00+08:00"))
        try spool.drop("y2.json", json: requestJSON(id: "y2", kind: "comprehensive", start: "2025-12-31T17:00:00Z", end: "2025-12-31T19:00:00Z"))
        try spool.drop("y3.json", json: requestJSON(id: "y3", kind: "comprehensive", start: "2025-12-31T15:00:00Z", end: "2025-12-31T15:30:00Z"))
        let verdicts = try spool.pipeline().drain().map(\.recorded.decision.verdict)
        XCTAssertEqual(verdicts, [.approved, .approved, .rejected])
    }

    func test_yearEndClustering_acrossTheNewYear_namesTheCountedMeetings() throws {
        let spool = try TestSpool()
        func comprehensive(_ id: String, _ day: String, system: String) -> String {
            requestJSON(id: id, kind: "comprehensive", start: "\(day)T09:00:00+08:00", end: "\(day)T11:00:00+08:00")
                .replacingOccurrences(of: "卫生健康", with: system)
        }
        try spool.drop("a.json", json: comprehensive("a", "2025-12-29", system: "教育"))
        try spool.drop("b.json", json: comprehensive("b", "2025-12-31", system: "交通"))
        try spool.drop("c.json", json: comprehensive("c", "2026-01-02", system: "民政"))
        try spool.drop("d.json", json: comprehensive("d", "2026-01-09", system: "民政2"))
        let outcomes = try spool.pipeline().drain()
        XCTAssertEqual(outcomes.map(\.recorded.decision.verdict), [.approved, .approved, .rejected, .approved])
        let finding = try XCTUnwrap(outcomes[2].recorded.decision.assessment.violations.first)
        XCTAssertEqual(finding.rule, .yearEndClustering)
        XCTAssertEqual(finding.counted.map(\.id), ["a", "b"])
    }
}
