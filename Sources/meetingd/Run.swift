import ArgumentParser
import Foundation
import Logging
import MeetingConfig
import MeetingDaemon

/// The daemon: decides each request as it appears in `incoming/` until SIGTERM or SIGINT; SIGHUP reloads the config.
struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Watch incoming/ and decide each request as it arrives (SIGHUP reloads the config, SIGTERM stops).")

    @OptionGroup var options: SpoolOptions
    @Option(help: "Serve the feeds at HOST:PORT (default: the config's http, 127.0.0.1:8080); off serves nothing.")
    var http: String?

    func run() async throws {
        LoggingSystem.bootstrap { JournalLogHandler(label: $0) }
        let logger = Logger(label: "meetingd")
        let configuration = try options.loadConfiguration()
        let address = http ?? configuration.http ?? "off"
        let httpAddress = HTTPAddress(address)
        if address != "off", httpAddress == nil { throw ValidationError("--http: \"\(address)\" is not HOST:PORT (or off)") }
        do {
            try await Daemon.run(configuration: configuration, configPath: options.configPath,
                                 spoolRoot: options.spoolRoot(configuration), ledgerPath: options.ledgerPath(configuration),
                                 http: httpAddress, groupCommit: options.groupCommit ?? configuration.groupCommit, logger: logger)
        } catch {
            logger.critical("meetingd cannot run", metadata: ["error": "\(error)"])
            throw ExitCode.failure
        }
    }
}
