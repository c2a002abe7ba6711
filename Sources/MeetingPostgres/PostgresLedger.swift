import Foundation
import Logging
import MeetingLedger
import MeetingModel
import MeetingRules
import PostgresNIO

/// The shared ledger: several nodes (offices), each deciding its own spool, against one PostgreSQL database,
/// so that caps, windows and loads count every office's meetings.
///
/// Race-free by locks on the keys a decision counts by (`CountedKeys`), at READ COMMITTED: each read of the
/// rules locks its query's key exclusively before it runs, and a meeting written locks, shared, every key any
/// query could count it by; all are held until commit. So two decisions that could change each other's counts
/// run one after the other, and the second reads what the first committed: no interleaving approves more than
/// a cap allows, and no conflict rejects a request that this serial order would approve. Decisions that count
/// nothing in common never wait for each other. A deadlock (possible only when one decision writes a key it did
/// not read while another reads it) is rolled back by the server and the decision made again. The rules stay
/// pure; the view they read is the transaction's, under its locks.
///
/// Decision numbers are taken in commit order (a transaction-scoped advisory lock from the number's
/// allocation to the commit): a node that has seen decision N has seen every decision before it, so its
/// feeds catch up from a number, never missing a decision another node committed late.
public final class PostgresLedger: Ledger, @unchecked Sendable {
    public let location: PostgresLocation
    public let node: String
    /// Opened for reading only (`check`, `replay`): nothing is migrated or written.
    public let readOnly: Bool
    public var localFile: String? { nil }
    private let logger: Logger

    private let lock = NSLock()
    /// Connections not in use, and the one each thread holds through a transaction or snapshot of its own.
    private var idle: [PostgresSession] = []
    private var held: [pthread_t: PostgresSession] = [:]
    private var nextConnectionID = 1
    private var schemaReady = false
    private let listener = ChangeListener()

    /// Decisions made again after a deadlock or a serialization failure, since start (`/metrics`).
    private var retries = 0
    public var conflictRetries: Int { lock.withLock { retries } }

    /// Connects lazily: a database that is down when meetingd starts is a wait, not a failure to start.
    public init(url: String, node: String, readOnly: Bool = false, logger: Logger = Logger(label: "meetingd.ledger")) throws {
        location = try PostgresLocation(url: url)
        self.node = node
        self.readOnly = readOnly
        self.logger = logger
    }

    deinit {
        for session in idle { session.close() }
        listener.stop()
    }

    // MARK: Connections

    /// Runs `body` on this thread's connection: the one its transaction or snapshot holds, else one taken
    /// from the idle ones (or made) and given back after.
    private func withSession<T>(_ body: (PostgresSession) throws -> T) throws -> T {
        let thread = pthread_self()
        if let session = lock.withLock({ held[thread] }) { return try body(session) }
        let session = try takeSession()
        defer { giveBack(session) }
        return try body(session)
    }

    private func takeSession() throws -> PostgresSession {
        let (reused, id) = lock.withLock { () -> (PostgresSession?, Int) in
            while let session = idle.popLast() {
                if !session.isClosed { return (session, 0) }
            }
            nextConnectionID += 1
            return (nil, nextConnectionID)
        }
        if let reused { return reused }
        let session = try PostgresSession.connect(location, id: id, logger: logger)
        do {
            try prepareSchema(on: session)
        } catch {
            session.close()
            throw error
        }
        return session
    }

    private func giveBack(_ session: PostgresSession) {
        guard !session.isClosed else { return }
        lock.withLock { idle.append(session) }
    }

    /// Holds one connection for this thread while `body` runs inside `begin` … COMMIT.
    private func inTransaction<T>(_ begin: String, _ body: (PostgresSession) throws -> T) throws -> T {
        let thread = pthread_self()
        if let session = lock.withLock({ held[thread] }) { return try body(session) }
        let session = try takeSession()
        lock.withLock { held[thread] = session }
        defer {
            _ = lock.withLock { held.removeValue(forKey: thread) }
            giveBack(session)
        }
        session.feedKeysRead = [:]
        session.meetingsAbsent = []
        try session.send(begin)
        do {
            let result = try body(session)
            try session.execute("COMMIT")
            return result
        } catch {
            if !session.isClosed { try? session.execute("ROLLBACK") }
            throw error
        }
    }

    /// A transaction that locks the decision table against every node's writes, for a copy into the ledger.
    func exclusiveTransaction<T>(_ body: (PostgresSession) throws -> T) throws -> T {
        try inTransaction("BEGIN ISOLATION LEVEL SERIALIZABLE") { session in
            try session.execute("LOCK TABLE decision, meeting IN EXCLUSIVE MODE")
            return try body(session)
        }
    }

