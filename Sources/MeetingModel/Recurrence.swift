import Foundation

/// One meeting of a series: its start and end instants.
public struct Occurrence: Sendable, Equatable {
    public var start: Date
    public var end: Date

    public init(start: Date, end: Date) {
        self.start = start
        self.end = end
    }
}

/// A request's `recurrence` (`shared/spec/recurrence.md`), read and expanded: the series is every occurrence
/// of `rule` from the request's start, less `exdates`, each with the first one's duration.
public struct Recurrence: Sendable, Equatable {
    /// The RRULE as the .ics carries it: the request's parts in the request's order, with an UNTIL date
    /// written as the UTC instant that ends that local day (RFC 5545 wants UNTIL in UTC when DTSTART has a TZID).
    public var rule: String
    /// The local dates excluded, as the request lists them.
    public var exdates: [LocalDate]
    /// The occurrences that take place, in order; the first is the request's `start`/`end`.
    public var occurrences: [Occurrence]
    /// The wall-clock starts (as the rule gives them) of the occurrences that `exdates` removed: the EXDATE
    /// values, which must match the RRULE's own instances as a client expands them.
    public var excludedStarts: [LocalDateTime]

    public init(rule: String, exdates: [LocalDate], occurrences: [Occurrence], excludedStarts: [LocalDateTime]) {
        self.rule = rule
        self.exdates = exdates
        self.occurrences = occurrences
        self.excludedStarts = excludedStarts
    }
}

/// The bounds of a series (config `recurrence.max_occurrences`, `recurrence.max_span_days`).
public struct RecurrenceLimits: Sendable, Equatable {
    public var maxOccurrences = 400
    public var maxSpanDays = 366

    public static let occurrencesRange = 1...5_000
    public static let spanDaysRange = 1...3_660

    public init(maxOccurrences: Int = 400, maxSpanDays: Int = 366) {
        self.maxOccurrences = maxOccurrences
        self.maxSpanDays = maxSpanDays
    }
}

/// Expands an RRULE over wall-clock times. The request model has no calendar library; meetingd's is libical
/// (`LibicalRecurrence` in MeetingCalendar), the same code that writes the RRULE into the .ics.
public protocol RecurrenceExpanding: Sendable {
    /// The wall-clock starts of `rule` from `first` (the DTSTART, in the request's zone, taken as floating
    /// local time), in order: at most `limit`, none after `through`. A rule the library cannot read gives
    /// `.failure` with the reason.
    func expand(rule: String, first: LocalDateTime, through: LocalDateTime, limit: Int) -> Result<[LocalDateTime], RecurrenceRuleError>
    /// The last date the library expands a series to; nothing after it is ever returned.
    var lastDate: LocalDate { get }
    /// Why the library's expansion of a rule of this shape, from `first`, cannot be trusted to equal RFC 5545's,
    /// as a note that names the shape and an equivalent rule; nil when it can.
    func refusal(for parts: RecurrenceRuleParts, from first: LocalDateTime) -> String?
}

