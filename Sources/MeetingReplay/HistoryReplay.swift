import Foundation
import MeetingLedger
import MeetingModel
import MeetingRules
import MeetingSpool

/// Decides a ledger's history again under other settings (`meetingd replay`, `shared/spec/replay.md`): every
/// recorded proposal and withdrawal, from the request bytes as received, in the original decision order,
/// against an empty scratch ledger in memory. Sequential, so a flip cascades into later decisions.
///
/// The decision is made exactly as `drain` makes it — the same reader, the same `Decider`, the same SQLite
/// schema and count queries — but nothing is published: no calendar, note, log line or feed, and no fsync.
/// The live ledger is only read, in one snapshot.
public final class HistoryReplay: Sendable {
    /// Which decisions the report shows: local dates of the decision time (`--from`, `--to`). Decisions
    /// before `from` are replayed all the same, so that the counts the shown ones meet are right; decisions
    /// after `to` cannot change the shown ones and are not replayed.
    public struct Window: Sendable {
        public var from: LocalDate?
        public var to: LocalDate?

        public init(from: LocalDate? = nil, to: LocalDate? = nil) {
            self.from = from
            self.to = to
        }

        func contains(_ date: LocalDate) -> Bool { (from.map { date >= $0 } ?? true) && (to.map { date <= $0 } ?? true) }
    }

    /// `done` of `total` entries replayed so far.
    public typealias Progress = (_ done: Int, _ total: Int) -> Void

    private let decider: Decider
    private let parser: RequestParser
    private let zone: ZonedClock
    private let window: Window
    /// Where a request's bytes are found when the ledger predates keeping them: the spool its file was moved
    /// into (`rejected/x.r1.json`), read only, and only when its digest is the one recorded.
    private let spoolRoot: String?
    /// Whether each flip carries the note the new settings would write (for the HTML page).
    private let withNotes: Bool

    public init(settings: RuleSettingsSet, timeZone: String, window: Window = Window(), spoolRoot: String? = nil, withNotes: Bool = false) {
        // The meetings a finding names shape its note, never its verdict (`listed_meetings` is not part of the
        // settings version): a replay that shows no notes does not read them (see docs/performance-history.md).
        var deciding = settings
        if !withNotes { deciding.listedMeetings = 0 }
        decider = Decider(engine: RuleEngine(settings: deciding))
        parser = DecisionPipeline.parser(timeZone: timeZone, settings: settings)
        zone = ZonedClock(timeZone: TimeZoneDatabase.system.timeZone(named: timeZone) ?? TimeZone(identifier: "Asia/Shanghai")!)
        self.window = window
        self.spoolRoot = spoolRoot
        self.withNotes = withNotes
    }

    /// Replays `ledger`'s history and returns the flips; `progress` is called now and then.
    ///
    /// Two threads, as in `drain`: one reads the history and parses each request, the calling thread decides
    /// them in order against the scratch ledger. Reading and parsing need no order and no ledger, so the
    /// decisions wait on neither.
    public func run(_ ledger: any Ledger, progress: Progress? = nil) throws -> ReplayOutcome {
        let scratch = try SQLiteLedger.scratch()
        var outcome = ReplayOutcome()
        let total = try ledger.historyCount()
        let handoff = Handoff<[Prepared]>(capacity: 4)
        let readerDone = DispatchSemaphore(value: 0)
        let reader = Thread { [self] in
            defer { readerDone.signal() }
            var batch: [Prepared] = []
            batch.reserveCapacity(Self.batchSize)
            do {
                try ledger.history { entry in
                    let date = zone.local(entry.decidedAt).date
                    if let to = window.to, date > to { throw Handoff<[Prepared]>.Stop() }
                    batch.append(prepare(entry, date: date))
                    if batch.count == Self.batchSize {
                        try handoff.put(batch)
                        batch.removeAll(keepingCapacity: true)
                    }
                }
                try handoff.put(batch)
                handoff.finish(nil)
            } catch is Handoff<[Prepared]>.Stop {
                try? handoff.put(batch)
                handoff.finish(nil)
            } catch {
                handoff.finish(error)
            }
        }
        reader.stackSize = 8 << 20
        reader.start()
        // The reader is told to stop and waited for, however this ends: it reads the live ledger.
        defer {
            handoff.cancel()
            readerDone.wait()
        }
        var done = 0
        try scratch.transaction {
            while let batch = try handoff.take() {
                for item in batch {
                    let after = try replay(item, on: scratch)
                    done += 1
                    if done % 256 == 0 { progress?(done, total) }
                    // A decision not replayed is reported wherever it is: every later count may differ by it.
                    if window.contains(item.date) || after.isNotReplayable { outcome.add(item.entry, after: after, date: item.date) }
                }
            }
        }
        outcome.replayed = done
        progress?(done, total)
        return outcome
    }

    private static let batchSize = 128

    /// An entry read and parsed, ready to be decided.
    private struct Prepared: @unchecked Sendable {
        let entry: HistoryEntry
        let date: LocalDate
        let bytes: [UInt8]?
        let parsed: Result<ParsedRequest, InvalidRequest>?
    }

