import Foundation
import MeetingModel

/// What the rules know of an approved meeting in the ledger.
public struct MeetingRecord: Sendable, Equatable {
    public var id: String
    public var revision: Int
    public var title: String
    public var kind: MeetingKind
    public var organizerUnit: String
    public var organizerLevel: Level
    public var organizerType: OrganizerType
    public var organizerSystem: String?
    public var organizerRegion: String
    public var start: Date
    /// The start date in the meeting's own time zone.
    public var localStartDate: LocalDate
    public var reachesGrassroots: Bool
    public var attendeeUnits: [String]
    /// Regions whose township/village principal the meeting requires.
    public var grassrootsPrincipalRegions: [String]
    /// Statutory meetings are recorded but count for nothing.
    public var exempt: Bool

    public init(id: String, revision: Int, title: String, kind: MeetingKind, organizerUnit: String, organizerLevel: Level,
                organizerType: OrganizerType, organizerSystem: String?, organizerRegion: String, start: Date,
                localStartDate: LocalDate, reachesGrassroots: Bool, attendeeUnits: [String],
                grassrootsPrincipalRegions: [String], exempt: Bool) {
        self.id = id
        self.revision = revision
        self.title = title
        self.kind = kind
        self.organizerUnit = organizerUnit
        self.organizerLevel = organizerLevel
        self.organizerType = organizerType
        self.organizerSystem = organizerSystem
        self.organizerRegion = organizerRegion
        self.start = start
        self.localStartDate = localStartDate
        self.reachesGrassroots = reachesGrassroots
        self.attendeeUnits = attendeeUnits
        self.grassrootsPrincipalRegions = grassrootsPrincipalRegions
        self.exempt = exempt
    }

    public init(_ request: MeetingRequest) {
        id = request.id
        revision = request.revision
        title = request.title
        kind = request.kind
        organizerUnit = request.organizer.unit
        organizerLevel = request.organizer.level
        organizerType = request.organizer.type
        organizerSystem = request.organizer.system
        organizerRegion = request.organizer.region
        start = request.start
        localStartDate = request.localStart.date
        reachesGrassroots = request.reachesGrassroots
        attendeeUnits = request.attendeeUnits
        grassrootsPrincipalRegions = request.grassrootsPrincipalRegions
        exempt = request.kind == .statutory
    }

    /// One record per occurrence of `request` (one for a single meeting): what the ledger counts.
    public static func occurrences(of request: MeetingRequest) -> [MeetingRecord] {
        guard request.recurrence != nil else { return [MeetingRecord(request)] }
        return request.occurrences.map { MeetingRecord(request.at($0)) }
    }
}

/// Which approved, not withdrawn, non-exempt meetings a rule wants to count. Every criterion left nil matches all.
public struct MeetingQuery: Sendable, Equatable {
    public var kinds: Set<MeetingKind>?
    public var organizerUnit: String?
    public var organizerRegion: String?
    public var organizerSystem: String?
    public var organizerLevels: Set<Level>?
    /// Local start dates, inclusive.
    public var startDates: ClosedRange<LocalDate>
    public var grassrootsPrincipalRegion: String?
    /// The id being decided: its earlier approved revision is treated as withdrawn.
    public var excludingID: String?
    /// Only meetings that list at least one of these units among their attendees.
    public var sharingAttendeeUnits: Set<String>?

    public init(kinds: Set<MeetingKind>? = nil, organizerUnit: String? = nil, organizerRegion: String? = nil,
                organizerSystem: String? = nil, organizerLevels: Set<Level>? = nil, startDates: ClosedRange<LocalDate>,
                grassrootsPrincipalRegion: String? = nil, excludingID: String? = nil, sharingAttendeeUnits: Set<String>? = nil) {
        self.kinds = kinds
        self.organizerUnit = organizerUnit
        self.organizerRegion = organizerRegion
        self.organizerSystem = organizerSystem
        self.organizerLevels = organizerLevels
        self.startDates = startDates
        self.grassrootsPrincipalRegion = grassrootsPrincipalRegion
        self.excludingID = excludingID
        self.sharingAttendeeUnits = sharingAttendeeUnits
    }

    public func matches(_ record: MeetingRecord) -> Bool {
        !record.exempt
            && record.id != excludingID
            && kinds.map { $0.contains(record.kind) } ?? true
            && organizerUnit.map { $0 == record.organizerUnit } ?? true
            && organizerRegion.map { $0 == record.organizerRegion } ?? true
            && organizerSystem.map { $0 == record.organizerSystem } ?? true
            && organizerLevels.map { $0.contains(record.organizerLevel) } ?? true
            && startDates.contains(record.localStartDate)
            && grassrootsPrincipalRegion.map { record.grassrootsPrincipalRegions.contains($0) } ?? true
            && sharingAttendeeUnits.map { !$0.isDisjoint(with: record.attendeeUnits) } ?? true
    }
}

