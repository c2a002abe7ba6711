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
/// crash rewrites the feeds of every later decision — or, where the note is missing, compares every feed
/// with the ledger and rewrites those that differ (see `defersWrites`).
public final class FeedWriter: @unchecked Sendable {
    public let settings: FeedSettings
    private let spool: SpoolDirectory
    private let ledger: any Ledger
    /// The clock of the horizon and of cancelled-meeting retention.
    public var now: () -> Date = { Date() }
    /// Digest of each feed file as last written or read, and the event counts for the index.
    private var digests: [FeedKeyText: UInt64] = [:]
    private var counts: [FeedKeyText: Int] = [:]
    /// Each feed key's feed, made once: naming a feed's file walks its name character by character.
    private var feedsByKey: [FeedKeyText: FeedKey] = [:]
    /// Every feed ever published (the index lists them, empty ones too); read from the ledger once.
    private var knownKeys: Set<FeedKeyText>?
    /// The known feeds in the index's order, kept between passes: a busy daemon lists thousands of feeds, and
    /// naming and sorting them all again for every index written was a sixth of its feed pass.
    private var indexOrder = IndexOrder()
    private var indexDigest: UInt64?
    private var indexEntries: [FeedKeyText: IndexEntry] = [:]
    /// Marked by the deciding thread, taken by the one that flushes (the daemon's FeedPublisher).
    private let dirtyLock = NSLock()
    private var dirty = Set<FeedKeyText>()
    private var dirtyThrough: Int64 = 0
    /// A shared ledger: the last decision number whose feeds were marked, other nodes' decisions included
    /// (`followOtherNodes()`); what `feeds/.meetingd-feeds-through` records then, since this node's own
    /// decisions are numbered among the others'. nil until `recover()` has read the ledger.
    private var caughtUpThrough: Int64?
    private var nextCatchUp = Date.distantPast
    /// How often a shared ledger's feeds catch up even without an announcement (one lost with its connection).
    public var catchUpInterval: TimeInterval = 30
    /// `recover()` could not read the ledger (a database not up yet): `flush()` tries again first.
    private var recoveryPending = false

    /// Called after each feed a pass writes: the daemon pauses there now and then, so that a long pass shares
    /// the CPU with the decisions in small pieces rather than in one burst.
    public var pacing: (() -> Void)?

    /// Called just before a pass's durability barrier (the daemon moves the pass's thread out of the background).
    public var beforeBarrier: (() -> Void)?

    /// Whether `feeds/.meetingd-feeds-through` is recorded by the pass that wrote the feeds, after a barrier of
    /// its own (true: a drain, a rebuild, the daemon's last pass), or once a barrier started after the pass has
    /// completed — in a busy daemon the next decision's, so that the pass itself syncs nothing; in a quiet one,
    /// the pass's own. A writer that `defersWrites` records it only at once.
    public var recordsThroughAtOnce = true
    /// The decision number the feeds reflect and the barrier mark taken when they were written, until recorded.
    private var unrecordedThrough: (through: Int64, mark: Int)?
    /// The decision number the feeds reflect: read from the note at `recover()`, then each pass's (the number
    /// `unrecordedThrough` holds, if any).
    private var reflectedThrough: Int64?

    /// Whether the feeds and the index stay in the page cache until a barrier or the kernel's writeback writes
    /// them (`SpoolDirectory.Writeback.deferred`) instead of being started on their way to the disk as they are
    /// written; the note is then withdrawn while the writer runs and recorded again by its last pass. For a
    /// daemon whose decisions sync their own files rather than the file system (a shared ledger's), which would
    /// otherwise make no barrier: a busy node rewrites `all.ics` and its region feeds every second, megabytes
    /// each, and a version replaced before the kernel's writeback (30 s) is never written at all (the figures, and
    /// the periodic sync tried instead, are in docs/performance-history.md). A crash
    /// can leave a deferred feed empty or cut short, so the note is removed (durably) before the first
    /// deferred write: after a crash the next start finds none and compares every feed with the ledger.
    public var defersWrites = false
    /// This writer removed the note to defer its writes: its last pass records it again.
    private var noteWithdrawn = false

