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

    /// Stored as `["id", "2025-03-01"]`: ten of these are in many a ledger row, and the title is the meeting
    /// row's (the ledger fills it in when it reads the decision back). An object with the three keys, or an
    /// array with the title (what earlier versions wrote), is read as well.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.unkeyedContainer()
        try container.encode(id)
        try container.encode(date)
    }

    private enum CodingKeys: String, CodingKey { case id, date, title }

    public init(from decoder: any Decoder) throws {
        if var array = try? decoder.unkeyedContainer() {
            self.init(id: try array.decode(String.self), date: try array.decode(LocalDate.self),
                      title: array.isAtEnd ? "" : try array.decode(String.self))
        } else {
            let object = try decoder.container(keyedBy: CodingKeys.self)
            self.init(id: try object.decode(String.self, forKey: .id), date: try object.decode(LocalDate.self, forKey: .date),
                      title: try object.decode(String.self, forKey: .title))
        }
    }
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
    /// rules that count nothing); `countedTotal` says how many there were.
    public var counted: [CountedMeeting]
    /// How many meetings were counted in all, when more than `counted` lists.
    public var countedTotal: Int?
    /// The setting that gives this finding's severity when it is not the rule's `severity`
    /// (`speech-time-controlled` reports over-long speeches at `minutes_severity`).
    public var severitySetting: String?
    /// For a recurring series: the local dates of the occurrences this finding applies to (the facts are the
    /// first one's). nil for one meeting.
    public var dates: [LocalDate]?
    /// What the finding is about, when its rule can find several things about one request (the region of a
    /// township-leader-load finding). Only grouping a series' findings uses it; it is not stored.
    public var subject: String?

    public init(rule: RuleID, clause: String, sentence: String, facts: Bilingual, fix: Bilingual, counted: [CountedMeeting] = []) {
        self.rule = rule
        self.clause = clause
        self.sentence = sentence
        self.facts = facts
        self.fix = fix
        self.counted = counted
    }

    private enum CodingKeys: String, CodingKey {
        case rule, clause, sentence, facts, fix, counted, countedTotal, severitySetting, dates
    }

    /// Equal when everything stored is: `subject` is not stored, so a finding read back from the ledger
    /// equals the one decided.
    public static func == (lhs: Finding, rhs: Finding) -> Bool {
        lhs.rule == rhs.rule && lhs.clause == rhs.clause && lhs.sentence == rhs.sentence && lhs.facts == rhs.facts
            && lhs.fix == rhs.fix && lhs.counted == rhs.counted && lhs.countedTotal == rhs.countedTotal
            && lhs.severitySetting == rhs.severitySetting && lhs.dates == rhs.dates
    }

    /// Stored without the clause, sentence and fix when they are the catalogue's for its rule (they are
    /// read back from the catalogue): a ledger row keeps the facts, not the regulation's text again.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(rule, forKey: .rule)
        let catalogued = RuleCatalog.standard.rule(rule)
        if catalogued?.clause != clause { try container.encode(clause, forKey: .clause) }
        if catalogued?.sentence != sentence { try container.encode(sentence, forKey: .sentence) }
        if catalogued?.fix != fix { try container.encode(fix, forKey: .fix) }
        try container.encode(facts, forKey: .facts)
        if !counted.isEmpty { try container.encode(counted, forKey: .counted) }
        try container.encodeIfPresent(countedTotal, forKey: .countedTotal)
        try container.encodeIfPresent(severitySetting, forKey: .severitySetting)
        try container.encodeIfPresent(dates, forKey: .dates)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        rule = try container.decode(RuleID.self, forKey: .rule)
        let catalogued = RuleCatalog.standard.rule(rule)
        func text<T: Decodable>(_ key: CodingKeys, _ fallback: T?) throws -> T {
            if let value = try container.decodeIfPresent(T.self, forKey: key) { return value }
            guard let fallback else {
                throw DecodingError.keyNotFound(key, .init(codingPath: container.codingPath, debugDescription: "not in the catalogue either"))
            }
            return fallback
        }
        clause = try text(.clause, catalogued?.clause)
        sentence = try text(.sentence, catalogued?.sentence)
        fix = try text(.fix, catalogued?.fix)
        facts = try container.decode(Bilingual.self, forKey: .facts)
        counted = try container.decodeIfPresent([CountedMeeting].self, forKey: .counted) ?? []
        countedTotal = try container.decodeIfPresent(Int.self, forKey: .countedTotal)
        severitySetting = try container.decodeIfPresent(String.self, forKey: .severitySetting)
        dates = try container.decodeIfPresent([LocalDate].self, forKey: .dates)
    }

    /// The dates as a note shows them: `2025-03-03, 2025-03-10 … (7 dates)` — the first few and how many.
    public var datesLine: String? {
        guard let dates else { return nil }
        let shown = dates.prefix(Self.datesShown).map(\.description).joined(separator: ", ")
        return dates.count > Self.datesShown ? "\(shown) … (\(dates.count) dates)" : shown
    }

    static let datesShown = 10

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

    /// Every counted meeting's id, for filling in titles a stored assessment leaves out.
    public var countedIDs: Set<String> { Set((violations + warnings).flatMap { $0.counted.map(\.id) }) }

    /// The assessment with each counted meeting's title taken from `titles` where it has none.
    public func withCountedTitles(_ titles: [String: String]) -> Assessment {
        func fill(_ findings: [Finding]) -> [Finding] {
            findings.map { finding in
                var finding = finding
                finding.counted = finding.counted.map { meeting in
                    var meeting = meeting
                    if meeting.title.isEmpty { meeting.title = titles[meeting.id] ?? "" }
                    return meeting
                }
                return finding
            }
        }
        return Assessment(violations: fill(violations), warnings: fill(warnings), waived: waived)
    }

    private enum CodingKeys: String, CodingKey { case violations, warnings, waived }

    /// Empty lists are left out of the stored form.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        if !violations.isEmpty { try container.encode(violations, forKey: .violations) }
        if !warnings.isEmpty { try container.encode(warnings, forKey: .warnings) }
        if !waived.isEmpty { try container.encode(waived, forKey: .waived) }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        violations = try container.decodeIfPresent([Finding].self, forKey: .violations) ?? []
        warnings = try container.decodeIfPresent([Finding].self, forKey: .warnings) ?? []
        waived = try container.decodeIfPresent([Waiver].self, forKey: .waived) ?? []
    }
}
