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

    /// An empty value means the parameter was not given, on the command line as in a URL (a form's "all
    /// regions" choice sends `region=`): the current year, every region. Years are the ones a request may
    /// name (`RequestParser.meetingYears`), so every meeting that can be approved can be reported.
    public init(year: String?, region: String?) throws {
        if let year, !year.isEmpty {
            let years = RequestParser.meetingYears
            guard year.utf8.count == 4, year.utf8.allSatisfy({ (0x30...0x39).contains($0) }), let number = Int(year), years.contains(number) else {
                throw Problem(description: "year: \(quoted(year)) is not a year (four digits, \(years.lowerBound) to \(years.upperBound))")
            }
            self.year = number
        }
        if let region, !region.isEmpty { self.region = try Self.region(region) }
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
