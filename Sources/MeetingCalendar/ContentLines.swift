/// RFC 5545 §3.1 content lines: CRLF-terminated, folded so that no line passes 75 octets, a fold being CRLF
/// followed by one space. Folds never split a UTF-8 sequence, and never fall between CR and LF.
enum ContentLines {
    static let maximumOctets = 75

    /// Unfolds `text` into logical lines and folds them again. Any fold libical made (`CRLF SP`, also when
    /// it put the fold between a line's CR and LF) is removed first, so the result depends only on the content.
    static func refold(_ text: some Collection<UInt8>) -> [UInt8] {
        let cr = UInt8(ascii: "\r"), lf = UInt8(ascii: "\n"), space = UInt8(ascii: " "), tab = UInt8(ascii: "\t")
        let bytes = Array(text)
        var unfolded: [UInt8] = []
        unfolded.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            if bytes[index] == cr, index + 2 < bytes.count, bytes[index + 1] == lf, bytes[index + 2] == space || bytes[index + 2] == tab {
                index += 3
                continue
            }
            unfolded.append(bytes[index])
            index += 1
        }
        var folded: [UInt8] = []
        folded.reserveCapacity(unfolded.count + unfolded.count / 70 * 3 + 2)
        var lineStart = 0
        index = 0
        while index < unfolded.count {
            // A logical line ends at CRLF; a lone CR or LF never reaches here (values are escaped by libical).
            if unfolded[index] == cr, index + 1 < unfolded.count, unfolded[index + 1] == lf {
                fold(unfolded[lineStart..<index], into: &folded)
                index += 2
                lineStart = index
            } else {
                index += 1
            }
        }
        if lineStart < unfolded.count { fold(unfolded[lineStart...], into: &folded) }
        return folded
    }

    private static func fold(_ line: ArraySlice<UInt8>, into output: inout [UInt8]) {
        var start = line.startIndex
        var room = maximumOctets
        while line.endIndex - start > room {
            var cut = start + room
            // Back off to the first byte of a UTF-8 sequence (continuation bytes are 10xxxxxx).
            while cut > start + 1, line[cut] & 0xC0 == 0x80 { cut -= 1 }
            output.append(contentsOf: line[start..<cut])
            output.append(contentsOf: [UInt8(ascii: "\r"), UInt8(ascii: "\n"), UInt8(ascii: " ")])
            start = cut
            room = maximumOctets - 1
        }
        output.append(contentsOf: line[start...])
        output.append(contentsOf: [UInt8(ascii: "\r"), UInt8(ascii: "\n")])
    }
}
