import Foundation

/// Strict RFC 3339 date-times with an explicit offset (`2025-03-10T09:00:00+08:00`, `…Z`), any number of fraction digits.
public enum RFC3339 {
    /// The instant and the offset it was written with, or nil when `text` is not RFC 3339 with an offset.
    public static func parse(_ text: String) -> (instant: Date, offsetSeconds: Int)? {
        let bytes = Array(text.utf8)
        guard bytes.count >= 20 else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            guard range.upperBound <= bytes.count else { return nil }
            var value = 0
            for byte in bytes[range] {
                guard byte >= 0x30, byte <= 0x39 else { return nil }
                value = value * 10 + Int(byte - 0x30)
            }
            return value
        }
        guard let year = number(0..<4), bytes[4] == UInt8(ascii: "-"),
              let month = number(5..<7), bytes[7] == UInt8(ascii: "-"),
              let day = number(8..<10), bytes[10] == UInt8(ascii: "T") || bytes[10] == UInt8(ascii: "t"),
              let hour = number(11..<13), bytes[13] == UInt8(ascii: ":"),
              let minute = number(14..<16), bytes[16] == UInt8(ascii: ":"),
              let second = number(17..<19),
              (1...12).contains(month), (1...LocalDate.daysIn(month: month, year: year)).contains(day),
              hour < 24, minute < 60, second < 60
        else { return nil }
        var index = 19
        var fraction = 0.0
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            let digitsStart = index
            while index < bytes.count, bytes[index] >= 0x30, bytes[index] <= 0x39 { index += 1 }
            // Any number of digits (RFC 3339 sets no limit); nanoseconds are all a Date keeps.
            guard index > digitsStart,
                  let digits = Double("0." + String(decoding: bytes[digitsStart..<min(index, digitsStart + 9)], as: UTF8.self))
            else { return nil }
            fraction = digits
        }
        guard index < bytes.count else { return nil }
        let offset: Int
        if bytes[index] == UInt8(ascii: "Z") || bytes[index] == UInt8(ascii: "z") {
            guard index + 1 == bytes.count else { return nil }
            offset = 0
        } else {
            guard bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-"),
                  index + 6 == bytes.count, bytes[index + 3] == UInt8(ascii: ":"),
                  let hours = number(index + 1..<index + 3), let minutes = number(index + 4..<index + 6),
                  hours < 24, minutes < 60
            else { return nil }
            offset = (hours * 3600 + minutes * 60) * (bytes[index] == UInt8(ascii: "-") ? -1 : 1)
        }
        let wall = LocalDate(year: year, month: month, day: day).dayNumber * 86_400 + hour * 3600 + minute * 60 + second
        return (Date(timeIntervalSince1970: Double(wall - offset) + fraction), offset)
    }
}

extension RFC3339 {
    /// `+08:00`, `-05:00`, `+10:30`: an offset from UTC as RFC 3339 writes it.
    public static func offsetText(_ seconds: Int) -> String {
        (seconds < 0 ? "-" : "+") + (abs(seconds) / 3600).zeroPadded(2) + ":" + (abs(seconds) % 3600 / 60).zeroPadded(2)
    }

    /// `2026-11-27T22:07:04Z`: an instant in UTC to the second, as notes name when another node decided.
    public static func utcString(_ instant: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: instant)
    }
}
