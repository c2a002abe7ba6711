import Foundation

/// The request format as a JSON Schema (draft 2020-12), for `meetingd schema`: what other systems (an OA
/// system, a form) can check before they drop a request. It states what JSON Schema can express of
/// `shared/spec/request-format.md` and `recurrence.md`; the rest (end after start, the 14-day and series
/// bounds, calendar validity of dates, the RRULE grammar, duplicate keys) stays with meetingd and the
/// `description`s say so. Its enums are the parser's own types, and a test drives the parser with values
/// made from this schema (too long, wrong enum, missing, wrong type), so the two cannot drift apart.
public enum RequestSchema {
    /// Unicode `White_Space`, what the format calls blank.
    static let whiteSpace = "\\t-\\r \\u0085\\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000"
    static let controls = "\\u0000-\\u001F\\u007F"

    /// The text limits of the format, in characters (extended grapheme clusters).
    public enum Limit {
        public static let id = 128
        public static let name = 200
        public static let text = 500
        public static let reason = 1_000
        public static let email = 254
        public static let date = 40
        public static let timeZone = 100
        public static let rule = 500
    }

    public static func document(zones: TimeZoneDatabase = .system) -> JSONValue {
        let proposalRequired = ["format", "id", "title", "kind", "organizer", "convener", "start", "end"]
        return object([
            ("$schema", .string("https://json-schema.org/draft/2020-12/schema")),
            ("$id", .string("https://meetingd.invalid/schema/request-1.json")),
            ("title", .string("meetingd meeting request, format 1")),
            ("description", .string("""
                A meeting request (shared/spec/request-format.md). Unknown members are kept and ignored; null means \
                absent; an optional string that is empty or only white space counts as absent. Lengths are limits \
                in characters: meetingd counts extended grapheme clusters, JSON Schema's maxLength code points, so a \
                name written with combining marks may pass meetingd and not this schema. Checked by meetingd only: \
                no key twice in one object, end after start and at most 14 days later, real calendar dates, the \
                RRULE grammar and the series bounds, integers written without a fraction (1, not 1.0), a file of at \
                most 1,048,576 bytes.
                """)),
            ("type", .string("object")),
            ("properties", object([
                ("format", object([("const", .integer(1)), ("description", .string("The format version."))])),
                ("id", string(maxLength: Limit.id, pattern: "^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$", required: true,
                              description: "1–128 of A-Z a-z 0-9 . _ -, not starting with '.': the request's identity across revisions.")),
                ("revision", integer(minimum: 1, maximum: nil, description: "A higher revision replaces the earlier one (default 1).")),
                ("action", enumeration(RequestAction.self, required: false, description: "propose (default) or withdraw.")),
            ])),
            ("required", .array(["format", "id"].map(JSONValue.string))),
            // A withdrawal needs only format, id and action; the proposal's fields are read only for a proposal.
            ("if", object([
                ("properties", object([("action", object([("const", .string("withdraw"))]))])),
                ("required", .array([.string("action")])),
            ])),
            ("else", proposal(required: proposalRequired, zones: zones)),
        ])
    }

