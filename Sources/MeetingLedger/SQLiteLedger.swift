import Foundation
import GRDB
import GRDBSQLite
import MeetingModel
import MeetingRules

/// The default ledger: one SQLite file in WAL mode. Commits are atomic; they are made durable by the spool's
/// barrier (syncfs) before any request leaves `incoming/`, so `synchronous = NORMAL` suffices and a batch of
/// decisions costs one barrier, not one fsync each.
public final class SQLiteLedger: Ledger {
    /// A `DatabasePool` for a ledger file: one writer, and readers (the feed writer's thread) that run beside it
    /// in WAL mode without a second ledger object; a `DatabaseQueue` for a scratch or read-only ledger.
    private let queue: any DatabaseWriter
    public let path: String
    /// The node whose decisions this ledger records (`node` in the config): kept on every decision row.
    public let node: String
    /// nil for a scratch ledger in memory, which nothing needs to make durable.
    public var localFile: String? { path.isEmpty ? nil : path }
    /// The open connection while `transaction` runs, so calls inside it join the transaction.
    private let batch = BatchSlot()

    public convenience init(path: String, node: String = "") throws { try self.init(path: path, migratingUpTo: nil, node: node) }

    /// Opens a ledger for reading only (`meetingd replay`): nothing is migrated or written, so a replay beside
    /// the running daemon leaves the file as it was. A ledger an older meetingd wrote must first be migrated
    /// by the daemon or a drain; one a newer meetingd wrote is refused.
    public init(readingOnly path: String) throws {
        self.path = path
        node = ""
        rulesOnly = false
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(5)
        // Closing the last connection deletes the WAL file, which a drain may have left behind empty: a reader
        // keeps it then, and lets SQLite remove the one it made itself when there was none.
        let walExisted = FileManager.default.fileExists(atPath: path + "-wal")
        configuration.prepareDatabase { db in
            var persist: Int32 = walExisted ? 1 : 0
            _ = sqlite3_file_control(db.sqliteConnection, "main", SQLITE_FCNTL_PERSIST_WAL, &persist)
        }
        guard FileManager.default.fileExists(atPath: path) else { throw LedgerError.unavailable("\(path): no ledger there") }
        queue = try DatabaseQueue(path: path, configuration: configuration)
        let migrator = Self.migrator
        let (complete, superseded) = try queue.read { db in
            (try migrator.hasCompletedMigrations(db), try migrator.hasBeenSuperseded(db))
        }
        if superseded { throw LedgerError.unavailable("\(path): written by a newer meetingd (its schema has migrations this one does not know)") }
        if !complete {
            throw LedgerError.unavailable("\(path): written by an older meetingd; run `meetingd drain` (or start the daemon) once to bring it up to date")
        }
    }

    /// An empty ledger in memory, for deciding a history again (`meetingd replay`): the same schema and
    /// queries as a ledger file, with nothing written to disk.
    public static func scratch() throws -> SQLiteLedger {
        let ledger = try SQLiteLedger(path: "", migratingUpTo: nil, rulesOnly: true)
        // Indexes that only feeds and crash recovery read: one B-tree insert less per decision and per meeting.
        try ledger.queue.write { db in
            try db.execute(sql: "DROP INDEX decision_by_input; DROP INDEX meeting_by_end")
        }
        return ledger
    }

    /// A scratch ledger keeps only what the rules read — meetings, their counted rows, and the decisions'
    /// ids, revisions and verdicts — never a note, a calendar or a feed: decision rows keep no findings or
    /// request bytes, and no feed is tracked (see docs/performance-history.md).
    private let rulesOnly: Bool

