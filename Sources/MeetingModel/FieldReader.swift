import Foundation

/// A JSON value together with its path in the document (`$.attendees[2]`).
struct FieldPath {
    let value: JSONValue
    let path: String

    init(_ value: JSONValue, _ path: String) {
        self.value = value
        self.path = path
    }
}

/// Typed access to request fields that records a `$.path: what is wrong` line for every problem.
struct FieldReader {
    private(set) var problems: [String] = []
    /// False when reading a stored request again: rules added since it was approved are not applied.
    var strict = true
    /// False when a stored request approved as one meeting is read again: its `recurrence`, if any, is not read.
    var readsRecurrence = true
    /// Whether a series must keep within the parser's recurrence bounds (else the widest are used).
    var appliesRecurrenceBounds = true

    mutating func problem(_ path: String, _ message: String) { problems.append("\(path): \(message)") }

    func has(_ parent: FieldPath, _ key: String) -> Bool { parent.value[key] != nil }

    /// The member as written when it is a string; for messages.
    func text(_ parent: FieldPath, _ key: String) -> String? {
        if case let .string(text) = parent.value[key] { return text }
        return nil
    }

    private mutating func member(_ parent: FieldPath, _ key: String, required: Bool, missingNote: String = "required") -> FieldPath? {
        guard let value = parent.value[key] else {
            if required { problem("\(parent.path).\(key)", "missing (\(missingNote))") }
            return nil
        }
        return FieldPath(value, "\(parent.path).\(key)")
    }

    mutating func string(_ parent: FieldPath, _ key: String, required: Bool = false, maxLength: Int,
                         missingNote: String = "required") -> String? {
        guard let field = member(parent, key, required: required, missingNote: missingNote) else { return nil }
        guard case let .string(text) = field.value else {
            problem(field.path, "expected a string, found \(field.value.typeName)")
            return nil
        }
        // Control characters anywhere in the document are reported once by `DocumentChecks`.
        if text.isBlank {
            if required { problem(field.path, "must not be empty") }
            return nil
        }
        // A character is at least one byte: the grapheme count is needed only when the bytes exceed the limit.
        if text.utf8.count > maxLength, text.count > maxLength {
            problem(field.path, "is \(text.count) characters long, more than \(maxLength)")
            return nil
        }
        return text
    }

    mutating func integer(_ parent: FieldPath, _ key: String, required: Bool = false, range: ClosedRange<Int>? = nil) -> Int? {
        guard let field = member(parent, key, required: required) else { return nil }
        guard case let .integer(value) = field.value else {
            if case let .number(number) = field.value {
                problem(field.path, "expected an integer, found \(number)")
            } else {
                problem(field.path, "expected an integer, found \(field.value.typeName)")
            }
            return nil
        }
        if let range, !range.contains(value) {
            let upper = range.upperBound == Int.max ? "" : "–\(range.upperBound)"
            problem(field.path, "\(value) is out of range (\(range.lowerBound)\(upper.isEmpty ? " or more" : upper))")
            return nil
        }
        return value
    }

    mutating func bool(_ parent: FieldPath, _ key: String) -> Bool? {
        guard let field = member(parent, key, required: false) else { return nil }
        guard case let .bool(value) = field.value else {
            problem(field.path, "expected true or false, found \(field.value.typeName)")
            return nil
        }
        return value
    }

    mutating func enumeration<E: CaseIterable & RawRepresentable>(
        _ parent: FieldPath, _ key: String, _ type: E.Type, required: Bool = false
    ) -> E? where E.RawValue == String {
        guard let field = member(parent, key, required: required) else { return nil }
        guard case let .string(text) = field.value else {
            problem(field.path, "expected a string, found \(field.value.typeName)")
            return nil
        }
        if text.isBlank {
            // An empty or blank enum value counts as absent, like null.
            if required { problem(field.path, "must not be empty") }
            return nil
        }
        guard let value = E(rawValue: text) else {
            problem(field.path, "\(quoted(text)) is not one of \(E.choices)")
            return nil
        }
        return value
    }

    /// Years a meeting may fall in: what calendar programs (and libical's time arithmetic) handle.
    static let meetingYears = RequestParser.meetingYears

    /// An RFC 3339 date-time with an offset, any number of fraction digits, in `meetingYears`.
    mutating func dateTime(_ parent: FieldPath, _ key: String, required: Bool) -> Date? {
        guard let text = string(parent, key, required: required, maxLength: 10_000) else { return nil }
        guard let (instant, _) = RFC3339.parse(text) else {
            problem("\(parent.path).\(key)", "\(quoted(text)) is not an RFC 3339 date-time with an offset (e.g. 2025-03-10T09:00:00+08:00)")
            return nil
        }
        if strict, let year = Int(text.prefix(4)), !Self.meetingYears.contains(year) {
            problem("\(parent.path).\(key)", "year \(year) is outside \(Self.meetingYears.lowerBound)–\(Self.meetingYears.upperBound)")
            return nil
        }
        return instant
    }

    /// A region path: `/`-separated names, none empty.
    mutating func region(_ parent: FieldPath, _ key: String, required: Bool = false) -> String? {
        guard let text = string(parent, key, required: required, maxLength: RequestSchema.Limit.text) else { return nil }
        if !RegionPath.isValid(text) {
            problem("\(parent.path).\(key)", "\(quoted(text)) \(RegionPath.problem)")
            return nil
        }
        return text
    }

    mutating func object(_ parent: FieldPath, _ key: String, required: Bool) -> FieldPath? {
        guard let field = member(parent, key, required: required) else { return nil }
        return expectObject(field) ? field : nil
    }

    mutating func expectObject(_ field: FieldPath) -> Bool {
        guard case .object = field.value else {
            problem(field.path, "expected an object, found \(field.value.typeName)")
            return false
        }
        return true
    }

    /// The elements of an optional array member, each with its path.
    mutating func array(_ parent: FieldPath, _ key: String) -> [FieldPath] {
        guard let field = member(parent, key, required: false) else { return [] }
        guard case let .array(elements) = field.value else {
            problem(field.path, "expected an array, found \(field.value.typeName)")
            return []
        }
        return elements.enumerated().map { FieldPath($1, "\(field.path)[\($0)]") }
    }
}

extension StringProtocol {
    /// Empty or only Unicode `White_Space` (U+0085, U+2028 and U+3000 included): what the format calls blank.
    var isBlank: Bool { unicodeScalars.allSatisfy(\.properties.isWhitespace) }
}

/// A region path as requests name regions (`浙江省/杭州市/西湖区`): `/`-separated names, none empty or blank.
/// One check for a request's regions and for a region a report is asked for.
public enum RegionPath {
    public static func isValid(_ text: String) -> Bool {
        !text.split(separator: "/", omittingEmptySubsequences: false).contains { $0.isBlank }
    }

    public static let problem = "is not a region path (names separated by '/', none empty)"
}
