import Foundation
import MeetingLedger
import MeetingModel
import MeetingRules

/// The decision log's line for a decision (`shared/spec/spool-and-outputs.md`), also printed by `check --json`.
public enum DecisionLine {
    public static func make(_ decision: Decision, decidedAt: Date, timeZone: TimeZone, input: String,
                            output: String?, moved: String?, sequenceNumber: Int64?, node: String? = nil,
                            occurrencesOf request: MeetingRequest? = nil) -> JSONValue {
        func findings(_ list: [Finding]) -> JSONValue {
            .array(list.map { finding in
                var members: [(key: String, value: JSONValue)] = [
                    ("rule", .string(finding.rule.rawValue)), ("clause", .string(finding.clause)),
                    ("sentence", .string(finding.sentence)), ("facts", .string(finding.factsLine)),
                ]
                // A series' finding names every occurrence it applies to.
                if let dates = finding.dates { members.append(("dates", .array(dates.map { .string($0.description) }))) }
                return .object(members)
            })
        }
        var members: [(key: String, value: JSONValue)] = [
            ("time", .string(timestamp(decidedAt, timeZone))),
            ("id", .optional(decision.requestID)),
            ("revision", decision.revision.map(JSONValue.integer) ?? .null),
            ("verdict", .string(decision.verdict.rawValue)),
            ("violations", findings(decision.assessment.violations)),
            ("warnings", findings(decision.assessment.warnings)),
            ("waived", .array(decision.assessment.waived.map {
                .object([("rule", .string($0.rule.rawValue)), ("ref", .optional($0.ref)), ("approver", .optional($0.approver))])
            })),
            ("settings", .string(decision.settingsVersion)),
            ("input", .string(input)),
            ("output", .optional(output)),
        ]
        if let occurrences = decision.occurrences { members.append(("occurrences", .integer(occurrences))) }
        // `check --json`: every counted start, in the request's zone, as a calendar reading the .ics shows it.
        if let request {
            let milliseconds = request.occurrences.contains { $0.start.timeIntervalSince1970.rounded(.down) != $0.start.timeIntervalSince1970 }
            members.append(("occurrence_starts", .array(request.occurrences.map {
                .string(timestamp($0.start, request.timeZone, milliseconds: milliseconds))
            })))
        }
        if decision.verdict == .invalid { members.append(("problems", .array(decision.problems.map(JSONValue.string)))) }
        if let note = decision.note { members.append(("note", .string(note))) }
        if let sequence = decision.sequence { members.append(("sequence", .integer(sequence))) }
        if let moved { members.append(("request", .string(moved))) }
        if let sequenceNumber { members.append(("seq", .integer(Int(sequenceNumber)))) }
        // The office that decided it: in a shared ledger, `seq` is numbered across every node.
        if let node, !node.isEmpty { members.append(("node", .string(node))) }
        return .object(members)
    }

    /// `2025-02-03T08:00:01.123+08:00`; without `milliseconds`, `2025-02-03T08:00:01+08:00`.
    public static func timestamp(_ date: Date, _ timeZone: TimeZone, milliseconds: Bool = true) -> String {
        let reading = ZonedClock(timeZone: timeZone).local(date)
        let fraction = Int((reading.secondsOfDay * 1000).rounded(.down)) % 1000
        let offset = timeZone.secondsFromGMT(for: date)
        return reading.date.description + "T" + reading.hour.zeroPadded(2) + ":" + reading.minute.zeroPadded(2) + ":"
            + reading.second.zeroPadded(2) + (milliseconds ? "." + fraction.zeroPadded(3) : "") + RFC3339.offsetText(offset)
    }
}
