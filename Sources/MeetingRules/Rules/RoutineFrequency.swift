import MeetingModel

/// Clause 4: routine meetings are kept lean and their frequency controlled.
public struct RoutineFrequency: CapRule {
    public let id = RuleID.routineFrequency
    public let clause = "4"
    public let sentence = "日常性会议应当精简务实、控制频次"
    public let summary = "at most max_per_month routine meetings of the same organizer unit in one calendar month"
    public let defaultSeverity = Severity.warn
    public let settings = [SettingSpec("max_per_month", .integer(minimum: 1, maximum: 1000), default: .integer(4),
                                       help: "routine meetings per organizer unit per calendar month")]
    public let fix = Bilingual(zh: "减少本月日常性会议，合并议题或改用文件、简报。",
                               en: "Hold fewer routine meetings this month: combine agendas or use a circular instead.")

    public let keyKind = CapKeyKind.organizerUnit
    public let period = CapPeriod.month
    public let limitSetting = "max_per_month"
    public let countedKinds: Set<MeetingKind>? = [.routine]

    public init() {}

    public func query(for key: CapKey, in dates: ClosedRange<LocalDate>) -> MeetingQuery {
        MeetingQuery(kinds: [.routine], organizerUnit: key.unit, startDates: dates)
    }

    public func check(_ context: RuleContext) throws -> [Finding] {
        let request = context.request
        guard request.kind == .routine else { return [] }
        let day = context.localStartDate
        let query = self.query(for: CapKey(unit: request.organizer.unit), in: period.dates(containing: day))
        let counted = try context.count(query)
        let limit = limit(context.settings)
        guard counted + 1 > limit else { return [] }
        return [finding(
            zh: "\(request.organizer.unit) \(day.monthKey) 月日常性会议连同本次共 \(counted + 1) 次，上限 \(limit) 次",
            en: "\(counted + 1) routine meetings of \(request.organizer.unit) in \(day.monthKey) with this one; the limit is \(limit)",
            counted: try context.listed(query), total: counted)]
    }

    public var examples: [RuleExample] {
        let weekly = (1...4).map { Sample.meeting("routine-\($0)", kind: .routine, from: "2025-03-0\($0) 09:00", to: "2025-03-0\($0) 10:00") }
        return [
            .passes("fourth routine meeting of the month", Sample.meeting("routine-x", kind: .routine), after: Array(weekly.prefix(3))),
            .passes("first routine meeting of the next month", Sample.meeting("routine-x", kind: .routine, from: "2025-04-01 09:00", to: "2025-04-01 10:00"), after: weekly),
            .fails("fifth routine meeting of the month", Sample.meeting("routine-x", kind: .routine), after: weekly),
        ]
    }
}
