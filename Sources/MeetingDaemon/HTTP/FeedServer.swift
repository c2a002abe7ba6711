import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import MeetingConfig
import MeetingLedger
import MeetingModel
import MeetingReport
import MeetingRules
import MeetingSpool

/// What the report and the decision browser read: the ledger (read-only), the settings in force and the
/// office's time zone.
public struct PageSource: Sendable {
    let ledger: any Ledger
    let settings: @Sendable () -> RuleSettingsSet
    let timeZone: TimeZone

    public init(ledger: any Ledger, settings: @escaping @Sendable () -> RuleSettingsSet, timeZone: TimeZone) {
        self.ledger = ledger
        self.settings = settings
        self.timeZone = timeZone
    }
}

/// The daemon's HTTP side on Hummingbird's `Router`: GET and HEAD only (405 otherwise), with
/// - `feeds/` at the root for calendar programs: strong ETags from the bytes, Last-Modified, 304 for
///   `If-None-Match` (which wins) and `If-Modified-Since`, 404 for anything that is not a feed file (no
///   traversal, no links followed, no listings);
/// - `/report/`, `/report.json`, `/decisions/`, `/decisions/<id>`, `/decisions/<id>.ics` and
///   `/decisions.json`, read from the ledger (unless `pages: false`), with the same ETag and 304 rules and a
///   400 naming the parameter for a bad value;
/// - `/healthz` and `/metrics`.
public struct FeedServer: Sendable {
    let spool: SpoolDirectory
    let metrics: DaemonMetrics
    let pages: PageSource?
    /// ETags by file identity: a 304 needs no read of the feed.
    private let tags = TagCache()
    /// Pages made, by what they are made of: a page is made again only when the ledger, the settings or the
    /// year changed, and a revalidation of an unchanged one is a 304 without reading more than the ledger's
    /// last decision number.
    private let made = PageCache()
    /// Pages are made on two threads at most, beside the decider on this 2-core office machine, and with as
    /// many database connections at most on a shared ledger.
    private let makers: OperationQueue = {
        let queue = OperationQueue()
        queue.maxConcurrentOperationCount = 2
        queue.name = "meetingd.pages"
        return queue
    }()

    public init(spool: SpoolDirectory, metrics: DaemonMetrics, pages: PageSource? = nil) {
        self.spool = spool
        self.metrics = metrics
        self.pages = pages
    }

    /// The Hummingbird application, a Service for the daemon's ServiceGroup.
    public func application(address: HTTPAddress, logger: Logger, onRunning: @escaping @Sendable () -> Void) -> some Service {
        Application(router: router(),
                    configuration: .init(address: .hostname(address.host, port: address.port), serverName: "meetingd"),
                    onServerRunning: { _ in onRunning() }, logger: logger)
    }

    static let pagesWaitingAtMost = 16

    static let types = ["ics": "text/calendar; charset=utf-8", "json": "application/json; charset=utf-8",
                        "html": "text/html; charset=utf-8"]