    /// `lastMigration`: stop after that migration (tests build an older ledger with it).
    init(path: String, migratingUpTo lastMigration: String?, rulesOnly: Bool = false, node: String = "") throws {
        self.path = path
        self.node = node
        self.rulesOnly = rulesOnly
        var configuration = Configuration()
        // Another process holding the write lock is waited for, not skipped: SQLite waits up to 5 s, and the
        // daemon keeps the request and retries after that, so a stuck lock never blocks a clean shutdown.
        configuration.busyMode = .timeout(5)
        configuration.prepareDatabase { db in
            // 8 KiB pages for a new ledger (an existing one keeps its size; in WAL mode it cannot change): a
            // meeting row — request bytes and VEVENT, 1.5 to 2 KB — then stays in its page, where with 4 KiB
            // pages SQLite spilled anything over 1,002 bytes into an overflow page of its own and wasted most of
            // it (see docs/performance-history.md). 16 KiB pages saved a little more but wrote twice the WAL
            // per commit. Set here, before the pool turns WAL on and so fixes the size.
            try db.execute(sql: "PRAGMA page_size = 8192")
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            // Statement journals of the per-decision savepoints stay in memory: they are discarded at commit,
            // and as temporary files each would be created, written and unlinked on the decision path.
            try db.execute(sql: "PRAGMA temp_store = MEMORY")
            // Checkpoint every 5,000 pages (40 MB of WAL with 8 KiB pages) rather than SQLite's 1,000: a checkpoint
            // runs on the deciding thread with two fsyncs of its own, and index pages a burst rewrites are copied
            // once, not once per 1,000 pages (see docs/performance-history.md).
            try db.execute(sql: "PRAGMA wal_autocheckpoint = 5000")
        }
        // An empty path is SQLite's private in-memory database, which a pool cannot share between connections.
        queue = path.isEmpty ? try DatabaseQueue(configuration: configuration) : try DatabasePool(path: path, configuration: configuration)
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
        // A recurring series counts once per occurrence: one counted row per occurrence of every approved,
        // counted meeting (a single meeting has one), keyed for the organizer unit's counts so that the table
        // is its own index; the attendee and principal rows carry the occurrence number. Region, system and
        // level are kept only for comprehensive meetings, the only ones counted by them (their partial
        // indexes); the first occurrence's start is the meeting row's. The meeting row keeps what is published
        // once per series, and a series' occurrence dates, by which its rows are found again.
        // (see docs/performance-history.md)
        migrator.registerMigration("v7: one counted row per occurrence") { db in
            try db.execute(sql: """
                CREATE TABLE occurrence (
                    organizer_unit TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    local_date TEXT NOT NULL,
                    meeting_id TEXT NOT NULL,
                    n INTEGER NOT NULL CHECK (n >= 0),
                    start_utc REAL,
                    organizer_level TEXT,
                    organizer_region TEXT,
                    organizer_system TEXT,
                    PRIMARY KEY (organizer_unit, kind, local_date, meeting_id, n)
                ) WITHOUT ROWID;
                INSERT INTO occurrence (organizer_unit, kind, local_date, meeting_id, n, organizer_level, organizer_region, organizer_system)
                    SELECT organizer_unit, kind, local_date, id, 0, organizer_level, organizer_region, organizer_system
                    FROM meeting WHERE status = 'approved' AND exempt = 0 AND kind = 'comprehensive';
                INSERT INTO occurrence (organizer_unit, kind, local_date, meeting_id, n)
                    SELECT organizer_unit, kind, local_date, id, 0 FROM meeting WHERE status = 'approved' AND exempt = 0 AND kind <> 'comprehensive';
                ALTER TABLE meeting ADD COLUMN occurrence_dates TEXT;
                CREATE INDEX occurrence_by_region ON occurrence (organizer_region, local_date) WHERE kind = 'comprehensive';
                CREATE INDEX occurrence_by_system ON occurrence (organizer_region, organizer_system, local_date)
                    WHERE kind = 'comprehensive';
                DROP INDEX meeting_by_region;
                DROP INDEX meeting_by_system;
                DROP INDEX meeting_by_unit;

                CREATE TABLE meeting_attendee_v7 (
                    unit TEXT NOT NULL,
                    organizer_unit TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    local_date TEXT NOT NULL,
                    meeting_id TEXT NOT NULL,
                    n INTEGER NOT NULL,
                    PRIMARY KEY (unit, organizer_unit, kind, local_date, meeting_id, n)
                ) WITHOUT ROWID;
                INSERT INTO meeting_attendee_v7 SELECT a.unit, a.organizer_unit, a.kind, a.local_date, a.meeting_id, 0 FROM meeting_attendee a
                    JOIN meeting m ON m.id = a.meeting_id AND m.status = 'approved' AND m.exempt = 0;
                DROP TABLE meeting_attendee;
                ALTER TABLE meeting_attendee_v7 RENAME TO meeting_attendee;

                CREATE TABLE meeting_principal_region_v7 (
                    meeting_id TEXT NOT NULL,
                    n INTEGER NOT NULL,
                    region TEXT NOT NULL,
                    local_date TEXT NOT NULL,
                    PRIMARY KEY (meeting_id, n, region)
                );
                INSERT INTO meeting_principal_region_v7 (meeting_id, n, region, local_date)
                    SELECT p.meeting_id, 0, p.region, p.local_date FROM meeting_principal_region p
                    JOIN meeting m ON m.id = p.meeting_id AND m.status = 'approved' ORDER BY p.rowid;
                DROP TABLE meeting_principal_region;
                ALTER TABLE meeting_principal_region_v7 RENAME TO meeting_principal_region;
                CREATE INDEX principal_by_region ON meeting_principal_region (region, local_date);
                """)
        }
        // Replay decides the history again from the request bytes as received: every proposal and withdrawal
        // keeps its bytes in its decision row. An approval's bytes were in its meeting row; they move to the
        // approving decision (the meeting row reads them there), so an approval keeps them once, as before.
        migrator.registerMigration("v8: request bytes in every decision") { db in
            try db.execute(sql: """
                ALTER TABLE decision ADD COLUMN request_bytes BLOB;
                UPDATE decision SET request_bytes = (SELECT m.request_bytes FROM meeting m WHERE m.id = decision.request_id
                    AND m.revision = decision.revision) WHERE action = 'propose' AND verdict = 'approved';
                ALTER TABLE meeting DROP COLUMN request_bytes;
                """)
        }
        // A ledger may be shared (PostgreSQL) or copied there (`meetingd ledger copy`): every decision names
        // the node that made it, and the same id and revision decided elsewhere is reported with it.
        migrator.registerMigration("v9: the node of every decision") { db in
            try db.execute(sql: "ALTER TABLE decision ADD COLUMN node TEXT NOT NULL DEFAULT ''")
        }
        // Reports and the decision browser: what each decision was about, in columns indexed by year and
        // organizer region (a report of one year and region reads that year and region), and the units and
        // rules each decision names (the browser's filters), keyed so that a filter reads its own rows.
        migrator.registerMigration("v10: what each decision was about") { db in
            try db.execute(sql: ReportSQL.subjectColumns(.sqlite).map { "ALTER TABLE decision ADD COLUMN \($0);" }.joined())
            try db.execute(sql: ReportSQL.subjectTables(.sqlite).map { $0 + ";" }.joined())
            // Decisions recorded before: from the request bytes each proposal kept; a withdrawal from the
            // proposal it withdrew.
            let rows = try Row.fetchAll(db, sql: """
                SELECT seq, request_bytes, decision_json FROM decision WHERE action = 'propose' AND request_bytes IS NOT NULL
                """)
            for row in rows {
                let bytes: Data = row[1]
                guard let subject = DecisionSubject.of(requestBytes: [UInt8](bytes)) else { continue }
                let json: String = row[2]
                let body = try? JSONDecoder().decode(DecisionBody.self, from: Data(json.utf8))
                let rules = body.map { DecisionSubject.rules(of: $0.decision(verdict: .rejected, requestID: nil, revision: nil)) } ?? []
                try Self.recordSubject(subject, rules: rules, seq: row[0], in: db)
            }
            try db.execute(sql: ReportSQL.withdrawalSubjectsBackfill)
            try db.execute(sql: ReportSQL.invalidYearsBackfill(.sqlite))
            try db.execute(sql: """
                INSERT OR IGNORE INTO decision_unit (unit, seq)
                    SELECT u.unit, w.seq FROM decision w JOIN decision p ON p.request_id = w.request_id AND p.revision = w.revision
                        AND p.action = 'propose' AND p.verdict = 'approved'
                    JOIN decision_unit u ON u.seq = p.seq WHERE w.action = 'withdraw'
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
        if let db = batch.database, rulesOnly {
            // A scratch ledger's decisions share one transaction without a savepoint each: a savepoint copies
            // every page a decision changes into its journal (see docs/performance-history.md). A decision
            // that fails before writing leaves nothing behind; one that fails while writing leaves the
            // scratch ledger unusable, which its user must treat as the end (`HistoryReplay` stops).
            return try body(db)
        }
        if let db = batch.database {
            // The savepoint's statements are compiled once (GRDB's `inSavepoint` compiles them for every
            // decision, in SQLite's parser: docs/performance-history.md).
            try db.cachedStatement(sql: "SAVEPOINT decision").execute()
            do {
                let result = try body(db)
                try db.cachedStatement(sql: "RELEASE SAVEPOINT decision").execute()
                return result
            } catch {
                try? db.cachedStatement(sql: "ROLLBACK TO SAVEPOINT decision").execute()
                try? db.cachedStatement(sql: "RELEASE SAVEPOINT decision").execute()
                throw error
            }
        }
        return try withoutActuallyEscaping(body) { body in
            let box = UncheckedBox(body)
            // Reads inside (a withdrawal's stored meeting) join this transaction, as inside `transaction`.
            return try queue.write { db in
                batch.database = db
                defer { batch.database = nil }
                return UncheckedBox(try box.value(db))
            }.value
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
            return try Self.record(outcome, input: input, decidedAt: decidedAt, rulesOnly: rulesOnly, node: node, in: db)
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
            // The approving decision holds the assessment and the request's bytes.
            let approval = try Row.fetchOne(db.cachedStatement(sql: """
                SELECT decision_json, request_bytes FROM decision
                WHERE request_id = ? AND revision = ? AND action = 'propose' AND verdict = 'approved'
                """), arguments: [id, revision])
            guard let approval, let bytes = approval[1] as Data? else {
                throw LedgerError.corrupt("meeting \(id) revision \(revision) has no approving decision with its request")
            }
            let json: String = approval[0]
            let body = try JSONDecoder().decode(DecisionBody.self, from: Data(json.utf8))
            return StoredMeeting(
                id: row["id"], revision: revision, withdrawn: row["status"] == "withdrawn", sequence: row["sequence"],
                requestBytes: [UInt8](bytes),
                assessment: try Self.withCountedTitles(body.assessment, in: db),
                settingsVersion: row["settings_version"], decidedAt: Date(timeIntervalSince1970: row["decided_at"]),
                occurrences: body.occurrences)
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

    public func history(_ each: (HistoryEntry) throws -> Void) throws {
        try reading { db in
            let decoder = JSONDecoder()
            let rows = try Row.fetchCursor(db, sql: """
                SELECT seq, input_name, input_digest, request_id, revision, verdict, decided_at, destination, decision_json,
                       request_bytes FROM decision WHERE action IN ('propose', 'withdraw') ORDER BY seq
                """)
            while let row = try rows.next() {
                let verdictText: String = row[5]
                let json: String = row[8]
                guard let verdict = Verdict(rawValue: verdictText) else { throw LedgerError.corrupt("verdict = \(verdictText)") }
                // Only what replay compares is decoded, not every finding's facts.
                let body = try decoder.decode(RecordedVerdicts.self, from: Data(json.utf8))
                try each(HistoryEntry(
                    sequenceNumber: row[0], input: InputIdentity(name: row[1], digest: row[2]), requestID: row[3], revision: row[4],
                    verdict: verdict, violations: RecordedVerdicts.ids(body.assessment.violations), warnings: RecordedVerdicts.ids(body.assessment.warnings),
                    settingsVersion: body.settingsVersion, occurrences: body.occurrences, decidedAt: Date(timeIntervalSince1970: row[6]),
                    destination: row[7],
                    requestBytes: (row[9] as Data?).map { [UInt8]($0) }))
            }
        }
    }

    public func select(_ sql: String, _ values: [LedgerCell]) throws -> [[LedgerCell]] {
        try reading { db in
            try Row.fetchAll(db.cachedStatement(sql: sql), arguments: StatementArguments(values.map(\.databaseValue))).map(Self.cells)
        }
    }

    public func explain(_ sql: String, _ values: [LedgerCell]) throws -> [String] {
        try reading { db in
            try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + sql, arguments: StatementArguments(values.map(\.databaseValue)))
                .map { row in row["detail"] as String? ?? "" }
        }
    }

    private static func cells(_ row: Row) -> [LedgerCell] {
        row.databaseValues.map { value in
            switch value.storage {
            case .null: return .null
            case let .int64(number): return .integer(number)
            case let .double(number): return .real(number)
            case let .string(text): return .text(text)
            case let .blob(data): return .bytes([UInt8](data))
            }
        }
    }

    /// Every row of `table`, `columns` in that order, as stored, in `order` (`meetingd ledger copy`). The
    /// names are meetingd's own, never input.
    public func rows(of table: String, columns: [String], order: String, _ each: ([LedgerCell]) throws -> Void) throws {
        try reading { db in
            let rows = try Row.fetchCursor(db, sql: "SELECT \(columns.joined(separator: ", ")) FROM \(table) ORDER BY \(order)")
            while let row = try rows.next() { try each(Self.cells(row)) }
        }
    }

    public func historyCount() throws -> Int {
        try reading { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM decision WHERE action IN ('propose', 'withdraw')") ?? 0 }
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

    private static func recordedDecision(_ row: Row, in db: Database) throws -> RecordedDecision {
        let json: String = row["decision_json"]
        guard let verdict = Verdict(rawValue: row["verdict"]) else { throw LedgerError.corrupt("verdict = \(String(describing: row["verdict"]))") }
        var body = try JSONDecoder().decode(DecisionBody.self, from: Data(json.utf8))
        body.assessment = try withCountedTitles(body.assessment, in: db)
        return RecordedDecision(
            sequenceNumber: row["seq"], input: InputIdentity(name: row["input_name"], digest: row["input_digest"]),
            decision: body.decision(verdict: verdict, requestID: row["request_id"], revision: row["revision"]),
            decidedAt: Date(timeIntervalSince1970: row["decided_at"]), destination: row["destination"],
            touchedFeeds: try LedgerColumns.touchedFeeds(row["touched_feeds"], meetingFeedKeys: row["meeting_feed_keys"]), node: row["node"])
    }

    public func feedEvents(visibleAfter: Date, cancelledAfter: Date) throws -> FeedEventBatch {
        try reading { db in
            // Shown: approved meetings that end after `visibleAfter`; withdrawn ones withdrawn after `cancelledAfter`.
            FeedEventBatch(events: try Row.fetchAll(db.cachedStatement(sql: """
                SELECT \(Self.feedEventColumns) FROM meeting
                WHERE end_utc > ? AND (status = 'approved' OR decided_at > ?) ORDER BY start_utc, id
                """), arguments: [visibleAfter.timeIntervalSince1970, cancelledAfter.timeIntervalSince1970]).map(Self.feedEvent),
                through: try Self.lastDecision(db))
        }
    }

    public func feedEvents(changedAfter sequenceNumber: Int64) throws -> FeedEventBatch {
        try reading { db in
            FeedEventBatch(events: try Row.fetchAll(db.cachedStatement(sql: """
                SELECT \(Self.feedEventColumns) FROM meeting
                WHERE id IN (SELECT request_id FROM decision WHERE seq > ?) ORDER BY start_utc, id
                """), arguments: [sequenceNumber]).map(Self.feedEvent),
                through: try Self.lastDecision(db))
        }
    }

    private static let feedEventColumns = "id, vevent, tzid, start_utc, end_utc, status, decided_at, feed_keys"

    private static func feedEvent(_ row: Row) -> FeedEvent {
        let keys: String = row[7]
        let status: String = row[5]
        return FeedEvent(id: row[0], vevent: row[1], timeZone: row[2], start: Date(timeIntervalSince1970: row[3]),
                         end: Date(timeIntervalSince1970: row[4]),
                         withdrawnAt: status == "withdrawn" ? Date(timeIntervalSince1970: row[6]) : nil,
                         feedKeys: keys.split(separator: "\n").map(String.init))
    }

    private static func lastDecision(_ db: Database) throws -> Int64 {
        try Int64.fetchOne(db.cachedStatement(sql: "SELECT MAX(seq) FROM decision")) ?? 0
    }

    public func feedKeys() throws -> [String] {
        try reading { db in try String.fetchAll(db.cachedStatement(sql: "SELECT key FROM feed ORDER BY key")) }
    }

    public func feedsTouched(after sequenceNumber: Int64) throws -> (keys: [String], through: Int64) {
        try reading { db in
            let through = try Self.lastDecision(db)
            var keys = Set<String>()
            for row in try Row.fetchAll(db, sql: """
                SELECT d.touched_feeds, m.feed_keys FROM decision d LEFT JOIN meeting m ON m.id = d.request_id
                WHERE d.seq > ? AND d.touched_feeds NOT IN ('', '[]')
                """, arguments: [sequenceNumber]) {
                keys.formUnion(try LedgerColumns.touchedFeeds(row[0], meetingFeedKeys: row[1]))
            }
            return (keys.sorted(), through)
        }
    }

    private static func record(_ outcome: DecisionToRecord, input: InputIdentity, decidedAt: Date, rulesOnly: Bool,
                               node: String, in db: Database) throws -> RecordedDecision {
        let decision = outcome.decision
        let row = try RecordedRow(outcome, rulesOnly: rulesOnly, meetingFeedKeys: { id in try feedKeys(ofMeeting: id, in: db) })
        let (action, change, touched) = (row.action, row.change, row.touched)
        do {
            // The subject is written with the row, not updated after it: one write of the row and its indexes.
            let subject = ReportSQL.insertedSubject(outcome.subject, verdict: decision.verdict, decidedAt: decidedAt, rulesOnly: rulesOnly)
            let bytes = action == "none" || rulesOnly ? nil : outcome.requestBytes.map { Data($0) }
            let arguments: StatementArguments = [input.name, input.digest, decision.requestID, decision.revision, action,
                                                 decision.verdict.rawValue, decidedAt.timeIntervalSince1970, outcome.destination,
                                                 row.decisionJSON, row.storedTouched, bytes, node]
            try db.cachedStatement(sql: """
                INSERT INTO decision (input_name, input_digest, request_id, revision, action, verdict, decided_at, destination,
                                      decision_json, touched_feeds, request_bytes, node, \(ReportSQL.subjectColumnNames))
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """).execute(arguments: arguments + StatementArguments(subject.map(\.databaseValue)))
        } catch let error as DatabaseError where error.extendedResultCode == .SQLITE_CONSTRAINT_UNIQUE {
            throw LedgerError.alreadyDecided(id: decision.requestID ?? "", revision: decision.revision ?? 0, action: action)
        }
        let seq = db.lastInsertedRowID
        if let subject = outcome.subject, !rulesOnly {
            try recordKeys(subject, rules: DecisionSubject.rules(of: decision), seq: seq, in: db)
        }
        switch change {
        case let .approve(request, sequence, publication):
            try upsertMeeting(request, decision: decision, sequence: sequence, decidedAt: decidedAt, seq: seq,
                              publication: publication, in: db)
        case let .withdraw(publication):
            // Before the status changes: the rows are found through the approved meeting.
            try deleteCountedRows(ofMeeting: decision.requestID ?? "", in: db)
            try db.cachedStatement(sql: """
                UPDATE meeting SET status = 'withdrawn', sequence = ?, decided_at = ?, decision_seq = ?, vevent = ? WHERE id = ?
                """).execute(arguments: [decision.sequence, decidedAt.timeIntervalSince1970, seq, publication.vevent, decision.requestID])
        case .none:
            break
        }
        return RecordedDecision(sequenceNumber: seq, input: input, decision: decision, decidedAt: decidedAt,
                                destination: outcome.destination, touchedFeeds: touched, node: node)
    }

    /// A decision's subject columns (migrating a decision recorded before them), and its units' and rules' rows.
    private static func recordSubject(_ subject: DecisionSubject, rules: [String], seq: Int64, in db: Database) throws {
        try db.cachedStatement(sql: ReportSQL.setSubject).execute(arguments: StatementArguments(
            ReportSQL.subjectValues(subject).map { $0.databaseValue } + [seq.databaseValue]))
        try recordKeys(subject, rules: rules, seq: seq, in: db)
    }

    /// The rows of a decision's units and rules: the browser's filters.
    private static func recordKeys(_ subject: DecisionSubject, rules: [String], seq: Int64, in db: Database) throws {
        for unit in subject.units {
            try db.cachedStatement(sql: ReportSQL.insertUnit).execute(arguments: [unit, seq])
        }
        for rule in rules {
            try db.cachedStatement(sql: ReportSQL.insertRule).execute(arguments: [rule, seq])
        }
    }

    private static func feedKeys(ofMeeting id: String, in db: Database) throws -> [String] {
        let keys = try String.fetchOne(db.cachedStatement(sql: "SELECT feed_keys FROM meeting WHERE id = ?"), arguments: [id]) ?? ""
        return keys.split(separator: "\n").map(String.init)
    }

    /// Removes the rows a meeting is counted by — its occurrences, and their attendee and principal rows —
    /// before a revision replaces it or a withdrawal frees its places. Attendee rows are removed by their full
    /// keys, read from the meeting and occurrence rows: that table is keyed for the rules' counts, and a delete
    /// by meeting id alone would scan all of it (see docs/performance-history.md).
    private static func deleteCountedRows(ofMeeting id: String, in db: Database) throws {
        // Only an approved meeting has such rows (its principal rows even when exempt): a new id, the most
        // common case, costs this one lookup.
        guard let row = try Row.fetchOne(db.cachedStatement(sql: """
            SELECT attendee_units, organizer_unit, kind, local_date, occurrence_dates, exempt FROM meeting
            WHERE id = ? AND status = 'approved'
            """), arguments: [id]) else { return }
        try db.cachedStatement(sql: "DELETE FROM meeting_principal_region WHERE meeting_id = ?").execute(arguments: [id])
        let exempt: Bool = row[5]
        guard !exempt else { return }
        let units: String = row[0]
        let organizerUnit: String = row[1]
        let kind: String = row[2]
        let dates = LedgerColumns.occurrenceDates(first: row[3], series: row[4])
        for (n, date) in dates.enumerated() {
            try db.cachedStatement(sql: """
                DELETE FROM occurrence WHERE organizer_unit = ? AND kind = ? AND local_date = ? AND meeting_id = ? AND n = ?
                """).execute(arguments: [organizerUnit, kind, date, id, n])
        }
        for unit in Set(try StringList.decode(units, column: "attendee_units")) {
            for (n, date) in dates.enumerated() {
                try db.cachedStatement(sql: """
                    DELETE FROM meeting_attendee WHERE unit = ? AND organizer_unit = ? AND kind = ? AND local_date = ? AND meeting_id = ?
                        AND n = ?
                    """).execute(arguments: [unit, organizerUnit, kind, date, id, n])
            }
        }
    }

    private static func upsertMeeting(_ request: MeetingRequest, decision: Decision, sequence: Int,
                                      decidedAt: Date, seq: Int64, publication: Publication, in db: Database) throws {
        // Every occurrence is counted on its own (a single meeting is one occurrence). The meeting row holds the
        // first that takes place: a series whose own start is among its exdates begins with its second date.
        let occurrences = MeetingRecord.occurrences(of: request)
        guard let record = occurrences.first else { throw LedgerError.corrupt("meeting \(request.id) has no occurrence") }
        let units = StringList.encode(record.attendeeUnits)
        try deleteCountedRows(ofMeeting: record.id, in: db)
        let comprehensive = record.kind == .comprehensive
        for (n, occurrence) in occurrences.enumerated() {
            let date = occurrence.localStartDate.description
            for region in occurrence.grassrootsPrincipalRegions {
                try db.cachedStatement(sql: "INSERT INTO meeting_principal_region (meeting_id, n, region, local_date) VALUES (?, ?, ?, ?)")
                    .execute(arguments: [record.id, n, region, date])
            }
            guard !record.exempt else { continue }
            try db.cachedStatement(sql: """
                INSERT INTO occurrence (organizer_unit, kind, local_date, meeting_id, n, start_utc, organizer_level, organizer_region,
                                        organizer_system)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """).execute(arguments: [record.organizerUnit, record.kind.rawValue, date, record.id, n,
                                         n == 0 ? nil : occurrence.start.timeIntervalSince1970,
                                         comprehensive ? record.organizerLevel.rawValue : nil, comprehensive ? record.organizerRegion : nil,
                                         comprehensive ? record.organizerSystem : nil])
            for unit in Set(record.attendeeUnits) {
                try db.cachedStatement(sql: """
                    INSERT INTO meeting_attendee (unit, organizer_unit, kind, local_date, meeting_id, n) VALUES (?, ?, ?, ?, ?, ?)
                    """).execute(arguments: [unit, record.organizerUnit, record.kind.rawValue, date, record.id, n])
            }
        }
        try db.cachedStatement(sql: """
            INSERT OR REPLACE INTO meeting (id, revision, status, sequence, kind, title, organizer_unit, organizer_level,
                organizer_type, organizer_system, organizer_region, start_utc, local_date, reaches_grassroots, exempt,
                attendee_units, settings_version, decided_at, decision_seq, vevent, tzid, end_utc,
                feed_keys, occurrence_dates)
            VALUES (?, ?, 'approved', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """).execute(arguments: [
                record.id, record.revision, sequence, record.kind.rawValue, record.title, record.organizerUnit,
                record.organizerLevel.rawValue, record.organizerType.rawValue, record.organizerSystem, record.organizerRegion,
                record.start.timeIntervalSince1970, record.localStartDate.description, record.reachesGrassroots, record.exempt,
                units, decision.settingsVersion, decidedAt.timeIntervalSince1970, seq,
                publication.vevent, publication.timeZone, publication.end.timeIntervalSince1970,
                Set(publication.feedKeys).sorted().joined(separator: "\n"),
                request.recurrence == nil ? nil : occurrences.map(\.localStartDate.description).joined(separator: ","),
            ])
        for key in Set(publication.feedKeys) {
            try db.cachedStatement(sql: "INSERT OR IGNORE INTO feed (key) VALUES (?)").execute(arguments: [key])
        }
    }
}

/// The ledger as seen inside one transaction.
struct SQLiteDecisionState: DecisionState {
    let db: Database

    func countApproved(matching query: MeetingQuery) throws -> Int {
        let plan = CountPlan.plan(query)
        // A query has one of a few shapes, so its compiled statement is cached.
        return try Int.fetchOne(db.cachedStatement(sql: plan.countSQL), arguments: StatementArguments(plan.values)) ?? 0
    }

    func plan(countOf query: MeetingQuery) throws -> [String] {
        let plan = CountPlan.plan(query)
        return try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + plan.countSQL, arguments: StatementArguments(plan.values)).map { $0["detail"] }
    }

    func approvedStartDates(matching query: MeetingQuery) throws -> [LocalDate] {
        let plan = CountPlan.plan(query)
        return try Row.fetchAll(db.cachedStatement(sql: plan.listSQL), arguments: StatementArguments(plan.values)).map { row in
            let text: String = row[2]
            guard let date = LocalDate(text) else { throw LedgerError.corrupt("local_date = \(text)") }
            return date
        }
    }

    func approvedMeetings(matching query: MeetingQuery, limit: Int?) throws -> [MeetingRecord] {
        let plan = CountPlan.plan(query)
        var sql = plan.listSQL
        var arguments = StatementArguments(plan.values)
        if let limit {
            sql += " LIMIT ?"
            _ = arguments.append(contentsOf: [limit])
        }
        return try Row.fetchAll(db.cachedStatement(sql: sql), arguments: arguments).map { row in
            let id: String = row[0]
            let n: Int = row[1]
            guard var record = try meetingRecord(id: id, approvedOnly: false) else { throw LedgerError.corrupt("meeting \(id) vanished") }
            // A later occurrence of a series as the rules counted it: its own start and date (the meeting row
            // holds the first's).
            if n != 0 {
                let text: String = row[2]
                guard let date = LocalDate(text), let start = try Double.fetchOne(db.cachedStatement(sql: """
                    SELECT start_utc FROM occurrence WHERE organizer_unit = ? AND kind = ? AND local_date = ? AND meeting_id = ? AND n = ?
                    """), arguments: [record.organizerUnit, record.kind.rawValue, text, id, n]) else {
                    throw LedgerError.corrupt("occurrence \(n) of \(id) vanished")
                }
                record.start = Date(timeIntervalSince1970: start)
                record.localStartDate = date
            }
            return record
        }
    }

    func countedMeetings(matching query: MeetingQuery, limit: Int) throws -> [CountedMeeting] {
        let plan = CountPlan.plan(query)
        var arguments = StatementArguments(plan.values)
        _ = arguments.append(contentsOf: [limit])
        return try Row.fetchAll(db.cachedStatement(sql: plan.countedSQL), arguments: arguments).map { row in
            let text: String = row[1]
            guard let date = LocalDate(text) else { throw LedgerError.corrupt("local_date = \(text)") }
            return CountedMeeting(id: row[0], date: date, title: row[2])
        }
    }

    func approvedMeeting(id: String) throws -> MeetingRecord? { try meetingRecord(id: id, approvedOnly: true) }

    /// One meeting as the rules know it, exactly as `MeetingRecord(request)` made it when it was approved.
    /// Columns are read by position: GRDB's lookup by name lower-cases every name, which cost more than the
    /// query on the rules' hottest path (a meeting listed by merge-business-meetings or township-leader-load).
    private func meetingRecord(id: String, approvedOnly: Bool) throws -> MeetingRecord? {
        guard let row = try Row.fetchOne(db.cachedStatement(sql: """
            SELECT id, revision, title, kind, organizer_unit, organizer_level, organizer_type, organizer_system, organizer_region,
                   start_utc, local_date, reaches_grassroots, attendee_units, exempt, status FROM meeting WHERE id = ?
            """), arguments: [id]) else { return nil }
        if approvedOnly {
            let status: String = row[14]
            guard status == "approved" else { return nil }
        }
        func decode<E: RawRepresentable>(_ type: E.Type, _ index: Int, _ column: String) throws -> E where E.RawValue == String {
            let text: String = row[index]
            guard let value = E(rawValue: text) else { throw LedgerError.corrupt("\(column) = \(text)") }
            return value
        }
        let localDate: String = row[10]
        guard let date = LocalDate(localDate) else { throw LedgerError.corrupt("local_date = \(localDate)") }
        return MeetingRecord(
            id: row[0], revision: row[1], title: row[2], kind: try decode(MeetingKind.self, 3, "kind"),
            organizerUnit: row[4], organizerLevel: try decode(Level.self, 5, "organizer_level"),
            organizerType: try decode(OrganizerType.self, 6, "organizer_type"), organizerSystem: row[7],
            organizerRegion: row[8], start: Date(timeIntervalSince1970: row[9]),
            localStartDate: date, reachesGrassroots: row[11],
            attendeeUnits: try StringList.decode(row[12], column: "attendee_units"),
            grassrootsPrincipalRegions: try String.fetchAll(db.cachedStatement(sql: """
                SELECT region FROM meeting_principal_region WHERE meeting_id = ? AND n = 0 ORDER BY rowid
                """), arguments: [id]),
            exempt: row[13])
    }

    func standing(of id: String) throws -> MeetingStanding {
        // One statement: the meeting row, if any, and the highest revision decided, by which node and when.
        // (The second IN repeats decision_once's condition, so SQLite may use that index.)
        guard let row = try Row.fetchOne(db.cachedStatement(sql: """
            SELECT m.revision, m.status, m.sequence, d.revision, d.node, d.decided_at FROM (SELECT 1)
            LEFT JOIN meeting m ON m.id = ?1
            LEFT JOIN (SELECT revision, node, decided_at FROM decision WHERE request_id = ?1 AND action = 'propose'
                AND verdict IN ('approved', 'rejected') AND verdict IN ('approved', 'rejected', 'withdrawn')
                ORDER BY revision DESC LIMIT 1) d
            """), arguments: [id]) else { throw LedgerError.corrupt("no standing for \(id)") }
        let status: String? = row[1]
        let decidedAt: Double? = row[5]
        return MeetingStanding(approvedRevision: status == "approved" ? row[0] : nil, lastSequence: row[2], highestDecidedRevision: row[3],
                               highestDecidedBy: row[4], highestDecidedAt: decidedAt.map(Date.init(timeIntervalSince1970:)))
    }
}

/// Carries a non-Sendable closure or value across GRDB's `@Sendable` boundary. Safe here because
/// GRDB runs the closure synchronously on the calling thread's behalf and returns before we continue.
struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

/// The connection of the transaction or snapshot in progress on the calling thread, if any. Owned by the
/// thread that opened it: the feed writer reads the same ledger object on its own thread meanwhile, and must
/// get a reader of its own, never the deciding thread's transaction.
final class BatchSlot: @unchecked Sendable {
    private let lock = NSLock()
    private var current: [pthread_t: Database] = [:]

    var database: Database? {
        get { lock.withLock { current[pthread_self()] } }
        set { lock.withLock { current[pthread_self()] = newValue } }
    }
}

extension LedgerCell {
    var databaseValue: DatabaseValue {
        switch self {
        case .null: return .null
        case let .integer(number): return number.databaseValue
        case let .real(number): return number.databaseValue
        case let .text(text): return text.databaseValue
        case let .bytes(bytes): return Data(bytes).databaseValue
        }
    }
}
