import Foundation
import MeetingModel
import MeetingRules
import MeetingSpool

/// A replay's findings as `meetingd replay` prints them: JSON (`shared/spec/replay.md`), text for a
/// terminal, or one HTML page.
public struct ReplayReport: Sendable {
    public var before: RuleSettingsSet
    public var after: RuleSettingsSet
    public var window: HistoryReplay.Window
    public var outcome: ReplayOutcome
    /// The zone of the decision times shown (the config's `timezone`).
    public var timeZone: TimeZone

    public init(before: RuleSettingsSet, after: RuleSettingsSet, window: HistoryReplay.Window, outcome: ReplayOutcome, timeZone: TimeZone) {
        self.before = before
        self.after = after
        self.window = window
        self.outcome = outcome
        self.timeZone = timeZone
    }

    /// Every setting whose value differs, by key, with its value before and after.
    public var changed: [(key: String, before: SettingValue, after: SettingValue)] {
        let old = Dictionary(before.entries, uniquingKeysWith: { first, _ in first })
        return after.entries.compactMap { entry in
            guard let previous = old[entry.key], previous != entry.value else { return nil }
            return (entry.key, previous, entry.value)
        }
    }

    /// Rules in catalogue order, with their changes.
    private var ruleRows: [(rule: RuleID, changes: ReplayOutcome.RuleChanges)] {
        RuleCatalog.standard.rules.compactMap { rule in outcome.byRule[rule.id].map { (rule.id, $0) } }
    }

    /// `2025-03-02T09:00:01+08:00`, as the spec's example writes the decision time (the log's has milliseconds).
    private func time(_ date: Date) -> String { DecisionLine.timestamp(date, timeZone, milliseconds: false) }

    // MARK: JSON

    public var json: JSONValue {
        func value(_ setting: SettingValue) -> JSONValue {
            switch setting {
            case let .integer(number): return .integer(number)
            case let .text(text): return .string(text)
            }
        }
        func verdicts(_ verdicts: ReplayOutcome.Verdicts) -> JSONValue {
            .object([("verdict", .string(verdicts.verdict.rawValue)),
                     ("violations", .array(verdicts.violations.map { .string($0.rawValue) })),
                     ("warnings", .array(verdicts.warnings.map { .string($0.rawValue) }))])
        }
        return .object([
            ("settings", .object([("before", .string(before.version)), ("after", .string(after.version))])),
            ("changed", .object(changed.map { ($0.key, .array([value($0.before), value($0.after)])) })),
            ("window", .object([("from", .optional(window.from?.description)), ("to", .optional(window.to?.description))])),
            ("replayed", .integer(outcome.replayed)),
            ("compared", .integer(outcome.compared)),
            ("decided_under", .object(outcome.decidedUnder.sorted { $0.key < $1.key }.map { ($0.key, .integer($0.value)) })),
            ("flips", .object([("approved_to_rejected", .integer(outcome.approvedToRejected)),
                               ("rejected_to_approved", .integer(outcome.rejectedToApproved)),
                               ("rules_changed", .integer(outcome.rulesChanged)),
                               ("other_verdict_changes", .integer(outcome.otherVerdictChanges))])),
            ("by_rule", .array(ruleRows.map { row in
                .object([("rule", .string(row.rule.rawValue)), ("newly_violated", .integer(row.changes.newlyViolated)),
                         ("no_longer_violated", .integer(row.changes.noLongerViolated)),
                         ("newly_warned", .integer(row.changes.newlyWarned)), ("no_longer_warned", .integer(row.changes.noLongerWarned))])
            })),
            ("decisions", .array(outcome.flips.map { flip in
                .object([("id", .optional(flip.id)), ("revision", flip.revision.map(JSONValue.integer) ?? .null),
                         ("seq", .integer(Int(flip.sequenceNumber))), ("decided", .string(time(flip.decidedAt))),
                         ("before", verdicts(flip.before)), ("after", verdicts(flip.after))])
            })),
            ("not_replayed", .array(outcome.skipped.map { skipped in
                .object([("seq", .integer(Int(skipped.sequenceNumber))), ("id", .optional(skipped.id)), ("reason", .string(skipped.reason))])
            })),
        ])
    }

    // MARK: Text

    private static func rules(_ verdicts: ReplayOutcome.Verdicts) -> String {
        var parts = [verdicts.verdict.rawValue]
        if !verdicts.violations.isEmpty { parts.append("violates " + verdicts.violations.map(\.rawValue).joined(separator: ",")) }
        if !verdicts.warnings.isEmpty { parts.append("warns " + verdicts.warnings.map(\.rawValue).joined(separator: ",")) }
        return parts.joined(separator: " ")
    }

    private var summaryLines: [String] {
        var lines = ["replayed \(outcome.replayed) decision(s); compared \(outcome.compared)"
                     + (window.from != nil || window.to != nil ? " from \(window.from?.description ?? "the start") to \(window.to?.description ?? "the end")" : ""),
                     "settings \(before.version) -> \(after.version)"]
        for change in changed { lines.append("  \(change.key): \(change.before) -> \(change.after)") }
        lines.append("flips: \(outcome.approvedToRejected) approved -> rejected, \(outcome.rejectedToApproved) rejected -> approved, "
                     + "\(outcome.rulesChanged) with other rules, \(outcome.otherVerdictChanges) other verdict changes")
        return lines
    }

