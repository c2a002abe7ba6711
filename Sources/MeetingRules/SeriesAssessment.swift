import MeetingModel

/// The ledger as one occurrence of a series sees it: the approved meetings, plus the series' own earlier
/// occurrences, which count like meetings approved before it (`shared/spec/recurrence.md`).
struct SeriesLedgerView: LedgerView {
    let base: any LedgerView
    /// The occurrences already checked, in order.
    let earlier: [MeetingRecord]

    /// The series' own occurrences carry the id being decided, which `excludingID` leaves out of the ledger's
    /// meetings (its earlier revision is being replaced); they are counted all the same.
    private func own(_ query: MeetingQuery) -> [MeetingRecord] {
        var query = query
        query.excludingID = nil
        return earlier.filter(query.matches)
    }

    func countApproved(matching query: MeetingQuery) throws -> Int {
        try base.countApproved(matching: query) + own(query).count
    }

    func approvedMeetings(matching query: MeetingQuery, limit: Int?) throws -> [MeetingRecord] {
        let merged = (try base.approvedMeetings(matching: query, limit: limit) + own(query))
            .sorted { ($0.localStartDate, $0.id, $0.start) < ($1.localStartDate, $1.id, $1.start) }
        return limit.map { Array(merged.prefix($0)) } ?? merged
    }

    func countedMeetings(matching query: MeetingQuery, limit: Int) throws -> [CountedMeeting] {
        // The series' own occurrences carry the id the ledger's meetings exclude: no two are at one place.
        let merged = (try base.countedMeetings(matching: query, limit: limit) + own(query).map(CountedMeeting.init))
            .enumerated().sorted { ($0.element.date, $0.element.id, $0.offset) < ($1.element.date, $1.element.id, $1.offset) }
        return merged.prefix(limit).map(\.element)
    }

    func approvedStartDates(matching query: MeetingQuery) throws -> [LocalDate] {
        (try base.approvedStartDates(matching: query) + own(query).map(\.localStartDate)).sorted()
    }

    func approvedMeeting(id: String) throws -> MeetingRecord? { try base.approvedMeeting(id: id) }
}

extension RuleEngine {
    /// A series is checked one occurrence at a time, each as a meeting of its own against the ledger and the
    /// occurrences before it; the findings are then grouped by rule (and subject: each region over its load
    /// keeps its own), each with the dates it failed on and the facts of the first
    /// (`shared/spec/recurrence.md`). One meeting is checked as itself.
    public func assessAll(_ request: MeetingRequest, ledger: any LedgerView) throws -> Assessment {
        guard let series = request.recurrence else { return try assess(request, ledger: ledger) }
        var earlier: [MeetingRecord] = []
        var checked: [(date: LocalDate, assessment: Assessment)] = []
        for occurrence in series.occurrences {
            let single = request.at(occurrence)
            checked.append((single.localStart.date, try assess(single, ledger: SeriesLedgerView(base: ledger, earlier: earlier))))
            earlier.append(MeetingRecord(single))
        }
        return Assessment(grouping: checked)
    }
}

extension Assessment {
    /// One finding list per kind (violations, warnings), grouped by rule across occurrences.
    init(grouping checked: [(date: LocalDate, assessment: Assessment)]) {
        func group(_ findings: (Assessment) -> [Finding]) -> [Finding] {
            struct Key: Hashable {
                let rule: RuleID
                let severitySetting: String?
                let subject: String?
            }
            var order: [Key] = []
            var firstIndex: [Key: Int] = [:]
            var firstFindings: [Key: [Finding]] = [:]
            var dates: [Key: [LocalDate]] = [:]
            for (index, (date, assessment)) in checked.enumerated() {
                var seenHere = Set<Key>()
                for finding in findings(assessment) {
                    let key = Key(rule: finding.rule, severitySetting: finding.severitySetting, subject: finding.subject)
                    if firstIndex[key] == nil {
                        firstIndex[key] = index
                        order.append(key)
                    }
                    // The facts are the first failing occurrence's (every finding it has of the rule).
                    if firstIndex[key] == index { firstFindings[key, default: []].append(finding) }
                    if seenHere.insert(key).inserted, dates[key]?.last != date { dates[key, default: []].append(date) }
                }
            }
            return order.flatMap { key in
                firstFindings[key]!.map { finding in
                    var finding = finding
                    finding.dates = dates[key]
                    return finding
                }
            }
        }
        var waived: [Waiver] = []
        for (_, assessment) in checked {
            for waiver in assessment.waived where !waived.contains(waiver) { waived.append(waiver) }
        }
        self.init(violations: group(\.violations), warnings: group(\.warnings), waived: waived)
    }
}
