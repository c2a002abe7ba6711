import MeetingModel

/// Clause 5: only units closely related to the subject attend; no attending just to accompany.
public struct NoAccompanyingAttendance: Rule {
    public let id = RuleID.noAccompanyingAttendance
    public let clause = "5"
    public let sentence = "只安排与会议主题密切相关的单位参加，不搞层层陪会"
    public let summary = "no attendee marked accompanying; at most max_units attendee units (0 = no limit)"
    public let defaultSeverity = Severity.reject
    public let settings = [SettingSpec("max_units", .integer(minimum: 0, maximum: 10000), default: .integer(0),
                                       help: "largest number of attendee units; 0 turns the limit off")]
    public let fix = Bilingual(zh: "删去陪会单位，只请与会议主题密切相关的单位参加。",
                               en: "Remove the accompanying units; invite only the units closely concerned with the subject.")

    public init() {}

    public func check(_ context: RuleContext) -> [Finding] {
        let request = context.request
        var findings: [Finding] = []
        let accompanying = request.attendees.filter(\.accompanying).map(\.unit)
        if !accompanying.isEmpty {
            let names = accompanying.joined(separator: "、")
            findings.append(finding(zh: "陪会单位：\(names)", en: "accompanying attendees: \(names)"))
        }
        let limit = context.settings.integer("max_units")
        let units = request.attendeeUnits.count
        if limit > 0, units > limit {
            findings.append(finding(zh: "参会单位 \(units) 个，上限 \(limit) 个", en: "\(units) attendee units; the limit is \(limit)"))
        }
        return findings
    }

    public var examples: [RuleExample] {
        let escort = MeetingRequest.Attendee(unit: "杭州市政府办公厅", level: .city, region: "浙江省/杭州市", role: .staff, accompanying: true)
        return [
            .passes("no one accompanies", Sample.meeting()),
            .fails("an accompanying unit", Sample.meeting(attendees: [Sample.countyHealthBureau, escort])),
            .fails("more units than max_units", Sample.meeting(attendees: [Sample.countyHealthBureau, Sample.townshipPrincipal("转塘街道")]),
                   settings: ["max_units": .integer(1)]),
        ]
    }
}