    private func prepare(_ entry: HistoryEntry, date: LocalDate) -> Prepared {
        let bytes = entry.requestBytes ?? bytesFromSpool(entry)
        // Read as the ledger reads a request it kept: rules the format gained since it was decided (duplicate
        // keys, the year range, the tz database's names) do not make it invalid now, and one decided as a
        // single meeting stays one. The new settings' series bounds still apply.
        return Prepared(entry: entry, date: date, bytes: bytes,
                        parsed: bytes.map { parser.parseStored($0, asSeries: entry.occurrences != nil, appliesBounds: true) })
    }

    /// What the new settings decide for one entry, recorded in the scratch ledger as `drain` would record it.
    private func replay(_ item: Prepared, on scratch: SQLiteLedger) throws -> ReplayOutcome.After {
        let entry = item.entry
        guard let bytes = item.bytes, let parsed = item.parsed else {
            return .notReplayable("its request bytes are not in the ledger (decided before meetingd kept them) nor in the spool at \(entry.destination)")
        }
        /// A failure of the rules, before anything is written: this decision is not replayed, the rest go on.
        struct DecidingFailed: Error { let underlying: any Error }
        do {
            let recorded = try scratch.decideAndRecord(input: entry.input, decidedAt: entry.decidedAt) { state in
                let decision: Decision
                do {
                    decision = try decider.decide(parsed, state: state)
                } catch {
                    throw DecidingFailed(underlying: error)
                }
                var record = DecisionToRecord(decision: decision, destination: "", requestBytes: bytes)
                switch (decision.verdict, parsed) {
                case let (.approved, .success(.proposal(request))):
                    // What feeds would show is not made: the scratch ledger publishes nothing.
                    record.approved = request
                    record.publication = Publication(vevent: "", timeZone: request.timeZoneName, start: request.start, end: request.end, feedKeys: [])
                case (.withdrawn, _):
                    record.publication = Publication(vevent: "", timeZone: "", start: entry.decidedAt, end: entry.decidedAt, feedKeys: [])
                default:
                    break
                }
                return record
            }
            var note: String?
            if withNotes, recorded.decision.verdict == .rejected, case let .success(.proposal(request)) = parsed {
                note = Notes.rejection(request, recorded.decision, decidedAt: entry.decidedAt)
            } else if withNotes, recorded.decision.verdict == .invalid {
                note = Notes.invalid(fileName: entry.input.name, recorded.decision)
            }
            return .decided(recorded.decision, note: note)
        } catch let failure as DecidingFailed {
            return .notReplayable("deciding it again failed: \(failure.underlying)")
        } catch LedgerError.alreadyDecided(let id, let revision, let action) {
            // Refused by the decision row's own insert, before anything else was written.
            return .notReplayable("the scratch ledger already holds a decision for \(id) revision \(revision) (\(action))")
        } catch {
            // Failed while writing the scratch ledger without a savepoint: what it holds can no longer be trusted.
            throw ReplayError("the scratch ledger could not record decision \(entry.sequenceNumber) (\(entry.requestID ?? "-")): \(error)")
        }
    }

    private func bytesFromSpool(_ entry: HistoryEntry) -> [UInt8]? {
        // The destination is meetingd's own (`approved/…`, `rejected/…`, `withdrawn/…`), checked all the same.
        guard let spoolRoot, !entry.destination.isEmpty, !entry.destination.hasPrefix("/"),
              !entry.destination.split(separator: "/").contains(".."),
              let bytes = try? SpoolDirectory.readRequestFile(atPath: spoolRoot + "/" + entry.destination, limit: RequestParser.maximumBytes),
              InputIdentity.digest(of: bytes, size: bytes.count) == entry.input.digest else { return nil }
        return bytes
    }
}

/// What a replay found: how many decisions it made again, and each shown decision whose verdict or rule sets
/// changed.
public struct ReplayOutcome: Sendable {
    /// A decision as the report compares it: verdict, and the rules violated and warned (sorted, once each).
    public struct Verdicts: Sendable, Equatable {
        public var verdict: Verdict
        public var violations: [RuleID]
        public var warnings: [RuleID]

        public init(verdict: Verdict, violations: [RuleID], warnings: [RuleID]) {
            self.verdict = verdict
            self.violations = violations
            self.warnings = warnings
        }

        init(_ decision: Decision) {
            verdict = decision.verdict
            violations = Set(decision.assessment.violations.map(\.rule)).sorted()
            warnings = Set(decision.assessment.warnings.map(\.rule)).sorted()
        }

        init(_ entry: HistoryEntry) {
            verdict = entry.verdict
            violations = entry.violations
            warnings = entry.warnings
        }
    }

    enum After {
        case decided(Decision, note: String?)
        case notReplayable(String)

        var isNotReplayable: Bool {
            if case .notReplayable = self { return true }
            return false
        }
    }

