import Foundation

/// A calendar date without a zone, as printed in notes and stored in the ledger (`2025-03-18`).
/// Arithmetic is on proleptic Gregorian day numbers, so no `Calendar` is involved.
public struct LocalDate: Sendable, Hashable, Comparable, CustomStringConvertible, Codable {
    public let year: Int
    public let month: Int
    public let day: Int

    public init(year: Int, month: Int, day: Int) {
        self.year = year
        self.month = month
        self.day = day
    }

    /// Days since 1970-01-01 (Howard Hinnant's `days_from_civil`).
    public var dayNumber: Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// The date `dayNumber` days after 1970-01-01 (`civil_from_days`).
    public init(dayNumber: Int) {
        let z = dayNumber + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        self.init(year: yoe + era * 400 + (month <= 2 ? 1 : 0), month: month, day: day)
    }

    /// Parses `YYYY-MM-DD`, refusing impossible dates such as `2025-02-30`.
    public init?(_ text: String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
              parts.allSatisfy({ $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }),
              let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]),
              (1...12).contains(month), (1...LocalDate.daysIn(month: month, year: year)).contains(day)
        else { return nil }
        self.init(year: year, month: month, day: day)
    }

    public static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    public func adding(days: Int) -> LocalDate { LocalDate(dayNumber: dayNumber + days) }

    public var firstOfMonth: LocalDate { LocalDate(year: year, month: month, day: 1) }
    public var lastOfMonth: LocalDate { LocalDate(year: year, month: month, day: LocalDate.daysIn(month: month, year: year)) }
    public var firstOfYear: LocalDate { LocalDate(year: year, month: 1, day: 1) }
    public var lastOfYear: LocalDate { LocalDate(year: year, month: 12, day: 31) }

    /// `2025-03`, the calendar month as the ledger stores it.
    public var monthKey: String { year.zeroPadded(4) + "-" + month.zeroPadded(2) }

    public var description: String {
        // Written digit by digit: every count query the rules ask carries two dates, and the padded
        // concatenation cost more than the query's arguments together.
        guard (0...9999).contains(year), (0...99).contains(month), (0...99).contains(day) else { return year.zeroPadded(4) + "-" + month.zeroPadded(2) + "-" + day.zeroPadded(2) }
        let zero = UInt8(ascii: "0")
        return String(unsafeUninitializedCapacity: 10) { buffer in
            buffer[0] = zero + UInt8(year / 1000)
            buffer[1] = zero + UInt8(year / 100 % 10)
            buffer[2] = zero + UInt8(year / 10 % 10)
            buffer[3] = zero + UInt8(year % 10)
            buffer[4] = UInt8(ascii: "-")
            buffer[5] = zero + UInt8(month / 10)
            buffer[6] = zero + UInt8(month % 10)
            buffer[7] = UInt8(ascii: "-")
            buffer[8] = zero + UInt8(day / 10)
            buffer[9] = zero + UInt8(day % 10)
            return 10
        }
    }

    public static func < (lhs: LocalDate, rhs: LocalDate) -> Bool { lhs.dayNumber < rhs.dayNumber }

    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let date = LocalDate(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a date: \(text)"))
        }
        self = date
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// Wall-clock reading in one time zone: a date and the seconds since its midnight.
public struct LocalDateTime: Sendable, Equatable {
    public let date: LocalDate
    public let secondsOfDay: Double

    public init(date: LocalDate, secondsOfDay: Double) {
        self.date = date
        self.secondsOfDay = secondsOfDay
    }

    public var hour: Int { Int(secondsOfDay) / 3600 }
    public var minute: Int { Int(secondsOfDay) % 3600 / 60 }
    public var second: Int { Int(secondsOfDay) % 60 }

    /// `2025-03-18 09:00`
    public var description: String { date.description + " " + hour.zeroPadded(2) + ":" + minute.zeroPadded(2) }
}

/// Local-time arithmetic in the request's time zone: calendar days, months and half-day slots.
public struct ZonedClock: Sendable {
    public let timeZone: TimeZone

    public init(timeZone: TimeZone) { self.timeZone = timeZone }

    public func local(_ instant: Date) -> LocalDateTime {
        let seconds = instant.timeIntervalSince1970 + Double(timeZone.secondsFromGMT(for: instant))
        let days = Int((seconds / 86_400).rounded(.down))
        return LocalDateTime(date: LocalDate(dayNumber: days), secondsOfDay: seconds - Double(days) * 86_400)
    }

    /// The instant when the wall clock shows `secondsOfDay` on `date`, read as RFC 5545 reads a local time:
    /// in a fold (an hour repeated) the first instant; in a gap (an hour skipped) the offset in force before
    /// the gap, so 02:30 on a spring-forward day is 03:30 daylight time, as calendar clients show it.
    public func instant(_ date: LocalDate, secondsOfDay: Double = 0) -> Date {
        let wall = Double(date.dayNumber) * 86_400 + secondsOfDay
        // The offsets a day either side of the wall time are the only two a clock change can put in play.
        let before = Double(timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: wall - 86_400)))
        let after = Double(timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: wall + 86_400)))
        let candidates = [wall - before, wall - after].map { Date(timeIntervalSince1970: $0) }
        let valid = candidates.filter { Double(timeZone.secondsFromGMT(for: $0)) == wall - $0.timeIntervalSince1970 }
        return valid.min() ?? candidates[0]
    }

    /// The instant a reader of `instant`'s wall time in this zone takes it for (RFC 5545 reads a repeated time as
    /// its first pass): `instant` itself, except in the second pass through a repeated hour.
    public func readBack(_ instant: Date) -> Date {
        let wall = local(instant)
        return self.instant(wall.date, secondsOfDay: wall.secondsOfDay)
    }

    /// The number of half-day slots that `[start, end)` touches. A day is cut at `boundary`
    /// seconds after midnight: morning `[00:00, boundary)`, afternoon `[boundary, 24:00)`.
    public func halfDaySlots(start: Date, end: Date, boundary: Double) -> Int {
        guard end > start else { return 0 }
        func slot(_ reading: LocalDateTime) -> Int { reading.date.dayNumber * 2 + (reading.secondsOfDay >= boundary ? 1 : 0) }
        let first = slot(local(start))
        let endReading = local(end)
        var last = slot(endReading)
        // An interval that ends exactly where a slot begins does not touch that slot.
        if endReading.secondsOfDay == 0 || endReading.secondsOfDay == boundary { last -= 1 }
        return max(1, last - first + 1)
    }
}
