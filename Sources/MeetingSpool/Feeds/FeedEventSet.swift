import Foundation
import MeetingLedger

/// The events feeds show, in feed order, kept by the feed writer from one pass to the next: a pass reads
/// from the ledger only the meetings decided since the last one (`Ledger.feedEvents(changedAfter:)`), not
/// every event again. Reading every event each second was, with three daemons on one database, a tenth of a
/// daemon's CPU and most of what its feed connection cost the server.
struct FeedEventSet {
    /// Shown events, in feed order.
    private(set) var events: [FeedEvent]
    /// The last decision the events reflect.
    private(set) var through: Int64
    /// The cut-offs the events were last filtered with: a clock set back shows events again that were
    /// dropped, which only a full read brings back.
    private(set) var visibleAfter: Date
    private(set) var cancelledAfter: Date

    /// From a full read of the shown events.
    init(_ batch: FeedEventBatch, visibleAfter: Date, cancelledAfter: Date) {
        events = batch.events.sorted(by: FeedEvent.inFeedOrder)
        through = batch.through
        self.visibleAfter = visibleAfter
        self.cancelledAfter = cancelledAfter
    }

    /// Whether `applying` can bring the set to these cut-offs (they did not move back).
    func canMove(toVisibleAfter visibleAfter: Date, cancelledAfter: Date) -> Bool {
        visibleAfter >= self.visibleAfter && cancelledAfter >= self.cancelledAfter
    }

    /// The set after the meetings in `changes` (read after `through`) took their new state and the events
    /// the cut-offs now hide left, with the feeds of those that left by time alone (no decision marked them):
    /// one pass over the set and a merge, whatever the number of changes.
    func applying(_ changes: FeedEventBatch, visibleAfter: Date, cancelledAfter: Date) -> (set: FeedEventSet, expiredFeeds: Set<FeedKeyText>) {
        var next = self
        let changedIDs = Set(changes.events.map(\.id))
        var expiredFeeds = Set<FeedKeyText>()
        let kept = events.filter { event in
            if changedIDs.contains(event.id) { return false }
            if event.isShown(visibleAfter: visibleAfter, cancelledAfter: cancelledAfter) { return true }
            expiredFeeds.formUnion(event.feedKeys.map(FeedKeyText.init))
            return false
        }
        let added = changes.events.filter { $0.isShown(visibleAfter: visibleAfter, cancelledAfter: cancelledAfter) }
            .sorted(by: FeedEvent.inFeedOrder)
        next.events = Self.merge(kept, added)
        next.through = max(through, changes.through)
        next.visibleAfter = visibleAfter
        next.cancelledAfter = cancelledAfter
        return (next, expiredFeeds)
    }

    /// The feeds of every event shown differently here and in `other` (in one only, or changed): after a full
    /// read replaced a set, those feeds are rewritten even though no decision marked them.
    func feedsDiffering(from other: FeedEventSet) -> Set<FeedKeyText> {
        var feeds = Set<FeedKeyText>()
        let mine = Dictionary(events.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        let theirs = Dictionary(other.events.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        for (id, event) in mine where theirs[id] != event { feeds.formUnion(event.feedKeys.map(FeedKeyText.init)) }
        for (id, event) in theirs where mine[id] != event { feeds.formUnion(event.feedKeys.map(FeedKeyText.init)) }
        return feeds
    }

    private static func merge(_ left: [FeedEvent], _ right: [FeedEvent]) -> [FeedEvent] {
        guard !right.isEmpty else { return left }
        var merged: [FeedEvent] = []
        merged.reserveCapacity(left.count + right.count)
        var l = 0, r = 0
        while l < left.count, r < right.count {
            if FeedEvent.inFeedOrder(right[r], left[l]) {
                merged.append(right[r]); r += 1
            } else {
                merged.append(left[l]); l += 1
            }
        }
        merged.append(contentsOf: left[l...])
        merged.append(contentsOf: right[r...])
        return merged
    }
}