    /// Creates or migrates the schema once per process; refuses one a newer meetingd wrote.
    private func prepareSchema(on session: PostgresSession) throws {
        if lock.withLock({ schemaReady }) { return }
        let known = PostgresSchema.migrations.map(\.name)
        let exists = try session.rows("SELECT to_regclass('meetingd_schema') IS NOT NULL")[0][0].decode(Bool.self)
        if readOnly {
            guard exists else { throw LedgerError.unavailable("\(location): no meetingd ledger there") }
            let applied = try session.rows("SELECT name FROM meetingd_schema").map { try $0.text(0) }
            if let unknown = applied.first(where: { !known.contains($0) }) {
                throw PostgresLedgerError.schema("\(location) was written by a newer meetingd (migration \"\(unknown)\")")
            }
            if applied.count < known.count {
                throw PostgresLedgerError.schema("\(location) was written by an older meetingd; start the daemon or run a drain once")
            }
        } else {
            // One node migrates at a time; the others wait for it, then find nothing to do.
            try session.execute("SELECT pg_advisory_lock(\(Self.migrationLock))")
            defer { try? session.execute("SELECT pg_advisory_unlock(\(Self.migrationLock))") }
            try session.execute("CREATE TABLE IF NOT EXISTS meetingd_schema (name TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())")
            let applied = Set(try session.rows("SELECT name FROM meetingd_schema").map { try $0.text(0) })
            if let unknown = applied.sorted().first(where: { !known.contains($0) }) {
                throw PostgresLedgerError.schema("\(location) was written by a newer meetingd (migration \"\(unknown)\"); this one knows: \(known.joined(separator: ", "))")
            }
            for migration in PostgresSchema.migrations where !applied.contains(migration.name) {
                try session.execute("BEGIN")
                do {
                    for statement in migration.statements { try session.execute(statement) }
                    try migration.backfill?(session)
                    try session.execute("INSERT INTO meetingd_schema (name) VALUES ($1)", [.text(migration.name)])
                    try session.execute("COMMIT")
                } catch {
                    try? session.execute("ROLLBACK")
                    throw error
                }
                logger.notice("ledger schema migrated", metadata: ["migration": "\(migration.name)", "ledger": "\(location)"])
            }
        }
        lock.withLock { schemaReady = true }
    }

    static let migrationLock = 0x6D65_6574_0001
    /// Held from a decision number's allocation to the commit: numbers are visible in commit order.
    static let numberingLock = 0x6D65_6574_0002

    // MARK: Ledger

    public func latestDecision(for input: InputIdentity) throws -> RecordedDecision? {
        try withSession { session in
            // Only this node's: another office may have a file of the same name and bytes (the same request
            // dropped twice), which it decided itself.
            guard let row = try session.rows("""
                SELECT d.seq, d.input_name, d.input_digest, d.request_id, d.revision, d.verdict, d.decided_at, d.destination,
                       d.decision_json, d.touched_feeds, m.feed_keys, d.node
                FROM decision d LEFT JOIN meeting m ON m.id = d.request_id
                WHERE d.node = $1 AND d.input_name = $2 AND d.input_digest = $3 ORDER BY d.seq DESC LIMIT 1
                """, [.text(node), .text(input.name), .text(input.digest)]).first else { return nil }
            let verdictText = try row.text(5)
            guard let verdict = Verdict(rawValue: verdictText) else { throw LedgerError.corrupt("verdict = \(verdictText)") }
            var body = try JSONDecoder().decode(DecisionBody.self, from: Data(try row.text(8).utf8))
            body.assessment = try withCountedTitles(body.assessment, session)
            return RecordedDecision(
                sequenceNumber: Int64(try row.integer(0)), input: InputIdentity(name: try row.text(1), digest: try row.text(2)),
                decision: body.decision(verdict: verdict, requestID: try row.optionalText(3), revision: try row.optionalInteger(4)),
                decidedAt: Date(timeIntervalSince1970: try row.real(6)), destination: try row.text(7),
                touchedFeeds: try LedgerColumns.touchedFeeds(try row.text(9), meetingFeedKeys: try row.optionalText(10)),
                node: try row.text(11))
        }
    }

    public func decideAndRecord(input: InputIdentity, decidedAt: Date,
                                _ decide: (any DecisionState) throws -> DecisionToRecord) throws -> RecordedDecision {
        try decideAndRecord(input: input, decidedAt: decidedAt, lookingForEarlier: false, decide)
    }

