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

    func test_docsRuleTable_isTheGeneratedOne() throws {
        let page = try String(contentsOf: Self.repository.appendingPathComponent("docs/requests-and-rules.md"), encoding: .utf8)
        XCTAssertTrue(page.contains(RuleTable.markdown()), "regenerate docs/requests-and-rules.md's rule table with `meetingd rules --markdown`")
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

    func test_setOverrides_applyOnTopOfTheFile_asTheFilesOwnKeys() throws {
        let file = try Configuration.parse("rules:\n  township-leader-load:\n    max_per_month: 6\n  routine-frequency:\n    max_per_month: 2\n",
                                           source: "test.yaml")
        let changed = try file.overriding(["rules.township-leader-load.max_per_month=3", "rules.prefer-video.severity=off",
                                           "recurrence.max_occurrences=50", "listed_meetings=3"])
        XCTAssertEqual(changed.rules[.townshipLeaderLoad].integer("max_per_month"), 3)
        XCTAssertEqual(changed.rules[.preferVideo].severity, .off)
        XCTAssertEqual(changed.rules[.routineFrequency].integer("max_per_month"), 2, "what is not set stays as the file has it")
        XCTAssertEqual(changed.rules.recurrence.maxOccurrences, 50)
        XCTAssertEqual(changed.rules.listedMeetings, 3)
        XCTAssertNotEqual(changed.rules.version, file.rules.version)
        XCTAssertEqual(try file.overriding(["rules.township-leader-load.max_per_month=6"]).rules.version, file.rules.version,
                       "setting what is in force changes nothing")
        XCTAssertThrowsError(try file.overriding(["rules.township-leader-load"])) { error in
            XCTAssertTrue("\(error)".contains("expected KEY=VALUE"), "\(error)")
        }
        XCTAssertThrowsError(try file.overriding(["rules.township-leader-load.max_per_month=1001"])) { error in
            XCTAssertEqual("\(error)", "--set rules.township-leader-load.max_per_month=1001: rules.township-leader-load.max_per_month: must be an integer from 1 to 1000, found 1001")
        }
    }

    /// A number is its digits: `+40`, ` 40`, `4_0`, `0x28` and `40.0` are refused, not read as 40.
    func test_setAndFile_takeOnlyPlainWholeNumbers() throws {
        for value in ["+40", " 40", "4_0", "0x28", "40.0", "４０"] {
            for key in ["rules.township-leader-load.max_per_month", "recurrence.max_occurrences", "listed_meetings"] {
                XCTAssertThrowsError(try Configuration().overriding(["\(key)=\(value)"]), "\(key)=\(value)") { error in
                    XCTAssertTrue("\(error)".contains(key), "\(error)")
                }
            }
            XCTAssertThrowsError(try Configuration.parse("recurrence:\n  max_span_days: '\(value)'\n", source: "t.yaml"), value)
        }
        XCTAssertEqual(try Configuration().overriding(["recurrence.max_occurrences=40"]).rules.recurrence.maxOccurrences, 40)
        XCTAssertNil(HTTPAddress("127.0.0.1:+8080"), "a port is digits too")
        XCTAssertEqual(HTTPAddress("127.0.0.1:8080")?.port, 8080)
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
