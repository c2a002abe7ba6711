import Foundation

/// IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`, RFC 9110 §5.6.7), the only form meetingd writes. Parsing
/// reads fixed-width fields of digits and checks every range, so no header value can overflow the
/// arithmetic; anything that is not a valid date is nil, and RFC 9110 then has the header ignored.
public enum HTTPDate {
    static let days = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"]
    static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    public static func format(_ date: Date) -> String {
        let seconds = Int(date.timeIntervalSince1970.rounded(.down))
        let dayNumber = Int((Double(seconds) / 86_400).rounded(.down))
        let day = LocalDate(dayNumber: dayNumber)
        let time = seconds - dayNumber * 86_400
        let weekday = days[((dayNumber % 7) + 7) % 7]
        return "\(weekday), \(day.day.zeroPadded(2)) \(months[day.month - 1]) \(day.year.zeroPadded(4)) "
            + "\((time / 3600).zeroPadded(2)):\((time % 3600 / 60).zeroPadded(2)):\((time % 60).zeroPadded(2)) GMT"
    }

    /// The instant of an IMF-fixdate: exactly `www, DD Mon YYYY HH:MM:SS GMT` (29 bytes), nil otherwise.
    public static func parse(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        guard bytes.count == 29 else { return nil }
        func field(_ range: Range<Int>) -> String { String(decoding: bytes[range], as: UTF8.self) }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for byte in bytes[range] {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
            }
            return value
        }
        guard days.contains(field(0..<3)), field(3..<5) == ", ", let day = number(5..<7), bytes[7] == UInt8(ascii: " "),
              let month = months.firstIndex(of: field(8..<11)).map({ $0 + 1 }), bytes[11] == UInt8(ascii: " "),
              let year = number(12..<16), bytes[16] == UInt8(ascii: " "),
              let hour = number(17..<19), bytes[19] == UInt8(ascii: ":"), let minute = number(20..<22), bytes[22] == UInt8(ascii: ":"),
              let second = number(23..<25), field(25..<29) == " GMT",
              (1...LocalDate.daysIn(month: month, year: year)).contains(day), hour < 24, minute < 60, second <= 60
        else { return nil }
        let dayNumber = LocalDate(year: year, month: month, day: day).dayNumber
        return Date(timeIntervalSince1970: Double(dayNumber * 86_400 + hour * 3600 + minute * 60 + min(second, 59)))
    }
}

/// The feed file a request path names: `/region/%E6%B5%99%E6%B1%9F%E7%9C%81.ics` → `region/浙江省.ics`.
/// Only a path of non-empty, percent-decoded UTF-8 segments is accepted: no `.`/`..` or dot-led segments,
/// no NUL, backslash or control characters, no query or fragment, at most 4,096 bytes. The spool checks
/// each segment again when it opens the file, without following links.
public enum FeedRequestPath {
    public static let maximumBytes = 4096

    public static func relative(_ requestPath: String) -> String? {
        guard requestPath.utf8.count <= maximumBytes, requestPath.hasPrefix("/"),
              let decoded = requestPath.removingPercentEncoding else { return nil }
        let relative = String(decoded.dropFirst())
        if relative.isEmpty { return "index.html" }
        let segments = relative.split(separator: "/", omittingEmptySubsequences: false)
        guard segments.allSatisfy({ segment in
            !segment.isEmpty && !segment.hasPrefix(".")
                && !segment.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F || $0 == "\\" || $0 == "?" || $0 == "#" }
        }) else { return nil }
        return relative
    }
}
