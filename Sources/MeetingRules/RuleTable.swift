import MeetingModel

/// The catalogue as a Markdown table, generated from the rules themselves (the README embeds it; a test checks it).
public enum RuleTable {
    public static func markdown(catalog: RuleCatalog = .standard, settings: RuleSettingsSet = RuleSettingsSet()) -> String {
        var lines = [
            "| id | clause | sentence | check | severity | waivers | settings |",
            "|---|---|---|---|---|---|---|",
        ]
        for rule in catalog.rules {
            let ruleSettings = settings[rule.id]
            let values = rule.settings.map { "`\($0.name)` = \(ruleSettings.values[$0.name]!)" }.joined(separator: "<br>")
            lines.append("| `\(rule.id.rawValue)` | \(rule.clause) | \(rule.sentence) | \(rule.summary) | \(ruleSettings.severity.rawValue) | \(rule.waiverPolicy.rawValue) | \(values) |")
        }
        return lines.joined(separator: "\n")
    }
}
