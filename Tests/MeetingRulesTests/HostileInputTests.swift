import Foundation
import MeetingConfig
import MeetingModel
import MeetingRules
import XCTest

/// Regression tests of issue 9: inputs a hostile or careless sender wrote, each with the problem it must give.
final class HostileInputTests: XCTestCase {
    let parser = RequestParser()

    func problems(_ text: String) -> [String] {
        switch parser.parse(Array(text.utf8)) {
        case .success: return []
        case let .failure(invalid): return invalid.problems
        }
    }

    func request(_ text: String) throws -> MeetingRequest {
        guard case let .success(.proposal(request)) = parser.parse(Array(text.utf8)) else {
            throw XCTSkip("did not parse: \(problems(text))")
        }
        return request
    }

    func replacing(_ old: String, _ new: String) -> String {
        precondition(RequestParserTests.valid.contains(old), old)
        return RequestParserTests.valid.replacingOccurrences(of: old, with: new)
    }

    // MARK: the clarified request format

    func test_duplicateKeys_areInvalidWhereverTheyAre() {
        XCTAssertEqual(problems(replacing(#""title": "全省教育系统工作会议","#, #""title": "甲", "title": "乙","#)), ["$.title: appears twice"])
        XCTAssertEqual(problems(replacing(#""unit": "浙江省教育厅","#, #""unit": "浙江省教育厅", "unit": "x", "unit": "y","#)),
                       ["$.organizer.unit: appears 3 times"])
        XCTAssertEqual(problems(replacing(#""future_field": {"kept": true}"#, #""future_field": {"kept": true, "kept": false}"#)),
                       ["$.future_field.kept: appears twice"], "unknown fields too")
        XCTAssertEqual(problems(replacing(#""minutes": 50}"#, #""minutes": 50, "minutes": 5}"#)), ["$.agenda[0].minutes: appears twice"])
    }

    func test_blankOptionalValues_areAbsent_andBlankRequiredOnesAreNamed() throws {
        XCTAssertNil(try request(replacing(#""purpose": "deploy""#, #""purpose": " ""#)).purpose, "a blank enum value counts as absent")
        for blank in ["\u{85}", "\u{2028}", "\u{2029}", "\u{3000}", " \u{A0} "] {
            let text = replacing(#""title": "全省教育系统工作会议""#, "\"title\": \"\(blank)\"")
            XCTAssertEqual(problems(text), ["$.title: must not be empty"], "U+\(String(blank.unicodeScalars.first!.value, radix: 16))")
            let plan = replacing(#""purpose": "deploy""#, "\"purpose\": \"deploy\", \"plan_ref\": \"\(blank)\"")
            XCTAssertNil(try request(plan).planRef, "a blank plan_ref is absent")
        }
        XCTAssertEqual(problems(replacing(#""kind": "comprehensive""#, #""kind": "  ""#)), ["$.kind: must not be empty"])
        for region in ["浙江省/\\u2028", "浙江省/", "a//b", "/浙江省", " "] {
            XCTAssertEqual(problems(replacing(#""region": "浙江省"}"#, "\"region\": \"\(region)\"}")).count, 1, region)
        }
    }

    func test_controlCharacters_areInvalidInKeysAndUnknownFieldsToo() {
        XCTAssertEqual(problems(replacing(#""future_field": {"kept": true}"#, #""future_field": "a\u0007b""#)),
                       ["$.future_field: contains the control character U+0007"])
        XCTAssertEqual(problems(replacing(#""future_field": {"kept": true}"#, #""odd\u0001key": 1"#)),
                       [#"$["odd\u0001key"]: the member name contains the control character U+0001"#])
        XCTAssertEqual(problems(replacing(#""title": "全省教育系统工作会议""#, #""title": "x\u007F""#)),
                       ["$.title: contains the control character U+007F"])
    }

    func test_fractionsOfAnyLength_andYearsOutside1900To2999() throws {
        let long = try request(replacing(#""start": "2025-03-10T09:00:00+08:00""#, #""start": "2025-03-10T09:00:00.123456789012345+08:00""#))
        XCTAssertEqual(long.start.timeIntervalSince1970, 1_741_568_400.123_456_789, accuracy: 1e-6)
        XCTAssertEqual(problems(replacing(#""start": "2025-03-10T09:00:00+08:00", "end": "2025-03-10T12:00:00+08:00""#,
                                          #""start": "3001-03-10T09:00:00+08:00", "end": "3001-03-10T12:00:00+08:00""#)),
                       ["$.start: year 3001 is outside 1900–2999", "$.end: year 3001 is outside 1900–2999"])
        XCTAssertEqual(problems(replacing(#""start": "2025-03-10T09:00:00+08:00", "end": "2025-03-10T12:00:00+08:00""#,
                                          #""start": "0000-03-10T09:00:00+08:00", "end": "0000-03-10T12:00:00+08:00""#)).count, 2)
        XCTAssertTrue(problems(replacing(#""start": "2025-03-10T09:00:00+08:00", "end": "2025-03-10T12:00:00+08:00""#,
                                         #""start": "2999-12-31T09:00:00+08:00", "end": "2999-12-31T12:00:00+08:00""#)).isEmpty)
    }

    // MARK: time zones: the tz database decides, not Foundation

    func test_everyZoneAndLinkOfTheTzDatabase_isAccepted_andNamesItDoesNotHaveAreNot() throws {
        let database = TimeZoneDatabase.system
        XCTAssertGreaterThan(database.names.count, 500, "tzdata.zi read")
        for name in database.names {
            let zone = try request(replacing(#""timezone": "Asia/Shanghai""#, "\"timezone\": \"\(name)\""))
            XCTAssertEqual(zone.timeZoneName, name, "the name is kept as written")
        }
        for name in ["UTC", "GMT", "PRC", "UCT", "Zulu", "Japan", "EST5EDT", "Asia/Chongqing"] {
            XCTAssertNotNil(database.timeZone(named: name), name)
        }
        for name in ["SystemV/EST5", "US/Pacific-New", "Canada/East-Saskatchewan", "Mars/Olympus", "asia/shanghai", ""] {
            XCTAssertNil(database.timeZone(named: name), name)
        }
        XCTAssertEqual(problems(replacing(#""timezone": "Asia/Shanghai""#, #""timezone": "SystemV/EST5""#)),
                       [#"$.timezone: "SystemV/EST5" is not a known IANA time zone name, a Zone or Link of the tz database"#])
    }

    // MARK: HTTP dates: no value overflows

    func test_httpDates_parseOnlyValidIMFFixdates() {
        XCTAssertEqual(HTTPDate.parse("Sun, 06 Nov 1994 08:49:37 GMT")?.timeIntervalSince1970, 784_111_777)
        XCTAssertEqual(HTTPDate.parse(HTTPDate.format(Date(timeIntervalSince1970: 1_767_225_600))), Date(timeIntervalSince1970: 1_767_225_600))
        for hostile in ["Thu, 01 Jan 9223372036854775807 00:00:00 GMT", "Thu, 01 Jan -9223372036854775808 00:00:00 GMT",
                        "Thu, 99999999999999999999 Jan 2025 00:00:00 GMT", "Thu, 01 Jan 2025 99999999999999999:00:00 GMT",
                        "Thu, 31 Feb 2025 00:00:00 GMT", "Thu, 01 Jan 2025 24:00:00 GMT", "Thu, 01 Jan 2025 00:00:00 UTC", "",
                        "Thu, 01 Jan 2025 00:00:00 GMT ", "Xyz, 01 Jan 2025 00:00:00 GMT", "Thu, +1 Jan 2025 00:00:00 GMT"] {
            XCTAssertNil(HTTPDate.parse(hostile), hostile)
        }
    }

    func test_feedRequestPaths_refuseTraversalAndOddBytes() {
        XCTAssertEqual(FeedRequestPath.relative("/"), "index.html")
        XCTAssertEqual(FeedRequestPath.relative("/region/%E6%B5%99%E6%B1%9F%E7%9C%81.ics"), "region/浙江省.ics")
        for hostile in ["/../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/region/..%2F..%2Fstate/ledger.sqlite", "/a%00.ics", "/a//b.ics",
                        "/.meetingd-feeds-through", "/a%5C..%5Cb.ics", "http://example.org/all.ics", "/%FF.ics", "/" + String(repeating: "a", count: 5000),
                        "/a/./b.ics", "/all.ics/"] {
            XCTAssertNil(FeedRequestPath.relative(hostile), hostile)
        }
    }

    // MARK: settings: every number has a maximum

    func test_everyIntegerSetting_hasAMaximum_andHugeValuesAreRefusedNamingTheKey() {
        for rule in RuleCatalog.standard.rules {
            for spec in rule.settings {
                guard case let .integer(_, maximum) = spec.kind else { continue }
                XCTAssertLessThan(maximum, 1_000_000, "\(rule.id.rawValue).\(spec.name)")
                let yaml = "rules:\n  \(rule.id.rawValue):\n    \(spec.name): 9223372036854775807\n"
                XCTAssertThrowsError(try Configuration.parse(yaml, source: "t.yaml")) { error in
                    XCTAssertTrue("\(error)".contains("rules.\(rule.id.rawValue).\(spec.name): must be an integer from"), "\(error)")
                }
            }
        }
        XCTAssertThrowsError(try Configuration.parse("rules:\n  merge-business-meetings:\n    window_days: 99999999999999999999999\n", source: "t.yaml"))
        XCTAssertThrowsError(try Configuration.parse("feeds:\n  refresh_seconds: 86400000000000\n", source: "t.yaml")) { error in
            XCTAssertTrue("\(error)".contains("feeds.refresh_seconds: must be an integer from 60 to 2592000"), "\(error)")
        }
        XCTAssertThrowsError(try Configuration.parse("feeds:\n  horizon_days: -1\n", source: "t.yaml"))
        XCTAssertEqual(try Configuration.parse("timezone: UTC\n", source: "t.yaml").timezone, "UTC")
        XCTAssertThrowsError(try Configuration.parse("timezone: SystemV/EST5\n", source: "t.yaml"))
    }

    func test_sha256_matchesTheStandardVectors() {
        XCTAssertEqual(SHA256.hex(Array("".utf8)), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(SHA256.hex(Array("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(SHA256.hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1", "two blocks")
        XCTAssertEqual(SHA256.hex(Array(repeating: UInt8(ascii: "a"), count: 1_000)),
                       "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
    }

    func test_namesAreCompared_asAReaderSeesThem() throws {
        // U+F900 is a compatibility ideograph of U+8C48; "e" + U+0301 is "é".
        let compatibility = try request(replacing(#""unit": "浙江省教育厅""#, "\"unit\": \"\u{F900}教育厅\""))
        XCTAssertEqual(Array(compatibility.organizer.unit.unicodeScalars.map(\.value).prefix(1)), [0x8C48])
        let decomposed = try request(replacing(#""unit": "杭州市教育局""#, "\"unit\": \"Caf\u{65}\u{301}\""))
        XCTAssertEqual(Array(decomposed.attendees[0].unit.utf8), Array("Caf\u{E9}".utf8))
    }

    func test_yearEndClustering_listsOnlyMeetingsInsideTheWindow() throws {
        // Window Dec 1–31 (the default crosses into January; set it to December alone).
        var settings = RuleSettingsSet()
        settings[.yearEndClustering].values["window_start"] = .text("12-01")
        settings[.yearEndClustering].values["window_end"] = .text("12-31")
        func comprehensive(_ id: String, _ day: String, system: String) -> MeetingRequest {
            Sample.meeting(id, kind: .comprehensive, from: "\(day) 09:00", to: "\(day) 11:30", type: .government, system: system)
        }
        let ledger = InMemoryLedger(["11-28", "11-29", "12-01", "12-02"].enumerated().map { index, day in
            MeetingRecord(comprehensive("y\(index)", "2025-\(day)", system: "系统\(index)"))
        })
        let request = comprehensive("y-new", "2025-12-03", system: "系统新")
        let assessment = try RuleEngine(settings: settings).assess(request, ledger: ledger)
        let finding = try XCTUnwrap((assessment.violations + assessment.warnings).first { $0.rule == .yearEndClustering })
        XCTAssertEqual(finding.counted.map(\.id), ["y2", "y3"], "only the meetings of the window that the count saw")
    }
}
