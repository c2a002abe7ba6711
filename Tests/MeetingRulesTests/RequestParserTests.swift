import Foundation
import MeetingModel
import XCTest

final class RequestParserTests: XCTestCase {
    let parser = RequestParser()

    static let valid = """
    {"format": 1, "id": "zj-edu-2025-001", "revision": 1, "title": "全省教育系统工作会议", "kind": "comprehensive",
     "purpose": "deploy",
     "organizer": {"unit": "浙江省教育厅", "level": "province", "type": "department", "system": "教育", "region": "浙江省"},
     "convener": {"name": "张三", "rank": "principal"},
     "start": "2025-03-10T09:00:00+08:00", "end": "2025-03-10T12:00:00+08:00", "timezone": "Asia/Shanghai",
     "attendees": [{"unit": "杭州市教育局", "level": "city", "region": "浙江省/杭州市", "role": "department-head"}],
     "agenda": [{"type": "main-speech", "speaker": "张三", "minutes": 50}],
     "approvals": [{"rule": "annual-comprehensive-cap", "approver": "省委主要负责同志", "approver_role": "party-secretary"}],
     "future_field": {"kept": true}}
    """

    func problems(_ text: String) -> [String] {
        problems(Array(text.utf8))
    }

    func problems(_ bytes: [UInt8]) -> [String] {
        switch parser.parse(bytes) {
        case .success: return []
        case let .failure(invalid): return invalid.problems
        }
    }

    func replacing(_ old: String, _ new: String) -> String {
        precondition(Self.valid.contains(old))
        return Self.valid.replacingOccurrences(of: old, with: new)
    }

    func test_validRequest_parsesWithDefaultsAndIgnoresUnknownFields() throws {
        guard case let .success(.proposal(request)) = parser.parse(Array(Self.valid.utf8)) else { return XCTFail("should parse") }
        XCTAssertEqual(request.id, "zj-edu-2025-001")
        XCTAssertEqual(request.mode, .inPerson)
        XCTAssertFalse(request.groupDiscussion)
        XCTAssertTrue(request.attendees[0].required)
        XCTAssertEqual(request.attendees[0].type, .department)
        XCTAssertEqual(request.approvals.first?.rule, .annualComprehensiveCap)
    }

