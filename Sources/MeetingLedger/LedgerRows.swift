import Foundation
import MeetingModel
import MeetingRules

/// How a decision row and a meeting row keep what is not a column of their own, the same in every backend.
/// What a decision row keeps as JSON beside its columns: the verdict, request id and revision are columns,
/// and are not repeated. (Rows written before v5 hold the whole `Decision`; they read the same way.)
package struct DecisionBody: Codable {
    package var assessment: Assessment
    package var problems: [String]?
    package var sequence: Int?
    package var note: String?
    package var settingsVersion: String
    package var occurrences: Int?

    package init(_ decision: Decision) {
        assessment = decision.assessment
        problems = decision.problems.isEmpty ? nil : decision.problems
        sequence = decision.sequence
        note = decision.note
        settingsVersion = decision.settingsVersion
        occurrences = decision.occurrences
    }

    package func decision(verdict: Verdict, requestID: String?, revision: Int?) -> Decision {
        Decision(verdict: verdict, requestID: requestID, revision: revision, assessment: assessment, problems: problems ?? [],
                 sequence: sequence, note: note, settingsVersion: settingsVersion, occurrences: occurrences)
    }
}


/// The part of a decision row's JSON that replay compares.
package struct RecordedVerdicts: Decodable {
    package struct Named: Decodable { package var rule: RuleID }
    package struct Rules: Decodable {
        package var violations: [Named]?
        package var warnings: [Named]?
    }

    package var assessment: Rules
    package var settingsVersion: String
    package var occurrences: Int?

    package static func ids(_ named: [Named]?) -> [RuleID] { Set((named ?? []).map(\.rule)).sorted() }
}


package enum LedgerColumns {
    /// `touched_feeds` of a decision whose touched feeds are its meeting's own feed keys (most approvals and
    /// every withdrawal): the list is not stored twice.
    package static let touchedAreMeetingFeeds = "="

    /// The feeds a decision row says it touched; `meetingFeedKeys` is its meeting's `feed_keys`.
    package static func touchedFeeds(_ stored: String, meetingFeedKeys: String?) throws -> [String] {
        if stored == touchedAreMeetingFeeds { return (meetingFeedKeys ?? "").split(separator: "\n").map(String.init) }
        if stored.isEmpty { return [] }
        return try JSONDecoder().decode([String].self, from: Data(stored.utf8))
    }

    /// The local date of each occurrence, in order: a series' from its `occurrence_dates`, a single meeting's
    /// its `local_date`.
    package static func occurrenceDates(first: String, series: String?) -> [String] {
        guard let series else { return [first] }
        return series.split(separator: ",").map(String.init)
    }

}

/// What recording a decision writes, worked out before anything is written, the same in every backend: the
/// row's action, its JSON, the change to the meetings, and the feeds it touches.
package struct RecordedRow {
    package enum MeetingChange {
        case approve(MeetingRequest, sequence: Int, Publication)
        case withdraw(Publication)
        case none
    }

    package let action: String
    package let decisionJSON: String
    package let change: MeetingChange
    /// The feeds the meeting was in before, and is in now: what the feed writer must rewrite.
    package let touched: [String]
    /// `touched` as the row keeps it (`LedgerColumns.touchedAreMeetingFeeds` when it is the meeting's own).
    package let storedTouched: String

    /// `meetingFeedKeys`: the feeds a meeting is in now, read from the ledger. `rulesOnly` (a scratch
    /// ledger): no findings JSON and no feeds.
    package init(_ outcome: DecisionToRecord, rulesOnly: Bool = false, meetingFeedKeys: (String) throws -> [String]) throws {
        let decision = outcome.decision
        switch decision.verdict {
        case .withdrawn: action = "withdraw"
        case .invalid: action = "none"
        case .approved, .rejected: action = "propose"
        }
        if rulesOnly {
            decisionJSON = #"{"assessment":{},"settingsVersion":""}"#
        } else {
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys
            decisionJSON = String(decoding: try encoder.encode(DecisionBody(decision)), as: UTF8.self)
        }
        switch decision.verdict {
        case .approved:
            guard let request = outcome.approved, outcome.requestBytes != nil, let sequence = decision.sequence,
                  let publication = outcome.publication else {
                throw LedgerError.corrupt("an approval without its request")
            }
            change = .approve(request, sequence: sequence, publication)
        case .withdrawn:
            guard let publication = outcome.publication else { throw LedgerError.corrupt("a withdrawal without its cancelled event") }
            change = .withdraw(publication)
        case .rejected, .invalid:
            change = .none
        }
        switch rulesOnly ? MeetingChange.none : change {
        case let .approve(request, _, publication):
            let before = try meetingFeedKeys(request.id)
            touched = Array(Set(before).union(publication.feedKeys)).sorted()
            storedTouched = Set(touched) == Set(publication.feedKeys)
                ? LedgerColumns.touchedAreMeetingFeeds : JSONValue.array(touched.map(JSONValue.string)).serialized
        case .withdraw:
            touched = try meetingFeedKeys(decision.requestID ?? "").sorted()
            storedTouched = LedgerColumns.touchedAreMeetingFeeds
        case .none:
            touched = []
            storedTouched = ""
        }
    }
}

/// A value as a ledger row stores it, for copying rows between backends (`meetingd ledger copy`) and for the
/// rows of reports (`Ledger.select`).
public enum LedgerCell: Sendable, Equatable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case bytes([UInt8])

    public var text: String? { if case let .text(text) = self { return text } else { return nil } }

    /// A number, whichever way the backend stored it.
    public var integer: Int64? {
        switch self {
        case let .integer(number): return number
        case let .real(number): return Int64(number)
        default: return nil
        }
    }

    public var real: Double? {
        switch self {
        case let .integer(number): return Double(number)
        case let .real(number): return number
        default: return nil
        }
    }
}