    /// The look for an earlier decision of the input is sent with the transaction's first statements and
    /// answered in the round trip of the rules' first reads: a decision waits twice, not three times. Only
    /// when the look finds one (after a crash) is the decision rolled back, the earlier one read whole and
    /// offered to `takingUp` — and if it is not taken up, the request decided again.
    public func decideAndRecord(input: InputIdentity, decidedAt: Date, takingUp: (RecordedDecision) throws -> Bool,
                                _ decide: (any DecisionState) throws -> DecisionToRecord) throws -> DecisionTaken {
        do {
            return .made(try decideAndRecord(input: input, decidedAt: decidedAt, lookingForEarlier: true, decide))
        } catch is EarlierDecisionFound {
            if let earlier = try earlierDecision(of: input, takenUpBy: takingUp) { return .takenUp(earlier) }
            return .made(try decideAndRecord(input: input, decidedAt: decidedAt, lookingForEarlier: false, decide))
        }
    }

    /// Thrown inside a decision's transaction, which it rolls back, when the look for an earlier decision found one.
    private struct EarlierDecisionFound: Error {}

    private func decideAndRecord(input: InputIdentity, decidedAt: Date, lookingForEarlier: Bool,
                                 _ decide: (any DecisionState) throws -> DecisionToRecord) throws -> RecordedDecision {
        guard !readOnly else { throw LedgerError.unavailable("\(location) is open for reading only") }
        var attempt = 0
        while true {
            attempt += 1
            do {
                let recorded = try inTransaction("BEGIN ISOLATION LEVEL READ COMMITTED") { session -> () throws -> RecordedDecision in
                    // A COMMIT whose answer was lost with its connection may have committed: that decision is
                    // this one, found by this node, its file and the time it was made — not a second copy.
                    if let uncertain = lock.withLock({ uncertainCommits[input] }),
                       let committed = try EarlierDecisionUnreadable.marking({ try decision(of: input, decidedAt: uncertain, session) }) {
                        return { committed }
                    }
                    // This node's, as `latestDecision` looks; sent first, so a failure of the rules' statements
                    // (which aborts the transaction) cannot spoil its answer.
                    let earlier = lookingForEarlier ? try EarlierDecisionUnreadable.marking { try session.sendForLater(
                        "SELECT 1 FROM decision WHERE node = $1 AND input_name = $2 AND input_digest = $3 LIMIT 1",
                        [.text(node), .text(input.name), .text(input.digest)]) } : nil
                    let outcome = Result { try decide(PostgresDecisionState(session: session, locksKeys: true)) }
                    // A lost connection, a deadlock or a timeout: the whole decision is tried again, look included.
                    if case let .failure(error) = outcome, Failure.isTransient(error) { throw error }
                    // An earlier decision comes first, as when it was looked for before deciding: a request the rules
                    // failed on is taken up too if it was decided before.
                    if let earlier, try EarlierDecisionUnreadable.marking({ try !session.rows(of: earlier).isEmpty }) {
                        throw EarlierDecisionFound()
                    }
                    return try record(try outcome.get(), input: input, decidedAt: decidedAt, session)
                }()
                _ = lock.withLock { uncertainCommits.removeValue(forKey: input) }
                return recorded
            } catch let error as PostgresLedgerError where error.sqlState == "40001" || error.sqlState == "40P01" {
                // A deadlock between key locks (or a serialization failure): decide again on what is committed now.
                lock.withLock { retries += 1 }
                // Past that, a transient failure: the request waits in incoming/ and the watcher tries again.
                guard attempt < 1000 else { throw error }
                usleep(UInt32.random(in: 0...UInt32(min(attempt, 20) * 500)))
            } catch let error as PostgresLedgerError where error.sqlState == "23505" && "\(error)".contains("decision_once") {
                // The same id and revision committed by another node meanwhile: deciding again sees it.
                throw LedgerError.alreadyDecided(id: "", revision: 0, action: "\(error)")
            } catch let error as PostgresLedgerError where error.isConnectionLoss {
                // The connection went, perhaps while COMMIT was on its way: the next try looks for this
                // decision first (the first uncertain attempt's time is kept: a later one never committed).
                lock.withLock { if uncertainCommits[input] == nil { uncertainCommits[input] = decidedAt } }
                throw error
            }
        }
    }

    /// Inputs whose COMMIT went unanswered, with the decision time that attempt recorded.
    private var uncertainCommits: [InputIdentity: Date] = [:]

    /// This node's decision of `input` made at `decidedAt`, if it was committed.
    private func decision(of input: InputIdentity, decidedAt: Date, _ session: PostgresSession) throws -> RecordedDecision? {
        let found = try session.rows("""
            SELECT 1 FROM decision WHERE node = $1 AND input_name = $2 AND input_digest = $3 AND decided_at = $4
            """, [.text(node), .text(input.name), .text(input.digest), .real(decidedAt.timeIntervalSince1970)])
        return found.isEmpty ? nil : try latestDecision(for: input)
    }

