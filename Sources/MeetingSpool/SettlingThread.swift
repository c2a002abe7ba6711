import Foundation

/// Settles one group at a time on a thread of its own — writes its outputs and log lines, waits for the
/// barrier, moves its requests — so that the file work and the wait for the disk overlap deciding the next
/// group instead of following it. A group is handed over only after the previous one has settled: requests
/// still leave `incoming/` in order, each after a barrier that began after its own outputs and log line
/// were written (or after those files were synced themselves: `DecisionPipeline.syncsOwnFiles(groupOf:)`).
final class SettlingThread: @unchecked Sendable {
    private let queue = DispatchQueue(label: "meetingd.settle", qos: .userInitiated)
    /// 1 while no group is settling.
    private let idle = DispatchSemaphore(value: 1)
    /// Written by the settling job before `idle` is signalled, read after waiting on it.
    private var failure: (any Error)?

    /// Waits for the group in flight, if any, and rethrows what stopped it.
    func waitForPrevious() throws {
        idle.wait()
        defer { idle.signal() }
        if let failure {
            self.failure = nil
            throw failure
        }
    }

    /// Starts settling a group; the caller has waited for the previous one.
    func start(_ job: @escaping () throws -> Void) {
        idle.wait()
        let box = SendableBox(job)
        queue.async {
            do { try box.value() } catch { self.failure = error }
            self.idle.signal()
        }
    }
}

/// The result of work started on another queue, waited for once.
final class Pending<Value>: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private var result: Result<Value, any Error>?

    init(on queue: DispatchQueue, _ work: @escaping () throws -> Value) {
        let box = SendableBox(work)
        queue.async {
            self.result = Result { try box.value() }
            self.done.signal()
        }
    }

    func wait() throws -> Value {
        done.wait()
        done.signal()  // a second wait returns at once
        return try result!.get()
    }
}

extension DispatchQueue {
    func start<Value>(_ work: @escaping () throws -> Value) -> Pending<Value> { Pending(on: self, work) }
}

/// A closure handed to another queue; the queues above guarantee it runs on one thread at a time.
private struct SendableBox<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
