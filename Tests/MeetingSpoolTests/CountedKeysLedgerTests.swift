import Foundation
import MeetingLedger
import MeetingModel
@testable import MeetingPostgres
import MeetingRules
import TestSupport
import XCTest

/// The shared ledger locks what a revision or a withdrawal replaces by keys read back from the meeting's rows
/// (`CountedKeys.writingSQL`): they must be the keys the meeting was written with.
final class CountedKeysLedgerTests: XCTestCase {
    func test_theKeysReadBackFromAStoredMeeting_areTheKeysItWasWrittenWith() throws {
        guard TestLedger.onPostgres else { throw XCTSkip("PostgreSQL's own statement: runs in make test's PostgreSQL run") }
        let spool = try TestSpool()
        try spool.drop("town.json", json: """
            {"format": 1, "id": "keys-1", "title": "西湖区工作例会", "kind": "routine",
             "organizer": {"unit": "西湖区人民政府办公室", "level": "county", "type": "government", "region": "浙江省/杭州市/西湖区"},
             "convener": {"rank": "principal"}, "start": "2025-09-02T09:00:00+08:00", "end": "2025-09-02T10:00:00+08:00",
             "plan_ref": "西政办〔2025〕3号",
             "attendees": [{"unit": "转塘街道", "level": "township", "region": "浙江省/杭州市/西湖区/转塘街道", "role": "party-secretary",
                            "type": "party-committee", "reason": "例会部署"}]}
            """)
        let pipeline = try spool.pipeline()
        _ = try pipeline.drain()
        let record = try XCTUnwrap(try pipeline.ledger.read { try $0.approvedMeeting(id: "keys-1") })
        XCTAssertEqual(record.grassrootsPrincipalRegions, ["浙江省/杭州市/西湖区/转塘街道"])
        let stored = try pipeline.ledger.select(CountedKeys.writingSQL(), [.text("keys-1")]).compactMap { $0.first?.text }
        XCTAssertEqual(stored.sorted(), CountedKeys.writing(record))
        XCTAssertEqual(stored.count, 4, "any, the unit, the region and the township")
        XCTAssertTrue(try pipeline.ledger.select(CountedKeys.writingSQL(), [.text("no-such-meeting")]).isEmpty)
    }

    /// The locks as the real decision path takes them: a key held exclusively elsewhere (a decision on another
    /// node reading what it counts) holds up a decision that would write a meeting counted by it; a key held
    /// shared elsewhere (another node writing such a meeting) holds up a decision that reads it. Each goes on
    /// once the other commits.
    func test_aDecision_waitsForTheKeysItReadsAndWrites_heldByAnotherNode() throws {
        guard TestLedger.onPostgres else { throw XCTSkip("PostgreSQL's locks: runs in make test's PostgreSQL run") }
        let spool = try TestSpool()
        let url = try TestLedger.location(sqlitePath: spool.url("state/ledger.sqlite").path)
        nonisolated(unsafe) let pipeline = try spool.pipeline()
        let other = try PostgresSession.connect(try PostgresLocation(url: url), id: 77, logger: .init(label: "other node"))
        defer { other.close() }
        // requestJSON's meeting: a business meeting of 杭州市卫生健康委员会 in 浙江省/杭州市.
        let unitKey = "unit\u{1F}杭州市卫生健康委员会\u{1F}business", regionKey = "region\u{1F}浙江省/杭州市\u{1F}business"
        for (held, shared, what) in [(regionKey, false, "a key it writes, held by a reader"), (unitKey, true, "a key it reads, held by a writer")] {
            let id = "held-\(shared)"
            try other.execute("BEGIN")
            try other.lockKeys([held], shared: shared)
            try other.execute("SELECT 1")
            try spool.drop("\(id).json", json: requestJSON(id: id))
            let done = DispatchSemaphore(value: 0)
            nonisolated(unsafe) var outcome: Result<Int, any Error> = .success(0)
            Thread.detachNewThread {
                outcome = Result { try pipeline.drain().count }
                done.signal()
            }
            XCTAssertEqual(done.wait(timeout: .now() + 1.5), .timedOut, "\(what): the decision waits")
            XCTAssertEqual(spool.files("incoming"), ["\(id).json"])
            try other.execute("COMMIT")
            XCTAssertEqual(done.wait(timeout: .now() + 30), .success, what)
            XCTAssertEqual(try outcome.get(), 1, what)
            XCTAssertEqual(spool.files("incoming"), [])
        }
    }
}
