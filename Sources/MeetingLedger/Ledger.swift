import Foundation
import MeetingModel
import MeetingRules

/// Identifies one spool file as it was read: its name in `incoming/` and a digest of its bytes.
/// A decision recorded for the same identity, whose file is still in `incoming/`, is a replay after a crash.
public struct InputIdentity: Sendable, Hashable {
    public var name: String
    public var digest: String

    public init(name: String, digest: String) {
        self.name = name
        self.digest = digest
    }

    /// The digest of a file's `bytes` as read, `size` bytes long on disk (more than was read of a file over
    /// the limit): what a decision records, and what replay checks a file in the spool against.
    public static func digest(of bytes: [UInt8], size: Int) -> String { Digest.fnv1a64Hex(bytes) + "-\(size)" }
}

/// A decision as the ledger holds it.
public struct RecordedDecision: Sendable, Equatable {
    /// Increases with every decision; the decision log carries it so that a replay appends no second line.
    public var sequenceNumber: Int64
    public var input: InputIdentity
    public var decision: Decision
    public var decidedAt: Date
    /// Where the input file goes, relative to the spool (`approved/x.r1.json`).
    public var destination: String
    /// Feeds whose content this decision changed (the meeting's feeds before and after).
    public var touchedFeeds: [String] = []
    /// The node that recorded it (`node` in the config; empty in a ledger from before schema v9).
    public var node: String = ""

    /// Made by every backend, here and beside this module (MeetingPostgres).
    package init(sequenceNumber: Int64, input: InputIdentity, decision: Decision, decidedAt: Date, destination: String,
                 touchedFeeds: [String] = [], node: String = "") {
        self.sequenceNumber = sequenceNumber
        self.input = input
        self.decision = decision
        self.decidedAt = decidedAt
        self.destination = destination
        self.touchedFeeds = touchedFeeds
        self.node = node
    }
}

/// A meeting as feeds publish it: its VEVENT (serialised by libical) and the feeds it belongs to.
public struct Publication: Sendable, Equatable {
    public var vevent: String
    public var timeZone: String
    public var start: Date
    public var end: Date
    public var feedKeys: [String]

    public init(vevent: String, timeZone: String, start: Date, end: Date, feedKeys: [String]) {
        self.vevent = vevent
        self.timeZone = timeZone
        self.start = start
        self.end = end
        self.feedKeys = feedKeys
    }
}

/// One event of a feed: a meeting's VEVENT with what decides whether and where feeds show it.
public struct FeedEvent: Sendable, Equatable {
    /// The meeting's id (the request id).
    public var id: String
    public var vevent: String
    public var timeZone: String
    public var start: Date
    public var end: Date
    /// When the meeting was withdrawn (its cancelled VEVENT stays shown for a while); nil while approved.
    public var withdrawnAt: Date?
    /// The feeds that show it (`all`, `region:…`, `organizer:…`, `attendee:…`).
    public var feedKeys: [String]

    /// Made by every backend, here and beside this module (MeetingPostgres).
    package init(id: String, vevent: String, timeZone: String, start: Date, end: Date, withdrawnAt: Date?, feedKeys: [String]) {
        self.id = id
        self.vevent = vevent
        self.timeZone = timeZone
        self.start = start
        self.end = end
        self.withdrawnAt = withdrawnAt
        self.feedKeys = feedKeys
    }

    /// Whether feeds show it: it ends after `visibleAfter`, and it is approved or was withdrawn after
    /// `cancelledAfter`. The ledgers' queries for every shown event say the same in SQL.
    public func isShown(visibleAfter: Date, cancelledAfter: Date) -> Bool {
        end > visibleAfter && (withdrawnAt.map { $0 > cancelledAfter } ?? true)
    }

    /// Feed order: by start, then by id byte by byte (as the ledgers' `ORDER BY start_utc, id` sorts).
    public static func inFeedOrder(_ lhs: FeedEvent, _ rhs: FeedEvent) -> Bool {
        lhs.start != rhs.start ? lhs.start < rhs.start : lhs.id.utf8.lexicographicallyPrecedes(rhs.id.utf8)
    }
}