    public func transaction<T>(_ body: () throws -> T) throws -> T {
        // Each decision commits on its own: a group's durability on disk is the spool's, and the database is durable by itself.
        try body()
    }

    public func snapshot<T>(_ body: () throws -> T) throws -> T {
        try inTransaction("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") { _ in try body() }
    }

    public func read<T>(_ body: (any DecisionState) throws -> T) throws -> T {
        try inTransaction("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") { session in
            try body(PostgresDecisionState(session: session, locksKeys: false))
        }
    }

    public func meeting(id: String) throws -> StoredMeeting? {
        try withSession { session in
            guard let row = try session.rows("""
                SELECT m.revision, m.status, m.sequence, m.settings_version, m.decided_at, d.decision_json, d.request_bytes
                FROM meeting m LEFT JOIN decision d ON d.request_id = m.id AND d.revision = m.revision AND d.action = 'propose'
                    AND d.verdict = 'approved'
                WHERE m.id = $1
                """, [.text(id)]).first else { return nil }
            let revision = try row.integer(0)
            guard let json = try row.optionalText(5), let bytes = try row.optionalBytes(6) else {
                throw LedgerError.corrupt("meeting \(id) revision \(revision) has no approving decision with its request")
            }
            let body = try JSONDecoder().decode(DecisionBody.self, from: Data(json.utf8))
            return StoredMeeting(
                id: id, revision: revision, withdrawn: try row.text(1) == "withdrawn", sequence: try row.integer(2), requestBytes: bytes,
                assessment: try withCountedTitles(body.assessment, session), settingsVersion: try row.text(3),
                decidedAt: Date(timeIntervalSince1970: try row.real(4)), occurrences: body.occurrences)
        }
    }

    /// The counted meetings' titles, from their meeting rows (a stored assessment names them by id and date).
    private func withCountedTitles(_ assessment: Assessment, _ session: PostgresSession) throws -> Assessment {
        let ids = assessment.countedIDs
        guard !ids.isEmpty else { return assessment }
        var titles: [String: String] = [:]
        for row in try session.rows("SELECT id, title FROM meeting WHERE id = ANY($1)", [.texts(Array(ids))]) {
            titles[try row.text(0)] = try row.text(1)
        }
        return assessment.withCountedTitles(titles)
    }

    public func approvedCount() throws -> Int {
        try withSession { try $0.rows("SELECT COUNT(*) FROM meeting WHERE status = 'approved'")[0].integer(0) }
    }

    public func historyCount() throws -> Int {
        try withSession { try $0.rows("SELECT COUNT(*) FROM decision WHERE action IN ('propose', 'withdraw')")[0].integer(0) }
    }

    public func history(_ each: (HistoryEntry) throws -> Void) throws {
        try snapshot {
            try withSession { session in
                let decoder = JSONDecoder()
                var after = Int64(0)
                // Pages of a thousand, in one snapshot: the history may be larger than memory should hold.
                while true {
                    let rows = try session.rows("""
                        SELECT seq, input_name, input_digest, request_id, revision, verdict, decided_at, destination, decision_json,
                               request_bytes FROM decision WHERE action IN ('propose', 'withdraw') AND seq > $1 ORDER BY seq LIMIT 1000
                        """, [.integer(Int(after))])
                    for row in rows {
                        let verdictText = try row.text(5)
                        guard let verdict = Verdict(rawValue: verdictText) else { throw LedgerError.corrupt("verdict = \(verdictText)") }
                        let body = try decoder.decode(RecordedVerdicts.self, from: Data(try row.text(8).utf8))
                        after = Int64(try row.integer(0))
                        try each(HistoryEntry(
                            sequenceNumber: after, input: InputIdentity(name: try row.text(1), digest: try row.text(2)),
                            requestID: try row.optionalText(3), revision: try row.optionalInteger(4), verdict: verdict,
                            violations: RecordedVerdicts.ids(body.assessment.violations), warnings: RecordedVerdicts.ids(body.assessment.warnings),
                            settingsVersion: body.settingsVersion, occurrences: body.occurrences,
                            decidedAt: Date(timeIntervalSince1970: try row.real(6)), destination: try row.text(7),
                            requestBytes: try row.optionalBytes(9)))
                    }
                    if rows.count < 1000 { return }
                }
            }
        }
    }

    public func feedEvents(visibleAfter: Date, cancelledAfter: Date) throws -> FeedEventBatch {
        try inTransaction("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") { session in
            FeedEventBatch(events: try session.rows("""
                SELECT \(Self.feedEventColumns) FROM meeting
                WHERE end_utc > $1 AND (status = 'approved' OR decided_at > $2) ORDER BY start_utc, id
                """, [.real(visibleAfter.timeIntervalSince1970), .real(cancelledAfter.timeIntervalSince1970)]).map(Self.feedEvent),
                through: try Self.lastDecision(session))
        }
    }