    private static func proposal(required: [String], zones: TimeZoneDatabase) -> JSONValue {
        let zoneNames = zones.names
        var timeZone = string(maxLength: Limit.timeZone, required: false,
                              description: "An IANA zone: a Zone or Link of this installation's tz database (default: the config's timezone).")
        if !zoneNames.isEmpty {
            timeZone = object([("anyOf", .array([
                object([("enum", .array(zoneNames.map(JSONValue.string)))]), blank(), object([("type", .string("null"))]),
            ])), ("description", .string("An IANA zone: a Zone or Link of this installation's tz database (default: the config's timezone)."))])
        }
        return object([
            ("required", .array(required.map(JSONValue.string))),
            ("properties", object([
                ("title", string(maxLength: Limit.name, required: true, description: "1–200 characters.")),
                ("kind", enumeration(MeetingKind.self, required: true, description: "The kind of meeting (rules.md).")),
                ("purpose", enumeration(Purpose.self, required: false)),
                ("organizer", object([
                    ("type", .string("object")),
                    ("required", .array(["unit", "level", "type", "region"].map(JSONValue.string))),
                    ("properties", object([
                        ("unit", string(maxLength: Limit.name, required: true, description: "The organizing unit's name.")),
                        ("level", enumeration(Level.self, required: true)),
                        ("type", enumeration(OrganizerType.self, required: true)),
                        ("system", string(maxLength: Limit.name, required: false,
                                          description: "The system/field (本系统本领域); required for a comprehensive meeting.")),
                        ("region", region(required: true)),
                    ])),
                ])),
                ("convener", object([
                    ("type", .string("object")),
                    ("required", .array([.string("rank")])),
                    ("properties", object([
                        ("name", string(maxLength: Limit.name, required: false)),
                        ("rank", enumeration(ConvenerRank.self, required: true)),
                    ])),
                ])),
                ("start", dateTime(description: "The (first) start: RFC 3339 with an offset, years 1900–2999.")),
                ("end", dateTime(description: "The (first) end: after start and at most 14 days later (checked by meetingd).")),
                ("timezone", timeZone),
                ("location", string(maxLength: Limit.text, required: false)),
                ("contact", string(maxLength: Limit.text, pattern: "^[A-Za-z][A-Za-z0-9+.-]*:[^\\s<>\"]+$", required: false,
                                   description: "A URI (mailto:…) used for the ORGANIZER.")),
                ("plan_ref", string(maxLength: Limit.text, required: false)),
                ("covered_by_document", string(maxLength: Limit.text, required: false)),
                ("mode", enumeration(MeetingMode.self, required: false)),
                ("group_discussion", boolean()),
                ("reaches_grassroots", boolean()),
                ("relays", string(maxLength: Limit.id, required: false, description: "The id of an earlier meeting this one relays.")),
                ("directive_date", dateOrDateTime(description: "When the superior directive was issued; required for a relay meeting.")),
                ("attendees", array(of: object([
                    ("type", .string("object")),
                    ("required", .array(["unit", "level", "region", "role"].map(JSONValue.string))),
                    ("properties", object([
                        ("unit", string(maxLength: Limit.name, required: true)),
                        ("level", enumeration(Level.self, required: true)),
                        ("region", region(required: true)),
                        ("role", enumeration(AttendeeRole.self, required: true)),
                        ("type", enumeration(OrganizerType.self, required: false)),
                        ("required", boolean()),
                        ("reason", string(maxLength: Limit.reason, required: false)),
                        ("accompanying", boolean()),
                        ("email", string(maxLength: Limit.email, pattern: "^[^@\\s<>\":]+@[^@\\s<>\":]*\\.[^@\\s<>\":]*$", required: false)),
                    ])),
                ]))),
                ("agenda", array(of: object([
                    ("type", .string("object")),
                    ("required", .array([.string("type")])),
                    ("properties", object([
                        ("type", enumeration(AgendaItemType.self, required: true)),
                        ("speaker", string(maxLength: Limit.name, required: false)),
                        ("speaker_role", enumeration(AttendeeRole.self, required: false)),
                        ("speaker_region", region(required: false)),
                        ("minutes", integer(minimum: 0, maximum: 20_160, description: nil)),
                    ])),
                ]))),
                ("approvals", array(of: object([
                    ("type", .string("object")),
                    ("required", .array([.string("rule")])),
                    ("properties", object([
                        ("rule", enumeration(RuleID.self, required: true)),
                        ("approver", string(maxLength: Limit.name, required: false)),
                        ("approver_role", enumeration(AttendeeRole.self, required: false)),
                        ("approver_level", enumeration(Level.self, required: false)),
                        ("ref", string(maxLength: Limit.text, required: false)),
                        ("date", dateOrDateTime(description: nil)),
                    ])),
                ]))),
                ("recurrence", object([
                    ("type", .array([.string("object"), .string("null")])),
                    ("description", .string("""
                        A recurring series (shared/spec/recurrence.md). start/end are the first occurrence. Checked by \
                        meetingd only: the RRULE grammar, that start is its first occurrence, that each exdate is an \
                        occurrence's date, at least one occurrence left, and the config's max_occurrences and max_span_days.
                        """)),
                    ("required", .array([.string("rrule")])),
                    ("properties", object([
                        ("rrule", rrule()),
                        ("exdates", array(unique: true, of: object([
                            ("type", .string("string")),
                            ("pattern", .string("^[0-9]{4}-[0-9]{2}-[0-9]{2}$")),
                            ("description", .string("""
                                The local date (YYYY-MM-DD) of an occurrence that does not take place; at most \
                                recurrence.max_occurrences of them (checked by meetingd).
                                """)),
                        ]))),
                    ])),
                ])),
            ])),
            ("allOf", .array([
                conditional(when: "kind", is: "comprehensive", then: object([
                    ("properties", object([("organizer", object([
                        ("required", .array([.string("system")])),
                        ("properties", object([("system", string(maxLength: Limit.name, required: true,
                                                                 description: "Required for a comprehensive meeting."))])),
                    ]))])),
                ])),
                conditional(when: "kind", is: "relay", then: object([
                    ("required", .array([.string("directive_date")])),
                    ("properties", object([("directive_date", object([("type", .string("string")), ("pattern", .string(dateOrDateTimePattern))]))])),
                ])),
            ])),
        ])
    }

