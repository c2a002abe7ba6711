/// Checks that concern every member of a request, known to the format or not: the same key twice in one
/// object (two readers could see two different requests) and control characters in any key or string.
enum DocumentChecks {
    static func check(_ value: JSONValue, at path: String, _ fields: inout FieldReader) {
        switch value {
        case let .string(text):
            if let control = firstControlCharacter(text) {
                fields.problem(path, "contains the control character \(control)")
            }
        case let .array(elements):
            for (index, element) in elements.enumerated() { check(element, at: "\(path)[\(index)]", &fields) }
        case let .object(members):
            var seen: [String: Int] = [:]
            for member in members { seen[member.key, default: 0] += 1 }
            var reported = Set<String>()
            for member in members {
                let memberPath = Self.memberPath(path, member.key)
                if let count = seen[member.key], count > 1, reported.insert(member.key).inserted {
                    fields.problem(memberPath, count == 2 ? "appears twice" : "appears \(count) times")
                }
                if let control = firstControlCharacter(member.key) {
                    fields.problem(memberPath, "the member name contains the control character \(control)")
                }
                check(member.value, at: memberPath, &fields)
            }
        case .null, .bool, .integer, .number:
            break
        }
    }

    /// `$.title` for a plain name, `$["a b"]` (escaped, shortened) for any other.
    static func memberPath(_ parent: String, _ key: String) -> String {
        let plain = !key.isEmpty && key.utf8.allSatisfy { byte in
            (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
                || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
        }
        return plain ? "\(parent).\(key)" : "\(parent)[\(quoted(key))]"
    }

    /// `U+0001` for the first character in U+0000–U+001F or U+007F, if any.
    private static func firstControlCharacter(_ text: String) -> String? {
        guard let scalar = text.unicodeScalars.first(where: { $0.value < 0x20 || $0.value == 0x7F }) else { return nil }
        return "U+" + String(scalar.value, radix: 16, uppercase: true).leftPadded(to: 4)
    }
}
