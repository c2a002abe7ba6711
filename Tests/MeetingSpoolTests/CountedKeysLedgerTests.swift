import Foundation
import MeetingLedger
import MeetingModel
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
}
