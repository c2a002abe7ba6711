import Foundation
import MeetingModel

public enum Verdict: String, Sendable, Codable, CaseIterable {
    case approved, rejected, invalid, withdrawn
}

/// The outcome for one spool file, as recorded in the ledger and written to the outputs.
public struct Decision: Sendable, Equatable, Codable {
    public var verdict: Verdict
    /// The request's id, when it could be read.
    public var requestID: String?
    /// The decided revision; for a withdrawal, the revision withdrawn.
    public var revision: Int?
    public var assessment: Assessment
    /// For an invalid request: every `$.path: problem` line.
    public var problems: [String]
    /// SEQUENCE of the calendar object published for an approval or a withdrawal.
    public var sequence: Int?
    /// `exempt: statutory` for statutory meetings.
    public var note: String?
    public var settingsVersion: String
    /// For a recurring series: how many occurrences were decided (after exdates). nil for one meeting.
    public var occurrences: Int?

    public init(verdict: Verdict, requestID: String?, revision: Int?, assessment: Assessment = Assessment(),
                problems: [String] = [], sequence: Int? = nil, note: String? = nil, settingsVersion: String, occurrences: Int? = nil) {
        self.verdict = verdict
        self.requestID = requestID
        self.revision = revision
        self.assessment = assessment
        self.problems = problems
        self.sequence = sequence
        self.note = note
        self.settingsVersion = settingsVersion
        self.occurrences = occurrences
    }
}

/// Decides one parsed spool file against the ledger: revisions, withdrawals, statutory exemption and the rules.
/// Pure: the caller records the decision in the same transaction that read `state`.
public struct Decider: Sendable {
    public let engine: RuleEngine

    public init(engine: RuleEngine) { self.engine = engine }

    public func decide(_ input: Result<ParsedRequest, InvalidRequest>, state: any DecisionState) throws -> Decision {
        let version = engine.settings.version
        switch input {
        case let .failure(invalid):
            return Decision(verdict: .invalid, requestID: invalid.id, revision: nil, problems: invalid.problems, settingsVersion: version)
        case let .success(.withdrawal(withdrawal)):
            let standing = try state.standing(of: withdrawal.id)
            guard let approved = standing.approvedRevision else {
                return Decision(verdict: .invalid, requestID: withdrawal.id, revision: withdrawal.revision,
                                problems: ["$.id: \"\(withdrawal.id)\" has no approved meeting to withdraw"], settingsVersion: version)
            }
            if let named = withdrawal.revision, named != approved {
                return Decision(verdict: .invalid, requestID: withdrawal.id, revision: named,
                                problems: ["$.revision: \(named) is not the approved revision of \"\(withdrawal.id)\" (\(approved))"],
                                settingsVersion: version)
            }
            return Decision(verdict: .withdrawn, requestID: withdrawal.id, revision: approved,
                            sequence: (standing.lastSequence ?? -1) + 1, settingsVersion: version)
        case let .success(.proposal(request)):
            if state.readsAhead {
                // One round trip for the standing and the rules' reads of an approval, not one each.
                try state.readAhead(standingOf: request.id, reads: request.kind == .statutory ? [] : engine.likelyReads(of: request))
            }
            let standing = try state.standing(of: request.id)
            if let highest = standing.highestDecidedRevision, request.revision == highest {
                // The same id and revision decided already: a second copy, here or (in a shared ledger) in another office.
                let by = [standing.highestDecidedBy.flatMap { $0.isEmpty ? nil : "node \($0)" },
                          standing.highestDecidedAt.map { "at " + RFC3339.utcString($0) }].compactMap { $0 }
                return Decision(verdict: .invalid, requestID: request.id, revision: request.revision,
                                problems: ["$.revision: revision \(request.revision) of \"\(request.id)\" was already decided"
                                    + (by.isEmpty ? "" : " (\(by.joined(separator: ", ")))")],
                                settingsVersion: version)
            }
            if let highest = standing.highestDecidedRevision, request.revision < highest {
                return Decision(verdict: .invalid, requestID: request.id, revision: request.revision,
                                problems: ["$.revision: \(request.revision) is not higher than \(highest), the highest revision already decided for \"\(request.id)\""],
                                settingsVersion: version)
            }
            let nextSequence = (standing.lastSequence ?? -1) + 1
            let occurrences = request.recurrence?.occurrences.count
            if request.kind == .statutory {
                return Decision(verdict: .approved, requestID: request.id, revision: request.revision,
                                sequence: nextSequence, note: "exempt: statutory", settingsVersion: version, occurrences: occurrences)
            }
            let assessment = try engine.assessAll(request, ledger: state)
            return Decision(verdict: assessment.isApproved ? .approved : .rejected, requestID: request.id,
                            revision: request.revision, assessment: assessment,
                            sequence: assessment.isApproved ? nextSequence : nil, settingsVersion: version, occurrences: occurrences)
        }
    }
}
