import Foundation
import MeetingModel
import MeetingRules
import MeetingSpool
import XCTest

final class RevisionTests: XCTestCase {
    func sequence(_ ics: String) -> String? {
        ics.split(separator: "\r\n").first { $0.hasPrefix("SEQUENCE:") }.map { String($0.dropFirst(9)) }
    }

    func test_revisionsAndWithdrawals_followTheCatalogue() throws {
        let spool = try TestSpool()
        let comprehensive = #", "purpose": "deploy""#
        try spool.drop("c1.json", json: requestJSON(id: "comp", kind: "comprehensive", start: "2025-02-25T09:00:00+08:00",
                                                    end: "2025-02-25T12:00:00+08:00", extra: comprehensive))
        var outcomes = try spool.pipeline().drain()
        XCTAssertEqual(outcomes.map(\.recorded.decision.verdict), [.approved])
        let first = try spool.text("approved/comp.ics")
        XCTAssertEqual(sequence(first), "0")

        // A higher revision replaces the approved one: same UID, higher SEQUENCE, counted once by the cap.
        try spool.drop("c2.json", json: requestJSON(id: "comp", revision: 2, kind: "comprehensive", start: "2025-03-03T09:00:00+08:00",
                                                    end: "2025-03-03T12:00:00+08:00"))
        outcomes = try spool.pipeline().drain()
        XCTAssertEqual(outcomes.map(\.recorded.decision.verdict), [.approved])
        let second = try spool.text("approved/comp.ics")
        XCTAssertEqual(sequence(second), "1")
        XCTAssertTrue(second.contains("UID:comp@meetingd"))
        XCTAssertTrue(second.contains("20250303T090000"))

        // Another comprehensive meeting of the same system and year is over the cap, and the facts name revision 2's date.
        try spool.drop("other.json", json: requestJSON(id: "other", kind: "comprehensive", start: "2025-07-01T09:00:00+08:00",
                                                       end: "2025-07-01T11:00:00+08:00"))
        outcomes = try spool.pipeline().drain()
        XCTAssertEqual(outcomes.first?.recorded.decision.assessment.violations.first?.counted.map(\.id), ["comp"])
        XCTAssertTrue(try spool.text("rejected/other.txt").contains("comp  2025-03-03"))

        // A rejected revision leaves the approved one in force, its .ics unchanged.
        try spool.drop("c3.json", json: requestJSON(id: "comp", revision: 3, kind: "comprehensive", start: "2025-03-03T09:00:00+08:00",
                                                    end: "2025-03-03T18:00:00+08:00"))
        outcomes = try spool.pipeline().drain()
        XCTAssertEqual(outcomes.map(\.recorded.decision.verdict), [.rejected])
        XCTAssertEqual(try spool.text("approved/comp.ics"), second)

        // A revision not above the highest decided one is invalid at $.revision.
        try spool.drop("c3-again.json", json: requestJSON(id: "comp", revision: 3, kind: "comprehensive"))
        outcomes = try spool.pipeline().drain()
        XCTAssertEqual(outcomes.first?.recorded.decision.verdict, .invalid)
        XCTAssertEqual(outcomes.first?.recorded.decision.problems.first?.hasPrefix(#"$.revision: revision 3 of "comp" was already decided (at "#), true, "\(outcomes.first?.recorded.decision.problems ?? [])")

        // A withdrawal cancels with a higher SEQUENCE and frees the quota.
        try spool.drop("w.json", json: #"{"format": 1, "id": "comp", "action": "withdraw"}"#)
        outcomes = try spool.pipeline().drain()
        XCTAssertEqual(outcomes.map(\.recorded.decision.verdict), [.withdrawn])
        let cancelled = try spool.text("approved/comp.ics")
        XCTAssertTrue(cancelled.contains("STATUS:CANCELLED"))
        XCTAssertEqual(sequence(cancelled), "2")
        XCTAssertEqual(spool.files("withdrawn"), ["comp.r2.withdraw.json"])

        try spool.drop("other-2.json", json: requestJSON(id: "other", revision: 2, kind: "comprehensive", start: "2025-07-01T09:00:00+08:00",
                                                         end: "2025-07-01T11:00:00+08:00"))
        XCTAssertEqual(try spool.pipeline().drain().map(\.recorded.decision.verdict), [.approved])

        // Nothing approved left under this id: a second withdrawal is invalid at $.id.
        try spool.drop("w2.json", json: #"{"format": 1, "id": "comp", "action": "withdraw"}"#)
        outcomes = try spool.pipeline().drain()
        XCTAssertEqual(outcomes.first?.recorded.decision.problems, [#"$.id: "comp" has no approved meeting to withdraw"#])

        // A withdrawn id may be proposed again with a higher revision; the SEQUENCE keeps rising.
        try spool.drop("c4.json", json: requestJSON(id: "comp", revision: 4, kind: "business"))
        XCTAssertEqual(try spool.pipeline().drain().map(\.recorded.decision.verdict), [.approved])
        XCTAssertEqual(sequence(try spool.text("approved/comp.ics")), "3")
    }

    func test_waiversAndWarnings_areRecordedInTheCalendarAndLog() throws {
        let spool = try TestSpool()
        let extra = #", "group_discussion": false, "approvals": [{"rule": "session-length", "approver": "市委办公厅", "ref": "杭委办〔2025〕9号"}]"#
        try spool.drop("w.json", json: requestJSON(id: "waived", start: "2025-04-02T09:00:00+08:00", end: "2025-04-02T17:00:00+08:00", extra: extra, planRef: nil))
        XCTAssertEqual(try spool.pipeline().drain().map(\.recorded.decision.verdict), [.approved])
        let ics = try spool.text("approved/waived.ics").replacingOccurrences(of: "\r\n ", with: "")
        XCTAssertTrue(ics.contains("X-MEETINGD-WAIVER:session-length\\; 杭委办〔2025〕9号\\; 市委办公厅")
                      || ics.contains("X-MEETINGD-WAIVER:session-length; 杭委办〔2025〕9号; 市委办公厅"), ics)
        XCTAssertTrue(ics.contains("X-MEETINGD-WARNING:plan-required"))
        let line = try XCTUnwrap(try spool.logLines().first)
        XCTAssertEqual(line["waived"], .array([.object([("rule", .string("session-length")), ("ref", .string("杭委办〔2025〕9号")),
                                                          ("approver", .string("市委办公厅"))])]))
    }
}
