import Foundation
import MeetingModel
import MeetingRules

/// The texts written for people: the rejection note and the invalid-request note. Chinese first, then English.
public enum Notes {
    public static func rejection(_ request: MeetingRequest, _ decision: Decision, decidedAt: Date) -> String {
        var lines = [
            "会议申请未获批准 / Meeting request rejected",
            String(repeating: "=", count: 48),
        ]
        lines += header(request, decision, decidedAt: decidedAt)
        lines.append("")
        lines.append("以下规则未通过（\(decision.assessment.violations.count) 项）/ Rules not met (\(decision.assessment.violations.count)):")
        for (index, finding) in decision.assessment.violations.enumerated() {
            lines.append("")
            lines += block(index + 1, finding, request)
        }
        if !decision.assessment.warnings.isEmpty {
            lines.append("")
            lines.append("提示（不影响批准）/ Warnings (not blocking):")
            for finding in decision.assessment.warnings {
                lines.append("- \(finding.rule.rawValue)（第\(finding.clause)条）：\(finding.facts.zh)")
                lines.append("  \(finding.rule.rawValue) (clause \(finding.clause)): \(finding.facts.en)")
                if let dates = finding.dates { lines.append("  日期 Dates: " + datesText(dates)) }
            }
        }
        if !decision.assessment.waived.isEmpty {
            lines.append("")
            lines.append("已认可的批准 / Waivers accepted:")
            for waiver in decision.assessment.waived {
                lines.append("- \(waiver.rule.rawValue): \(waiver.approver ?? "-")，\(waiver.ref ?? "-")")
            }
        }
        if let recurrence = request.recurrence {
            let failing = Set(decision.assessment.violations.flatMap { $0.dates ?? [] })
            let held = recurrence.occurrences.filter { !failing.contains(request.clock.local($0.start).date) }
            lines.append("")
            if held.isEmpty {
                lines.append("系列的每一次都未通过，无法通过排除日期解决。")
                lines.append("Every occurrence of the series fails: excluding dates cannot save it.")
            } else {
                // The request's own exdates stay: the fix is the list to resubmit with.
                let exdates = failing.union(recurrence.exdates).sorted()
                lines.append("整个系列因以上日期未获批准。将这些日期列入 recurrence.exdates 后重新提交，其余 \(held.count) 次可获批准：")
                lines.append("The whole series is rejected because of the dates above. With them in recurrence.exdates, the other \(held.count) can pass:")
                lines.append("  \"exdates\": [" + exdates.map { "\"\($0)\"" }.joined(separator: ", ") + "]")
            }
        }
        lines.append("")
        lines.append("修改后请以同一 id、更高的 revision 重新提交。")
        lines.append("Resubmit with the same id and a higher revision once it is changed.")
        return lines.joined(separator: "\n") + "\n"
    }

    private static func header(_ request: MeetingRequest, _ decision: Decision, decidedAt: Date) -> [String] {
        let organizer = request.organizer
        let system = organizer.system.map { "，系统 \($0)" } ?? ""
        return [
            "申请编号 Request: \(request.id)（第 \(request.revision) 版 / revision \(request.revision)）",
            "会议名称 Title: \(request.title)",
            "会议类型 Kind: \(request.kind.chinese) (\(request.kind.rawValue))",
            "主办单位 Organizer: \(organizer.unit)（\(organizer.level.chinese)级 \(organizer.type.rawValue)\(system)，\(organizer.region)）",
            "会议时间 Time: \(request.localStart.description) – \(request.localEnd.description) (\(request.timeZoneName))",
        ] + series(request) + [
            "决定时间 Decided: \(DecisionLine.timestamp(decidedAt, request.timeZone))；规则设置 settings \(decision.settingsVersion)",
        ]
    }

    /// The series line of a recurring request: its rule and how many occurrences it holds.
    private static func series(_ request: MeetingRequest) -> [String] {
        guard let recurrence = request.recurrence else { return [] }
        var lines = ["重复 Recurrence: \(recurrence.rule)（共 \(recurrence.occurrences.count) 次 / \(recurrence.occurrences.count) occurrences）"]
        if !recurrence.exdates.isEmpty { lines.append("不举行 Excluded: " + datesText(recurrence.exdates)) }
        return lines
    }

