import Foundation
import GRDB
import MeetingModel
import MeetingRules

/// The default ledger: one SQLite file in WAL mode. Commits are atomic; they are made durable by the spool's
/// barrier (syncfs) before any request leaves `incoming/`, so `synchronous = NORMAL` suffices and a batch of
/// decisions costs one barrier, not one fsync each.
public final class SQLiteLedger: Ledger {
    private let queue: DatabaseQueue
    public let path: String
    public var localFile: String? { path }
    /// The open connection while `transaction` runs, so calls inside it join the transaction.
    private let batch = BatchSlot()

    public convenience init(path: String) throws { try self.init(path: path, migratingUpTo: nil) }

    /// `lastMigration`: stop after that migration (tests build an older ledger with it).
    init(path: String, migratingUpTo lastMigration: String?) throws {
        self.path = path
        var configuration = Configuration()
        // Another process holding the write lock is waited for, not skipped: SQLite waits up to 5 s, and the
        // daemon keeps the request and retries after that, so a stuck lock never blocks a clean shutdown.
        configuration.busyMode = .timeout(5)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            // Statement journals of the per-decision savepoints stay in memory: they are discarded at commit,
            // and as temporary files each would be created, written and unlinked on the decision path.
            try db.execute(sql: "PRAGMA temp_store = MEMORY")
            // Checkpoint every 5,000 pages (40 MB of WAL with 8 KiB pages) rather than SQLite's 1,000: a checkpoint
            // runs on the deciding thread with two fsyncs of its own, and index pages a burst rewrites are copied
            // once, not once per 1,000 pages (measured: +15 % decisions per second in group-commit mode).
            try db.execute(sql: "PRAGMA wal_autocheckpoint = 5000")
        }
        queue = try DatabaseQueue(path: path, configuration: configuration)
        // 8 KiB pages for a new ledger (an existing one keeps its size): a meeting row — request bytes and
        // VEVENT, 1.5 to 2 KB — then stays in its page, where with 4 KiB pages SQLite spilled anything over
        // 1,002 bytes into an overflow page of its own and wasted most of it (measured: 4 KB of file per
        // meeting). 16 KiB pages saved a little more but wrote twice the WAL per commit.
        try queue.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA page_size = 8192")
            try db.execute(sql: "PRAGMA journal_mode = WAL")
        }
        if let lastMigration { try Self.migrator.migrate(queue, upTo: lastMigration) } else { try Self.migrator.migrate(queue) }
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: decisions and meetings") { db in
            try db.execute(sql: """
                CREATE TABLE decision (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    input_name TEXT NOT NULL,
                    input_digest TEXT NOT NULL,
                    request_id TEXT,
                    revision INTEGER,
                    action TEXT NOT NULL CHECK (action IN ('propose', 'withdraw', 'none')),
                    verdict TEXT NOT NULL CHECK (verdict IN ('approved', 'rejected', 'invalid', 'withdrawn')),
                    decided_at REAL NOT NULL,
                    destination TEXT NOT NULL,
                    decision_json TEXT NOT NULL,
                    touched_feeds TEXT NOT NULL DEFAULT '[]'
                );
                -- A request id and revision is decided once; a replay after a crash cannot count twice.
                CREATE UNIQUE INDEX decision_once ON decision (request_id, revision, action)
                    WHERE verdict IN ('approved', 'rejected', 'withdrawn');
                CREATE INDEX decision_by_input ON decision (input_name, input_digest);
                CREATE INDEX decision_by_request ON decision (request_id, action, revision);

                CREATE TABLE meeting (
                    id TEXT PRIMARY KEY,
                    revision INTEGER NOT NULL CHECK (revision >= 1),
                    status TEXT NOT NULL CHECK (status IN ('approved', 'withdrawn')),
                    sequence INTEGER NOT NULL CHECK (sequence >= 0),
                    kind TEXT NOT NULL,
                    title TEXT NOT NULL,
                    organizer_unit TEXT NOT NULL,
                    organizer_level TEXT NOT NULL,
                    organizer_type TEXT NOT NULL,
                    organizer_system TEXT,
                    organizer_region TEXT NOT NULL,
                    start_utc REAL NOT NULL,
                    local_date TEXT NOT NULL,
                    reaches_grassroots INTEGER NOT NULL,
                    exempt INTEGER NOT NULL,
                    attendee_units TEXT NOT NULL,
                    request_bytes BLOB NOT NULL,
                    assessment_json TEXT NOT NULL,
                    settings_version TEXT NOT NULL,
                    decided_at REAL NOT NULL,
                    decision_seq INTEGER NOT NULL REFERENCES decision (seq),
                    vevent TEXT NOT NULL,
                    tzid TEXT NOT NULL,
                    end_utc REAL NOT NULL
                );
                CREATE INDEX meeting_by_region ON meeting (status, organizer_region, kind, local_date);
                CREATE INDEX meeting_by_unit ON meeting (status, organizer_unit, kind, local_date);
                CREATE INDEX meeting_by_system ON meeting (status, organizer_region, organizer_system, kind, local_date);

                CREATE TABLE meeting_principal_region (
                    meeting_id TEXT NOT NULL REFERENCES meeting (id) ON DELETE CASCADE,
                    region TEXT NOT NULL,
                    local_date TEXT NOT NULL,
                    PRIMARY KEY (meeting_id, region)
                );
                CREATE INDEX principal_by_region ON meeting_principal_region (region, local_date);

                -- Which feeds show which meeting (all, region:…, organizer:…, attendee:…).
                CREATE TABLE feed_entry (
                    feed_key TEXT NOT NULL,
                    meeting_id TEXT NOT NULL REFERENCES meeting (id) ON DELETE CASCADE,
                    PRIMARY KEY (feed_key, meeting_id)
                );
                CREATE INDEX feed_entry_by_meeting ON feed_entry (meeting_id);
                """)
        }
        // Feed membership moves into the meeting row: one column written with the meeting instead of three
        // B-tree inserts per feed, and a feed pass is one scan of the meetings shown, not one join per feed.
        migrator.registerMigration("v2: feed keys in the meeting row") { db in
            try db.execute(sql: """
                ALTER TABLE meeting ADD COLUMN feed_keys TEXT NOT NULL DEFAULT '';
                UPDATE meeting SET feed_keys = COALESCE((SELECT group_concat(feed_key, char(10)) FROM
                    (SELECT feed_key FROM feed_entry WHERE meeting_id = meeting.id ORDER BY feed_key)), '');
                -- Every feed ever published: a feed whose meetings have all passed stays, empty.
                CREATE TABLE feed (key TEXT PRIMARY KEY) WITHOUT ROWID;
                INSERT OR IGNORE INTO feed (key) SELECT DISTINCT feed_key FROM feed_entry;
                DROP TABLE feed_entry;
                CREATE INDEX meeting_by_end ON meeting (end_utc);
                """)
        }
        // decision_by_request served one query, which decision_once serves as well: one index entry less to
        // write with every decision.
        migrator.registerMigration("v3: one index less on decisions") { db in
            try db.execute(sql: "DROP INDEX decision_by_request")
        }
        // The attendee units of every approved, counted meeting, keyed so that "meetings of this organizer
        // sharing an attendee unit within these dates" is one index range counted in SQL, not every such
        // meeting read back and its JSON decoded.
        migrator.registerMigration("v4: attendee units as rows") { db in
            try db.execute(sql: """
                CREATE TABLE meeting_attendee (
                    unit TEXT NOT NULL,
                    organizer_unit TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    local_date TEXT NOT NULL,
                    meeting_id TEXT NOT NULL,
                    PRIMARY KEY (unit, organizer_unit, kind, local_date, meeting_id)
                ) WITHOUT ROWID;
                INSERT OR IGNORE INTO meeting_attendee (unit, organizer_unit, kind, local_date, meeting_id)
                    SELECT j.value, m.organizer_unit, m.kind, m.local_date, m.id FROM meeting m, json_each(m.attendee_units) j
                    WHERE m.status = 'approved' AND m.exempt = 0;
                """)
        }
        // The assessment is in the approving decision's row already: the meeting row does not repeat it.
        migrator.registerMigration("v5: the assessment once") { db in
            try db.execute(sql: "ALTER TABLE meeting DROP COLUMN assessment_json")
        }
        // Only comprehensive meetings are counted by region and system (annual cap, year-end clustering): the
        // other meetings, most of them, need no entry in those two indexes.
        migrator.registerMigration("v6: region and system indexes for comprehensive meetings") { db in
            try db.execute(sql: """
                DROP INDEX meeting_by_region;
                DROP INDEX meeting_by_system;
                CREATE INDEX meeting_by_region ON meeting (status, organizer_region, local_date) WHERE kind = 'comprehensive';
                CREATE INDEX meeting_by_system ON meeting (status, organizer_region, organizer_system, local_date)
                    WHERE kind = 'comprehensive';
                """)
        }
        return migrator
    }

    /// Runs `body` on the batch's connection inside `transaction`, else in a read.
    private func reading<T>(_ body: (Database) throws -> T) throws -> T {
        if let db = batch.database { return try body(db) }
        return try withoutActuallyEscaping(body) { body in
            let box = UncheckedBox(body)
            return try queue.read { db in UncheckedBox(try box.value(db)) }.value
        }
    }

    /// Runs `body` atomically: in a savepoint of the batch's transaction, else in a transaction of its own.
    private func writing<T>(_ body: (Database) throws -> T) throws -> T {
        if let db = batch.database {
            var result: T?
            try db.inSavepoint {
                result = try body(db)
                return .commit
            }
            return result!
        }
        return try withoutActuallyEscaping(body) { body in
            let box = UncheckedBox(body)
            return try queue.write { db in UncheckedBox(try box.value(db)) }.value
        }
    }

    public func transaction<T>(_ body: () throws -> T) throws -> T {
        precondition(batch.database == nil, "ledger transactions do not nest")
        return try withoutActuallyEscaping(body) { body in
            let box = UncheckedBox(body)
            return try queue.writeWithoutTransaction { db in
                var result: T?
                try db.inTransaction(.immediate) {
                    batch.database = db
                    defer { batch.database = nil }
                    result = try box.value()
                    return .commit
                }
                return UncheckedBox(result!)
            }.value
        }
    }

    public func latestDecision(for input: InputIdentity) throws -> RecordedDecision? {
        try reading { db in
            try Row.fetchOne(db.cachedStatement(sql: """
                SELECT d.*, m.feed_keys AS meeting_feed_keys FROM decision d LEFT JOIN meeting m ON m.id = d.request_id
                WHERE d.input_name = ? AND d.input_digest = ? ORDER BY d.seq DESC LIMIT 1
                """), arguments: [input.name, input.digest]).map { try Self.recordedDecision($0, in: db) }
        }
    }

    public func decideAndRecord(input: InputIdentity, decidedAt: Date,
                                _ decide: (any DecisionState) throws -> DecisionToRecord) throws -> RecordedDecision {
        try writing { db in
            let outcome = try decide(SQLiteDecisionState(db: db))
            return try Self.record(outcome, input: input, decidedAt: decidedAt, in: db)
        }
    }

    public func snapshot<T>(_ body: () throws -> T) throws -> T {
        if batch.database != nil { return try body() }
        return try withoutActuallyEscaping(body) { body in
            let box = UncheckedBox(body)
            return try queue.read { db in
                batch.database = db
                defer { batch.database = nil }
                return UncheckedBox(try box.value())
            }.value
        }
    }

    public func read<T>(_ body: (any DecisionState) throws -> T) throws -> T {
        try reading { db in try body(SQLiteDecisionState(db: db)) }
    }

    public func meeting(id: String) throws -> StoredMeeting? {
        try reading { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM meeting WHERE id = ?", arguments: [id]) else { return nil }
            let revision: Int = row["revision"]
            let approval = try String.fetchOne(db.cachedStatement(sql: """
                SELECT decision_json FROM decision WHERE request_id = ? AND revision = ? AND action = 'propose' AND verdict = 'approved'
                """), arguments: [id, revision])
            guard let approval else { throw LedgerError.corrupt("meeting \(id) revision \(revision) has no approving decision") }
            return StoredMeeting(
                id: row["id"], revision: revision, withdrawn: row["status"] == "withdrawn", sequence: row["sequence"],
                requestBytes: [UInt8]((row["request_bytes"] as Data)),
                assessment: try Self.withCountedTitles(try JSONDecoder().decode(DecisionBody.self, from: Data(approval.utf8)).assessment, in: db),
                settingsVersion: row["settings_version"], decidedAt: Date(timeIntervalSince1970: row["decided_at"]))
        }
    }

    /// SQLite's plan for the count of `query` (`EXPLAIN QUERY PLAN`), one line a step: tests check that each
    /// query the rules ask is answered from an index.
    func queryPlan(for query: MeetingQuery) throws -> [String] {
        try reading { db in try SQLiteDecisionState(db: db).plan(countOf: query) }
    }

    public func approvedCount() throws -> Int {
        try reading { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM meeting WHERE status = 'approved'") ?? 0 }
    }

    /// What a decision row keeps as JSON beside its columns: the verdict, request id and revision are columns,
    /// and are not repeated. (Rows written before v5 hold the whole `Decision`; they read the same way.)
    struct DecisionBody: Codable {
        var assessment: Assessment
        var problems: [String]?
        var sequence: Int?
        var note: String?
        var settingsVersion: String

        init(_ decision: Decision) {
            assessment = decision.assessment
            problems = decision.problems.isEmpty ? nil : decision.problems
            sequence = decision.sequence
            note = decision.note
            settingsVersion = decision.settingsVersion
        }

        func decision(verdict: Verdict, requestID: String?, revision: Int?) -> Decision {
            Decision(verdict: verdict, requestID: requestID, revision: revision, assessment: assessment, problems: problems ?? [],
                     sequence: sequence, note: note, settingsVersion: settingsVersion)
        }
    }

    /// The counted meetings' titles, from their meeting rows (a stored assessment names them by id and date).
    private static func withCountedTitles(_ assessment: Assessment, in db: Database) throws -> Assessment {
        let ids = assessment.countedIDs
        guard !ids.isEmpty else { return assessment }
        var titles: [String: String] = [:]
        for id in ids {
            titles[id] = try String.fetchOne(db.cachedStatement(sql: "SELECT title FROM meeting WHERE id = ?"), arguments: [id])
        }
        return assessment.withCountedTitles(titles)
    }

    /// `touched_feeds` of a decision whose touched feeds are its meeting's own feed keys (most approvals and
    /// every withdrawal): the list is not stored twice.
    static let touchedAreMeetingFeeds = "="

    /// The feeds a decision row says it touched; `meetingFeedKeys` is its meeting's `feed_keys`.
    private static func touchedFeeds(_ stored: String, meetingFeedKeys: String?) throws -> [String] {
        if stored == touchedAreMeetingFeeds { return (meetingFeedKeys ?? "").split(separator: "\n").map(String.init) }
        if stored.isEmpty { return [] }
        return try JSONDecoder().decode([String].self, from: Data(stored.utf8))
    }

    private static func recordedDecision(_ row: Row, in db: Database) throws -> RecordedDecision {
        let json: String = row["decision_json"]
        guard let verdict = Verdict(rawValue: row["verdict"]) else { throw LedgerError.corrupt("verdict = \(String(describing: row["verdict"]))") }
        var body = try JSONDecoder().decode(DecisionBody.self, from: Data(json.utf8))
        body.assessment = try withCountedTitles(body.assessment, in: db)
        return RecordedDecision(
            sequenceNumber: row["seq"], input: InputIdentity(name: row["input_name"], digest: row["input_digest"]),
            decision: body.decision(verdict: verdict, requestID: row["request_id"], revision: row["revision"]),
            decidedAt: Date(timeIntervalSince1970: row["decided_at"]), destination: row["destination"],
            touchedFeeds: try touchedFeeds(row["touched_feeds"], meetingFeedKeys: row["meeting_feed_keys"]))
    }

    public func feedEvents(visibleAfter: Date, cancelledAfter: Date) throws -> [FeedEvent] {
        try reading { db in
            // Shown: approved meetings that end after `visibleAfter`; withdrawn ones withdrawn after `cancelledAfter`.
            try Row.fetchAll(db.cachedStatement(sql: """
                SELECT vevent, tzid, start_utc, feed_keys FROM meeting
                WHERE end_utc > ? AND (status = 'approved' OR decided_at > ?) ORDER BY start_utc, id
                """), arguments: [visibleAfter.timeIntervalSince1970, cancelledAfter.timeIntervalSince1970]).map { row in
                let keys: String = row[3]
                return FeedEvent(vevent: row[0], timeZone: row[1], start: Date(timeIntervalSince1970: row[2]),
                                 feedKeys: keys.split(separator: "\n").map(String.init))
            }
        }
    }

    public func feedKeys() throws -> [String] {
        try reading { db in try String.fetchAll(db.cachedStatement(sql: "SELECT key FROM feed ORDER BY key")) }
    }

    public func feedsTouched(after sequenceNumber: Int64) throws -> (keys: [String], through: Int64) {
        try reading { db in
            let through = try Int64.fetchOne(db, sql: "SELECT MAX(seq) FROM decision") ?? 0
            var keys = Set<String>()
            for row in try Row.fetchAll(db, sql: """
                SELECT d.touched_feeds, m.feed_keys FROM decision d LEFT JOIN meeting m ON m.id = d.request_id
                WHERE d.seq > ? AND d.touched_feeds NOT IN ('', '[]')
                """, arguments: [sequenceNumber]) {
                keys.formUnion(try Self.touchedFeeds(row[0], meetingFeedKeys: row[1]))
            }
            return (keys.sorted(), through)
        }
    }

    private static func record(_ outcome: DecisionToRecord, input: InputIdentity, decidedAt: Date, in db: Database) throws -> RecordedDecision {
        let decision = outcome.decision
        let action: String
        switch decision.verdict {
        case .withdrawn: action = "withdraw"
        case .invalid: action = "none"
        case .approved, .rejected: action = "propose"
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let decisionJSON = String(decoding: try encoder.encode(DecisionBody(decision)), as: UTF8.self)
        // What the decision changes in the meetings, checked before anything is written.
        enum MeetingChange {
            case approve(MeetingRequest, bytes: [UInt8], sequence: Int, Publication)
            case withdraw(Publication)
            case none
        }
        let change: MeetingChange
        switch decision.verdict {
        case .approved:
            guard let (request, bytes) = outcome.approved, let sequence = decision.sequence, let publication = outcome.publication else {
                throw LedgerError.corrupt("an approval without its request")
            }
            change = .approve(request, bytes: bytes, sequence: sequence, publication)
        case .withdrawn:
            guard let publication = outcome.publication else { throw LedgerError.corrupt("a withdrawal without its cancelled event") }
            change = .withdraw(publication)
        case .rejected, .invalid:
            change = .none
        }
        // The feeds the meeting was in before, and is in now: what the feed writer must rewrite.
        let touched: [String]
        let storedTouched: String
        switch change {
        case let .approve(request, _, _, publication):
            let before = try feedKeys(ofMeeting: request.id, in: db)
            touched = Array(Set(before).union(publication.feedKeys)).sorted()
            storedTouched = Set(touched) == Set(publication.feedKeys) ? touchedAreMeetingFeeds : JSONValue.array(touched.map(JSONValue.string)).serialized
        case .withdraw:
            touched = try feedKeys(ofMeeting: decision.requestID ?? "", in: db).sorted()
            storedTouched = touchedAreMeetingFeeds
        case .none:
            touched = []
            storedTouched = ""
        }
        do {
            try db.cachedStatement(sql: """
                INSERT INTO decision (input_name, input_digest, request_id, revision, action, verdict, decided_at, destination,
                                      decision_json, touched_feeds)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """).execute(arguments: [input.name, input.digest, decision.requestID, decision.revision, action,
                                 decision.verdict.rawValue, decidedAt.timeIntervalSince1970, outcome.destination, decisionJSON,
                                 storedTouched])
        } catch let error as DatabaseError where error.extendedResultCode == .SQLITE_CONSTRAINT_UNIQUE {
            throw LedgerError.alreadyDecided(id: decision.requestID ?? "", revision: decision.revision ?? 0, action: action)
        }
        let seq = db.lastInsertedRowID
        switch change {
        case let .approve(request, bytes, sequence, publication):
            try upsertMeeting(request, bytes: bytes, decision: decision, sequence: sequence, decidedAt: decidedAt, seq: seq,
                              publication: publication, in: db)
        case let .withdraw(publication):
            // Before the status changes: the rows are found through the approved meeting.
            try deleteAttendeeRows(ofMeeting: decision.requestID ?? "", in: db)
            try db.cachedStatement(sql: """
                UPDATE meeting SET status = 'withdrawn', sequence = ?, decided_at = ?, decision_seq = ?, vevent = ? WHERE id = ?
                """).execute(arguments: [decision.sequence, decidedAt.timeIntervalSince1970, seq, publication.vevent, decision.requestID])
        case .none:
            break
        }
        return RecordedDecision(sequenceNumber: seq, input: input, decision: decision, decidedAt: decidedAt,
                                destination: outcome.destination, touchedFeeds: touched)
    }

    private static func feedKeys(ofMeeting id: String, in db: Database) throws -> [String] {
        let keys = try String.fetchOne(db.cachedStatement(sql: "SELECT feed_keys FROM meeting WHERE id = ?"), arguments: [id]) ?? ""
        return keys.split(separator: "\n").map(String.init)
    }

    /// Removes a meeting's attendee rows by their full keys, read from its meeting row: the table is keyed for
    /// the rules' counts, and a delete by meeting id alone would scan all of it (measured: it doubled the CPU
    /// of a 20,000-request drain). A meeting approved for the first time has none.
    private static func deleteAttendeeRows(ofMeeting id: String, in db: Database) throws {
        guard let row = try Row.fetchOne(db.cachedStatement(sql: """
            SELECT attendee_units, organizer_unit, kind, local_date FROM meeting WHERE id = ? AND status = 'approved' AND exempt = 0
            """), arguments: [id]) else { return }
        let units: String = row[0]
        for unit in Set(try JSONDecoder().decode([String].self, from: Data(units.utf8))) {
            try db.cachedStatement(sql: """
                DELETE FROM meeting_attendee WHERE unit = ? AND organizer_unit = ? AND kind = ? AND local_date = ? AND meeting_id = ?
                """).execute(arguments: [unit, row[1], row[2], row[3], id])
        }
    }

    private static func upsertMeeting(_ request: MeetingRequest, bytes: [UInt8], decision: Decision, sequence: Int,
                                      decidedAt: Date, seq: Int64, publication: Publication, in db: Database) throws {
        let record = MeetingRecord(request)
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let units = String(decoding: try encoder.encode(record.attendeeUnits), as: UTF8.self)
        try db.cachedStatement(sql: "DELETE FROM meeting_principal_region WHERE meeting_id = ?").execute(arguments: [record.id])
        try deleteAttendeeRows(ofMeeting: record.id, in: db)
        if !record.exempt {
            for unit in Set(record.attendeeUnits) {
                try db.cachedStatement(sql: """
                    INSERT INTO meeting_attendee (unit, organizer_unit, kind, local_date, meeting_id) VALUES (?, ?, ?, ?, ?)
                    """).execute(arguments: [unit, record.organizerUnit, record.kind.rawValue, record.localStartDate.description, record.id])
            }
        }
        try db.cachedStatement(sql: """
            INSERT OR REPLACE INTO meeting (id, revision, status, sequence, kind, title, organizer_unit, organizer_level,
                organizer_type, organizer_system, organizer_region, start_utc, local_date, reaches_grassroots, exempt,
                attendee_units, request_bytes, settings_version, decided_at, decision_seq, vevent, tzid, end_utc,
                feed_keys)
            VALUES (?, ?, 'approved', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """).execute(arguments: [
                record.id, record.revision, sequence, record.kind.rawValue, record.title, record.organizerUnit,
                record.organizerLevel.rawValue, record.organizerType.rawValue, record.organizerSystem, record.organizerRegion,
                record.start.timeIntervalSince1970, record.localStartDate.description, record.reachesGrassroots, record.exempt,
                units, Data(bytes), decision.settingsVersion, decidedAt.timeIntervalSince1970, seq,
                publication.vevent, publication.timeZone, publication.end.timeIntervalSince1970,
                Set(publication.feedKeys).sorted().joined(separator: "\n"),
            ])
        for key in Set(publication.feedKeys) {
            try db.cachedStatement(sql: "INSERT OR IGNORE INTO feed (key) VALUES (?)").execute(arguments: [key])
        }
        for region in record.grassrootsPrincipalRegions {
            try db.cachedStatement(sql: "INSERT INTO meeting_principal_region (meeting_id, region, local_date) VALUES (?, ?, ?)").execute(
                           arguments: [record.id, region, record.localStartDate.description])
        }
    }
}

/// The ledger as seen inside one transaction.
struct SQLiteDecisionState: DecisionState {
    let db: Database

    /// How `query` is read: from the narrowest index for it, with the expressions that name a matching
    /// meeting's id and local date there, and whether one meeting can match more than once (several units).
    private struct Plan {
        var from: String
        var conditions: [String] = []
        var arguments: StatementArguments = []
        var id: String
        var date: String
        var distinct = false

        var whereClause: String { conditions.joined(separator: " AND ") }

        mutating func add(_ condition: String, _ values: [any DatabaseValueConvertible]) {
            conditions.append(condition)
            _ = arguments.append(contentsOf: StatementArguments(values))
        }

        static func placeholders(_ count: Int) -> String { Array(repeating: "?", count: count).joined(separator: ",") }
    }

    private func plan(_ query: MeetingQuery) -> Plan {
        let dates: [any DatabaseValueConvertible] = [query.startDates.lowerBound.description, query.startDates.upperBound.description]
        var plan: Plan
        var meetingConditionsDone = false
        if let units = query.sharingAttendeeUnits {
            // Driven by the attendee rows: one index range per unit, already limited to approved, counted meetings.
            plan = Plan(from: "meeting_attendee a", id: "a.meeting_id", date: "a.local_date", distinct: units.count > 1)
            plan.add("a.unit IN (\(Plan.placeholders(units.count)))", units.sorted())
            if let unit = query.organizerUnit { plan.add("a.organizer_unit = ?", [unit]) }
            if let kinds = query.kinds { plan.add("a.kind IN (\(Plan.placeholders(kinds.count)))", kinds.map(\.rawValue).sorted()) }
            plan.add("a.local_date BETWEEN ? AND ?", dates)
            if let excluded = query.excludingID { plan.add("a.meeting_id <> ?", [excluded]) }
            let needsMeeting = query.organizerRegion != nil || query.organizerSystem != nil || query.organizerLevels != nil
                || query.grassrootsPrincipalRegion != nil
            if !needsMeeting { return plan }
            plan.from += " CROSS JOIN meeting m ON m.id = a.meeting_id"
            meetingConditionsDone = true  // unit, kinds, dates and status are settled by the attendee rows
        } else if let region = query.grassrootsPrincipalRegion {
            // Driven by the principal table: a region's few rows, not every meeting in the date range.
            plan = Plan(from: "meeting_principal_region p CROSS JOIN meeting m ON m.id = p.meeting_id", id: "m.id", date: "m.local_date")
            plan.add("p.region = ?", [region])
            plan.add("p.local_date BETWEEN ? AND ?", dates)
        } else {
            plan = Plan(from: "meeting m", id: "m.id", date: "m.local_date")
        }
        if !meetingConditionsDone {
            plan.conditions += ["m.status = 'approved'", "m.exempt = 0"]
            plan.add("m.local_date BETWEEN ? AND ?", dates)
            // Kinds are written into the SQL (they are the catalogue's words, not input), so that SQLite can
            // use the partial indexes on comprehensive meetings.
            // (`kind = 'x'`, not `kind IN ('x')`: SQLite matches a partial index's condition only in that form.)
            if let kinds = query.kinds {
                let words = kinds.map { "'\($0.rawValue)'" }.sorted()
                plan.conditions.append(words.count == 1 ? "m.kind = \(words[0])" : "m.kind IN (\(words.joined(separator: ",")))")
            }
            if let unit = query.organizerUnit { plan.add("m.organizer_unit = ?", [unit]) }
            if let excluded = query.excludingID { plan.add("m.id <> ?", [excluded]) }
        } else if let region = query.grassrootsPrincipalRegion {
            plan.add("EXISTS (SELECT 1 FROM meeting_principal_region p WHERE p.meeting_id = m.id AND p.region = ?)", [region])
        }
        if let region = query.organizerRegion { plan.add("m.organizer_region = ?", [region]) }
        if let system = query.organizerSystem { plan.add("m.organizer_system = ?", [system]) }
        if let levels = query.organizerLevels {
            plan.add("m.organizer_level IN (\(Plan.placeholders(levels.count)))", levels.map(\.rawValue).sorted())
        }
        return plan
    }

    private func countSQL(_ plan: Plan) -> String {
        "SELECT \(plan.distinct ? "COUNT(DISTINCT \(plan.id))" : "COUNT(*)") FROM \(plan.from) WHERE \(plan.whereClause)"
    }

    func countApproved(matching query: MeetingQuery) throws -> Int {
        let plan = plan(query)
        // A query has one of a few shapes, so its compiled statement is cached.
        return try Int.fetchOne(db.cachedStatement(sql: countSQL(plan)), arguments: plan.arguments) ?? 0
    }

    func plan(countOf query: MeetingQuery) throws -> [String] {
        let plan = plan(query)
        return try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + countSQL(plan), arguments: plan.arguments).map { $0["detail"] }
    }

    func approvedStartDates(matching query: MeetingQuery) throws -> [LocalDate] {
        let plan = plan(query)
        let sql = "SELECT \(plan.distinct ? "DISTINCT " : "")\(plan.id), \(plan.date) FROM \(plan.from) WHERE \(plan.whereClause) "
            + "ORDER BY \(plan.date), \(plan.id)"
        return try Row.fetchAll(db.cachedStatement(sql: sql), arguments: plan.arguments).map { row in
            let text: String = row[1]
            guard let date = LocalDate(text) else { throw LedgerError.corrupt("local_date = \(text)") }
            return date
        }
    }

    func approvedMeetings(matching query: MeetingQuery, limit: Int?) throws -> [MeetingRecord] {
        var plan = plan(query)
        var sql = "SELECT \(plan.distinct ? "DISTINCT " : "")\(plan.id), \(plan.date) FROM \(plan.from) WHERE \(plan.whereClause) "
            + "ORDER BY \(plan.date), \(plan.id)"
        if let limit {
            sql += " LIMIT ?"
            _ = plan.arguments.append(contentsOf: [limit])
        }
        let ids = try String.fetchAll(db.cachedStatement(sql: sql), arguments: plan.arguments)
        return try ids.map { id in
            guard let record = try meetingRecord(id: id, approvedOnly: false) else { throw LedgerError.corrupt("meeting \(id) vanished") }
            return record
        }
    }

    func approvedMeeting(id: String) throws -> MeetingRecord? { try meetingRecord(id: id, approvedOnly: true) }

    /// One meeting as the rules know it, exactly as `MeetingRecord(request)` made it when it was approved.
    private func meetingRecord(id: String, approvedOnly: Bool) throws -> MeetingRecord? {
        guard let row = try Row.fetchOne(db.cachedStatement(sql: """
            SELECT id, revision, title, kind, organizer_unit, organizer_level, organizer_type, organizer_system, organizer_region,
                   start_utc, local_date, reaches_grassroots, attendee_units, exempt, status FROM meeting WHERE id = ?
            """), arguments: [id]), !approvedOnly || row["status"] == "approved" else { return nil }
        var record = try Self.meetingRecord(row)
        record.grassrootsPrincipalRegions = try String.fetchAll(db.cachedStatement(sql: """
            SELECT region FROM meeting_principal_region WHERE meeting_id = ? ORDER BY rowid
            """), arguments: [id])
        return record
    }

    func standing(of id: String) throws -> MeetingStanding {
        let meeting = try Row.fetchOne(db.cachedStatement(sql: "SELECT revision, status, sequence FROM meeting WHERE id = ?"), arguments: [id])
        let highest = try Int.fetchOne(db.cachedStatement(sql: """
            SELECT MAX(revision) FROM decision WHERE request_id = ? AND action = 'propose' AND verdict IN ('approved', 'rejected')
                AND verdict IN ('approved', 'rejected', 'withdrawn')
            """), arguments: [id])  // the second IN repeats decision_once's condition, so SQLite may use that index
        return MeetingStanding(
            approvedRevision: meeting.flatMap { $0["status"] == "approved" ? $0["revision"] : nil },
            lastSequence: meeting?["sequence"], highestDecidedRevision: highest)
    }

    static func meetingRecord(_ row: Row) throws -> MeetingRecord {
        func decode<E: RawRepresentable>(_ type: E.Type, _ column: String) throws -> E where E.RawValue == String {
            let text: String = row[column]
            guard let value = E(rawValue: text) else { throw LedgerError.corrupt("\(column) = \(text)") }
            return value
        }
        let unitsJSON: String = row["attendee_units"]
        let localDate: String = row["local_date"]
        guard let date = LocalDate(localDate) else { throw LedgerError.corrupt("local_date = \(localDate)") }
        return MeetingRecord(
            id: row["id"], revision: row["revision"], title: row["title"], kind: try decode(MeetingKind.self, "kind"),
            organizerUnit: row["organizer_unit"], organizerLevel: try decode(Level.self, "organizer_level"),
            organizerType: try decode(OrganizerType.self, "organizer_type"), organizerSystem: row["organizer_system"],
            organizerRegion: row["organizer_region"], start: Date(timeIntervalSince1970: row["start_utc"]),
            localStartDate: date, reachesGrassroots: row["reaches_grassroots"],
            attendeeUnits: try JSONDecoder().decode([String].self, from: Data(unitsJSON.utf8)),
            grassrootsPrincipalRegions: [], exempt: row["exempt"])
    }
}

/// Carries a non-Sendable closure or value across GRDB's `@Sendable` boundary. Safe here because
/// GRDB runs the closure synchronously on the calling thread's behalf and returns before we continue.
struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

/// The connection of the transaction in progress, if any (used from the deciding thread only).
final class BatchSlot: @unchecked Sendable {
    private let lock = NSLock()
    private var current: Database?

    var database: Database? {
        get { lock.withLock { current } }
        set { lock.withLock { current = newValue } }
    }
}