/// Events read for feeds, with the number of the last decision they reflect (read in the same snapshot).
public struct FeedEventBatch: Sendable, Equatable {
    public var events: [FeedEvent]
    public var through: Int64

    package init(events: [FeedEvent], through: Int64) {
        self.events = events
        self.through = through
    }
}

/// What `decideAndRecord` is to write: the decision, where its input goes, the request's bytes, and for an
/// approval the request itself.
public struct DecisionToRecord: Sendable {
    public var decision: Decision
    public var destination: String
    /// The request's bytes as received, kept with every proposal and withdrawal: the calendar output and
    /// feeds of an approval are made from them again, and `meetingd replay` decides them again.
    public var requestBytes: [UInt8]?
    /// The approved request.
    public var approved: MeetingRequest?
    /// For an approval or a withdrawal: the event as feeds show it now.
    public var publication: Publication?
    /// What reports and the browser show of the request (a withdrawal: of the meeting withdrawn); nil for an
    /// invalid file and in a scratch ledger.
    public var subject: DecisionSubject?

    public init(decision: Decision, destination: String, requestBytes: [UInt8]? = nil, approved: MeetingRequest? = nil,
                publication: Publication? = nil, subject: DecisionSubject? = nil) {
        self.decision = decision
        self.destination = destination
        self.requestBytes = requestBytes
        self.approved = approved
        self.publication = publication
        self.subject = subject
    }
}

/// A meeting the ledger holds, approved or withdrawn, with what is needed to publish it again.
public struct StoredMeeting: Sendable, Equatable {
    public var id: String
    public var revision: Int
    public var withdrawn: Bool
    public var sequence: Int
    public var requestBytes: [UInt8]
    public var assessment: Assessment
    public var settingsVersion: String
    /// When the meeting's current state was decided (DTSTAMP, LAST-MODIFIED).
    public var decidedAt: Date
    /// How many occurrences it was approved with, when it was approved as a series; nil for one meeting.
    public var occurrences: Int?

    /// Made by every backend, here and beside this module (MeetingPostgres).
    package init(id: String, revision: Int, withdrawn: Bool, sequence: Int, requestBytes: [UInt8], assessment: Assessment,
                 settingsVersion: String, decidedAt: Date, occurrences: Int?) {
        self.id = id
        self.revision = revision
        self.withdrawn = withdrawn
        self.sequence = sequence
        self.requestBytes = requestBytes
        self.assessment = assessment
        self.settingsVersion = settingsVersion
        self.decidedAt = decidedAt
        self.occurrences = occurrences
    }
}

/// A proposal or withdrawal as the ledger recorded it: what `meetingd replay` decides again, and what it
/// compares the new decision with.
public struct HistoryEntry: Sendable {
    public var sequenceNumber: Int64
    public var input: InputIdentity
    public var requestID: String?
    public var revision: Int?
    /// The decision as it was made, under the settings then in force (`settingsVersion`): its verdict and
    /// the rules it found violated and warned about, each once, sorted.
    public var verdict: Verdict
    public var violations: [RuleID]
    public var warnings: [RuleID]
    public var settingsVersion: String
    /// For a proposal decided as a recurring series: how many occurrences it had; nil for one meeting (a
    /// request approved before meetingd knew `recurrence` was decided as one meeting, whatever it carried).
    public var occurrences: Int?
    public var decidedAt: Date
    /// Where the request went, relative to the spool (`rejected/x.r1.json`).
    public var destination: String
    /// The request's bytes as received; nil in a decision recorded before the ledger kept them (schema v8),
    /// other than the approval of a meeting's latest revision.
    public var requestBytes: [UInt8]?

