import Foundation
import MeetingCalendar
import MeetingConfig
import MeetingLedger
import MeetingModel
import MeetingRules

/// Writes the feeds under `feeds/` from the ledger. A decision rewrites only the feeds that contain its
/// meeting; a feed whose bytes would not change is not written at all, so its ETag and Last-Modified stay.
/// Feeds are assembled from the VEVENTs the ledger keeps, so a rewrite costs one pass over the feed, not a
/// re-rendering of every event.
///
/// Decisions mark feeds dirty and `flush()` rewrites them once per burst (after a drain, after each batch
/// of the daemon), so a burst of N decisions costs one pass per touched feed, not N. Feeds are derived from
/// the ledger: `feeds/.meetingd-feeds-through` records the last decision they reflect, and a start after a
/// crash rewrites the feeds of every later decision.
public final class FeedWriter: @unchecked Sendable {
    public let settings: FeedSettings
    private let spool: SpoolDirectory
    private let ledger: any Ledger
    /// The clock of the horizon and of cancelled-meeting retention.
    public var now: () -> Date = { Date() }
    /// Digest of each feed file as last written or read, and the event counts for the index.
    private var digests: [String: UInt64] = [:]
    private var counts: [String: Int] = [:]
    /// Every feed ever published (the index lists them, empty ones too); read from the ledger once.
    private var knownKeys: Set<String>?
    private var indexDigest: UInt64?
    /// Marked by the deciding thread, taken by the one that flushes (the daemon's FeedPublisher).
    private let dirtyLock = NSLock()
    private var dirty = Set<String>()
    private var dirtyThrough: Int64 = 0

    public init(spool: SpoolDirectory, ledger: any Ledger, settings: FeedSettings) {
        self.spool = spool
        self.ledger = ledger
        self.settings = settings
    }

    private var cutoffs: (visibleAfter: Date, cancelledAfter: Date) {
        let now = now()
        return (now.addingTimeInterval(-Double(settings.horizonDays) * 86_400), now.addingTimeInterval(-Double(settings.cancelledDays) * 86_400))
    }

    /// Rewrites the feeds named by `keys` (ledger feed keys) and the index; returns how many files changed.
    /// One scan of the events shown feeds all of them: `all.ics` holds every event anyway.
    @discardableResult
    public func update(_ keys: [String]) throws -> Int {
        try ledger.snapshot {
            let events = try ledger.feedEvents(visibleAfter: cutoffs.visibleAfter, cancelledAfter: cutoffs.cancelledAfter)
            if knownKeys == nil { knownKeys = Set(try ledger.feedKeys()) }
            knownKeys!.formUnion(keys)
            let wanted = Set(keys)
            var counts: [String: Int] = [:]
            var members: [String: [Int]] = [:]
            for (index, event) in events.enumerated() {
                for key in event.feedKeys {
                    counts[key, default: 0] += 1
                    if wanted.contains(key) { members[key, default: []].append(index) }
                }
            }
            self.counts = counts
            var changed = 0
            for key in keys {
                guard let feed = FeedKey(key: key) else { continue }
                if try write(feed, events: (members[key] ?? []).map { events[$0] }) { changed += 1 }
            }
            if try writeIndex() { changed += 1 }
            return changed
        }
    }

    /// Notes that decision `sequenceNumber` changed the feeds `keys`; `flush()` writes them.
    public func markDirty(_ keys: [String], through sequenceNumber: Int64) {
        dirtyLock.withLock {
            dirty.formUnion(keys)
            dirtyThrough = max(dirtyThrough, sequenceNumber)
        }
    }

    /// Rewrites every dirty feed and records the decision they now reflect; returns the files changed.
    @discardableResult
    public func flush() throws -> Int {
        let (keys, through) = dirtyLock.withLock { () -> ([String], Int64) in
            defer {
                dirty.removeAll()
                dirtyThrough = 0
            }
            return (dirty.sorted(), dirtyThrough)
        }
        guard through > 0 else { return 0 }
        do {
            let changed = try update(keys)
            // The feeds reach the disk before the note that says they are current; a crash in between only
            // makes the next start rewrite them again.
            try spool.barrier()
            try spool.writeAtomically(SpoolNames.feedsThrough, Array("\(through)\n".utf8), durable: false)
            return changed
        } catch {
            markDirty(keys, through: through)  // tried again at the next flush
            throw error
        }
    }

