import Foundation
import MeetingLedger

/// Opens the ledger a location names: a `postgresql://` (or `postgres://`) URL is the shared PostgreSQL
/// ledger, anything else a SQLite file. Every command opens its ledger here, so each works on either.
public enum LedgerOpener {
    public static func open(_ location: String, node: String) throws -> any Ledger {
        if PostgresLocation.isURL(location) { return try PostgresLedger(url: location, node: node) }
        return try SQLiteLedger(path: location, node: node)
    }

    /// For reading only (`replay`, `check`): nothing is created, migrated or written.
    public static func openForReading(_ location: String) throws -> any Ledger {
        if PostgresLocation.isURL(location) { return try PostgresLedger(url: location, node: "", readOnly: true) }
        return try SQLiteLedger(readingOnly: location)
    }

    /// Whether the ledger at `location` may not exist yet (a SQLite file not yet made): `check` then decides
    /// against an empty ledger rather than create one.
    public static func isMissing(_ location: String) -> Bool {
        !PostgresLocation.isURL(location) && !FileManager.default.fileExists(atPath: location)
    }

    /// The location as logs may show it: a URL without its password.
    public static func displayName(_ location: String) -> String {
        PostgresLocation.isURL(location) ? ((try? PostgresLocation(url: location).description) ?? PostgresLocation.redacted(location)) : location
    }
}
