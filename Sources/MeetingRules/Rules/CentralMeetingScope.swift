import MeetingModel

/// Clause 5: work meetings of central departments generally do not include units at city level or below.
public struct CentralMeetingScope: Rule {
    public let id = RuleID.centralMeetingScope
    public let clause = "5"
    public let sentence = "中央部门工作会议一般不安排市县及以下单位参会"
    public let summary = "central department work meetings (comprehensive, business) list no attendee at city level or below"
    public let defaultSeverity = Severity.reject
    public let waiverPolicy = WaiverPolicy.waivable
    public let fix = Bilingual(zh: "只请省级单位参会，市县及以下由省级传达；确需参会的附上批准（rule 为 central-meeting-scope）。",
                               en: "Invite provincial units only and let them pass it on, or add an approval naming central-meeting-scope.")

    public init() {}

    public func check(_ context: RuleContext) -> [Finding] {
        workMeetingScopeFinding(self, context, organizerLevel: .central, lowestAllowed: .province)
    }

    public var examples: [RuleExample] {
        let ministry = Sample.meeting(unit: "国家卫生健康委员会", level: .central, region: "中国",
                                      attendees: [.init(unit: "浙江省卫生健康委员会", level: .province, region: "浙江省", role: .departmentHead)])
        return [
            .passes("provinces attend", ministry),
            .passes("routine meeting", ministry.with { $0.kind = .routine; $0.attendees.append(Sample.countyHealthBureau) }),
            .fails("a county bureau attends", ministry.with { $0.attendees.append(Sample.countyHealthBureau) }),
        ]
    }
}

/// Shared by the two scope rules: a department's work meeting at `organizerLevel` lists no attendee below `lowestAllowed`.
func workMeetingScopeFinding(_ rule: some Rule, _ context: RuleContext, organizerLevel: Level, lowestAllowed: Level) -> [Finding] {
    let request = context.request
    guard request.organizer.level == organizerLevel, request.organizer.type == .department,
          request.kind == .comprehensive || request.kind == .business else { return [] }
    let tooLow = request.attendees.filter { $0.level.isLower(than: lowestAllowed) }
    guard !tooLow.isEmpty else { return [] }
    let names = tooLow.map { "\($0.unit)（\($0.level.rawValue)）" }.joined(separator: "、")
    return [rule.finding(zh: "\(organizerLevel.chinese)级部门工作会议安排了\(lowestAllowed.chinese)级以下单位参会：\(names)",
                         en: "a \(organizerLevel.rawValue) department work meeting lists attendees below \(lowestAllowed.rawValue) level: \(names)")]
}
