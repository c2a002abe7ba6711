import Foundation
import MeetingCalendar
import MeetingLedger
import MeetingModel
import MeetingRules
import MeetingSpool
import TestSupport
import XCTest

/// Regression tests of issue 9 at the spool: what used to halt the queue or write broken output.
final class HostileSpoolTests: XCTestCase {
    /// A fault of one request: not transient, so retrying cannot cure it.
    struct PoisonFault: Error, CustomStringConvertible { var description: String { "injected poison" } }

    /// Creates `incoming/<nameBytes>` with `bytes`, the name taken byte for byte (it need not be UTF-8).
    func dropRaw(_ spool: TestSpool, _ nameBytes: [UInt8], _ bytes: [UInt8]) {
        let path = Array(spool.url("incoming").path.utf8) + [UInt8(ascii: "/")] + nameBytes + [0]
        let fd = path.withUnsafeBufferPointer { $0.withMemoryRebound(to: CChar.self) { open($0.baseAddress!, O_CREAT | O_WRONLY | O_TRUNC, 0o644) } }
        XCTAssertGreaterThanOrEqual(fd, 0)
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
    }

    /// Requests a, b and c in one group, with a fault of b's own at each of `steps`.
    func threeRequests(poisoningB steps: Set<DecisionPipeline.Step>) throws -> (TestSpool, DecisionPipeline) {
        let spool = try TestSpool()
        for name in ["a", "b", "c"] { try spool.drop("\(name).json", json: requestJSON(id: name, unit: "单位\(name)")) }
        let pipeline = try spool.pipeline()
        pipeline.batchSize = 16
        pipeline.faultInjector = { reached, file in
            if file == "b.json", steps.contains(reached) { throw PoisonFault() }
        }
        return (spool, pipeline)
    }

    func namesUnder(_ url: URL) -> [String] {
        (FileManager.default.enumerator(atPath: url.path)?.allObjects as? [String]) ?? []
    }

    func test_utcAndOtherZonesLibicalCallsUTC_areDecided_andTheirCalendarsParse() throws {
        let spool = try TestSpool()
        for (index, zone) in ["UTC", "GMT", "Etc/UTC", "Zulu", "PRC", "EST5EDT", "Asia/Chongqing"].enumerated() {
            try spool.drop("z\(index).json", json: requestJSON(id: "z\(index)", unit: "单位\(index)",
                                                             attendees: "[], \"timezone\": \"\(zone)\"", planRef: nil))
        }
        let outcomes = try spool.pipeline().drain()
        XCTAssertEqual(outcomes.map(\.recorded.decision.verdict), Array(repeating: .approved, count: 7), "\(outcomes.map(\.recorded.decision.problems))")
        let utc = try spool.text("approved/z0.ics")
        XCTAssertTrue(utc.contains("DTSTART;TZID=UTC:20250318T010000"), utc)
        XCTAssertTrue(utc.contains("BEGIN:VTIMEZONE\r\nTZID:UTC\r\n"), utc)
        let files = spool.files("approved").filter { $0.hasSuffix(".ics") }.map { spool.url("approved/" + $0).path } + [spool.url("feeds/all.ics").path]
        let (status, output) = try runChecker(files)
        XCTAssertEqual(status, 0, output)
    }

    func test_everyTzDatabaseName_rendersAVTimezoneTheParsersAccept() throws {
        let names = TimeZoneDatabase.system.names
        let start = Date(timeIntervalSince1970: 1_741_568_400)
        var zones: [String: Date] = [:]
        var events: [String] = []
        for (index, name) in names.enumerated() {
            XCTAssertNoThrow(try ICalendarWriter.checkTimeZone(name, from: start), name)
            zones[name] = start
            events.append(try ICalendarWriter.renderEvent(CalendarEvent(
                uid: "tz-\(index)@meetingd", sequence: 0, stamp: start, start: start, end: start.addingTimeInterval(3600), timeZone: name,
                summary: name, organizer: .init(name: "单位", address: "urn:meetingd:unit:x"))))
        }
        let calendar = try ICalendarWriter.assemble(CalendarDocument(events: []), zones: zones, events: events)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("meetingd-zones-\(UUID().uuidString).ics")
        defer { try? FileManager.default.removeItem(at: file) }
        try Data(calendar).write(to: file)
        let (status, output) = try runChecker([file.path])
        XCTAssertEqual(status, 0, String(output.prefix(2000)))
    }

