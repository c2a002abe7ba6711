import Foundation

/// The IANA time zone names a request may use: every Zone and Link of the system's tz database
/// (`/usr/share/zoneinfo/tzdata.zi`, package tzdata), the same data libical renders VTIMEZONEs from.
/// Foundation's own list is not used as the authority: it keeps names the tz database dropped
/// (`US/Pacific-New`, `SystemV/EST5`) that no calendar program could resolve, and a request naming one
/// would be accepted here and fail when its calendar is written.
public struct TimeZoneDatabase: Sendable {
    /// Zone and Link names, each mapped to the Zone it is (a Zone maps to itself).
    public let zones: [String: String]

    public static let system = TimeZoneDatabase(path: "/usr/share/zoneinfo/tzdata.zi")

    /// Reads `tzdata.zi`: `Z NAME …` lines name Zones, `L TARGET NAME` lines name Links.
    public init(path: String) {
        var zones: [String: String] = [:]
        if let data = FileManager.default.contents(atPath: path) {
            for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
                let fields = line.split(separator: " ")
                if fields.count >= 2, fields[0] == "Z" { zones[String(fields[1])] = String(fields[1]) }
                if fields.count >= 3, fields[0] == "L" { zones[String(fields[2])] = String(fields[1]) }
            }
        }
        self.zones = zones
    }

    public init(zones: [String: String]) { self.zones = zones }

    /// The zone named `name`, if the tz database has that Zone or Link and Foundation can compute with it
    /// (under the name, or under the Zone a Link points to).
    public func timeZone(named name: String) -> TimeZone? {
        guard let zone = zones[name] else { return nil }
        return TimeZone(identifier: name) ?? TimeZone(identifier: zone)
    }

    /// Every name, sorted (for tests and `meetingd schema`).
    public var names: [String] { zones.keys.sorted() }
}
