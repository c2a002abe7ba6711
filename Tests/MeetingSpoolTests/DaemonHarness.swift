import Foundation
import XCTest

/// A datagram socket bound in a temporary folder that plays systemd's NOTIFY_SOCKET.
final class NotifyListener {
    let path: String
    private let descriptor: Int32
    private(set) var received: [String] = []

    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("notify-\(UUID().uuidString.prefix(8))").path
        descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in path.utf8.enumerated() { raw[index] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0 else { throw XCTSkip("cannot bind a unix datagram socket: \(String(cString: strerror(errno)))") }
    }

    deinit {
        close(descriptor)
        unlink(path)
    }

    /// Waits up to `timeout` seconds for a message containing `field` (e.g. `READY=1`).
    @discardableResult
    func waitFor(_ field: String, timeout: Double = 20) -> String? {
        if let earlier = received.firstIndex(where: { $0.split(separator: "\n").contains(Substring(field)) }) {
            return received.remove(at: earlier)
        }
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 100) > 0 else { continue }
            var buffer = [UInt8](repeating: 0, count: 4096)
            let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { continue }
            let message = String(decoding: buffer[0..<count], as: UTF8.self)
            if message.split(separator: "\n").contains(Substring(field)) { return message }
            received.append(message)
        }
        return nil
    }
}

/// The real `meetingd run` on a test spool.
final class DaemonProcess {
    let process = Process()
    let stderrPath: String

    init(spool: URL, config: URL? = nil, notify: NotifyListener? = nil, environment extra: [String: String] = [:],
         arguments: [String] = ["--http", "off"]) throws {
        guard let binary = CommandLineTests.binary else { throw XCTSkip("meetingd binary not built (run `swift build --build-tests`)") }
        // Outside the spool: a spool on its own mount must not be kept busy by the test's open log.
        stderrPath = FileManager.default.temporaryDirectory.appendingPathComponent("meetingd-stderr-\(UUID().uuidString)").path
        FileManager.default.createFile(atPath: stderrPath, contents: nil)
        process.executableURL = binary
        process.arguments = ["run", "--spool", spool.path] + (config.map { ["--config", $0.path] } ?? []) + arguments
        var environment = ProcessInfo.processInfo.environment
        environment["NOTIFY_SOCKET"] = notify?.path
        for (key, value) in extra { environment[key] = value }
        process.environment = environment
        process.standardError = FileHandle(forWritingAtPath: stderrPath)
        process.standardOutput = FileHandle.nullDevice
        try process.run()
    }

    var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    func signal(_ number: Int32) { kill(process.processIdentifier, number) }

    /// Waits for the process to end; returns its status, or nil after `timeout` seconds.
    func waitForExit(timeout: Double = 20) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning, Date() < deadline { usleep(20_000) }
        return process.isRunning ? nil : process.terminationStatus
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
        try? FileManager.default.removeItem(atPath: stderrPath)
    }
}

/// Polls `condition` every 10 ms for up to `timeout` seconds.
func eventually(timeout: Double = 20, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if condition() { return true }
        usleep(10_000)
    }
    return condition()
}
