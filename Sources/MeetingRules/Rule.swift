import MeetingModel

/// How `approvals[]` entries naming a rule are treated (`shared/spec/rules.md`, "A waiver is…").
public enum WaiverPolicy: String, Sendable {
    /// Approvals are ignored; the finding stays.
    case none
    /// An approval naming the rule cancels a finding at `reject` severity (原则上 / 一般 rules).
    case waivable
    /// The check itself asks for an approval (`plan-required`, `grassroots-direct-approval`, `department-meeting-leaders`).
    case approvalIsTheCheck = "approval-is-the-check"
}

/// One rule of the catalogue: its identity, the regulation's words, its settings, its check and its examples.
/// A rule never throws for a broken rule: it returns findings as values.
public protocol Rule: Sendable {
    var id: RuleID { get }
    /// The clause number of the 2024 regulation.
    var clause: String { get }
    /// The quoted sentence of the regulation, in Chinese.
    var sentence: String { get }
    /// What the check does, in one English sentence (for `meetingd rules` and the README).
    var summary: String { get }
    var defaultSeverity: Severity { get }
    var waiverPolicy: WaiverPolicy { get }
    /// Settings beyond `severity`, with defaults.
    var settings: [SettingSpec] { get }
    /// What would make a failing request pass.
    var fix: Bilingual { get }
    func check(_ context: RuleContext) throws -> [Finding]
    /// For `approvalIsTheCheck` rules: the approvals the check accepted, recorded as waivers.
    func approvalsUsed(_ context: RuleContext) -> [MeetingRequest.Approval]
    /// Requests that pass and fail this rule; one generic test runs them all.
    var examples: [RuleExample] { get }
}

extension Rule {
    public var settings: [SettingSpec] { [] }
    public var waiverPolicy: WaiverPolicy { .none }
    public func approvalsUsed(_ context: RuleContext) -> [MeetingRequest.Approval] { [] }

    /// A finding of this rule with its citation and fix hint filled in; `counted` lists the first meetings
    /// counted, `total` says how many there were in all.
    /// `subject`: what the finding is about when a rule can find several things about one request (a region
    /// whose principal is over the load): a series keeps one finding per subject, each with its own dates.
    public func finding(zh: String, en: String, counted: [CountedMeeting] = [], total: Int? = nil, severitySetting: String? = nil,
                        subject: String? = nil) -> Finding {
        var finding = Finding(rule: id, clause: clause, sentence: sentence, facts: Bilingual(zh: zh, en: en),
                              fix: fix, counted: counted)
        if let total, total > counted.count { finding.countedTotal = total }
        finding.severitySetting = severitySetting
        finding.subject = subject
        return finding
    }
}

/// What a rule's check sees: the request, its settings and a read-only view of the ledger.
public struct RuleContext {
    public let request: MeetingRequest
    /// The settings of the rule being checked: the engine makes one context per request and sets each rule's
    /// in turn, rather than copying the request into a context per rule.
    public internal(set) var settings: RuleSettings
    private let ledger: any LedgerView

    /// How many counted meetings a finding lists (`listed_meetings`).
    public let listLimit: Int

    public init(request: MeetingRequest, settings: RuleSettings, ledger: any LedgerView, listLimit: Int = 10) {
        self.request = request
        self.settings = settings
        self.ledger = ledger
        self.listLimit = listLimit
    }

    private func excludingThisRequest(_ query: MeetingQuery) -> MeetingQuery {
        var query = query
        query.excludingID = request.id
        return query
    }

    /// How many approved meetings match `query`, the request's own earlier revision excluded: a count, not
    /// the records, so a crowded key costs an index range, not a row per meeting.
    public func count(_ query: MeetingQuery) throws -> Int {
        try ledger.countApproved(matching: excludingThisRequest(query))
    }

    /// The first `listLimit` of them, for a finding to name.
    public func listed(_ query: MeetingQuery) throws -> [CountedMeeting] {
        // None are asked for when nothing will show them (a replay that writes no notes).
        guard listLimit > 0 else { return [] }
        return try ledger.countedMeetings(matching: excludingThisRequest(query), limit: listLimit)
    }

    /// The local start date of every one of them, in order (a rule that slides a window over dates).
    public func startDates(_ query: MeetingQuery) throws -> [LocalDate] {
        try ledger.approvedStartDates(matching: excludingThisRequest(query))
    }

    public func approvedMeeting(id: String) throws -> MeetingRecord? {
        id == request.id ? nil : try ledger.approvedMeeting(id: id)
    }

    public var localStartDate: LocalDate { request.localStart.date }
}

/// A request a rule must pass or fail, with the meetings already approved and settings to change.
public struct RuleExample: Sendable {
    public let name: String
    public let request: MeetingRequest
    public let approvedBefore: [MeetingRequest]
    public let settings: [String: SettingValue]
    /// True when the rule must report a finding (before any waiver).
    public let triggers: Bool

    public static func passes(_ name: String, _ request: MeetingRequest, after approved: [MeetingRequest] = [],
                              settings: [String: SettingValue] = [:]) -> RuleExample {
        RuleExample(name: name, request: request, approvedBefore: approved, settings: settings, triggers: false)
    }

    public static func fails(_ name: String, _ request: MeetingRequest, after approved: [MeetingRequest] = [],
                             settings: [String: SettingValue] = [:]) -> RuleExample {
        RuleExample(name: name, request: request, approvedBefore: approved, settings: settings, triggers: true)
    }
}
