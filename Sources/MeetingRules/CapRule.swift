import MeetingModel

/// What a cap is counted per: the key a rule's count query is made for.
public enum CapKeyKind: String, Sendable {
    /// Organizer region and system (`annual-comprehensive-cap`).
    case regionAndSystem
    /// The organizer unit (`routine-frequency`, `onsite-promotion-frequency`).
    case organizerUnit
    /// A township or village region whose principal a meeting requires (`township-leader-load`).
    case principalRegion
}

/// One key of a cap: the fields its kind names, the others nil.
public struct CapKey: Sendable, Hashable, Comparable {
    public var region: String?
    public var system: String?
    public var unit: String?

    public init(region: String? = nil, system: String? = nil, unit: String? = nil) {
        self.region = region
        self.system = system
        self.unit = unit
    }

    public static func < (a: CapKey, b: CapKey) -> Bool {
        (a.region ?? "", a.system ?? "", a.unit ?? "") < (b.region ?? "", b.system ?? "", b.unit ?? "")
    }
}

/// The stretch of days a cap counts over.
public enum CapPeriod: String, Sendable {
    case year
    case month

    /// The periods of `year`, each as its label (`2025`, `2025-03`) and its days.
    public func periods(of year: Int) -> [(label: String, dates: ClosedRange<LocalDate>)] {
        let first = LocalDate(year: year, month: 1, day: 1)
        switch self {
        case .year: return [(String(year), first.firstOfYear...first.lastOfYear)]
        case .month:
            return (1...12).map { month in
                let day = LocalDate(year: year, month: month, day: 1)
                return (day.monthKey, day.firstOfMonth...day.lastOfMonth)
            }
        }
    }

    /// The period that contains `day`.
    public func dates(containing day: LocalDate) -> ClosedRange<LocalDate> {
        switch self {
        case .year: return day.firstOfYear...day.lastOfYear
        case .month: return day.firstOfMonth...day.lastOfMonth
        }
    }
}

/// A rule that lets one key have at most a number of counted meetings in a period. The rule's check and
/// `meetingd report` both count with `query(for:in:)`, so what the report shows as remaining is exactly
/// what the next request of that key will be checked against.
public protocol CapRule: Rule {
    var keyKind: CapKeyKind { get }
    var period: CapPeriod { get }
    /// The setting that holds the limit.
    var limitSetting: String { get }
    /// The meeting kinds the cap counts (nil: every kind): which meetings can hold a key at all.
    var countedKinds: Set<MeetingKind>? { get }
    /// The approved meetings counted against `key` in `dates`.
    func query(for key: CapKey, in dates: ClosedRange<LocalDate>) -> MeetingQuery
}

extension CapRule {
    public func limit(_ settings: RuleSettings) -> Int { settings.integer(limitSetting) }
}
