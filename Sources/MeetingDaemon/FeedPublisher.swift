import CSystemExtras
import Foundation
import Logging
import MeetingLedger
import MeetingSpool
import ServiceLifecycle

/// Rewrites the feeds that decisions marked dirty — this node's, and in a shared ledger the other nodes' —
/// at most once a second, on its own thread and its own ledger connection, so that a feed pass (seconds for
/// 100,000 events) never delays a decision; the pass runs in the background (`BackgroundPass`: the CPU goes
/// to decisions first) and paced (`PassPacer`), so that it does not take the CPU from decisions in bursts
/// either. Subscribers refresh hourly; each decision's own .ics is written at once by the watcher. On
/// shutdown it flushes once more, unpaced and in the foreground.
struct FeedPublisher: Service {
    let feeds: FeedWriter
    let ledger: any Ledger
    let metrics: DaemonMetrics
    let logger: Logger
    let interval: Duration = .seconds(1)
    /// The last failure logged, so a lasting one (a full disk) is logged once, not every second.
    private let lastFailure = FailureMemory()
    private let pacer = PassPacer()

    func run() async throws {
        feeds.pacing = pacer.pause
        // Passes start every second from a moment of this daemon's own: daemons started together (several
        // offices' nodes on one machine, one `systemctl restart` for all) would otherwise pass at the same
        // instants, and their passes, paced alike, would all return to the foreground at once.
        try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval * Double.random(in: 0..<1)) }
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            // A pass starts every `interval` (a paced pass takes part of it), at least a tenth of it after the last.
            let started = ContinuousClock.now
            await flush()
            try? await Task.sleep(for: max(interval / 10, interval - (ContinuousClock.now - started)))
        }
        // The last pass leaves nothing behind, the index's counts and the note of what the feeds reflect
        // included, and is not held back.
        feeds.pacing = nil
        feeds.indexInterval = 0
        feeds.recordsThroughAtOnce = true
        await flush(inBackground: false)
    }

    /// Runs the feed pass on a thread of its own: it is blocking file and database work. In the background
    /// until it has lasted the pacer's patience, then in the foreground, so that it still ends in time when
    /// decisions keep the CPU busy.
    private func flush(inBackground: Bool = true) async {
        let feeds = feeds
        let ledger = ledger
        let metrics = metrics
        let pass = BackgroundPass()
        let promotion = Task {
            try await Task.sleep(for: .seconds(pacer.patience))
            pass.promote()
        }
        defer { promotion.cancel() }
        let outcome: Result<Int, any Error> = await withCheckedContinuation { continuation in
            Thread.detachNewThread { [pacer] in
                pacer.startPass()
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
                // Only the writing runs in the background: not the catch-up, which takes a lock the ledger's event
                // loop takes too, nor the barrier, which holds one every decision's barrier waits for; and the
                // thread is back in the foreground before it resumes the publisher (a thread it starts, a worker
                // of the task pool, would inherit SCHED_IDLE).
                let written = Result {
                    // Other nodes' decisions in a shared ledger (announced, or the periodic catch-up), then everything marked.
                    try feeds.followOtherNodes()
                    if inBackground { pass.begin() }
                    feeds.beforeBarrier = { pass.end() }
                    defer { feeds.beforeBarrier = nil }
                    return try feeds.flush()
                }
                pass.end()
                continuation.resume(returning: written)
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

/// Spreads a feed pass over time: after each `slice` of CPU its thread has used it rests `rest`, so that it
/// takes about a fifth of a core while it runs, until the pass has lasted `patience`; then it runs to its end,
/// so that feeds still follow decisions within about two seconds (a pass starts every second).
///
/// Why: an unpaced pass took the CPU in one burst and the decisions behind it waited (docs/performance-history.md).
final class PassPacer: @unchecked Sendable {
    let slice: TimeInterval = 0.002
    let rest: TimeInterval = 0.008
    let patience: TimeInterval = 0.8
    private let now: () -> TimeInterval
    private let threadCPU: () -> TimeInterval
    private let sleep: (TimeInterval) -> Void
    /// Touched only by the pass's own thread (one pass at a time).
    private var passStarted: TimeInterval = 0
    private var sliceStarted: TimeInterval = 0

    /// The clocks and the sleep are the system's but in tests.
    init(now: @escaping () -> TimeInterval = { ProcessInfo.processInfo.systemUptime },
         threadCPU: @escaping () -> TimeInterval = PassPacer.threadCPUTime,
         sleep: @escaping (TimeInterval) -> Void = { usleep(useconds_t($0 * 1_000_000)) }) {
        self.now = now
        self.threadCPU = threadCPU
        self.sleep = sleep
    }

    /// CPU time of the calling thread: a slice is work done, not time spent waiting for a core.
    static func threadCPUTime() -> TimeInterval {
        var time = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
        return TimeInterval(time.tv_sec) + TimeInterval(time.tv_nsec) / 1e9
    }

    func startPass() {
        passStarted = now()
        sliceStarted = threadCPU()
    }

    /// Called between two feeds of a pass.
    func pause() {
        guard threadCPU() - sliceStarted >= slice, now() - passStarted < patience else { return }
        sleep(rest)
        sliceStarted = threadCPU()
    }
}

/// The thread of one feed pass, moved to the background while it writes (`SCHED_IDLE`: the scheduler gives it
/// a very small share of a core while decisions, database backends or anything else want it) and back to its
/// fair share once the pass has lasted long enough, and when it ends.
///
/// Why: of normal priority, `nice 19` and the background, the background kept decisions fastest
/// (docs/performance-history.md).
///
/// Moving a thread back out of the background needs `RLIMIT_NICE` 20 or `CAP_SYS_NICE` (the unit file sets
/// `LimitNICE=+0`); where neither is given, passes stay in the foreground rather than risk one stuck behind
/// the decisions.
final class BackgroundPass: @unchecked Sendable {
    private let lock = NSLock()
    private var thread: Int32?
    /// Promoted or ended: the thread stays in (or goes back to) the foreground.
    private var done = false

    /// Whether this process may move a thread into the background and back: tried once, on a thread of its own.
    static let isAvailable: Bool = {
        let tried = DispatchSemaphore(value: 0)
        let outcome = Outcome()
        Thread.detachNewThread {
            outcome.available = meetingd_set_background(0, 1) == 0 && meetingd_set_background(0, 0) == 0
            tried.signal()
        }
        tried.wait()
        return outcome.available
    }()

    private final class Outcome: @unchecked Sendable { var available = false }

    /// Moves the calling thread, the pass's, to the background, unless the pass was promoted already (its
    /// thread started late on a busy machine).
    func begin() {
        guard Self.isAvailable, lock.withLock({ () -> Bool in
            guard !done else { return false }
            thread = meetingd_thread_id()
            return true
        }) else { return }
        // Outside the lock, which a thread in the background could otherwise hold while it waits for a core;
        // a promotion in between has found the thread and is undone here.
        _ = meetingd_set_background(0, 1)
        if lock.withLock({ done }) { _ = meetingd_set_background(0, 0) }
    }

    /// Moves the pass's thread back to its fair share, if it is in the background, and keeps it there.
    func promote() {
        lock.withLock {
            done = true
            guard let thread else { return }
            self.thread = nil
            _ = meetingd_set_background(thread, 0)
        }
    }

    /// Called by the pass's thread when it has written: back in the foreground before it goes on, and its id
    /// (which may be reused once the thread ends) forgotten.
    func end() { promote() }

    /// Whether thread `id` (0: the calling one) is in the background now (tests).
    static func isInBackground(_ id: Int32 = 0) -> Bool { sched_getscheduler(id) == 5 }
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
