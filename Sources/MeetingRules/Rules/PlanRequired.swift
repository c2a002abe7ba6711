import MeetingModel

/// Clause 4: meetings are held under plan management.
public struct PlanRequired: Rule {
    public let id = RuleID.planRequired
    public let clause = "4"
    public let sentence = "召开会议严格实行计划管理"
    public let summary = "the request has a plan_ref, or an approval for this rule"
    public let defaultSeverity = Severity.warn
    public let waiverPolicy = WaiverPolicy.approvalIsTheCheck
    public let fix = Bilingual(zh: "填写 plan_ref（年度会议计划中的条目），或附上批准（approvals 中 rule 为 plan-required）。",
                               en: "Give plan_ref (the entry in the annual meeting plan), or add an approval naming plan-required.")

    public init() {}

    public func check(_ context: RuleContext) -> [Finding] {
        guard context.request.planRef == nil, context.request.approval(for: id) == nil else { return [] }
        return [finding(zh: "未填写 plan_ref，也没有计划外批准", en: "no plan_ref and no approval for an unplanned meeting")]
    }

    public func approvalsUsed(_ context: RuleContext) -> [MeetingRequest.Approval] {
        guard context.request.planRef == nil, let approval = context.request.approval(for: id) else { return [] }
        return [approval]
    }

    public var examples: [RuleExample] {
        [
            .passes("planned meeting", Sample.meeting()),
            .passes("unplanned meeting with an approval", Sample.meeting().with {
                $0.planRef = nil
                $0.approvals = [.init(rule: .planRequired, approver: "市委办公厅", ref: "杭委办〔2025〕3号")]
            }),
            .fails("unplanned meeting", Sample.meeting().with { $0.planRef = nil }),
        ]
    }
}
