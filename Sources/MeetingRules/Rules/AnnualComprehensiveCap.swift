import MeetingModel

/// Clause 4: one comprehensive work meeting per system and field per year, in principle.
public struct AnnualComprehensiveCap: CapRule {
    public let id = RuleID.annualComprehensiveCap
    public let clause = "4"
    public let sentence = "本系统本领域综合性工作会议，原则上每年不超过1次"
    public let summary = "at most max_per_year comprehensive meetings with the same organizer region + system in one calendar year"
    public let defaultSeverity = Severity.reject
    public let waiverPolicy = WaiverPolicy.waivable
    public let settings = [SettingSpec("max_per_year", .integer(minimum: 1, maximum: 366), default: .integer(1),
                                       help: "comprehensive meetings per organizer region and system per calendar year")]
    public let fix = Bilingual(zh: "与已批准的综合性工作会议合并，或改为业务工作会议，或附上批准（rule 为 annual-comprehensive-cap）。",
                               en: "Merge into the comprehensive meeting already approved, hold it as a business meeting, or add an approval naming annual-comprehensive-cap.")

    public let keyKind = CapKeyKind.regionAndSystem
    public let period = CapPeriod.year
    public let limitSetting = "max_per_year"
    public let countedKinds: Set<MeetingKind>? = [.comprehensive]

    public init() {}

    public func query(for key: CapKey, in dates: ClosedRange<LocalDate>) -> MeetingQuery {
        MeetingQuery(kinds: [.comprehensive], organizerRegion: key.region, organizerSystem: key.system, startDates: dates)
    }

    public func check(_ context: RuleContext) throws -> [Finding] {
        let request = context.request
        guard request.kind == .comprehensive else { return [] }
        let year = context.localStartDate
        let query = self.query(for: CapKey(region: request.organizer.region, system: request.organizer.system),
                               in: period.dates(containing: year))
        let counted = try context.count(query)
        let limit = limit(context.settings)
        guard counted + 1 > limit else { return [] }
        let system = request.organizer.system ?? ""
        return [finding(
            zh: "\(request.organizer.region)「\(system)」系统 \(year.year) 年已批准 \(counted) 次综合性工作会议，本次为第 \(counted + 1) 次，上限 \(limit) 次",
            en: "\(counted + 1) comprehensive meetings of system \"\(system)\" in \(request.organizer.region) in \(year.year) with this one; the limit is \(limit)",
            counted: try context.listed(query), total: counted)]
    }

    public var examples: [RuleExample] {
        let first = Sample.meeting("comp-1", kind: .comprehensive, from: "2025-02-25 09:00", to: "2025-02-25 12:00")
        let second = Sample.meeting("comp-2", kind: .comprehensive, from: "2025-07-08 09:00", to: "2025-07-08 12:00")
        return [
            .passes("first comprehensive meeting of the year", first),
            .passes("same system, next year", second.with { $0.start = Sample.at("2026-01-05 09:00"); $0.end = Sample.at("2026-01-05 11:00") }, after: [first]),
            .passes("other system", second.with { $0.organizer.system = "教育" }, after: [first]),
            .passes("a new revision replaces its own earlier one", first.with { $0.revision = 2 }, after: [first]),
            .fails("second comprehensive meeting of the year", second, after: [first]),
            .passes("second allowed when max_per_year is 2", second, after: [first], settings: ["max_per_year": .integer(2)]),
        ]
    }
}