    /// Whether the index links to the report and the decision browser (`pages` in the config).
    public var linksPages = true

    /// How often the index is rewritten for changed counts and new feeds (0: with every pass). The daemon lets
    /// it lag by a few seconds, since an index of thousands of feeds rewritten every second was a sixth of a
    /// busy daemon's CPU — and, listing each new feed at once, still a quarter of its feed pass when every
    /// decision brings new units. A drain's last pass, and the daemon's, write it in any case.
    public var indexInterval: TimeInterval = 0
    /// When the index was last written, on the monotonic clock (a wall clock set back must not hold it back).
    private var indexWritten: TimeInterval?
    private var indexIsDue: Bool { indexWritten.map { Self.monotonicNow >= $0 + indexInterval } ?? true }
    /// Counts changed since the index was last written. True at the start: a daemon killed while it waited
    /// left an index behind the feeds, which its first quiet pass brings up to date (unchanged bytes are not
    /// written).
    private var indexPending = true
    /// Whether `counts` holds the counts of a pass of this process.
    private var countsKnown = false
    private static var monotonicNow: TimeInterval { ProcessInfo.processInfo.systemUptime }

    public init(spool: SpoolDirectory, ledger: any Ledger, settings: FeedSettings) {
        self.spool = spool
        self.ledger = ledger
        self.settings = settings
    }

    /// The events shown at the last pass; nil until the first pass reads them all.
    private var eventSet: FeedEventSet?
    /// Feeds that changed without a decision marking them (`shownEvents`), until a pass has written them.
    private var unwrittenFeeds = Set<FeedKeyText>()
    /// When `update` last ran (monotonic clock), and how often a quiet writer looks for events time took out.
    private var lastPass: TimeInterval?
    public var expiryInterval: TimeInterval = 60