    func test_contentLinesOfEveryLength_areFoldedWithinCRLFAndUTF8() throws {
        // A 73-character organizer unit made libical fold between CR and LF; try every length around it.
        let spool = try TestSpool()
        for length in 60...90 {
            try spool.drop("f\(length).json", json: requestJSON(id: "f\(length)", unit: String(repeating: "a", count: length)))
            try spool.drop("c\(length).json", json: requestJSON(id: "c\(length)", unit: String(repeating: "单", count: length / 3) + "ab"))
        }
        try spool.pipeline().drain()
        let files = spool.files("approved").filter { $0.hasSuffix(".ics") }.map { spool.url("approved/" + $0).path }
        XCTAssertEqual(files.count, 62)
        for path in files + [spool.url("feeds/all.ics").path] {
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
            XCTAssertFalse(zip(bytes, bytes.dropFirst()).contains { $0 == 0x0D && $1 != 0x0A }, "CR without LF in \(path)")
            XCTAssertFalse(zip(bytes, bytes.dropFirst()).contains { $0 != 0x0D && $1 == 0x0A }, "LF without CR in \(path)")
        }
        let (status, output) = try runChecker(files + [spool.url("feeds/all.ics").path])
        XCTAssertEqual(status, 0, output)
    }

    func test_longNames_areBoundedInBytes_andTheQueueGoesOn() throws {
        let spool = try TestSpool()
        let longName = String(repeating: "x", count: 250) + ".json"  // 255 bytes
        try spool.drop(longName, json: "{")
        dropRaw(spool, Array(repeating: 0xFF, count: 200) + Array(".json".utf8), Array("{".utf8))  // shown as 600 bytes of %FF
        let chinese = String(repeating: "西湖区卫生健康局", count: 25)  // 200 characters, 600 bytes
        let accented = "e" + String(repeating: "\u{301}", count: 2000)  // one Character of 4,001 bytes
        try spool.drop("cn.json", json: requestJSON(id: "cn", unit: chinese, attendees: countyAttendee(chinese, district: chinese)))
        try spool.drop("acc.json", json: requestJSON(id: "acc", unit: "单位", attendees: countyAttendee("x" + accented, district: "西湖区")))
        try spool.drop("after.json", json: requestJSON(id: "after", unit: "杭州市民政局"))
        let outcomes = try spool.pipeline().drain()
        XCTAssertEqual(outcomes.map(\.recorded.decision.verdict).sorted { $0.rawValue < $1.rawValue },
                       [.approved, .approved, .approved, .invalid, .invalid], "\(outcomes.map(\.recorded.decision.problems))")
        XCTAssertEqual(spool.files("incoming"), [])
        XCTAssertEqual(spool.files("invalid").count, 4, "two files and their notes")
        for folder in ["invalid", "feeds", "approved"] {
            for path in namesUnder(spool.url(folder)) {
                for segment in path.split(separator: "/") { XCTAssertLessThanOrEqual(segment.utf8.count, 255, path) }
            }
        }
        let attendeeFeeds = spool.files("feeds/attendee")
        XCTAssertEqual(attendeeFeeds.count, 3, "\(attendeeFeeds)")
        XCTAssertTrue(attendeeFeeds.contains { $0.hasPrefix("西湖区卫生健康局") })
    }

