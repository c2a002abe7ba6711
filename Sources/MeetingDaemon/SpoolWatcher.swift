import Foundation
import Logging
import MeetingSpool
import ServiceLifecycle

/// Decides every request that appears in `incoming/`: inotify for speed, a full scan at start-up and after a
/// queue overflow, and a slow periodic rescan as a safety net. Files still open for writing and dot-files
/// are left alone. When a write fails (a full disk), the request stays where it is, the error is logged once,
/// and the watcher retries with back-off.
public final class SpoolWatcher: Service, @unchecked Sendable {
    /// Only `run()` touches the pipeline, one decision at a time.
    private let pipeline: DecisionPipeline
    private let settings: SettingsBox
    private let notifier: SystemdNotifier
    let counters: DaemonCounters
    private let metrics: DaemonMetrics
    private let readiness: ReadinessGate
    private let logger: Logger
    private let rescanInterval: Double
    /// A file found by a scan (not announced by inotify) and modified this recently may still be being written.
    private let settleTime: Double = 1
    /// How long one pass over `incoming/` goes on taking in requests that arrive while it decides (those taken
    /// in are then decided in it, however long that takes).
    private let passLimit: Double = 1

    /// Names inotify announced as complete or still being written, up to date even while a decision runs.
    private let names = IncomingNames()
    private var nextRescan = Date.distantPast
    private var retryAt: Date?
    private var retryDelay: Double = 0
    private var lastFailure: String?

    init(pipeline: DecisionPipeline, settings: SettingsBox, notifier: SystemdNotifier, metrics: DaemonMetrics, readiness: ReadinessGate,
         counters: DaemonCounters, logger: Logger, rescanInterval: Double = 60) {
        self.counters = counters
        self.pipeline = pipeline
        self.settings = settings
        self.notifier = notifier
        self.metrics = metrics
        self.readiness = readiness
        self.logger = logger
        self.rescanInterval = rescanInterval
    }

    public func run() async throws {
        let events = try InotifyWatch.events(in: pipeline.spool.path(.incoming), tick: 0.5, names: names)
        // What the start wrote, or left unsynced (the schema, recovered feeds, a database created just before),
        // is made durable now rather than by the first decision's barrier, which the requests behind it would wait for.
        do {
            try pipeline.spool.barrier()
        } catch {
            logger.warning("cannot sync the spool's file system at start; the first decision tries again", metadata: ["error": "\(error)"])
        }
        processWaiting()
        readiness.ready("spool")
        logger.notice("watching incoming/", metadata: ["spool": "\(pipeline.spool.root)", "settings": "\(pipeline.settingsVersion)"])
        for await batch in events.cancelOnGracefulShutdown() {
            var scan = false
            for event in batch {
                switch event {
                case .completed:
                    scan = true
                case let .created(name):
                    // A link or symbolic link is never closed after writing: looked at now, not at the next rescan.
                    // (Not a dot-file, which writers rename in whole later and which is never decided.)
                    scan = scan || name.first != UInt8(ascii: ".")
                case .writing, .gone:
                    break
                case .overflow:
                    logger.warning("inotify queue overflowed; rescanning incoming/")
                    scan = true
                case .tick:
                    scan = scan || Date() >= nextRescan || (retryAt.map { Date() >= $0 } ?? false)
                }
            }
            if scan { processWaiting() }
        }
        notifier.send("STOPPING=1", counters.status)
        logger.notice("meetingd stopping", metadata: ["status": "\(counters.status.dropFirst(7))"])
    }

    /// Decides what is waiting, in arrival order, until done, a failure, or a graceful shutdown.
    private func processWaiting() {
        if let retryAt, Date() < retryAt { return }
        if let newSettings = settings.takePending() { pipeline.apply(settings: newSettings) }
        nextRescan = Date().addingTimeInterval(rescanInterval)
        let files: [IncomingFile]
        let completionsBeforeListing = names.completionCount
        do {
            files = try pipeline.spool.waitingFiles()
        } catch {
            fail("\(error)")
            return
        }
        var decided = 0
        var remaining = files.count
        defer {
            // STATUS only when something changed: a retry loop must not flood the notify socket.
            let before = counters.status
            counters.record(decided: decided, waiting: remaining)
            metrics.waiting(remaining)
            if counters.status != before { notifier.send(counters.status) }
        }
        let eligible = self.eligible(files)
        // Requests renamed in while this pass decides are decided in it too (see `ArrivalsDuringPass`).
        var arrivals = ArrivalsDuringPass(names: names, spool: pipeline.spool, handed: eligible, completionsBeforeListing: completionsBeforeListing,
                                          until: ArrivalsDuringPass.now + passLimit, eligible: self.eligible)
        let listed = Set(files.map(\.nameBytes))
        let arrivedSince = { () -> [IncomingFile] in
            let arrived = arrivals.take()
            // A file listed but not taken then (still being written) is already counted as waiting.
            remaining += arrived.count { !listed.contains($0.nameBytes) }
            return arrived
        }
        var started = ContinuousClock.now
        do {
            try pipeline.process(groupsOf: eligible, continuing: { !Task.isShuttingDownGracefully }, more: arrivedSince) { outcomes in
                let perDecision = (ContinuousClock.now - started) / outcomes.count
                started = ContinuousClock.now
                recovered()
                for outcome in outcomes {
                    metrics.decided(outcome.recorded.decision, duration: perDecision)
                    let decision = outcome.recorded.decision
                    if let cause = outcome.setAside ?? (decision.note == DecisionPipeline.setAsideNote ? decision.problems.first : nil) {
                        metrics.setAside()
                        logger.error("request set aside in invalid/ with a note; the queue goes on", metadata: [
                            "file": "\(outcome.file)", "seq": "\(outcome.recorded.sequenceNumber)", "cause": "\(cause)",
                        ])
                    }
                    logger.info("\(decision.verdict.rawValue) \(decision.requestID ?? "-")", metadata: [
                        "file": "\(outcome.file)", "seq": "\(outcome.recorded.sequenceNumber)",
                        "rules": "\(decision.assessment.violations.map(\.rule.rawValue).joined(separator: ","))",
                    ])
                    names.forget(outcome.nameBytes)
                }
                decided += outcomes.count
                remaining -= outcomes.count
            }
        } catch {
            fail("\(error)")
        }
        for (name, cause) in pipeline.takeHeldBack() {
            logger.critical("request held back in incoming/ until restart: it fails even alone, for a reason retrying cannot cure",
                            metadata: ["file": "\(name)", "cause": "\(cause)"])
        }
        metrics.heldBack(pipeline.heldBackCount)
    }