    public func feedEvents(changedAfter sequenceNumber: Int64) throws -> FeedEventBatch {
        try inTransaction("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") { session in
            FeedEventBatch(events: try session.rows("""
                SELECT \(Self.feedEventColumns) FROM meeting
                WHERE id IN (SELECT request_id FROM decision WHERE seq > $1) ORDER BY start_utc, id
                """, [.integer(Int(sequenceNumber))]).map(Self.feedEvent),
                through: try Self.lastDecision(session))
        }
    }

    private static let feedEventColumns = "id, vevent, tzid, start_utc, end_utc, status, decided_at, feed_keys"

    private static func feedEvent(_ row: LedgerRow) throws -> FeedEvent {
        FeedEvent(id: try row.text(0), vevent: try row.text(1), timeZone: try row.text(2), start: Date(timeIntervalSince1970: try row.real(3)),
                  end: Date(timeIntervalSince1970: try row.real(4)),
                  withdrawnAt: try row.text(5) == "withdrawn" ? Date(timeIntervalSince1970: try row.real(6)) : nil,
                  feedKeys: try row.text(7).split(separator: "\n").map(String.init))
    }

    private static func lastDecision(_ session: PostgresSession) throws -> Int64 {
        Int64(try session.rows("SELECT COALESCE(MAX(seq), 0) FROM decision")[0].integer(0))
    }

    public func feedKeys() throws -> [String] {
        try withSession { session in try session.rows("SELECT key FROM feed ORDER BY key").map { try $0.text(0) } }
    }

    public func feedsTouched(after sequenceNumber: Int64) throws -> (keys: [String], through: Int64) {
        try inTransaction("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") { session in
            let through = try Self.lastDecision(session)
            var keys = Set<String>()
            for row in try session.rows("""
                SELECT d.touched_feeds, m.feed_keys FROM decision d LEFT JOIN meeting m ON m.id = d.request_id
                WHERE d.seq > $1 AND d.touched_feeds NOT IN ('', '[]')
                """, [.integer(Int(sequenceNumber))]) {
                keys.formUnion(try LedgerColumns.touchedFeeds(try row.text(0), meetingFeedKeys: try row.optionalText(1)))
            }
            return (keys.sorted(), through)
        }
    }

    // MARK: Other nodes

    public func checkReachable() throws {
        try withSession { try $0.execute("SELECT 1") }
    }

    public var isShared: Bool { true }

    /// True when another node's decision was announced since the last call, or the announcements may have
    /// been missed (the listening connection was lost and is made again): the caller catches up then.
    public func takeNewsOfOtherNodes() -> Bool {
        if listener.isListening { return listener.takeNews() }
        do {
            let session = try PostgresSession.connect(location, id: 0, logger: logger)
            try listener.listen(on: session, ignoring: node)
        } catch {
            logger.debug("cannot listen for other nodes' decisions yet", metadata: ["error": "\(error)"])
        }
        return true
    }

    // MARK: Recording