    /// The events feeds show now, in feed order: the last pass's brought up to date with the meetings decided
    /// since, or all of them read anew at the first pass (and after a rebuild, or a clock set back); with the
    /// feeds that changed although no decision marked them (events that time took out, or that a full read
    /// found different). Called inside `update`'s snapshot, so events and decisions are of one moment.
    private func shownEvents() throws -> (events: [FeedEvent], unmarkedFeeds: Set<FeedKeyText>) {
        let (visibleAfter, cancelledAfter) = cutoffs
        var unmarked = Set<FeedKeyText>()
        if let set = eventSet, set.canMove(toVisibleAfter: visibleAfter, cancelledAfter: cancelledAfter) {
            let (next, expired) = set.applying(try ledger.feedEvents(changedAfter: set.through), visibleAfter: visibleAfter,
                                               cancelledAfter: cancelledAfter)
            eventSet = next
            unmarked = expired
        } else {
            let next = FeedEventSet(try ledger.feedEvents(visibleAfter: visibleAfter, cancelledAfter: cancelledAfter),
                                    visibleAfter: visibleAfter, cancelledAfter: cancelledAfter)
            if let previous = eventSet { unmarked = next.feedsDiffering(from: previous) }
            eventSet = next
        }
        return (eventSet!.events, unmarked)
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
            let (events, unmarkedFeeds) = try shownEvents()
            lastPass = Self.monotonicNow
            // Kept until written: the event set has moved on, so a pass that fails would not find them again.
            unwrittenFeeds.formUnion(unmarkedFeeds)
            let keys = Set(keys.map(FeedKeyText.init)).union(unwrittenFeeds).sorted()
            if knownKeys == nil { knownKeys = Set(try ledger.feedKeys().map(FeedKeyText.init)) }
            // A feed this ledger never had has no file yet: nothing to compare with (one lookup less each).
            let unpublished = Set(keys).subtracting(knownKeys!)
            if !unpublished.isEmpty {
                knownKeys!.formUnion(unpublished)
                indexPending = true
            }
            let writesIndex = indexInterval == 0 || indexIsDue
            // The events of each feed to write, and every feed's count when the index is written: keys are
            // looked up by their bytes (`FeedKeyText`), since a pass looks up every key of every event shown.
            // `keys` are sorted and distinct: a key's slot is its place among them.
            let slots = Dictionary(uniqueKeysWithValues: keys.enumerated().map { ($1, $0) })
            var members = [[Int]](repeating: [], count: keys.count)
            var counts: [FeedKeyText: Int] = [:]
            for (index, event) in events.enumerated() {
                for key in event.feedKeys {
                    let text = FeedKeyText(key)
                    if writesIndex { counts[text, default: 0] += 1 }
                    if let slot = slots[text] { members[slot].append(index) }
                }
            }
            // Counts not made now are behind: a quiet pass that writes the index makes them first.
            if writesIndex { self.counts = counts }
            countsKnown = writesIndex
            var changed = 0
            let folders = FolderHandles()
            defer { folders.closeAll() }
            for (slot, key) in keys.enumerated() {
                guard let feed = feed(key) else { continue }
                if try write(feed, events: members[slot].map { events[$0] }, mayExist: !unpublished.contains(key), folders: folders) {
                    changed += 1
                }
                pacing?()
            }
            if writesIndex {
                if try writeIndexNow() { changed += 1 }
            } else {
                indexPending = true
            }
            unwrittenFeeds.removeAll()
            return changed
        }
    }

    /// The feed of a key the ledger stores (nil for one this meetingd does not know), made once per key.
    private func feed(_ key: FeedKeyText) -> FeedKey? {
        if let known = feedsByKey[key] { return known }
        guard let feed = FeedKey(key: key.text) else { return nil }
        feedsByKey[key] = feed
        return feed
    }

    /// Whether the index waits for counts that changed (`indexInterval`): a pass with nothing dirty writes it then.
    public var indexIsBehind: Bool { indexPending }

    /// Notes that decision `sequenceNumber` changed the feeds `keys`; `flush()` writes them.
    public func markDirty(_ keys: [String], through sequenceNumber: Int64) {
        // Made outside the lock, which the deciding thread takes after every decision.
        let marked = keys.map(FeedKeyText.init)
        dirtyLock.withLock {
            dirty.formUnion(marked)
            dirtyThrough = max(dirtyThrough, sequenceNumber)
        }
    }

    /// Rewrites every dirty feed and records the decision they now reflect; returns the files changed.
    @discardableResult
    public func flush() throws -> Int {
        let changed = try pass()
        if defersWrites && recordsThroughAtOnce { try recordNoteAfterDeferredWrites() }
        return changed
    }

    private func pass() throws -> Int {
        if recoveryPending {
            try recover()
            recoveryPending = false
        }
        // Taken whole under the lock and sorted outside it (the pass may run in the background).
        let (taken, marked) = dirtyLock.withLock { () -> (Set<FeedKeyText>, Int64) in
            defer {
                dirty = []
                dirtyThrough = 0
            }
            return (dirty, dirtyThrough)
        }
        let keys = taken.sorted().map(\.text)
        try recordThrough(syncingIfNeeded: marked == 0)
        guard marked > 0 else {
            // Nothing decided since: at most once a minute, the feeds of events that time took out (past the
            // horizon, a cancellation past its retention), which no decision marks.
            if eventSet != nil, let last = lastPass, !unwrittenFeeds.isEmpty || Self.monotonicNow >= last + expiryInterval {
                return try update([])
            }
            // The index's counts, if they wait, once their interval has passed — from the counts of the last pass,
            // without reading the events again (the first pass of a process reads them).
            guard indexPending, indexInterval == 0 || indexIsDue else { return 0 }
            if !countsKnown { return try update([]) }
            return try writeIndexNow() ? 1 : 0
        }
        // A shared ledger numbers this node's decisions among the others': the feeds reflect every decision up
        // to the last catch-up, not up to this node's last.
        let through = ledger.isShared ? (caughtUpThrough ?? 0) : marked
        do {
            let changed = try update(keys)
            if through > 0 {
                unrecordedThrough = (through, spool.barrierMark())
                reflectedThrough = through
            }
            try recordThrough(syncingIfNeeded: recordsThroughAtOnce)
            return changed
        } catch {
            markDirty(keys, through: marked)  // tried again at the next flush
            throw error
        }
    }

    /// Records the decision the feeds reflect once they are on disk: the note never says more than the disk
    /// holds (a crash before it only makes the next start rewrite those feeds again). Syncs itself only when
    /// `syncingIfNeeded` and no barrier started after the feeds were written has completed. A pass in the
    /// background leaves it first: the barrier holds the file system's sync lock, which every decision's
    /// barrier waits for.
    /// A writer that `defersWrites` records it only in its last pass (`recordNoteAfterDeferredWrites`).
    private func recordThrough(syncingIfNeeded: Bool) throws {
        guard !defersWrites, let (through, mark) = unrecordedThrough else { return }
        if !spool.hasBarrier(since: mark) {
            guard syncingIfNeeded else { return }
            beforeBarrier?()
            try spool.barrier()
        }
        try writeNote(through)
    }

    /// The last pass of a writer that `defersWrites`, after its writes: a barrier of its own, started now, so
    /// that it covers everything the writer left in the page cache — feeds rewritten because time took events
    /// out, and the index, included — then the note.
    private func recordNoteAfterDeferredWrites() throws {
        guard noteWithdrawn || unrecordedThrough != nil, let through = reflectedThrough else { return }
        beforeBarrier?()
        try spool.barrier()
        try writeNote(through)
        noteWithdrawn = false
    }

    private func writeNote(_ through: Int64) throws {
        try spool.writeAtomically(SpoolNames.feedsThrough, Array("\(through)\n".utf8), durable: false)
        unrecordedThrough = nil
    }

    /// Before a deferred write: removes the note, durably, so that a crash from here on makes the next start
    /// compare every feed with the ledger (`defersWrites`).
    private func withdrawNote() throws {
        guard !noteWithdrawn else { return }
        try spool.removeDurably(SpoolNames.feedsThrough)
        noteWithdrawn = true
    }

    /// After a crash between a decision and its flush: marks the feeds of every decision the feeds do not reflect.
    /// Without a note (a new spool, or a writer that deferred its writes stopped before its last pass), every
    /// feed: a pass then rewrites those whose bytes differ from the file, an empty or cut one included.
    public func recover() throws {
        let recorded = spool.readSpoolFile(SpoolNames.feedsThrough).flatMap { Int64(String(decoding: $0, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) }
        reflectedThrough = recorded
        var (keys, through) = try ledger.feedsTouched(after: recorded ?? .max)
        // Without a note, every feed: the feed table names them all, where reading every decision would scan
        // the whole ledger. Read after the last decision number, so that they include that decision's feeds.
        if recorded == nil { keys = try ledger.feedKeys() }
        if recorded == nil || !keys.isEmpty { markDirty(keys, through: max(through, 1)) }
        caughtUpThrough = through
    }

    /// `recover()` at start-up, or at the first `flush()` when the ledger cannot be read yet (a shared
    /// ledger's database still down): the daemon starts and waits for it rather than fail.
    public func recoverWhenReadable() throws {
        do {
            try recover()
        } catch where Failure.isTransient(error) {
            recoveryPending = true
        }
    }

    /// In a shared ledger: marks the feeds of decisions other nodes recorded, when one was announced
    /// (PostgreSQL's NOTIFY) and at least every `catchUpInterval` seconds regardless. It reads only the
    /// decisions numbered after the last one seen (one index range), never the whole table.
    public func followOtherNodes() throws {
        guard ledger.isShared, !recoveryPending else { return }
        let announced = ledger.takeNewsOfOtherNodes()
        guard announced || Date() >= nextCatchUp, let after = caughtUpThrough else { return }
        let (keys, through) = try ledger.feedsTouched(after: after)
        nextCatchUp = Date().addingTimeInterval(catchUpInterval)
        if through > after { markDirty(keys, through: through) }
        caughtUpThrough = through
    }

    /// Regenerates every feed from the ledger (`meetingd feeds rebuild`).
    @discardableResult
    public func rebuild() throws -> Int {
        eventSet = nil
        knownKeys = Set(try ledger.feedKeys().map(FeedKeyText.init))
        indexOrder = IndexOrder()
        return try update(knownKeys!.sorted().map(\.text))
    }

    private func write(_ feed: FeedKey, events: [FeedEvent], mayExist: Bool, folders: FolderHandles) throws -> Bool {
        var zones: [String: Date] = [:]
        for event in events { zones[event.timeZone] = min(zones[event.timeZone] ?? event.start, event.start) }
        let document = CalendarDocument(events: [], name: feed.displayName, refreshInterval: settings.refreshSeconds, methodPublish: true)
        let bytes = try ICalendarWriter.assemble(document, zones: zones, events: events.map(\.vevent))
        return try writeIfChanged("feeds/" + feed.path, bytes, mayExist: mayExist, folders: folders)
    }

    /// Writes `bytes` unless the file already holds them; `mayExist` false skips looking for a file written
    /// by an earlier process (at worst, identical bytes are written again).
    private func writeIfChanged(_ path: String, _ bytes: [UInt8], mayExist: Bool = true, folders: FolderHandles? = nil) throws -> Bool {
        let digest = Digest.content(bytes)
        let key = FeedKeyText(path)
        if digests[key] == nil, mayExist, let existing = spool.readFeed(String(path.dropFirst("feeds/".count)))?.bytes {
            digests[key] = Digest.content(existing)
        }
        guard digests[key] != digest else { return false }
        // A pass's feeds are started on their way to the disk by its thread (in the daemon, in the background):
        // the next barrier, which waits for everything written, finds them on disk or under way. Or deferred.
        let writeback: SpoolDirectory.Writeback = defersWrites ? .deferred : folders != nil ? .startedNow : .withBarrier
        if defersWrites { try withdrawNote() }
        try spool.writeAtomically(path, bytes, durable: false, keepingFoldersIn: folders, writeback: writeback)
        digests[key] = digest
        return true
    }

    private func writeIndexNow() throws -> Bool {
        let changed = try writeIndex()
        indexWritten = Self.monotonicNow
        indexPending = false
        return changed
    }

    /// `feeds/index.json` and `feeds/index.html`: every feed with its URL, name and event count.
    private func writeIndex() throws -> Bool {
        let entries = indexOrder.including(knownKeys ?? [], feed: feed).map(indexEntry)
        let json = Array(("{\"feeds\":[" + entries.map(\.json).joined(separator: ",") + "]}\n").utf8)
        let digest = Digest.content(json)
        guard digest != indexDigest else { return false }
        let html = PageFrame.document(title: "会议日历订阅 Calendar feeds", body: [
            .el("h1", [], "会议日历订阅 / Calendar feeds"),
            .el("div", [("class", "table")], [.el("table", [], [
                .el("thead", [], [.el("tr", [], [.el("th", [], "日历 Calendar"), .el("th", [], "会议数 Events"), .el("th", [], "订阅地址 URL")])]),
                .el("tbody", [], entries.map { .rendered($0.row) }),
            ])]),
        ], linksPages: linksPages)
        let jsonChanged = try writeIfChanged("feeds/index.json", json)
        let htmlChanged = try writeIfChanged("feeds/index.html", Array(html.utf8))
        indexDigest = digest
        return jsonChanged || htmlChanged
    }

    /// A feed's entry in the index, as JSON and as a table row: kept, and made again only when its count
    /// changes, since an index lists thousands of feeds and a busy daemon rewrites it every few seconds.
    private func indexEntry(_ feed: (key: FeedKeyText, feed: FeedKey)) -> IndexEntry {
        let (key, feed) = feed
        let count = counts[key] ?? 0
        if let kept = indexEntries[key], kept.count == count { return kept }
        let url = Self.url(feed.path)
        let json = JSONValue.object([("path", .string(feed.path)), ("url", .string(url)), ("name", .string(feed.displayName)),
                                     ("kind", .string(feed.kind.rawValue)), ("key", .string(feed.key)), ("events", .integer(count))])
        let link: [(name: StaticString, value: String)] = [("href", url)]
        let row = HTML.el("tr", [], [.el("td", [], feed.displayName), .el("td", [("class", "num")], "\(count)"),
                                     .el("td", [], [.el("a", link, url)])])
        let entry = IndexEntry(count: count, json: json.serialized, row: row.rendered())
        indexEntries[key] = entry
        return entry
    }

    /// Feeds sorted by path, grown by the known keys not yet in it (known keys only grow, but for a rebuild,
    /// which reads them anew and starts the order again).
    private struct IndexOrder {
        private var keys = Set<FeedKeyText>()
        private var feeds: [(key: FeedKeyText, feed: FeedKey)] = []

        mutating func including(_ known: Set<FeedKeyText>, feed: (FeedKeyText) -> FeedKey?) -> [(key: FeedKeyText, feed: FeedKey)] {
            guard known.count != keys.count else { return feeds }
            let added = known.subtracting(keys)
            keys.formUnion(added)
            // The known feeds are one sorted run and the new ones few: the standard sort, which merges runs,
            // does little more than put them in their places.
            feeds = (feeds + added.compactMap { key in feed(key).map { (key, $0) } }).sorted { $0.feed < $1.feed }
            return feeds
        }
    }

    private struct IndexEntry {
        var count: Int
        var json: String
        var row: RenderedHTML
    }

    /// `/region/%E6%B5%99….ics`: the path with every segment percent-encoded.
    static func url(_ path: String) -> String {
        "/" + path.percentEncoded(alsoKeeping: [UInt8(ascii: "/")])
    }

}

