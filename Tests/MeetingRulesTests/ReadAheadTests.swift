import Foundation
import MeetingLedger
import MeetingModel
@testable import MeetingPostgres
import MeetingRules
import TestSupport
import XCTest

/// A decision on the shared ledger sends its standing and the rules' likely reads at once
/// (`DecisionState.readAhead`): the reads must be the ones the rules make, the answers the ones they would
/// get read one by one, and the round trips one instead of one a read.
final class ReadAheadTests: XCTestCase {
    private let engine = RuleEngine(settings: RuleSettingsSet())
    private let town = Sample.townshipPrincipal("转塘街道")

    /// Requests that read the ledger in different ways: a township's principal (the monthly load), a
    /// comprehensive meeting (the annual cap, the year-end pile-up), a routine one, a weekly series.
    private var requests: [MeetingRequest] {
        var series = Sample.meeting("s", from: "2025-03-04 14:00", to: "2025-03-04 15:00", attendees: [town])
        series.recurrence = Recurrence(rule: "FREQ=WEEKLY;COUNT=3", exdates: [], occurrences: (0..<3).map {
            Occurrence(start: series.start.addingTimeInterval(Double($0) * 7 * 86_400), end: series.end.addingTimeInterval(Double($0) * 7 * 86_400))
        }, excludedStarts: [])
        return [
            Sample.meeting("t", from: "2025-03-18 09:00", to: "2025-03-18 11:00", attendees: [town]),
            Sample.meeting("c", kind: .comprehensive, from: "2025-12-28 09:00", to: "2025-12-28 11:00", type: .government),
            Sample.meeting("r", kind: .routine, from: "2025-03-05 09:00", to: "2025-03-05 10:00"),
            series,
        ]
    }

    func test_likelyReads_areTheReadsOfAssessing_onALedgerThatCountsNothing() throws {
        for request in requests {
            let seen = ReadsSeen(InMemoryLedger())
            _ = try engine.assessAll(request, ledger: seen)
            XCTAssertEqual(engine.likelyReads(of: request), seen.reads, request.id)
            XCTAssertFalse(seen.reads.isEmpty, "\(request.id) reads the ledger")
        }
        // A cap reached: the rejection also lists what it counted, a read not made ahead but when asked.
        let full = InMemoryLedger((1...4).map { day in
            MeetingRecord(Sample.meeting("m\(day)", from: "2025-03-0\(day) 09:00", to: "2025-03-0\(day) 10:00", attendees: [town]))
        })
        let request = requests[0]
        let seen = ReadsSeen(full)
        XCTAssertFalse(try engine.assessAll(request, ledger: seen).isApproved)
        let likely = engine.likelyReads(of: request)
        XCTAssertTrue(likely.allSatisfy(seen.reads.contains), "every read made ahead is asked for")
        XCTAssertTrue(seen.reads.contains { if case .counted = $0 { true } else { false } }, "\(seen.reads)")
        XCTAssertFalse(likely.contains { if case .counted = $0 { true } else { false } })
    }

    func test_theDecider_readsAheadOnce_beforeTheStanding_whereItPays() throws {
        let decider = Decider(engine: engine)
        for request in requests {
            let state = AheadRecorder(readsAhead: true)
            _ = try decider.decide(.success(.proposal(request)), state: state)
            XCTAssertEqual(state.calls.first, "ahead \(request.id)")
            XCTAssertEqual(state.calls.filter { $0.hasPrefix("ahead") }.count, 1)
            XCTAssertEqual(state.aheadReads, engine.likelyReads(of: request))
        }
        let statutory = AheadRecorder(readsAhead: true)
        _ = try decider.decide(.success(.proposal(Sample.meeting("x", kind: .statutory))), state: statutory)
        XCTAssertEqual(statutory.calls, ["ahead x", "standing x"], "a statutory meeting reads its standing only")
        XCTAssertEqual(statutory.aheadReads, [])
        let local = AheadRecorder(readsAhead: false)
        _ = try decider.decide(.success(.proposal(requests[0])), state: local)
        XCTAssertFalse(local.calls.contains { $0.hasPrefix("ahead") }, "a local ledger reads when asked")
    }

