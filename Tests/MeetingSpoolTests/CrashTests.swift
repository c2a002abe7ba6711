import Foundation
import MeetingLedger
import MeetingModel
import XCTest

/// Requests dropped while the daemon is killed with SIGKILL at random instants and restarted: at the end every
/// request is decided exactly once, outputs agree with the log, no temporary file is left, and the decisions are
/// exactly those of an uninterrupted run (so caps hold exactly).
/// CI runs 200 requests and 5 kills; `scripts/crash-test` runs 2,000 and 20
/// (MEETINGD_CRASH_REQUESTS, MEETINGD_CRASH_KILLS).
final class CrashTests: XCTestCase {
    static func request(_ index: Int) -> String {
        switch index % 10 {
        case 0:
            return requestJSON(id: "r\(index)", kind: "comprehensive", start: "2025-0\(1 + index % 9)-1\(index % 10)T09:00:00+08:00",
                               end: "2025-0\(1 + index % 9)-1\(index % 10)T11:00:00+08:00")
                .replacingOccurrences(of: "卫生健康", with: "系统\(index % 7)")
        case 1:
            return "{broken \(index)"
        case 2 where index >= 20:
            return #"{"format": 1, "id": "r\#(index - 20)", "action": "withdraw"}"#
        case 3:
            return requestJSON(id: "r\(index)", start: "2025-05-06T09:00:00+08:00", end: "2025-05-06T17:00:00+08:00", unit: "单位\(index)")
        default:
            return requestJSON(id: "r\(index)", unit: "单位\(index)")
        }
    }

    func test_requestsDroppedWhileTheDaemonIsKilled_areEachDecidedExactlyOnce() throws {
        let environment = ProcessInfo.processInfo.environment
        let total = Int(environment["MEETINGD_CRASH_REQUESTS"] ?? "") ?? 200
        let kills = Int(environment["MEETINGD_CRASH_KILLS"] ?? "") ?? 5
        let spool = try TestSpool()
        let names = (0..<total).map { String(format: "req-%05d.json", $0) }

        // The producer drops at a steady pace while the main thread kills and restarts the daemon.
        let producerDone = DispatchSemaphore(value: 0)
        let producer = Thread {
            for (index, name) in names.enumerated() {
                try? spool.drop(name, json: Self.request(index))
                usleep(2_000)
            }
            producerDone.signal()
        }
        producer.start()
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<kills {
            let daemon = try DaemonProcess(spool: spool.root)
            usleep(UInt32.random(in: 50_000...400_000, using: &generator))
            daemon.signal(SIGKILL)
            _ = daemon.waitForExit()
        }
        producerDone.wait()
        let notify = try NotifyListener()
        let last = try DaemonProcess(spool: spool.root, notify: notify)
        XCTAssertNotNil(notify.waitFor("READY=1", timeout: 60), last.stderr)
        XCTAssertTrue(eventually(timeout: 300) { spool.files("incoming").filter { !$0.hasPrefix(".") }.isEmpty }, last.stderr)
        last.signal(SIGTERM)
        XCTAssertEqual(last.waitForExit(), 0, last.stderr)

        // Exactly once: one log line per input, nothing left waiting, no temporary files.
        let lines = try spool.logLines()
        let inputs = lines.compactMap { line -> String? in if case let .string(input)? = line["input"] { input } else { nil } }
        XCTAssertEqual(inputs, names.map { "incoming/" + $0 }, "one line per request, in arrival order")
        for folder in ["approved", "rejected", "invalid", "withdrawn", "incoming"] {
            XCTAssertEqual(spool.files(folder).filter { $0.hasPrefix(".") }, [], "\(folder) holds temporary files")
        }

        // Outputs agree with the log.
        for line in lines {
            guard case let .string(verdict)? = line["verdict"], case let .string(moved)? = line["request"],
                  case let .string(output)? = line["output"] else { return XCTFail("incomplete line \(line.serialized)") }
            XCTAssertTrue(FileManager.default.fileExists(atPath: spool.url(moved).path), "\(verdict): \(moved) missing")
            XCTAssertTrue(FileManager.default.fileExists(atPath: spool.url(output).path), "\(verdict): \(output) missing")
        }

        // The same inputs decided without interruption give the same decisions.
        let reference = try TestSpool()
        for (index, name) in names.enumerated() { try reference.drop(name, json: Self.request(index)) }
        try reference.pipeline().drain()
        func verdicts(_ lines: [JSONValue]) -> [String] { lines.map { "\($0["id"]?.serialized ?? "-") \($0["verdict"]!.serialized)" } }
        XCTAssertEqual(verdicts(lines), verdicts(try reference.logLines()))
        let ledger = try SQLiteLedger(path: spool.url("state/ledger.sqlite").path)
        let referenceLedger = try SQLiteLedger(path: reference.url("state/ledger.sqlite").path)
        XCTAssertEqual(try ledger.approvedCount(), try referenceLedger.approvedCount())
    }
}

