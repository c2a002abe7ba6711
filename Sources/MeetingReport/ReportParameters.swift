import MeetingModel

/// The year and region a report is asked for, read from the command line or a URL's query: a bad value is
/// refused with one line naming the parameter.
public struct ReportParameters: Sendable, Equatable {
    public var year: Int?
    public var region: String?

    public struct Problem: Error, CustomStringConvertible {
        public let description: String
    }

    public init(year: Int? = nil, region: String? = nil) {
        self.year = year
        self.region = region
    }

    public init(year: String?, region: String?) throws {
        if let year {
            guard year.utf8.count == 4, year.allSatisfy(\.isASCII), let number = Int(year), (1970...9999).contains(number) else {
                throw Problem(description: "year: \(Self.shown(year)) is not a year (four digits, 1970 to 9999)")
            }
            self.year = number
        }
        if let region { self.region = try Self.region(region) }
    }

    /// A region path as requests name it (`浙江省/杭州市`), in the canonical form the ledger keeps.
    public static func region(_ text: String, parameter: String = "region") throws -> String {
        let problem: String? =
            text.isEmpty ? "is empty"
            : text.utf8.count > 1000 ? "is longer than 1000 bytes"
            : text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) ? "contains a control character"
            : text.hasPrefix("/") || text.hasSuffix("/") || text.contains("//") ? "is not a region path (省/市/县, no empty part)"
            : nil
        if let problem { throw Problem(description: "\(parameter): \(shown(text)) \(problem)") }
        return text.canonicalName
    }

    /// A value as an error message quotes it: at most 60 characters, control characters escaped.
    static func shown(_ text: String) -> String {
        let cut = text.count > 60 ? String(text.prefix(60)) + "…" : text
        return JSONValue.string(cut).serialized
    }
}
