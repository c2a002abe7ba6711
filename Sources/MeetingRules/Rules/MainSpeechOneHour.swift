import MeetingModel

/// Clause 6: a principal's speech or the main report lasts at most one hour.
public struct MainSpeechOneHour: Rule {
    public let id = RuleID.mainSpeechOneHour
    public let clause = "6"
    public let sentence = "主要负责同志讲话或者会议主报告不超过1小时"
    public let summary = "every main-speech or main-report agenda item lasts at most max_minutes"
    public let defaultSeverity = Severity.reject
    public let settings = [SettingSpec("max_minutes", .integer(minimum: 1, maximum: 20160), default: .integer(60),
                                       help: "longest main speech or main report, in minutes")]
    public let fix = Bilingual(zh: "将主要讲话或主报告压缩到时限以内。", en: "Shorten the main speech or main report to the limit.")

    public init() {}

    public func check(_ context: RuleContext) -> [Finding] {
        let limit = context.settings.integer("max_minutes")
        return context.request.agenda.enumerated().compactMap { index, item in
            guard item.type == .mainSpeech || item.type == .mainReport, let minutes = item.minutes, minutes > limit else { return nil }
            let speaker = item.speaker ?? "?"
            return finding(zh: "议程第 \(index + 1) 项（\(item.type.rawValue)，\(speaker)）\(minutes) 分钟，超过 \(limit) 分钟",
                           en: "agenda item \(index + 1) (\(item.type.rawValue) by \(speaker)) lasts \(minutes) minutes, over \(limit)")
        }
    }

    public var examples: [RuleExample] {
        [
            .passes("an hour exactly", Sample.meeting().with { $0.agenda[0].minutes = 60 }),
            .fails("a 75-minute main report", Sample.meeting().with { $0.agenda = [.init(type: .mainReport, speaker: "陈一", minutes: 75)] }),
        ]
    }
}
