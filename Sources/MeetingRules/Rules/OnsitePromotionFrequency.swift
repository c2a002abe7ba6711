import MeetingModel

/// Clause 4: fewer on-site observation and promotion meetings.
public struct OnsitePromotionFrequency: CapRule {
    public let id = RuleID.onsitePromotionFrequency
    public let clause = "4"
    public let sentence = "压减现场观摩会、推进会等频次数量"
    public let summary = "at most max_per_year on-site and promotion meetings together of the same organizer unit in one calendar year"
    public let defaultSeverity = Severity.reject
    public let waiverPolicy = WaiverPolicy.waivable
    public let settings = [SettingSpec("max_per_year", .integer(minimum: 0, maximum: 10000), default: .integer(2),
                                       help: "on-site and promotion meetings together per organizer unit per calendar year")]
    public let fix = Bilingual(zh: "压减现场观摩会、推进会：与已批准的合并，或附上批准（rule 为 onsite-promotion-frequency）。",
                               en: "Hold fewer on-site and promotion meetings: merge with one already approved, or add an approval naming onsite-promotion-frequency.")

    public let keyKind = CapKeyKind.organizerUnit
    public let period = CapPeriod.year
    public let limitSetting = "max_per_year"
    public let countedKinds: Set<MeetingKind>? = [.onSite, .promotion]

    public init() {}

    public func query(for key: CapKey, in dates: ClosedRange<LocalDate>) -> MeetingQuery {
        MeetingQuery(kinds: [.onSite, .promotion], organizerUnit: key.unit, startDates: dates)
    }

    public func check(_ context: RuleContext) throws -> [Finding] {
        let request = context.request
        guard request.kind == .onSite || request.kind == .promotion else { return [] }
        let day = context.localStartDate
        let query = self.query(for: CapKey(unit: request.organizer.unit), in: period.dates(containing: day))
        let counted = try context.count(query)
        let limit = limit(context.settings)
        guard counted + 1 > limit else { return [] }
        return [finding(
            zh: "\(request.organizer.unit) \(day.year) 年现场观摩会、推进会连同本次共 \(counted + 1) 次，上限 \(limit) 次",
            en: "\(counted + 1) on-site and promotion meetings of \(request.organizer.unit) in \(day.year) with this one; the limit is \(limit)",
            counted: try context.listed(query), total: counted)]
    }

    public var examples: [RuleExample] {
        let onSite = Sample.meeting("onsite-1", kind: .onSite, from: "2025-04-10 09:00", to: "2025-04-10 11:00")
        let promotion = Sample.meeting("promo-1", kind: .promotion, from: "2025-06-10 09:00", to: "2025-06-10 11:00")
        let third = Sample.meeting("promo-2", kind: .promotion, from: "2025-09-10 09:00", to: "2025-09-10 11:00")
        return [
            .passes("second of the year", promotion, after: [onSite]),
            .passes("other unit", third.with { $0.organizer.unit = "杭州市教育局" }, after: [onSite, promotion]),
            .fails("third of the year", third, after: [onSite, promotion]),
        ]
    }
}
