import Foundation
import MeetingLedger

/// The shared ledger's schema: the tables and indexes of the SQLite ledger at its v9, so that the rules'
/// statements (`CountPlan`) are the same on both, created and migrated by meetingd through named, versioned
/// migrations. Text that is compared or ordered is `COLLATE "C"`: byte order, as SQLite compares, whatever
/// the database's locale — a finding lists the same meetings in the same order on either backend.
enum PostgresSchema {
    struct Migration: Sendable {
        let name: String
        let statements: [String]
        /// Rows the statements cannot fill by themselves, filled in the migration's transaction.
        var backfill: (@Sendable (PostgresSession) throws -> Void)? = nil
    }

    static let migrations: [Migration] = [
        Migration(name: "v1: the shared ledger", statements: [
            """
            CREATE TABLE decision (
                seq BIGSERIAL PRIMARY KEY,
                node TEXT COLLATE "C" NOT NULL,
                input_name TEXT COLLATE "C" NOT NULL,
                input_digest TEXT COLLATE "C" NOT NULL,
                request_id TEXT COLLATE "C",
                revision INTEGER,
                action TEXT NOT NULL CHECK (action IN ('propose', 'withdraw', 'none')),
                verdict TEXT NOT NULL CHECK (verdict IN ('approved', 'rejected', 'invalid', 'withdrawn')),
                decided_at DOUBLE PRECISION NOT NULL,
                destination TEXT NOT NULL,
                decision_json TEXT NOT NULL,
                touched_feeds TEXT NOT NULL DEFAULT '[]',
                request_bytes BYTEA
            )
            """,
            // An id and revision is decided once, on one node: the first commit wins.
            """
            CREATE UNIQUE INDEX decision_once ON decision (request_id, revision, action)
                WHERE verdict IN ('approved', 'rejected', 'withdrawn')
            """,
            // A node finds its own interrupted work by its input file (another office may hold a file of the same name).
            "CREATE INDEX decision_by_input ON decision (node, input_name, input_digest)",
            """
            CREATE TABLE meeting (
                id TEXT COLLATE "C" PRIMARY KEY,
                revision INTEGER NOT NULL CHECK (revision >= 1),
                status TEXT NOT NULL CHECK (status IN ('approved', 'withdrawn')),
                sequence INTEGER NOT NULL CHECK (sequence >= 0),
                kind TEXT COLLATE "C" NOT NULL,
                title TEXT NOT NULL,
                organizer_unit TEXT COLLATE "C" NOT NULL,
                organizer_level TEXT COLLATE "C" NOT NULL,
                organizer_type TEXT NOT NULL,
                organizer_system TEXT COLLATE "C",
                organizer_region TEXT COLLATE "C" NOT NULL,
                start_utc DOUBLE PRECISION NOT NULL,
                local_date TEXT COLLATE "C" NOT NULL,
                reaches_grassroots INTEGER NOT NULL,
                exempt INTEGER NOT NULL,
                attendee_units TEXT NOT NULL,
                settings_version TEXT NOT NULL,
                decided_at DOUBLE PRECISION NOT NULL,
                decision_seq BIGINT NOT NULL REFERENCES decision (seq),
                vevent TEXT NOT NULL,
                tzid TEXT NOT NULL,
                end_utc DOUBLE PRECISION NOT NULL,
                feed_keys TEXT NOT NULL DEFAULT '',
                occurrence_dates TEXT
            )
            """,
            "CREATE INDEX meeting_by_end ON meeting (end_utc)",
            """
            CREATE TABLE occurrence (
                organizer_unit TEXT COLLATE "C" NOT NULL,
                kind TEXT COLLATE "C" NOT NULL,
                local_date TEXT COLLATE "C" NOT NULL,
                meeting_id TEXT COLLATE "C" NOT NULL,
                n INTEGER NOT NULL CHECK (n >= 0),
                start_utc DOUBLE PRECISION,
                organizer_level TEXT COLLATE "C",
                organizer_region TEXT COLLATE "C",
                organizer_system TEXT COLLATE "C",
                PRIMARY KEY (organizer_unit, kind, local_date, meeting_id, n)
            )
            """,
            "CREATE INDEX occurrence_by_region ON occurrence (organizer_region, local_date) WHERE kind = 'comprehensive'",
            """
            CREATE INDEX occurrence_by_system ON occurrence (organizer_region, organizer_system, local_date)
                WHERE kind = 'comprehensive'
            """,
            "CREATE INDEX occurrence_by_meeting ON occurrence (meeting_id)",
            """
            CREATE TABLE meeting_attendee (
                unit TEXT COLLATE "C" NOT NULL,
                organizer_unit TEXT COLLATE "C" NOT NULL,
                kind TEXT COLLATE "C" NOT NULL,
                local_date TEXT COLLATE "C" NOT NULL,
                meeting_id TEXT COLLATE "C" NOT NULL,
                n INTEGER NOT NULL,
                PRIMARY KEY (unit, organizer_unit, kind, local_date, meeting_id, n)
            )
            """,
            "CREATE INDEX attendee_by_meeting ON meeting_attendee (meeting_id)",
            """
            CREATE TABLE meeting_principal_region (
                meeting_id TEXT COLLATE "C" NOT NULL,
                n INTEGER NOT NULL,
                region TEXT COLLATE "C" NOT NULL,
                local_date TEXT COLLATE "C" NOT NULL,
                position INTEGER NOT NULL,
                PRIMARY KEY (meeting_id, n, region)
            )
            """,
            "CREATE INDEX principal_by_region ON meeting_principal_region (region, local_date)",
            "CREATE TABLE feed (key TEXT COLLATE \"C\" PRIMARY KEY)",
        ]),
        // Reports and the decision browser (the SQLite ledger's v10): what each decision was about.
        Migration(
            name: "v2: what each decision was about",
            statements: ReportSQL.subjectColumns(.postgresql).map { "ALTER TABLE decision ADD COLUMN \($0)" }
                + ReportSQL.subjectTables(.postgresql),
            backfill: { session in
                // In pages of a thousand: a ledger's whole history need not fit in memory, nor one statement's time.
                var after = 0
                while true {
                    let rows = try session.rows("""
                        SELECT seq, request_bytes, decision_json FROM decision WHERE action = 'propose' AND request_bytes IS NOT NULL
                            AND seq > $1 ORDER BY seq LIMIT 1000
                        """, [.integer(after)])
                    for row in rows {
                        after = try row.integer(0)
                        guard let bytes = try row.optionalBytes(1), let subject = DecisionSubject.of(requestBytes: bytes) else { continue }
                        let body = try? JSONDecoder().decode(DecisionBody.self, from: Data(try row.text(2).utf8))
                        let rules = body.map { DecisionSubject.rules(of: $0.decision(verdict: .rejected, requestID: nil, revision: nil)) } ?? []
                        try PostgresLedger.recordSubject(subject, rules: rules, seq: Int64(after), session)
                    }
                    if rows.count < 1000 { break }
                }
                try session.execute(ReportSQL.withdrawalSubjectsBackfill)
                try session.execute(ReportSQL.invalidYearsBackfill(.postgresql))
                try session.execute("""
                    INSERT INTO decision_unit (unit, seq)
                        SELECT u.unit, w.seq FROM decision w JOIN decision p ON p.request_id = w.request_id AND p.revision = w.revision
                            AND p.action = 'propose' AND p.verdict = 'approved'
                        JOIN decision_unit u ON u.seq = p.seq WHERE w.action = 'withdraw'
                    ON CONFLICT DO NOTHING
                    """)
            }),
    ]

    /// The channel every commit of a decision notifies, with its decision number: the other nodes' feeds.
    static let channel = "meetingd_decision"
}
