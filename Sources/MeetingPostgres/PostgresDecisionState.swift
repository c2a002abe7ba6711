import Foundation
import PostgresNIO
import MeetingLedger
import MeetingModel
import MeetingRules

/// The shared ledger as the rules see it inside one transaction: the statements of `CountPlan`, the same the
/// SQLite ledger runs, so a cap counts the same on either backend. Before each read, the keys it reads are
/// locked (`CountedKeys`), in the same round trip: the lock is sent without waiting and the read runs after it
/// on the connection, so the read's snapshot (READ COMMITTED: one per statement) is taken once the lock is
/// held, and sees every decision that held the key before.
struct PostgresDecisionState: DecisionState {
    let session: PostgresSession
    /// Whether reads lock their keys: in a decision, yes; in a look that records nothing (`check`, a report), no.
    private let locksKeys: Bool
    /// The keys this transaction has locked for reading, each asked for once.
    private let locked = LockedKeys()
    /// Reads sent ahead whose answers were not asked for yet.
    private let ahead = ReadsAhead()

    init(session: PostgresSession, locksKeys: Bool) {
        self.session = session
        self.locksKeys = locksKeys
    }

    private func arguments(_ plan: CountPlan.Plan) -> [SQLValue] { plan.values.map { .text($0) } }

    /// In a decision: each read would be a round trip, and the deciding thread woken for each.
    var readsAhead: Bool { locksKeys }

    /// Sends, without waiting, one statement locking `id` and then every key `reads` count by (in a fixed
    /// order), the standing and the reads: the rules' reads of an approval cost one round trip with the standing's,
    /// where each was one of its own. The id is locked first, as when the standing is read on its own (a
    /// withdrawal holding it waits for no read key; a second copy waiting for it holds none). The reads run
    /// after the locks, so each sees every decision that held its keys before, as when it is read on its own.
    /// A key of a read the rules end up not making stays locked until the decision commits (only slower).
    func readAhead(standingOf id: String, reads: [LedgerRead]) throws {
        try lock(reads.flatMap { CountedKeys.reading($0.query) }, first: CountedKeys.meeting(id))
        ahead.standing = (id, try session.sendForLater(Self.standingSQL, [.text(id)]))
        for read in reads {
            let (sql, values) = statement(read)
            ahead.reads.append((read, try session.sendForLater(sql, values)))
        }
    }

    /// The statement of a read, the same whether it is read ahead or when asked.
    private func statement(_ read: LedgerRead) -> (String, [SQLValue]) {
        let plan = CountPlan.plan(read.query)
        switch read {
        case .count: return (plan.countSQL, arguments(plan))
        case .startDates: return (plan.listSQL, arguments(plan))
        case let .counted(_, limit): return (plan.countedSQL, arguments(plan) + [.integer(limit)])
        }
    }

    /// The rows of `read`: its answer if it was read ahead, else read now (its keys locked first).
    private func rows(_ read: LedgerRead) throws -> [LedgerRow] {
        if let index = ahead.reads.firstIndex(where: { $0.read == read }) {
            return try session.rows(of: ahead.reads.remove(at: index).answer)
        }
        try lock(CountedKeys.reading(read.query))
        let (sql, values) = statement(read)
        return try session.rows(sql, values)
    }

    /// Locks `keys` not locked yet, `first` before the others (which are locked in a fixed order), in one statement.
    private func lock(_ keys: [String], first: String? = nil) throws {
        guard locksKeys else { return }
        let leading = first.map { locked.keys.insert($0).inserted ? [$0] : [] } ?? []
        let new = keys.filter { locked.keys.insert($0).inserted }
        if !leading.isEmpty || !new.isEmpty { try session.lockKeys(new, shared: false, first: leading) }
    }

    func countApproved(matching query: MeetingQuery) throws -> Int {
        try rows(.count(query))[0].integer(0)
    }

    func approvedStartDates(matching query: MeetingQuery) throws -> [LocalDate] {
        try rows(.startDates(query)).map { row in
            let text = try row.text(2)
            guard let date = LocalDate(text) else { throw LedgerError.corrupt("local_date = \(text)") }
            return date
        }
    }

    func approvedMeetings(matching query: MeetingQuery, limit: Int?) throws -> [MeetingRecord] {
        try lock(CountedKeys.reading(query))
        let plan = CountPlan.plan(query)
        var sql = plan.listSQL
        var values = arguments(plan)
        if let limit {
            sql += " LIMIT ?"
            values.append(.integer(limit))
        }
        return try session.rows(sql, values).map { row in
            let id = try row.text(0)
            let n = try row.integer(1)
            guard var record = try meetingRecord(id: id, approvedOnly: false) else { throw LedgerError.corrupt("meeting \(id) vanished") }
            // A later occurrence of a series as the rules counted it: its own start and date.
            if n != 0 {
                let text = try row.text(2)
                guard let date = LocalDate(text), let start = try session.rows(
                    "SELECT start_utc FROM occurrence WHERE meeting_id = $1 AND n = $2", [.text(id), .integer(n)]).first?.real(0) else {
                    throw LedgerError.corrupt("occurrence \(n) of \(id) vanished")
                }
                record.start = Date(timeIntervalSince1970: start)
                record.localStartDate = date
            }
            return record
        }
    }