    func test_unknownEnumValue_namesTheFieldAndTheChoices() {
        XCTAssertEqual(problems(replacing(#""level": "province""#, #""level": "galaxy""#)),
                       [#"$.organizer.level: "galaxy" is not one of central, province, city, county, township, village"#])
    }

    func test_everyProblemIsListed_withItsPath() {
        let text = replacing(#""role": "department-head""#, #""role": "boss""#)
            .replacingOccurrences(of: #""minutes": 50"#, with: #""minutes": "long""#)
            .replacingOccurrences(of: #""format": 1"#, with: #""format": 2"#)
        let found = problems(text)
        XCTAssertEqual(found.count, 3, "\(found)")
        XCTAssertTrue(found.contains { $0.hasPrefix("$.attendees[0].role: \"boss\" is not one of") })
        XCTAssertTrue(found.contains("$.agenda[0].minutes: expected an integer, found a string"))
        XCTAssertTrue(found.contains { $0.hasPrefix("$.format:") })
    }

    func test_endNotAfterStart_isInvalidAtEnd() {
        XCTAssertEqual(problems(replacing("2025-03-10T12:00:00+08:00", "2025-03-10T08:00:00+08:00")).first?.hasPrefix("$.end: must be after start"), true)
    }

    func test_moreThan14Days_isInvalidAtEnd() {
        XCTAssertEqual(problems(replacing("2025-03-10T12:00:00+08:00", "2025-03-25T12:00:00+08:00")), ["$.end: is more than 14 days after start"])
    }

    func test_idWithPathCharacters_isInvalid() {
        for id in ["../etc/passwd", "a/b", ".hidden", "空格 id", String(repeating: "x", count: 129), ""] {
            let found = problems(replacing(#""id": "zj-edu-2025-001""#, #""id": "\#(id)""#))
            XCTAssertTrue(found.contains { $0.hasPrefix("$.id:") }, "\(id): \(found)")
        }
    }

    func test_missingRequiredFields_areNamed() {
        let found = problems(#"{"format": 1, "id": "x"}"#)
        for field in ["$.title", "$.kind", "$.organizer", "$.convener", "$.start", "$.end"] {
            XCTAssertTrue(found.contains("\(field): missing (required)"), "\(field) in \(found)")
        }
    }

    func test_comprehensiveMeeting_needsASystem() {
        XCTAssertEqual(problems(replacing(#""system": "教育", "#, "")), ["$.organizer.system: missing (required for a comprehensive meeting)"])
    }

    func test_relayMeeting_needsADirectiveDate() {
        XCTAssertEqual(problems(replacing(#""kind": "comprehensive""#, #""kind": "relay""#)), ["$.directive_date: missing (required for a relay meeting)"])
    }

    func test_notJSON_notUTF8_tooLarge_areReportedAtTheRoot() {
        XCTAssertEqual(problems("not json").first?.hasPrefix("$: not valid JSON"), true)
        XCTAssertEqual(problems([0x7B, 0x22, 0xFF, 0xFE, 0x22, 0x7D]), ["$: not valid UTF-8 (byte 2)"])
        XCTAssertEqual(problems(Array(repeating: 0x20, count: RequestParser.maximumBytes + 1)).first?.contains("over the limit"), true)
        XCTAssertEqual(problems("[1, 2]"), ["$: expected a JSON object, found an array"])
        XCTAssertEqual(problems(String(repeating: "[", count: 10_000)).first?.contains("nested deeper"), true)
        XCTAssertEqual(problems(#"{"a": "\ud800"}"#).first?.contains("surrogate"), true)
    }

    func test_byteOrderMark_isAccepted() {
        XCTAssertEqual(problems([0xEF, 0xBB, 0xBF] + Array(Self.valid.utf8)), [])
    }

    func test_nullMeansAbsent() {
        XCTAssertEqual(problems(replacing(#""purpose": "deploy","#, #""purpose": null, "plan_ref": null,"#)), [])
    }

    func test_controlCharacters_inText_areRefused() {
        XCTAssertEqual(problems(replacing("全省教育系统工作会议", #"会议\u0000名称"#)), ["$.title: contains the control character U+0000"])
    }

    func test_unknownTimeZone_isInvalid() {
        XCTAssertEqual(problems(replacing(#""timezone": "Asia/Shanghai""#, #""timezone": "Mars/Olympus""#)),
                       [#"$.timezone: "Mars/Olympus" is not a known IANA time zone name, a Zone or Link of the tz database"#])
    }

    func test_withdrawal_needsOnlyFormatIdAndAction() {
        guard case let .success(.withdrawal(withdrawal)) = parser.parse(Array(#"{"format":1,"id":"a-1","action":"withdraw"}"#.utf8)) else {
            return XCTFail("should parse as a withdrawal")
        }
        XCTAssertEqual(withdrawal, Withdrawal(id: "a-1", revision: nil))
    }

    func test_requestInUTC_meansTheSameInstantAsInShanghai() {
        guard case let .success(.proposal(local)) = parser.parse(Array(Self.valid.utf8)),
              case let .success(.proposal(utc)) = parser.parse(Array(Self.valid
                  .replacingOccurrences(of: "2025-03-10T09:00:00+08:00", with: "2025-03-10T01:00:00Z")
                  .replacingOccurrences(of: "2025-03-10T12:00:00+08:00", with: "2025-03-10T04:00:00Z").utf8))
        else { return XCTFail("both should parse") }
        XCTAssertEqual(local.start, utc.start)
        XCTAssertEqual(local.localStart, utc.localStart)
    }

    func test_randomBytes_neverCrashTheParser() {
        var generator = SystemRandomNumberGenerator()
        let seed = Array(Self.valid.utf8)
        for _ in 0..<2000 {
            var bytes = seed
            for _ in 0..<Int.random(in: 1...8, using: &generator) {
                bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            }
            if case let .failure(invalid) = parser.parse(bytes) {
                XCTAssertFalse(invalid.problems.isEmpty)
                XCTAssertTrue(invalid.problems.allSatisfy { $0.hasPrefix("$") })
            }
        }
    }
}