public struct RecurrenceRuleError: Error, Sendable, Equatable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The parts of an RRULE value, checked before the library reads it: the RFC 5545 rule parts only (no
/// RSCALE or SKIP, which few calendar programs know), each once, FREQ given, and an end — COUNT or UNTIL.
public struct RecurrenceRuleParts: Sendable, Equatable {
    public enum End: Sendable, Equatable {
        case count(Int)
        /// The last local day the series may reach.
        case untilDate(LocalDate)
        /// The last instant, written in UTC (`20250630T160000Z`).
        case untilInstant(Date)
    }

    public static let knownParts = ["FREQ", "UNTIL", "COUNT", "INTERVAL", "BYSECOND", "BYMINUTE", "BYHOUR", "BYDAY",
                                    "BYMONTHDAY", "BYYEARDAY", "BYWEEKNO", "BYMONTH", "BYSETPOS", "WKST"]

    /// `NAME=VALUE` in the request's order, names upper-cased.
    public var parts: [(name: String, value: String)]
    public var end: End

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.end == rhs.end && lhs.parts.elementsEqual(rhs.parts) { $0.name == $1.name && $0.value == $1.value }
    }

    /// Reads `text`, or says what is wrong with it.
    public static func parse(_ text: String) -> Result<RecurrenceRuleParts, RecurrenceRuleError> {
        var body = text
        if body.asciiUppercased.hasPrefix("RRULE:") { body.removeFirst(6) }
        var parts: [(name: String, value: String)] = []
        for piece in body.split(separator: ";", omittingEmptySubsequences: false) {
            let pair = piece.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard pair.count == 2, !pair[0].isEmpty, !pair[1].isEmpty else {
                return .failure(.init("\(quoted(String(piece))) is not a rule part NAME=VALUE"))
            }
            let name = String(pair[0]).asciiUppercased
            guard knownParts.contains(name) else {
                return .failure(.init("\(quoted(String(pair[0]))) is not an RFC 5545 rule part (known: \(knownParts.joined(separator: ", ")))"))
            }
            guard !parts.contains(where: { $0.name == name }) else { return .failure(.init("\(name) appears twice")) }
            parts.append((name, String(pair[1]).asciiUppercased))
        }
        guard let frequency = parts.first(where: { $0.name == "FREQ" })?.value else { return .failure(.init("FREQ is missing")) }
        if let problem = unsupported(frequency: frequency, parts: parts) { return .failure(.init(problem)) }
        let count = parts.first { $0.name == "COUNT" }?.value
        let until = parts.first { $0.name == "UNTIL" }?.value
        switch (count, until) {
        case (nil, nil):
            return .failure(.init("the series never ends: give COUNT or UNTIL"))
        case (.some, .some):
            return .failure(.init("COUNT and UNTIL are both given (RFC 5545 allows one)"))
        case let (count?, nil):
            guard count.utf8.allSatisfy({ (0x30...0x39).contains($0) }), let number = Int(count), number >= 1 else {
                return .failure(.init("COUNT=\(count) is not a whole number of 1 or more"))
            }
            return .success(RecurrenceRuleParts(parts: parts, end: .count(number)))
        case let (nil, until?):
            guard let end = untilValue(until) else {
                return .failure(.init("UNTIL=\(until) is neither a date (YYYYMMDD) nor a UTC date-time (YYYYMMDDTHHMMSSZ)"))
            }
            return .success(RecurrenceRuleParts(parts: parts, end: end))
        }
    }

    /// What meetingd does not expand, and the part combinations RFC 5545 forbids. A meeting series repeats its
    /// first occurrence's time of day: sub-daily frequencies and BYHOUR/BYMINUTE/BYSECOND are refused, and
    /// with them the rules that would make libical's iterator search second by second (an HOURLY rule that
    /// never matches takes seconds). A BYMONTH and BYMONTHDAY
    /// that never meet are refused here too, where libical would search every day to the year 2582 for them.
    private static func unsupported(frequency: String, parts: [(name: String, value: String)]) -> String? {
        if ["SECONDLY", "MINUTELY", "HOURLY"].contains(frequency) {
            return "FREQ=\(frequency): a meeting series repeats daily, weekly, monthly or yearly, at the first occurrence's time of day"
        }
        for name in ["BYHOUR", "BYMINUTE", "BYSECOND"] where parts.contains(where: { $0.name == name }) {
            return "\(name): every occurrence of a meeting series keeps the first one's time of day; list other times as another request"
        }
        func has(_ name: String) -> Bool { parts.contains { $0.name == name } }
        if has("BYWEEKNO"), frequency != "YEARLY" { return "BYWEEKNO is allowed with FREQ=YEARLY only (RFC 5545 section 3.3.10)" }
        if has("BYYEARDAY"), ["DAILY", "WEEKLY", "MONTHLY"].contains(frequency) {
            return "BYYEARDAY is not allowed with FREQ=\(frequency) (RFC 5545 section 3.3.10)"
        }
        if has("BYMONTHDAY"), frequency == "WEEKLY" { return "BYMONTHDAY is not allowed with FREQ=WEEKLY (RFC 5545 section 3.3.10)" }
        if has("BYSETPOS"), !parts.contains(where: { $0.name.hasPrefix("BY") && $0.name != "BYSETPOS" }) {
            return "BYSETPOS needs another BYxxx rule part to choose from (RFC 5545 section 3.3.10)"
        }
        // An ordinal weekday (2TU) belongs to a monthly or yearly rule, and one beyond what a month (5) or a
        // year (53) holds never matches.
        let ordinals = (parts.first(where: { $0.name == "BYDAY" })?.value.split(separator: ",") ?? []).filter { Int($0.dropLast(2)) != nil }
        if !ordinals.isEmpty, frequency == "DAILY" || frequency == "WEEKLY" {
            return "BYDAY=\(ordinals[0]) has an ordinal, which RFC 5545 allows with FREQ=MONTHLY or YEARLY only"
        }
        let ordinalLimit = frequency == "MONTHLY" || has("BYMONTH") ? 5 : 53
        for day in parts.first(where: { $0.name == "BYDAY" })?.value.split(separator: ",") ?? [] {
            if let ordinal = Int(day.dropLast(2)), ordinal.magnitude > UInt(ordinalLimit) {
                return "BYDAY=\(day) never matches: a \(ordinalLimit == 5 ? "month" : "year") has at most \(ordinalLimit) of each weekday"
            }
        }
        func numbers(_ name: String) -> [Int]? {
            parts.first { $0.name == name }.map { $0.value.split(separator: ",").compactMap { Int($0) } }
        }
        if let days = numbers("BYMONTHDAY"), !days.isEmpty {
            let months = numbers("BYMONTH").flatMap { $0.isEmpty ? nil : $0 } ?? Array(1...12)
            // February counts 29 days: some year in reach has a 29 February.
            let meet = months.contains { month in
                let length = month == 2 ? 29 : LocalDate.daysIn(month: min(max(month, 1), 12), year: 2001)
                return days.contains { $0 != 0 && $0.magnitude <= UInt(length) }
            }
            if !meet { return "BYMONTHDAY and BYMONTH never fall on the same date" }
        }
        return nil
    }

    private static func untilValue(_ text: String) -> End? {
        let bytes = Array(text.utf8)
        func number(_ range: Range<Int>) -> Int? {
            guard range.upperBound <= bytes.count, bytes[range].allSatisfy({ (0x30...0x39).contains($0) }) else { return nil }
            return Int(String(decoding: bytes[range], as: UTF8.self))
        }
        guard let year = number(0..<4), let month = number(4..<6), let day = number(6..<8),
              (1...12).contains(month), (1...LocalDate.daysIn(month: month, year: year)).contains(day) else { return nil }
        let date = LocalDate(year: year, month: month, day: day)
        if bytes.count == 8 { return .untilDate(date) }
        guard bytes.count == 16, bytes[8] == UInt8(ascii: "T"), bytes[15] == UInt8(ascii: "Z"),
              let hour = number(9..<11), let minute = number(11..<13), let second = number(13..<15),
              hour < 24, minute < 60, second < 60 else { return nil }
        return .untilInstant(Date(timeIntervalSince1970: Double(date.dayNumber * 86_400 + hour * 3600 + minute * 60 + second)))
    }

    /// The rule as written to the .ics: UNTIL always a UTC date-time (`untilInstant`).
    public func text(untilInstant: Date?) -> String {
        parts.map { part in
            if part.name == "UNTIL", let untilInstant { return "UNTIL=" + Self.utcText(untilInstant) }
            return part.name + "=" + part.value
        }.joined(separator: ";")
    }

    static func utcText(_ instant: Date) -> String {
        let seconds = Int(instant.timeIntervalSince1970.rounded(.down))
        let days = Int((Double(seconds) / 86_400).rounded(.down))
        let date = LocalDate(dayNumber: days)
        let time = seconds - days * 86_400
        return date.year.zeroPadded(4) + date.month.zeroPadded(2) + date.day.zeroPadded(2) + "T"
            + (time / 3600).zeroPadded(2) + (time % 3600 / 60).zeroPadded(2) + (time % 60).zeroPadded(2) + "Z"
    }
}

extension String {
    /// Upper case for ASCII letters only: RFC 5545 names are ASCII, and Unicode's rules would turn a dotless
    /// `ı` into `I` (`untıl` read as UNTIL), which no other reader of the file would do.
    var asciiUppercased: String {
        String(decoding: utf8.map { (0x61...0x7A).contains($0) ? $0 - 0x20 : $0 }, as: UTF8.self)
    }
}

extension MeetingRequest {
    /// Every occurrence: the series' (after exdates), or the one meeting.
    public var occurrences: [Occurrence] { recurrence?.occurrences ?? [Occurrence(start: start, end: end)] }

    /// The request as one meeting at `occurrence`: what the rules check for each occurrence of a series.
    public func at(_ occurrence: Occurrence) -> MeetingRequest {
        var single = self
        single.start = occurrence.start
        single.end = occurrence.end
        return single
    }
}
