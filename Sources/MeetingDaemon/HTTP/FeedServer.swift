import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import MeetingConfig
import MeetingRules
import MeetingModel
import MeetingSpool

/// Serves `feeds/` over HTTP for calendar programs: GET and HEAD only, strong ETags from the bytes,
/// Last-Modified, 304 for `If-None-Match` (which wins) and `If-Modified-Since`, 404 for anything that is not
/// a feed file (no traversal, no links followed, no listings), plus `/healthz` and `/metrics`.
public struct FeedServer: Sendable {
    let spool: SpoolDirectory
    let metrics: DaemonMetrics
    /// ETags by file identity: a 304 needs no read of the feed.
    private let tags = TagCache()

    public init(spool: SpoolDirectory, metrics: DaemonMetrics) {
        self.spool = spool
        self.metrics = metrics
    }

    /// The Hummingbird application, a Service for the daemon's ServiceGroup.
    public func application(address: HTTPAddress, logger: Logger, onRunning: @escaping @Sendable () -> Void) -> some Service {
        let responder = CallbackResponder<BasicRequestContext> { request, _ in self.respond(to: request) }
        return Application(responder: responder,
                           configuration: .init(address: .hostname(address.host, port: address.port), serverName: "meetingd"),
                           onServerRunning: { _ in onRunning() }, logger: logger)
    }

    static let types = ["ics": "text/calendar; charset=utf-8", "json": "application/json; charset=utf-8",
                        "html": "text/html; charset=utf-8"]

    func respond(to request: Request) -> Response {
        let response = answer(request)
        metrics.served(status: Int(response.status.code))
        return response
    }

    private func answer(_ request: Request) -> Response {
        guard request.method == .get || request.method == .head else {
            return Response(status: .methodNotAllowed, headers: [.allow: "GET, HEAD"])
        }
        let path = request.uri.path
        if path == "/healthz" {
            // 503 while requests cannot be decided (a shared ledger's database down, a full disk), with the reason.
            if let reason = metrics.blockedBecause {
                return Response(status: .serviceUnavailable, headers: [.contentType: "text/plain; charset=utf-8", .retryAfter: "5"],
                                body: .init(byteBuffer: ByteBuffer(bytes: Array("cannot decide: \(reason)\n".utf8))))
            }
            return body(Array("ok\n".utf8), type: "text/plain; charset=utf-8", request)
        }
        if path == "/metrics" { return body(metrics.text, type: "text/plain; version=0.0.4; charset=utf-8", request) }
        guard let relative = FeedRequestPath.relative(path) else { return notFound() }
        guard let type = Self.types[String(relative.split(separator: ".").last ?? "")],
              let file = spool.openFeed(relative) else { return notFound() }
        // The bytes are read at most once per version of the file; the tag always comes from the bytes.
        var bytes: [UInt8]?
        let tag: String
        if let known = tags.tag(for: file.identity) {
            tag = known
        } else {
            guard let read = file.readAll() else { return notFound() }
            bytes = read
            tag = "\"\(Digest.fnv1a64Hex(read))-\(read.count)\""
            tags.remember(tag, for: file.identity)
        }
        let modified = file.modified
        let lastModified = HTTPDate.format(modified)
        var headers: HTTPFields = [.eTag: tag, .lastModified: lastModified, .cacheControl: "no-cache"]
        if let condition = request.headers[.ifNoneMatch] {
            // Weak comparison, as RFC 9110 asks for If-None-Match.
            let tags = condition.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                .map { $0.hasPrefix("W/") ? String($0.dropFirst(2)) : $0 }
            if tags.contains("*") || tags.contains(tag) { return Response(status: .notModified, headers: headers) }
        } else if let since = request.headers[.ifModifiedSince].flatMap(HTTPDate.parse),
                  modified.timeIntervalSince1970.rounded(.down) <= since.timeIntervalSince1970 {
            return Response(status: .notModified, headers: headers)
        }
        headers[.contentType] = type
        guard let content = bytes ?? file.readAll() else { return notFound() }
        return body(content, headers: headers, request)
    }

    private func body(_ bytes: [UInt8], type: String, _ request: Request) -> Response {
        body(bytes, headers: [.contentType: type], request)
    }

    private func body(_ bytes: [UInt8], headers: HTTPFields, _ request: Request) -> Response {
        var headers = headers
        headers[.contentLength] = String(bytes.count)
        let payload = request.method == .head ? ResponseBody() : ResponseBody(byteBuffer: ByteBuffer(bytes: bytes))
        return Response(status: .ok, headers: headers, body: payload)
    }

    private func notFound() -> Response {
        Response(status: .notFound, headers: [.contentType: "text/plain; charset=utf-8"],
                 body: ResponseBody(byteBuffer: ByteBuffer(string: "not found\n")))
    }
}

/// A small lock-protected map from feed file identity to ETag.
final class TagCache: @unchecked Sendable {
    private let lock = NSLock()
    private var tags: [String: String] = [:]

    func tag(for identity: String) -> String? { lock.withLock { tags[identity] } }

    func remember(_ tag: String, for identity: String) {
        lock.withLock {
            if tags.count > 10_000 { tags.removeAll() }  // feeds are replaced, never edited: old identities are dead
            tags[identity] = tag
        }
    }
}
