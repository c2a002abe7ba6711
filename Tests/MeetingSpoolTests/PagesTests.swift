import Foundation
import Hummingbird
import HummingbirdTesting
import MeetingDaemon
import MeetingLedger
import MeetingModel
import MeetingReport
import MeetingRules
import MeetingSpool
import XCTest

/// The report and decision browser routes, in process through Hummingbird's router (HummingbirdTesting), on a
/// spool built by real drains: every route, filters, pagination, 400s, 404s, path tricks and ETag/304.
final class PagesTests: XCTestCase {
    static let zone = TimeZone(identifier: "Asia/Shanghai")!
    static let hostileTitle = "<script>alert(\"x\")</script> 'q' \u{200F}rtl &amp;"

    /// The report's year, 40 more business meetings (more than one page of decisions) and a hostile title.
    private func drained() throws -> (TestSpool, DecisionPipeline) {
        let spool = try TestSpool()
        for (name, json) in ReportTests.requests { try spool.drop(name, json: json) }
        for index in 0..<40 {
            try spool.drop(String(format: "b%02d.json", index), json: ReportTests.request(
                "b-\(index)", day: "2025-10-\(10 + index % 15)", unit: "杭州市单位\(index % 4)", system: "系统\(index)"))
        }
        try spool.drop("h.json", json: ReportTests.request("hostile", day: "2025-11-03", unit: "杭州市单位0", title: Self.hostileTitle))
        let pipeline = try spool.pipeline()
        XCTAssertEqual(try pipeline.drain().count, 19 + 41)
        return (spool, pipeline)
    }

    private func application(_ spool: TestSpool, _ ledger: any Ledger, pages: Bool = true) throws -> some ApplicationProtocol {
        let source = PageSource(ledger: ledger, settings: { RuleSettingsSet() }, timeZone: Self.zone)
        let server = FeedServer(spool: try SpoolDirectory(root: spool.root.path), metrics: DaemonMetrics(), pages: pages ? source : nil)
        return Application(router: server.router())
    }

    private static func text(_ response: TestResponse) -> String { String(buffer: response.body) }

    private static func json(_ response: TestResponse) throws -> JSONValue { try JSONReader.parse(Array(text(response).utf8)) }

    /// A calendar cut short or emptied — what a crash can leave of a feed whose writes a shared ledger's daemon
    /// deferred — is answered 503 with Retry-After until it is whole again, not served as an empty calendar.
    func test_aFeedThatIsNotWhole_isNotServed_untilItIsWholeAgain() async throws {
        let spool = try TestSpool()
        try spool.drop("a.json", json: requestJSON(id: "a"))
        let pipeline = try spool.pipeline()
        XCTAssertEqual(try pipeline.drain().count, 1)
        let whole = try Data(contentsOf: spool.url("feeds/all.ics"))
        try await application(spool, pipeline.ledger, pages: false).test(.router) { client in
            let first = try await client.execute(uri: "/all.ics", method: .get)
            XCTAssertEqual(first.status, .ok, "whole, and its tag remembered")
            try whole.prefix(whole.count / 2).write(to: spool.url("feeds/all.ics"))
            let cut = try await client.execute(uri: "/all.ics", method: .get)
            XCTAssertEqual(cut.status, .serviceUnavailable)
            XCTAssertEqual(cut.headers[.retryAfter], "5")
            let cutHead = try await client.execute(uri: "/all.ics", method: .head)
            XCTAssertEqual(cutHead.status, .serviceUnavailable)
            var holed = whole
            holed.replaceSubrange(whole.count / 4..<whole.count / 2, with: Data(count: whole.count / 2 - whole.count / 4))
            try holed.write(to: spool.url("feeds/all.ics"))
            let zeros = try await client.execute(uri: "/all.ics", method: .get)
            XCTAssertEqual(zeros.status, .serviceUnavailable, "a block that reads as zeros")
            let index = try Data(contentsOf: spool.url("feeds/index.json"))
            try index.prefix(index.count - 5).write(to: spool.url("feeds/index.json"))
            let cutIndex = try await client.execute(uri: "/index.json", method: .get)
            XCTAssertEqual(cutIndex.status, .serviceUnavailable)
            try Data().write(to: spool.url("feeds/all.ics"))
            let emptied = try await client.execute(uri: "/all.ics", method: .get)
            XCTAssertEqual(emptied.status, .serviceUnavailable)
            try whole.write(to: spool.url("feeds/all.ics"))
            let mended = try await client.execute(uri: "/all.ics", method: .get)
            XCTAssertEqual(mended.status, .ok)
            XCTAssertEqual(Array(mended.body.readableBytesView), Array(whole))
        }
    }

