import MeetingModel

/// Clause 8: supervision, inspection and assessment hold no mobilisation or feedback meetings, in principle.
public struct NoInspectionMeetings: Rule {
    public let id = RuleID.noInspectionMeetings
    public let clause = "8"
    public let sentence = "督查检查考核原则上不召开动员会、反馈会"
    public let summary = "kind is not inspection-mobilization or inspection-feedback"
    public let defaultSeverity = Severity.reject
    public let waiverPolicy = WaiverPolicy.waivable
    public let fix = Bilingual(zh: "不召开督查检查考核动员会、反馈会，改以书面方式通知和反馈；确需召开的附上批准（rule 为 no-inspection-meetings）。",
                               en: "Announce the inspection and report its findings in writing instead, or add an approval naming no-inspection-meetings.")

    public init() {}

    public func check(_ context: RuleContext) -> [Finding] {
        let kind = context.request.kind
        guard kind == .inspectionMobilization || kind == .inspectionFeedback else { return [] }
        return [finding(zh: "会议类型为\(kind.chinese)", en: "the meeting is an \(kind.rawValue) meeting")]
    }

    public var examples: [RuleExample] {
        [
            .passes("business meeting", Sample.meeting()),
            .fails("mobilisation meeting", Sample.meeting(kind: .inspectionMobilization)),
            .fails("feedback meeting", Sample.meeting(kind: .inspectionFeedback)),
        ]
    }
}
