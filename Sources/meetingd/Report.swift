import ArgumentParser
import Foundation
import MeetingConfig
import MeetingLedger
import MeetingModel
import MeetingPostgres
import MeetingReport
import MeetingSpool

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Print a year of decisions, caps and the year-end window from the ledger (read-only).",
        discussion: """
            Every cap is counted with the rule's own query and the settings in force: `remaining` is what the next \
            request of that key will see. Safe beside the running daemon: nothing is written to the ledger.
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable { case text, json, html }

    @Option(help: "The calendar year (default: the current one in the configured time zone).") var year: String?
    @Option(help: "Keep organizer regions equal to this one or under it (浙江省/杭州市 keeps 浙江省/杭州市/西湖区).") var region: String?
    @Option(help: "text, json or html (one self-contained page).") var format: Format = .text
    @Option(help: "Write to this file (replaced whole) instead of standard output.") var out: String?
    @Flag(help: "Print the ledger's plan for each of the report's statements (and the browser's unit listing) instead.")
    var explain = false
    @OptionGroup var options: SpoolOptions

    func run() throws {
        let parameters: ReportParameters
        do {
            parameters = try ReportParameters(year: year, region: region)
        } catch {
            throw ValidationError("\(error)")
        }
        let configuration = try options.loadConfiguration()
        let zone = TimeZoneDatabase.system.timeZone(named: configuration.timezone) ?? TimeZone(identifier: "Asia/Shanghai")!
        let builder = ReportBuilder(settings: configuration.rules, timeZone: zone)
        let year = parameters.year ?? builder.currentYear()
        let ledgerPath = options.ledgerPath(configuration)
        if explain {
            let ledger = try LedgerOpener.openForReading(ledgerPath)
            try writeOutput(builder.explain(ledger: ledger, year: year, region: parameters.region, unit: "x"), to: out)
            return
        }
        // No ledger yet: an empty report, and no file made.
        let report = try LedgerOpener.isMissing(ledgerPath)
            ? builder.build(ledger: SQLiteLedger.scratch(), year: year, region: parameters.region)
            : builder.build(ledger: LedgerOpener.openForReading(ledgerPath), year: year, region: parameters.region)
        let text: String
        switch format {
        case .text: text = report.text
        case .json: text = report.json.pretty + "\n"
        case .html: text = ReportPage.render(report)
        }
        try writeOutput(text, to: out)
    }
}

/// A command's output: to standard output, or to `out` whole or not at all (written beside, then renamed over).
func writeOutput(_ text: String, to out: String?) throws {
    guard let out else {
        FileHandle.standardOutput.write(Data(text.utf8))
        return
    }
    let temporary = out + ".tmp-\(getpid())"
    do {
        try Data(text.utf8).write(to: URL(fileURLWithPath: temporary))
        guard rename(temporary, out) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
    } catch {
        unlink(temporary)
        FileHandle.standardError.write(Data("meetingd: cannot write \(out): \(error)\n".utf8))
        throw ExitCode(1)
    }
}
