import Foundation
import MeetingLedger
import MeetingModel
import MeetingRules

/// Makes a `Report` from a ledger, read in one snapshot. Caps and the year-end window are counted by the
/// rules' own queries (`CapRule.query(for:in:)`, `YearEndClustering.query(region:window:)`) through the same
/// ledger view the decider reads, with the settings in force: `remaining` is what the next request sees.
/// Only the candidate keys (which units, regions and systems have meetings in the year) come from queries of
/// the report's own; a key they name that counts nothing is left out.
public struct ReportBuilder {
    public let catalog: RuleCatalog
    public let settings: RuleSettingsSet
    public let timeZone: TimeZone

    public init(catalog: RuleCatalog = .standard, settings: RuleSettingsSet, timeZone: TimeZone) {
        self.catalog = catalog
        self.settings = settings
        self.timeZone = timeZone
    }

    /// The current year where the office is.
    public func currentYear(now: Date = Date()) -> Int { ZonedClock(timeZone: timeZone).local(now).date.year }

    /// A series counts in the years after the one it begins in: up to the longest span recurrence allows.
    static let seriesYears = RecurrenceLimits.spanDaysRange.upperBound / 365 + 1

    public func build(ledger: any Ledger, year: Int, region: String?, now: Date = Date()) throws -> Report {
        var report = Report(year: year, region: region, generated: Self.timestamp(now, in: timeZone), settings: settings.version)
        try ledger.snapshot {
            try tallyDecisions(ledger, into: &report)
            try ledger.read { state in
                report.caps = try caps(ledger, state, year: year, region: region)
                report.yearEnd = try yearEnd(ledger, state, year: year, region: region)
            }
        }
        return report
    }

    // MARK: Decisions of the year

    private func tallyDecisions(_ ledger: any Ledger, into report: inout Report) throws {
        let query = ReportSQL.decisionsOfYear(report.year, region: report.region)
        var kinds: [String: Report.Tally] = [:]
        var months: [String: Report.Tally] = [:]
        var byRule: [RuleID: Int] = [:]
        var byOrganizer: [String: Int] = [:]
        let decoder = JSONDecoder()
        for row in try ledger.select(query.sql, query.values) {
            let action = row[1].text ?? "", verdict = row[2].text ?? ""
            let kind = row[3].text ?? "", month = String((row[4].text ?? "").prefix(7)), unit = row[5].text ?? ""
            switch (action, verdict) {
            case ("propose", "approved"):
                // Counted once, by its current revision, while it stands approved.
                guard row[7].text == "approved" else { continue }
                report.totals.approved += 1
                if row[8].integer == 1 { report.totals.exempt += 1 }
                kinds[kind, default: Report.Tally(name: kind)].approved += 1
                months[month, default: Report.Tally(name: month)].approved += 1
            case ("propose", "rejected"):
                report.totals.rejected += 1
                kinds[kind, default: Report.Tally(name: kind)].rejected += 1
                months[month, default: Report.Tally(name: month)].rejected += 1
                byOrganizer[unit, default: 0] += 1
                if let json = row[6].text, let body = try? decoder.decode(RecordedVerdicts.self, from: Data(json.utf8)) {
                    for rule in RecordedVerdicts.ids(body.assessment.violations) { byRule[rule, default: 0] += 1 }
                }
            case ("withdraw", "withdrawn"):
                report.totals.withdrawn += 1
            case (_, "invalid"):
                report.totals.invalid += 1
            default:
                continue
            }
        }
        let kindOrder = MeetingKind.allCases.map(\.rawValue)
        report.byKind = kinds.values.sorted { (kindOrder.firstIndex(of: $0.name) ?? 99, $0.name) < (kindOrder.firstIndex(of: $1.name) ?? 99, $1.name) }
        report.byMonth = months.values.sorted { $0.name < $1.name }
        report.rejectionsByRule = byRule.map { id, count in
            let rule = catalog.rule(id)
            return Report.RuleRejections(rule: id, clause: rule?.clause ?? "", sentence: rule?.sentence ?? "", count: count)
        }.sorted { ($1.count, $0.rule.rawValue) < ($0.count, $1.rule.rawValue) }
        report.rejectionsByOrganizer = byOrganizer.map { Report.OrganizerRejections(unit: $0, count: $1) }
            .sorted { ($1.count, $0.unit) < ($0.count, $1.unit) }
    }

    // MARK: Caps

