import Foundation
import MeetingModel
import MeetingRules
import XCTest

final class TimeTests: XCTestCase {
    let clock = ZonedClock(timeZone: TimeZone(identifier: "Asia/Shanghai")!)

    func slots(_ start: String, _ end: String) -> Int {
        clock.halfDaySlots(start: RFC3339.parse(start)!.instant, end: RFC3339.parse(end)!.instant, boundary: 12.5 * 3600)
    }

    func test_halfDaySlots_cutAt1230LocalTime() {
        XCTAssertEqual(slots("2025-04-02T09:00:00+08:00", "2025-04-02T12:30:00+08:00"), 1)
        XCTAssertEqual(slots("2025-04-02T09:00:00+08:00", "2025-04-02T12:31:00+08:00"), 2)
        XCTAssertEqual(slots("2025-04-02T12:30:00+08:00", "2025-04-02T18:00:00+08:00"), 1)
        XCTAssertEqual(slots("2025-04-09T09:00:00+08:00", "2025-04-10T11:30:00+08:00"), 3)
        XCTAssertEqual(slots("2025-04-09T14:00:00+08:00", "2025-04-10T00:00:00+08:00"), 1)
    }

    func test_slotsOfAnInstantWrittenInUTC_areTheSameAsInLocalTime() {
        // 01:00Z is 09:00 in Shanghai; 04:31Z is 12:31.
        XCTAssertEqual(slots("2025-04-02T01:00:00Z", "2025-04-02T04:31:00Z"), 2)
        XCTAssertEqual(slots("2025-04-02T01:00:00Z", "2025-04-02T04:30:00Z"), 1)
    }

    func test_localDate_ofALateUTCTime_isTheNextDayInShanghai() {
        let instant = RFC3339.parse("2025-12-31T17:00:00Z")!.instant
        XCTAssertEqual(clock.local(instant).date, LocalDate("2026-01-01")!)
    }

    func test_rfc3339_refusesTimesWithoutOffsetsAndImpossibleDates() {
        XCTAssertNil(RFC3339.parse("2025-03-10T09:00:00"))
        XCTAssertNil(RFC3339.parse("2025-02-30T09:00:00+08:00"))
        XCTAssertNil(RFC3339.parse("2025-03-10 09:00:00+08:00"))
        XCTAssertNil(RFC3339.parse("2025-03-10T24:00:00+08:00"))
        XCTAssertEqual(RFC3339.parse("2025-03-10T09:00:00.5+08:00")?.instant.timeIntervalSince1970, 1_741_568_400.5)
    }

    func test_localDate_roundTripsThroughDayNumbers() {
        for number in stride(from: -800_000, to: 800_000, by: 997) {
            XCTAssertEqual(LocalDate(dayNumber: number).dayNumber, number)
        }
        XCTAssertEqual(LocalDate("2024-02-29")!.adding(days: 366), LocalDate("2025-03-01")!)
    }

    func test_monthCapsUseTheLocalMonth() throws {
        // 2025-03-31T20:00Z is 04:00 on April 1st in Shanghai: it counts in April.
        let town = Sample.townshipPrincipal("转塘街道")
        let march = (1...4).map { Sample.meeting("m\($0)", from: "2025-03-0\($0) 14:00", to: "2025-03-0\($0) 16:00", attendees: [town]) }
        let request = Sample.meeting("april", attendees: [town]).with {
            $0.start = RFC3339.parse("2025-03-31T20:00:00Z")!.instant
            $0.end = RFC3339.parse("2025-03-31T22:00:00Z")!.instant
        }
        let findings = try TownshipLeaderLoad().check(RuleContext(request: request, settings: RuleSettingsSet()[.townshipLeaderLoad],
                                                                  ledger: InMemoryLedger(march.map(MeetingRecord.init))))
        XCTAssertEqual(findings, [])
    }
}
