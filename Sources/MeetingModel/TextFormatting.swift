// Number and text formatting for the decision path, without Foundation's formatters.

extension Int {
    /// The number in decimal with leading zeros up to `width` digits (what `%0Nd` prints), without Foundation's
    /// formatter, which is slow on the decision path.
    public func zeroPadded(_ width: Int) -> String {
        let padded = String(magnitude).leftPadded(to: width)
        return self < 0 ? "-" + padded : padded
    }
}

extension String {
    /// The text with zeros in front up to `width` characters (`0007`, `00ff`).
    public func leftPadded(to width: Int) -> String { String(repeating: "0", count: Swift.max(0, width - count)) + self }
}

extension String {
    /// The UTF-8 bytes of the string with every byte outside `A–Z a–z 0–9 - . _ ~` (and outside `alsoKeep`)
    /// written as `%XX`, as RFC 3986 unreserved characters allow. Built by hand: Foundation's
    /// `addingPercentEncoding` builds a character-set bitmap on every call.
    public func percentEncoded(alsoKeeping alsoKeep: Set<UInt8> = []) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(utf8.count)
        for byte in utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                bytes.append(byte)
            case _ where alsoKeep.contains(byte):
                bytes.append(byte)
            default:
                bytes += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]]
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