/// The read-only view of the ledger that rules see. Rules ask for what they need — a count, the first few
/// records, the dates — so that a decision's cost does not grow with how many meetings share its key.
public protocol LedgerView {
    /// How many approved, not withdrawn meetings match `query`.
    func countApproved(matching query: MeetingQuery) throws -> Int
    /// The first `limit` of them (all when nil), ordered by local start date, then id.
    func approvedMeetings(matching query: MeetingQuery, limit: Int?) throws -> [MeetingRecord]
    /// The first `limit` of them as a finding names them (id, local date, title), in that order: what a
    /// finding lists, read without each meeting's whole record.
    func countedMeetings(matching query: MeetingQuery, limit: Int) throws -> [CountedMeeting]
    /// The local start date of each of them, in that order.
    func approvedStartDates(matching query: MeetingQuery) throws -> [LocalDate]
    /// The approved, not withdrawn meeting `id`, if any (exempt ones included).
    func approvedMeeting(id: String) throws -> MeetingRecord?
}

extension LedgerView {
    /// Every approved meeting matching `query` (tests and tools; rules ask for a count or the first few).
    public func approvedMeetings(matching query: MeetingQuery) throws -> [MeetingRecord] {
        try approvedMeetings(matching: query, limit: nil)
    }

    /// From the records (a ledger that holds them at hand).
    public func countedMeetings(matching query: MeetingQuery, limit: Int) throws -> [CountedMeeting] {
        try approvedMeetings(matching: query, limit: limit).map(CountedMeeting.init)
    }
}

/// Where an id stands in the ledger, for revision and withdrawal handling.
public struct MeetingStanding: Sendable, Equatable {
    public var approvedRevision: Int?
    /// The SEQUENCE last published for the id's UID, if anything was.
    public var lastSequence: Int?
    /// The highest revision decided (approved or rejected) for the id.
    public var highestDecidedRevision: Int?
    /// The node that decided it, and when: a shared ledger names the office that decided a copy first.
    public var highestDecidedBy: String?
    public var highestDecidedAt: Date?

    public init(approvedRevision: Int? = nil, lastSequence: Int? = nil, highestDecidedRevision: Int? = nil,
                highestDecidedBy: String? = nil, highestDecidedAt: Date? = nil) {
        self.approvedRevision = approvedRevision
        self.lastSequence = lastSequence
        self.highestDecidedRevision = highestDecidedRevision
        self.highestDecidedBy = highestDecidedBy
        self.highestDecidedAt = highestDecidedAt
    }
}

/// The ledger as the decider sees it: the rules' view plus the standing of ids.
public protocol DecisionState: LedgerView {
    func standing(of id: String) throws -> MeetingStanding
    /// Whether reading ahead pays: each read is a round trip to a server (a shared ledger).
    var readsAhead: Bool { get }
    /// Starts reading `id`'s standing and `reads` at once; each answer is kept until it is asked for, and a
    /// read asked for that was not read ahead is read then.
    func readAhead(standingOf id: String, reads: [LedgerRead]) throws
}

extension DecisionState {
    public var readsAhead: Bool { false }
    public func readAhead(standingOf id: String, reads: [LedgerRead]) throws {}
}

/// A ledger held in memory: the reference behaviour for rule examples and for tests of other ledgers. A
/// series is held as one record per occurrence (`MeetingRecord.occurrences(of:)`), all with its id.
public struct InMemoryLedger: DecisionState, Sendable {
    public var meetings: [MeetingRecord]

    public init(_ meetings: [MeetingRecord] = []) { self.meetings = meetings }

    public func approvedMeetings(matching query: MeetingQuery, limit: Int? = nil) -> [MeetingRecord] {
        let all = meetings.filter(query.matches).sorted { ($0.localStartDate, $0.id, $0.start) < ($1.localStartDate, $1.id, $1.start) }
        return limit.map { Array(all.prefix($0)) } ?? all
    }

    public func countApproved(matching query: MeetingQuery) -> Int { meetings.filter(query.matches).count }

    public func approvedStartDates(matching query: MeetingQuery) -> [LocalDate] {
        approvedMeetings(matching: query).map(\.localStartDate)
    }

    public func approvedMeeting(id: String) -> MeetingRecord? { meetings.first { $0.id == id } }

    public func standing(of id: String) -> MeetingStanding {
        let revision = approvedMeeting(id: id)?.revision
        return MeetingStanding(approvedRevision: revision, lastSequence: revision == nil ? nil : 0, highestDecidedRevision: revision)
    }
}
