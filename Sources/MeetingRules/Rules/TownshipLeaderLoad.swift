import MeetingModel

/// Clause 4: markedly fewer meetings attended by township and village principals.
public struct TownshipLeaderLoad: CapRule {
    public let id = RuleID.townshipLeaderLoad
    public let clause = "4"
    public let sentence = "明显减少乡镇（街道）党政主要负责同志和村（社区）党组织书记、村（居）委会主任参加的会议数量"
    public let summary = "per attendee region whose required principal is at township or village level: at most max_per_month meetings requiring such a principal in the calendar month"
    public let defaultSeverity = Severity.reject
    public let waiverPolicy = WaiverPolicy.waivable
    public let settings = [SettingSpec("max_per_month", .integer(minimum: 1, maximum: 1000), default: .integer(4),
                                       help: "meetings per month that require the principal of one township or village")]
    public let fix = Bilingual(zh: "不要求乡镇（村）主要负责同志参会，改由分管同志参加或不参加；或改期到下月；确需参加的附上批准（rule 为 township-leader-load）。",
                               en: "Do not require the township/village principal (let a deputy attend or no one), move the meeting to another month, or add an approval naming township-leader-load.")

    public let keyKind = CapKeyKind.principalRegion
    public let period = CapPeriod.month
    public let limitSetting = "max_per_month"
    public let countedKinds: Set<MeetingKind>? = nil

    public init() {}

    public func query(for key: CapKey, in dates: ClosedRange<LocalDate>) -> MeetingQuery {
        MeetingQuery(startDates: dates, grassrootsPrincipalRegion: key.region)
    }

    public func check(_ context: RuleContext) throws -> [Finding] {
        let day = context.localStartDate
        let limit = limit(context.settings)
        return try context.request.grassrootsPrincipalRegions.compactMap { region in
            let query = self.query(for: CapKey(region: region), in: period.dates(containing: day))
            let counted = try context.count(query)
            guard counted + 1 > limit else { return nil }
            return finding(
                zh: "\(region) 的主要负责同志 \(day.monthKey) 月被要求参加的会议连同本次共 \(counted + 1) 个，上限 \(limit) 个",
                en: "\(counted + 1) meetings in \(day.monthKey) require the principal of \(region) with this one; the limit is \(limit)",
                counted: try context.listed(query), total: counted, subject: region)
        }
    }

    public var examples: [RuleExample] {
        let town = Sample.townshipPrincipal("转塘街道")
        let busy = (1...4).map { Sample.meeting("town-\($0)", from: "2025-03-0\($0) 14:00", to: "2025-03-0\($0) 16:00", type: .government, attendees: [town]) }
        let next = Sample.meeting("town-x", from: "2025-03-20 14:00", to: "2025-03-20 16:00", type: .government, attendees: [town])
        return [
            .passes("fourth of the month", next, after: Array(busy.prefix(3))),
            .passes("fifth, but the principal is optional", next.with { $0.attendees[0].required = false }, after: busy),
            .passes("fifth, but a deputy attends", next.with { $0.attendees[0].role = .deputy }, after: busy),
            .fails("fifth of the month", next, after: busy),
        ]
    }
}