    func test_twoFilesShownUnderOneName_getTwoNamesAndTwoNotes() throws {
        let spool = try TestSpool()
        try spool.drop("%FFx.json", json: "{broken one")
        dropRaw(spool, [0xFF] + Array("x.json".utf8), Array("[1,".utf8))
        for batch in [1, 16] {
            let pipeline = try spool.pipeline()
            pipeline.batchSize = batch
            let outcomes = try pipeline.drain()
            XCTAssertEqual(outcomes.count, batch == 1 ? 2 : 0)
        }
        XCTAssertEqual(spool.files("incoming"), [])
        XCTAssertEqual(spool.files("invalid"), ["%FFx.json", "%FFx.json.1", "%FFx.json.1.txt", "%FFx.json.txt"])
        let notes = try ["invalid/%FFx.json.txt", "invalid/%FFx.json.1.txt"].map { try spool.text($0) }
        XCTAssertEqual(Set(notes).count, 2, "each file keeps its own note")
        XCTAssertEqual(try spool.logLines().count, 2, "each decided once")
    }

    func test_twoFilesShownUnderOneName_inOneGroup_getTwoNames() throws {
        let spool = try TestSpool()
        try spool.drop("%FFx.json", json: "{broken one")
        dropRaw(spool, [0xFF] + Array("x.json".utf8), Array("{broken two".utf8))
        let pipeline = try spool.pipeline()
        pipeline.batchSize = 16
        XCTAssertEqual(try pipeline.drain().count, 2)
        XCTAssertEqual(spool.files("invalid").count, 4)
    }

    func test_aUnitNamedLikeAnotherUnitsSafeName_getsAFeedOfItsOwn() throws {
        let spool = try TestSpool()
        let plain = "西湖区 卫生健康局"
        let lookalike = "西湖区_卫生健康局-" + SHA256.hex(Array(plain.utf8), characters: 24)
        try spool.drop("a.json", json: requestJSON(id: "a", unit: "单位甲", attendees: countyAttendee(plain, district: "西湖区")))
        try spool.drop("b.json", json: requestJSON(id: "b", unit: "单位乙", attendees: countyAttendee(lookalike, district: "西湖区")))
        XCTAssertEqual(try spool.pipeline().drain().map(\.recorded.decision.verdict), [.approved, .approved])
        let feeds = spool.files("feeds/attendee")
        XCTAssertEqual(feeds.count, 2, "\(feeds)")
        let texts = try feeds.map { try spool.text("feeds/attendee/" + $0).replacingOccurrences(of: "\r\n ", with: "") }
        XCTAssertEqual(texts.filter { $0.contains("测试会议 a") }.count, 1)
        XCTAssertEqual(texts.filter { $0.contains("测试会议 b") }.count, 1)
    }

    func test_year2999IsDecided_andYear3001IsInvalid_andAllIcsStaysParseable() throws {
        let spool = try TestSpool()
        try spool.drop("late.json", json: requestJSON(id: "late", start: "2999-12-30T09:00:00+08:00", end: "2999-12-30T11:00:00+08:00"))
        try spool.drop("later.json", json: requestJSON(id: "later", start: "3001-03-10T09:00:00+08:00", end: "3001-03-10T11:00:00+08:00"))
        let outcomes = try spool.pipeline().drain()
        XCTAssertEqual(outcomes.map(\.recorded.decision.verdict), [.approved, .invalid])
        XCTAssertFalse(try spool.text("feeds/all.ics").contains("00000000T"))
        let (status, output) = try runChecker([spool.url("feeds/all.ics").path, spool.url("approved/late.ics").path])
        XCTAssertEqual(status, 0, output)
    }

    // MARK: isolation

    func test_aPoisonFaultAtAnyStep_setsThatRequestAside_andTheOthersAreDecided() throws {
        for step in DecisionPipeline.Step.allCases where step != .settingAside {
            for batch in [1, 16] {
                let spool = try TestSpool()
                for name in ["a", "b", "c"] {
                    try spool.drop("\(name).json", json: requestJSON(id: name, unit: "单位\(name)"))
                }
                let pipeline = try spool.pipeline()
                pipeline.batchSize = batch
                pipeline.faultInjector = { reached, file in
                    if reached == step, file == "b.json" { throw PoisonFault() }
                }
                let outcomes = try pipeline.drain()
                let context = "\(step), batch \(batch)"
                XCTAssertEqual(outcomes.map(\.file), ["a.json", "b.json", "c.json"], context)
                XCTAssertEqual(spool.files("incoming"), [], context)
                XCTAssertTrue(spool.files("approved").contains("a.r1.json") && spool.files("approved").contains("c.r1.json"), context)
                let invalid = spool.files("invalid")
                XCTAssertEqual(invalid, ["b.json", "b.json.txt"], context)
                XCTAssertTrue(try spool.text("invalid/b.json.txt").contains("injected poison"), context)
                XCTAssertEqual(try spool.logLines().count, 3, "\(context): one line per decision")
                // The next run finds nothing to do: the set-aside request is not decided again.
                XCTAssertEqual(try spool.pipeline().drain().count, 0, context)
            }
        }
    }

