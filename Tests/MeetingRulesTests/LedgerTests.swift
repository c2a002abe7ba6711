import Foundation
@testable import MeetingLedger
import MeetingModel
import MeetingRules
import TestSupport
import XCTest

/// The ledger — SQLite, or PostgreSQL when the tests run on it — must answer the rules' queries exactly as the
/// in-memory reference does.
final class LedgerTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("meetingd-ledger-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try FileManager.default.removeItem(at: directory) }

    func approve(_ request: MeetingRequest, in ledger: any Ledger, sequence: Int = 0) throws {
        let decision = Decision(verdict: .approved, requestID: request.id, revision: request.revision, sequence: sequence, settingsVersion: "v")
        _ = try ledger.decideAndRecord(input: InputIdentity(name: "\(request.id).json", digest: "d"), decidedAt: Date()) { _ in
            DecisionToRecord(decision: decision, destination: "approved/\(request.id).r\(request.revision).json", requestBytes: [0x7B, 0x7D], approved: request,
                             publication: Publication(vevent: "BEGIN:VEVENT\r\nEND:VEVENT\r\n", timeZone: "Asia/Shanghai",
                                                      start: request.start, end: request.end, feedKeys: ["all"]))
        }
    }

    func test_sqliteQueries_matchTheInMemoryReference() throws {
        let ledger = try TestLedger.make(sqlitePath: directory.appendingPathComponent("ledger.sqlite").path)
        let town = Sample.townshipPrincipal("转塘街道")
        var series = Sample.meeting("f", kind: .business, from: "2025-03-04 14:00", to: "2025-03-04 15:00", attendees: [town])
        series.recurrence = Recurrence(rule: "FREQ=WEEKLY;COUNT=3", exdates: [], occurrences: (0..<3).map {
            Occurrence(start: series.start.addingTimeInterval(Double($0) * 7 * 86_400), end: series.end.addingTimeInterval(Double($0) * 7 * 86_400))
        }, excludedStarts: [])
        // A series whose own start is excluded: its first occurrence is its second date.
        var late = Sample.meeting("g", kind: .business, from: "2025-03-03 09:00", to: "2025-03-03 10:00", attendees: [town])
        late.recurrence = Recurrence(rule: "FREQ=WEEKLY;COUNT=3", exdates: [LocalDate("2025-03-03")!], occurrences: (1..<3).map {
            Occurrence(start: late.start.addingTimeInterval(Double($0) * 7 * 86_400), end: late.end.addingTimeInterval(Double($0) * 7 * 86_400))
        }, excludedStarts: [])
        let requests: [MeetingRequest] = [
            series, late,
            Sample.meeting("a", kind: .comprehensive, from: "2025-12-28 09:00", to: "2025-12-28 11:00"),
            Sample.meeting("b", kind: .business, from: "2025-03-01 09:00", to: "2025-03-01 11:00", attendees: [town]),
            Sample.meeting("c", kind: .routine, from: "2025-03-05 09:00", to: "2025-03-05 10:00", unit: "杭州市教育局"),
            Sample.meeting("d", kind: .comprehensive, from: "2026-01-02 09:00", to: "2026-01-02 11:00", level: .county, system: "教育"),
            Sample.meeting("e", kind: .statutory, from: "2025-03-06 09:00", to: "2025-03-06 11:00", attendees: [town]),
        ]
        for request in requests { try approve(request, in: ledger) }
        // A series is one record per occurrence.
        let reference = InMemoryLedger(requests.flatMap(MeetingRecord.occurrences(of:)))
        let queries: [MeetingQuery] = [
            MeetingQuery(startDates: LocalDate("2025-01-01")!...LocalDate("2026-12-31")!),
            MeetingQuery(kinds: [.comprehensive], organizerRegion: "浙江省/杭州市", organizerSystem: "卫生健康",
                         startDates: LocalDate("2025-01-01")!...LocalDate("2025-12-31")!),
            MeetingQuery(kinds: [.comprehensive], organizerLevels: [.city, .county], startDates: LocalDate("2025-12-01")!...LocalDate("2026-01-31")!),
            MeetingQuery(organizerUnit: "杭州市教育局", startDates: LocalDate("2025-03-01")!...LocalDate("2025-03-31")!),
            MeetingQuery(startDates: LocalDate("2025-03-01")!...LocalDate("2025-03-31")!, grassrootsPrincipalRegion: town.region),
            MeetingQuery(startDates: LocalDate("2025-01-01")!...LocalDate("2026-12-31")!, excludingID: "a"),
        ]
        let moreQueries = queries + [
            MeetingQuery(kinds: [.business], organizerUnit: "杭州市卫生健康委员会", startDates: LocalDate("2025-01-01")!...LocalDate("2025-12-31")!,
                         sharingAttendeeUnits: ["西湖区卫生健康局", "转塘街道党工委"]),
            MeetingQuery(startDates: LocalDate("2025-01-01")!...LocalDate("2026-12-31")!, sharingAttendeeUnits: ["转塘街道党工委"]),
            MeetingQuery(organizerRegion: "浙江省/杭州市", startDates: LocalDate("2025-01-01")!...LocalDate("2026-12-31")!,
                         sharingAttendeeUnits: ["西湖区卫生健康局"]),
        ]
        for query in moreQueries {
            // Whole records, as the rules see them: a field read back wrong fails here, not just an id.
            let stored = try ledger.read { try $0.approvedMeetings(matching: query) }
            XCTAssertEqual(stored, reference.approvedMeetings(matching: query), "\(query)")
            XCTAssertEqual(try ledger.read { try $0.countApproved(matching: query) }, reference.countApproved(matching: query), "\(query)")
            XCTAssertEqual(try ledger.read { try $0.approvedStartDates(matching: query) }, reference.approvedStartDates(matching: query), "\(query)")
            XCTAssertEqual(try ledger.read { try $0.approvedMeetings(matching: query, limit: 1) }, reference.approvedMeetings(matching: query, limit: 1))
        }
        XCTAssertEqual(try ledger.read { try $0.approvedMeeting(id: "e") }?.exempt, true)
        XCTAssertEqual(try ledger.read { try $0.approvedMeeting(id: "g") }, reference.approvedMeeting(id: "g"), "a series begins where it takes place")
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
        let batch = try ledger.feedEvents(visibleAfter: Date(timeIntervalSince1970: 2000), cancelledAfter: .distantPast)
        let events = batch.events
        XCTAssertEqual(batch.through, 2)
        XCTAssertEqual(events.map(\.vevent), ["BEGIN:VEVENT\r\nUID:m1\r\nEND:VEVENT\r\n"], "the ended meeting is not shown")
        XCTAssertEqual(events.first?.feedKeys, ["all", "attendee:a", "organizer:u", "region:r"])
        XCTAssertEqual(try ledger.feedKeys(), ["all", "attendee:a", "organizer:u", "region:r"], "the ended meeting's feeds stay listed")
        XCTAssertEqual(try ledger.feedEvents(visibleAfter: .distantPast, cancelledAfter: .distantPast).events.count, 2)
        XCTAssertEqual(try ledger.feedEvents(changedAfter: 1).events.map(\.id), ["m2"], "the meetings of decisions after 1, shown or not")
    }

    /// A ledger of schema v6 with meetings of every state (approved with attendee and principal rows,
    /// comprehensive, withdrawn, exempt), migrated to v7: every count and record is what the in-memory
    /// reference gives for the same meetings, and a withdrawal after the migration frees the places.
    func test_aVersion6Ledger_countsTheSameAfterTheMigrationToOccurrenceRows() throws {
        let path = directory.appendingPathComponent("v6.sqlite").path
        _ = try SQLiteLedger(path: path, migratingUpTo: "v6: region and system indexes for comprehensive meetings")
        let town = Sample.townshipPrincipal("转塘街道")
        let approved = Sample.meeting("a", from: "2025-03-05 09:00", to: "2025-03-05 11:00", attendees: [Sample.countyHealthBureau, town])
        let comprehensive = Sample.meeting("b", kind: .comprehensive, from: "2025-12-29 09:00", to: "2025-12-29 11:00")
        let withdrawn = Sample.meeting("w", from: "2025-03-06 09:00", to: "2025-03-06 11:00", attendees: [town])
        let exempt = Sample.meeting("e", kind: .statutory, from: "2025-03-07 09:00", to: "2025-03-07 11:00", attendees: [town])
        // The rows version 6 wrote for them (attendee rows for approved, counted meetings only; principal rows
        // stayed behind a withdrawal).
        var script = "import sqlite3, sys\ndb = sqlite3.connect(sys.argv[1])\n"
        for (seq, (request, status)) in [(approved, "approved"), (comprehensive, "approved"), (withdrawn, "withdrawn"), (exempt, "approved")].enumerated() {
            let record = MeetingRecord(request)
            let units = "[" + record.attendeeUnits.map { "\"\($0)\"" }.joined(separator: ",") + "]"
            script += """
                db.execute("INSERT INTO decision (seq, input_name, input_digest, request_id, revision, action, verdict, decided_at, destination, decision_json) VALUES (?, ?, 'd', ?, 1, 'propose', 'approved', 0, 'x', '{\\"settingsVersion\\":\\"v\\"}')", (\(seq + 1), '\(record.id).json', '\(record.id)'))
                db.execute("INSERT INTO meeting (id, revision, status, sequence, kind, title, organizer_unit, organizer_level, organizer_type, organizer_system, organizer_region, start_utc, local_date, reaches_grassroots, exempt, attendee_units, request_bytes, settings_version, decided_at, decision_seq, vevent, tzid, end_utc, feed_keys) VALUES (?, 1, ?, 0, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, x'7b7d', 'v', 0, ?, 'V', 'Asia/Shanghai', ?, 'all')", ('\(record.id)', '\(status)', '\(record.kind.rawValue)', '\(record.title)', '\(record.organizerUnit)', '\(record.organizerLevel.rawValue)', '\(record.organizerType.rawValue)', '\(record.organizerSystem ?? "")', '\(record.organizerRegion)', \(record.start.timeIntervalSince1970), '\(record.localStartDate)', \(record.exempt ? 1 : 0), '\(units)', \(seq + 1), \(request.end.timeIntervalSince1970)))

                """
            for region in record.grassrootsPrincipalRegions {
                script += "db.execute(\"INSERT INTO meeting_principal_region (meeting_id, region, local_date) VALUES ('\(record.id)', '\(region)', '\(record.localStartDate)')\")\n"
            }
            if status == "approved", !record.exempt {
                for unit in Set(record.attendeeUnits) {
                    script += "db.execute(\"INSERT INTO meeting_attendee VALUES ('\(unit)', '\(record.organizerUnit)', '\(record.kind.rawValue)', '\(record.localStartDate)', '\(record.id)')\")\n"
                }
            }
        }
        script += "db.commit()\n"
        let fill = Process()
        fill.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        fill.arguments = ["python3", "-c", script, path]
        try fill.run()
        fill.waitUntilExit()
        XCTAssertEqual(fill.terminationStatus, 0, "python3 could not fill the version 6 ledger")

        let ledger = try SQLiteLedger(path: path)
        let reference = InMemoryLedger([approved, comprehensive, exempt].map(MeetingRecord.init))
        let year = LocalDate("2025-01-01")!...LocalDate("2025-12-31")!
        let queries = [
            MeetingQuery(startDates: year),
            MeetingQuery(startDates: year, grassrootsPrincipalRegion: town.region),
            MeetingQuery(startDates: year, sharingAttendeeUnits: [town.unit, "西湖区卫生健康局"]),
            MeetingQuery(kinds: [.comprehensive], organizerRegion: "浙江省/杭州市", organizerSystem: "卫生健康", startDates: year),
            MeetingQuery(kinds: [.business], organizerUnit: "杭州市卫生健康委员会", startDates: year),
        ]
        for query in queries {
            XCTAssertEqual(try ledger.read { try $0.approvedMeetings(matching: query) }, reference.approvedMeetings(matching: query), "\(query)")
            XCTAssertEqual(try ledger.read { try $0.countApproved(matching: query) }, reference.countApproved(matching: query), "\(query)")
        }
        XCTAssertEqual(try ledger.read { try $0.countApproved(matching: queries[1]) }, 1, "only the approved, counted meeting needs the principal")
        // Withdrawn after the migration: every row it was counted by goes.
        _ = try ledger.decideAndRecord(input: InputIdentity(name: "a.withdraw.json", digest: "d"), decidedAt: Date()) { _ in
            DecisionToRecord(decision: Decision(verdict: .withdrawn, requestID: "a", revision: 1, sequence: 1, settingsVersion: "v"),
                             destination: "withdrawn/a.r1.withdraw.json",
                             publication: Publication(vevent: "", timeZone: "Asia/Shanghai", start: Date(), end: Date(), feedKeys: ["all"]))
        }
        let afterwards = InMemoryLedger([comprehensive, exempt].map(MeetingRecord.init))
        for query in queries {
            XCTAssertEqual(try ledger.read { try $0.countApproved(matching: query) }, afterwards.countApproved(matching: query), "\(query)")
        }
        XCTAssertEqual(try ledger.read { try $0.countApproved(matching: queries[1]) }, 0)
    }

    /// A ledger of schema v7 kept an approval's request bytes in its meeting row only. After the move to v8
    /// the meeting reads them from its approving decision, the history gives them for that approval and none
    /// for the decisions v7 kept no bytes of; a read-only opening refuses the v7 file and leaves it unchanged.
    func test_aVersion7Ledger_keepsItsApprovedRequestBytes_andReplayReadsTheHistory() throws {
        let path = directory.appendingPathComponent("v7.sqlite").path
        _ = try SQLiteLedger(path: path, migratingUpTo: "v7: one counted row per occurrence")
        let request = Sample.meeting("a", from: "2025-03-05 09:00", to: "2025-03-05 11:00")
        let record = MeetingRecord(request)
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        func body(_ verdict: Verdict, revision: Int) throws -> String {
            let decision = Decision(verdict: verdict, requestID: "a", revision: revision, sequence: verdict == .approved ? revision - 1 : nil,
                                    settingsVersion: "v\(revision)")
            return String(decoding: try encoder.encode(DecisionBody(decision)), as: UTF8.self)
        }
        let script = """
            import sqlite3, sys
            db = sqlite3.connect(sys.argv[1])
            db.execute("INSERT INTO decision (seq, input_name, input_digest, request_id, revision, action, verdict, decided_at, destination, decision_json) VALUES (1, 'a1.json', 'd1', 'a', 1, 'propose', 'approved', 10, 'approved/a.r1.json', ?)", (sys.argv[2],))
            db.execute("INSERT INTO decision (seq, input_name, input_digest, request_id, revision, action, verdict, decided_at, destination, decision_json) VALUES (2, 'a3.json', 'd3', 'a', 3, 'propose', 'rejected', 20, 'rejected/a.r3.json', ?)", (sys.argv[3],))
            db.execute("INSERT INTO decision (seq, input_name, input_digest, request_id, revision, action, verdict, decided_at, destination, decision_json) VALUES (3, 'a2.json', 'd2', 'a', 4, 'propose', 'approved', 30, 'approved/a.r4.json', ?)", (sys.argv[4],))
            db.execute("INSERT INTO meeting (id, revision, status, sequence, kind, title, organizer_unit, organizer_level, organizer_type, organizer_system, organizer_region, start_utc, local_date, reaches_grassroots, exempt, attendee_units, request_bytes, settings_version, decided_at, decision_seq, vevent, tzid, end_utc, feed_keys) VALUES ('a', 4, 'approved', 3, 'business', 't', 'u', 'city', 'party', NULL, 'r', \(record.start.timeIntervalSince1970), '2025-03-05', 0, 0, '[]', CAST('r4 bytes' AS BLOB), 'v4', 30, 3, 'V', 'Asia/Shanghai', \(request.end.timeIntervalSince1970), 'all')")
            db.commit()
            """
        let fill = Process()
        fill.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        fill.arguments = ["python3", "-c", script, path, try body(.approved, revision: 1), try body(.rejected, revision: 3),
                          try body(.approved, revision: 4)]
        try fill.run()
        fill.waitUntilExit()
        XCTAssertEqual(fill.terminationStatus, 0, "python3 could not fill the version 7 ledger")

        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try SQLiteLedger(readingOnly: path)) { error in
            XCTAssertTrue("\(error)".contains("older meetingd"), "\(error)")
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), before, "a read-only opening changes nothing")

        let ledger = try SQLiteLedger(path: path)
        XCTAssertEqual(try ledger.meeting(id: "a")?.requestBytes, Array("r4 bytes".utf8))
        var history: [HistoryEntry] = []
        try SQLiteLedger(readingOnly: path).history { history.append($0) }
        XCTAssertEqual(history.map(\.sequenceNumber), [1, 2, 3])
        XCTAssertEqual(history.map(\.verdict), [.approved, .rejected, .approved])
        XCTAssertEqual(history.map(\.settingsVersion), ["v1", "v3", "v4"])
        XCTAssertEqual(history.map(\.requestBytes), [nil, nil, Array("r4 bytes".utf8)])
        XCTAssertEqual(history.map(\.destination), ["approved/a.r1.json", "rejected/a.r3.json", "approved/a.r4.json"])
        XCTAssertEqual(try ledger.historyCount(), 3)
    }

    func test_sameIdAndRevision_cannotBeDecidedTwice() throws {
        let ledger = try TestLedger.make(sqlitePath: directory.appendingPathComponent("ledger.sqlite").path)
        let request = Sample.meeting("once")
        try approve(request, in: ledger)
        XCTAssertThrowsError(try approve(request, in: ledger)) { error in
            guard case LedgerError.alreadyDecided = error else { return XCTFail("\(error)") }
        }
        XCTAssertEqual(try ledger.approvedCount(), 1)
    }

    /// Crash recovery asks, before a file is decided, whether this node decided the same file before. Every
    /// backend offers that earlier decision first — also when the rules fail on the file — records nothing
    /// when it is taken up, and decides anew when it is not.
    func test_anEarlierDecisionOfTheSameFile_isOfferedFirst_andTakenUpOrDecidedAgain() throws {
        let ledger = try TestLedger.make(sqlitePath: directory.appendingPathComponent("ledger.sqlite").path)
        let input = InputIdentity(name: "a.json", digest: "d1")
        // Milliseconds, as the pipeline's clock gives them: a time read back equals the one recorded.
        let decidedAt = Date(timeIntervalSince1970: 1_795_000_000.125)
        func setAside(_ state: any DecisionState) throws -> DecisionToRecord {
            _ = try state.standing(of: "a")
            return DecisionToRecord(decision: Decision(verdict: .invalid, requestID: nil, revision: nil, problems: ["$: broken"], settingsVersion: "v"),
                                    destination: "invalid/a.json")
        }
        var offered: [RecordedDecision] = []
        guard case let .made(first) = try ledger.decideAndRecord(input: input, decidedAt: decidedAt, takingUp: { offered.append($0); return true }, setAside) else {
            return XCTFail("a file never decided is decided")
        }
        XCTAssertEqual(offered, [], "nothing to offer the first time")
        XCTAssertEqual(try ledger.latestDecision(for: input), first)

        // Decided before: offered whole, and taken up without a second row.
        let taken = try ledger.decideAndRecord(input: input, decidedAt: decidedAt, takingUp: { offered.append($0); return true }, setAside)
        guard case let .takenUp(earlier) = taken else { return XCTFail("\(taken)") }
        XCTAssertEqual(earlier, first)
        XCTAssertEqual(offered, [first])
        XCTAssertEqual(try ledger.latestDecision(for: input), first, "nothing recorded")

        // The rules failing on it do not hide it: the earlier decision comes first.
        struct RulesFailed: Error {}
        let despiteFailure = try ledger.decideAndRecord(input: input, decidedAt: decidedAt, takingUp: { _ in true }) { _ in throw RulesFailed() }
        guard case .takenUp(first) = despiteFailure else { return XCTFail("\(despiteFailure)") }
        // Failing transiently (a lost connection, a timeout): nothing recorded and nothing set aside. SQLite looks
        // first and takes the earlier decision up at once; PostgreSQL, whose look travels with the rules' reads,
        // throws the failure so that the request waits — and its next try takes the earlier decision up.
        struct RulesBusy: ClassifiedFailure { var isTransient: Bool { true } }
        var rulesAsked = 0
        if ledger.localFile != nil {
            let busy = try ledger.decideAndRecord(input: input, decidedAt: decidedAt, takingUp: { _ in true }) { _ in rulesAsked += 1; throw RulesBusy() }
            guard case .takenUp(first) = busy else { return XCTFail("\(busy)") }
            XCTAssertEqual(rulesAsked, 0, "looked first: the rules are not asked")
        } else {
            XCTAssertThrowsError(try ledger.decideAndRecord(input: input, decidedAt: decidedAt, takingUp: { _ in XCTFail("taken up"); return true }) { _ in
                rulesAsked += 1
                throw RulesBusy()
            }) { error in
                XCTAssertTrue(error is RulesBusy, "the transient failure itself, never a fault of the request: \(error)")
            }
            XCTAssertEqual(rulesAsked, 1)
        }
        XCTAssertEqual(try ledger.latestDecision(for: input), first, "nothing recorded")
        guard case .takenUp(first) = try ledger.decideAndRecord(input: input, decidedAt: decidedAt, takingUp: { _ in true }, setAside) else {
            return XCTFail("once the failure passes, the earlier decision is taken up")
        }

        // Failing to take it up is no fault of the request's, which must not be set aside (decided again) for it.
        struct CannotTakeUp: Error {}
        XCTAssertThrowsError(try ledger.decideAndRecord(input: input, decidedAt: decidedAt, takingUp: { _ in throw CannotTakeUp() }, setAside)) { error in
            XCTAssertTrue((error as? EarlierDecisionUnreadable)?.underlying is CannotTakeUp, "\(error)")
        }
        XCTAssertEqual(try ledger.latestDecision(for: input), first, "nothing recorded")

        // Not taken up (its destination holds another file): decided again, a second row.
        guard case let .made(second) = try ledger.decideAndRecord(input: input, decidedAt: decidedAt, takingUp: { _ in false }, setAside) else {
            return XCTFail("a decision not taken up is made again")
        }
        XCTAssertGreaterThan(second.sequenceNumber, first.sequenceNumber)
        XCTAssertEqual(try ledger.latestDecision(for: input), second)

        // Another file (other bytes under the same name) has no earlier decision.
        let other = try ledger.decideAndRecord(input: InputIdentity(name: "a.json", digest: "d2"), decidedAt: decidedAt,
                                               takingUp: { _ in XCTFail("offered another file's decision"); return true }, setAside)
        guard case .made = other else { return XCTFail("\(other)") }
    }

    func test_standing_tracksRevisionsAndSequence() throws {
        let ledger = try TestLedger.make(sqlitePath: directory.appendingPathComponent("ledger.sqlite").path)
        try approve(Sample.meeting("s"), in: ledger)
        try approve(Sample.meeting("s").with { $0.revision = 3 }, in: ledger, sequence: 1)
        var standing = try ledger.read { try $0.standing(of: "s") }
        XCTAssertEqual(standing.highestDecidedBy, "")
        XCTAssertNotNil(standing.highestDecidedAt)
        standing.highestDecidedBy = nil
        standing.highestDecidedAt = nil
        XCTAssertEqual(standing, MeetingStanding(approvedRevision: 3, lastSequence: 1, highestDecidedRevision: 3))
    }

    func test_everyQueryShapeTheRulesAsk_usesAnIndex_neverAScanOfAllMeetings() throws {
        let ledger = try SQLiteLedger(path: directory.appendingPathComponent("ledger.sqlite").path)
        let year = LocalDate("2025-01-01")!...LocalDate("2025-12-31")!
        let shapes: [(MeetingQuery, String)] = [
            (MeetingQuery(kinds: [.comprehensive], organizerRegion: "r", organizerSystem: "s", startDates: year, excludingID: "x"), "occurrence_by_system"),
            (MeetingQuery(kinds: [.comprehensive], organizerRegion: "r", organizerLevels: [.city, .county], startDates: year, excludingID: "x"),
             "occurrence_by_region"),
            (MeetingQuery(kinds: [.routine], organizerUnit: "u", startDates: year, excludingID: "x"), "PRIMARY KEY"),
            (MeetingQuery(kinds: [.onSite, .promotion], organizerUnit: "u", startDates: year, excludingID: "x"), "PRIMARY KEY"),
            (MeetingQuery(startDates: year, grassrootsPrincipalRegion: "t", excludingID: "x"), "principal_by_region"),
            (MeetingQuery(kinds: [.business], organizerUnit: "u", startDates: year, excludingID: "x", sharingAttendeeUnits: ["a", "b"]),
             "PRIMARY KEY"),
        ]
        for (query, index) in shapes {
            let plan = try ledger.queryPlan(for: query)
            XCTAssertTrue(plan.contains { $0.hasPrefix("SEARCH") && $0.contains(index) }, "\(query): \(plan)")
            // A scan of a table would read every meeting; a scan of the subquery that makes the matches distinct
            // reads only them.
            XCTAssertFalse(plan.contains { $0.hasPrefix("SCAN") && !$0.hasPrefix("SCAN (subquery") && !$0.hasPrefix("SCAN matches") }, "\(query): \(plan)")
        }
    }

    /// A crowded stream decided twice: against the SQLite ledger's count and listing queries, and against the
    /// in-memory reference that filters every record. Every decision must come out the same.
    func test_crowdedStream_decidesTheSameOnSQLiteAsOnTheReference() throws {
        let ledger = try TestLedger.make(sqlitePath: directory.appendingPathComponent("ledger.sqlite").path)
        var reference = InMemoryLedger()
        var settings = RuleSettingsSet()
        settings.listedMeetings = 3
        let decider = Decider(engine: RuleEngine(settings: settings))
        let town = Sample.townshipPrincipal("转塘街道")
        for index in 0..<400 {
            let day = 1 + (index * 7) % 28, month = 1 + index / 40
            let date = "2025-\(month < 10 ? "0" : "")\(month)-\(day < 10 ? "0" : "")\(day)"
            var request: MeetingRequest
            switch index % 5 {
            case 0: request = Sample.meeting("c\(index)", kind: .comprehensive, from: "\(date) 09:00", to: "\(date) 11:00", type: .government,
                                             system: index % 10 == 0 ? "卫生健康" : "教育")
            case 1: request = Sample.meeting("t\(index)", from: "\(date) 14:00", to: "\(date) 16:00", unit: "单位\(index % 7)", attendees: [town])
            case 2: request = Sample.meeting("r\(index)", kind: .routine, from: "\(date) 09:00", to: "\(date) 10:00")
            default: request = Sample.meeting("b\(index)", from: "\(date) 09:00", to: "\(date) 11:00")
            }
            if index % 9 == 4 {
                // A weekly series of four: every occurrence is counted on its own, on both sides.
                let week: TimeInterval = 7 * 86_400
                request.recurrence = Recurrence(rule: "FREQ=WEEKLY;COUNT=4", exdates: [], occurrences: (0..<4).map {
                    Occurrence(start: request.start.addingTimeInterval(week * Double($0)), end: request.end.addingTimeInterval(week * Double($0)))
                }, excludedStarts: [])
            }
            let bytes = Array("{}".utf8)
            let onSQLite = try ledger.decideAndRecord(input: InputIdentity(name: "\(index).json", digest: "d"), decidedAt: Date()) { state in
                let decision = try decider.decide(.success(.proposal(request)), state: state)
                var record = DecisionToRecord(decision: decision, destination: "x/\(index)", requestBytes: bytes)
                if decision.verdict == .approved {
                    record.approved = request
                    record.publication = Publication(vevent: "", timeZone: "Asia/Shanghai", start: request.start, end: request.end, feedKeys: ["all"])
                }
                return record
            }.decision
            let onReference = try decider.decide(.success(.proposal(request)), state: reference)
            XCTAssertEqual(onSQLite, onReference, request.id)
            if onReference.verdict == .approved { reference.meetings += MeetingRecord.occurrences(of: request) }
        }
        let warned = try ledger.read { try $0.countApproved(matching: MeetingQuery(startDates: LocalDate("2025-01-01")!...LocalDate("2025-12-31")!)) }
        XCTAssertGreaterThan(warned, 100, "the stream approves enough to crowd its keys")
    }

    func test_aWithdrawnOrRevisedMeeting_isNoLongerCountedAsSharingItsAttendees() throws {
        let ledger = try TestLedger.make(sqlitePath: directory.appendingPathComponent("ledger.sqlite").path)
        let sharing = MeetingQuery(startDates: LocalDate("2025-01-01")!...LocalDate("2025-12-31")!, sharingAttendeeUnits: ["西湖区卫生健康局"])
        try approve(Sample.meeting("w"), in: ledger)
        try approve(Sample.meeting("v"), in: ledger)
        XCTAssertEqual(try ledger.read { try $0.countApproved(matching: sharing) }, 2)
        // A revision with other attendees replaces the rows of the first.
        try approve(Sample.meeting("v", attendees: []).with { $0.revision = 2 }, in: ledger, sequence: 1)
        XCTAssertEqual(try ledger.read { try $0.countApproved(matching: sharing) }, 1)
        let withdrawal = Decision(verdict: .withdrawn, requestID: "w", revision: 1, sequence: 1, settingsVersion: "v")
        _ = try ledger.decideAndRecord(input: InputIdentity(name: "w.withdraw.json", digest: "d"), decidedAt: Date()) { _ in
            DecisionToRecord(decision: withdrawal, destination: "withdrawn/w.r1.withdraw.json",
                             publication: Publication(vevent: "", timeZone: "Asia/Shanghai", start: Date(), end: Date(), feedKeys: ["all"]))
        }
        XCTAssertEqual(try ledger.read { try $0.countApproved(matching: sharing) }, 0)
        XCTAssertEqual(try ledger.read { try $0.countApproved(matching: MeetingQuery(startDates: sharing.startDates)) }, 1, "v alone is left")
    }

    func test_aWithdrawnSeries_leavesNoRowItWasCountedBy() throws {
        let ledger = try TestLedger.make(sqlitePath: directory.appendingPathComponent("ledger.sqlite").path)
        let town = Sample.townshipPrincipal("转塘街道")
        var series = Sample.meeting("s", from: "2025-03-04 14:00", to: "2025-03-04 15:00", attendees: [Sample.countyHealthBureau, town])
        series.recurrence = Recurrence(rule: "FREQ=WEEKLY;COUNT=4", exdates: [], occurrences: (0..<4).map {
            Occurrence(start: series.start.addingTimeInterval(Double($0) * 7 * 86_400), end: series.end.addingTimeInterval(Double($0) * 7 * 86_400))
        }, excludedStarts: [])
        try approve(series, in: ledger)
        let year = LocalDate("2025-01-01")!...LocalDate("2025-12-31")!
        let queries = [MeetingQuery(startDates: year), MeetingQuery(startDates: year, grassrootsPrincipalRegion: town.region),
                       MeetingQuery(startDates: year, sharingAttendeeUnits: [town.unit]),
                       MeetingQuery(startDates: year, sharingAttendeeUnits: [town.unit, "西湖区卫生健康局"])]
        for query in queries { XCTAssertEqual(try ledger.read { try $0.countApproved(matching: query) }, 4, "\(query)") }
        _ = try ledger.decideAndRecord(input: InputIdentity(name: "s.withdraw.json", digest: "d"), decidedAt: Date()) { _ in
            DecisionToRecord(decision: Decision(verdict: .withdrawn, requestID: "s", revision: 1, sequence: 1, settingsVersion: "v"),
                             destination: "withdrawn/s.r1.withdraw.json",
                             publication: Publication(vevent: "", timeZone: "Asia/Shanghai", start: Date(), end: Date(), feedKeys: ["all"]))
        }
        for query in queries { XCTAssertEqual(try ledger.read { try $0.countApproved(matching: query) }, 0, "\(query)") }
    }
}
