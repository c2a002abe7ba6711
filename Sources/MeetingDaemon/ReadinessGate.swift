import Foundation

/// Sends `READY=1` once every part of the daemon is ready (the first scan is done, the HTTP server listens).
final class ReadinessGate: @unchecked Sendable {
    private let lock = NSLock()
    private var waitingFor: Set<String>
    private let notifier: SystemdNotifier
    private let status: @Sendable () -> String

    init(parts: Set<String>, notifier: SystemdNotifier, status: @escaping @Sendable () -> String) {
        waitingFor = parts
        self.notifier = notifier
        self.status = status
    }

    func ready(_ part: String) {
        let allReady = lock.withLock { () -> Bool in
            guard waitingFor.remove(part) != nil else { return false }
            return waitingFor.isEmpty
        }
        if allReady { notifier.send("READY=1", status()) }
    }
}
