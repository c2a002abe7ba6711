import MeetingModel

/// Clause 5: a meeting convened by a deputy does not, as a rule, require lower-level principals.
public struct DeputyConvenedNoPrincipals: Rule {
    public let id = RuleID.deputyConvenedNoPrincipals
    public let clause = "5"
    public let sentence = "由分管负责同志召集部署的会议，一般不要求下级主要负责同志参会"
    public let summary = "convener rank deputy requires no principal attendee from a lower level"
    public let defaultSeverity = Severity.reject
    public let waiverPolicy = WaiverPolicy.waivable
    public let fix = Bilingual(zh: "改请下级分管负责同志参会，或将主要负责同志设为非必须参加（required: false）；确需参加的附上批准（rule 为 deputy-convened-no-principals）。",
                               en: "Invite the lower level's deputies instead, or make the principals optional (required: false), or add an approval naming deputy-convened-no-principals.")

    public init() {}

    public func check(_ context: RuleContext) -> [Finding] {
        let request = context.request
        guard request.convener.rank == .deputy else { return [] }
        let principals = request.attendees.filter { $0.isRequiredPrincipal && $0.level.isLower(than: request.organizer.level) }
        guard !principals.isEmpty else { return [] }
        let names = principals.map { "\($0.unit)（\($0.role.rawValue)）" }.joined(separator: "、")
        return [finding(zh: "分管负责同志召集，却要求下级主要负责同志参会：\(names)",
                        en: "convened by a deputy but requires lower-level principals: \(names)")]
    }

    public var examples: [RuleExample] {
        let deputyConvened = Sample.meeting(type: .government).with { $0.convener.rank = .deputy }
        return [
            .passes("deputy convenes department heads", deputyConvened),
            .passes("principal convenes principals", Sample.meeting(type: .government, attendees: [Sample.townshipPrincipal("转塘街道")])),
            .fails("deputy convenes a township party secretary", deputyConvened.with { $0.attendees = [Sample.townshipPrincipal("转塘街道")] }),
        ]
    }
}
