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

    /// A finding of this rule with its citation and fix hint filled in.
    public func finding(zh: String, en: String, counted: [MeetingRecord] = [], severitySetting: String? = nil) -> Finding {
        var finding = Finding(rule: id, clause: clause, sentence: sentence, facts: Bilingual(zh: zh, en: en),
                              fix: fix, counted: counted.map(CountedMeeting.init))
        finding.severitySetting = severitySetting
        return finding
    }
}

/// What a rule's check sees: the request, its settings and a read-only view of the ledger.
public struct RuleContext {
    public let request: MeetingRequest
    public let settings: RuleSettings
    private let ledger: any LedgerView

    public init(request: MeetingRequest, settings: RuleSettings, ledger: any LedgerView) {
        self.request = request
        self.settings = settings
        self.ledger = ledger
    }

    /// Approved meetings matching `query`, the request's own earlier revision excluded.
    public func approved(_ query: MeetingQuery) throws -> [MeetingRecord] {
        var query = query
        query.excludingID = request.id
        return try ledger.approvedMeetings(matching: query)
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
