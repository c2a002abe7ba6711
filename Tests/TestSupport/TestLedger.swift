import Foundation
import MeetingLedger
import MeetingPostgres

/// The ledger backend the tests run against. `make test` runs the rule-engine and spool tests twice: on
/// SQLite, then with `MEETINGD_TEST_BACKEND=postgresql` and `MEETINGD_TEST_POSTGRES` set to the throwaway
/// cluster it started, where every ledger a test makes is a database of its own on that server.
public enum TestLedger {
    public static var serverURL: String? { ProcessInfo.processInfo.environment["MEETINGD_TEST_POSTGRES"] }

    public static var onPostgres: Bool {
        ProcessInfo.processInfo.environment["MEETINGD_TEST_BACKEND"] == "postgresql" && serverURL != nil
    }

    /// A new empty ledger: SQLite at `sqlitePath`, or a fresh PostgreSQL database.
    public static func make(sqlitePath: String, node: String = "") throws -> any Ledger {
        try LedgerOpener.open(location(sqlitePath: sqlitePath), node: node)
    }

    /// Where a test's ledger lives: `sqlitePath`, or the URL of a fresh database. The same location opened
    /// again (after a "restart") is the same ledger.
    public static func location(sqlitePath: String) throws -> String {
        guard onPostgres, let serverURL else { return sqlitePath }
        if let known = lock.withLock({ databases[sqlitePath] }) { return known }
        let url = try freshDatabase(on: serverURL)
        lock.withLock { databases[sqlitePath] = url }
        return url
    }

    /// A fresh, empty database on `serverURL`, by URL.
    public static func freshDatabase(on serverURL: String) throws -> String {
        try PostgresLedger.createDatabase(named: "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased(),
                                          onServer: serverURL)
    }

    private static let lock = NSLock()
    nonisolated(unsafe) private static var databases: [String: String] = [:]
}
