import MeetingModel
import MeetingRules

extension Report {
    /// The report as plain text for a terminal or a mail: the same numbers as the JSON, one fact a line.
    public var text: String {
        var lines: [String] = []
        lines.append("会议年度报告 Meetings report \(year)" + (region.map { " — \($0)" } ?? ""))
        lines.append("generated \(generated), settings \(settings)")
        lines.append("")
        lines.append("totals: approved \(totals.approved), rejected \(totals.rejected), invalid \(totals.invalid), "
                     + "withdrawn \(totals.withdrawn), exempt \(totals.exempt)")
        func section(_ heading: String, _ items: [String]) {
            guard !items.isEmpty else { return }
            lines += ["", heading] + items.map { "  " + $0 }
        }
        section("by kind (approved / rejected):", byKind.map { "\($0.name): \($0.approved) / \($0.rejected)" })
        section("by month (approved / rejected):", byMonth.map { "\($0.name): \($0.approved) / \($0.rejected)" })
        section("caps (used / limit, remaining):", caps.map { cap in
            "\(cap.rule.rawValue) \(cap.period) \(cap.keyText): \(cap.used) / \(cap.limit), remaining \(cap.remaining)"
                + (cap.isFull ? " FULL" : "") + " — " + cap.meetings.joined(separator: ", ")
        })
        for window in yearEnd {
            lines.append("")
            lines.append("year-end window \(window.window.lowerBound)..\(window.window.upperBound), \(window.region): "
                         + "\(window.inWindow) of \(window.limitWindow) in the window; busiest 7 days "
                         + "\(window.busiest.lowerBound)..\(window.busiest.upperBound): \(window.busiestCount) of \(window.limitSevenDays)")
            for day in window.days { lines.append("  \(day.date): \(day.count) — " + day.meetings.joined(separator: ", ")) }
        }
        section("rejections by rule:", rejectionsByRule.map { "\($0.rule.rawValue) (clause \($0.clause)): \($0.count)" })
        section("rejections by organizer:", rejectionsByOrganizer.map { "\($0.unit): \($0.count)" })
        return lines.joined(separator: "\n") + "\n"
    }
}