    private func caps(_ ledger: any Ledger, _ state: any DecisionState, year: Int, region: String?) throws -> [Report.CapUse] {
        var uses: [Report.CapUse] = []
        for case let rule as any CapRule in catalog.rules {
            let ruleSettings = settings[rule.id]
            guard ruleSettings.severity != .off else { continue }
            let periods = rule.period.periods(of: year)
            // Each candidate key with the periods it may count in.
            var candidates: [(CapKey, [(label: String, dates: ClosedRange<LocalDate>)])] = []
            switch rule.keyKind {
            case .regionAndSystem:
                let yearDates = CapPeriod.year.periods(of: year)[0].dates
                let query = ReportSQL.comprehensiveKeys(yearDates, region: region, cityAndCountyOnly: false)
                candidates = try ledger.select(query.sql, query.values).map { (CapKey(region: $0[0].text, system: $0[1].text), periods) }
            case .organizerUnit:
                let query = ReportSQL.organizerUnits(year: year, kinds: rule.countedKinds.map { $0.map(\.rawValue).sorted() },
                                                     region: region, seriesYears: Self.seriesYears)
                candidates = try ledger.select(query.sql, query.values).compactMap { row in
                    row[0].text.map { (CapKey(unit: $0), periods) }
                }
            case .principalRegion:
                let query = ReportSQL.principalRegions(year: year, region: region)
                var months: [String: Set<String>] = [:]
                var order: [String] = []
                for row in try ledger.select(query.sql, query.values) {
                    guard let key = row[0].text, let month = row[1].text else { continue }
                    if months[key] == nil { order.append(key) }
                    months[key, default: []].insert(month)
                }
                candidates = order.map { key in (CapKey(region: key), periods.filter { months[key]!.contains($0.label) }) }
            }
            let limit = rule.limit(ruleSettings)
            for (key, keyPeriods) in candidates {
                for period in keyPeriods {
                    let query = rule.query(for: key, in: period.dates)
                    let used = try state.countApproved(matching: query)
                    guard used > 0 else { continue }
                    let meetings = try state.countedMeetings(matching: query, limit: used).map(\.id)
                    uses.append(Report.CapUse(rule: rule.id, keyKind: rule.keyKind, key: key, period: period.label, used: used,
                                              limit: limit, meetings: Self.once(meetings), rejects: ruleSettings.severity == .reject))
                }
            }
        }
        return uses
    }

    // MARK: The year-end window

    private func yearEnd(_ ledger: any Ledger, _ state: any DecisionState, year: Int, region: String?) throws -> [Report.YearEndRegion] {
        let rule = YearEndClustering()
        let ruleSettings = settings[rule.id]
        guard ruleSettings.severity != .off else { return [] }
        let window = YearEndClustering.window(startingIn: year, settings: ruleSettings)
        let keys = ReportSQL.comprehensiveKeys(window, region: region, cityAndCountyOnly: true)
        let regions = Self.once(try ledger.select(keys.sql, keys.values).compactMap { $0[0].text })
        return try regions.compactMap { organizerRegion in
            let query = YearEndClustering.query(region: organizerRegion, window: window)
            let dates = try state.approvedStartDates(matching: query)
            guard !dates.isEmpty else { return nil }
            let counted = try state.countedMeetings(matching: query, limit: dates.count)
            var days: [Report.YearEndDay] = []
            for meeting in counted {
                if days.last?.date == meeting.date {
                    days[days.count - 1].count += 1
                    if !days[days.count - 1].meetings.contains(meeting.id) { days[days.count - 1].meetings.append(meeting.id) }
                } else {
                    days.append(Report.YearEndDay(date: meeting.date, count: 1, meetings: [meeting.id]))
                }
            }
            let busiest = YearEndClustering.busiestSevenDays(dates, in: window)
            return Report.YearEndRegion(
                region: organizerRegion, window: window, days: days, busiest: busiest.run, busiestCount: busiest.count,
                limitSevenDays: ruleSettings.integer("max_per_7_days"), inWindow: dates.count,
                limitWindow: ruleSettings.integer("max_in_window"))
        }
    }

    // MARK: Plans

    /// The statements of the report's own (its counts are the rules', whose plans the ledger tests check) and
    /// of the browser's `unit` listing, each with the database's plan for it: what `report --explain` prints.
    public func explain(ledger: any Ledger, year: Int, region: String?, unit: String) throws -> String {
        var statements: [(String, ReportSQL.Statement)] = [
            ("decisions of the year", ReportSQL.decisionsOfYear(year, region: region)),
            ("units of the year", ReportSQL.organizerUnits(year: year, kinds: ["routine"], region: region, seriesYears: Self.seriesYears)),
            ("comprehensive keys", ReportSQL.comprehensiveKeys(CapPeriod.year.periods(of: year)[0].dates, region: region, cityAndCountyOnly: false)),
            ("township keys", ReportSQL.principalRegions(year: year, region: region)),
            ("decisions of a unit, newest first", ReportSQL.browse(ReportSQL.BrowserFilter(unit: unit), limit: DecisionBrowser.pageSize + 1, offset: 0)),
        ]
        statements.append(("one request's history", ReportSQL.Statement(ReportSQL.history, [.text("x")])))
        var lines: [String] = []
        for (name, statement) in statements {
            lines.append("-- \(name)")
            lines.append(statement.sql.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " "))
            lines += try ledger.explain(statement.sql, statement.values).map { "   " + $0 }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    // MARK: Helpers

    /// Each once, in the order first seen (a series' occurrences share its id).
    static func once(_ items: [String]) -> [String] {
        var seen = Set<String>()
        return items.filter { seen.insert($0).inserted }
    }

    /// `2025-11-02T10:00:00+08:00`: the instant as the office's clock shows it.
    public static func timestamp(_ instant: Date, in timeZone: TimeZone) -> String {
        let whole = Date(timeIntervalSince1970: instant.timeIntervalSince1970.rounded(.down))
        let local = ZonedClock(timeZone: timeZone).local(whole)
        let seconds = Int(local.secondsOfDay.rounded())
        let offset = timeZone.secondsFromGMT(for: whole)
        let sign = offset < 0 ? "-" : "+"
        return "\(local.date)T\((seconds / 3600).zeroPadded(2)):\((seconds / 60 % 60).zeroPadded(2)):\((seconds % 60).zeroPadded(2))"
            + "\(sign)\((abs(offset) / 3600).zeroPadded(2)):\((abs(offset) / 60 % 60).zeroPadded(2))"
    }
}
