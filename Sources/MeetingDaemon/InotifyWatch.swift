#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// What the kernel says about `incoming/`.
public enum SpoolEvent: Sendable, Equatable {
    /// A name was renamed in or closed after writing: it is complete.
    case completed([UInt8])
    /// A name was written to and is still open.
    case writing([UInt8])
    /// A name appeared without being renamed in, and was not written to yet: a file just created for writing,
    /// or a link or symbolic link made there (which nobody writes or closes).
    case created([UInt8])
    /// A name left (renamed away or deleted).
    case gone([UInt8])
    /// The kernel's queue overflowed: events were lost, so everything must be looked at again.
    case overflow
    /// Time passed (for rescans and retries).
    case tick
}

/// What inotify has said so far about the names in `incoming/`: kept by the thread that reads the events, as it
/// reads them, so that a listing made while events wait in the stream still knows every name renamed in by then.
/// (Kept by the consumer of the stream instead, a request dropped while another was decided stayed unknown until
/// that decision had settled: a backlog was listed, decided and synced one request at a time.)
final class IncomingNames: @unchecked Sendable {
    private let lock = NSLock()
    private var writing = Set<[UInt8]>()
    private var created = Set<[UInt8]>()
    private var completed = Set<[UInt8]>()
    private var completions = 0

    /// Takes `events` in, in order.
    func apply(_ events: [SpoolEvent]) {
        lock.withLock {
            for event in events {
                switch event {
                case let .completed(name):
                    writing.remove(name)
                    created.remove(name)
                    completed.insert(name)
                    completions += 1
                case let .writing(name):
                    created.remove(name)
                    writing.insert(name)
                case let .created(name):
                    created.insert(name)
                case let .gone(name):
                    writing.remove(name)
                    created.remove(name)
                    completed.remove(name)
                case .overflow:
                    // Events were lost: every name is judged by its age again (and none is kept for ever).
                    writing.removeAll()
                    created.removeAll()
                    completed.removeAll()
                case .tick:
                    break
                }
            }
        }
    }

    /// Forgets `name` once its request has left `incoming/` (before the event of that move arrives): a file
    /// written in place under the same name next is never taken for complete on the old one's word.
    func forget(_ name: [UInt8]) {
        _ = lock.withLock { completed.remove(name) }
    }

    /// How many names were announced complete so far: when it has not changed, no request arrived since.
    var completionCount: Int { lock.withLock { completions } }

    /// Names written to and still open, names created and not written to yet, and names complete (renamed in,
    /// or closed after writing).
    var current: (writing: Set<[UInt8]>, created: Set<[UInt8]>, completed: Set<[UInt8]>) {
        lock.withLock { (writing, created, completed) }
    }
}

/// inotify(7) on one folder, read on a thread of its own and delivered as batches on an AsyncStream.
public enum InotifyWatch {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Events in `folder`, one batch per read, and a `.tick` at least every `tick` seconds; each batch is taken
    /// into `names` before it is delivered.
    static func events(in folder: String, tick: Double, names: IncomingNames) throws -> AsyncStream<[SpoolEvent]> {
        let descriptor = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard descriptor >= 0 else { throw Failure(description: "inotify_init1: \(String(cString: strerror(errno)))") }
        let mask = UInt32(IN_MOVED_TO | IN_CLOSE_WRITE | IN_CREATE | IN_MODIFY | IN_MOVED_FROM | IN_DELETE)
        guard inotify_add_watch(descriptor, folder, mask | UInt32(IN_ONLYDIR)) >= 0 else {
            let reason = String(cString: strerror(errno))
            close(descriptor)
            throw Failure(description: "inotify_add_watch \(folder): \(reason)")
        }
        let (stream, continuation) = AsyncStream<[SpoolEvent]>.makeStream(bufferingPolicy: .unbounded)
        let stopped = StopFlag()
        continuation.onTermination = { _ in stopped.stop() }
        let thread = Thread {
            defer { close(descriptor) }
            var buffer = [UInt8](repeating: 0, count: 64 * 1024)
            var lastTick = Date()
            while !stopped.isStopped {
                var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
                let ready = poll(&poller, 1, Int32(min(tick, 0.25) * 1000))
                var batch: [SpoolEvent] = []
                if ready > 0 {
                    let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
                    if count > 0 { batch = parse(buffer[0..<count]) }
                }
                if Date().timeIntervalSince(lastTick) >= tick {
                    lastTick = Date()
                    batch.append(.tick)
                }
                if !batch.isEmpty {
                    names.apply(batch)
                    continuation.yield(batch)
                }
            }
        }
        thread.name = "meetingd-inotify"
        thread.start()
        return stream
    }

    /// Decodes `struct inotify_event` records: wd (4), mask (4), cookie (4), len (4), name (len, NUL-padded).
    static func parse(_ bytes: ArraySlice<UInt8>) -> [SpoolEvent] {
        var events: [SpoolEvent] = []
        var offset = bytes.startIndex
        func word(_ at: Int) -> UInt32 { bytes[at..<at + 4].reversed().reduce(0) { $0 << 8 | UInt32($1) } }
        while offset + 16 <= bytes.endIndex {
            let mask = word(offset + 4)
            let length = Int(word(offset + 12))
            guard offset + 16 + length <= bytes.endIndex else { break }
            let name = Array(bytes[(offset + 16)..<(offset + 16 + length)].prefix { $0 != 0 })
            offset += 16 + length
            if mask & UInt32(IN_Q_OVERFLOW) != 0 { events.append(.overflow); continue }
            if mask & UInt32(IN_MOVED_TO | IN_CLOSE_WRITE) != 0 { events.append(.completed(name)) }
            else if mask & UInt32(IN_MODIFY) != 0 { events.append(.writing(name)) }
            else if mask & UInt32(IN_CREATE) != 0 { events.append(.created(name)) }
            else if mask & UInt32(IN_MOVED_FROM | IN_DELETE) != 0 { events.append(.gone(name)) }
        }
        return events
    }
}

final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var stopped = false

    func stop() { lock.withLock { stopped = true } }
    var isStopped: Bool { lock.withLock { stopped } }
}