    // MARK: Building blocks

    /// ASCII letters matched in either case (RFC 5545 names are case-insensitive; JSON Schema patterns have
    /// no flag for it).
    static func caseless(_ word: String) -> String {
        word.map { $0.isLetter ? "[\($0.uppercased())\($0.lowercased())]" : String($0) }.joined()
    }

    /// The RRULE as far as a pattern can say: the rule parts meetingd expands, FREQ daily to yearly, and exactly
    /// one well-formed end, COUNT or UNTIL.
    private static func rrule() -> JSONValue {
        let names = ["FREQ", "UNTIL", "COUNT", "INTERVAL", "BYDAY", "BYMONTHDAY", "BYYEARDAY", "BYWEEKNO", "BYMONTH", "BYSETPOS", "WKST"]
        let name = "(?:" + names.map(caseless).joined(separator: "|") + ")"
        let start = "(?:^|;|:)"
        let frequencies = ["DAILY", "WEEKLY", "MONTHLY", "YEARLY"].map(caseless).joined(separator: "|")
        let count = caseless("COUNT"), until = caseless("UNTIL")
        func pattern(_ text: String) -> JSONValue { object([("pattern", .string(text))]) }
        return object([
            ("type", .string("string")),
            ("maxLength", .integer(Limit.rule)),
            ("allOf", .array([
                pattern("^(?:\(caseless("RRULE")):)?\(name)=[^;]+(?:;\(name)=[^;]+)*$"),
                pattern("\(start)\(caseless("FREQ"))=(?:\(frequencies))(?:;|$)"),
                object([("anyOf", .array([
                    object([("allOf", .array([pattern("\(start)\(count)=[1-9][0-9]{0,8}(?:;|$)"),
                                              object([("not", pattern("\(start)\(until)="))])]))]),
                    object([("allOf", .array([pattern("\(start)\(until)=[0-9]{8}(?:[Tt][0-9]{6}[Zz])?(?:;|$)"),
                                              object([("not", pattern("\(start)\(count)="))])]))]),
                ]))]),
            ])),
            ("description", .string("""
                An RFC 5545 RRULE value that ends: COUNT, or UNTIL (a date, or a UTC date-time). A meeting series \
                repeats its first occurrence's time of day: FREQ is DAILY, WEEKLY, MONTHLY or YEARLY, without BYHOUR, \
                BYMINUTE or BYSECOND. Checked by meetingd only: the values of the other parts, combinations RFC 5545 \
                forbids or that never match, a part given twice, and that start is the rule's first occurrence.
                """)),
        ])
    }

    private static func object(_ members: [(String, JSONValue)]) -> JSONValue { .object(members.map { (key: $0.0, value: $0.1) }) }

    /// A string of at least one non-blank character (required), or — optional — also blank or null.
    private static func string(maxLength: Int, pattern: String? = nil, required: Bool, description: String? = nil) -> JSONValue {
        var members: [(String, JSONValue)] = [("type", .string("string")), ("maxLength", .integer(maxLength))]
        var patterns = ["^[^\(controls)]*$"]
        if required { patterns.append("[^\(whiteSpace)]") }
        if let pattern { patterns.append(pattern) }
        members.append(("allOf", .array(patterns.map { object([("pattern", .string($0))]) })))
        let value = object(members)
        return optionalOrRequired(value, required: required, description: description)
    }