    public func router() -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: GuardMiddleware(metrics: metrics))
        func route(_ path: RouterPath, _ handler: @escaping @Sendable (Request) async -> Response) {
            router.get(path) { request, _ in await handler(request) }
            router.head(path) { request, _ in await handler(request) }
        }
        route("healthz") { request in
            // 503 while requests cannot be decided (a shared ledger's database down, a full disk), with the reason.
            if let reason = metrics.blockedBecause {
                return Self.unavailable("cannot decide: \(reason)\n", retryAfter: 5)
            }
            return Self.body(Array("ok\n".utf8), headers: [.contentType: "text/plain; charset=utf-8"], request)
        }
        route("metrics") { request in
            Self.body(metrics.text, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"], request)
        }
        route("report") { request in await page(request) { source, query in try Self.report(source, query, json: false) } }
        route("report.json") { request in await page(request) { source, query in try Self.report(source, query, json: true) } }
        route("decisions") { request in await page(request) { source, query in try Self.decisions(source, query, json: false) } }
        route("decisions.json") { request in await page(request) { source, query in try Self.decisions(source, query, json: true) } }
        route("decisions/:id") { request in
            await page(request) { source, _ in try Self.history(source, path: request.uri.path) }
        }
        route("/") { request in feed(request) }
        route("**") { request in feed(request) }
        return router
    }

    // MARK: Feeds

    private func feed(_ request: Request) -> Response {
        guard let relative = FeedRequestPath.relative(request.uri.path),
              let type = Self.types[String(relative.split(separator: ".").last ?? "")],
              let file = spool.openFeed(relative) else { return Self.notFound() }
        // The bytes are read at most once per version of the file; the tag always comes from the bytes.
        var bytes: [UInt8]?
        let tag: String
        if let known = tags.tag(for: file.identity) {
            tag = known
        } else {
            guard let read = file.readAll() else { return Self.notFound() }
            guard Self.isWhole(read, path: relative) else {
                return Self.unavailable("this feed is being rewritten; try again\n", retryAfter: 5)
            }
            bytes = read
            tag = Self.tag(read)
            tags.remember(tag, for: file.identity)
        }
        let modified = file.modified
        var headers: HTTPFields = [.eTag: tag, .lastModified: HTTPDate.format(modified), .cacheControl: "no-cache"]
        if Self.matches(request, tag: tag) { return Response(status: .notModified, headers: headers) }
        if request.headers[.ifNoneMatch] == nil, let since = request.headers[.ifModifiedSince].flatMap(HTTPDate.parse),
           modified.timeIntervalSince1970.rounded(.down) <= since.timeIntervalSince1970 {
            return Response(status: .notModified, headers: headers)
        }
        headers[.contentType] = type
        guard let content = bytes ?? file.readAll() else { return Self.notFound() }
        return Self.body(content, headers: headers, request)
    }

    // MARK: Pages

    /// A page's answer: made off the event loop (the ledger blocks), then served with a strong ETag from its
    /// bytes and 304 for a matching `If-None-Match`, like a feed.
    private func page(_ request: Request, _ make: @escaping @Sendable (PageSource, [(String, String)]) throws -> (bytes: [UInt8], type: String)?)
        async -> Response {
        guard let pages else {
            return Self.plain(.notFound, "not found: pages are turned off in this office's configuration (pages: false)\n")
        }
        guard let query = Self.parameters(request.uri.query) else { return Self.plain(.badRequest, "query: not valid percent-encoded UTF-8\n") }
        let made = self.made
        // A burst beyond what two makers clear soon is told to come back rather than queued without end.
        guard makers.operationCount < Self.pagesWaitingAtMost else {
            return Self.unavailable("busy: too many pages asked for at once; try again\n", retryAfter: 2)
        }
        let outcome: Result<PageCache.Page?, any Error> = await withCheckedContinuation { continuation in
            makers.addOperation {
                continuation.resume(returning: Result {
                    // What the page is made of: the request, the settings, the current year and the ledger's last decision.
                    let settings = pages.settings()
                    let last = try pages.ledger.select("SELECT MAX(seq) FROM decision", []).first?.first ?? .null
                    let year = ZonedClock(timeZone: pages.timeZone).local(Date()).date.year
                    let url = "\(request.uri.path)?\(request.uri.query ?? "")"
                    let key = "\(url)|\(settings.version)|\(settings.listedMeetings)|\(year)|\(last)"
                    if let page = made[key] { return page }
                    guard let page = try make(pages, query) else { return nil }
                    let tag = Self.tag(page.bytes)
                    let kept = PageCache.Page(bytes: page.bytes, type: page.type, tag: tag, modified: made.modified(of: url, tag: tag))
                    made[key] = kept
                    return kept
                })
            }
        }
        switch outcome {
        case let .success(page?):
            // As for feeds: If-None-Match wins; else If-Modified-Since against when this page was made.
            var headers: HTTPFields = [.eTag: page.tag, .lastModified: HTTPDate.format(page.modified), .cacheControl: "no-cache"]
            if Self.matches(request, tag: page.tag) { return Response(status: .notModified, headers: headers) }
            if request.headers[.ifNoneMatch] == nil, let since = request.headers[.ifModifiedSince].flatMap(HTTPDate.parse),
               page.modified.timeIntervalSince1970 <= since.timeIntervalSince1970 {
                return Response(status: .notModified, headers: headers)
            }
            headers[.contentType] = page.type
            return Self.body(page.bytes, headers: headers, request)
        case .success(nil):
            return Self.notFound()
        case let .failure(problem as ReportParameters.Problem):
            return Self.plain(.badRequest, "bad request: \(problem)\n")
        case let .failure(error):
            return Self.plain(.serviceUnavailable, "cannot read the ledger: \(error)\n")
        }
    }

    static func report(_ source: PageSource, _ query: [(String, String)], json: Bool) throws -> (bytes: [UInt8], type: String)? {
        let value = { (name: String) in query.last { $0.0 == name }?.1 }
        let parameters = try ReportParameters(year: value("year"),
                                              region: value("region"))
        let builder = ReportBuilder(settings: source.settings(), timeZone: source.timeZone)
        let report = try builder.build(ledger: source.ledger, year: parameters.year ?? builder.currentYear(), region: parameters.region)
        return json ? (Array((report.json.serialized + "\n").utf8), types["json"]!) : (Array(ReportPage.render(report).utf8), types["html"]!)
    }

    static func decisions(_ source: PageSource, _ query: [(String, String)], json: Bool) throws -> (bytes: [UInt8], type: String)? {
        let listing = try DecisionBrowser(ledger: source.ledger, timeZone: source.timeZone).listing(DecisionBrowser.Query(parameters: query))
        return json ? (Array((listing.json(timeZone: source.timeZone).serialized + "\n").utf8), types["json"]!)
            : (Array(BrowserPage.listing(listing, timeZone: source.timeZone).utf8), types["html"]!)
    }

    /// `/decisions/<id>` and `/decisions/<id>.ics`; nil (404) for anything that is not a request id the ledger
    /// holds. An id may itself end in `.ics`: its history wins over the calendar of the id without it.
    static func history(_ source: PageSource, path: String) throws -> (bytes: [UInt8], type: String)? {
        guard path.hasPrefix("/decisions/"), let decoded = String(path.dropFirst("/decisions/".count)).removingPercentEncoding,
              RequestParser.isValidID(decoded) else { return nil }
        let browser = DecisionBrowser(ledger: source.ledger, timeZone: source.timeZone)
        return try source.ledger.snapshot {
            let entries = try browser.history(of: decoded)
            if entries.isEmpty {
                guard decoded.hasSuffix(".ics"), case let id = String(decoded.dropLast(4)), RequestParser.isValidID(id) else { return nil }
                return try browser.calendar(of: id).map { ($0, types["ics"]!) }
            }
            let page = BrowserPage.history(id: decoded, entries, hasCalendar: try browser.hasCalendar(of: decoded), timeZone: source.timeZone)
            return (Array(page.utf8), types["html"]!)
        }
    }

    // MARK: Pieces

    /// The query's name=value pairs, percent-decoded (`+` is a space); nil when one does not decode.
    static func parameters(_ query: String?) -> [(String, String)]? {
        guard let query, !query.isEmpty else { return [] }
        guard query.utf8.count <= 4096 else { return nil }
        var pairs: [(String, String)] = []
        for item in query.split(separator: "&") {
            let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = parts[0].replacingOccurrences(of: "+", with: " ").removingPercentEncoding,
                  let value = (parts.count > 1 ? String(parts[1]) : "").replacingOccurrences(of: "+", with: " ").removingPercentEncoding
            else { return nil }
            pairs.append((name, value))
        }
        return pairs
    }

    static func tag(_ bytes: [UInt8]) -> String { "\"\(Digest.fnv1a64Hex(bytes))-\(bytes.count)\"" }

    /// `If-None-Match` names `tag` (weak comparison, as RFC 9110 asks) or `*`.
    static func matches(_ request: Request, tag: String) -> Bool {
        guard let condition = request.headers[.ifNoneMatch] else { return false }
        let tags = condition.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            .map { $0.hasPrefix("W/") ? String($0.dropFirst(2)) : $0 }
        return tags.contains("*") || tags.contains(tag)
    }

    static func body(_ bytes: [UInt8], headers: HTTPFields, _ request: Request) -> Response {
        var headers = headers
        headers[.contentLength] = String(bytes.count)
        let payload = request.method == .head ? ResponseBody() : ResponseBody(byteBuffer: ByteBuffer(bytes: bytes))
        return Response(status: .ok, headers: headers, body: payload)
    }

    static func plain(_ status: HTTPResponse.Status, _ text: String) -> Response {
        Response(status: status, headers: [.contentType: "text/plain; charset=utf-8"], body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    static func notFound() -> Response { plain(.notFound, "not found\n") }

    /// 503 with the reason and when to ask again.
    static func unavailable(_ text: String, retryAfter seconds: Int) -> Response {
        var response = plain(.serviceUnavailable, text)
        response.headers[.retryAfter] = "\(seconds)"
        return response
    }

    /// Whether a feed file is whole: it ends as meetingd ends it (a calendar with its END:VCALENDAR line) and
    /// holds no NUL byte (a block a crash left unwritten reads as zeros). A shared ledger's daemon leaves its
    /// feeds in the page cache, so a crash can leave one emptied or cut short until the next start's first pass
    /// mends it; a subscriber would take such a calendar for every meeting cancelled, and keeps what it has on
    /// a 503.
    static func isWhole(_ bytes: [UInt8], path: String) -> Bool {
        guard let end = wholeEnds.first(where: { path.hasSuffix($0.suffix) })?.end,
              bytes.count >= end.count, bytes.suffix(end.count).elementsEqual(end) else { return false }
        return bytes.withUnsafeBytes { memchr($0.baseAddress!, 0, $0.count) == nil }
    }

    private static let wholeEnds: [(suffix: String, end: [UInt8])] = [
        (".ics", Array("END:VCALENDAR\r\n".utf8)), (".json", Array("}\n".utf8)), (".html", Array("</html>\n".utf8)),
    ]
}

/// Every request passes here first: only GET and HEAD are served (405 with `Allow` otherwise), anything the
/// router does not know is a 404, and every answer is counted for `/metrics`.
struct GuardMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext
    let metrics: DaemonMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let response: Response
        if request.method != .get && request.method != .head {
            response = Response(status: .methodNotAllowed, headers: [.allow: "GET, HEAD"])
        } else {
            do {
                response = try await next(request, context)
            } catch {
                response = FeedServer.notFound()
            }
        }
        metrics.served(status: Int(response.status.code))
        // A 400 quotes its input as text: no browser is to guess it is anything else.
        var answered = response
        answered.headers[.xContentTypeOptions] = "nosniff"
        return answered
    }
}

/// The pages last made, by what they were made of (at most 64).
final class PageCache: @unchecked Sendable {
    struct Page: Sendable {
        let bytes: [UInt8]
        let type: String
        /// Strong: a digest of these bytes.
        let tag: String
        /// When it was made (whole seconds): its Last-Modified.
        let modified: Date
    }

    private let lock = NSLock()
    private var pages: [String: Page] = [:]
    /// The last version of each URL's page: a page made again with the same bytes keeps its Last-Modified,
    /// and one with other bytes gets a later one, even within the same second.
    private var versions: [String: (tag: String, modified: Date)] = [:]

    /// The Last-Modified of `url`'s page whose ETag is `tag`.
    func modified(of url: String, tag: String) -> Date {
        lock.withLock {
            let now = Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down))
            if let last = versions[url], last.tag == tag { return last.modified }
            let modified = versions[url].map { max(now, $0.modified.addingTimeInterval(1)) } ?? now
            if versions.count >= 1024 { versions.removeAll() }
            versions[url] = (tag, modified)
            return modified
        }
    }

    subscript(key: String) -> Page? {
        get { lock.withLock { pages[key] } }
        set {
            lock.withLock {
                if pages.count >= 64 { pages.removeAll() }
                pages[key] = newValue
            }
        }
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
