import MeetingModel

/// Clause 4: matters already covered by a document are not deployed again by a meeting, in principle.
public struct DocumentAlreadyIssued: Rule {
    public let id = RuleID.documentAlreadyIssued
    public let clause = "4"
    public let sentence = "已制发文件的工作事项原则上不再专门开会部署"
    public let summary = "purpose deploy together with covered_by_document"
    public let defaultSeverity = Severity.reject
    public let waiverPolicy = WaiverPolicy.waivable
    public let fix = Bilingual(zh: "已有文件部署的事项按文件落实，不再专门开会部署；确需召开的附上批准（rule 为 document-already-issued）。",
                               en: "Carry out the document already issued instead of deploying it again by meeting, or add an approval naming document-already-issued.")

    public init() {}

    public func check(_ context: RuleContext) -> [Finding] {
        let request = context.request
        guard request.purpose == .deploy, let document = request.coveredByDocument else { return [] }
        return [finding(zh: "部署事项已由文件「\(document)」部署", en: "the matter deployed is already covered by the document \"\(document)\"")]
    }

    public var examples: [RuleExample] {
        let deploy = Sample.meeting().with { $0.purpose = .deploy }
        return [
            .passes("deploy without a document", deploy),
            .passes("study of a document", Sample.meeting().with { $0.coveredByDocument = "杭卫发〔2025〕2号" }),
            .fails("deploy what a document covers", deploy.with { $0.coveredByDocument = "杭卫发〔2025〕2号" }),
        ]
    }
}