    /// Made by every backend, here and beside this module (MeetingPostgres).
    package init(sequenceNumber: Int64, input: InputIdentity, requestID: String?, revision: Int?, verdict: Verdict, violations: [RuleID],
                 warnings: [RuleID], settingsVersion: String, occurrences: Int?, decidedAt: Date, destination: String, requestBytes: [UInt8]?) {
        self.sequenceNumber = sequenceNumber
        self.input = input
        self.requestID = requestID
        self.revision = revision
        self.verdict = verdict
        self.violations = violations
        self.warnings = warnings
        self.settingsVersion = settingsVersion
        self.occurrences = occurrences
        self.decidedAt = decidedAt
        self.destination = destination
        self.requestBytes = requestBytes
    }
}

/// What `decideAndRecord(input:decidedAt:takingUp:_:)` did with a request.
public enum DecisionTaken {
    /// Decided and recorded now.
    case made(RecordedDecision)
    /// An earlier decision of the same input, which the caller took up; nothing was recorded.
    case takenUp(RecordedDecision)
}

/// The ledger of decisions. SQLite is the default; the protocol leaves room for a shared PostgreSQL ledger,
/// where `decideAndRecord` would run in one serialisable transaction across daemons.
public protocol Ledger: AnyObject, Sendable {
    /// The most recent decision recorded for `input`, if any.
    func latestDecision(for input: InputIdentity) throws -> RecordedDecision?

    /// Reads the state, lets `decide` reach a decision, and records it — all in one transaction, so caps
    /// hold however many deciders run. UNIQUE constraints refuse a second decision of the same
    /// (id, revision, action); that surfaces as `LedgerError.alreadyDecided`.
    func decideAndRecord(input: InputIdentity, decidedAt: Date,
                         _ decide: (any DecisionState) throws -> DecisionToRecord) throws -> RecordedDecision

    /// `decideAndRecord`, unless this ledger holds an earlier decision of `input` (one an interrupted run
    /// recorded and did not finish) that `takingUp` accepts: then that decision is returned and nothing is
    /// recorded. A ledger across the network looks for it in the round trip of the decision's first reads
    /// rather than in one of its own, and decides only when it finds none.
    func decideAndRecord(input: InputIdentity, decidedAt: Date, takingUp: (RecordedDecision) throws -> Bool,
                         _ decide: (any DecisionState) throws -> DecisionToRecord) throws -> DecisionTaken

    /// Runs `body` in one transaction: every `decideAndRecord` inside it joins it (each in a savepoint of its
    /// own), and all are committed together when `body` returns — the group commit of a batch.
    func transaction<T>(_ body: () throws -> T) throws -> T

    /// Runs `body` in one read transaction: every read inside it sees the same state on one connection, so a
    /// pass over many feeds opens one transaction, not one per feed.
    func snapshot<T>(_ body: () throws -> T) throws -> T

    /// A consistent read-only view, for `meetingd check`.
    func read<T>(_ body: (any DecisionState) throws -> T) throws -> T

    func meeting(id: String) throws -> StoredMeeting?

    /// The local file holding the ledger, which the spool's barrier must also make durable; nil for a ledger
    /// that is durable by itself (a database server).
    var localFile: String? { get }

    /// Counts for reports and tests: meetings approved and not withdrawn.
    func approvedCount() throws -> Int

    /// Every proposal and withdrawal recorded, in decision order, read in one snapshot: a decider working
    /// meanwhile changes nothing `each` sees.
    func history(_ each: (HistoryEntry) throws -> Void) throws

    /// How many entries `history` gives now.
    func historyCount() throws -> Int

    /// Every event feeds show now — approved meetings that end after `visibleAfter`, and withdrawn ones
    /// withdrawn after `cancelledAfter` that have not ended — in feed order, each with its feeds; with the
    /// last decision number, read in one snapshot.
    func feedEvents(visibleAfter: Date, cancelledAfter: Date) throws -> FeedEventBatch

    /// The events of every meeting that a decision numbered above `sequenceNumber` changed, shown or not
    /// (`FeedEvent.isShown`), with the last decision number, read in one snapshot: a feed pass reads what
    /// changed since the last one, not every event again.
    func feedEvents(changedAfter sequenceNumber: Int64) throws -> FeedEventBatch