/// A feed key (or a feed's path) compared by its bytes, as the ledger and the file system compare it. A String's
/// hash and equality first bring non-ASCII text to a normal form, scalar by scalar: slow for a feed pass, which
/// looks up every key of every event shown (tens of thousands of Chinese names a second in a busy daemon). Names
/// are read in NFC (`RequestParser`), so two keys equal as Strings are equal as bytes too.
struct FeedKeyText: Hashable, Comparable {
    let text: String

    init(_ text: String) { self.text = text }

    static func == (lhs: FeedKeyText, rhs: FeedKeyText) -> Bool { compare(lhs, rhs) == 0 }

    func hash(into hasher: inout Hasher) {
        var text = text
        text.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
    }

    static func < (lhs: FeedKeyText, rhs: FeedKeyText) -> Bool { compare(lhs, rhs) < 0 }

    /// Negative, zero or positive as `lhs`'s bytes come before, equal or after `rhs`'s (a shorter prefix first).
    private static func compare(_ lhs: FeedKeyText, _ rhs: FeedKeyText) -> Int {
        var left = lhs.text, right = rhs.text
        return left.withUTF8 { left in
            right.withUTF8 { right in
                let common = min(left.count, right.count)
                let order = common == 0 ? 0 : Int(memcmp(left.baseAddress!, right.baseAddress!, common))
                return order != 0 ? order : left.count - right.count
            }
        }
    }
}
