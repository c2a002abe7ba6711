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
        if !byKind.isEmpty {
            lines.append("")
            lines.append("by kind (approved / rejected):")
            for tally in byKind { lines.append("  \(tally.name): \(tally.approved) / \(tally.rejected)") }
        }
        if !byMonth.isEmpty {
            lines.append("")
            lines.append("by month (approved / rejected):")
            for tally in byMonth { lines.append("  \(tally.name): \(tally.approved) / \(tally.rejected)") }
        }
        if !caps.isEmpty {
            lines.append("")
            lines.append("caps (used / limit, remaining):")
            for cap in caps {
                lines.append("  \(cap.rule.rawValue) \(cap.period) \(cap.keyText): \(cap.used) / \(cap.limit), remaining \(cap.remaining)"
                             + (cap.isFull ? " FULL" : "") + " — " + cap.meetings.joined(separator: ", "))
            }
        }
        for window in yearEnd {
            lines.append("")
            lines.append("year-end window \(window.window.lowerBound)..\(window.window.upperBound), \(window.region): "
                         + "\(window.inWindow) of \(window.limitWindow) in the window; busiest 7 days "
                         + "\(window.busiest.lowerBound)..\(window.busiest.upperBound): \(window.busiestCount) of \(window.limitSevenDays)")
            for day in window.days { lines.append("  \(day.date): \(day.count) — " + day.meetings.joined(separator: ", ")) }
        }
        if !rejectionsByRule.isEmpty {
            lines.append("")
            lines.append("rejections by rule:")
            for rule in rejectionsByRule { lines.append("  \(rule.rule.rawValue) (clause \(rule.clause)): \(rule.count)") }
        }
        if !rejectionsByOrganizer.isEmpty {
            lines.append("")
            lines.append("rejections by organizer:")
            for organizer in rejectionsByOrganizer { lines.append("  \(organizer.unit): \(organizer.count)") }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
