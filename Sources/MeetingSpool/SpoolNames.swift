import Foundation
import MeetingModel
import MeetingRules

/// Every name meetingd derives for a file in the spool, relative to the spool root. Each one fits a file
/// system's 255 bytes, whatever the request or file name it comes from: text that must be cut keeps a
/// prefix (on a Unicode scalar boundary) and gets `-` and 24 hex digits of SHA-256 of the whole text, so two
/// different texts never share a name.
public enum SpoolNames {
    public static let maximumNameBytes = 255
    static let digestSuffixBytes = 25

    // MARK: decisions (request ids are 1–128 of A-Z a-z 0-9 . _ -, so these fit as they are)

    /// `approved/<id>.ics`: the current calendar object of `id`.
    public static func calendar(id: String) -> String { "approved/\(id).ics" }

    /// Where a decided request goes: `approved/<id>.r<revision>.json`, `rejected/…`, `withdrawn/<id>.r<revision>.withdraw.json`.
    public static func decidedRequest(_ verdict: Verdict, id: String, revision: Int) -> String {
        switch verdict {
        case .approved: return "approved/\(id).r\(revision).json"
        case .rejected: return "rejected/\(id).r\(revision).json"
        case .withdrawn: return "withdrawn/\(id).r\(revision).withdraw.json"
        case .invalid: preconditionFailure("an invalid request keeps its own name in invalid/")
        }
    }

    /// `rejected/<id>.txt`: the note of the latest rejected revision.
    public static func rejectionNote(id: String) -> String { "rejected/\(id).txt" }

    /// The note beside a file in `invalid/`: `invalid/x.json.txt`.
    public static func note(besideInvalid destination: String) -> String { destination + ".txt" }

    /// Room for the note's `.txt` and a numeric suffix (`.12`) after an invalid file's name.
    static let invalidNameBytes = maximumNameBytes - ".txt".utf8.count - 21

    /// The name a file keeps in `invalid/` (before a numeric suffix makes it free): its own name as shown,
    /// cut when too long.
    static func invalidBase(for file: IncomingFile) -> String {
        bounded(file.name, limit: invalidNameBytes, digestOf: file.nameBytes)
    }

    /// `incoming/<id>.withdraw.<milliseconds>.json`: what `meetingd withdraw` drops.
    public static func withdrawal(id: String, at date: Date) -> String {
        "\(id).withdraw.\(Int(date.timeIntervalSince1970 * 1000)).json"
    }

    // MARK: feeds

    /// `feeds/` relative path of a feed: `all.ics`, `region/浙江省/杭州市.ics`, `organizer/<unit>.ics`, `attendee/<unit>.ics`.
    static func feed(_ kind: FeedKey.Kind, name: String) -> String {
        switch kind {
        case .all: return "all.ics"
        case .region: return "region/" + name.split(separator: "/").map { feedSegment(String($0)) }.joined(separator: "/") + ".ics"
        case .organizer, .attendee: return "\(kind.rawValue)/\(feedSegment(name)).ics"
        }
    }

    /// Letters and digits of any script and `_（）·` are kept; anything else becomes `_`. A name that had to
    /// change or be cut gets the digest suffix. `-` is not kept, so an unchanged name never looks like a
    /// changed one with its suffix: feed names are unique by construction.
    static func feedSegment(_ name: String) -> String {
        let limit = maximumNameBytes - ".ics".utf8.count
        // Most unit names are Chinese characters and ASCII letters and digits only, each a character of its own:
        // kept as they are, found without walking the name character by character.
        if !name.isEmpty, name.utf8.count <= limit, name.unicodeScalars.allSatisfy(isPlainNameScalar) { return name }
        let safe = safeCharacters(name)
        if safe == name, !safe.isEmpty, safe.utf8.count <= limit { return safe }
        return bounded(safe, limit: limit, digestOf: Array(name.utf8), always: true)
    }

    /// `name` with every character that is not a letter, a digit or one of `_（）·` made `_`.
    static func safeCharacters(_ name: String) -> String {
        var safe = ""
        for character in name {
            safe.append(character.isLetter || character.isNumber || "_（）·".contains(character) ? character : "_")
        }
        return safe
    }

    /// An ASCII letter or digit, a CJK unified ideograph, or one of `_（）·`: kept by `safeCharacters` as it is,
    /// in any sequence (each is a character of its own).
    static let plainNameScalars: [ClosedRange<UInt32>] = [0x30...0x39, 0x41...0x5A, 0x61...0x7A, 0x4E00...0x9FFF, 0x5F...0x5F, 0xFF08...0xFF09, 0xB7...0xB7]

    private static func isPlainNameScalar(_ scalar: Unicode.Scalar) -> Bool {
        plainNameScalars.contains { $0.contains(scalar.value) }
    }

    // MARK: the daemon's own files

    /// The embedded ledger under a spool root: `<spool>/state/ledger.sqlite`.
    public static func ledger(inSpool root: String) -> String { root + "/state/ledger.sqlite" }
    /// `log/decisions.jsonl`, in `log/`.
    static let decisionLog = "decisions.jsonl"
    /// The lock a deciding process holds, in `state/`.
    static let lock = "meetingd.lock"
    /// The last decision the feeds reflect.
    static let feedsThrough = "feeds/.meetingd-feeds-through"

    /// A dot-file for writing before a rename, unique in this process and independent of the target's length.
    static func temporary() -> String { temporaryPrefix + "\(getpid()).\(temporaryCounter.next())" }
    static let temporaryPrefix = ".meetingd-tmp."
    private static let temporaryCounter = Counter()

    // MARK: bounding

    /// `text` if it fits `limit` bytes (and not `always`), else a prefix cut on a scalar boundary followed by
    /// `-` and 24 hex digits of SHA-256 of `original`, at most `limit` bytes in all.
    static func bounded(_ text: String, limit: Int, digestOf original: [UInt8], always: Bool = false) -> String {
        if !always, text.utf8.count <= limit { return text }
        var prefix = String.UnicodeScalarView()
        var bytes = 0
        for scalar in text.unicodeScalars {
            let width = UTF8.width(scalar)
            guard bytes + width <= limit - digestSuffixBytes else { break }
            prefix.append(scalar)
            bytes += width
        }
        return String(prefix) + "-" + SHA256.hex(original, characters: digestSuffixBytes - 1)
    }
}

private final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0

    func next() -> Int {
        lock.withLock {
            value += 1
            return value
        }
    }
}
