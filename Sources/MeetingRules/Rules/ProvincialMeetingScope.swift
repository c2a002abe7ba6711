import MeetingModel

/// Clause 5: work meetings of provincial departments generally do not include units below the county.
public struct ProvincialMeetingScope: Rule {
    public let id = RuleID.provincialMeetingScope
    public let clause = "5"
    public let sentence = "省级部门工作会议一般不安排县以下单位参会"
    public let summary = "province department work meetings (comprehensive, business) list no attendee below county"
    public let defaultSeverity = Severity.reject
    public let waiverPolicy = WaiverPolicy.waivable
    public let fix = Bilingual(zh: "只请县级及以上单位参会，乡镇、村由县级传达；确需参会的附上批准（rule 为 provincial-meeting-scope）。",
                               en: "Invite units down to county level only and let them pass it on, or add an approval naming provincial-meeting-scope.")

    public init() {}

    public func check(_ context: RuleContext) -> [Finding] {
        workMeetingScopeFinding(self, context, organizerLevel: .province, lowestAllowed: .county)
    }

    public var examples: [RuleExample] {
        let provincial = Sample.meeting(unit: "浙江省卫生健康委员会", level: .province, region: "浙江省")
        let township = MeetingRequest.Attendee(unit: "转塘街道社区卫生服务中心", level: .township,
                                               region: "浙江省/杭州市/西湖区/转塘街道", role: .staff)
        return [
            .passes("a county bureau attends", provincial),
            .passes("government organizer", provincial.with { $0.organizer.type = .government; $0.attendees = [township] }),
            .fails("a township centre attends", provincial.with { $0.attendees = [township] }),
            .fails("an optional township attendee counts too", provincial.with { $0.attendees = [township.with { $0.required = false }] }),
        ]
    }
}
