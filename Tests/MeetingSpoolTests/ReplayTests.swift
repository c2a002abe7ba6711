import Foundation
import MeetingConfig
import MeetingLedger
import MeetingModel
import MeetingReplay
import MeetingRules
import MeetingSpool
import XCTest

/// `meetingd replay` (`shared/spec/replay.md`): a history built by real drains, decided again under other settings.
final class ReplayTests: XCTestCase {
    /// A business meeting that requires 转塘街道's party secretary, each of another organizer (so that no two
    /// could be merged).
    func townshipMeeting(_ id: String, day: Int) -> String {
        requestJSON(id: id, start: "2025-03-\(String(format: "%02d", day))T09:00:00+08:00",
                    end: "2025-03-\(String(format: "%02d", day))T11:00:00+08:00", unit: "西湖区\(id)办公室",
                    attendees: #"[{"unit": "转塘街道", "level": "township", "region": "浙江省/杭州市/西湖区/转塘街道", "role": "party-secretary", "reason": "部署"}]"#)
    }

    /// A comprehensive meeting of 杭州市's 卫生健康 system, with a main speech of `minutes`.
    func comprehensiveMeeting(_ id: String, month: Int, minutes: Int) -> String {
        requestJSON(id: id, kind: "comprehensive", start: "2025-\(String(format: "%02d", month))-10T09:00:00+08:00",
                    end: "2025-\(String(format: "%02d", month))-10T11:00:00+08:00",
                    extra: #", "agenda": [{"type": "main-speech", "minutes": \#(minutes)}]"#)
    }

    func settings(_ assignments: [String]) throws -> RuleSettingsSet { try Configuration().overriding(assignments).rules }

    func replay(_ spool: TestSpool, _ assignments: [String], window: HistoryReplay.Window = .init(), notes: Bool = false) throws -> ReplayOutcome {
        let ledger = try SQLiteLedger(readingOnly: spool.url("state/ledger.sqlite").path)
        return try HistoryReplay(settings: try settings(assignments), timeZone: "Asia/Shanghai", window: window, spoolRoot: spool.root.path,
                                 withNotes: notes).run(ledger)
    }

    func test_aTighterMonthlyLoad_rejectsOneMore_andALooserOne_approvesTheOneRejected() throws {
        let spool = try TestSpool()
        for day in 1...5 { try spool.drop("t\(day).json", json: townshipMeeting("t\(day)", day: day * 2)) }
        let decided = try spool.pipeline().drain().map(\.recorded.decision)
        XCTAssertEqual(decided.map(\.verdict), [.approved, .approved, .approved, .approved, .rejected])
        XCTAssertEqual(decided.last?.assessment.violations.map(\.rule), [.townshipLeaderLoad])

        let same = try replay(spool, [])
        XCTAssertEqual(same.replayed, 5)
        XCTAssertTrue(same.flips.isEmpty, "the settings it was decided with give the same decisions")

        let tighter = try replay(spool, ["rules.township-leader-load.max_per_month=3"])
        XCTAssertEqual(tighter.flips.map(\.id), ["t4"])
        XCTAssertEqual(tighter.approvedToRejected, 1)
        XCTAssertEqual(tighter.flips.first?.before, ReplayOutcome.Verdicts(verdict: .approved, violations: [], warnings: []))
        XCTAssertEqual(tighter.flips.first?.after, ReplayOutcome.Verdicts(verdict: .rejected, violations: [.townshipLeaderLoad], warnings: []))
        XCTAssertEqual(tighter.byRule[.townshipLeaderLoad], ReplayOutcome.RuleChanges(newlyViolated: 1))

        let looser = try replay(spool, ["rules.township-leader-load.max_per_month=5"])
        XCTAssertEqual(looser.flips.map(\.id), ["t5"])
        XCTAssertEqual(looser.rejectedToApproved, 1)
        XCTAssertEqual(looser.byRule[.townshipLeaderLoad], ReplayOutcome.RuleChanges(noLongerViolated: 1))
    }

    /// A shorter speech limit rejects the year's first comprehensive meeting; the annual cap then no longer
    /// rejects the second, which replay approves: the cascade is shown as its own flip.
    func test_aShorterSpeechLimit_rejectsAnEarlyComprehensiveMeeting_andSoApprovesALaterOne() throws {
        let spool = try TestSpool()
        try spool.drop("a.json", json: comprehensiveMeeting("early", month: 3, minutes: 50))
        try spool.drop("b.json", json: comprehensiveMeeting("later", month: 6, minutes: 30))
        XCTAssertEqual(try spool.pipeline().drain().map(\.recorded.decision.verdict), [.approved, .rejected])

        let outcome = try replay(spool, ["rules.main-speech-one-hour.max_minutes=40"], notes: true)
        XCTAssertEqual(outcome.flips.map(\.id), ["early", "later"])
        XCTAssertEqual(outcome.flips.map(\.after.verdict), [.rejected, .approved])
        XCTAssertEqual(outcome.flips[0].after.violations, [.mainSpeechOneHour])
        XCTAssertEqual(outcome.flips[1].before.violations, [.annualComprehensiveCap])
        XCTAssertEqual(outcome.approvedToRejected, 1)
        XCTAssertEqual(outcome.rejectedToApproved, 1)
        XCTAssertEqual(outcome.byRule[.mainSpeechOneHour], ReplayOutcome.RuleChanges(newlyViolated: 1))
        XCTAssertEqual(outcome.byRule[.annualComprehensiveCap], ReplayOutcome.RuleChanges(noLongerViolated: 1))
        // The note the new settings would write for the flip to rejected: the clause, the sentence, the facts.
        let note = try XCTUnwrap(outcome.flips[0].note)
        XCTAssertTrue(note.contains("main-speech-one-hour"), note)
        XCTAssertTrue(note.contains("主要负责同志讲话或者会议主报告不超过1小时"), note)
        XCTAssertTrue(note.contains("50"), note)
        XCTAssertNil(outcome.flips[1].note, "an approval writes no note")
    }

    /// `--from`/`--to` choose the decisions shown by the day they were decided; the earlier ones still count.
    func test_fromAndTo_showOnlyTheirDecisions_butTheEarlierOnesStillCount() throws {
        let spool = try TestSpool()
        let march = Date(timeIntervalSince1970: 1_740_787_200)  // 2025-03-01 08:00 +08:00
        let april = Date(timeIntervalSince1970: 1_743_465_600)  // 2025-04-01 08:00 +08:00
        for day in 1...3 { try spool.drop("t\(day).json", json: townshipMeeting("t\(day)", day: day * 2)) }
        var pipeline = try spool.pipeline()
        pipeline.now = { march }
        try pipeline.drain()
        for day in 4...5 { try spool.drop("t\(day).json", json: townshipMeeting("t\(day)", day: day * 2)) }
        pipeline = try spool.pipeline()
        pipeline.now = { april }
        try pipeline.drain()

        // Under a load of 2, t3 (decided in March) and t4 (April) are rejected; t5 was rejected already.
        let all = try replay(spool, ["rules.township-leader-load.max_per_month=2"])
        XCTAssertEqual(all.flips.map(\.id), ["t3", "t4"])
        let april1 = LocalDate("2025-04-01")!
        let fromApril = try replay(spool, ["rules.township-leader-load.max_per_month=2"], window: .init(from: april1))
        XCTAssertEqual(fromApril.flips.map(\.id), ["t4"], "t4 is rejected because the March meetings still count")
        XCTAssertEqual(fromApril.replayed, 5)
        XCTAssertEqual(fromApril.compared, 2)
        let toMarch = try replay(spool, ["rules.township-leader-load.max_per_month=2"], window: .init(to: LocalDate("2025-03-31")!))
        XCTAssertEqual(toMarch.flips.map(\.id), ["t3"])
        XCTAssertEqual(toMarch.replayed, 3, "decisions after --to cannot change the ones shown and are not replayed")
    }

    /// A withdrawal is decided again too: the meeting it withdrew was rejected under the new settings, so it has
    /// nothing to withdraw; and the place it freed is still free for the meeting after it.
    func test_aWithdrawal_isReplayedInItsPlace() throws {
        let spool = try TestSpool()
        try spool.drop("a.json", json: comprehensiveMeeting("first", month: 3, minutes: 50))
        try spool.drop("w.json", json: #"{"format": 1, "id": "first", "action": "withdraw"}"#)
        try spool.drop("b.json", json: comprehensiveMeeting("second", month: 6, minutes: 30))
        XCTAssertEqual(try spool.pipeline().drain().map(\.recorded.decision.verdict), [.approved, .withdrawn, .approved])
        XCTAssertTrue(try replay(spool, []).flips.isEmpty)
        let outcome = try replay(spool, ["rules.main-speech-one-hour.max_minutes=40"])
        XCTAssertEqual(outcome.flips.map(\.id), ["first", "first"])
        XCTAssertEqual(outcome.flips.map(\.after.verdict), [.rejected, .invalid])
        XCTAssertEqual(outcome.otherVerdictChanges, 1)
    }

    /// A ledger from before v8 kept no bytes of a rejected request: replay reads them from the spool file the
    /// request was moved to, when its digest is the one recorded; when it is gone, the decision is listed as
    /// not replayed, never guessed.
    func test_aDecisionWithoutItsBytes_isReadFromTheSpool_orListedAsNotReplayed() throws {
        let spool = try TestSpool()
        for day in 1...5 { try spool.drop("t\(day).json", json: townshipMeeting("t\(day)", day: day * 2)) }
        try spool.pipeline().drain()
        let ledgerPath = spool.url("state/ledger.sqlite").path
        let forget = try runTool(["python3", "-c", "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
                                  + "c.execute(\"UPDATE decision SET request_bytes = NULL WHERE verdict = 'rejected'\"); c.commit()", ledgerPath])
        XCTAssertEqual(forget.status, 0, forget.output)
        let looser = try replay(spool, ["rules.township-leader-load.max_per_month=5"])
        XCTAssertEqual(looser.flips.map(\.id), ["t5"], "the bytes came from rejected/t5.r1.json")
        XCTAssertTrue(looser.skipped.isEmpty)

        try Data("{}".utf8).write(to: spool.url("rejected/t5.r1.json"))
        let changed = try replay(spool, ["rules.township-leader-load.max_per_month=5"])
        XCTAssertEqual(changed.skipped.map(\.id), ["t5"], "a file whose digest is not the recorded one is not used")
        XCTAssertTrue(changed.flips.isEmpty)
    }

    /// A request decided when the format was more lenient (here: a key twice, which an older meetingd let
    /// through) is read as the ledger reads a request it kept: it stays what it was, and counts as it did.
    func test_aRequestTheFormatNowRefuses_isReadAsTheLedgerKeptIt() throws {
        let spool = try TestSpool()
        for day in 1...5 { try spool.drop("t\(day).json", json: townshipMeeting("t\(day)", day: day * 2)) }
        try spool.pipeline().drain()
        let sql = "UPDATE decision SET request_bytes = CAST(REPLACE(CAST(request_bytes AS TEXT), '\"format\": 1', "
            + "'\"format\": 1, \"x\": 1, \"x\": 2') AS BLOB) WHERE request_id IN ('t1', 't5')"
        let older = try runTool(["python3", "-c", "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute(sys.argv[2]); c.commit()",
                                 spool.url("state/ledger.sqlite").path, sql])
        XCTAssertEqual(older.status, 0, older.output)
        let same = try replay(spool, [])
        XCTAssertTrue(same.flips.isEmpty, "\(same.flips.map(\.id)): the approved t1 still counts, the rejected t5 is still rejected")
        XCTAssertTrue(same.skipped.isEmpty)
        XCTAssertEqual(try replay(spool, ["rules.township-leader-load.max_per_month=5"]).flips.map(\.id), ["t5"])
    }

    /// A decision that cannot be replayed is reported even before `--from`: every later count may differ by it.
    func test_aDecisionNotReplayed_isReportedOutsideTheWindowToo() throws {
        let spool = try TestSpool()
        try spool.drop("t1.json", json: townshipMeeting("t1", day: 2))
        let pipeline = try spool.pipeline()
        pipeline.now = { Date(timeIntervalSince1970: 1_740_787_200) }  // 2025-03-01
        try pipeline.drain()
        let forget = try runTool(["python3", "-c", "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
                                  + "c.execute('UPDATE decision SET request_bytes = NULL'); c.commit()", spool.url("state/ledger.sqlite").path])
        XCTAssertEqual(forget.status, 0, forget.output)
        try FileManager.default.removeItem(at: spool.url("approved/t1.r1.json"))
        let outcome = try replay(spool, [], window: .init(from: LocalDate("2025-04-01")!))
        XCTAssertEqual(outcome.skipped.map(\.id), ["t1"])
        XCTAssertEqual(outcome.compared, 0)
    }

    // MARK: The command

    /// Every file of the spool (the ledger and its WAL included) with its bytes.
    func snapshot(_ root: URL) throws -> [String: Data] {
        var files: [String: Data] = [:]
        let enumerator = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil)!
        for case let url as URL in enumerator where (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true {
            files[url.path] = try Data(contentsOf: url)
        }
        return files
    }

    func test_replay_writesNothing_andReportsInEveryFormat() throws {
        let spool = try TestSpool()
        for day in 1...5 { try spool.drop("t\(day).json", json: townshipMeeting("t\(day)", day: day * 2)) }
        _ = try runMeetingd(["drain", "--spool", spool.root.path])
        let before = try snapshot(spool.root)
        XCTAssertTrue(before.keys.contains { $0.hasSuffix("state/ledger.sqlite") })

        let text = try runMeetingd(["replay", "--spool", spool.root.path, "--set", "rules.township-leader-load.max_per_month=3"])
        XCTAssertEqual(text.status, 0, text.errors)
        XCTAssertTrue(text.output.contains("rules.township-leader-load.max_per_month: 4 -> 3"), text.output)
        XCTAssertTrue(text.output.contains("t4 r1  approved  =>  rejected violates township-leader-load"), text.output)
        XCTAssertEqual(text.errors, "", "no progress line when standard error is not a terminal")

        let json = try runMeetingd(["replay", "--spool", spool.root.path, "--format", "json", "--set", "rules.township-leader-load.max_per_month=3"])
        XCTAssertEqual(json.status, 0, json.errors)
        let report = try JSONReader.parse(Array(json.output.utf8))
        XCTAssertEqual(report["replayed"], .integer(5))
        XCTAssertEqual(report["changed"]?["rules.township-leader-load.max_per_month"], .array([.integer(4), .integer(3)]))
        XCTAssertEqual(report["flips"]?["approved_to_rejected"], .integer(1))
        XCTAssertEqual(report["by_rule"], .array([.object([("rule", .string("township-leader-load")), ("newly_violated", .integer(1)),
                                                           ("no_longer_violated", .integer(0)), ("newly_warned", .integer(0)),
                                                           ("no_longer_warned", .integer(0))])]))
        guard case let .array(decisions)? = report["decisions"], decisions.count == 1 else { return XCTFail(json.output) }
        XCTAssertEqual(decisions[0]["id"], .string("t4"))
        XCTAssertEqual(decisions[0]["before"]?["verdict"], .string("approved"))
        XCTAssertEqual(decisions[0]["after"]?["violations"], .array([.string("township-leader-load")]))
        guard case let .object(settings)? = report["settings"], case let .string(old)? = report["settings"]?["before"],
              case let .string(new)? = report["settings"]?["after"] else { return XCTFail(json.output) }
        XCTAssertEqual(settings.count, 2)
        XCTAssertEqual(old, RuleSettingsSet().version)
        XCTAssertNotEqual(old, new)

        let out = FileManager.default.temporaryDirectory.appendingPathComponent("meetingd-replay-\(UUID().uuidString).html")
        defer { try? FileManager.default.removeItem(at: out) }
        let html = try runMeetingd(["replay", "--spool", spool.root.path, "--format", "html", "--out", out.path,
                                    "--set", "rules.township-leader-load.max_per_month=3"])
        XCTAssertEqual(html.status, 0, html.errors)
        XCTAssertEqual(html.output, "", "--out takes the report")
        let page = try String(contentsOf: out, encoding: .utf8)
        XCTAssertTrue(page.hasPrefix("<!doctype html>"))
        XCTAssertTrue(page.contains("township-leader-load"))
        XCTAssertTrue(page.contains("明显减少乡镇（街道）党政主要负责同志"), "the note the new settings would write")

        var after = try snapshot(spool.root)
        // SQLite's companion files: a reader of a WAL ledger that has none makes an empty WAL and its index, as
        // any SQLite reader does (nothing of the ledger is in them); ones that existed are left as they were.
        let wal = spool.url("state/ledger.sqlite-wal").path
        if before[wal] == nil {
            XCTAssertEqual(after.removeValue(forKey: wal) ?? Data(), Data())
            after.removeValue(forKey: spool.url("state/ledger.sqlite-shm").path)
        }
        XCTAssertEqual(after, before, "replay wrote nothing in the spool, the feeds or the ledger")
    }

    func test_replay_refusesABadKeyValueOrDate_namingIt() throws {
        let spool = try TestSpool()
        try spool.drop("t1.json", json: townshipMeeting("t1", day: 2))
        _ = try runMeetingd(["drain", "--spool", spool.root.path])
        for (arguments, named) in [(["--set", "rules.township-leader-load.max_per_month=many"], "rules.township-leader-load.max_per_month"),
                                   (["--set", "rules.no-such-rule.severity=off"], "rules.no-such-rule"),
                                   (["--set", "spool=/tmp"], "spool"),
                                   (["--from", "2025-13-01"], "--from 2025-13-01"),
                                   (["--from", "2025-05-01", "--to", "2025-04-01"], "--from 2025-05-01 is after --to 2025-04-01"),
                                   (["--config", "/nonexistent/meetingd.yaml"], "/nonexistent/meetingd.yaml")] {
            let run = try runMeetingd(["replay", "--spool", spool.root.path] + arguments)
            XCTAssertEqual(run.status, 2, "\(arguments): \(run.errors)")
            XCTAssertTrue(run.errors.contains(named), "\(arguments): \(run.errors)")
            XCTAssertEqual(run.output, "")
        }
        let missing = try runMeetingd(["replay", "--ledger", spool.url("nothing.sqlite").path])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.errors.contains("no ledger there"), missing.errors)
        XCTAssertFalse(FileManager.default.fileExists(atPath: spool.url("nothing.sqlite").path), "no ledger is created")
    }

    /// Replay applies the recurrence bounds of the settings it replays under: a 6-occurrence series approved
    /// under the defaults is invalid under max_occurrences=1 or max_span_days=1 (from --set or a config
    /// file), and stays approved under looser ones.
    func test_replay_appliesTheRecurrenceBoundsItReplaysUnder() throws {
        let spool = try TestSpool()
        try spool.drop("s.json", json: RecurrenceTests.weekly(id: "s", recurrence: #"{"rrule": "FREQ=WEEKLY;COUNT=6"}"#)
            .replacingOccurrences(of: #""role": "party-secretary""#, with: #""role": "staff""#))
        XCTAssertEqual(try spool.pipeline().drain().map(\.recorded.decision.verdict), [.approved])
        for tighter in [["recurrence.max_occurrences=1"], ["recurrence.max_span_days=1"]] {
            let outcome = try replay(spool, tighter)
            XCTAssertEqual(outcome.otherVerdictChanges, 1, "\(tighter)")
            XCTAssertEqual(outcome.flips.first?.after.verdict, .invalid, "\(tighter)")
        }
        for looser in [[], ["recurrence.max_occurrences=6"], ["recurrence.max_occurrences=5000", "recurrence.max_span_days=3660"]] {
            XCTAssertTrue(try replay(spool, looser).flips.isEmpty, "\(looser)")
        }
        // A series the bounds made invalid stays invalid and is not read again (shared/spec/replay.md), under
        // looser bounds too: only decisions that were approved, rejected or withdrawn are replayed.
        let long = try TestSpool()
        try long.drop("m.json", json: RecurrenceTests.weekly(id: "m", recurrence: #"{"rrule": "FREQ=MONTHLY;COUNT=14"}"#)
            .replacingOccurrences(of: #""role": "party-secretary""#, with: #""role": "staff""#))
        let invalid = try long.pipeline().drain().map(\.recorded.decision)
        XCTAssertEqual(invalid.map(\.verdict), [.invalid])
        XCTAssertTrue(invalid[0].problems.contains { $0.contains("max_span_days") }, "\(invalid[0].problems)")
        for bounds in [[], ["recurrence.max_span_days=500"]] {
            let outcome = try replay(long, bounds)
            XCTAssertEqual(outcome.replayed, 0, "\(bounds)")
            XCTAssertTrue(outcome.flips.isEmpty, "\(bounds)")
        }

        let config = spool.url("bounds.yaml")
        try Data("recurrence:\n  max_occurrences: 1\n".utf8).write(to: config)
        let run = try runMeetingd(["replay", "--spool", spool.root.path, "--config", config.path, "--format", "json"])
        XCTAssertEqual(run.status, 0, run.errors)
        XCTAssertEqual(try JSONReader.parse(Array(run.output.utf8))["flips"]?["other_verdict_changes"], .integer(1), run.output)
    }

    /// `--config NEW.yaml`: the rules of a whole config file; --set on top of it.
    func test_replay_takesTheNewSettingsFromAConfigFile() throws {
        let spool = try TestSpool()
        for day in 1...5 { try spool.drop("t\(day).json", json: townshipMeeting("t\(day)", day: day * 2)) }
        _ = try runMeetingd(["drain", "--spool", spool.root.path])
        let config = spool.url("new.yaml")
        try Data("rules:\n  township-leader-load:\n    max_per_month: 3\n".utf8).write(to: config)
        let run = try runMeetingd(["replay", "--spool", spool.root.path, "--config", config.path, "--format", "json"])
        XCTAssertEqual(run.status, 0, run.errors)
        let report = try JSONReader.parse(Array(run.output.utf8))
        XCTAssertEqual(report["flips"]?["approved_to_rejected"], .integer(1))
        let both = try runMeetingd(["replay", "--spool", spool.root.path, "--config", config.path, "--format", "json",
                                    "--set", "rules.township-leader-load.severity=off"])
        XCTAssertEqual(try JSONReader.parse(Array(both.output.utf8))["flips"]?["approved_to_rejected"], .integer(0))
        XCTAssertEqual(try JSONReader.parse(Array(both.output.utf8))["flips"]?["rejected_to_approved"], .integer(1), "the load is off")
    }

    /// Values from requests are text on the page, never markup: a title with a script, quotes, bidirectional
    /// overrides and a 200-character unit name.
    func test_replayHTML_escapesEveryValueFromARequest() throws {
        let spool = try TestSpool()
        let unit = String(repeating: "单", count: 200)
        let title = #"<script>alert("x")</script> ‮evil‬ & 'quoted'"#
        try spool.drop("a.json", json: comprehensiveMeeting("early", month: 3, minutes: 50)
            .replacingOccurrences(of: "\"title\": \"测试会议 early\"", with: "\"title\": \(JSONValue.string(title).serialized)")
            .replacingOccurrences(of: "杭州市卫生健康委员会", with: unit))
        _ = try runMeetingd(["drain", "--spool", spool.root.path])
        let run = try runMeetingd(["replay", "--spool", spool.root.path, "--format", "html", "--set", "rules.main-speech-one-hour.max_minutes=40"])
        XCTAssertEqual(run.status, 0, run.errors)
        let page = run.output
        XCTAssertTrue(page.contains("early"), page)
        XCTAssertFalse(page.contains("<script"), "a title is never markup")
        XCTAssertTrue(page.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"), page)
        XCTAssertTrue(page.contains("&#x202E;evil&#x202C;"), "bidirectional overrides are shown as references")
        XCTAssertTrue(page.contains("&#39;quoted&#39;"))
        XCTAssertTrue(page.contains(unit))
        // Well formed: Python's HTML parser sees every element closed, in order.
        let check = try runTool(["python3", "-c", """
            import sys
            from html.parser import HTMLParser
            VOID = {"meta", "br", "link", "img", "hr", "col"}
            class P(HTMLParser):
                stack = []
                def handle_starttag(self, tag, attrs):
                    if tag not in VOID: self.stack.append(tag)
                def handle_endtag(self, tag):
                    assert self.stack and self.stack.pop() == tag, tag
            p = P(); p.feed(sys.argv[1]); p.close()
            assert not p.stack, p.stack
            print("ok")
            """, page])
        XCTAssertEqual(check.output.trimmingCharacters(in: .whitespacesAndNewlines), "ok", check.output)
    }
}