    /// Sends the decision's rows without waiting for any answer, and returns how to read the recorded decision
    /// once COMMIT has been answered. The decision number is taken under the numbering lock, held until COMMIT
    /// (numbers in commit order); the statements after it name the number with `currval`, so that the deciding
    /// thread is not woken while every other node's next commit waits for that lock (the connection still
    /// sends them one after another from its event loop).
    private func record(_ outcome: DecisionToRecord, input: InputIdentity, decidedAt: Date,
                        _ session: PostgresSession) throws -> () throws -> RecordedDecision {
        let decision = outcome.decision
        let row = try RecordedRow(outcome, meetingFeedKeys: { id in try Self.feedKeys(ofMeeting: id, session) })
        let id = decision.requestID ?? ""
        let units = outcome.subject?.units ?? [], rules = outcome.subject == nil ? [] : DecisionSubject.rules(of: decision)
        let writtenKeys = try Self.keysWritten(by: row.change, id: id)
        // One statement: the write locks of the meeting it records, if any (before the numbering lock, which
        // the decision committing next holds, and which may be waiting for one of them); the numbering lock;
        // the row, its units and rules; and the notification, delivered to the other nodes' listeners when this
        // transaction commits and not at all if it does not.
        let numbered = try session.sendForLater("""
            WITH \(writtenKeys == nil ? "" : Self.writeLocks)
            numbering AS (SELECT pg_advisory_xact_lock(\(Self.numberingLock)) \(writtenKeys == nil ? "" : "FROM writes")),
            recorded AS (
                INSERT INTO decision (node, input_name, input_digest, request_id, revision, action, verdict, decided_at, destination,
                                      decision_json, touched_feeds, request_bytes, \(ReportSQL.subjectColumnNames))
                SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19 FROM numbering RETURNING seq),
            units AS (INSERT INTO decision_unit (unit, seq) SELECT unnest($20::text[]), seq FROM recorded ON CONFLICT DO NOTHING),
            rules AS (INSERT INTO decision_rule (rule, seq) SELECT unnest($21::text[]), seq FROM recorded ON CONFLICT DO NOTHING)
            SELECT seq, pg_notify('\(PostgresSchema.channel)', seq || ' ' || $1) FROM recorded
            """, [.text(node), .text(input.name), .text(input.digest), .text(decision.requestID), .integer(decision.revision),
                  .text(row.action), .text(decision.verdict.rawValue), .real(decidedAt.timeIntervalSince1970), .text(outcome.destination),
                  .text(row.decisionJSON), .text(row.storedTouched), .bytes(row.action == "none" ? nil : outcome.requestBytes)]
                + Self.subjectValues(outcome.subject, verdict: decision.verdict, decidedAt: decidedAt)
                + [.texts(units), .texts(rules)]
                + (writtenKeys.map { [.text(CountedKeys.meeting(id)), .texts($0), .text(id)] } ?? []))
        // The meeting's rows, sent without waiting too: COMMIT reports any failure among them.
        switch row.change {
        case let .approve(request, sequence, publication):
            try upsertMeeting(request, decision: decision, sequence: sequence, decidedAt: decidedAt, publication: publication, session)
        case let .withdraw(publication):
            try deleteCountedRows(ofMeeting: id, session)
            try session.send("""
                UPDATE meeting SET status = 'withdrawn', sequence = $1, decided_at = $2, decision_seq = \(Self.thisDecision), vevent = $3
                WHERE id = $4
                """, [.integer(decision.sequence), .real(decidedAt.timeIntervalSince1970), .text(publication.vevent), .text(id)])
        case .none:
            break
        }
        let node = node
        return {
            let seq = Int64(try session.answer(of: numbered)[0].integer(0))
            return RecordedDecision(sequenceNumber: seq, input: input, decision: decision, decidedAt: decidedAt,
                                    destination: outcome.destination, touchedFeeds: row.touched, node: node)
        }
    }

    /// The number of the decision being recorded in this transaction, in its later statements.
    private static let thisDecision = "currval(pg_get_serial_sequence('decision', 'seq'))"

    /// The keys the meeting a decision writes will be counted by (nil when it writes no meeting): locked,
    /// shared, by `writeLocks`, with its id exclusively and the keys of what it replaces.
    private static func keysWritten(by change: RecordedRow.MeetingChange, id: String) throws -> [String]? {
        switch change {
        case let .approve(request, _, _):
            guard let record = MeetingRecord.occurrences(of: request).first else { throw LedgerError.corrupt("meeting \(id) has no occurrence") }
            return CountedKeys.writing(record)
        case .withdraw:
            return []
        case .none:
            return nil
        }
    }

    /// The write locks of a meeting (`CountedKeys`): its id ($22) exclusively, then shared, in a fixed order,
    /// the keys it will be counted by ($23) and those it is counted by now (the meeting $24 as stored). The
    /// stored keys are read in this statement's snapshot, which is current because the decision already holds
    /// the id: every proposal and withdrawal reads its id's standing (locking it) before it is recorded.
    private static let writeLocks = """
        writes AS (SELECT pg_advisory_xact_lock(\(PostgresSession.keyLockSpace), hashtext($22)) AS id,
            (SELECT count(pg_advisory_xact_lock_shared(\(PostgresSession.keyLockSpace), hashtext(k)))
             FROM (SELECT k FROM (SELECT unnest($23::text[]) AS k UNION \(CountedKeys.writingSQL(id: "$24"))) AS keys ORDER BY k) AS sorted) AS keys),
        """

    /// The subject columns a decision row is inserted with (a NULL is sent untyped; the server gives it the column's type).
    private static func subjectValues(_ subject: DecisionSubject?, verdict: Verdict, decidedAt: Date) -> [SQLValue] {
        ReportSQL.insertedSubject(subject, verdict: verdict, decidedAt: decidedAt, rulesOnly: false).map(SQLValue.init)
    }

    /// A decision's subject columns (migrating a decision recorded before them), and its units' and rules' rows.
    static func recordSubject(_ subject: DecisionSubject, rules: [String], seq: Int64, _ session: PostgresSession) throws {
        try session.send(ReportSQL.setSubject, ReportSQL.subjectValues(subject).map(SQLValue.init) + [.integer(Int(seq))])
        try recordKeys(subject, rules: rules, seq: seq, session)
    }

