import MeetingModel

/// An approved meeting that a cap counted, named in the facts of a finding.
public struct CountedMeeting: Sendable, Equatable, Codable {
    public var id: String
    public var date: LocalDate
    public var title: String

    public init(id: String, date: LocalDate, title: String) {
        self.id = id
        self.date = date
        self.title = title
    }

    public init(_ record: MeetingRecord) { self.init(id: record.id, date: record.localStartDate, title: record.title) }
}

/// Text in the two languages of a note: Chinese first, English second.
public struct Bilingual: Sendable, Equatable, Codable {
    public var zh: String
    public var en: String

    public init(zh: String, en: String) {
        self.zh = zh
        self.en = en
    }
}

/// A rule's verdict on one aspect of a request: a value, never an error.
public struct Finding: Sendable, Equatable, Codable {
    public var rule: RuleID
    public var clause: String
    public var sentence: String
    public var facts: Bilingual
    public var fix: Bilingual
    /// The first of the approved meetings a cap counted (at most `listed_meetings`, 10 by default; empty for
    /// rules that count nothing). The full list is derivable from the ledger.
    public var counted: [CountedMeeting]
    /// How many meetings were counted in all, when more than `counted` lists.
    public var countedTotal: Int?
    /// The setting that gives this finding's severity when it is not the rule's `severity`
    /// (`speech-time-controlled` reports over-long speeches at `minutes_severity`).
    public var severitySetting: String?

    public init(rule: RuleID, clause: String, sentence: String, facts: Bilingual, fix: Bilingual, counted: [CountedMeeting] = []) {
        self.rule = rule
        self.clause = clause
        self.sentence = sentence
        self.facts = facts
        self.fix = fix
        self.counted = counted
    }

    /// How many counted meetings `counted` leaves out.
    public var countedNotListed: Int { max(0, (countedTotal ?? counted.count) - counted.count) }

    /// The facts in one line, as the decision log and `X-MEETINGD-WARNING` carry them.
    public var factsLine: String {
        guard !counted.isEmpty else { return facts.en }
        let more = countedNotListed > 0 ? " and \(countedNotListed) more" : ""
        return facts.en + "; counted: " + counted.map { "\($0.id) (\($0.date))" }.joined(separator: ", ") + more
    }
}

/// An approval that cancelled a finding (a waiver), kept for audit.
public struct Waiver: Sendable, Equatable, Codable {
    public var rule: RuleID
    public var ref: String?
    public var approver: String?
    public var approverRole: AttendeeRole?

    public init(rule: RuleID, approval: MeetingRequest.Approval) {
        self.rule = rule
        ref = approval.ref
        approver = approval.approver
        approverRole = approval.approverRole
    }
}

/// Everything the rules found about one request.
public struct Assessment: Sendable, Equatable, Codable {
    public var violations: [Finding] = []
    public var warnings: [Finding] = []
    public var waived: [Waiver] = []

    public init(violations: [Finding] = [], warnings: [Finding] = [], waived: [Waiver] = []) {
        self.violations = violations
        self.warnings = warnings
        self.waived = waived
    }

    public var isApproved: Bool { violations.isEmpty }
}
