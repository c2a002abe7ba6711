import MeetingModel

/// Clause 6: speaking time is controlled; no general work reports or pledges.
public struct SpeechTimeControlled: Rule {
    public let id = RuleID.speechTimeControlled
    public let clause = "6"
    public let sentence = "有发言安排的应当控制发言时间，不搞一般性工作汇报、表态"
    public let summary = "no work-report or pledge agenda items (at severity); other speech items last at most max_minutes (at minutes_severity)"
    public let defaultSeverity = Severity.reject
    public let settings = [
        SettingSpec("max_minutes", .integer(minimum: 1, maximum: 20160), default: .integer(15), help: "longest speech item, in minutes"),
        SettingSpec("minutes_severity", .severity, default: .text("warn"), help: "severity of a speech over max_minutes"),
    ]
    public let fix = Bilingual(zh: "删去一般性工作汇报和表态发言，控制每个发言的时长。",
                               en: "Drop general work reports and pledges, and keep each speech within the limit.")

    public init() {}

    public func check(_ context: RuleContext) -> [Finding] {
        let limit = context.settings.integer("max_minutes")
        var findings: [Finding] = []
        for (index, item) in context.request.agenda.enumerated() {
            let speaker = item.speaker ?? "?"
            switch item.type {
            case .workReport, .pledge:
                let word = item.type == .pledge ? "表态发言" : "一般性工作汇报"
                findings.append(finding(zh: "议程第 \(index + 1) 项是\(word)（\(speaker)）",
                                        en: "agenda item \(index + 1) is a \(item.type.rawValue) (\(speaker))"))
            case .speech:
                if let minutes = item.minutes, minutes > limit {
                    findings.append(finding(zh: "议程第 \(index + 1) 项发言（\(speaker)）\(minutes) 分钟，超过 \(limit) 分钟",
                                            en: "agenda item \(index + 1) (speech by \(speaker)) lasts \(minutes) minutes, over \(limit)",
                                            severitySetting: "minutes_severity"))
                }
            default:
                continue
            }
        }
        return findings
    }

    public var examples: [RuleExample] {
        [
            .passes("short speeches", Sample.meeting().with { $0.agenda.append(.init(type: .speech, speaker: "李四", minutes: 10)) }),
            .fails("pledges", Sample.meeting().with { $0.agenda.append(.init(type: .pledge, speaker: "各区县卫健局", minutes: 20)) }),
            .fails("a work report", Sample.meeting().with { $0.agenda.append(.init(type: .workReport, speaker: "西湖区")) }),
            .fails("a 25-minute speech", Sample.meeting().with { $0.agenda.append(.init(type: .speech, speaker: "李四", minutes: 25)) }),
        ]
    }
}
