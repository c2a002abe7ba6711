import MeetingModel

/// Clause 5: attendance of principals is not demanded by rank alone.
public struct PrincipalAttendanceJustified: Rule {
    public let id = RuleID.principalAttendanceJustified
    public let clause = "5"
    public let sentence = "不简单以出席会议领导级别对参会人员提出相应级别要求；可由分管负责同志参加的会议不要求主要负责同志参会"
    public let summary = "every required principal attendee of another unit carries a reason, unless the meeting is comprehensive"
    public let defaultSeverity = Severity.reject
    public let waiverPolicy = WaiverPolicy.waivable
    public let fix = Bilingual(zh: "为每位必须参会的主要负责同志写明理由（reason），或改由分管负责同志参加。",
                               en: "Give a reason for each required principal, or let a deputy attend instead.")

    public init() {}

    public func check(_ context: RuleContext) -> [Finding] {
        let request = context.request
        guard request.kind != .comprehensive else { return [] }
        let unexplained = request.attendees.filter { $0.isRequiredPrincipal && $0.unit != request.organizer.unit && $0.reason == nil }
        guard !unexplained.isEmpty else { return [] }
        let names = unexplained.map { "\($0.unit)（\($0.role.rawValue)）" }.joined(separator: "、")
        return [finding(zh: "要求主要负责同志参会但未说明理由：\(names)", en: "principals required without a reason: \(names)")]
    }

    public var examples: [RuleExample] {
        let unexplained = Sample.townshipPrincipal("转塘街道", reason: nil)
        return [
            .passes("principal with a reason", Sample.meeting(type: .government, attendees: [Sample.townshipPrincipal("转塘街道")])),
            .passes("comprehensive meeting", Sample.meeting(kind: .comprehensive, type: .government, attendees: [unexplained])),
            .passes("optional principal", Sample.meeting(type: .government, attendees: [unexplained.with { $0.required = false }])),
            .fails("principal without a reason", Sample.meeting(type: .government, attendees: [unexplained])),
        ]
    }
}

extension MeetingRequest.Attendee {
    func with(_ change: (inout Self) -> Void) -> Self {
        var copy = self
        change(&copy)
        return copy
    }
}
