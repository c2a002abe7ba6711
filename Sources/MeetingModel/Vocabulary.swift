/// The closed vocabularies of the request format (`shared/spec/request-format.md`).
/// Raw values are the exact strings of the format; `chinese` is the regulation's own word.

/// Administrative levels, highest first. `Comparable`: a *lower* level compares greater.
public enum Level: String, CaseIterable, Sendable, Codable, Comparable {
    case central, province, city, county, township, village

    public var chinese: String {
        switch self {
        case .central: return "中央"
        case .province: return "省"
        case .city: return "市"
        case .county: return "县"
        case .township: return "乡镇（街道）"
        case .village: return "村（社区）"
        }
    }

    var rank: Int { Self.allCases.firstIndex(of: self)! }

    /// `a < b` when `a` is the higher level (central < province < … < village).
    public static func < (lhs: Level, rhs: Level) -> Bool { lhs.rank < rhs.rank }

    /// True when `self` is below (下级 to) `other`.
    public func isLower(than other: Level) -> Bool { self > other }
}

public enum OrganizerType: String, CaseIterable, Sendable, Codable {
    case partyCommittee = "party-committee"
    case government
    case department
    case massOrganization = "mass-organization"
    case coordinationBody = "coordination-body"
}

public enum ConvenerRank: String, CaseIterable, Sendable, Codable {
    case principal, deputy
    case departmentHead = "department-head"
}

public enum AttendeeRole: String, CaseIterable, Sendable, Codable {
    case partySecretary = "party-secretary"
    case governmentHead = "government-head"
    case deputy
    case departmentHead = "department-head"
    case staff

    /// 主要负责同志: the party secretary or the head of government (村党组织书记, 村（居）委会主任 at village level).
    public var isPrincipal: Bool { self == .partySecretary || self == .governmentHead }
}

public enum MeetingKind: String, CaseIterable, Sendable, Codable {
    case comprehensive, business, routine
    case onSite = "on-site"
    case promotion, relay
    case inspectionMobilization = "inspection-mobilization"
    case inspectionFeedback = "inspection-feedback"
    case statutory, other

    public var chinese: String {
        switch self {
        case .comprehensive: return "综合性工作会议"
        case .business: return "业务工作会议"
        case .routine: return "日常性会议"
        case .onSite: return "现场观摩会"
        case .promotion: return "推进会"
        case .relay: return "传达会议"
        case .inspectionMobilization: return "督查检查考核动员会"
        case .inspectionFeedback: return "反馈会"
        case .statutory: return "法定性、制度性会议"
        case .other: return "其他会议"
        }
    }
}

public enum Purpose: String, CaseIterable, Sendable, Codable {
    case deploy, study, review, other
}

public enum MeetingMode: String, CaseIterable, Sendable, Codable {
    case inPerson = "in-person"
    case video, hybrid
}

public enum AgendaItemType: String, CaseIterable, Sendable, Codable {
    case mainSpeech = "main-speech"
    case mainReport = "main-report"
    case speech
    case workReport = "work-report"
    case pledge, discussion, other

    /// Items where someone speaks in the sense of clause 6 (讲话).
    public var isSpeaking: Bool { self == .mainSpeech || self == .mainReport || self == .speech }
}

public enum RequestAction: String, CaseIterable, Sendable, Codable {
    case propose, withdraw
}

/// The stable ids of the rule catalogue (`shared/spec/rules.md`). Requests name them in `approvals[].rule`.
public enum RuleID: String, CaseIterable, Sendable, Codable, Comparable {
    case planRequired = "plan-required"
    case annualComprehensiveCap = "annual-comprehensive-cap"
    case mergeBusinessMeetings = "merge-business-meetings"
    case routineFrequency = "routine-frequency"
    case relayNotOvernight = "relay-not-overnight"
    case grassrootsDirectApproval = "grassroots-direct-approval"
    case noCascadeAfterDirect = "no-cascade-after-direct"
    case onsitePromotionFrequency = "onsite-promotion-frequency"
    case documentAlreadyIssued = "document-already-issued"
    case yearEndClustering = "year-end-clustering"
    case townshipLeaderLoad = "township-leader-load"
    case noAccompanyingAttendance = "no-accompanying-attendance"
    case deputyConvenedNoPrincipals = "deputy-convened-no-principals"
    case departmentMeetingLeaders = "department-meeting-leaders"
    case principalAttendanceJustified = "principal-attendance-justified"
    case centralMeetingScope = "central-meeting-scope"
    case provincialMeetingScope = "provincial-meeting-scope"
    case onePrincipalSpeaks = "one-principal-speaks"
    case mainSpeechOneHour = "main-speech-one-hour"
    case speechTimeControlled = "speech-time-controlled"
    case sessionLength = "session-length"
    case preferVideo = "prefer-video"
    case noInspectionMeetings = "no-inspection-meetings"

    /// Catalogue order.
    public static func < (lhs: RuleID, rhs: RuleID) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

extension CaseIterable where Self: RawRepresentable, Self.RawValue == String {
    /// "central, province, city, …" for error messages.
    static var choices: String { allCases.map(\.rawValue).joined(separator: ", ") }
}