final class FullDiskTests: XCTestCase {
    func test_fullDisk_requestsWait_nothingIsLost_andDecisionsResumeWhenSpaceReturns() throws {
        let mountPoint = FileManager.default.temporaryDirectory.appendingPathComponent("meetingd-full-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: mountPoint, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: mountPoint) }
        let mount = Process()
        mount.executableURL = URL(fileURLWithPath: "/bin/mount")
        // Room for the 20 decisions and their WAL frames (8 KiB pages) once the filler is gone.
        mount.arguments = ["-t", "tmpfs", "-o", "size=8m", "tmpfs", mountPoint.path]
        mount.standardError = FileHandle.nullDevice
        try mount.run()
        mount.waitUntilExit()
        guard mount.terminationStatus == 0 else {
            print("FullDiskTests: skipped: cannot mount a tmpfs here (needs root and mount rights)")
            throw XCTSkip("cannot mount a tmpfs here (needs root and mount rights)")
        }
        defer {
            let unmount = Process()
            unmount.executableURL = URL(fileURLWithPath: "/bin/umount")
            unmount.arguments = [mountPoint.path]
            try? unmount.run()
            unmount.waitUntilExit()
        }
        let spool = mountPoint.appendingPathComponent("spool")
        let notify = try NotifyListener()
        let daemon = try DaemonProcess(spool: spool, notify: notify)
        // Runs before the unmount above: nothing may keep the tmpfs busy.
        defer { if daemon.process.isRunning { daemon.signal(SIGKILL); _ = daemon.waitForExit() } }
        XCTAssertNotNil(notify.waitFor("READY=1"), daemon.stderr)

        // Requests are staged as dot-files (ignored), the disk is filled, then they are renamed in.
        let count = 20
        for index in 0..<count {
            try Data(requestJSON(id: "full-\(index)", unit: "单位\(index)").utf8)
                .write(to: spool.appendingPathComponent("incoming/.staged-\(index).json"))
        }
        let filler = mountPoint.appendingPathComponent("filler")
        let handle = FileHandle(fileDescriptor: open(filler.path, O_CREAT | O_WRONLY, 0o644), closeOnDealloc: true)
        let block = [UInt8](repeating: 0x41, count: 4096)
        while block.withUnsafeBytes({ write(handle.fileDescriptor, $0.baseAddress, $0.count) }) == block.count {}
        for index in 0..<count {
            XCTAssertEqual(rename(spool.appendingPathComponent("incoming/.staged-\(index).json").path,
                                  spool.appendingPathComponent("incoming/full-\(index).json").path), 0)
        }
        usleep(3_000_000)
        let waiting = try FileManager.default.contentsOfDirectory(atPath: spool.appendingPathComponent("incoming").path)
        XCTAssertFalse(waiting.isEmpty, "with the disk full, requests wait in incoming/")
        let errorLines = daemon.stderr.split(separator: "\n").filter { $0.hasPrefix("<3>") }
        XCTAssertGreaterThanOrEqual(errorLines.count, 1, daemon.stderr)
        XCTAssertLessThanOrEqual(errorLines.count, 3, "logged once, not in a hot loop:\n\(daemon.stderr)")

        // Space returns: everything is decided, nothing half-written.
        try handle.truncate(atOffset: 0)
        try handle.close()
        try FileManager.default.removeItem(at: filler)
        XCTAssertTrue(eventually(timeout: 120) {
            ((try? FileManager.default.contentsOfDirectory(atPath: spool.appendingPathComponent("incoming").path)) ?? ["x"]).isEmpty
        }, daemon.stderr)
        let log = try String(contentsOf: spool.appendingPathComponent("log/decisions.jsonl"), encoding: .utf8)
        let lines = try log.split(separator: "\n").map { try JSONReader.parse(Array($0.utf8)) }
        XCTAssertEqual(lines.count, count)
        XCTAssertTrue(lines.allSatisfy { $0["verdict"] == .string("approved") }, log)
        let approved = try FileManager.default.contentsOfDirectory(atPath: spool.appendingPathComponent("approved").path)
        XCTAssertEqual(approved.filter { $0.hasSuffix(".ics") }.count, count)
        XCTAssertEqual(approved.filter { $0.hasPrefix(".") }, [])
        daemon.signal(SIGTERM)
        XCTAssertEqual(daemon.waitForExit(), 0, daemon.stderr)
    }
}