    func test_aRequestThatFailsEvenWhenSetAside_isHeldBackInIncoming_andTheOthersAreDecided() throws {
        let (spool, pipeline) = try threeRequests(poisoningB: [.deciding, .settingAside])
        let outcomes = try pipeline.drain()
        XCTAssertEqual(outcomes.map(\.file), ["a.json", "c.json"])
        XCTAssertEqual(spool.files("incoming"), ["b.json"], "kept whole where it was")
        XCTAssertEqual(pipeline.takeHeldBack().map(\.name), ["b.json"])
        XCTAssertEqual(try pipeline.drain().count, 0, "skipped until restart")
        // A restart tries it again; without the fault it is decided.
        XCTAssertEqual(try spool.pipeline().drain().map(\.file), ["b.json"])
    }

    func test_transientFaults_keepTheRequestWaiting_untilTheyPass() throws {
        let spool = try TestSpool()
        try spool.drop("a.json", json: requestJSON(id: "a"))
        let pipeline = try spool.pipeline()
        pipeline.faultInjector = { reached, _ in
            if reached == .deciding { throw RobustnessTests.InjectedCrash() }
        }
        XCTAssertThrowsError(try pipeline.drain())
        XCTAssertEqual(spool.files("incoming"), ["a.json"])
        pipeline.faultInjector = nil
        XCTAssertEqual(try pipeline.drain().map(\.recorded.decision.verdict), [.approved])
    }

    func test_aFileThatVanishesAfterItWasListed_isNotDecided() throws {
        let spool = try TestSpool()
        for name in ["a", "b", "c"] { try spool.drop("\(name).json", json: requestJSON(id: name, unit: "单位\(name)")) }
        let pipeline = try spool.pipeline()
        let listed = try pipeline.spool.waitingFiles()
        try FileManager.default.moveItem(at: spool.url("incoming/b.json"), to: spool.url("taken-b.json"))
        var decided: [String] = []
        try pipeline.process(groupsOf: listed) { decided += $0.map(\.file) }
        XCTAssertEqual(decided, ["a.json", "c.json"])
        XCTAssertEqual(try spool.logLines().count, 2, "no decision for a file someone else took")
        XCTAssertEqual(spool.files("invalid"), [])
    }

    func test_setAsideAfterTheCommit_isReportedAsSetAside_andKeepsItsLogLine() throws {
        for step in [DecisionPipeline.Step.afterLedgerCommit, .afterOutputs, .afterLogLine] {
            let spool = try TestSpool()
            for name in ["a", "b"] { try spool.drop("\(name).json", json: requestJSON(id: name, unit: "单位\(name)")) }
            let pipeline = try spool.pipeline()
            pipeline.faultInjector = { reached, file in if reached == step, file == "b.json" { throw PoisonFault() } }
            let outcomes = try pipeline.drain()
            XCTAssertEqual(outcomes.map(\.file), ["a.json", "b.json"], "\(step)")
            XCTAssertNil(outcomes[0].setAside)
            XCTAssertTrue(outcomes[1].setAside?.contains("injected poison") ?? false, "\(step): \(String(describing: outcomes[1].setAside))")
            XCTAssertEqual(outcomes[1].recorded.decision.verdict, .approved, "\(step): the decision stands")
        }
    }

