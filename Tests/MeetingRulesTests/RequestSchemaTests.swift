import Foundation
import MeetingModel
import MeetingRules
import XCTest

/// `meetingd schema` and the parser must not drift apart: every bound the schema states — a required field,
/// a length, an enum, a type — is tried on the parser with a value made from the schema itself, and the parser
/// must report that field. (Tests/tools/check_schema.py checks the other direction with Python jsonschema.)
final class RequestSchemaTests: XCTestCase {
    /// Stands in for libical (not a dependency of this target): the series of `everyField` has one occurrence,
    /// its start, which is all this test needs to reach the `recurrence` fields.
    struct FirstOccurrenceOnly: RecurrenceExpanding {
        let lastDate = LocalDate(year: 2582, month: 12, day: 31)
        func expand(rule: String, first: LocalDateTime, through: LocalDateTime, limit: Int) -> Result<[LocalDateTime], RecurrenceRuleError> {
            .success([first])
        }
        func refusal(for parts: RecurrenceRuleParts, from first: LocalDateTime) -> String? { nil }
    }

    let parser = RequestParser(expander: FirstOccurrenceOnly())

    /// A proposal with every field of the format present, so that each can be broken in turn.
    static let everyField = """
    {"format": 1, "id": "every-field", "revision": 2, "action": "propose", "title": "全省教育系统工作会议", "kind": "relay",
     "purpose": "deploy",
     "organizer": {"unit": "浙江省教育厅", "level": "province", "type": "department", "system": "教育", "region": "浙江省"},
     "convener": {"name": "张三", "rank": "principal"},
     "start": "2025-03-10T09:00:00+08:00", "end": "2025-03-10T12:00:00+08:00", "timezone": "Asia/Shanghai",
     "location": "杭州", "contact": "mailto:office@example.org", "plan_ref": "计划第3项", "covered_by_document": "浙教发〔2025〕1号",
     "mode": "video", "group_discussion": true, "reaches_grassroots": false, "relays": "earlier-1", "directive_date": "2025-03-01",
     "attendees": [{"unit": "杭州市教育局", "level": "city", "region": "浙江省/杭州市", "role": "department-head", "type": "department",
                    "required": true, "reason": "部署", "accompanying": false, "email": "hz@example.org"}],
     "agenda": [{"type": "main-speech", "speaker": "张三", "speaker_role": "party-secretary", "speaker_region": "浙江省", "minutes": 50}],
     "approvals": [{"rule": "annual-comprehensive-cap", "approver": "省委主要负责同志", "approver_role": "party-secretary",
                    "approver_level": "province", "ref": "省委办〔2025〕12号", "date": "2025-02-01"}],
     "recurrence": {"rrule": "FREQ=DAILY;COUNT=1", "exdates": []}}
    """

    enum Step: CustomStringConvertible {
        case key(String)
        case index(Int)

        var description: String {
            switch self {
            case let .key(key): return ".\(key)"
            case let .index(index): return "[\(index)]"
            }
        }
    }

    static func setting(_ value: JSONValue?, at path: ArraySlice<Step>, in document: JSONValue) -> JSONValue {
        guard let step = path.first else { return value ?? .null }
        switch (step, document) {
        case let (.key(key), .object(members)):
            var members = members
            if let index = members.firstIndex(where: { $0.key == key }) {
                if path.count == 1, value == nil {
                    members.remove(at: index)
                } else {
                    members[index].value = setting(value, at: path.dropFirst(), in: members[index].value)
                }
            }
            return .object(members)
        case let (.index(index), .array(elements)):
            var elements = elements
            elements[index] = setting(value, at: path.dropFirst(), in: elements[index])
            return .array(elements)
        default:
            return document
        }
    }

    /// The schema of a value as the bounds are stated: a required string's own schema, or an optional one's
    /// first `anyOf` branch (the others are blank and null).
    static func primary(_ schema: JSONValue) -> JSONValue {
        if case let .array(branches)? = schema["anyOf"], let first = branches.first { return first }
        return schema
    }

    static func strings(_ value: JSONValue?) -> [String] {
        guard case let .array(items)? = value else { return [] }
        return items.compactMap { if case let .string(text) = $0 { text } else { nil } }
    }

