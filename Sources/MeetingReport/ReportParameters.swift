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
                throw Problem(description: "year: \(quoted(year)) is not a year (four digits, 1970 to 9999)")
            }
            self.year = number
        }
        if let region { self.region = try Self.region(region) }
    }

    /// A region path as requests name it (`浙江省/杭州市`), in the canonical form the ledger keeps.
    public static func region(_ text: String, parameter: String = "region") throws -> String {
        let problem: String? =
            text.utf8.count > 1000 ? "is longer than 1000 bytes"
            : text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) ? "contains a control character"
            : RegionPath.isValid(text) ? nil : RegionPath.problem
        if let problem { throw Problem(description: "\(parameter): \(quoted(text)) \(problem)") }
        return text.canonicalName
    }
}
