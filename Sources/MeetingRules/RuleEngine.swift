import MeetingModel

/// Applies every rule to a request and sorts the findings into violations, warnings and waivers.
public struct RuleEngine: Sendable {
    public let catalog: RuleCatalog
    public let settings: RuleSettingsSet
    /// The rules not turned off, in catalogue order, each with its settings: looked up once, not per request.
    private let active: [(rule: any Rule, settings: RuleSettings)]

    public init(catalog: RuleCatalog = .standard, settings: RuleSettingsSet) {
        self.catalog = catalog
        self.settings = settings
        active = catalog.rules.map { ($0, settings[$0.id]) }.filter { $0.1.severity != .off }
    }

    public func assess(_ request: MeetingRequest, ledger: any LedgerView) throws -> Assessment {
        var assessment = Assessment()
        guard let first = active.first else { return assessment }
        var context = RuleContext(request: request, settings: first.settings, ledger: ledger, listLimit: settings.listedMeetings)
        for (rule, ruleSettings) in active {
            context.settings = ruleSettings
            var waiverRecorded = false
            for finding in try rule.check(context) {
                let severity = finding.severitySetting.map { ruleSettings.severity($0) } ?? ruleSettings.severity
                switch severity {
                case .off:
                    continue
                case .warn:
                    // A waiver never turns a warning off.
                    assessment.warnings.append(finding)
                case .reject:
                    if rule.waiverPolicy == .waivable, let approval = request.approval(for: rule.id) {
                        if !waiverRecorded { assessment.waived.append(Waiver(rule: rule.id, approval: approval)) }
                        waiverRecorded = true
                    } else {
                        assessment.violations.append(finding)
                    }
                }
            }
            for approval in rule.approvalsUsed(context) {
                assessment.waived.append(Waiver(rule: rule.id, approval: approval))
            }
        }
        return assessment
    }
}
