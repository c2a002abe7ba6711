import Foundation
import MeetingLedger

/// `meetingd ledger copy`: an embedded SQLite ledger into an empty PostgreSQL one — every decision with its
/// number, node and request bytes, and every meeting with the rows it is counted by — in one transaction, so
/// that history and caps carry over, or nothing is copied.
public enum LedgerCopy {
    /// A table and its columns as both backends name them, each with the type PostgreSQL binds it as.
    struct Table {
        enum Kind { case text, integer, real, bytes }
        let name: String
        let columns: [(name: String, kind: Kind)]
        let order: String
        /// The SQLite expression of a column PostgreSQL keeps under another name (`position` ← `rowid`).
        var sourceColumns: [String] { columns.map { $0.name == "position" ? "rowid" : $0.name } }
    }

    static let tables: [Table] = [
        Table(name: "decision", columns: [
            ("seq", .integer), ("node", .text), ("input_name", .text), ("input_digest", .text), ("request_id", .text), ("revision", .integer),
            ("action", .text), ("verdict", .text), ("decided_at", .real), ("destination", .text), ("decision_json", .text),
            ("touched_feeds", .text), ("request_bytes", .bytes), ("title", .text), ("kind", .text), ("organizer_unit", .text),
            ("organizer_region", .text), ("local_date", .text), ("last_date", .text), ("year", .integer),
        ], order: "seq"),
        Table(name: "decision_unit", columns: [("unit", .text), ("seq", .integer)], order: "unit, seq"),
        Table(name: "decision_rule", columns: [("rule", .text), ("seq", .integer)], order: "rule, seq"),
        Table(name: "meeting", columns: [
            ("id", .text), ("revision", .integer), ("status", .text), ("sequence", .integer), ("kind", .text), ("title", .text),
            ("organizer_unit", .text), ("organizer_level", .text), ("organizer_type", .text), ("organizer_system", .text),
            ("organizer_region", .text), ("start_utc", .real), ("local_date", .text), ("reaches_grassroots", .integer), ("exempt", .integer),
            ("attendee_units", .text), ("settings_version", .text), ("decided_at", .real), ("decision_seq", .integer), ("vevent", .text),
            ("tzid", .text), ("end_utc", .real), ("feed_keys", .text), ("occurrence_dates", .text),
        ], order: "id"),
        Table(name: "occurrence", columns: [
            ("organizer_unit", .text), ("kind", .text), ("local_date", .text), ("meeting_id", .text), ("n", .integer), ("start_utc", .real),
            ("organizer_level", .text), ("organizer_region", .text), ("organizer_system", .text),
        ], order: "meeting_id, n"),
        Table(name: "meeting_attendee", columns: [
            ("unit", .text), ("organizer_unit", .text), ("kind", .text), ("local_date", .text), ("meeting_id", .text), ("n", .integer),
        ], order: "meeting_id, n, unit"),
        // A meeting's principal regions keep their order: SQLite's by rowid, PostgreSQL's by position.
        Table(name: "meeting_principal_region", columns: [
            ("meeting_id", .text), ("n", .integer), ("region", .text), ("local_date", .text), ("position", .integer),
        ], order: "rowid"),
        Table(name: "feed", columns: [("key", .text)], order: "key"),
    ]

    /// The tables copied, in order.
    public static var tableNames: [String] { tables.map(\.name) }

    public struct Copied: Sendable {
        public var rows: [String: Int] = [:]
    }

    /// Copies `source` into the PostgreSQL ledger at `url`; decisions recorded before the ledger kept nodes
    /// (an empty `node`) are recorded as `node`'s. Refuses a target that holds any decision or meeting.
    public static func copy(from source: SQLiteLedger, to url: String, node: String) throws -> Copied {
        let target = try PostgresLedger(url: url, node: node)
        // One snapshot of the source, one transaction of the target.
        return try source.snapshot { try target.exclusiveTransaction { session in
            let occupied = try session.rows("SELECT (SELECT COUNT(*) FROM decision) + (SELECT COUNT(*) FROM meeting)")[0].integer(0)
            guard occupied == 0 else {
                throw LedgerError.unavailable("\(target.location) already holds \(occupied) decisions and meetings; ledger copy fills only an empty ledger")
            }
            var copied = Copied()
            for table in tables {
                var batch: [[SQLValue]] = []
                func flush() throws {
                    guard !batch.isEmpty else { return }
                    try insert(batch, into: table, session)
                    copied.rows[table.name, default: 0] += batch.count
                    batch.removeAll(keepingCapacity: true)
                }
                try source.rows(of: table.name, columns: table.sourceColumns, order: table.order) { cells in
                    batch.append(try zip(cells, table.columns).map { cell, column in
                        try value(cell, as: column.kind, column: "\(table.name).\(column.name)",
                                  emptyAs: column.name == "node" && table.name == "decision" ? node : nil)
                    })
                    if batch.count == 500 { try flush() }
                }
                try flush()
            }
            // New decisions are numbered after the copied ones.
            try session.execute("SELECT setval(pg_get_serial_sequence('decision', 'seq'), GREATEST((SELECT MAX(seq) FROM decision), 1))")
            return copied
        } }
    }

    private static func insert(_ rows: [[SQLValue]], into table: Table, _ session: PostgresSession) throws {
        let width = table.columns.count
        let tuples = rows.indices.map { row in "(" + (0..<width).map { "$\(row * width + $0 + 1)" }.joined(separator: ", ") + ")" }
        try session.execute("INSERT INTO \(table.name) (\(table.columns.map(\.name).joined(separator: ", "))) VALUES "
                                + tuples.joined(separator: ", "), rows.flatMap { $0 })
    }

    private static func value(_ cell: LedgerCell, as kind: Table.Kind, column: String, emptyAs replacement: String?) throws -> SQLValue {
        switch (cell, kind) {
        case (.null, .text): return .text(nil)
        case (.null, .integer): return .integer(nil)
        case (.null, .real): return .real(nil)
        case (.null, .bytes): return .bytes(nil)
        case let (.text(text), .text): return .text(text.isEmpty ? (replacement ?? text) : text)
        case let (.integer(number), .integer): return .integer(Int(number))
        case let (.integer(number), .real): return .real(Double(number))
        case let (.real(number), .real): return .real(number)
        case let (.bytes(bytes), .bytes): return .bytes(bytes)
        case let (.text(text), .bytes): return .bytes(Array(text.utf8))
        default: throw LedgerError.corrupt("\(column) holds \(cell)")
        }
    }
}
