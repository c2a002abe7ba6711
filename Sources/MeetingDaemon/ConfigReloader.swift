import Foundation
import Logging
import MeetingConfig
import ServiceLifecycle
import UnixSignals

/// Reloads the config on SIGHUP. A broken file is logged with the line and key at fault and the last good
/// settings stay in force; systemd hears `RELOADING=1` then `READY=1`.
public struct ConfigReloader: Service {
    let path: String?
    let settings: SettingsBox
    let notifier: SystemdNotifier
    let logger: Logger
    let running: Configuration

    public init(path: String?, running: Configuration, settings: SettingsBox, notifier: SystemdNotifier, logger: Logger) {
        self.path = path
        self.running = running
        self.settings = settings
        self.notifier = notifier
        self.logger = logger
    }

    public func run() async throws {
        for await _ in await UnixSignalsSequence(trapping: .sighup).cancelOnGracefulShutdown() {
            notifier.send("RELOADING=1", SystemdNotifier.monotonicField)
            reload()
            notifier.send("READY=1")
        }
    }

    func reload() {
        guard let path else {
            logger.notice("SIGHUP: no config file in use; the built-in defaults stay in force")
            return
        }
        do {
            let loaded = try Configuration.load(path: path)
            if loaded.spool != running.spool || loaded.ledger != running.ledger || loaded.node != running.node || loaded.timezone != running.timezone
                || loaded.http != running.http || loaded.pages != running.pages {
                logger.warning("spool, ledger, node, timezone, http and pages change only on restart", metadata: ["config": "\(path)"])
            }
            settings.publish(loaded.rules)
            logger.notice("settings reloaded", metadata: ["config": "\(path)", "settings": "\(loaded.rules.version)"])
        } catch {
            logger.error("config not reloaded; the last good settings stay in force",
                         metadata: ["error": "\(error)", "settings": "\(settings.version)"])
        }
    }
}