    func test_everyRequiredField_length_enumAndType_theSchemaStates_isEnforcedByTheParser() throws {
        let schema = RequestSchema.document()
        let base = try JSONReader.parse(Array(Self.everyField.utf8))
        XCTAssertEqual(problems(base), [], "the base request is valid")
        var tried = 0

        func check(_ mutated: JSONValue, at path: [Step], _ what: String) {
            let shown = "$" + path.map(\.description).joined()
            let found = problems(mutated)
            XCTAssertTrue(found.contains { $0.hasPrefix(shown + ":") || $0.hasPrefix(shown + ".") }, "\(what) at \(shown): parser said \(found)")
            tried += 1
        }

        func walk(properties: JSONValue?, required: [String], at path: [Step]) {
            guard case let .object(members)? = properties else { return XCTFail("no properties at \(path)") }
            for (name, fieldSchema) in members {
                let fieldPath = path + [.key(name)]
                guard base.at(fieldPath) != nil else { continue }
                let value = Self.primary(fieldSchema)
                if required.contains(name) { check(Self.setting(nil, at: fieldPath[...], in: base), at: fieldPath, "removing a required field") }
                if case let .integer(limit)? = value["maxLength"] {
                    check(Self.setting(.string(String(repeating: "x", count: limit + 1)), at: fieldPath[...], in: base), at: fieldPath,
                          "\(limit + 1) characters")
                }
                let choices = Self.strings(value["enum"])
                if !choices.isEmpty {
                    check(Self.setting(.string("no-such-value"), at: fieldPath[...], in: base), at: fieldPath, "a value not in the enum")
                }
                let types = Self.strings(value["type"]) + (value["type"].flatMap { if case let .string(t) = $0 { [t] } else { nil } } ?? [])
                let wrong: JSONValue = types.contains("string") || !choices.isEmpty ? .integer(7) : .string("x")
                if !types.isEmpty || !choices.isEmpty || value["const"] != nil {
                    check(Self.setting(wrong, at: fieldPath[...], in: base), at: fieldPath, "a value of the wrong type")
                }
                if types.contains("object") {
                    walk(properties: value["properties"], required: Self.strings(value["required"]), at: fieldPath)
                }
                if types.contains("array"), let items = value["items"], items["properties"] != nil {
                    walk(properties: items["properties"], required: Self.strings(items["required"]), at: fieldPath + [.index(0)])
                }
            }
        }
        walk(properties: schema["properties"], required: Self.strings(schema["required"]), at: [])
        let proposal = try XCTUnwrap(schema["else"])
        walk(properties: proposal["properties"], required: Self.strings(proposal["required"]), at: [])
        XCTAssertGreaterThan(tried, 100, "the walk reached every field")
    }

    func test_theSchemasEnums_areTheParsersVocabulary() throws {
        let schema = RequestSchema.document()
        let proposal = try XCTUnwrap(schema["else"]?["properties"])
        XCTAssertEqual(Self.strings(Self.primary(try XCTUnwrap(proposal["kind"]))["enum"]), MeetingKind.allCases.map(\.rawValue))
        let approval = try XCTUnwrap(proposal["approvals"]?["items"]?["properties"])
        XCTAssertEqual(Self.strings(Self.primary(try XCTUnwrap(approval["rule"]))["enum"]), RuleID.allCases.map(\.rawValue))
        let zones = Self.strings(Self.primary(try XCTUnwrap(proposal["timezone"]))["enum"])
        XCTAssertEqual(zones, TimeZoneDatabase.system.names)
        XCTAssertTrue(zones.contains("Asia/Shanghai") && zones.contains("UTC") && zones.contains("PRC"))
    }

    private func problems(_ document: JSONValue) -> [String] {
        switch parser.parse(Array(document.serialized.utf8)) {
        case .success: return []
        case let .failure(invalid): return invalid.problems
        }
    }
}

private extension JSONValue {
    func at(_ path: [RequestSchemaTests.Step]) -> JSONValue? {
        var current: JSONValue? = self
        for step in path {
            switch (step, current) {
            case let (.key(key), value?): current = value[key]
            case let (.index(index), .array(elements)?): current = index < elements.count ? elements[index] : nil
            default: return nil
            }
        }
        return current
    }
}