    public var text: String {
        var lines = summaryLines
        if !ruleRows.isEmpty {
            lines.append("by rule (newly violated / no longer violated / newly warned / no longer warned):")
            for row in ruleRows {
                lines.append("  \(row.rule.rawValue): +\(row.changes.newlyViolated) -\(row.changes.noLongerViolated) "
                             + "+\(row.changes.newlyWarned) -\(row.changes.noLongerWarned)")
            }
        }
        for flip in outcome.flips {
            lines.append("\(time(flip.decidedAt))  \(flip.id ?? "-") r\(flip.revision.map(String.init) ?? "-")  "
                         + "\(Self.rules(flip.before))  =>  \(Self.rules(flip.after))")
            for finding in flip.decision.assessment.violations where !flip.before.violations.contains(finding.rule) {
                lines.append("    now violates \(finding.rule.rawValue): \(finding.factsLine)")
            }
        }
        for skipped in outcome.skipped {
            lines.append("not replayed: decision \(skipped.sequenceNumber) (\(skipped.id ?? "-")): \(skipped.reason)")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    // MARK: HTML

    private static let style: StaticString = """
        body{font-family:"Noto Sans CJK SC","Source Han Sans SC",sans-serif;margin:1rem auto;max-width:60rem;padding:0 1rem;line-height:1.5}
        table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #bbb;padding:.2rem .5rem;text-align:left;vertical-align:top}
        .num{text-align:right}pre{white-space:pre-wrap;overflow-wrap:anywhere;background:#f6f6f6;padding:.5rem}
        .flip{border-top:1px solid #888;margin-top:1rem}.rejected{color:#a00}.approved{color:#060}
        """

    public var html: String {
        let summary = HTML.el("table", [], [
            HTML.el("tr", [], [.el("th", [], "重新决定 Replayed"), .el("td", [("class", "num")], "\(outcome.replayed)")]),
            HTML.el("tr", [], [.el("th", [], "比较 Compared"), .el("td", [("class", "num")], "\(outcome.compared)")]),
            HTML.el("tr", [], [.el("th", [], "批准→驳回 Approved → rejected"), .el("td", [("class", "num")], "\(outcome.approvedToRejected)")]),
            HTML.el("tr", [], [.el("th", [], "驳回→批准 Rejected → approved"), .el("td", [("class", "num")], "\(outcome.rejectedToApproved)")]),
            HTML.el("tr", [], [.el("th", [], "规则变化 Other rules"), .el("td", [("class", "num")], "\(outcome.rulesChanged)")]),
            HTML.el("tr", [], [.el("th", [], "其他 Other verdict changes"), .el("td", [("class", "num")], "\(outcome.otherVerdictChanges)")]),
        ])
        let settings = HTML.el("table", [], [HTML.el("tr", [], [.el("th", [], "设置 Setting"), .el("th", [], "原 Before"), .el("th", [], "新 After")])]
            + changed.map { HTML.el("tr", [], [.el("td", [], $0.key), .el("td", [], $0.before.description), .el("td", [], $0.after.description)]) })
        let byRule = HTML.el("table", [], [HTML.el("tr", [], [
            .el("th", [], "规则 Rule"), .el("th", [], "条款 Clause"), .el("th", [], "新违反 Newly violated"),
            .el("th", [], "不再违反 No longer violated"), .el("th", [], "新警告 Newly warned"), .el("th", [], "不再警告 No longer warned"),
        ])] + ruleRows.map { row in
            let rule = RuleCatalog.standard.rule(row.rule)
            return HTML.el("tr", [], [
                .el("td", [], [.el("strong", [], row.rule.rawValue), .el("br"), .text("「\(rule?.sentence ?? "")」")]),
                .el("td", [], rule?.clause ?? ""),
                .el("td", [("class", "num")], "\(row.changes.newlyViolated)"), .el("td", [("class", "num")], "\(row.changes.noLongerViolated)"),
                .el("td", [("class", "num")], "\(row.changes.newlyWarned)"), .el("td", [("class", "num")], "\(row.changes.noLongerWarned)"),
            ])
        })
        let flips = outcome.flips.map { flip -> HTML in
            var parts: [HTML] = [
                .el("h3", [], "\(flip.id ?? "-") r\(flip.revision.map(String.init) ?? "-")"),
                .el("p", [], [.text("决定于 Decided \(time(flip.decidedAt)) · "),
                              .el("span", [("class" as StaticString, flip.before.verdict.rawValue)], Self.rules(flip.before)),
                              .text(" → "),
                              .el("span", [("class" as StaticString, flip.after.verdict.rawValue)], Self.rules(flip.after))]),
            ]
            if let note = flip.note { parts.append(.el("pre", [], note)) }
            return HTML.el("section", [("class", "flip")], parts)
        }
        let skipped = outcome.skipped.isEmpty ? [] : [
            HTML.el("h2", [], "未能重新决定 Not replayed"),
            HTML.el("ul", [], outcome.skipped.map { .el("li", [], "\($0.sequenceNumber) \($0.id ?? "-"): \($0.reason)") }),
        ]
        let page = HTML.el("html", [("lang", "zh")], [
            .el("head", [], [
                .el("meta", [("charset", "utf-8")]),
                .el("meta", [("name", "viewport"), ("content", "width=device-width, initial-scale=1")]),
                .el("title", [], "meetingd 假设重演 What-if replay"),
                .el("style", [], [.trusted(Self.style)]),
            ]),
            .el("body", [], [
                .el("h1", [], "假设重演 What-if replay"),
                .el("p", [], "设置 Settings \(before.version) → \(after.version)"),
                summary,
                .el("h2", [], "改变的设置 Changed settings"), settings,
                .el("h2", [], "按规则 By rule"), byRule,
                .el("h2", [], "改变的决定 Decisions that change (\(outcome.flips.count))"),
            ] + flips + skipped),
        ])
        return page.document()
    }
}
