#if canImport(Glibc)
import Glibc
#endif
import Foundation
import MeetingModel

/// `log/decisions.jsonl`: one JSON line per decision, appended (synced by the spool's barrier, or by `sync()`).
/// Each line carries the ledger's decision number (`seq`), so after a crash a decision whose line was already written is not logged twice, and one
/// whose line was not is logged even when newer decisions were logged first.
public final class DecisionLog: @unchecked Sendable {
    private let descriptor: Int32
    private let path: String
    /// The decision number of the last complete line.
    public private(set) var lastLoggedSequence: Int64 = 0

    public init(spool: SpoolDirectory) throws {
        descriptor = try spool.openFile(.log, SpoolNames.decisionLog, flags: O_RDWR | O_CREAT | O_APPEND)
        path = spool.path(.log, SpoolNames.decisionLog)
        try recoverTail()
    }

    deinit { close(descriptor) }

    /// Drops a torn last line (a crash in the middle of a write) and reads the decision numbers of the lines
    /// in the last megabyte: a decision finished after a crash may be older than the last one logged.
    private func recoverTail() throws {
        let size = lseek(descriptor, 0, SEEK_END)
        guard size > 0 else { return }
        let window = min(Int(size), 1 << 20)
        var tail = [UInt8](repeating: 0, count: window)
        let count = tail.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, window, off_t(Int(size) - window)) }
        guard count == window else { throw SpoolError("cannot read the decision log") }
        var end = window
        if tail.last != UInt8(ascii: "\n") {
            let lastNewline = tail.lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? 0
            guard ftruncate(descriptor, off_t(Int(size) - window + lastNewline)) == 0, fsync(descriptor) == 0 else {
                throw SpoolError("cannot repair the decision log")
            }
            end = lastNewline
        }
        // The first line of the window may be cut; the rest are whole.
        var lines = tail[..<end].split(separator: UInt8(ascii: "\n"))
        if window < Int(size), !lines.isEmpty { lines.removeFirst() }
        for line in lines {
            guard let value = try? JSONReader.parse(Array(line)), case let .integer(seq)? = value["seq"] else { continue }
            remember(Int64(seq))
        }
        oldestRemembered = logged.min() ?? 0
    }

    /// Decision numbers logged in the recovered window and by this process (the most recent 100,000).
    private var logged = Set<Int64>()
    /// Below this, a decision is taken as logged: it is older than anything a crash can have left unlogged.
    private var oldestRemembered: Int64 = 0

    private func remember(_ sequenceNumber: Int64) {
        logged.insert(sequenceNumber)
        lastLoggedSequence = max(lastLoggedSequence, sequenceNumber)
        if logged.count > 100_000 {
            oldestRemembered = lastLoggedSequence - 50_000
            logged = logged.filter { $0 >= oldestRemembered }
        }
    }

    /// Makes every line appended so far durable (the log's own data and size; nothing else on the disk).
    public func sync() throws {
        guard fdatasync(descriptor) == 0 else { throw SpoolError("cannot sync", path) }
    }

    /// Appends `line` for decision `sequenceNumber` unless that decision is already in the log. The line
    /// reaches the disk with the spool's next barrier, or with `sync()`.
    public func append(_ line: JSONValue, sequenceNumber: Int64) throws {
        guard !logged.contains(sequenceNumber), sequenceNumber >= oldestRemembered else { return }
        let bytes = Array((line.serialized + "\n").utf8)
        let sizeBefore = lseek(descriptor, 0, SEEK_END)
        var written = 0
        while written < bytes.count {
            let count = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress! + written, $0.count - written) }
            if count < 0 {
                if errno == EINTR { continue }
                let error = SpoolError("cannot append to", "log/\(SpoolNames.decisionLog)")
                // A full disk can leave half a line: cut it off so the next append starts a clean line.
                _ = ftruncate(descriptor, sizeBefore)
                throw error
            }
            written += count
        }
        remember(sequenceNumber)
    }
}
