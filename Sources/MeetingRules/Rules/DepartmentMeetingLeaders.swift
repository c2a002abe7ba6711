import MeetingModel

/// Clause 5: a department's meeting does not require the leaders of lower party committees and governments
/// without the approval of the party committee at the same level.
public struct DepartmentMeetingLeaders: Rule {
    public let id = RuleID.departmentMeetingLeaders
    public let clause = "5"
    public let sentence = "以部门名义召开的会议，未经同级党委批准，不得要求下级党委和政府负责同志参会"
    public let summary = "a department requiring a lower-level party-committee or government leader (party-secretary, government-head, deputy) needs an approval for this rule"
    public let defaultSeverity = Severity.reject
    public let waiverPolicy = WaiverPolicy.approvalIsTheCheck
    public let fix = Bilingual(zh: "报同级党委批准并在 approvals 中写明（rule 为 department-meeting-leaders），或改请下级对口部门负责同志参会。",
                               en: "Get the approval of the party committee at the same level and list it (rule department-meeting-leaders), or invite the lower level's counterpart department instead.")

    public init() {}

    private func leaders(_ request: MeetingRequest) -> [MeetingRequest.Attendee] {
        guard request.organizer.type == .department else { return [] }
        return request.attendees.filter {
            $0.required && $0.level.isLower(than: request.organizer.level)
                && ($0.type == .partyCommittee || $0.type == .government)
                && [.partySecretary, .governmentHead, .deputy].contains($0.role)
        }
    }

    public func check(_ context: RuleContext) -> [Finding] {
        let leaders = leaders(context.request)
        guard !leaders.isEmpty, context.request.approval(for: id) == nil else { return [] }
        let names = leaders.map { "\($0.unit)（\($0.role.rawValue)）" }.joined(separator: "、")
        return [finding(zh: "以部门名义召开，要求下级党委、政府负责同志参会，未经同级党委批准：\(names)",
                        en: "a department's meeting requires lower-level party committee/government leaders without approval: \(names)")]
    }

    public func approvalsUsed(_ context: RuleContext) -> [MeetingRequest.Approval] {
        guard !leaders(context.request).isEmpty, let approval = context.request.approval(for: id) else { return [] }
        return [approval]
    }

    public var examples: [RuleExample] {
        let leader = Sample.townshipPrincipal("转塘街道")
        return [
            .passes("department invites departments", Sample.meeting()),
            .passes("with the party committee's approval", Sample.meeting(attendees: [leader]).with {
                $0.approvals = [.init(rule: .departmentMeetingLeaders, approver: "市委", ref: "杭委办〔2025〕8号")]
            }),
            .passes("government organizer", Sample.meeting(type: .government, attendees: [leader])),
            .fails("department requires a township party secretary", Sample.meeting(attendees: [leader])),
        ]
    }
}
