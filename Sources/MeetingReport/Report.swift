import Foundation
import MeetingModel
import MeetingRules

/// One year of one office's meetings as `meetingd report` shows it (`shared/spec/report.md`): what was
/// decided, how much of every cap is used, the year-end window and what rejected most. Every count of a cap
/// or of the window is the rule's own query with the settings in force.
public struct Report: Sendable, Equatable {
    public struct Totals: Sendable, Equatable {
        /// Meetings of the year whose current revision stands approved (a series once); exempt ones included.
        public var approved = 0
        /// Proposals rejected (each rejected revision once).
        public var rejected = 0
        /// Files set aside as invalid in the year (UTC); none in a report of one region, which they name none of.
        public var invalid = 0
        /// Meetings withdrawn.
        public var withdrawn = 0
        /// Of the approved: statutory meetings, which count against no cap.
        public var exempt = 0

        public init(approved: Int = 0, rejected: Int = 0, invalid: Int = 0, withdrawn: Int = 0, exempt: Int = 0) {
            self.approved = approved
            self.rejected = rejected
            self.invalid = invalid
            self.withdrawn = withdrawn
            self.exempt = exempt
        }
    }

    public struct Tally: Sendable, Equatable {
        public var name: String
        public var approved = 0
        public var rejected = 0
    }

    public struct CapUse: Sendable, Equatable {
        public var rule: RuleID
        public var keyKind: CapKeyKind
        public var key: CapKey
        /// `2025` or `2025-03`.
        public var period: String
        public var used: Int
        public var limit: Int
        public var remaining: Int { max(0, limit - used) }
        /// The meetings counted, each once, in the rule's order (date, id).
        public var meetings: [String]
        /// Whether the rule rejects (else it only warns): a warn-only cap may show more used than its limit.
        public var rejects: Bool
    }

    public struct YearEndDay: Sendable, Equatable {
        public var date: LocalDate
        public var count: Int
        public var meetings: [String]
    }

    public struct YearEndRegion: Sendable, Equatable {
        public var region: String
        public var window: ClosedRange<LocalDate>
        public var days: [YearEndDay]
        public var busiest: ClosedRange<LocalDate>
        public var busiestCount: Int
        public var limitSevenDays: Int
        public var inWindow: Int
        public var limitWindow: Int
    }

    public struct RuleRejections: Sendable, Equatable {
        public var rule: RuleID
        public var clause: String
        public var sentence: String
        public var count: Int
    }

    public struct OrganizerRejections: Sendable, Equatable {
        public var unit: String
        public var count: Int
    }

    public var year: Int
    public var region: String?
    /// When it was made, in the configured time zone (`2025-11-02T10:00:00+08:00`).
    public var generated: String
    /// The settings' version (`rules.md`): which settings the counts and limits are of.
    public var settings: String
    public var totals = Totals()
    public var byKind: [Tally] = []
    public var byMonth: [Tally] = []
    public var caps: [CapUse] = []
    public var yearEnd: [YearEndRegion] = []
    public var rejectionsByRule: [RuleRejections] = []
    public var rejectionsByOrganizer: [OrganizerRejections] = []
}

extension Report {
    /// The JSON of `shared/spec/report.md`, members in the spec's order.
    public var json: JSONValue {
        func tallies(_ tallies: [Tally], _ name: String) -> JSONValue {
            .array(tallies.map { .object([(name, .string($0.name)), ("approved", .integer($0.approved)), ("rejected", .integer($0.rejected))]) })
        }
        func ids(_ ids: [String]) -> JSONValue { .array(ids.map(JSONValue.string)) }
        return .object([
            ("year", .integer(year)),
            ("region", region.map(JSONValue.string) ?? .null),
            ("generated", .string(generated)),
            ("settings", .string(settings)),
            ("totals", .object([
                ("approved", .integer(totals.approved)), ("rejected", .integer(totals.rejected)), ("invalid", .integer(totals.invalid)),
                ("withdrawn", .integer(totals.withdrawn)), ("exempt", .integer(totals.exempt)),
            ])),
            ("by_kind", tallies(byKind, "kind")),
            ("by_month", tallies(byMonth, "month")),
            ("caps", .array(caps.map { cap in
                .object([
                    ("rule", .string(cap.rule.rawValue)), ("key", cap.keyJSON), ("period", .string(cap.period)),
                    ("used", .integer(cap.used)), ("limit", .integer(cap.limit)), ("remaining", .integer(cap.remaining)),
                    ("meetings", ids(cap.meetings)),
                ])
            })),
            ("year_end", .array(yearEnd.map { region in
                .object([
                    ("region", .string(region.region)),
                    ("window", .array([.string(region.window.lowerBound.description), .string(region.window.upperBound.description)])),
                    ("days", .array(region.days.map { day in
                        .object([("date", .string(day.date.description)), ("count", .integer(day.count)), ("meetings", ids(day.meetings))])
                    })),
                    ("busiest_7_days", .object([
                        ("from", .string(region.busiest.lowerBound.description)), ("to", .string(region.busiest.upperBound.description)),
                        ("count", .integer(region.busiestCount)),
                    ])),
                    ("limit_7_days", .integer(region.limitSevenDays)), ("in_window", .integer(region.inWindow)),
                    ("limit_window", .integer(region.limitWindow)),
                ])
            })),
            ("rejections_by_rule", .array(rejectionsByRule.map {
                .object([("rule", .string($0.rule.rawValue)), ("clause", .string($0.clause)), ("count", .integer($0.count))])
            })),
            ("rejections_by_organizer", .array(rejectionsByOrganizer.map {
                .object([("unit", .string($0.unit)), ("count", .integer($0.count))])
            })),
        ])
    }
}

extension Report.CapUse {
    /// The key as the spec names its fields: region and system, a unit, or a (township or village) region.
    public var keyJSON: JSONValue {
        switch keyKind {
        case .regionAndSystem:
            return .object([("region", .string(key.region ?? "")), ("system", key.system.map(JSONValue.string) ?? .null)])
        case .organizerUnit: return .object([("unit", .string(key.unit ?? ""))])
        case .principalRegion: return .object([("region", .string(key.region ?? ""))])
        }
    }

    /// The key in words, for text and HTML.
    public var keyText: String {
        switch keyKind {
        case .regionAndSystem: return (key.region ?? "") + " · " + (key.system ?? "—")
        case .organizerUnit: return key.unit ?? ""
        case .principalRegion: return key.region ?? ""
        }
    }

    public var isFull: Bool { used >= limit }
}
