import ArgumentParser
import Foundation
import MeetingConfig
import MeetingLedger
import MeetingPostgres
import MeetingModel
import MeetingReplay
import MeetingRules
import MeetingSpool

struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Decide the ledger's history again under other settings and show what would have changed.",
        discussion: """
            Every proposal and withdrawal the ledger recorded is decided again, in its original order, against a scratch \
            ledger in memory. Nothing is written to the spool, the feeds or the ledger. Exit status: 0 done, 1 the ledger \
            could not be read or the report not written, 2 a bad --set, --config or date (64: a malformed command line).
            """)

    @Option(help: ArgumentHelp("A config file with the new settings (its rules, recurrence and listed_meetings).", valueName: "NEW.yaml"))
    var config: String?

    @Option(name: .customLong("set"), help: ArgumentHelp(
        "A new setting on top of the settings in force (or of --config): rules.<rule-id>.<setting>=VALUE, recurrence.<setting>=VALUE or listed_meetings=N (repeatable).",
        valueName: "KEY=VALUE"))
    var overrides: [String] = []

    @Option(help: ArgumentHelp("Show decisions made on or after this local date (earlier ones are still replayed).", valueName: "YYYY-MM-DD"))
    var from: String?

    @Option(help: ArgumentHelp("Show decisions made on or before this local date.", valueName: "YYYY-MM-DD"))
    var to: String?

    @Option(help: "text, json or html.") var format: ReportFormat = .text

    @Option(help: "Write the report to FILE instead of standard output.") var out: String?

    @Option(name: .customLong("in-force"), help: ArgumentHelp(
        "The config file of the settings in force, and of the spool and ledger. Default: \(MeetingConfig.Configuration.defaultPath) when it exists, else built-in defaults.",
        valueName: "PATH"))
    var inForce: String?

    @Option(help: "Spool directory: its ledger (<spool>/state/ledger.sqlite) is replayed.") var spool: String?

    @Option(help: "Ledger: a SQLite file or a postgresql:// URL; wins over --spool and the config.") var ledger: String?

    enum ReportFormat: String, ExpressibleByArgument, CaseIterable { case text, json, html }

    func run() throws {
        let current: MeetingConfig.Configuration
        let proposed: MeetingConfig.Configuration
        let window: HistoryReplay.Window
        do {
            current = try SpoolOptions.configPath(inForce).map { try MeetingConfig.Configuration.load(path: $0) } ?? MeetingConfig.Configuration()
            var base = current
            if let config {
                // Only the settings that decide requests are taken from NEW.yaml: where the ledger is stays as it is.
                let new = try MeetingConfig.Configuration.load(path: config)
                base.rules = new.rules
            }
            proposed = try base.overriding(overrides)
            window = HistoryReplay.Window(from: try from.map { try Self.date($0, option: "--from") },
                                          to: try to.map { try Self.date($0, option: "--to") })
            if let start = window.from, let end = window.to, start > end {
                throw ConfigurationError("--from \(start) is after --to \(end)")
            }
        } catch {
            FileHandle.standardError.write(Data("meetingd: \(error)\n".utf8))
            throw ExitCode(2)
        }
        let ledgerPath = SpoolOptions.ledgerPath(ledger: ledger, spool: spool, current)
        let spoolRoot = spool ?? (ledger == nil ? current.spool : nil)
        let history: any Ledger
        do {
            history = try LedgerOpener.openForReading(ledgerPath)
        } catch {
            FileHandle.standardError.write(Data("meetingd: \(error)\n".utf8))
            throw ExitCode(1)
        }
        let replay = HistoryReplay(settings: proposed.rules, timeZone: current.timezone, window: window, spoolRoot: spoolRoot,
                                   withNotes: format == .html)
        let progress = isatty(STDERR_FILENO) == 1 ? ProgressLine() : nil
        let outcome: ReplayOutcome
        do {
            defer { progress?.finish() }
            outcome = try replay.run(history, progress: progress.map { line in { line.show(done: $0, total: $1) } })
        }
        let zone = TimeZoneDatabase.system.timeZone(named: current.timezone) ?? TimeZone(identifier: "Asia/Shanghai")!
        let report = ReplayReport(before: current.rules, after: proposed.rules, window: window, outcome: outcome, timeZone: zone)
        let text: String
        switch format {
        case .text: text = report.text
        case .json: text = report.json.pretty + "\n"
        case .html: text = report.html
        }
        try writeOutput(text, to: out)
    }

    private static func date(_ text: String, option: String) throws -> LocalDate {
        guard let date = LocalDate(text) else { throw ConfigurationError("\(option) \(text): expected a date YYYY-MM-DD") }
        return date
    }
}

/// `replayed 5,120 of 10,412 · 8,300/s · 1 s left`, rewritten in place on a terminal, at most five times a second.
final class ProgressLine {
    private let started = Date()
    private var shown = Date.distantPast

    private var last: (done: Int, total: Int)?

    func show(done: Int, total: Int) {
        last = (done, total)
        let now = Date()
        guard now.timeIntervalSince(shown) >= 0.2 || done == total else { return }
        shown = now
        let elapsed = max(now.timeIntervalSince(started), 0.001)
        let rate = Double(done) / elapsed
        let left = rate > 0 ? Double(max(total - done, 0)) / rate : 0
        let line = "replayed \(done) of \(total) · \(Int(rate))/s · \(Int(left.rounded(.up))) s left"
        FileHandle.standardError.write(Data("\r\u{1B}[K\(line)".utf8))
    }

    /// The last count shown as it is (a replay that stopped at `--to` ends before the whole history), then
    /// the line ended, so that what follows starts on a line of its own.
    func finish() {
        if let last {
            shown = .distantPast
            show(done: last.done, total: last.done)
        }
        FileHandle.standardError.write(Data("\n".utf8))
    }
}
