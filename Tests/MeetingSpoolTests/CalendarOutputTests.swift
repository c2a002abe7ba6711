import Foundation
import MeetingCalendar
import MeetingSpool
import XCTest

/// Every .ics meetingd writes passes two independent parsers (Python icalendar and vobject) and the byte checks
/// of shared/design/ical-notes.md (Tests/tools/check_ics.py).
final class CalendarOutputTests: XCTestCase {
    static let checker = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("tools/check_ics.py")

    func test_everyProducedCalendar_passesIndependentParsersAndByteChecks() throws {
        let spool = try TestSpool()
        for name in TestSpool.exampleNames { try spool.dropExample(name) }
        let longTitle = String(repeating: "基层减负会议标题很长", count: 12)
        try spool.drop("long.json", json: requestJSON(id: "long", unit: "杭州市教育局").replacingOccurrences(of: "测试会议 long", with: longTitle))
        try spool.drop("utc.json", json: requestJSON(id: "utc", start: "2025-06-02T01:00:00Z", end: "2025-06-02T03:00:00Z", unit: "杭州市民政局")
            .replacingOccurrences(of: #""plan_ref": "计划第1项","#, with: #""timezone": "Europe/Berlin","#))
        try spool.pipeline().drain()
        let files = spool.files("approved").filter { $0.hasSuffix(".ics") }.map { spool.url("approved/" + $0).path }
        XCTAssertGreaterThanOrEqual(files.count, 5)
        let (status, output) = try runChecker(files)
        XCTAssertEqual(status, 0, output)

        let berlin = try spool.text("approved/utc.ics")
        XCTAssertTrue(berlin.contains("DTSTART;TZID=Europe/Berlin:20250602T030000"), berlin)
        XCTAssertTrue(berlin.contains("TZID:Europe/Berlin"))
        XCTAssertFalse(berlin.contains("freeassociation"), "plain TZIDs only")
    }

    func test_checker_catchesBrokenBytes() throws {
        // The checker must fail on what it is meant to catch, or its passing says nothing.
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("meetingd-ics-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let good = try ICalendarWriter.render(CalendarDocument(events: [CalendarEvent(
            uid: "u@meetingd", sequence: 0, stamp: Date(timeIntervalSince1970: 1_700_000_000), start: Date(timeIntervalSince1970: 1_700_000_000),
            end: Date(timeIntervalSince1970: 1_700_003_600), timeZone: "Asia/Shanghai", summary: "会议",
            organizer: .init(name: "单位", address: "urn:meetingd:unit:x"))]))
        let text = String(decoding: good, as: UTF8.self)
        let broken = [
            "lf.ics": text.replacingOccurrences(of: "\r\n", with: "\n"),
            "long.ics": text.replacingOccurrences(of: "SUMMARY:会议", with: "SUMMARY:" + String(repeating: "会", count: 40)),
            "zone.ics": text.replacingOccurrences(of: "TZID:Asia/Shanghai", with: "TZID:Asia/Tokyo"),
        ]
        var paths: [String] = []
        for (name, content) in broken {
            let url = directory.appendingPathComponent(name)
            try Data(content.utf8).write(to: url)
            paths.append(url.path)
        }
        let goodURL = directory.appendingPathComponent("good.ics")
        try Data(good).write(to: goodURL)
        XCTAssertEqual(try runChecker([goodURL.path]).status, 0)
        for path in paths { XCTAssertNotEqual(try runChecker([path]).status, 0, path) }
    }
}

/// Runs Tests/tools/check_ics.py (Python icalendar, vobject, byte checks) on `files`.
func runChecker(_ files: [String]) throws -> (status: Int32, output: String) {
    let probe = Process()
    probe.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    probe.arguments = ["python3", "-c", "import icalendar, vobject"]
    try probe.run()
    probe.waitUntilExit()
    if probe.terminationStatus != 0 {
        if ProcessInfo.processInfo.environment["MEETINGD_REQUIRE_PARSERS"] == "1" {
            XCTFail("python3 with icalendar and vobject is required (make test installs them)")
        }
        throw XCTSkip("python3 icalendar/vobject not installed; `make test` installs them")
    }
    let process = Process()
    let pipe = Pipe()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", CalendarOutputTests.checker.path] + files
    process.standardOutput = pipe
    try process.run()
    let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    return (process.terminationStatus, output)
}

