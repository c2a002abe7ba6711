import Foundation
import MeetingLedger
import MeetingModel
@testable import MeetingPostgres
import MeetingRules
import TestSupport
import XCTest

/// The shared ledger's locks (`CountedKeys`): a decision that counts and a meeting it would count always meet on
/// a key, and the keys lock as they should on a real server.
final class CountedKeysTests: XCTestCase {
    /// Over random queries and meetings from small pools (so that many match): whenever a query counts a
    /// meeting, the keys the query reads and the keys the meeting is written with share at least one.
    func test_aQueryAndEveryMeetingItCounts_shareAKey() {
        var generator = SystemRandomNumberGenerator()
        let units = ["杭州市民政局", "西湖区人民政府", "u3"], regions = ["浙江省", "浙江省/杭州市", "浙江省/杭州市/西湖区/转塘街道"]
        let day = LocalDate(year: 2027, month: 3, day: 1)
        func maybe<T>(_ values: [T]) -> T? { Bool.random(using: &generator) ? values.randomElement(using: &generator) : nil }
        func someKinds() -> Set<MeetingKind>? {
            Bool.random(using: &generator) ? nil : Set((0..<Int.random(in: 1...3, using: &generator)).map { _ in MeetingKind.allCases.randomElement()! })
        }
        var matched = 0
        for _ in 0..<20_000 {
            let record = MeetingRecord(
                id: "m", revision: 1, title: "t", kind: MeetingKind.allCases.randomElement()!, organizerUnit: units.randomElement()!,
                organizerLevel: Level.allCases.randomElement()!, organizerType: .department, organizerSystem: maybe(["教育", "民政"]),
                organizerRegion: regions.randomElement()!, start: Date(), localStartDate: day, reachesGrassroots: false,
                attendeeUnits: Array(units.shuffled().prefix(Int.random(in: 0...2))),
                grassrootsPrincipalRegions: Array(regions.shuffled().prefix(Int.random(in: 0...2))), exempt: false)
            let query = MeetingQuery(kinds: someKinds(), organizerUnit: maybe(units), organizerRegion: maybe(regions),
                                     organizerSystem: maybe(["教育", "民政"]), startDates: day...day.adding(days: 1),
                                     grassrootsPrincipalRegion: maybe(regions), sharingAttendeeUnits: maybe([Set(units.prefix(1))]))
            guard query.matches(record) else { continue }
            matched += 1
            XCTAssertFalse(Set(CountedKeys.reading(query)).isDisjoint(with: CountedKeys.writing(record)), "\(query) counts \(record)")
        }
        XCTAssertGreaterThan(matched, 500, "the pools are small enough that many queries count a meeting")
        // A query that names no key reads `any`, which every meeting written holds.
        XCTAssertEqual(CountedKeys.reading(MeetingQuery(organizerLevels: [.city], startDates: day...day)), [CountedKeys.any])
    }

    /// On the test command's PostgreSQL: a key held exclusively by one decision makes another wait, whether
    /// it reads (exclusive) or writes (shared); two writers of one key do not wait for each other.
    func test_keyLocks_onARealServer_excludeReadersAndWritersButNotTwoWriters() throws {
        guard let server = TestLedger.serverURL else { throw XCTSkip("MEETINGD_TEST_POSTGRES is not set (make test-postgresql sets it)") }
        let url = try TestLedger.freshDatabase(on: server)
        _ = try LedgerOpener.open(url, node: "n1").approvedCount()  // the schema
        func session(_ id: Int) throws -> PostgresSession {
            let session = try PostgresSession.connect(try PostgresLocation(url: url), id: id, logger: .init(label: "test"))
            try session.execute("SET lock_timeout = '300ms'")
            return session
        }
        let (reader, other, writer) = (try session(1), try session(2), try session(3))
        defer { [reader, other, writer].forEach { $0.close() } }
        let key = "unit\u{1F}杭州市民政局\u{1F}routine"
        func attempt(_ session: PostgresSession, shared: Bool) -> String? {
            do {
                try session.execute("BEGIN")
                try session.lockKeys([key], shared: shared)
                try session.execute("SELECT 1")
                return nil
            } catch {
                return (error as? PostgresLedgerError)?.sqlState ?? "\(error)"
            }
        }
        XCTAssertNil(attempt(reader, shared: false))
        XCTAssertEqual(attempt(other, shared: false), "55P03", "a second reader waits")
        try other.execute("ROLLBACK")
        XCTAssertEqual(attempt(writer, shared: true), "55P03", "a writer waits")
        try writer.execute("ROLLBACK")
        try reader.execute("COMMIT")
        XCTAssertNil(attempt(writer, shared: true))
        XCTAssertNil(attempt(other, shared: true), "two writers share the key")
        XCTAssertEqual(attempt(reader, shared: false), "55P03", "a reader waits for the writers")
        for session in [reader, writer, other] { try session.execute("ROLLBACK") }
    }
}
