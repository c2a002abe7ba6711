import Foundation
import MeetingSpool
import XCTest

/// Hostile HTTP against the running daemon: it answers or closes, stays up, keeps its memory bounded and
/// serves nothing outside feeds/.
final class HTTPAbuseTests: XCTestCase {
    /// Sends raw bytes and reads until the server closes or 5 s pass; the status is 0 when nothing came back.
    static func sendRaw(_ port: Int, _ bytes: [UInt8]) -> Int {
        guard let descriptor = HTTPTests.connectLoopback(port) else { return -1 }
        defer { close(descriptor) }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(descriptor, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var sent = 0
        while sent < bytes.count {
            let count = bytes.withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
            if count <= 0 { break }  // the server may close on a request it refuses
            sent += count
        }
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while response.count < 1 << 20 {
            let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count <= 0 { break }
            response += buffer[0..<count]
        }
        let statusLine = String(decoding: response.prefix { $0 != UInt8(ascii: "\r") }, as: UTF8.self)
        return Int(statusLine.split(separator: " ").dropFirst().first ?? "") ?? 0
    }

    static func residentKilobytes(_ pid: Int32) -> Int {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
    }

    func test_hostileRequests_neverStopTheDaemon_andServeNothingOutsideFeeds() throws {
        let spool = try TestSpool()
        let (daemon, port) = try HTTPTests.daemonServingOneMeeting(spool)
        let pid = daemon.process.processIdentifier

        // Dates that overflowed the old parser (SIGILL), and other garbage: the header is ignored.
        for date in ["Thu, 01 Jan 9223372036854775807 00:00:00 GMT", "Thu, 01 Jan -9223372036854775808 00:00:00 GMT",
                     "Thu, 9223372036854775807 Jan 2025 00:00:00 GMT", "Thu, 01 Jan 2025 9223372036854775807:00:00 GMT",
                     "Thu, 01 Jan 2025 00:9223372036854775807:00 GMT", "Thu, 01 Jan 0000 00:00:00 GMT"] {
            XCTAssertEqual(try HTTPTests.get(port, "/all.ics", headers: ["If-Modified-Since: \(date)"]).status, 200, date)
        }
        let hostile: [(String, [UInt8])] = [
            ("long URL", Array("GET /\(String(repeating: "a", count: 200_000)).ics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8)),
            ("many headers", Array(("GET /all.ics HTTP/1.1\r\nHost: x\r\n" + (0..<5_000).map { "X-H\($0): v\r\n" }.joined() + "Connection: close\r\n\r\n").utf8)),
            ("huge header", Array("GET /all.ics HTTP/1.1\r\nHost: x\r\nX-Big: \(String(repeating: "b", count: 2_000_000))\r\nConnection: close\r\n\r\n".utf8)),
            ("NUL in path", Array("GET /all.ics".utf8) + [0] + Array(".json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8)),
            ("absolute form", Array("GET http://127.0.0.1/../state/ledger.sqlite HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8)),
            ("absolute form, other host", Array("GET http://example.org/state/ledger.sqlite HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8)),
            ("encoded traversal", Array("GET /%2e%2e/%2e%2e/%2e%2e/etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8)),
            ("backslash traversal", Array("GET /..%5c..%5cstate%5cledger.sqlite HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8)),
            ("not HTTP", Array(repeating: 0xFF, count: 70_000)),
            ("CONNECT", Array("CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: x\r\n\r\n".utf8)),
        ]
        for (what, bytes) in hostile {
            let status = Self.sendRaw(port, bytes)
            XCTAssertNotEqual(status, 200, "\(what): nothing is served")
            XCTAssertEqual(try HTTPTests.get(port, "/healthz").status, 200, "\(what): the daemon is still up")
        }
        // Idle connections do not stop others from being served.
        var idle: [Int32] = []
        for _ in 0..<200 {
            if let descriptor = HTTPTests.connectLoopback(port) { idle.append(descriptor) }
        }
        XCTAssertEqual(idle.count, 200)
        XCTAssertEqual(try HTTPTests.get(port, "/all.ics").status, 200, "served beside 200 idle connections")
        for descriptor in idle { close(descriptor) }
        // Repeated abuse must not make memory grow without bound.
        let before = Self.residentKilobytes(pid)
        for _ in 0..<20 { _ = Self.sendRaw(port, hostile[2].1) }
        let after = Self.residentKilobytes(pid)
        XCTAssertLessThan(after, 400_000, "resident memory \(after) kB")
        XCTAssertLessThan(after - before, 100_000, "20 huge headers grew memory from \(before) to \(after) kB")
        XCTAssertEqual(kill(pid, 0), 0, "still running")
        daemon.signal(SIGTERM)
        XCTAssertEqual(daemon.waitForExit(), 0, daemon.stderr)
    }
}