    /// The rows of a decision's units and rules (sent without waiting): the browser's filters.
    /// One statement for all of a decision's units and one for its rules, not one a row: the server parses and
    /// plans each statement it is sent.
    static func recordKeys(_ subject: DecisionSubject, rules: [String], seq: Int64, _ session: PostgresSession) throws {
        if !subject.units.isEmpty {
            try session.send("INSERT INTO decision_unit (unit, seq) SELECT unnest($1::text[]), $2 ON CONFLICT DO NOTHING",
                             [.texts(subject.units), .integer(Int(seq))])
        }
        if !rules.isEmpty {
            try session.send("INSERT INTO decision_rule (rule, seq) SELECT unnest($1::text[]), $2 ON CONFLICT DO NOTHING",
                             [.texts(rules), .integer(Int(seq))])
        }
    }

    public func select(_ sql: String, _ values: [LedgerCell]) throws -> [[LedgerCell]] {
        try withSession { session in
            try session.rows(sql, values.map(SQLValue.init)).map { row in try (0..<row.count).map { try row.cell($0) } }
        }
    }

    public func explain(_ sql: String, _ values: [LedgerCell]) throws -> [String] {
        try withSession { session in try session.rows("EXPLAIN " + sql, values.map(SQLValue.init)).map { try $0.text(0) } }
    }

    private static func feedKeys(ofMeeting id: String, _ session: PostgresSession) throws -> [String] {
        let keys = try session.feedKeysRead[id] ?? session.rows("SELECT feed_keys FROM meeting WHERE id = $1", [.text(id)]).first?.text(0) ?? ""
        return keys.split(separator: "\n").map(String.init)
    }

    /// Removes the rows a meeting is counted by, before a revision replaces it or a withdrawal frees its places
    /// (found by meeting id, each table indexed by it; a new id finds none).
    private func deleteCountedRows(ofMeeting id: String, _ session: PostgresSession) throws {
        try session.send("""
            WITH principal AS (DELETE FROM meeting_principal_region WHERE meeting_id = $1),
                 attendee AS (DELETE FROM meeting_attendee WHERE meeting_id = $1)
            DELETE FROM occurrence WHERE meeting_id = $1
            """, [.text(id)])
    }

