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
public final class HistoryReplay {
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
        decider = Decider(engine: RuleEngine(settings: settings))
        parser = DecisionPipeline.parser(timeZone: timeZone, settings: settings)
        zone = ZonedClock(timeZone: TimeZoneDatabase.system.timeZone(named: timeZone) ?? TimeZone(identifier: "Asia/Shanghai")!)
        self.window = window
        self.spoolRoot = spoolRoot
        self.withNotes = withNotes
    }

    /// Replays `ledger`'s history and returns the flips; `progress` is called now and then.
    public func run(_ ledger: any Ledger, progress: Progress? = nil) throws -> ReplayOutcome {
        let scratch = try SQLiteLedger.scratch()
        var outcome = ReplayOutcome()
        let total = try ledger.historyCount()
        var done = 0
        try scratch.transaction {
            try ledger.history { entry in
                let date = zone.local(entry.decidedAt).date
                if let to = window.to, date > to { return }
                let after = try replay(entry, on: scratch)
                done += 1
                outcome.replayed += 1
                if done % 256 == 0 { progress?(done, total) }
                if window.contains(date) { outcome.add(entry, after: after, date: date) }
            }
        }
        progress?(done, total)
        return outcome
    }

    /// What the new settings decide for one entry, recorded in the scratch ledger as `drain` would record it.
    private func replay(_ entry: HistoryEntry, on scratch: SQLiteLedger) throws -> ReplayOutcome.After {
        guard let bytes = entry.requestBytes ?? bytesFromSpool(entry) else {
            return .notReplayable("its request bytes are not in the ledger (decided before meetingd kept them) nor in the spool at \(entry.destination)")
        }
        let parsed = DecisionPipeline.parse(bytes, with: parser)
        do {
            let recorded = try scratch.decideAndRecord(input: entry.input, decidedAt: entry.decidedAt) { state in
                let decision = try decider.decide(parsed, state: state)
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
        } catch where !Failure.isTransient(error) {
            return .notReplayable("deciding it again failed: \(error)")
        }
    }

    private func bytesFromSpool(_ entry: HistoryEntry) -> [UInt8]? {
        // The destination is meetingd's own (`approved/…`, `rejected/…`, `withdrawn/…`), checked all the same.
        guard let spoolRoot, !entry.destination.isEmpty, !entry.destination.hasPrefix("/"),
              !entry.destination.split(separator: "/").contains(".."),
              let bytes = try? SpoolDirectory.readRequestFile(atPath: spoolRoot + "/" + entry.destination, limit: RequestParser.maximumBytes),
              Digest.fnv1a64Hex(bytes) + "-\(bytes.count)" == entry.input.digest else { return nil }
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

        init(_ decision: Decision) {
            verdict = decision.verdict
            violations = Set(decision.assessment.violations.map(\.rule)).sorted { $0.rawValue < $1.rawValue }
            warnings = Set(decision.assessment.warnings.map(\.rule)).sorted { $0.rawValue < $1.rawValue }
        }
    }

    enum After {
        case decided(Decision, note: String?)
        case notReplayable(String)
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
                skipped.append(Skipped(sequenceNumber: entry.sequenceNumber, id: entry.decision.requestID, reason: reason))
            }
            return
        }
        compared += 1
        decidedUnder[entry.decision.settingsVersion, default: 0] += 1
        let before = Verdicts(entry.decision)
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
        flips.append(Flip(sequenceNumber: entry.sequenceNumber, id: entry.decision.requestID ?? decision.requestID,
                          revision: entry.decision.revision ?? decision.revision, decidedAt: entry.decidedAt,
                          before: before, after: now, decision: decision, note: note))
    }
}