    func test_everyRoute_withFiltersPagesAndConditionalRequests() async throws {
        let (spool, pipeline) = try drained()
        let expected = try ReportBuilder(settings: RuleSettingsSet(), timeZone: Self.zone).build(ledger: pipeline.ledger, year: 2025, region: nil)
        let recorded = try pipeline.ledger.select("SELECT seq FROM decision ORDER BY seq DESC", []).map { cells -> Int in
            if case let .integer(seq) = cells[0] { return Int(seq) } else { return -1 }
        }
        try await application(spool, pipeline.ledger).test(.router) { client in
            // The JSON report is the command's, generated time aside.
            let report = try await client.execute(uri: "/report.json?year=2025", method: .get)
            XCTAssertEqual(report.status, .ok)
            XCTAssertEqual(report.headers[.contentType], "application/json; charset=utf-8")
            func withoutGenerated(_ value: JSONValue) -> JSONValue {
                guard case let .object(members) = value else { return value }
                return .object(members.filter { $0.key != "generated" })
            }
            XCTAssertEqual(withoutGenerated(try Self.json(report)), withoutGenerated(expected.json))

            // The HTML report: every chart, the links, and a strong ETag from its bytes that a revalidation matches.
            let page = try await client.execute(uri: "/report/?year=2025&unknown=1", method: .get)
            XCTAssertEqual(page.status, .ok)
            let html = Self.text(page)
            for part in ["chart-months", "chart-calendar", "chart-township", "chart-bars", "href=\"/decisions/\"", "href=\"/\""] {
                XCTAssertTrue(html.contains(part), part)
            }
            let tag = try XCTUnwrap(page.headers[.eTag])
            XCTAssertTrue(tag.hasPrefix("\"") && !tag.hasPrefix("W/"))
            // The same page again, a second later, is the same bytes: made once for this state of the ledger.
            try await Task.sleep(nanoseconds: 1_100_000_000)
            let later = try await client.execute(uri: "/report/?year=2025&unknown=1", method: .get)
            XCTAssertEqual(later.headers[.eTag], tag)
            let again = try await client.execute(uri: "/report/?year=2025&unknown=1", method: .get, headers: [.ifNoneMatch: tag])
            XCTAssertEqual(again.status, .notModified)
            XCTAssertEqual(again.body.readableBytes, 0)
            let modified = try XCTUnwrap(page.headers[.lastModified])
            let unchanged = try await client.execute(uri: "/report/?year=2025&unknown=1", method: .get, headers: [.ifModifiedSince: modified])
            XCTAssertEqual(unchanged.status, .notModified)
            let otherTag = try await client.execute(uri: "/report/?year=2025&unknown=1", method: .get,
                                                    headers: [.ifNoneMatch: "\"other\"", .ifModifiedSince: modified])
            XCTAssertEqual(otherTag.status, .ok, "If-None-Match wins over If-Modified-Since")
            let older = try await client.execute(uri: "/report/?year=2025&unknown=1", method: .get,
                                                 headers: [.ifModifiedSince: "Sat, 01 Jan 2000 00:00:00 GMT"])
            XCTAssertEqual(older.status, .ok, "a copy from before the page was made is sent the page")
            let head = try await client.execute(uri: "/report/?year=2025", method: .head)
            XCTAssertEqual(head.status, .ok)
            XCTAssertEqual(head.body.readableBytes, 0)
            XCTAssertEqual(head.headers[.contentLength], String(page.body.readableBytes))
            let elsewhere = "/report/?year=2025&region=浙江省/宁波市".addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed)!
            let elsewhereStatus = try await client.execute(uri: elsewhere, method: .get).status
            XCTAssertEqual(elsewhereStatus, .ok)

            // Pages of 50, newest first, that together hold every decision once.
            let first = try Self.json(try await client.execute(uri: "/decisions.json", method: .get))
            let next = try XCTUnwrap(first["next"]?.stringValue)
            XCTAssertEqual(next, "/decisions.json?page=2")
            let second = try Self.json(try await client.execute(uri: next, method: .get))
            XCTAssertNil(second["next"]?.stringValue, "the last page has no next")
            let seqs = (first["decisions"]!.arrayValue! + second["decisions"]!.arrayValue!).map { $0["seq"]!.intValue! }
            XCTAssertEqual(seqs, recorded)
            XCTAssertEqual(seqs.count, 60)
            let listing = try await client.execute(uri: "/decisions/?page=2", method: .get)
            XCTAssertTrue(Self.text(listing).contains("?page=1") || Self.text(listing).contains("href=\"/decisions/?\""))

            // Filters: a unit as organizer or attendee, verdict, rule, dates, title; unknown parameters ignored.
            func ids(_ query: String) async throws -> [String] {
                let response = try await client.execute(uri: "/decisions.json?" + query, method: .get)
                XCTAssertEqual(response.status, .ok, query)
                return try Self.json(response)["decisions"]!.arrayValue!.map { $0["id"]?.stringValue ?? "" }
            }
            func encoded(_ text: String) -> String { text.addingPercentEncoding(withAllowedCharacters: .alphanumerics)! }
            let filtered: [(query: String, ids: [String], why: String)] = [
                ("unit=" + encoded("杭州市教育局"), ["promo-y", "promo-y", "promo-x", "comp-c"], "an organizer unit"),
                ("unit=" + encoded("转塘街道党工委"), ["town-5", "town-4", "town-3", "town-2", "town-1"], "an attendee unit finds the meetings that call it"),
                ("verdict=rejected", ["town-5", "site-3", "comp-e", "comp-b"], "a verdict"),
                ("rule=township-leader-load", ["town-5"], "a rule"),
                ("rule=township-leader-load&unit=" + encoded("杭州市人民政府"), ["town-5"], "a rule and a unit together"),
                ("rule=annual-comprehensive-cap&unit=" + encoded("杭州市人民政府"), [], "a rule the unit never met"),
                ("verdict=approved&from=2025-04-02&to=2025-04-03&foo=bar", ["town-3", "town-2"], "dates; an unknown parameter ignored"),
                ("q=" + encoded("<script>"), ["hostile"], "title contains"),
                ("q=" + encoded("<SCRIPT>"), ["hostile"], "title contains, ASCII case aside, on either ledger"),
                ("q=" + encoded("%"), [], "a % in q is a character, not a wildcard"),
                ("id=comp-a&verdict=approved", ["comp-a"], "an id"),
            ]
            for filter in filtered {
                let found = try await ids(filter.query)
                XCTAssertEqual(found, filter.ids, "\(filter.why): \(filter.query)")
            }

            // Bad values: 400 with one line naming the parameter.
            for (query, parameter) in [("year=abc", "year"), ("year=20255", "year"), ("region=%2F%E6%B5%99", "region"), ("verdict=maybe", "verdict"),
                                       ("rule=nope", "rule"), ("from=2025-13-01", "from"), ("to=yesterday", "to"), ("page=0", "page"),
                                       ("page=abc", "page"), ("id=..%2Fx", "id"), ("q=%ff", "query"), ("q=a%00b", "q")] {
                let path = (parameter == "year" || parameter == "region" ? "/report/?" : "/decisions/?") + query
                let response = try await client.execute(uri: path, method: .get)
                XCTAssertEqual(response.status, .badRequest, path)
                XCTAssertTrue(Self.text(response).contains(parameter + ":"), "\(path): \(Self.text(response))")
                XCTAssertEqual(Self.text(response).filter { $0 == "\n" }.count, 1, "one line")
            }

            // One request's history: the rejection note's text, the withdrawal, the calendar.
            let rejected = Self.text(try await client.execute(uri: "/decisions/comp-b", method: .get))
            XCTAssertTrue(rejected.contains("annual-comprehensive-cap") && rejected.contains("本系统本领域综合性工作会议"))
            XCTAssertTrue(rejected.contains(HTML.escape(try spool.text("rejected/comp-b.txt"))), "the spool's note, word for word")
            let withdrawn = Self.text(try await client.execute(uri: "/decisions/promo-y", method: .get))
            XCTAssertTrue(withdrawn.contains("撤回 withdrawal") && withdrawn.contains("/decisions/promo-y.ics"))
            let calendar = try await client.execute(uri: "/decisions/promo-y.ics", method: .get)
            XCTAssertEqual(calendar.headers[.contentType], "text/calendar; charset=utf-8")
            XCTAssertTrue(Self.text(calendar).contains("STATUS:CANCELLED"))
            XCTAssertEqual(Self.text(calendar), try spool.text("approved/promo-y.ics"), "the same calendar as approved/ holds")

            // Hostile values are text, never markup.
            let hostile = Self.text(try await client.execute(uri: "/decisions/hostile", method: .get))
            XCTAssertFalse(hostile.contains("<script"))
            XCTAssertTrue(hostile.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &#39;q&#39; &#x200F;rtl &amp;amp;"))
            let searched = Self.text(try await client.execute(uri: "/decisions/?q=%3C", method: .get))
            XCTAssertFalse(searched.contains("<script"))

            // 404s and path tricks.
            for path in ["/decisions/nope", "/decisions/..%2Fstate%2Fledger.sqlite", "/decisions/%2e%2e", "/decisions/a%00b", "/decisions/comp-a/x",
                         "/decisions/.hidden", "/decisions/comp-b.ics", "/report/x", "/decisions/" + String(repeating: "a", count: 129)] {
                let status = try await client.execute(uri: path, method: .get).status
                XCTAssertEqual(status, .notFound, path)
            }
            let posted = try await client.execute(uri: "/report/", method: .post)
            XCTAssertEqual(posted.status, .methodNotAllowed)
            XCTAssertEqual(posted.headers[.allow], "GET, HEAD")
            let feed = try await client.execute(uri: "/all.ics", method: .get).status
            XCTAssertEqual(feed, .ok, "feeds still served")
        }
    }

