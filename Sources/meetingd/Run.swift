import ArgumentParser
import Foundation
import Logging
import MeetingDaemon

/// The daemon: decides each request as it appears in `incoming/` until SIGTERM or SIGINT; SIGHUP reloads the config.
struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Watch incoming/ and decide each request as it arrives (SIGHUP reloads the config, SIGTERM stops).")

    @OptionGroup var options: SpoolOptions

    func run() async throws {
        LoggingSystem.bootstrap { JournalLogHandler(label: $0) }
        let logger = Logger(label: "meetingd")
        let configuration = try options.loadConfiguration()
        do {
            try await Daemon.run(configuration: configuration, configPath: options.configPath,
                                 spoolRoot: options.spoolRoot(configuration), ledgerPath: options.ledgerPath(configuration), logger: logger)
        } catch {
            logger.critical("meetingd cannot run", metadata: ["error": "\(error)"])
            throw ExitCode.failure
        }
    }
}