    /// Every feed a meeting was ever published in: a feed whose meetings have all passed stays, empty.
    func feedKeys() throws -> [String]

    /// The feeds touched by decisions numbered above `sequenceNumber`, and the highest decision number.
    func feedsTouched(after sequenceNumber: Int64) throws -> (keys: [String], through: Int64)

    /// Whether other nodes record decisions in this ledger too (a shared PostgreSQL ledger): a node's feeds
    /// then follow theirs as well as its own.
    var isShared: Bool { get }

    /// True when other nodes may have recorded decisions since the last call: one was announced, or
    /// announcements may have been missed. A node catches its feeds up then.
    func takeNewsOfOtherNodes() -> Bool

    /// Throws when the ledger cannot be reached now (a shared ledger's database down): `/healthz` says so
    /// even while no request waits.
    func checkReachable() throws

    /// Decisions made again because a concurrent decision on another node changed what they read (`/metrics`).
    var conflictRetries: Int { get }

    /// Runs one of meetingd's own read-only statements (`ReportSQL`, `?` placeholders) and returns its rows:
    /// reports and the decision browser. Inside `snapshot`, it reads that snapshot.
    func select(_ sql: String, _ values: [LedgerCell]) throws -> [[LedgerCell]]

    /// How the database would run one of those statements (SQLite's `EXPLAIN QUERY PLAN`, PostgreSQL's
    /// `EXPLAIN`), one line a step: `meetingd report --explain` shows that each reads an index range.
    func explain(_ sql: String, _ values: [LedgerCell]) throws -> [String]
}

extension Ledger {
    public var isShared: Bool { false }
    public func takeNewsOfOtherNodes() -> Bool { false }
    public func checkReachable() throws {}
    public var conflictRetries: Int { 0 }

    /// On a local file the earlier decision is looked for first: a look costs no round trip.
    public func decideAndRecord(input: InputIdentity, decidedAt: Date, takingUp: (RecordedDecision) throws -> Bool,
                                _ decide: (any DecisionState) throws -> DecisionToRecord) throws -> DecisionTaken {
        if let earlier = try earlierDecision(of: input, takenUpBy: takingUp) { return .takenUp(earlier) }
        return .made(try decideAndRecord(input: input, decidedAt: decidedAt, decide))
    }

    /// The latest decision of `input`, if there is one and `takingUp` takes it up; a failure to read it or take
    /// it up is marked `EarlierDecisionUnreadable`.
    public func earlierDecision(of input: InputIdentity, takenUpBy takingUp: (RecordedDecision) throws -> Bool) throws -> RecordedDecision? {
        try EarlierDecisionUnreadable.marking {
            guard let earlier = try latestDecision(for: input), try takingUp(earlier) else { return nil }
            return earlier
        }
    }
}

/// A failure to read or take up an earlier decision of a file, kept apart from the request's own faults: a
/// file whose earlier decision cannot be read must wait in `incoming/`, never be decided (set aside) again.
public struct EarlierDecisionUnreadable: ClassifiedFailure, CustomStringConvertible {
    public let underlying: any Error
    public var isTransient: Bool { Failure.isTransient(underlying) }
    public var description: String { "the file's earlier decision cannot be read or taken up: \(underlying)" }

    /// Runs `body`, marking a failure that trying again cannot cure.
    public static func marking<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch where !Failure.isTransient(error) && !(error is EarlierDecisionUnreadable) {
            throw EarlierDecisionUnreadable(underlying: error)
        }
    }
}

public enum LedgerError: Error, CustomStringConvertible {
    case alreadyDecided(id: String, revision: Int, action: String)
    case corrupt(String)
    /// The ledger cannot be used as asked (missing, or of another meetingd's schema).
    case unavailable(String)

    public var description: String {
        switch self {
        case let .alreadyDecided(id, revision, action):
            return "the ledger already holds a decision for \(id) revision \(revision) (\(action))"
        case let .corrupt(what):
            return "the ledger holds data it cannot read: \(what)"
        case let .unavailable(why):
            return "the ledger cannot be opened: \(why)"
        }
    }
}