    /// Every date, seven a line, and how many: the note is where the office finds the dates to exclude.
    private static func datesText(_ dates: [LocalDate]) -> String {
        var rows: [String] = []
        var index = 0
        while index < dates.count {
            rows.append(dates[index..<min(index + 7, dates.count)].map(\.description).joined(separator: ", "))
            index += 7
        }
        return rows.joined(separator: ",\n     ") + "（\(dates.count) 个日期 / \(dates.count) date\(dates.count == 1 ? "" : "s")）"
    }

    private static func block(_ number: Int, _ finding: Finding, _ request: MeetingRequest) -> [String] {
        var lines = [
            "\(number). \(finding.rule.rawValue)（第\(finding.clause)条 / clause \(finding.clause)）",
            "   原文 Regulation: “\(finding.sentence)”",
        ]
        if let dates = finding.dates {
            lines.append("   未通过的日期 Failing dates: " + datesText(dates))
            lines.append("   （以下事实为第一个日期 \(dates.first.map(\.description) ?? "") 的情况 / the facts of the first date）")
        }
        lines.append("   事实：\(finding.facts.zh)")
        if !finding.counted.isEmpty {
            lines.append("   已计入的会议 / Meetings counted:")
            for meeting in finding.counted {
                // A counted meeting with the request's own id is an earlier occurrence of this series (an approved
                // earlier revision is never counted): its title is the request's, whatever the ledger holds.
                let title = meeting.id == request.id ? request.title : meeting.title
                lines.append("     - \(meeting.id)  \(meeting.date)  \(title)")
            }
            if finding.countedNotListed > 0 {
                lines.append("     … 另有 \(finding.countedNotListed) 个 / and \(finding.countedNotListed) more")
            }
        }
        lines.append("   整改：\(finding.fix.zh)")
        lines.append("   Facts: \(finding.facts.en)")
        lines.append("   How to pass: \(finding.fix.en)")
        return lines
    }

    public static func invalid(fileName: String, _ decision: Decision) -> String {
        var lines = fileHeader("会议申请无效，未作决定 / Invalid request, not decided", fileName: fileName, decision)
        lines.append("")
        lines.append("问题（每行一个）/ Problems, one per line ($.path: what is wrong):")
        lines += decision.problems
        lines.append("")
        lines.append("请按 request-format 修改后重新放入 incoming/。原文件原样保存在本目录。")
        lines.append("Correct the request and drop it into incoming/ again. The file is kept here unchanged.")
        return lines.joined(separator: "\n") + "\n"
    }

    /// The note of a request set aside after its decision was recorded: the decision stands in the ledger
    /// (and counts against caps), but a step after it failed for a reason retrying cannot cure.
    public static func setAside(fileName: String, _ decision: Decision, sequenceNumber: Int64, cause: String) -> String {
        var lines = fileHeader("会议申请已决定，但无法完成输出，已移至此处 / Request decided, but set aside: its outputs could not be finished",
                               fileName: fileName, decision)
        lines.append("决定 Decision: \(decision.verdict.rawValue)（台账第 \(sequenceNumber) 号 / ledger decision \(sequenceNumber)）")
        lines.append("")
        lines.append("原因 Cause: \(cause)")
        lines.append("")
        lines.append("该决定已记入台账并计入限额；请联系管理员。原文件原样保存在本目录。")
        lines.append("The decision is recorded in the ledger and counts against caps; tell the administrator. The file is kept here unchanged.")
        return lines.joined(separator: "\n") + "\n"
    }

    /// The heading of a note about one spool file: what happened, the file's name and the request id if read.
    private static func fileHeader(_ heading: String, fileName: String, _ decision: Decision) -> [String] {
        var lines = [heading, String(repeating: "=", count: 48), "文件 File: \(fileName)"]
        if let id = decision.requestID { lines.append("申请编号 Request: \(id)") }
        return lines
    }
}
