import Foundation
import MeetingModel
import MeetingRules

/// What reports and the decision browser show of a decided request beside its verdict: its title, kind,
/// organizer and dates. A decision row keeps it in columns of its own, indexed by year and organizer region,
/// so that a report of one year and region reads that year and region and not the whole ledger.
public struct DecisionSubject: Sendable, Equatable {
    public var title: String
    public var kind: MeetingKind
    public var organizerUnit: String
    public var organizerRegion: String
    /// The local date of the first and the last occurrence (the same for one meeting).
    public var firstDate: LocalDate
    public var lastDate: LocalDate
    /// The organizer unit and every attendee unit, each once, sorted: the browser's `unit` filter.
    public var units: [String]

    public init(_ request: MeetingRequest) {
        let occurrences = MeetingRecord.occurrences(of: request)
        title = request.title
        kind = request.kind
        organizerUnit = request.organizer.unit
        organizerRegion = request.organizer.region
        firstDate = occurrences.first?.localStartDate ?? request.localStart.date
        lastDate = occurrences.last?.localStartDate ?? firstDate
        units = Array(Set([request.organizer.unit] + request.attendeeUnits)).sorted()
    }

    /// The subject of a request as a ledger row keeps its bytes; nil when they do not read as a proposal.
    package static func of(requestBytes: [UInt8]) -> DecisionSubject? {
        guard case let .success(.proposal(request)) = RequestParser().parseStored(requestBytes) else { return nil }
        return DecisionSubject(request)
    }

    /// The rules a decision names (violations and warnings), each once: the browser's `rule` filter.
    package static func rules(of decision: Decision) -> [String] {
        Set((decision.assessment.violations + decision.assessment.warnings).map(\.rule.rawValue)).sorted()
    }
}
