import MeetingModel
import MeetingRules
import XCTest

/// Runs every rule's own examples: the examples in each rule file are its tests.
final class RuleExamplesTests: XCTestCase {
    func test_everyRuleExample_triggersExactlyWhenItSays() throws {
        for rule in RuleCatalog.standard.rules {
            for example in rule.examples {
                var settings = RuleSettingsSet()[rule.id]
                for (name, value) in example.settings { settings.values[name] = value }
                let ledger = InMemoryLedger(example.approvedBefore.map(MeetingRecord.init))
                let findings = try rule.check(RuleContext(request: example.request, settings: settings, ledger: ledger))
                XCTAssertEqual(!findings.isEmpty, example.triggers,
                               "\(rule.id.rawValue): example \"\(example.name)\" \(example.triggers ? "should" : "should not") trigger; findings: \(findings.map(\.facts.en))")
                for finding in findings {
                    XCTAssertEqual(finding.rule, rule.id)
                    XCTAssertFalse(finding.facts.en.isEmpty || finding.facts.zh.isEmpty, "\(rule.id.rawValue): facts in both languages")
                }
            }
        }
    }

    func test_everyRule_hasAPassingAndAFailingExample() {
        for rule in RuleCatalog.standard.rules {
            XCTAssertTrue(rule.examples.contains { $0.triggers }, "\(rule.id.rawValue) has no failing example")
            XCTAssertTrue(rule.examples.contains { !$0.triggers }, "\(rule.id.rawValue) has no passing example")
        }
    }

    func test_catalogue_holdsEachRuleIdOnceInCatalogueOrder() {
        XCTAssertEqual(RuleCatalog.standard.rules.map(\.id), RuleID.allCases)
    }

    func test_passingExamples_passTheWholeEngine() throws {
        // A passing example changes one thing from the sample meeting; no other rule may object to it either,
        // or the examples would not show what they claim.
        let engine = RuleEngine(settings: RuleSettingsSet())
        for rule in RuleCatalog.standard.rules {
            for example in rule.examples where !example.triggers && example.settings.isEmpty {
                let ledger = InMemoryLedger(example.approvedBefore.map(MeetingRecord.init))
                let assessment = try engine.assess(example.request, ledger: ledger)
                XCTAssertEqual(assessment.violations.map(\.rule), [], "\(rule.id.rawValue): \"\(example.name)\"")
            }
        }
    }
}