    /// After a crash between a decision and its flush: marks the feeds of every decision the feeds do not reflect.
    public func recover() throws {
        let recorded = spool.readSpoolFile(SpoolNames.feedsThrough).flatMap { Int64(String(decoding: $0, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) }
        let (keys, through) = try ledger.feedsTouched(after: recorded ?? 0)
        if recorded == nil || !keys.isEmpty { markDirty(keys, through: max(through, 1)) }
    }

    /// Regenerates every feed from the ledger (`meetingd feeds rebuild`).
    @discardableResult
    public func rebuild() throws -> Int {
        knownKeys = Set(try ledger.feedKeys())
        return try update(knownKeys!.sorted())
    }

    private func write(_ feed: FeedKey, events: [FeedEvent]) throws -> Bool {
        var zones: [String: Date] = [:]
        for event in events { zones[event.timeZone] = min(zones[event.timeZone] ?? event.start, event.start) }
        let document = CalendarDocument(events: [], name: feed.displayName, refreshInterval: settings.refreshSeconds, methodPublish: true)
        let bytes = try ICalendarWriter.assemble(document, zones: zones, events: events.map(\.vevent))
        return try writeIfChanged("feeds/" + feed.path, bytes)
    }

    private func writeIfChanged(_ path: String, _ bytes: [UInt8]) throws -> Bool {
        let digest = Digest.content(bytes)
        if digests[path] == nil, let existing = spool.readFeed(String(path.dropFirst("feeds/".count)))?.bytes {
            digests[path] = Digest.content(existing)
        }
        guard digests[path] != digest else { return false }
        try spool.writeAtomically(path, bytes, durable: false)
        digests[path] = digest
        return true
    }

    /// `feeds/index.json` and `feeds/index.html`: every feed with its URL, name and event count.
    private func writeIndex() throws -> Bool {
        let feeds = (knownKeys ?? []).compactMap(FeedKey.init(key:)).sorted()
        let entries: [JSONValue] = feeds.map { feed in
            .object([("path", .string(feed.path)), ("url", .string(Self.url(feed.path))), ("name", .string(feed.displayName)),
                     ("kind", .string(feed.kind.rawValue)), ("key", .string(feed.key)), ("events", .integer(counts[feed.key] ?? 0))])
        }
        let json = Array((JSONValue.object([("feeds", .array(entries))]).serialized + "\n").utf8)
        let digest = Digest.content(json)
        guard digest != indexDigest else { return false }
        var html = ["<!doctype html>", "<html lang=\"zh\"><head><meta charset=\"utf-8\"><title>meetingd 会议日历订阅</title></head><body>",
                    "<h1>会议日历订阅 / Calendar feeds</h1>", "<table>", "<tr><th>日历 Calendar</th><th>会议数 Events</th><th>订阅地址 URL</th></tr>"]
        for feed in feeds {
            let url = Self.url(feed.path)
            html.append("<tr><td>\(HTML.escape(feed.displayName))</td><td>\(counts[feed.key] ?? 0)</td><td><a href=\"\(url)\">\(HTML.escape(url))</a></td></tr>")
        }
        html += ["</table>", "</body></html>"]
        let jsonChanged = try writeIfChanged("feeds/index.json", json)
        let htmlChanged = try writeIfChanged("feeds/index.html", Array((html.joined(separator: "\n") + "\n").utf8))
        indexDigest = digest
        return jsonChanged || htmlChanged
    }

    /// `/region/%E6%B5%99….ics`: the path with every segment percent-encoded.
    static func url(_ path: String) -> String {
        "/" + path.percentEncoded(alsoKeeping: [UInt8(ascii: "/")])
    }

}
