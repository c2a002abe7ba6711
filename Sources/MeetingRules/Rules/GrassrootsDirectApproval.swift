import MeetingModel

/// Clause 4: meetings held straight down to the grassroots need the approval of the party secretary at the same level.
public struct GrassrootsDirectApproval: Rule {
    public let id = RuleID.grassrootsDirectApproval
    public let clause = "4"
    public let sentence = "未经同级党委主要负责同志批准，不得随意召开直达基层的会议（含电视电话、网络视频会议）"
    public let summary = "reaches_grassroots needs an approval for this rule by a party-secretary of the organizer's level"
    public let defaultSeverity = Severity.reject
    public let waiverPolicy = WaiverPolicy.approvalIsTheCheck
    public let fix = Bilingual(zh: "报同级党委主要负责同志批准，并在 approvals 中写明（rule 为 grassroots-direct-approval，approver_role 为 party-secretary）；或不直达基层。",
                               en: "Get the approval of the party secretary at the organizer's level and list it (rule grassroots-direct-approval, approver_role party-secretary), or do not hold it down to the grassroots.")

    public init() {}

    private func acceptable(_ approval: MeetingRequest.Approval, _ request: MeetingRequest) -> Bool {
        approval.rule == id && approval.approverRole == .partySecretary
            && (approval.approverLevel == nil || approval.approverLevel == request.organizer.level)
    }

    public func check(_ context: RuleContext) -> [Finding] {
        let request = context.request
        guard request.reachesGrassroots, !request.approvals.contains(where: { acceptable($0, request) }) else { return [] }
        if let offered = request.approval(for: id) {
            let role = offered.approverRole?.rawValue ?? "none"
            let level = offered.approverLevel?.rawValue ?? "none"
            return [finding(
                zh: "直达基层的会议所附批准不是同级（\(request.organizer.level.chinese)级）党委主要负责同志作出的（approver_role \(role)，approver_level \(level)）",
                en: "the approval offered is not by the party secretary at the organizer's level \(request.organizer.level.rawValue) (approver_role \(role), approver_level \(level))")]
        }
        return [finding(zh: "会议直达基层（reaches_grassroots），但没有同级党委主要负责同志的批准",
                        en: "the meeting reaches the grassroots without the approval of the party secretary at the same level")]
    }

    public func approvalsUsed(_ context: RuleContext) -> [MeetingRequest.Approval] {
        guard context.request.reachesGrassroots else { return [] }
        return context.request.approvals.first { acceptable($0, context.request) }.map { [$0] } ?? []
    }

    public var examples: [RuleExample] {
        let direct = Sample.meeting().with { $0.reachesGrassroots = true; $0.mode = .video }
        return [
            .passes("not direct to the grassroots", Sample.meeting()),
            .passes("approved by the city party secretary", direct.with {
                $0.approvals = [.init(rule: .grassrootsDirectApproval, approver: "市委书记", approverRole: .partySecretary, approverLevel: .city, ref: "杭委〔2025〕5号")]
            }),
            .fails("no approval", direct),
            .fails("approved by a deputy", direct.with {
                $0.approvals = [.init(rule: .grassrootsDirectApproval, approver: "副市长", approverRole: .deputy, approverLevel: .city)]
            }),
            .fails("approved by a party secretary of another level", direct.with {
                $0.approvals = [.init(rule: .grassrootsDirectApproval, approver: "省委书记", approverRole: .partySecretary, approverLevel: .province)]
            }),
        ]
    }
}