    /// The meeting and every row it is counted by — its occurrences, their attendee units and the regions
    /// whose township principal it requires (an exempt meeting has principal rows only) — and its feeds, in
    /// one statement, whatever the number of occurrences, units and regions.
    private func upsertMeeting(_ request: MeetingRequest, decision: Decision, sequence: Int, decidedAt: Date,
                               publication: Publication, _ session: PostgresSession) throws {
        let occurrences = MeetingRecord.occurrences(of: request)
        guard let record = occurrences.first else { throw LedgerError.corrupt("meeting \(request.id) has no occurrence") }
        if !session.meetingsAbsent.contains(record.id) { try deleteCountedRows(ofMeeting: record.id, session) }
        let dates = occurrences.map(\.localStartDate.description)
        let numbers = Array(occurrences.indices)
        let counted = !record.exempt
        let comprehensive = record.kind == .comprehensive
        try session.send("""
            WITH principal AS (
                INSERT INTO meeting_principal_region (meeting_id, n, region, local_date, position)
                SELECT $1, o.n, r.region, o.date, r.position FROM unnest($23::text[]) WITH ORDINALITY AS r(region, position)
                CROSS JOIN unnest($24::text[], $25::int8[]) AS o(date, n)),
            counted_occurrence AS (
                INSERT INTO occurrence (organizer_unit, kind, local_date, meeting_id, n, start_utc, organizer_level, organizer_region,
                                        organizer_system)
                SELECT $6, $4, o.date, $1, o.n, CASE WHEN o.n = 0 THEN NULL ELSE o.start END, $26, $27, $28
                FROM unnest($29::text[], $30::int8[], $31::float8[]) AS o(date, n, start)),
            attendee AS (
                INSERT INTO meeting_attendee (unit, organizer_unit, kind, local_date, meeting_id, n)
                SELECT u.unit, $6, $4, o.date, $1, o.n FROM unnest($32::text[]) AS u(unit) CROSS JOIN unnest($29::text[], $30::int8[]) AS o(date, n)),
            feeds AS (INSERT INTO feed (key) SELECT unnest($33::text[]) ON CONFLICT DO NOTHING)
            INSERT INTO meeting (id, revision, status, sequence, kind, title, organizer_unit, organizer_level, organizer_type, organizer_system,
                organizer_region, start_utc, local_date, reaches_grassroots, exempt, attendee_units, settings_version, decided_at, decision_seq,
                vevent, tzid, end_utc, feed_keys, occurrence_dates)
            VALUES ($1, $2, 'approved', $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
                    \(Self.thisDecision), $18, $19, $20, $21, $22)
            ON CONFLICT (id) DO UPDATE SET revision = EXCLUDED.revision, status = 'approved', sequence = EXCLUDED.sequence,
                kind = EXCLUDED.kind, title = EXCLUDED.title, organizer_unit = EXCLUDED.organizer_unit,
                organizer_level = EXCLUDED.organizer_level, organizer_type = EXCLUDED.organizer_type,
                organizer_system = EXCLUDED.organizer_system, organizer_region = EXCLUDED.organizer_region,
                start_utc = EXCLUDED.start_utc, local_date = EXCLUDED.local_date, reaches_grassroots = EXCLUDED.reaches_grassroots,
                exempt = EXCLUDED.exempt, attendee_units = EXCLUDED.attendee_units, settings_version = EXCLUDED.settings_version,
                decided_at = EXCLUDED.decided_at, decision_seq = EXCLUDED.decision_seq, vevent = EXCLUDED.vevent, tzid = EXCLUDED.tzid,
                end_utc = EXCLUDED.end_utc, feed_keys = EXCLUDED.feed_keys, occurrence_dates = EXCLUDED.occurrence_dates
            """, [
                // $1–$22: the meeting row (its decision's number is this transaction's: `thisDecision`).
                .text(record.id), .integer(record.revision), .integer(sequence), .text(record.kind.rawValue), .text(record.title),
                .text(record.organizerUnit), .text(record.organizerLevel.rawValue), .text(record.organizerType.rawValue),
                .text(record.organizerSystem), .text(record.organizerRegion), .real(record.start.timeIntervalSince1970),
                .text(record.localStartDate.description), .integer(record.reachesGrassroots ? 1 : 0), .integer(record.exempt ? 1 : 0),
                .text(StringList.encode(record.attendeeUnits)), .text(decision.settingsVersion), .real(decidedAt.timeIntervalSince1970),
                .text(publication.vevent), .text(publication.timeZone), .real(publication.end.timeIntervalSince1970),
                .text(Set(publication.feedKeys).sorted().joined(separator: "\n")),
                .text(request.recurrence == nil ? nil : dates.joined(separator: ",")),
                // $23–$25: principal regions, on every occurrence (exempt meetings too).
                .texts(record.grassrootsPrincipalRegions), .texts(dates), .integers(numbers),
                // $26–$31: counted occurrences (none for an exempt meeting); region, system and level kept for
                // comprehensive meetings, the only ones counted by them.
                .text(comprehensive ? record.organizerLevel.rawValue : nil), .text(comprehensive ? record.organizerRegion : nil),
                .text(comprehensive ? record.organizerSystem : nil), .texts(counted ? dates : []), .integers(counted ? numbers : []),
                .reals(counted ? occurrences.map(\.start.timeIntervalSince1970) : []),
                // $32: attendee units; $33: feeds.
                .texts(Array(Set(record.attendeeUnits)).sorted()), .texts(Array(Set(publication.feedKeys)).sorted()),
            ])
    }
}

/// Listens on the decisions channel with a connection of its own; the handler runs on the event loop and
/// only sets a flag.
final class ChangeListener: @unchecked Sendable {
    private let lock = NSLock()
    private var session: PostgresSession?
    private var news = false

    var isListening: Bool { lock.withLock { session.map { !$0.isClosed } ?? false } }

    func listen(on session: PostgresSession, ignoring node: String) throws {
        session.connection.addListener(channel: PostgresSchema.channel) { [weak self] _, notification in
            guard let self, !notification.payload.hasSuffix(" " + node) else { return }
            lock.withLock { news = true }
        }
        // Tasks on one connection run in order: once this answers, LISTEN is in force.
        try session.execute("SELECT 1")
        lock.withLock { self.session = session }
    }

    func takeNews() -> Bool {
        lock.withLock {
            defer { news = false }
            return news
        }
    }

    func stop() { lock.withLock { session }?.close() }
}

extension PostgresLedger {
    /// Creates database `name` on the server `serverURL` connects to, and returns the URL of it (the test
    /// command's throwaway cluster, the benchmarks). `name` is meetingd's own: letters, digits and `_`.
    public static func createDatabase(named name: String, onServer serverURL: String) throws -> String {
        guard name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) else {
            throw PostgresLedgerError.badLocation("database name \(name)")
        }
        let server = try PostgresLocation(url: serverURL)
        let session = try PostgresSession.connect(server, id: 0, logger: Logger(label: "meetingd.admin"))
        defer { session.close() }
        try session.execute("CREATE DATABASE \(name)")
        var target = server
        target.database = name
        return target.url
    }
}