    func test_aRequestNeitherMovedNorSetAside_staysWaiting_keepsItsLogLine_andIsFinishedAfterARestart() throws {
        let (spool, pipeline) = try threeRequests(poisoningB: [.afterOutputs, .settingAside])
        XCTAssertEqual(try pipeline.drain().map(\.file), ["a.json", "c.json"])
        XCTAssertEqual(spool.files("incoming"), ["b.json"])
        XCTAssertEqual(pipeline.heldBackCount, 1)
        XCTAssertEqual(try spool.logLines().count, 3, "b's decision is logged although b did not move")
        XCTAssertFalse(spool.files("invalid").contains { $0.hasSuffix(".txt") }, "no orphan note")
        let restarted = try spool.pipeline()
        let outcomes = try restarted.drain()
        XCTAssertEqual(outcomes.map(\.file), ["b.json"])
        XCTAssertEqual(outcomes.first?.resumed, true, "finished, not decided again")
        XCTAssertEqual(try spool.logLines().count, 3)
    }

    func test_aHeldBackFileReplacedUnderTheSameName_isTriedAgain() throws {
        let spool = try TestSpool()
        try spool.drop("b.json", json: requestJSON(id: "b"))
        let pipeline = try spool.pipeline()
        var poisoned = true
        pipeline.faultInjector = { reached, _ in
            if poisoned, reached == .deciding || reached == .settingAside { throw PoisonFault() }
        }
        XCTAssertEqual(try pipeline.drain().count, 0)
        XCTAssertEqual(pipeline.heldBackCount, 1)
        XCTAssertEqual(try pipeline.drain().count, 0, "skipped while it stays as it was")
        poisoned = false
        try FileManager.default.removeItem(at: spool.url("incoming/b.json"))
        try spool.drop("b.json", json: requestJSON(id: "b", revision: 2))
        XCTAssertEqual(try pipeline.drain().map(\.recorded.decision.verdict), [.approved])
        XCTAssertEqual(pipeline.heldBackCount, 0)
    }

    func test_aMoveCutInHalfByACrash_isFinished_notDecidedAgain() throws {
        let spool = try TestSpool()
        try spool.drop("a.json", json: requestJSON(id: "a"))
        let crashing = try spool.pipeline()
        crashing.faultInjector = { reached, _ in if reached == .afterLogLine { throw RobustnessTests.InjectedCrash() } }
        XCTAssertThrowsError(try crashing.drain())
        // What link-then-unlink leaves when the crash falls between the two: one file under both names.
        XCTAssertEqual(link(spool.url("incoming/a.json").path, spool.url("approved/a.r1.json").path), 0)
        XCTAssertEqual(try spool.pipeline().drain().count, 0)
        XCTAssertEqual(spool.files("incoming"), [])
        XCTAssertEqual(try spool.logLines().count, 1, "decided once")
    }