    /// The files of `files` to decide now; the others wait for a later pass, which `nextRescan` is brought
    /// forward for when nothing else will announce it.
    private func eligible(_ files: [IncomingFile]) -> [IncomingFile] {
        let now = Date().timeIntervalSince1970
        let (beingWritten, created, announced) = names.current
        return files.filter { file in
            let modified = Double(file.modified.seconds) + Double(file.modified.nanoseconds) / 1e9
            let age = now - modified
            // Written to and still open: left alone until it is closed (the kernel closes it if its writer dies).
            if beingWritten.contains(file.nameBytes), file.kind == .regular { return false }
            // Created and not written to yet: a writer about to write, or a link made with link(2), which nobody
            // will write or close — so it is left alone for a rescan's interval at most, not for ever.
            if created.contains(file.nameBytes), file.kind == .regular, age < rescanInterval {
                nextRescan = min(nextRescan, Date(timeIntervalSince1970: modified + rescanInterval))
                return false
            }
            if !announced.contains(file.nameBytes), file.kind == .regular, age < settleTime {
                nextRescan = min(nextRescan, Date().addingTimeInterval(settleTime))
                return false
            }
            return true
        }
    }

    private func fail(_ message: String) {
        retryDelay = min(max(retryDelay * 2, 0.5), 60)
        retryAt = Date().addingTimeInterval(retryDelay)
        // Logged once per distinct failure, not once per retry.
        if message != lastFailure {
            logger.error("cannot decide; the request stays in incoming/ and is retried", metadata: ["error": "\(message)"])
            lastFailure = message
        }
        metrics.blocked(message)
    }

    private func recovered() {
        if lastFailure != nil { logger.notice("deciding again after a failure") }
        lastFailure = nil
        metrics.blocked(nil)
        retryAt = nil
        retryDelay = 0
    }
}

/// The requests renamed into `incoming/` while a pass decides, handed to that pass as soon as those before them
/// are decided, rather than after the pass's last barrier, a wake-up and a new listing (the delay that removes
/// is in docs/performance-history.md). inotify names them (`IncomingNames`), so only
/// those names are looked up, and only when a name was announced complete since the last look. Arrivals are
/// taken until `until` (on the monotonic clock, `now`): a settings reload and the status wait for the pass's
/// end, which a steady stream of requests must not put off for ever.
struct ArrivalsDuringPass {
    private let names: IncomingNames
    private let spool: SpoolDirectory
    private let until: TimeInterval
    private let eligible: ([IncomingFile]) -> [IncomingFile]
    /// Every name handed to the pass so far.
    private var handed: Set<[UInt8]>
    private var completionsSeen: Int

    /// `handed`: what the pass was given from its listing. `completionsBeforeListing`: `names.completionCount`
    /// read before that listing, so that a name announced during it is looked at.
    init(names: IncomingNames, spool: SpoolDirectory, handed: [IncomingFile], completionsBeforeListing: Int, until: TimeInterval,
         eligible: @escaping ([IncomingFile]) -> [IncomingFile]) {
        self.names = names
        self.spool = spool
        self.until = until
        self.eligible = eligible
        self.handed = Set(handed.map(\.nameBytes))
        completionsSeen = completionsBeforeListing
    }

    /// The requests announced complete since the last call and not handed yet, in arrival order, among those
    /// `eligible` lets through; none after `until`.
    mutating func take(now: TimeInterval = Self.now) -> [IncomingFile] {
        let completions = names.completionCount
        guard completions != completionsSeen, now < until else { return [] }
        completionsSeen = completions
        let named = names.current.completed.subtracting(handed).compactMap(spool.waitingFile(named:))
        let arrived = eligible(SpoolDirectory.inArrivalOrder(named))
        handed.formUnion(arrived.map(\.nameBytes))
        return arrived
    }

    /// The monotonic clock: a wall clock set back must not stretch a pass.
    static var now: TimeInterval { ProcessInfo.processInfo.systemUptime }
}
