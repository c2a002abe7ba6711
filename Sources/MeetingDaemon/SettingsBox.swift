import Foundation
import MeetingRules

/// Hands reloaded rule settings from the reloader to the watcher, which applies them between decisions.
public final class SettingsBox: @unchecked Sendable {
    private let lock = NSLock()
    private var pending: RuleSettingsSet?
    private var current: RuleSettingsSet

    public init(_ settings: RuleSettingsSet) { current = settings }

    public func publish(_ settings: RuleSettingsSet) {
        lock.withLock {
            pending = settings
            current = settings
        }
    }

    /// New settings since the last call, if any.
    func takePending() -> RuleSettingsSet? {
        lock.withLock {
            defer { pending = nil }
            return pending
        }
    }

    public var version: String { lock.withLock { current.version } }

    /// The settings in force now (the report counts with them).
    public var settings: RuleSettingsSet { lock.withLock { current } }
}

/// Counts for `STATUS=` lines.
final class DaemonCounters: @unchecked Sendable {
    private let lock = NSLock()
    private var decided = 0
    private var waiting = 0

    func record(decided newlyDecided: Int, waiting nowWaiting: Int) {
        lock.withLock {
            decided += newlyDecided
            waiting = nowWaiting
        }
    }

    var status: String { lock.withLock { "STATUS=decided \(decided), waiting \(waiting)" } }
}
