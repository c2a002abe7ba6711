/// Checks that concern every member of a request, known to the format or not: the same key twice in one
/// object (two readers could see two different requests) and control characters in any key or string.
enum DocumentChecks {
    static func check(_ value: JSONValue, at path: String, _ fields: inout FieldReader) {
        check(value, at: { path }, &fields)
    }

    /// `path` is made only when it is needed (a problem, or a container to descend into): most members are
    /// plain strings without one, and building every member's path cost more than the checks.
    private static func check(_ value: JSONValue, at path: () -> String, _ fields: inout FieldReader) {
        switch value {
        case let .string(text):
            if let control = firstControlCharacter(text) {
                fields.problem(path(), "contains the control character \(control)")
            }
        case let .array(elements):
            let base = path()
            for (index, element) in elements.enumerated() { check(element, at: { "\(base)[\(index)]" }, &fields) }
        case let .object(members):
            let base = path()
            // Objects are small: comparing keys pairwise is cheaper than hashing them.
            var reported: [String] = []
            for (index, member) in members.enumerated() {
                let memberPath = { Self.memberPath(base, member.key) }
                if !reported.contains(member.key), members[(index + 1)...].contains(where: { $0.key == member.key }) {
                    reported.append(member.key)
                    let count = members.count { $0.key == member.key }
                    fields.problem(memberPath(), count == 2 ? "appears twice" : "appears \(count) times")
                }
                if let control = firstControlCharacter(member.key) {
                    fields.problem(memberPath(), "the member name contains the control character \(control)")
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
        // In UTF-8 these code points are single bytes, and no byte of a longer sequence is below 0x80.
        guard text.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) else { return nil }
        guard let scalar = text.unicodeScalars.first(where: { $0.value < 0x20 || $0.value == 0x7F }) else { return nil }
        return "U+" + String(scalar.value, radix: 16, uppercase: true).leftPadded(to: 4)
    }
}