    public struct Flip: Sendable {
        public var sequenceNumber: Int64
        public var id: String?
        public var revision: Int?
        public var decidedAt: Date
        public var before: Verdicts
        public var after: Verdicts
        /// The new decision in full (its findings' facts, for the text and HTML reports).
        public var decision: Decision
        /// The note the new settings would write (a rejection's, or an invalid request's), when asked for.
        public var note: String?
    }

    public struct Skipped: Sendable {
        public var sequenceNumber: Int64
        public var id: String?
        public var reason: String
    }

    public struct RuleChanges: Sendable, Equatable {
        public var newlyViolated = 0
        public var noLongerViolated = 0
        public var newlyWarned = 0
        public var noLongerWarned = 0

        public init(newlyViolated: Int = 0, noLongerViolated: Int = 0, newlyWarned: Int = 0, noLongerWarned: Int = 0) {
            self.newlyViolated = newlyViolated
            self.noLongerViolated = noLongerViolated
            self.newlyWarned = newlyWarned
            self.noLongerWarned = noLongerWarned
        }
    }

    /// Every decision replayed (those before the window included).
    public internal(set) var replayed = 0
    /// Decisions in the window that were compared.
    public internal(set) var compared = 0
    public internal(set) var approvedToRejected = 0
    public internal(set) var rejectedToApproved = 0
    /// Verdict changed otherwise (a proposal now invalid under new recurrence bounds, a withdrawal of a meeting
    /// no longer approved).
    public internal(set) var otherVerdictChanges = 0
    /// Same verdict, other rules violated or warned.
    public internal(set) var rulesChanged = 0
    public internal(set) var byRule: [RuleID: RuleChanges] = [:]
    /// The settings versions the compared decisions were made under, and how many under each.
    public internal(set) var decidedUnder: [String: Int] = [:]
    public internal(set) var flips: [Flip] = []
    public internal(set) var skipped: [Skipped] = []

    mutating func add(_ entry: HistoryEntry, after: After, date: LocalDate) {
        guard case let .decided(decision, note) = after else {
            if case let .notReplayable(reason) = after {
                skipped.append(Skipped(sequenceNumber: entry.sequenceNumber, id: entry.requestID, reason: reason))
            }
            return
        }
        compared += 1
        decidedUnder[entry.settingsVersion, default: 0] += 1
        let before = Verdicts(entry)
        let now = Verdicts(decision)
        guard before != now else { return }
        switch (before.verdict, now.verdict) {
        case (.approved, .rejected): approvedToRejected += 1
        case (.rejected, .approved): rejectedToApproved += 1
        case let (old, new) where old == new: rulesChanged += 1
        default: otherVerdictChanges += 1
        }
        for rule in Set(now.violations).subtracting(before.violations) { byRule[rule, default: RuleChanges()].newlyViolated += 1 }
        for rule in Set(before.violations).subtracting(now.violations) { byRule[rule, default: RuleChanges()].noLongerViolated += 1 }
        for rule in Set(now.warnings).subtracting(before.warnings) { byRule[rule, default: RuleChanges()].newlyWarned += 1 }
        for rule in Set(before.warnings).subtracting(now.warnings) { byRule[rule, default: RuleChanges()].noLongerWarned += 1 }
        flips.append(Flip(sequenceNumber: entry.sequenceNumber, id: entry.requestID ?? decision.requestID,
                          revision: entry.revision ?? decision.revision, decidedAt: entry.decidedAt,
                          before: before, after: now, decision: decision, note: note))
    }
}

/// Hands values from one thread to another, at most `capacity` waiting: the reader stays a little ahead of
/// the decider, never the whole history ahead.
final class Handoff<Value>: @unchecked Sendable {
    struct Stop: Error {}
    struct Cancelled: Error {}

    private let condition = NSCondition()
    private var queue: [Value] = []
    private var finished = false
    private var failure: (any Error)?
    private var cancelled = false
    private let capacity: Int

    init(capacity: Int) { self.capacity = capacity }

    /// Waits while `capacity` values wait; throws when the taker has gone.
    func put(_ value: Value) throws {
        condition.lock()
        defer { condition.unlock() }
        while queue.count >= capacity && !cancelled { condition.wait() }
        if cancelled { throw Cancelled() }
        queue.append(value)
        condition.broadcast()
    }

    /// No more values; `error` is thrown to the taker once the values before it are taken.
    func finish(_ error: (any Error)?) {
        condition.lock()
        finished = true
        failure = error
        condition.broadcast()
        condition.unlock()
    }

    /// The next value, or nil when finished.
    func take() throws -> Value? {
        condition.lock()
        defer { condition.unlock() }
        while queue.isEmpty && !finished { condition.wait() }
        if !queue.isEmpty {
            condition.broadcast()
            return queue.removeFirst()
        }
        if let failure { throw failure }
        return nil
    }

    /// The taker has gone: a waiting `put` throws.
    func cancel() {
        condition.lock()
        cancelled = true
        condition.broadcast()
        condition.unlock()
    }
}

/// Why a replay stopped.
public struct ReplayError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