    /// On PostgreSQL a decision waits twice: once for its standing, its reads and the look for an earlier
    /// decision of its file (crash recovery), once for its commit.
    func test_onPostgreSQL_aDecision_looksForAnEarlierOneInTheRoundTripOfItsReads() throws {
        guard let server = TestLedger.serverURL else { throw XCTSkip("MEETINGD_TEST_POSTGRES is not set (make test-postgresql sets it)") }
        let ledger = try LedgerOpener.open(try TestLedger.freshDatabase(on: server), node: "a")
        let decider = Decider(engine: engine)
        var session: PostgresSession?
        func decide(_ request: MeetingRequest) throws -> DecisionTaken {
            try ledger.decideAndRecord(input: InputIdentity(name: "\(request.id).json", digest: "d"), decidedAt: Date(),
                                       takingUp: { _ in XCTFail("offered an earlier decision of a new file"); return true }) { state in
                session = (state as? PostgresDecisionState)?.session
                let decision = try decider.decide(.success(.proposal(request)), state: state)
                return DecisionToRecord(decision: decision, destination: "approved/\(request.id).r1.json", requestBytes: [0x7B, 0x7D],
                                        approved: decision.verdict == .approved ? request : nil,
                                        publication: Publication(vevent: "", timeZone: "Asia/Shanghai", start: request.start, end: request.end, feedKeys: ["all"]),
                                        subject: DecisionSubject(request))
            }
        }
        // Each statement is prepared the second time the connection sends it, a round trip once.
        for month in 1...2 { _ = try decide(Sample.meeting("w\(month)", from: "2025-0\(month)-04 09:00", to: "2025-0\(month)-04 10:00", type: .government, attendees: [town])) }
        let warmed = try XCTUnwrap(session)
        let before = warmed.roundTrips
        let taken = try decide(Sample.meeting("m", from: "2025-03-05 09:00", to: "2025-03-05 10:00", type: .government, attendees: [town]))
        guard case let .made(recorded) = taken else { return XCTFail("\(taken)") }
        XCTAssertEqual(recorded.decision.verdict, .approved, "\(recorded.decision.assessment.violations)")
        XCTAssertTrue(session === warmed, "one connection for the deciding thread")
        XCTAssertEqual(warmed.roundTrips - before, 2, "the look, the standing and the reads in one round trip; the commit in another")
    }

