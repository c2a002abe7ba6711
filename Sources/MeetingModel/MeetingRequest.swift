import Foundation

/// A validated meeting proposal (format version 1). Optional text fields are nil when absent or empty.
public struct MeetingRequest: Sendable {
    public struct Organizer: Sendable, Equatable {
        public var unit: String
        public var level: Level
        public var type: OrganizerType
        public var system: String?
        public var region: String


        public init(unit: String, level: Level, type: OrganizerType, system: String? = nil, region: String) {
            self.unit = unit
            self.level = level
            self.type = type
            self.system = system
            self.region = region
        }
    }

    public struct Convener: Sendable, Equatable {
        public var name: String?
        public var rank: ConvenerRank


        public init(name: String? = nil, rank: ConvenerRank) {
            self.name = name
            self.rank = rank
        }
    }

    public struct Attendee: Sendable, Equatable {
        public var unit: String
        public var level: Level
        public var region: String
        public var type: OrganizerType
        public var role: AttendeeRole
        public var required: Bool
        public var reason: String?
        public var accompanying: Bool
        public var email: String?

        /// A required 主要负责同志 (party secretary or head of government).
        public var isRequiredPrincipal: Bool { required && role.isPrincipal }


        public init(unit: String, level: Level, region: String, type: OrganizerType = .department, role: AttendeeRole,
                    required: Bool = true, reason: String? = nil, accompanying: Bool = false, email: String? = nil) {
            self.unit = unit
            self.level = level
            self.region = region
            self.type = type
            self.role = role
            self.required = required
            self.reason = reason
            self.accompanying = accompanying
            self.email = email
        }
    }

    public struct AgendaItem: Sendable, Equatable {
        public var type: AgendaItemType
        public var speaker: String?
        public var speakerRole: AttendeeRole?
        public var speakerRegion: String?
        public var minutes: Int?


        public init(type: AgendaItemType, speaker: String? = nil, speakerRole: AttendeeRole? = nil,
                    speakerRegion: String? = nil, minutes: Int? = nil) {
            self.type = type
            self.speaker = speaker
            self.speakerRole = speakerRole
            self.speakerRegion = speakerRegion
            self.minutes = minutes
        }
    }

    public struct Approval: Sendable, Equatable, Codable {
        public var rule: RuleID
        public var approver: String?
        public var approverRole: AttendeeRole?
        public var approverLevel: Level?
        public var ref: String?
        public var date: String?


        public init(rule: RuleID, approver: String? = nil, approverRole: AttendeeRole? = nil,
                    approverLevel: Level? = nil, ref: String? = nil, date: String? = nil) {
            self.rule = rule
            self.approver = approver
            self.approverRole = approverRole
            self.approverLevel = approverLevel
            self.ref = ref
            self.date = date
        }
    }

    public var id: String
    public var revision: Int
    public var title: String
    public var kind: MeetingKind
    public var purpose: Purpose?
    public var organizer: Organizer
    public var convener: Convener
    public var start: Date
    public var end: Date
    public var timeZone: TimeZone
    /// The tz database name as the request (or the config) wrote it: the TZID of its calendar object.
    /// Foundation may report another spelling (`UTC` as `GMT`), so the name is kept, not re-derived.
    public var timeZoneName: String
    public var location: String?
    public var contact: String?
    public var planRef: String?
    public var coveredByDocument: String?
    public var mode: MeetingMode
    public var groupDiscussion: Bool
    public var reachesGrassroots: Bool
    public var relays: String?
    /// When the superior directive was issued; a bare date means 00:00 local time.
    public var directiveIssued: Date?
    public var attendees: [Attendee]
    public var agenda: [AgendaItem]
    public var approvals: [Approval]
    /// A recurring series (`recurrence`), expanded; nil for one meeting. `start`/`end` are its first occurrence.
    public var recurrence: Recurrence?

    public var clock: ZonedClock { ZonedClock(timeZone: timeZone) }
    public var localStart: LocalDateTime { clock.local(start) }
    public var localEnd: LocalDateTime { clock.local(end) }

    /// Regions of the township/village principals this meeting requires (township-leader load).
    public var grassrootsPrincipalRegions: [String] {
        var seen = Set<String>()
        return attendees
            .filter { $0.isRequiredPrincipal && ($0.level == .township || $0.level == .village) }
            .map(\.region)
            .filter { seen.insert($0).inserted }
    }

    /// Attendee units in request order, each once.
    public var attendeeUnits: [String] {
        var seen = Set<String>()
        return attendees.map(\.unit).filter { seen.insert($0).inserted }
    }

    public func approval(for rule: RuleID) -> Approval? { approvals.first { $0.rule == rule } }

    public init(
        id: String, revision: Int = 1, title: String, kind: MeetingKind, purpose: Purpose? = nil,
        organizer: Organizer, convener: Convener = .init(rank: .principal),
        start: Date, end: Date, timeZone: TimeZone = TimeZone(identifier: "Asia/Shanghai")!, timeZoneName: String? = nil,
        location: String? = nil, contact: String? = nil, planRef: String? = nil, coveredByDocument: String? = nil,
        mode: MeetingMode = .inPerson, groupDiscussion: Bool = false, reachesGrassroots: Bool = false,
        relays: String? = nil, directiveIssued: Date? = nil,
        attendees: [Attendee] = [], agenda: [AgendaItem] = [], approvals: [Approval] = [], recurrence: Recurrence? = nil
    ) {
        self.id = id
        self.revision = revision
        self.title = title
        self.kind = kind
        self.purpose = purpose
        self.organizer = organizer
        self.convener = convener
        self.start = start
        self.end = end
        self.timeZone = timeZone
        self.timeZoneName = timeZoneName ?? timeZone.identifier
        self.location = location
        self.contact = contact
        self.planRef = planRef
        self.coveredByDocument = coveredByDocument
        self.mode = mode
        self.groupDiscussion = groupDiscussion
        self.reachesGrassroots = reachesGrassroots
        self.relays = relays
        self.directiveIssued = directiveIssued
        self.attendees = attendees
        self.agenda = agenda
        self.approvals = approvals
        self.recurrence = recurrence
    }
}

/// A request to withdraw the approved meeting `id`.
public struct Withdrawal: Sendable, Equatable {
    public var id: String
    /// The revision the sender means to withdraw, when they named one.
    public var revision: Int?

    public init(id: String, revision: Int? = nil) {
        self.id = id
        self.revision = revision
    }
}

/// What a spool file turned out to be.
public enum ParsedRequest: Sendable {
    case proposal(MeetingRequest)
    case withdrawal(Withdrawal)

    public var id: String {
        switch self {
        case let .proposal(request): return request.id
        case let .withdrawal(withdrawal): return withdrawal.id
        }
    }
}
