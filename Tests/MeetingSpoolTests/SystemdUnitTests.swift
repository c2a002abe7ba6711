import Foundation
import XCTest

/// The shipped unit passes `systemd-analyze verify` and scores 1.5 or lower in `systemd-analyze security`.
final class SystemdUnitTests: XCTestCase {
    static let unit = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("systemd/meetingd.service")

    func analyze(_ arguments: [String]) throws -> (status: Int32, output: String) {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-analyze") else {
            if ProcessInfo.processInfo.environment["MEETINGD_REQUIRE_PARSERS"] == "1" { XCTFail("systemd-analyze is missing (make test installs systemd)") }
            throw XCTSkip("systemd-analyze is not installed")
        }
        return try runTool(["/usr/bin/systemd-analyze"] + arguments)
    }

    func test_unit_passesVerify() throws {
        // verify checks that ExecStart exists: point it at the binary just built.
        guard let binary = CommandLineTests.binary else { throw XCTSkip("meetingd binary not built") }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("unit-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let copy = folder.appendingPathComponent("meetingd.service")
        let text = try String(contentsOf: Self.unit, encoding: .utf8).replacingOccurrences(of: "/usr/local/bin/meetingd", with: binary.path)
        try Data(text.utf8).write(to: copy)
        let (status, output) = try analyze(["verify", copy.path])
        XCTAssertEqual(status, 0, output)
        XCTAssertEqual(output.trimmingCharacters(in: .whitespacesAndNewlines), "", output)
    }

    func test_sharedLedgerDropIn_passesVerify_andReplacesTheSQLiteLedger() throws {
        guard let binary = CommandLineTests.binary else { throw XCTSkip("meetingd binary not built") }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("unit-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("meetingd.service.d"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let dropIn = Self.unit.deletingLastPathComponent().appendingPathComponent("meetingd.service.d/shared-ledger.conf")
        for (source, target) in [(Self.unit, "meetingd.service"), (dropIn, "meetingd.service.d/shared-ledger.conf")] {
            let text = try String(contentsOf: source, encoding: .utf8).replacingOccurrences(of: "/usr/local/bin/meetingd", with: binary.path)
            try Data(text.utf8).write(to: folder.appendingPathComponent(target))
        }
        let (status, output) = try analyze(["verify", folder.appendingPathComponent("meetingd.service").path])
        XCTAssertEqual(status, 0, output)
        XCTAssertEqual(output.trimmingCharacters(in: .whitespacesAndNewlines), "", output)
        let text = try String(contentsOf: dropIn, encoding: .utf8)
        XCTAssertTrue(text.contains("ExecStart=\nExecStart="), "the drop-in replaces the command line that names the SQLite ledger")
        XCTAssertFalse(text.contains("--ledger"), "the ledger comes from the config")
    }

    func test_unit_exposureIsAtMost1point5() throws {
        let (_, output) = try analyze(["security", "--offline=true", Self.unit.path])
        let line = try XCTUnwrap(output.split(separator: "\n").first { $0.contains("Overall exposure level") }, output)
        let score = try XCTUnwrap(line.split(separator: ":").last?.split(separator: " ").first.flatMap { Double($0) }, String(line))
        XCTAssertLessThanOrEqual(score, 1.5, String(line))
    }

    func test_unit_isANotifyServiceWithReloadAndWatchdog() throws {
        let text = try String(contentsOf: Self.unit, encoding: .utf8)
        for line in ["Type=notify", "ExecReload=/bin/kill -HUP $MAINPID", "WatchdogSec=", "StateDirectory=meetingd",
                     "ConfigurationDirectory=meetingd", "User=meetingd"] {
            XCTAssertTrue(text.contains(line), line)
        }
    }
}