    /// On PostgreSQL: the reads sent ahead answer as the same reads sent one by one, in one round trip.
    func test_onPostgreSQL_readsAhead_answerAsReadOneByOne_inOneRoundTrip() throws {
        guard let server = TestLedger.serverURL else { throw XCTSkip("MEETINGD_TEST_POSTGRES is not set (make test-postgresql sets it)") }
        let url = try TestLedger.freshDatabase(on: server)
        let ledger = try LedgerOpener.open(url, node: "a")
        let approved = (1...3).map { day in
            Sample.meeting("m\(day)", from: "2025-03-0\(day) 09:00", to: "2025-03-0\(day) 10:00", attendees: [town])
        } + [Sample.meeting("c0", kind: .comprehensive, from: "2025-12-20 09:00", to: "2025-12-20 11:00", type: .government)]
        for request in approved {
            let decision = Decision(verdict: .approved, requestID: request.id, revision: 1, sequence: 0, settingsVersion: "v")
            _ = try ledger.decideAndRecord(input: InputIdentity(name: "\(request.id).json", digest: "d"), decidedAt: Date()) { _ in
                DecisionToRecord(decision: decision, destination: "approved/\(request.id).r1.json", requestBytes: [0x7B, 0x7D], approved: request,
                                 publication: Publication(vevent: "", timeZone: "Asia/Shanghai", start: request.start, end: request.end, feedKeys: ["all"]))
            }
        }
        let reference = InMemoryLedger(approved.flatMap(MeetingRecord.occurrences(of:)))
        let session = try PostgresSession.connect(try PostgresLocation(url: url), id: 9, logger: .init(label: "test"))
        defer { session.close() }
        for request in requests {
            var reads = engine.likelyReads(of: request)
            reads.append(.counted(MeetingQuery(startDates: LocalDate("2025-01-01")!...LocalDate("2025-12-31")!), limit: 2))
            // Each statement is prepared the second time the connection sends it, a round trip once: the third
            // time is what a decision costs from then on.
            for _ in 1...2 {
                try session.execute("BEGIN")
                let warming = PostgresDecisionState(session: session, locksKeys: true)
                try warming.readAhead(standingOf: "m1", reads: reads)
                try session.execute("ROLLBACK")
            }
            try session.execute("BEGIN")
            let state = PostgresDecisionState(session: session, locksKeys: true)
            XCTAssertTrue(state.readsAhead)
            let before = session.roundTrips
            try state.readAhead(standingOf: "m1", reads: reads)
            XCTAssertEqual(try state.standing(of: "m1").approvedRevision, 1)
            for read in reads {
                switch read {
                case let .count(query):
                    XCTAssertEqual(try state.countApproved(matching: query), reference.countApproved(matching: query), "\(query)")
                case let .startDates(query):
                    XCTAssertEqual(try state.approvedStartDates(matching: query), reference.approvedStartDates(matching: query), "\(query)")
                case let .counted(query, limit):
                    XCTAssertEqual(try state.countedMeetings(matching: query, limit: limit).map(\.id),
                                   try reference.countedMeetings(matching: query, limit: limit).map(\.id), "\(query)")
                }
            }
            XCTAssertEqual(session.roundTrips - before, 1, "the standing and \(reads.count) reads of \(request.id) in one round trip")
            // A read not sent ahead is read when asked, a round trip of its own.
            _ = try state.countApproved(matching: MeetingQuery(organizerUnit: "杭州市教育局", startDates: LocalDate("2025-01-01")!...LocalDate("2025-12-31")!))
            XCTAssertEqual(session.roundTrips - before, 2)
            try session.execute("ROLLBACK")
        }
    }
}

/// Passes reads to a ledger and notes them, in order, once each.
private final class ReadsSeen: LedgerView {
    private let ledger: InMemoryLedger
    private(set) var reads: [LedgerRead] = []

    init(_ ledger: InMemoryLedger) { self.ledger = ledger }

    private func note(_ read: LedgerRead) { if !reads.contains(read) { reads.append(read) } }

    func countApproved(matching query: MeetingQuery) -> Int {
        note(.count(query))
        return ledger.countApproved(matching: query)
    }

    func approvedMeetings(matching query: MeetingQuery, limit: Int?) -> [MeetingRecord] { ledger.approvedMeetings(matching: query, limit: limit) }

    func countedMeetings(matching query: MeetingQuery, limit: Int) throws -> [CountedMeeting] {
        note(.counted(query, limit: limit))
        return try ledger.countedMeetings(matching: query, limit: limit)
    }

    func approvedStartDates(matching query: MeetingQuery) -> [LocalDate] {
        note(.startDates(query))
        return ledger.approvedStartDates(matching: query)
    }

    func approvedMeeting(id: String) -> MeetingRecord? { ledger.approvedMeeting(id: id) }
}

/// An empty ledger that notes when it is read ahead and when the standing is asked for.
private final class AheadRecorder: DecisionState {
    let readsAhead: Bool
    private(set) var calls: [String] = []
    private(set) var aheadReads: [LedgerRead]?

    init(readsAhead: Bool) { self.readsAhead = readsAhead }

    func readAhead(standingOf id: String, reads: [LedgerRead]) {
        calls.append("ahead \(id)")
        aheadReads = reads
    }

    func standing(of id: String) -> MeetingStanding {
        calls.append("standing \(id)")
        return MeetingStanding()
    }

    func countApproved(matching query: MeetingQuery) -> Int { 0 }
    func approvedMeetings(matching query: MeetingQuery, limit: Int?) -> [MeetingRecord] { [] }
    func approvedStartDates(matching query: MeetingQuery) -> [LocalDate] { [] }
    func approvedMeeting(id: String) -> MeetingRecord? { nil }
}
