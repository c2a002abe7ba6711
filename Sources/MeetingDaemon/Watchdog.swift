import Foundation
import ServiceLifecycle

/// Sends `WATCHDOG=1` at half of `WATCHDOG_USEC` while the process is healthy (sd_watchdog_enabled(3)).
public struct Watchdog: Service {
    let interval: Duration
    let notifier: SystemdNotifier

    /// nil unless systemd asked for a watchdog for this very process.
    public init?(environment: [String: String] = ProcessInfo.processInfo.environment, notifier: SystemdNotifier) {
        guard let text = environment["WATCHDOG_USEC"], let microseconds = Int(text), microseconds > 0 else { return nil }
        if let pid = environment["WATCHDOG_PID"], pid != String(getpid()) { return nil }
        interval = .microseconds(microseconds / 2)
        self.notifier = notifier
    }

    public func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            notifier.send("WATCHDOG=1")
            try? await Task.sleep(for: interval)
        }
    }
}
