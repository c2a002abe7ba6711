import Foundation
import MeetingModel
import MeetingRules
import XCTest

/// A crowded key: findings name a handful of the meetings they counted and say how many more.
final class CrowdedKeyTests: XCTestCase {
    func test_aNoteAbout300OverlappingMeetings_lists10_andSaysHowManyMore() throws {
        let spool = try TestSpool()
        let pipeline = try spool.pipeline()
        pipeline.batchSize = 100
        for index in 0..<300 {
            try spool.drop("m\(index).json", json: requestJSON(id: "m\(index)", start: "2025-03-18T09:00:00+08:00", end: "2025-03-18T10:00:00+08:00"))
        }
        XCTAssertEqual(Set(try pipeline.drain().map(\.recorded.decision.verdict)), [.approved], "merging is a warning by default")
        spool.settings[.mergeBusinessMeetings].severity = .reject
        try spool.drop("one-more.json", json: requestJSON(id: "one-more"))
        let outcome = try XCTUnwrap(try spool.pipeline().drain().first)
        XCTAssertEqual(outcome.recorded.decision.verdict, .rejected)
        let finding = try XCTUnwrap(outcome.recorded.decision.assessment.violations.first)
        XCTAssertEqual(finding.counted.count, 10)
        XCTAssertEqual(finding.countedTotal, 300)
        XCTAssertEqual(finding.counted.first?.id, "m0", "the earliest first, by date then id")

        let note = try spool.text("rejected/one-more.txt")
        let listed = note.split(separator: "\n").filter { $0.hasPrefix("     - m") }
        XCTAssertEqual(listed.count, 10, note)
        XCTAssertTrue(listed[0].contains("测试会议 m0"), "titles are named: \(listed[0])")
        XCTAssertTrue(note.contains("另有 290 个") && note.contains("and 290 more"), note)
        XCTAssertTrue(note.contains("300 business meeting(s)"), note)

        let line = try XCTUnwrap(try spool.logLines().last)
        guard case let .array(violations)? = line["violations"], case let .string(facts)? = violations.first?["facts"] else {
            return XCTFail("\(line)")
        }
        XCTAssertTrue(facts.hasSuffix("and 290 more"), facts)
        XCTAssertLessThan(line.serialized.utf8.count, 2_000, "a log line stays short")

        // The decision read back from the ledger (as after a crash) names the same meetings, titles included.
        let stored = try XCTUnwrap(try spool.pipeline().ledger.latestDecision(for: outcome.recorded.input))
        XCTAssertEqual(stored.decision, outcome.recorded.decision)
    }
}
