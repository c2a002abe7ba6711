import Foundation
import MeetingLedger
import MeetingModel
import MeetingRules
import MeetingSpool
import TestSupport
import XCTest

/// A spool in a temporary folder, with requests dropped at increasing modification times.
/// Used from one thread at a time (a test, or its producer thread while the test only reads).
final class TestSpool: @unchecked Sendable {
    let root: URL
    private var drops = 0
    var settings = RuleSettingsSet()

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("meetingd-spool-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root.appendingPathComponent("incoming"), withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: root) }

    /// A fresh pipeline over the same folders, as after a restart.
    func pipeline() throws -> DecisionPipeline {
        let spool = try SpoolDirectory(root: root.path)
        let ledger = try TestLedger.make(sqlitePath: root.appendingPathComponent("state/ledger.sqlite").path)
        let pipeline = try DecisionPipeline(spool: spool, ledger: ledger, settings: settings, timeZone: "Asia/Shanghai")
        pipeline.now = { Date(timeIntervalSince1970: 1_767_225_600) }  // fixed: outputs are byte-stable
        return pipeline
    }

    func url(_ relativePath: String) -> URL { root.appendingPathComponent(relativePath) }

    /// Writes `bytes` as `incoming/<name>` with a modification time after every earlier drop.
    func drop(_ name: String, _ bytes: [UInt8]) throws {
        drops += 1
        // Written as a dot-file, dated, then renamed in whole: a watching daemon never sees it half-made.
        let part = url("incoming/.part-\(drops)")
        try Data(bytes).write(to: part)
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSince1970: 1_700_000_000 + Double(drops))],
                                              ofItemAtPath: part.path)
        guard rename(part.path, url("incoming/" + name).path) == 0 else { throw CocoaError(.fileWriteUnknown) }
    }

    func drop(_ name: String, json: String) throws { try drop(name, Array(json.utf8)) }

    func dropExample(_ name: String) throws {
        let fixture = Bundle.module.url(forResource: "Fixtures/examples/" + name, withExtension: nil)!
        try drop(name, [UInt8](try Data(contentsOf: fixture)))
    }

    static var exampleNames: [String] {
        let folder = Bundle.module.url(forResource: "Fixtures/examples", withExtension: nil)!
        return ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).sorted()
    }

    func text(_ relativePath: String) throws -> String { try String(contentsOf: url(relativePath), encoding: .utf8) }

    func files(_ folder: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: url(folder).path)) ?? []).sorted()
    }

    func logLines() throws -> [JSONValue] {
        try text("log/decisions.jsonl").split(separator: "\n").map { try JSONReader.parse(Array($0.utf8)) }
    }
}

/// A meeting request as JSON, for tests that need to vary one field.
func requestJSON(id: String, revision: Int = 1, kind: String = "business", start: String = "2025-03-18T09:00:00+08:00",
                 end: String = "2025-03-18T11:30:00+08:00", unit: String = "杭州市卫生健康委员会", extra: String = "",
                 attendees: String = westLakeBureau, planRef: String? = "计划第1项", title: String? = nil, type: String = "department",
                 system: String = "卫生健康", region: String = "浙江省/杭州市") -> String {
    // Text that a test may make hostile goes through the JSON writer; the rest is the catalogue's words.
    func json(_ text: String) -> String { JSONValue.string(text).serialized }
    return """
    {"format": 1, "id": \(json(id)), "revision": \(revision), "title": \(json(title ?? "测试会议 \(id)")), "kind": "\(kind)",
     "organizer": {"unit": \(json(unit)), "level": "city", "type": "\(type)", "system": \(json(system)), "region": \(json(region))},
     "convener": {"rank": "principal"}, "start": "\(start)", "end": "\(end)", "plan_ref": \(planRef.map { "\"\($0)\"" } ?? "null"),
     "location": "杭州市民中心, J楼; 302",
     "attendees": \(attendees)\(extra)}
    """
}

let westLakeBureau = #"[{"unit": "西湖区卫生健康局", "level": "county", "region": "浙江省/杭州市/西湖区", "role": "department-head", "email": "xh@example.org"}]"#

/// One required county attendee, as JSON.
func countyAttendee(_ unit: String, district: String, required: Bool = true) -> String {
    #"[{"unit": "\#(unit)", "level": "county", "region": "浙江省/杭州市/\#(district)", "role": "department-head", "required": \#(required)}]"#
}

/// Runs `arguments` through `/usr/bin/env` (so `python3` is found on the PATH) and returns its exit status and
/// its standard output and error together.
func runTool(_ arguments: [String]) throws -> (status: Int32, output: String) {
    let process = Process()
    let output = Pipe()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    process.standardOutput = output
    process.standardError = output
    try process.run()
    let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    return (process.terminationStatus, text)
}

/// The `meetingd` binary built beside the tests.
var meetingdBinary: URL? {
    let folder = Bundle.main.bundleURL
    return [folder, folder.deletingLastPathComponent()].map { $0.appendingPathComponent("meetingd") }
        .first { FileManager.default.isExecutableFile(atPath: $0.path) }
}

/// Runs the real `meetingd` with `arguments`: its exit status, standard output and standard error.
func runMeetingd(_ arguments: [String]) throws -> (status: Int32, output: String, errors: String) {
    guard let binary = meetingdBinary else { throw XCTSkip("meetingd binary not built (run `swift build --build-tests`)") }
    let process = Process()
    let pipe = Pipe()
    // Standard error in a file, not a pipe: a crash's backtracer inherits it, and the caller's message shows it.
    let errors = FileManager.default.temporaryDirectory.appendingPathComponent("meetingd-stderr-\(UUID().uuidString)")
    _ = FileManager.default.createFile(atPath: errors.path, contents: nil)
    defer { try? FileManager.default.removeItem(at: errors) }
    process.executableURL = binary
    process.arguments = arguments
    process.standardOutput = pipe
    process.standardError = try FileHandle(forWritingTo: errors)
    try process.run()
    let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    return (process.terminationStatus, output, (try? String(contentsOf: errors, encoding: .utf8)) ?? "")
}
