import Foundation
import MeetingModel
import XCTest

/// Runs the real `meetingd` binary.
final class CommandLineTests: XCTestCase {
    static var binary: URL? { meetingdBinary }

    @discardableResult
    func meetingd(_ arguments: [String], expect status: Int32) throws -> String {
        let run = try runMeetingd(arguments)
        XCTAssertEqual(run.status, status, "meetingd \(arguments.joined(separator: " "))\n\(run.output)\n\(run.errors)")
        return run.output
    }

    func example(_ name: String) -> String { Bundle.module.url(forResource: "Fixtures/examples/" + name, withExtension: nil)!.path }

    func test_check_exitStatusAndJSON_andWritesNothing() throws {
        let spool = FileManager.default.temporaryDirectory.appendingPathComponent("meetingd-check-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: spool) }
        try meetingd(["check", "--spool", spool.path, example("01-approved-business.json")], expect: 0)
        try meetingd(["check", "--spool", spool.path, example("01-approved-business.json"), example("04-rejected-long-speech.json")], expect: 1)
        let output = try meetingd(["check", "--json", "--spool", spool.path, example("04-rejected-long-speech.json"),
                                   example("11-invalid-end-before-start.json")], expect: 2)
        let lines = try output.split(separator: "\n").map { try JSONReader.parse(Array($0.utf8)) }
        XCTAssertEqual(lines.map { $0["verdict"] }, [.string("rejected"), .string("invalid")])
        XCTAssertNotNil(lines[0]["settings"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: spool.path), "check must not create the spool")
    }

    func test_check_decidesAgainstTheLedger_withoutConsumingQuota() throws {
        let spool = try TestSpool()
        try spool.dropExample("02-approved-comprehensive.json")
        try meetingd(["drain", "--spool", spool.root.path], expect: 0)
        let ledger = spool.url("state/ledger.sqlite")
        let before = try Data(contentsOf: ledger)
        try meetingd(["check", "--spool", spool.root.path, example("03-rejected-second-comprehensive.json")], expect: 1)
        try meetingd(["check", "--spool", spool.root.path, example("03-rejected-second-comprehensive.json")], expect: 1)
        XCTAssertEqual(try Data(contentsOf: ledger), before)
    }

    func test_withdraw_cancelsTheApprovedMeeting() throws {
        let spool = try TestSpool()
        try spool.dropExample("01-approved-business.json")
        try meetingd(["drain", "--spool", spool.root.path], expect: 0)
        let output = try meetingd(["withdraw", "hz-wj-2025-014", "--spool", spool.root.path], expect: 0)
        XCTAssertTrue(output.hasPrefix("withdrawn\thz-wj-2025-014"), output)
        XCTAssertTrue(try spool.text("approved/hz-wj-2025-014.ics").contains("STATUS:CANCELLED"))
        try meetingd(["withdraw", "hz-wj-2025-014", "--spool", spool.root.path], expect: 2)
        try meetingd(["withdraw", "../x", "--spool", spool.root.path], expect: 64)
    }

    func test_rules_printsLiveSettings_andBrokenConfigIsNamed() throws {
        let config = FileManager.default.temporaryDirectory.appendingPathComponent("meetingd-\(UUID().uuidString).yaml")
        defer { try? FileManager.default.removeItem(at: config) }
        try Data("rules:\n  main-speech-one-hour:\n    max_minutes: 45\n".utf8).write(to: config)
        let output = try meetingd(["rules", "--config", config.path], expect: 0)
        XCTAssertTrue(output.contains("max_minutes = 45"), output)
        try Data("rules:\n  main-speech-one-hour:\n    max_minutes: soon\n".utf8).write(to: config)
        try meetingd(["rules", "--config", config.path], expect: 64)
    }

    func test_check_readsAtMostTheLimit_ofAHugeSparseFile_andRefusesAFIFO() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("meetingd-huge-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let huge = folder.appendingPathComponent("huge.json")
        FileManager.default.createFile(atPath: huge.path, contents: nil)
        XCTAssertEqual(truncate(huge.path, 256 << 20), 0)
        let output = try meetingd(["check", "--json", "--spool", folder.path, huge.path], expect: 2)
        XCTAssertTrue(output.contains("over the limit of 1048576"), output)
        // The peak memory of that one check, measured by a Python parent whose only child it is.
        let measure = #"import resource, subprocess, sys; subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"#
        let peak = try XCTUnwrap(Int(try run("/usr/bin/env", ["python3", "-c", measure, Self.binary!.path, "check", "--spool", folder.path, huge.path])
            .trimmingCharacters(in: .whitespacesAndNewlines)))
        XCTAssertLessThan(peak, 150_000, "peak memory in kB: a 256 MiB file is not read whole")
        let fifo = folder.appendingPathComponent("fifo.json")
        XCTAssertEqual(mkfifo(fifo.path, 0o644), 0)
        let fifoOutput = try meetingd(["check", "--spool", folder.path, fifo.path], expect: 2)
        XCTAssertTrue(fifoOutput.contains("not a regular file"), fifoOutput)
    }

    /// `check --set`: one request decided under another setting, each assignment checked as the config file's
    /// own key; a bad one is refused naming it, exit 2, and nothing is decided.
    func test_check_set_decidesUnderAnotherSetting_andRefusesABadOneNamingIt() throws {
        let spool = FileManager.default.temporaryDirectory.appendingPathComponent("meetingd-set-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: spool) }
        let request = example("01-approved-business.json")
        try meetingd(["check", "--spool", spool.path, request], expect: 0)
        let stricter = try meetingd(["check", "--spool", spool.path, "--set", "rules.main-speech-one-hour.max_minutes=30", request], expect: 1)
        XCTAssertTrue(stricter.contains("violates main-speech-one-hour"), stricter)
        // Later assignments win, and a rule turned off is not checked.
        try meetingd(["check", "--spool", spool.path, "--set", "rules.main-speech-one-hour.max_minutes=30",
                      "--set", "rules.main-speech-one-hour.severity=off", request], expect: 0)
        for (assignment, named) in [("rules.main-speech-one-hour.max_minutes=abc", "rules.main-speech-one-hour.max_minutes: must be an integer"),
                                    ("rules.no-such-rule.max=1", "rules.no-such-rule: no such rule"),
                                    ("rules.main-speech-one-hour.bogus=3", "rules.main-speech-one-hour.bogus: no such setting"),
                                    ("recurrence.max_occurrences=0", "recurrence.max_occurrences: must be an integer from 1"),
                                    ("spool=/etc", "spool: only rules"),
                                    ("rules.prefer-video.severity=maybe", "rules.prefer-video.severity: must be one of reject, warn, off"),
                                    ("rules.main-speech-one-hour.max_minutes=3\nspool: /etc", "control characters")] {
            let run = try runMeetingd(["check", "--spool", spool.path, "--set", assignment, request])
            let message = run.errors
            XCTAssertEqual(run.status, 2, "\(assignment): \(message)")
            XCTAssertTrue(message.contains("--set \(assignment)") || message.contains("--set rules.main-speech-one-hour.max_minutes=3"), message)
            XCTAssertTrue(message.contains(named), "\(assignment): \(message)")
        }
    }

    func test_withdraw_decidesOnlyItsOwnWithdrawal() throws {
        let spool = try TestSpool()
        try spool.drop("future.json", json: requestJSON(id: "future", start: "2030-03-18T09:00:00+08:00", end: "2030-03-18T11:00:00+08:00"))
        try meetingd(["drain", "--spool", spool.root.path], expect: 0)
        try spool.drop("waiting.json", json: requestJSON(id: "waiting", unit: "杭州市民政局"))
        try meetingd(["withdraw", "future", "--spool", spool.root.path], expect: 0)
        XCTAssertEqual(spool.files("incoming"), ["waiting.json"], "what else waits is left for the daemon or the next drain")
        XCTAssertTrue(try spool.text("feeds/all.ics").contains("STATUS:CANCELLED"), "the withdrawal reached the feeds")
    }

    /// `meetingd schema` against Python jsonschema and meetingd's own parser (Tests/tools/check_schema.py): every
    /// example validates, every invalid class JSON Schema can express fails it and meetingd names the same field.
    func test_schema_validatesEveryExample_andFailsWhatTheParserCallsInvalid() throws {
        guard let binary = Self.binary else { throw XCTSkip("meetingd binary not built") }
        let tools = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("tools")
        let examples = Bundle.module.url(forResource: "Fixtures/examples", withExtension: nil)!
        let (status, output) = try runTool(["python3", tools.appendingPathComponent("check_schema.py").path, binary.path, examples.path])
        XCTAssertEqual(status, 0, output)
        XCTAssertTrue(output.contains("11 examples") && output.contains("0 disagreements"), output)
        let schema = try meetingd(["schema"], expect: 0)
        XCTAssertTrue(schema.contains(#""$schema": "https://json-schema.org/draft/2020-12/schema""#))
    }

    func run(_ executable: String, _ arguments: [String]) throws -> String {
        let process = Process()
        let pipe = Pipe()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return output
    }
}
