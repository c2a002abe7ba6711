import Foundation
import MeetingModel

/// Clause 4: superior directives are not relayed by a meeting held deliberately before the night is out.
public struct RelayNotOvernight: Rule {
    public let id = RuleID.relayNotOvernight
    public let clause = "4"
    public let sentence = "对上级精神不刻意搞开会传达不过夜"
    public let summary = "a relay meeting does not start within min_hours of directive_date (a bare date means 00:00 local time)"
    public let defaultSeverity = Severity.warn
    public let settings = [SettingSpec("min_hours", .integer(minimum: 0, maximum: 8760), default: .integer(24),
                                       help: "hours after the directive before a relay meeting may start")]
    public let fix = Bilingual(zh: "不必连夜开会传达：推迟会议，或结合其他会议、文件传达学习。",
                               en: "Do not rush a meeting to relay the directive: hold it later or relay it with another meeting or a document.")

    public init() {}

    public func check(_ context: RuleContext) -> [Finding] {
        let request = context.request
        guard request.kind == .relay, let issued = request.directiveIssued else { return [] }
        let hours = context.settings.integer("min_hours")
        let earliest = issued.addingTimeInterval(Double(hours) * 3600)
        guard request.start >= issued, request.start < earliest else { return [] }
        let clock = request.clock
        let gap = Int(request.start.timeIntervalSince(issued) / 3600)
        return [finding(
            zh: "上级精神 \(clock.local(issued).description) 下发，传达会议 \(clock.local(request.start).description) 召开，仅隔约 \(gap) 小时（不少于 \(hours) 小时）",
            en: "the directive came at \(clock.local(issued).description) and the relay meeting starts \(clock.local(request.start).description), about \(gap) h later (at least \(hours) h)")]
    }

    public var examples: [RuleExample] {
        let relay = Sample.meeting("relay-1", kind: .relay, from: "2025-03-18 09:00", to: "2025-03-18 10:00")
        return [
            .passes("two days after the directive", relay.with { $0.directiveIssued = Sample.at("2025-03-16 00:00") }),
            .fails("the morning after the directive", relay.with { $0.directiveIssued = Sample.at("2025-03-17 20:00") }),
            .fails("the day of a bare-date directive", relay.with { $0.directiveIssued = Sample.at("2025-03-18 00:00") }),
        ]
    }
}