    func countedMeetings(matching query: MeetingQuery, limit: Int) throws -> [CountedMeeting] {
        try rows(.counted(query, limit: limit)).map { row in
            let text = try row.text(1)
            guard let date = LocalDate(text) else { throw LedgerError.corrupt("local_date = \(text)") }
            return CountedMeeting(id: try row.text(0), date: date, title: try row.text(2))
        }
    }

    func approvedMeeting(id: String) throws -> MeetingRecord? {
        try lock([CountedKeys.meeting(id)])
        return try meetingRecord(id: id, approvedOnly: true)
    }

    /// One meeting as the rules know it, exactly as `MeetingRecord(request)` made it when it was approved.
    private func meetingRecord(id: String, approvedOnly: Bool) throws -> MeetingRecord? {
        guard let row = try session.rows("""
            SELECT id, revision, title, kind, organizer_unit, organizer_level, organizer_type, organizer_system, organizer_region,
                   start_utc, local_date, reaches_grassroots, attendee_units, exempt, status,
                   ARRAY(SELECT region FROM meeting_principal_region WHERE meeting_id = $1 AND n = 0 ORDER BY position)
            FROM meeting WHERE id = $1
            """, [.text(id)]).first else { return nil }
        if approvedOnly, try row.text(14) != "approved" { return nil }
        func decode<E: RawRepresentable>(_ type: E.Type, _ index: Int, _ column: String) throws -> E where E.RawValue == String {
            let text = try row.text(index)
            guard let value = E(rawValue: text) else { throw LedgerError.corrupt("\(column) = \(text)") }
            return value
        }
        let localDate = try row.text(10)
        guard let date = LocalDate(localDate) else { throw LedgerError.corrupt("local_date = \(localDate)") }
        return MeetingRecord(
            id: try row.text(0), revision: try row.integer(1), title: try row.text(2), kind: try decode(MeetingKind.self, 3, "kind"),
            organizerUnit: try row.text(4), organizerLevel: try decode(Level.self, 5, "organizer_level"),
            organizerType: try decode(OrganizerType.self, 6, "organizer_type"), organizerSystem: try row.optionalText(7),
            organizerRegion: try row.text(8), start: Date(timeIntervalSince1970: try row.real(9)), localStartDate: date,
            reachesGrassroots: try row.integer(11) != 0, attendeeUnits: try StringList.decode(try row.text(12), column: "attendee_units"),
            grassrootsPrincipalRegions: try row[15].decode([String].self), exempt: try row.integer(13) != 0)
    }

    private static let standingSQL = """
        SELECT m.revision, m.status, m.sequence, d.revision, d.node, d.decided_at, COALESCE(m.feed_keys, '') FROM (SELECT 1) AS one
        LEFT JOIN meeting m ON m.id = $1
        LEFT JOIN LATERAL (SELECT revision, node, decided_at FROM decision WHERE request_id = $1 AND action = 'propose'
            AND verdict IN ('approved', 'rejected') ORDER BY revision DESC LIMIT 1) d ON true
        """

    func standing(of id: String) throws -> MeetingStanding {
        let row: LedgerRow
        if let (aheadID, answer) = ahead.standing, aheadID == id {
            ahead.standing = nil
            row = try session.rows(of: answer)[0]
        } else {
            try lock([CountedKeys.meeting(id)])
            row = try session.rows(Self.standingSQL, [.text(id)])[0]
        }
        let status = try row.optionalText(1)
        // The decision that follows records the meeting's feeds before and after: read here, in the same snapshot.
        session.feedKeysRead[id] = try row.text(6)
        if status == nil { session.meetingsAbsent.insert(id) }
        return MeetingStanding(approvedRevision: status == "approved" ? try row.optionalInteger(0) : nil, lastSequence: try row.optionalInteger(2),
                               highestDecidedRevision: try row.optionalInteger(3), highestDecidedBy: try row.optionalText(4),
                               highestDecidedAt: try row[5].decode(Double?.self).map(Date.init(timeIntervalSince1970:)))
    }
}

/// The keys one transaction has locked, shared by the copies of its `PostgresDecisionState`.
private final class LockedKeys {
    var keys = Set<String>()
}

/// Reads one transaction sent ahead, shared by the copies of its `PostgresDecisionState`.
private final class ReadsAhead {
    var standing: (id: String, answer: EventLoopFuture<[PostgresRow]>)?
    var reads: [(read: LedgerRead, answer: EventLoopFuture<[PostgresRow]>)] = []
}

extension LedgerRead {
    var query: MeetingQuery {
        switch self {
        case let .count(query), let .startDates(query), let .counted(query, _): return query
        }
    }
}
