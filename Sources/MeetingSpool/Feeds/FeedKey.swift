import Foundation
import MeetingModel
import MeetingRules

/// One subscribable calendar: everything, a region (with its sub-regions), an organizing unit, or what one
/// unit must attend. The key (`region:浙江省/杭州市`) is stored in the ledger; the path is its file under `feeds/`.
public struct FeedKey: Hashable, Comparable, Sendable {
    public static func == (lhs: FeedKey, rhs: FeedKey) -> Bool { lhs.kind == rhs.kind && lhs.name == rhs.name }
    public func hash(into hasher: inout Hasher) {
        hasher.combine(kind)
        hasher.combine(name)
    }

    public enum Kind: String, Sendable, CaseIterable {
        case all, region, organizer, attendee
    }

    public let kind: Kind
    /// The region path or the unit's name, exactly as requests write it (empty for `all`).
    public let name: String
    /// The file under `feeds/`: `all.ics`, `region/浙江省/杭州市.ics`, `organizer/<unit>.ics`, `attendee/<unit>.ics`.
    /// Every segment is safe as a file name and a URL path segment, at most 255 bytes, stable for the same name
    /// and never shared by two names (`SpoolNames.feed`).
    public let path: String

    public static let all = FeedKey(kind: .all, name: "")

    public init(kind: Kind, name: String) {
        self.kind = kind
        self.name = name
        path = SpoolNames.feed(kind, name: name)
    }

    public init?(key: String) {
        if key == "all" { self = .all; return }
        guard let colon = key.firstIndex(of: ":"), let kind = Kind(rawValue: String(key[..<colon])), kind != .all else { return nil }
        self.init(kind: kind, name: String(key[key.index(after: colon)...]))
    }

    public var key: String { kind == .all ? "all" : "\(kind.rawValue):\(name)" }

    /// The calendar's display name (NAME, X-WR-CALNAME).
    public var displayName: String {
        switch kind {
        case .all: return "全部会议"
        case .region: return "\(name) 会议"
        case .organizer: return "\(name) 召开的会议"
        case .attendee: return "\(name) 须参加的会议"
        }
    }

    public static func < (lhs: FeedKey, rhs: FeedKey) -> Bool { lhs.path < rhs.path }

    /// The feeds a meeting belongs to: all, its organizer's region and every region above it, its organizer,
    /// and every unit it requires.
    public static func keys(for request: MeetingRequest) -> [FeedKey] {
        var keys: [FeedKey] = [.all, FeedKey(kind: .organizer, name: request.organizer.unit)]
        let segments = request.organizer.region.split(separator: "/")
        for depth in 1...max(1, segments.count) where depth <= segments.count {
            keys.append(FeedKey(kind: .region, name: segments.prefix(depth).joined(separator: "/")))
        }
        for attendee in request.attendees where attendee.required {
            keys.append(FeedKey(kind: .attendee, name: attendee.unit))
        }
        return Array(Set(keys)).sorted()
    }
}
