import Foundation
import MeetingConfig
import MeetingRules
import XCTest

final class ConfigurationTests: XCTestCase {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func test_shippedConfig_isExactlyTheDefaults() throws {
        let shipped = try Configuration.load(path: Self.repository.appendingPathComponent("etc/meetingd.yaml").path)
        XCTAssertEqual(shipped, Configuration())
        let text = try String(contentsOf: Self.repository.appendingPathComponent("etc/meetingd.yaml"), encoding: .utf8)
        XCTAssertEqual(text, Configuration.defaultFileText(), "regenerate etc/meetingd.yaml with `meetingd default-config`")
    }

    func test_readmeRuleTable_isTheGeneratedOne() throws {
        let readme = try String(contentsOf: Self.repository.appendingPathComponent("README.md"), encoding: .utf8)
        XCTAssertTrue(readme.contains(RuleTable.markdown()), "regenerate the README's rule table with `meetingd rules --markdown`")
    }

    func test_settingsAreRead_andChangeTheVersion() throws {
        let configuration = try Configuration.parse("""
            timezone: Asia/Urumqi
            rules:
              annual-comprehensive-cap:
                max_per_year: 2
              prefer-video:
                severity: off
            """, source: "test.yaml")
        XCTAssertEqual(configuration.timezone, "Asia/Urumqi")
        XCTAssertEqual(configuration.rules[.annualComprehensiveCap].integer("max_per_year"), 2)
        XCTAssertEqual(configuration.rules[.preferVideo].severity, .off)
        XCTAssertNotEqual(configuration.rules.version, RuleSettingsSet().version)
    }

    func test_brokenConfig_namesTheLineAndKey() {
        let cases = [
            ("rules:\n  annual-comprehensive-cap:\n    max_per_year: many\n", "test.yaml:3: rules.annual-comprehensive-cap.max_per_year: must be an integer"),
            ("rules:\n  no-such-rule:\n    severity: warn\n", "test.yaml:2: rules.no-such-rule: no such rule"),
            ("rules:\n  session-length:\n    half_day_boundary: \"25:00\"\n", "test.yaml:3: rules.session-length.half_day_boundary: must be a time HH:MM"),
            ("rules:\n  session-length:\n    severity: maybe\n", "test.yaml:3: rules.session-length.severity: must be one of reject, warn, off"),
            ("spoool: /tmp\n", "test.yaml:1: spoool: unknown key"),
            ("rules: [1, 2\n", "test.yaml: not valid YAML"),
        ]
        for (text, expected) in cases {
            XCTAssertThrowsError(try Configuration.parse(text, source: "test.yaml")) { error in
                XCTAssertTrue("\(error)".hasPrefix(expected), "\(error) should start with \(expected)")
            }
        }
    }
}
