import GRDB

/// An error that knows whether trying again can cure it.
public protocol ClassifiedFailure: Error {
    /// True for faults of the machine (a full disk, an I/O error, a busy ledger), which waiting cures; false
    /// for faults of one request or of the code (content, a name, a bug), which repeat on every try.
    var isTransient: Bool { get }
}

public enum Failure {
    /// Whether a failure is worth retrying. SQLite's busy, locked, I/O, full-disk and out-of-memory results
    /// are; an error of unknown kind is not, so that one request's fault can never hold up the queue forever.
    public static func isTransient(_ error: any Error) -> Bool {
        if let classified = error as? any ClassifiedFailure { return classified.isTransient }
        if let database = error as? DatabaseError {
            return [.SQLITE_BUSY, .SQLITE_LOCKED, .SQLITE_IOERR, .SQLITE_FULL, .SQLITE_NOMEM, .SQLITE_CANTOPEN, .SQLITE_PROTOCOL,
                    .SQLITE_READONLY, .SQLITE_INTERRUPT].contains(database.resultCode)
        }
        return false
    }
}
