import Foundation
import MeetingModel

/// A read the rules make of the ledger, named so that a ledger across a network can send the reads a decision
/// will most likely make all at once, before the rules ask for them (`DecisionState.readAhead`).
public enum LedgerRead: Sendable, Equatable {
    case count(MeetingQuery)
    case startDates(MeetingQuery)
    case counted(MeetingQuery, limit: Int)
}

extension RuleEngine {
    /// At most this many reads are sent ahead (a long series asks for a few per occurrence).
    public static let readAheadLimit = 64

    /// The reads assessing `request` makes while the ledger counts nothing against it: the reads of an
    /// approval, which most decisions are. A rule that reads more once it has found something (the meetings
    /// a rejection names) reads that when it asks.
    public func likelyReads(of request: MeetingRequest) -> [LedgerRead] {
        let recorder = ReadRecorder()
        _ = try? assessAll(request, ledger: recorder)
        return Array(recorder.reads.prefix(Self.readAheadLimit))
    }
}

/// Answers every read with nothing, and notes it.
private final class ReadRecorder: LedgerView {
    private(set) var reads: [LedgerRead] = []

    private func note(_ read: LedgerRead) {
        if !reads.contains(read) { reads.append(read) }
    }

    func countApproved(matching query: MeetingQuery) -> Int {
        note(.count(query))
        return 0
    }

    func approvedMeetings(matching query: MeetingQuery, limit: Int?) -> [MeetingRecord] { [] }

    func countedMeetings(matching query: MeetingQuery, limit: Int) -> [CountedMeeting] {
        note(.counted(query, limit: limit))
        return []
    }

    func approvedStartDates(matching query: MeetingQuery) -> [LocalDate] {
        note(.startDates(query))
        return []
    }

    func approvedMeeting(id: String) -> MeetingRecord? { nil }
}
