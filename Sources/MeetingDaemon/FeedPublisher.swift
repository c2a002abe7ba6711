import Foundation
import Logging
import MeetingLedger
import MeetingSpool
import ServiceLifecycle

/// Rewrites the feeds that decisions marked dirty — this node's, and in a shared ledger the other nodes' —
/// at most once a second, on its own thread and its own ledger connection, so that a feed pass (seconds for 100,000 events) never delays a decision. Subscribers
/// refresh hourly; each decision's own .ics is written at once by the watcher. On shutdown it flushes once more.
struct FeedPublisher: Service {
    let feeds: FeedWriter
    let ledger: any Ledger
    let metrics: DaemonMetrics
    let logger: Logger
    let interval: Duration = .seconds(1)
    /// The last failure logged, so a lasting one (a full disk) is logged once, not every second.
    private let lastFailure = FailureMemory()

    func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            try? await Task.sleep(for: interval)
            await flush()
        }
        // The last pass leaves nothing behind, the index's counts included.
        feeds.indexInterval = 0
        await flush()
    }

    /// Runs the feed pass on a thread of its own: it is blocking file and database work.
    private func flush() async {
        let feeds = feeds
        let ledger = ledger
        let metrics = metrics
        let outcome: Result<Int, any Error> = await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                if ledger.isShared {
                    // Probed even while no request waits, so that /healthz tells of a database gone away.
                    do {
                        try ledger.checkReachable()
                        metrics.ledgerUnreachable(nil)
                    } catch {
                        metrics.ledgerUnreachable("\(error)")
                    }
                    metrics.conflictRetries(ledger.conflictRetries)
                }
                continuation.resume(returning: Result {
                    // Other nodes' decisions in a shared ledger (announced, or the periodic catch-up), then everything marked.
                    try feeds.followOtherNodes()
                    return try feeds.flush()
                })
            }
        }
        switch outcome {
        case let .success(written):
            metrics.feedsWritten(written)
            lastFailure.clear()
        case let .failure(error):
            if lastFailure.isNew("\(error)") {
                logger.error("feeds not rewritten; tried again every second", metadata: ["error": "\(error)"])
            }
        }
    }
}

final class FailureMemory: @unchecked Sendable {
    private let lock = NSLock()
    private var last: String?

    /// True the first time `message` is seen after a different one or a success.
    func isNew(_ message: String) -> Bool {
        lock.withLock {
            defer { last = message }
            return last != message
        }
    }

    func clear() { lock.withLock { last = nil } }
}
