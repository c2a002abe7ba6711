import Foundation
import MeetingRules
import Prometheus

/// The daemon's metrics in Prometheus text format (`GET /metrics`).
public final class DaemonMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    private let queue: Gauge
    private let latency: DurationHistogram
    private let feedWrites: Counter
    private let setAside: Counter
    private let heldBack: Gauge
    private let blocked: Gauge
    private let ledgerDown: Gauge
    private let conflicts: Gauge
    private let ledgerReason = LockedText()
    /// Why requests cannot be decided now (the ledger unreachable, a full disk), or nil: `/healthz`.
    private let blockedReason = LockedText()

    public init() {
        queue = registry.makeGauge(name: "meetingd_queue_length", help: "Requests waiting in incoming/")
        latency = registry.makeDurationHistogram(
            name: "meetingd_decision_duration_seconds",
            buckets: [.milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(20), .milliseconds(50),
                      .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(5)],
            help: "Time to decide one request: ledger, outputs, feeds, log and move")
        feedWrites = registry.makeCounter(name: "meetingd_feed_writes_total", help: "Feed files rewritten")
        setAside = registry.makeCounter(name: "meetingd_set_aside_total",
                                        help: "Requests set aside in invalid/ because a step failed for a reason retrying cannot cure")
        heldBack = registry.makeGauge(name: "meetingd_held_back", help: "Requests left in incoming/ that failed even alone, until restart")
        blocked = registry.makeGauge(name: "meetingd_deciding_blocked",
                                     help: "1 while requests wait because they cannot be decided (the ledger unreachable, a full disk); /healthz says why")
        ledgerDown = registry.makeGauge(name: "meetingd_ledger_unreachable", help: "1 while the shared ledger's database cannot be reached")
        conflicts = registry.makeGauge(name: "meetingd_ledger_conflict_retries",
                                       help: "Decisions made again since start after a deadlock between key locks or a serialization failure (SQLSTATE 40P01, 40001)")
    }

    /// Requests cannot be decided now, for `reason` (nil: they can again).
    public func blocked(_ reason: String?) {
        blockedReason.value = reason
        blocked.set(Double(reason == nil ? 0 : 1))
    }

    /// Why `/healthz` fails: requests cannot be decided, or the shared ledger cannot be reached; nil when healthy.
    public var blockedBecause: String? { blockedReason.value ?? ledgerReason.value }

    /// The shared ledger's reachability, probed every second by the feed publisher (nil: reachable).
    public func ledgerUnreachable(_ reason: String?) {
        ledgerReason.value = reason
        ledgerDown.set(Double(reason == nil ? 0 : 1))
    }

    public func conflictRetries(_ count: Int) { conflicts.set(Double(count)) }

    /// A request set aside in `invalid/` (its decision failed, or a step after it) with a note naming the cause.
    public func setAside(count: Int = 1) { setAside.increment(by: Int64(count)) }

    public func heldBack(_ count: Int) { heldBack.set(Double(count)) }

    /// One decision: counted by verdict, and once per violated rule.
    public func decided(_ decision: Decision, duration: Duration) {
        registry.makeCounter(name: "meetingd_decisions_total", labels: [("verdict", decision.verdict.rawValue)],
                             help: "Decisions by verdict").increment()
        for finding in decision.assessment.violations {
            registry.makeCounter(name: "meetingd_violations_total", labels: [("rule", finding.rule.rawValue)],
                                 help: "Rule violations in rejected requests, by rule").increment()
        }
        latency.record(duration)
    }

    public func feedsWritten(_ count: Int) { feedWrites.increment(by: Int64(count)) }

    public func waiting(_ count: Int) { queue.set(Double(count)) }

    public func served(status: Int) {
        registry.makeCounter(name: "meetingd_http_requests_total", labels: [("status", String(status))],
                             help: "HTTP requests by status").increment()
    }

    public var text: [UInt8] { registry.emitToBuffer() }
}

final class LockedText: @unchecked Sendable {
    private let lock = NSLock()
    private var text: String?

    var value: String? {
        get { lock.withLock { text } }
        set { lock.withLock { text = newValue } }
    }
}