    func test_pagesTurnedOff_answer404_whileFeedsAreServed() async throws {
        let spool = try TestSpool()
        try spool.drop("a.json", json: requestJSON(id: "a", start: "2030-03-18T09:00:00+08:00", end: "2030-03-18T11:00:00+08:00"))
        let pipeline = try spool.pipeline()
        pipeline.feeds.linksPages = false
        _ = try pipeline.drain()
        try await application(spool, pipeline.ledger, pages: false).test(.router) { client in
            for path in ["/report/", "/report.json", "/decisions/", "/decisions.json", "/decisions/a"] {
                let response = try await client.execute(uri: path, method: .get)
                XCTAssertEqual(response.status, .notFound, path)
                XCTAssertTrue(Self.text(response).contains("pages: false"), path)
            }
            let feed = try await client.execute(uri: "/all.ics", method: .get).status
            XCTAssertEqual(feed, .ok)
            let index = Self.text(try await client.execute(uri: "/", method: .get))
            XCTAssertTrue(index.contains("全部会议"))
            XCTAssertFalse(index.contains("/report/"), "the index links to no page that is turned off")
        }
    }
}

extension JSONValue {
    var stringValue: String? { if case let .string(text) = self { return text } else { return nil } }
    var arrayValue: [JSONValue]? { if case let .array(items) = self { return items } else { return nil } }
    var intValue: Int? { if case let .integer(number) = self { return number } else { return nil } }
}
