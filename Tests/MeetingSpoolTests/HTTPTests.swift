import Foundation
import MeetingModel
import MeetingSpool
import XCTest

/// Real HTTP on 127.0.0.1 against the running daemon, with a raw socket client so that no client library
/// normalises the hostile paths away.
final class HTTPTests: XCTestCase {
    struct Reply {
        let status: Int
        let headers: [String: String]
        let body: [UInt8]
    }

    static func freePort() -> Int {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(descriptor) }
        var address = sockaddr_in(sin_family: sa_family_t(AF_INET), sin_port: 0, sin_addr: in_addr(s_addr: inet_addr("127.0.0.1")), sin_zero: (0, 0, 0, 0, 0, 0, 0, 0))
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) } }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) } }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// A TCP connection to 127.0.0.1:`port`, or nil; the caller closes the descriptor.
    static func connectLoopback(_ port: Int) -> Int32? {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in(sin_family: sa_family_t(AF_INET), sin_port: UInt16(port).bigEndian,
                                  sin_addr: in_addr(s_addr: inet_addr("127.0.0.1")), sin_zero: (0, 0, 0, 0, 0, 0, 0, 0))
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(descriptor)
            return nil
        }
        return descriptor
    }

    static func send(_ port: Int, _ request: String) throws -> Reply {
        guard let descriptor = connectLoopback(port) else { throw POSIXError(.ECONNREFUSED) }
        defer { close(descriptor) }
        let bytes = Array(request.utf8)
        _ = bytes.withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, 0) }
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count <= 0 { break }
            response += buffer[0..<count]
        }
        let separator = Array("\r\n\r\n".utf8)
        let split = (0...(max(0, response.count - 4))).first { Array(response[$0..<min($0 + 4, response.count)]) == separator } ?? response.count
        let head = String(decoding: response[0..<split], as: UTF8.self).components(separatedBy: "\r\n")
        var headers: [String: String] = [:]
        for line in head.dropFirst() {
            if let colon = line.firstIndex(of: ":") {
                headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
        }
        let status = Int(head.first?.split(separator: " ").dropFirst().first ?? "") ?? 0
        return Reply(status: status, headers: headers, body: Array(response[min(split + 4, response.count)...]))
    }

    static func get(_ port: Int, _ target: String, method: String = "GET", headers: [String] = []) throws -> Reply {
        try send(port, "\(method) \(target) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
            + headers.map { $0 + "\r\n" }.joined() + "\r\n")
    }

    /// A running daemon serving feeds on a free port, with one future meeting `a` decided and in `all.ics`.
    static func daemonServingOneMeeting(_ spool: TestSpool) throws -> (daemon: DaemonProcess, port: Int) {
        try spool.drop("a.json", json: requestJSON(id: "a", start: "2030-03-18T09:00:00+08:00", end: "2030-03-18T11:00:00+08:00"))
        let port = freePort()
        let notify = try NotifyListener()
        let daemon = try DaemonProcess(spool: spool.root, notify: notify, arguments: ["--http", "127.0.0.1:\(port)"])
        XCTAssertNotNil(notify.waitFor("READY=1"), daemon.stderr)
        XCTAssertTrue(eventually { spool.files("approved").contains("a.ics") })
        XCTAssertTrue(eventually { ((try? spool.text("feeds/all.ics")) ?? "").contains("UID:a@meetingd") })
        // The index is written after the feeds, by the same pass (which starts at a moment of the daemon's own).
        XCTAssertTrue(eventually { ((try? spool.text("feeds/index.json")) ?? "").contains("all.ics") })
        return (daemon, port)
    }

    func test_feedServer_answersConditionalRequests_andRefusesEverythingElse() throws {
        let spool = try TestSpool()
        let (daemon, port) = try Self.daemonServingOneMeeting(spool)

        let ok = try Self.get(port, "/all.ics")
        XCTAssertEqual(ok.status, 200)
        XCTAssertEqual(ok.headers["content-type"], "text/calendar; charset=utf-8")
        XCTAssertTrue(String(decoding: ok.body, as: UTF8.self).contains("UID:a@meetingd"))
        XCTAssertEqual(ok.body, [UInt8](try Data(contentsOf: spool.url("feeds/all.ics"))))
        let tag = try XCTUnwrap(ok.headers["etag"])
        XCTAssertTrue(tag.hasPrefix("\"") && !tag.hasPrefix("W/"), "a strong ETag")
        let modified = try XCTUnwrap(ok.headers["last-modified"])

        let head = try Self.get(port, "/all.ics", method: "HEAD")
        XCTAssertEqual(head.status, 200)
        XCTAssertEqual(head.body, [])
        XCTAssertEqual(head.headers["content-length"], String(ok.body.count))
        XCTAssertEqual(head.headers["etag"], tag)

        XCTAssertEqual(try Self.get(port, "/all.ics", headers: ["If-None-Match: \(tag)"]).status, 304)
        XCTAssertEqual(try Self.get(port, "/all.ics", headers: ["If-Modified-Since: \(modified)"]).status, 304)
        XCTAssertEqual(try Self.get(port, "/all.ics", headers: ["If-None-Match: \"other\"", "If-Modified-Since: \(modified)"]).status, 200,
                       "If-None-Match wins over If-Modified-Since")
        XCTAssertEqual(try Self.get(port, "/all.ics", headers: ["If-Modified-Since: Sat, 01 Jan 2000 00:00:00 GMT"]).status, 200)

        let attendee = FeedKey(kind: .attendee, name: "西湖区卫生健康局").path
        let encoded = "/" + attendee.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed)!
        XCTAssertEqual(try Self.get(port, encoded).status, 200)
        XCTAssertEqual(try Self.get(port, "/index.json").headers["content-type"], "application/json; charset=utf-8")
        XCTAssertEqual(try Self.get(port, "/healthz").status, 200)
        XCTAssertTrue(String(decoding: try Self.get(port, "/metrics").body, as: UTF8.self).contains("meetingd_decisions_total{verdict=\"approved\"} 1"))
        XCTAssertEqual(try Self.get(port, "/all.ics", method: "POST").status, 405)
        XCTAssertEqual(try Self.get(port, "/all.ics", method: "DELETE").status, 405)

        // Nothing outside feeds/, no links followed, no listings.
        try FileManager.default.createSymbolicLink(atPath: spool.url("feeds/planted.ics").path, withDestinationPath: spool.url("state/ledger.sqlite").path)
        try FileManager.default.createSymbolicLink(atPath: spool.url("feeds/up").path, withDestinationPath: spool.url("state").path)
        try Data("secret".utf8).write(to: spool.url("feeds/.hidden.ics"))
        for target in ["/../state/ledger.sqlite", "/%2e%2e/state/ledger.sqlite", "/%2E%2E%2Fstate%2Fledger.sqlite", "/..%2f..%2fetc%2fpasswd",
                       "//etc/passwd", "/etc/passwd", "/region/", "/region", "/feeds/all.ics", "/planted.ics", "/up/ledger.sqlite",
                       "/.hidden.ics", "/all.ics%00.json", "/%ff.ics", "http://127.0.0.1/../state/ledger.sqlite", "/nothing.ics"] {
            XCTAssertEqual(try Self.get(port, target).status, 404, target)
        }
        daemon.signal(SIGTERM)
        XCTAssertEqual(daemon.waitForExit(), 0, daemon.stderr)
    }

    func test_reportAndDecisionBrowser_overARealSocket() throws {
        let spool = try TestSpool()
        let (daemon, port) = try Self.daemonServingOneMeeting(spool)
        let report = try Self.get(port, "/report.json?year=2030")
        XCTAssertEqual(report.status, 200)
        let json = try JSONReader.parse(report.body)
        XCTAssertEqual(json["totals"]?["approved"], .integer(1))
        let tag = try XCTUnwrap(report.headers["etag"])
        XCTAssertEqual(try Self.get(port, "/report.json?year=2030", headers: ["If-None-Match: \(tag)"]).status, 304)
        XCTAssertEqual(try Self.get(port, "/report/?year=2030").headers["content-type"], "text/html; charset=utf-8")
        let listing = try Self.get(port, "/decisions.json?id=a")
        XCTAssertEqual(listing.status, 200)
        XCTAssertTrue(String(decoding: listing.body, as: UTF8.self).contains("\"id\":\"a\""))
        XCTAssertTrue(String(decoding: try Self.get(port, "/decisions/a").body, as: UTF8.self).contains("/decisions/a.ics"))
        XCTAssertTrue(String(decoding: try Self.get(port, "/decisions/a.ics").body, as: UTF8.self).contains("UID:a@meetingd"))
        XCTAssertEqual(try Self.get(port, "/report/?year=abc").status, 400)
        for target in ["/decisions/../state/ledger.sqlite", "/decisions/%2e%2e%2fstate", "/decisions//a", "/decisions/a/../../etc/passwd"] {
            XCTAssertEqual(try Self.get(port, target).status, 404, target)
        }
        XCTAssertEqual(try Self.get(port, "/decisions/", method: "POST").status, 405)
        daemon.signal(SIGTERM)
        XCTAssertEqual(daemon.waitForExit(), 0, daemon.stderr)
    }

    func test_realSubscriber_vdirsyncerAndKhal_seeTheUnitsMeetings_andTheCancellation() throws {
        try KhalSubscriber.requireTools()
        let spool = try TestSpool()
        try spool.drop("mine-1.json", json: requestJSON(id: "mine-1", start: "2030-03-18T09:00:00+08:00", end: "2030-03-18T11:00:00+08:00"))
        try spool.drop("mine-2.json", json: requestJSON(id: "mine-2", start: "2030-04-02T14:00:00+08:00", end: "2030-04-02T16:00:00+08:00", unit: "杭州市民政局"))
        try spool.drop("not-mine.json", json: requestJSON(id: "not-mine", start: "2030-03-19T09:00:00+08:00", end: "2030-03-19T11:00:00+08:00",
                                                         unit: "杭州市教育局", attendees: countyAttendee("拱墅区民政局", district: "拱墅区")))
        let port = Self.freePort()
        let notify = try NotifyListener()
        let daemon = try DaemonProcess(spool: spool.root, notify: notify, arguments: ["--http", "127.0.0.1:\(port)"])
        XCTAssertNotNil(notify.waitFor("READY=1"), daemon.stderr)
        XCTAssertTrue(eventually { spool.files("approved").filter { $0.hasSuffix(".ics") }.count == 3 })
        // The daemon rewrites feeds at most once a second.
        let attendeeFeed = "feeds/" + FeedKey(kind: .attendee, name: "西湖区卫生健康局").path
        XCTAssertTrue(eventually { ((try? spool.text(attendeeFeed)) ?? "").components(separatedBy: "BEGIN:VEVENT").count == 3 })

        let path = FeedKey(kind: .attendee, name: "西湖区卫生健康局").path.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed)!
        let subscriber = try KhalSubscriber(feedURL: "http://127.0.0.1:\(port)/\(path)")
        func listed() throws -> [String] {
            try subscriber.list(from: "2030-01-01", days: 365, format: "{cancelled}{title}")
                .filter { $0.hasPrefix("测试会议") || $0.hasPrefix("CANCELLED") }
        }
        XCTAssertEqual(try listed(), ["测试会议 mine-1", "测试会议 mine-2"], "exactly the meetings 西湖区卫生健康局 must attend")

        try spool.drop("w.json", json: #"{"format": 1, "id": "mine-2", "action": "withdraw"}"#)
        XCTAssertTrue(eventually { spool.files("withdrawn").count == 1 })
        XCTAssertTrue(eventually { ((try? spool.text(attendeeFeed)) ?? "").contains("STATUS:CANCELLED") })
        XCTAssertEqual(try listed(), ["测试会议 mine-1", "CANCELLED 测试会议 mine-2"])
        daemon.signal(SIGTERM)
        XCTAssertEqual(daemon.waitForExit(), 0)
    }
}
