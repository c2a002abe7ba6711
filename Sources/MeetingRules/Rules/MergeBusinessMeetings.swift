import MeetingModel

/// Clause 4: business work meetings that can be merged are merged.
public struct MergeBusinessMeetings: Rule {
    public let id = RuleID.mergeBusinessMeetings
    public let clause = "4"
    public let sentence = "业务工作会议能合并的合并"
    public let summary = "no other approved business meeting of the same organizer unit within window_days calendar days that shares an attendee unit"
    public let defaultSeverity = Severity.warn
    public let settings = [SettingSpec("window_days", .integer(minimum: 0, maximum: 366), default: .integer(7),
                                       help: "calendar days between local start dates within which two meetings could be merged")]
    public let fix = Bilingual(zh: "与相近日期、参会单位重叠的业务工作会议合并召开。",
                               en: "Hold it together with the nearby business meeting that the same units attend.")

    public init() {}

    public func check(_ context: RuleContext) throws -> [Finding] {
        let request = context.request
        guard request.kind == .business else { return [] }
        let day = context.localStartDate
        let window = context.settings.integer("window_days")
        let units = Set(request.attendeeUnits)
        guard !units.isEmpty else { return [] }
        let query = MeetingQuery(kinds: [.business], organizerUnit: request.organizer.unit,
                                 startDates: day.adding(days: -window)...day.adding(days: window), sharingAttendeeUnits: units)
        let nearby = try context.count(query)
        guard nearby > 0 else { return [] }
        return [finding(
            zh: "\(window) 天内已有 \(nearby) 个同一单位召开、参会单位重叠的业务工作会议，可以合并",
            en: "\(nearby) business meeting(s) of \(request.organizer.unit) within \(window) days share attendee units and could be merged",
            counted: try context.listed(query), total: nearby)]
    }

    public var examples: [RuleExample] {
        let earlier = Sample.meeting("biz-1", from: "2025-03-14 09:00", to: "2025-03-14 11:00")
        return [
            .passes("no nearby meeting", Sample.meeting("biz-2")),
            .passes("nearby meeting with other attendees", Sample.meeting("biz-2", attendees: [
                .init(unit: "上城区卫生健康局", level: .county, region: "浙江省/杭州市/上城区", role: .departmentHead)]), after: [earlier]),
            .passes("eight days apart", Sample.meeting("biz-2", from: "2025-03-22 09:00", to: "2025-03-22 11:00"), after: [earlier]),
            .fails("four days after a meeting with the same attendees", Sample.meeting("biz-2"), after: [earlier]),
        ]
    }
}
