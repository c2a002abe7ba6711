/// A page built as a tree of typed nodes, not pasted together as text: every text and attribute value is
/// escaped once, when the tree is rendered, so a value from a request (a title with `<script>`, a quote, a
/// bidirectional-override mark) can only ever be text. Element and attribute names are `StaticString`s:
/// they come from meetingd's source, never from input. The unescaped nodes are `trusted`, which takes a
/// `StaticString` too (the page's own CSS), and `rendered`, a part rendered earlier by this same type.
public indirect enum HTML: Sendable {
    case element(name: StaticString, attributes: [(name: StaticString, value: String)], children: [HTML])
    case text(String)
    case trusted(StaticString)
    /// A part rendered before and kept (the feeds index keeps each feed's row until its count changes).
    case rendered(RenderedHTML)

    public static func el(_ name: StaticString, _ attributes: [(name: StaticString, value: String)] = [], _ children: [HTML] = []) -> HTML {
        .element(name: name, attributes: attributes, children: children)
    }

    public static func el(_ name: StaticString, _ attributes: [(name: StaticString, value: String)] = [], _ text: String) -> HTML {
        .element(name: name, attributes: attributes, children: [.text(text)])
    }

    /// Elements that have no end tag.
    private static let void: Set<String> = ["meta", "br", "link", "img", "hr", "col"]

    /// A whole document: `<!doctype html>` and the tree.
    public func document() -> String {
        var out = "<!doctype html>\n"
        render(into: &out)
        out += "\n"
        return out
    }

    public func render(into out: inout String) {
        switch self {
        case let .text(text):
            out += Self.escape(text)
        case let .trusted(text):
            out += text.description
        case let .rendered(part):
            out += part.text
        case let .element(name, attributes, children):
            out += "<" + name.description
            for attribute in attributes { out += " " + attribute.name.description + "=\"" + Self.escape(attribute.value) + "\"" }
            out += ">"
            if Self.void.contains(name.description) { return }
            for child in children { child.render(into: &out) }
            out += "</" + name.description + ">"
        }
    }

    /// This tree rendered once, to be placed in pages as it is.
    public func rendered() -> RenderedHTML {
        var out = ""
        render(into: &out)
        return RenderedHTML(text: out)
    }

    /// Text as HTML shows it literally. The bidirectional controls are written as character references, so
    /// that the page's source shows where a value carries one.
    public static func escape(_ text: String) -> String {
        // Most text has nothing to escape: returned whole rather than rebuilt a scalar at a time. 0xE2 leads
        // the UTF-8 of every bidirectional control (U+2000 to U+2FFF).
        if !text.utf8.contains(where: { $0 == UInt8(ascii: "&") || $0 == UInt8(ascii: "<") || $0 == UInt8(ascii: ">")
            || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "'") || $0 == 0xE2 }) {
            return text
        }
        var escaped = ""
        escaped.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            case "'": escaped += "&#39;"
            case "\u{200E}", "\u{200F}", "\u{202A}"..."\u{202E}", "\u{2066}"..."\u{2069}":
                escaped += "&#x" + String(scalar.value, radix: 16, uppercase: true) + ";"
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped
    }
}

/// HTML that `HTML.rendered()` made, and only it: so a page can hold a part made earlier without any way to
/// place unescaped text.
public struct RenderedHTML: Sendable, Equatable {
    fileprivate let text: String
}