    private static func optionalOrRequired(_ value: JSONValue, required: Bool, description: String?) -> JSONValue {
        var members: [(String, JSONValue)] = []
        if required {
            guard case let .object(inner) = value else { return value }
            members = inner.map { ($0.key, $0.value) }
        } else {
            members = [("anyOf", .array([value, blank(), object([("type", .string("null"))])]))]
        }
        if let description { members.append(("description", .string(description))) }
        return object(members)
    }

    /// An empty or white-space string: absent, like null.
    private static func blank() -> JSONValue {
        object([("type", .string("string")), ("pattern", .string("^[\(whiteSpace)]*$"))])
    }

    private static func enumeration<E: CaseIterable & RawRepresentable>(_ type: E.Type, required: Bool,
                                                                       description: String? = nil) -> JSONValue where E.RawValue == String {
        optionalOrRequired(object([("enum", .array(E.allCases.map { .string($0.rawValue) }))]), required: required, description: description)
    }

    private static func integer(minimum: Int, maximum: Int?, description: String?) -> JSONValue {
        var members: [(String, JSONValue)] = [("type", .array([.string("integer"), .string("null")])), ("minimum", .integer(minimum))]
        if let maximum { members.append(("maximum", .integer(maximum))) }
        if let description { members.append(("description", .string(description))) }
        return object(members)
    }

    private static func boolean() -> JSONValue { object([("type", .array([.string("boolean"), .string("null")]))]) }

    private static func array(unique: Bool = false, of items: JSONValue) -> JSONValue {
        var members: [(String, JSONValue)] = [("type", .array([.string("array"), .string("null")])), ("items", items)]
        if unique { members.append(("uniqueItems", .bool(true))) }
        return object(members)
    }

    /// RFC 3339 with an offset, any number of fraction digits, years 1900–2999.
    static let dateTimePattern = "^(19|2[0-9])[0-9]{2}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$"

    private static func dateTime(description: String) -> JSONValue {
        object([("type", .string("string")), ("format", .string("date-time")), ("pattern", .string(dateTimePattern)),
                ("description", .string(description))])
    }

    /// A date, or an RFC 3339 date-time (any year).
    static let dateOrDateTimePattern =
        "^[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\\.[0-9]+)?(?:[Zz]|[+-][0-9]{2}:[0-9]{2}))?$"

    private static func dateOrDateTime(description: String?) -> JSONValue {
        let value = object([("type", .string("string")), ("maxLength", .integer(Limit.date)), ("pattern", .string(dateOrDateTimePattern))])
        return optionalOrRequired(value, required: false, description: description ?? "A date (YYYY-MM-DD) or an RFC 3339 date-time.")
    }

    /// Names separated by single `/`, none blank.
    private static func region(required: Bool) -> JSONValue {
        let segment = "[^/\(controls)]*[^/\(whiteSpace)\(controls)][^/\(controls)]*"
        return string(maxLength: Limit.text, pattern: "^\(segment)(/\(segment))*$", required: required,
                      description: "A region path: names separated by '/', none empty (浙江省/杭州市).")
    }

    private static func conditional(when key: String, is value: String, then: JSONValue) -> JSONValue {
        object([
            ("if", object([("properties", object([(key, object([("const", .string(value))]))])), ("required", .array([.string(key)]))])),
            ("then", then),
        ])
    }
}

extension JSONValue {
    /// JSON indented by two spaces, members in their given order: for people (`meetingd schema`).
    public var pretty: String {
        var out = ""
        writePretty(to: &out, indent: 0)
        return out
    }

    private func writePretty(to out: inout String, indent: Int) {
        let pad = String(repeating: " ", count: indent + 2)
        switch self {
        case let .array(elements) where !elements.isEmpty:
            out += "[\n"
            for (index, element) in elements.enumerated() {
                out += pad
                element.writePretty(to: &out, indent: indent + 2)
                out += index < elements.count - 1 ? ",\n" : "\n"
            }
            out += String(repeating: " ", count: indent) + "]"
        case let .object(members) where !members.isEmpty:
            out += "{\n"
            for (index, member) in members.enumerated() {
                out += pad + JSONValue.string(member.key).serialized + ": "
                member.value.writePretty(to: &out, indent: indent + 2)
                out += index < members.count - 1 ? ",\n" : "\n"
            }
            out += String(repeating: " ", count: indent) + "}"
        default:
            out += serialized
        }
    }
}
