import Foundation
@testable import MeetingLedger
import MeetingModel
import MeetingRules
import XCTest

/// The SQLite ledger must answer the rules' queries exactly as the in-memory reference does.
final class LedgerTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("meetingd-ledger-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try FileManager.default.removeItem(at: directory) }

    func approve(_ request: MeetingRequest, in ledger: SQLiteLedger, sequence: Int = 0) throws {
        let decision = Decision(verdict: .approved, requestID: request.id, revision: request.revision, sequence: sequence, settingsVersion: "v")
        _ = try ledger.decideAndRecord(input: InputIdentity(name: "\(request.id).json", digest: "d"), decidedAt: Date()) { _ in
            DecisionToRecord(decision: decision, destination: "approved/\(request.id).r\(request.revision).json", approved: (request, [0x7B, 0x7D]),
                             publication: Publication(vevent: "BEGIN:VEVENT\r\nEND:VEVENT\r\n", timeZone: "Asia/Shanghai",
                                                      start: request.start, end: request.end, feedKeys: ["all"]))
        }
    }

    func test_sqliteQueries_matchTheInMemoryReference() throws {
        let ledger = try SQLiteLedger(path: directory.appendingPathComponent("ledger.sqlite").path)
        let town = Sample.townshipPrincipal("转塘街道")
        let requests: [MeetingRequest] = [
            Sample.meeting("a", kind: .comprehensive, from: "2025-12-28 09:00", to: "2025-12-28 11:00"),
            Sample.meeting("b", kind: .business, from: "2025-03-01 09:00", to: "2025-03-01 11:00", attendees: [town]),
            Sample.meeting("c", kind: .routine, from: "2025-03-05 09:00", to: "2025-03-05 10:00", unit: "杭州市教育局"),
            Sample.meeting("d", kind: .comprehensive, from: "2026-01-02 09:00", to: "2026-01-02 11:00", level: .county, system: "教育"),
            Sample.meeting("e", kind: .statutory, from: "2025-03-06 09:00", to: "2025-03-06 11:00", attendees: [town]),
        ]
        for request in requests { try approve(request, in: ledger) }
        let reference = InMemoryLedger(requests.map(MeetingRecord.init))
        let queries: [MeetingQuery] = [
            MeetingQuery(startDates: LocalDate("2025-01-01")!...LocalDate("2026-12-31")!),
            MeetingQuery(kinds: [.comprehensive], organizerRegion: "浙江省/杭州市", organizerSystem: "卫生健康",
                         startDates: LocalDate("2025-01-01")!...LocalDate("2025-12-31")!),
            MeetingQuery(kinds: [.comprehensive], organizerLevels: [.city, .county], startDates: LocalDate("2025-12-01")!...LocalDate("2026-01-31")!),
            MeetingQuery(organizerUnit: "杭州市教育局", startDates: LocalDate("2025-03-01")!...LocalDate("2025-03-31")!),
            MeetingQuery(startDates: LocalDate("2025-03-01")!...LocalDate("2025-03-31")!, grassrootsPrincipalRegion: town.region),
            MeetingQuery(startDates: LocalDate("2025-01-01")!...LocalDate("2026-12-31")!, excludingID: "a"),
        ]
        for query in queries {
            let stored = try ledger.read { try $0.approvedMeetings(matching: query) }.map(\.id)
            XCTAssertEqual(stored, reference.approvedMeetings(matching: query).map(\.id), "\(query)")
        }
        XCTAssertEqual(try ledger.read { try $0.approvedMeeting(id: "e") }?.exempt, true)
    }

    func test_aVersion1Ledger_keepsItsFeedMembershipAfterMigration() throws {
        let path = directory.appendingPathComponent("v1.sqlite").path
        _ = try SQLiteLedger(path: path, migratingUpTo: "v1: decisions and meetings")
        // Two meetings as version 1 stored them: feed membership in feed_entry rows; the second has ended.
        let fill = Process()
        fill.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        fill.arguments = ["python3", "-c", """
            import sqlite3, sys
            db = sqlite3.connect(sys.argv[1])
            for seq, (id, end) in enumerate([("m1", 4102444800.0), ("m2", 1000.0)], start=1):
                db.execute("INSERT INTO decision (seq, input_name, input_digest, request_id, revision, action, verdict, decided_at,"
                           " destination, decision_json) VALUES (?, ?, 'd', ?, 1, 'propose', 'approved', 0, 'x', '{}')", (seq, id + ".json", id))
                db.execute("INSERT INTO meeting VALUES (?, 1, 'approved', 0, 'business', 't', 'u', 'city', 'department', NULL, 'r',"
                           " ?, '2030-01-01', 0, 0, '[]', x'7b7d', '{}', 'v', 0, ?, ?, 'Asia/Shanghai', ?)",
                           (id, end - 3600, seq, "BEGIN:VEVENT\\r\\nUID:" + id + "\\r\\nEND:VEVENT\\r\\n", end))
                for key in ["all", "region:r", "organizer:u"]:
                    db.execute("INSERT INTO feed_entry (feed_key, meeting_id) VALUES (?, ?)", (key, id))
            db.execute("INSERT INTO feed_entry (feed_key, meeting_id) VALUES ('attendee:a', 'm1')")
            db.commit()
            """, path]
        try fill.run()
        fill.waitUntilExit()
        XCTAssertEqual(fill.terminationStatus, 0, "python3 could not fill the version 1 ledger")

        let ledger = try SQLiteLedger(path: path)
        let events = try ledger.feedEvents(visibleAfter: Date(timeIntervalSince1970: 2000), cancelledAfter: .distantPast)
        XCTAssertEqual(events.map(\.vevent), ["BEGIN:VEVENT\r\nUID:m1\r\nEND:VEVENT\r\n"], "the ended meeting is not shown")
        XCTAssertEqual(events.first?.feedKeys, ["all", "attendee:a", "organizer:u", "region:r"])
        XCTAssertEqual(try ledger.feedKeys(), ["all", "attendee:a", "organizer:u", "region:r"], "the ended meeting's feeds stay listed")
        XCTAssertEqual(try ledger.feedEvents(visibleAfter: .distantPast, cancelledAfter: .distantPast).count, 2)
    }

    func test_sameIdAndRevision_cannotBeDecidedTwice() throws {
        let ledger = try SQLiteLedger(path: directory.appendingPathComponent("ledger.sqlite").path)
        let request = Sample.meeting("once")
        try approve(request, in: ledger)
        XCTAssertThrowsError(try approve(request, in: ledger)) { error in
            guard case LedgerError.alreadyDecided = error else { return XCTFail("\(error)") }
        }
        XCTAssertEqual(try ledger.approvedCount(), 1)
    }

    func test_standing_tracksRevisionsAndSequence() throws {
        let ledger = try SQLiteLedger(path: directory.appendingPathComponent("ledger.sqlite").path)
        try approve(Sample.meeting("s"), in: ledger)
        try approve(Sample.meeting("s").with { $0.revision = 3 }, in: ledger, sequence: 1)
        let standing = try ledger.read { try $0.standing(of: "s") }
        XCTAssertEqual(standing, MeetingStanding(approvedRevision: 3, lastSequence: 1, highestDecidedRevision: 3))
    }
}
