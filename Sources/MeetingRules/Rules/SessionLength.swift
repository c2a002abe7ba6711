import MeetingModel

/// Clause 6: meetings with group discussion last at most a day and a half; others half a day.
public struct SessionLength: Rule {
    public let id = RuleID.sessionLength
    public let clause = "6"
    public let sentence = "安排分组讨论的会议，会期原则上不超过1天半，其他会议一般安排半天以内"
    public let summary = "half-day slots touched (cut at half_day_boundary, local time): at most max_slots_with_discussion with group_discussion, max_slots without"
    public let defaultSeverity = Severity.reject
    public let waiverPolicy = WaiverPolicy.waivable
    public let settings = [
        SettingSpec("half_day_boundary", .timeOfDay, default: .text("12:30"), help: "local time that divides morning and afternoon slots"),
        SettingSpec("max_slots", .integer(minimum: 1, maximum: 28), default: .integer(1), help: "half-day slots without group discussion"),
        SettingSpec("max_slots_with_discussion", .integer(minimum: 1, maximum: 28), default: .integer(3), help: "half-day slots with group discussion (3 = 1.5 days)"),
    ]
    public let fix = Bilingual(zh: "压缩会期：无分组讨论的会议安排在半天以内，有分组讨论的不超过1天半；确需延长的附上批准（rule 为 session-length）。",
                               en: "Shorten the meeting: half a day without group discussion, a day and a half with it; or add an approval naming session-length.")

    public init() {}

    public func check(_ context: RuleContext) -> [Finding] {
        let request = context.request
        let slots = request.clock.halfDaySlots(start: request.start, end: request.end,
                                               boundary: context.settings.secondsOfDay("half_day_boundary"))
        let limit = context.settings.integer(request.groupDiscussion ? "max_slots_with_discussion" : "max_slots")
        guard slots > limit else { return [] }
        let span = "\(request.localStart.description)–\(request.localEnd.description)"
        return [finding(
            zh: "会期 \(span) 占 \(slots) 个半天，\(request.groupDiscussion ? "有" : "无")分组讨论的会议上限 \(limit) 个半天",
            en: "\(span) takes \(slots) half-day slots; a meeting \(request.groupDiscussion ? "with" : "without") group discussion may take \(limit)")]
    }

    public var examples: [RuleExample] {
        [
            .passes("a morning", Sample.meeting(from: "2025-04-02 09:00", to: "2025-04-02 12:30")),
            .passes("a day and a half with discussion", Sample.meeting(from: "2025-04-09 09:00", to: "2025-04-10 11:30").with { $0.groupDiscussion = true }),
            .fails("a full day without discussion", Sample.meeting(from: "2025-04-02 09:00", to: "2025-04-02 17:00")),
            .fails("past 12:30", Sample.meeting(from: "2025-04-02 09:00", to: "2025-04-02 12:31")),
            .fails("two full days with discussion", Sample.meeting(from: "2025-04-09 09:00", to: "2025-04-10 17:00").with { $0.groupDiscussion = true }),
        ]
    }
}