    func test_aFileWhoseEarlierDecisionCannotBeRead_isHeldBack_neverDecidedAgain() throws {
        try XCTSkipIf(TestLedger.onPostgres, "edits the SQLite ledger file itself")
        let spool = try TestSpool()
        try spool.drop("a.json", json: requestJSON(id: "a"))
        try spool.drop("b.json", json: requestJSON(id: "b", unit: "单位b"))
        let crashing = try spool.pipeline()
        crashing.faultInjector = { reached, _ in if reached == .afterLedgerCommit { throw RobustnessTests.InjectedCrash() } }
        XCTAssertThrowsError(try crashing.drain())
        // The decision committed before the crash, now unreadable.
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute(sys.argv[2]); c.commit()",
                             spool.url("state/ledger.sqlite").path, "UPDATE decision SET decision_json = 'not json'"]
        try process.run()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0)
        let pipeline = try spool.pipeline()
        XCTAssertEqual(try pipeline.drain().map(\.file), ["b.json"], "the queue goes on")
        XCTAssertEqual(spool.files("incoming"), ["a.json"], "a waits")
        XCTAssertEqual(pipeline.heldBackCount, 1)
        XCTAssertEqual(spool.files("invalid"), [], "not set aside: that would decide it a second time")
        XCTAssertEqual(try spool.logLines().count, 1, "b's line only")
    }

    func test_aWithdrawal_ofAMeetingStoredBeforeTheFormatGotStricter_isCancelled() throws {
        try XCTSkipIf(TestLedger.onPostgres, "edits the SQLite ledger file itself")
        let spool = try TestSpool()
        try spool.drop("a.json", json: requestJSON(id: "a", start: "2030-03-18T09:00:00+08:00", end: "2030-03-18T11:00:00+08:00"))
        try spool.pipeline().drain()
        // The stored bytes as an older meetingd accepted them: a duplicate key, now invalid for new requests.
        let ledgerPath = spool.url("state/ledger.sqlite").path
        let sql = "UPDATE decision SET request_bytes = CAST(REPLACE(CAST(request_bytes AS TEXT), '\"format\": 1', '\"format\": 1, \"x\": 1, \"x\": 2') AS BLOB) WHERE verdict = 'approved'"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute(sys.argv[2]); c.commit()", ledgerPath, sql]
        try process.run()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0)
        try spool.drop("w.json", json: #"{"format": 1, "id": "a", "action": "withdraw"}"#)
        let outcome = try XCTUnwrap(try spool.pipeline().drain().first)
        XCTAssertEqual(outcome.recorded.decision.verdict, .withdrawn)
        XCTAssertNil(outcome.setAside)
        XCTAssertTrue(try spool.text("approved/a.ics").contains("STATUS:CANCELLED"))
    }

    func test_aGroupThatMovedInPart_reportsWhatMoved_whenTheNextStepFails() throws {
        let spool = try TestSpool()
        for name in ["a", "b", "c", "d"] { try spool.drop("\(name).json", json: requestJSON(id: name, unit: "单位\(name)")) }
        let pipeline = try spool.pipeline()
        pipeline.batchSize = 2
        pipeline.faultInjector = { reached, file in
            if reached == .afterLogLine, file == "b.json" { throw RobustnessTests.InjectedCrash() }
        }
        var settled: [String] = []
        XCTAssertThrowsError(try pipeline.process(groupsOf: try pipeline.spool.waitingFiles()) { settled += $0.map(\.file) })
        XCTAssertEqual(settled, ["a.json"], "a moved before b's step failed, so it is reported")
        XCTAssertEqual(spool.files("incoming"), ["b.json", "c.json", "d.json"])
        pipeline.faultInjector = nil
        XCTAssertEqual(try pipeline.drain().map(\.file), ["b.json", "c.json", "d.json"])
        XCTAssertEqual(try spool.logLines().count, 4)
    }

    func test_aResumedInvalidName_isNotGivenToAnotherFileShownTheSame() throws {
        let spool = try TestSpool()
        dropRaw(spool, [0xFF] + Array("x.json".utf8), Array("[1,".utf8))
        let crashing = try spool.pipeline()
        crashing.faultInjector = { reached, _ in if reached == .afterOutputs { throw RobustnessTests.InjectedCrash() } }
        XCTAssertThrowsError(try crashing.drain())
        // Decided (invalid, to invalid/%FFx.json) but not moved; now a file literally named so arrives, earlier in order.
        try spool.drop("%FFx.json", json: "{")
        let outcomes = try spool.pipeline().drain()
        XCTAssertEqual(outcomes.count, 2)
        XCTAssertEqual(spool.files("incoming"), [])
        XCTAssertEqual(spool.files("invalid"), ["%FFx.json", "%FFx.json.1", "%FFx.json.1.txt", "%FFx.json.txt"])
        XCTAssertEqual(try spool.logLines().count, 2, "each decided once")
        for name in ["%FFx.json", "%FFx.json.1"] {
            let content = try Data(contentsOf: spool.url("invalid/" + name))
            let note = try spool.text("invalid/\(name).txt")
            XCTAssertTrue(note.contains(content == Data("{".utf8) ? "expected a member name" : "expected a digit") || note.contains("unexpected end"),
                          "\(name)'s note is about its own bytes: \(note)")
        }
    }
}
