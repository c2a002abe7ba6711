import ArgumentParser
import Foundation
import MeetingConfig
import MeetingLedger
import MeetingModel
import MeetingPostgres
import MeetingRules
import MeetingSpool

@main
struct Meetingd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "meetingd",
        abstract: "Decides meeting requests against the 2024 rules on reducing burdens on the grassroots.",
        subcommands: [Drain.self, Check.self, Withdraw.self, Replay.self, ReportCommand.self, Rules.self, Run.self, Feeds.self, LedgerCommand.self, DefaultConfig.self,
                      Schema.self])
}

/// `--config` and `--spool`, shared by every command that touches a spool.
struct SpoolOptions: ParsableArguments {
    @Option(help: "Config file (YAML). Default: \(MeetingConfig.Configuration.defaultPath) when it exists, else built-in defaults.")
    var config: String?

    @Option(help: "Spool directory; moves the ledger too (<spool>/state/ledger.sqlite).")
    var spool: String?

    @Option(help: "Ledger: a SQLite file or a postgresql:// URL of a shared ledger; wins over --spool and the config.")
    var ledger: String?

    @Option(name: .customLong("group-commit"), help: "Decisions per ledger transaction and durability barrier (default: the config's group_commit, 1).")
    var groupCommit: Int?

    /// The config file in use: `--config`, else the system one when it exists.
    var configPath: String? { Self.configPath(config) }

    static func configPath(_ named: String?) -> String? {
        named ?? (FileManager.default.fileExists(atPath: MeetingConfig.Configuration.defaultPath)
            ? MeetingConfig.Configuration.defaultPath : nil)
    }

    func loadConfiguration() throws -> MeetingConfig.Configuration {
        do {
            return try configPath.map { try MeetingConfig.Configuration.load(path: $0) } ?? MeetingConfig.Configuration()
        } catch {
            throw ValidationError("\(error)")
        }
    }

    /// The spool root: `--spool` wins over the config.
    func spoolRoot(_ configuration: MeetingConfig.Configuration) -> String { spool ?? configuration.spool }

    func ledgerPath(_ configuration: MeetingConfig.Configuration) -> String {
        Self.ledgerPath(ledger: ledger, spool: spool, configuration)
    }

    /// `--ledger`, else the config's shared ledger (a URL: it belongs to no spool), else the ledger of `--spool
    /// DIR` (which points every folder, the ledger included, at DIR), else the config's.
    static func ledgerPath(ledger: String?, spool: String?, _ configuration: MeetingConfig.Configuration) -> String {
        if let ledger { return ledger }
        if let shared = configuration.ledger, PostgresLocation.isURL(shared) { return shared }
        return spool.map(SpoolNames.ledger(inSpool:)) ?? configuration.ledger ?? SpoolNames.ledger(inSpool: configuration.spool)
    }

    /// The spool, its lock and a pipeline; throws when a daemon already decides this spool.
    func openPipeline() throws -> (DecisionPipeline, SpoolLock) {
        let configuration = try loadConfiguration()
        let spoolDirectory = try SpoolDirectory(root: spoolRoot(configuration))
        let lock = try SpoolLock(spool: spoolDirectory)
        let ledger = try LedgerOpener.open(ledgerPath(configuration), node: configuration.nodeName)
        let pipeline = try DecisionPipeline(spool: spoolDirectory, ledger: ledger, settings: configuration.rules,
                                            timeZone: configuration.timezone, feedSettings: configuration.feeds)
        pipeline.batchSize = groupCommit ?? configuration.groupCommit
        pipeline.feeds.linksPages = configuration.pages && configuration.http != nil
        return (pipeline, lock)
    }
}

func summary(_ outcome: DecisionPipeline.Outcome) -> String {
    let decision = outcome.recorded.decision
    var line = "\(decision.verdict.rawValue)\t\(decision.requestID ?? "-")\t\(outcome.file)"
    let rules = decision.assessment.violations.map(\.rule.rawValue)
    if !rules.isEmpty { line += "\t" + rules.joined(separator: ",") }
    if let problem = decision.problems.first { line += "\t" + problem }
    return line
}

struct Drain: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Decide everything now in incoming/, then exit.")

    @OptionGroup var options: SpoolOptions

    func run() throws {
        let (pipeline, lock) = try options.openPipeline()
        for outcome in try pipeline.drain() { print(summary(outcome)) }
        withExtendedLifetime(lock) {}
    }
}

struct Withdraw: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Withdraw an approved meeting (the same as dropping a withdrawal).")

    @Argument(help: "The id of the approved meeting.") var id: String
    @OptionGroup var options: SpoolOptions

    func run() throws {
        guard RequestParser.isValidID(id) else { throw ValidationError("\"\(id)\" is not a valid request id") }
        let configuration = try options.loadConfiguration()
        let spool = try SpoolDirectory(root: options.spoolRoot(configuration))
        let request = #"{"format": 1, "id": "\#(id)", "action": "withdraw"}"#
        let name = SpoolNames.withdrawal(id: id, at: Date())
        let lock: SpoolLock
        do {
            lock = try SpoolLock(spool: spool)
        } catch is SpoolLock.Held {
            // A running daemon decides it within moments; see log/decisions.jsonl.
            try spool.drop(name: name, Array(request.utf8))
            print("dropped\t\(id)\tincoming/\(name)\t(the running meetingd decides it)")
            return
        }
        try spool.drop(name: name, Array(request.utf8))
        let ledger = try LedgerOpener.open(options.ledgerPath(configuration), node: configuration.nodeName)
        let pipeline = try DecisionPipeline(spool: spool, ledger: ledger, settings: configuration.rules, timeZone: configuration.timezone,
                                            feedSettings: configuration.feeds)
        pipeline.feeds.linksPages = configuration.pages && configuration.http != nil
        defer { withExtendedLifetime(lock) {} }
        // Only this withdrawal is decided: what else waits is the daemon's (or the next drain's) to decide.
        var exitCode: Int32 = 2
        let mine = try spool.waitingFiles().filter { $0.name == name }
        try pipeline.process(groupsOf: mine) { outcomes in
            for outcome in outcomes {
                print(summary(outcome))
                if outcome.recorded.decision.verdict == .withdrawn { exitCode = 0 }
            }
        }
        try pipeline.feeds.flush()
        if exitCode != 0 { throw ExitCode(exitCode) }
    }
}

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Decide request files against the current ledger without writing anything.",
        discussion: "Exit status: 0 all approved, 1 some rejected, 2 some invalid or a usage error. Each file is decided on its own.")

    @Argument(help: "Request files (JSON).") var files: [String]
    @Flag(help: "Print one decision object per file, in the decision log's shape.") var json = false
    @Option(name: .customLong("set"), help: ArgumentHelp(
        "Decide under another setting: rules.<rule-id>.<setting>=VALUE, recurrence.<setting>=VALUE or listed_meetings=N (repeatable).",
        valueName: "KEY=VALUE"))
    var overrides: [String] = []
    @OptionGroup var options: SpoolOptions

    func run() throws {
        let configuration: MeetingConfig.Configuration
        do {
            configuration = try options.loadConfiguration().overriding(overrides)
        } catch let error as ConfigurationError {
            FileHandle.standardError.write(Data("meetingd: \(error)\n".utf8))
            throw ExitCode(2)
        }
        let parser = DecisionPipeline.parser(timeZone: configuration.timezone, settings: configuration.rules)
        let decider = Decider(engine: RuleEngine(settings: configuration.rules))
        let ledgerPath = options.ledgerPath(configuration)
        // Without a ledger yet, decide against an empty one rather than create a file; with one, read it only
        // (nothing migrated or checkpointed: the file stays byte for byte as it was).
        let ledger: (any Ledger)? = LedgerOpener.isMissing(ledgerPath) ? nil : try LedgerOpener.openForReading(ledgerPath)
        let zone = TimeZoneDatabase.system.timeZone(named: configuration.timezone) ?? TimeZone(identifier: "Asia/Shanghai")!
        var worst: Int32 = 0
        for file in files {
            let parsed: Result<ParsedRequest, InvalidRequest>
            do {
                parsed = DecisionPipeline.parse(try SpoolDirectory.readRequestFile(atPath: file, limit: RequestParser.maximumBytes), with: parser)
            } catch {
                parsed = .failure(InvalidRequest(id: nil, problems: ["$: cannot read: \(error)"]))
            }
            let decision = try ledger.map { try $0.read { try decider.decide(parsed, state: $0) } }
                ?? decider.decide(parsed, state: InMemoryLedger())
            switch decision.verdict {
            case .invalid: worst = 2
            case .rejected: worst = max(worst, 1)
            case .approved, .withdrawn: break
            }
            if json {
                var request: MeetingRequest?
                if case let .success(.proposal(proposal)) = parsed, decision.verdict != .invalid { request = proposal }
                print(DecisionLine.make(decision, decidedAt: Date(), timeZone: zone, input: file, output: nil, moved: nil,
                                        sequenceNumber: nil, occurrencesOf: request).serialized)
            } else {
                print("\(file): \(decision.verdict.rawValue)")
                func dates(_ finding: Finding) -> String { finding.datesLine.map { " [dates: \($0)]" } ?? "" }
                for finding in decision.assessment.violations {
                    print("  violates \(finding.rule.rawValue) (clause \(finding.clause)): \(finding.factsLine)\(dates(finding))")
                }
                for finding in decision.assessment.warnings {
                    print("  warning \(finding.rule.rawValue) (clause \(finding.clause)): \(finding.factsLine)\(dates(finding))")
                }
                for waiver in decision.assessment.waived { print("  waived \(waiver.rule.rawValue): \(waiver.ref ?? "-"), \(waiver.approver ?? "-")") }
                for problem in decision.problems { print("  \(problem)") }
            }
        }
        if worst != 0 { throw ExitCode(worst) }
    }
}

struct Rules: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the rule catalogue with the settings in force.")

    @Flag(help: "Print a Markdown table (the README's rule table).") var markdown = false
    @OptionGroup var options: SpoolOptions

    func run() throws {
        let configuration = try options.loadConfiguration()
        if markdown {
            print(RuleTable.markdown(settings: configuration.rules))
            return
        }
        print("settings version \(configuration.rules.version)")
        let limits = configuration.rules.recurrence
        print("recurring series: at most \(limits.maxOccurrences) occurrences within \(limits.maxSpanDays) days; every occurrence is checked and counted")
        for rule in RuleCatalog.standard.rules {
            let settings = configuration.rules[rule.id]
            print("")
            print("\(rule.id.rawValue)  clause \(rule.clause)  severity \(settings.severity.rawValue)  waivers \(rule.waiverPolicy.rawValue)")
            print("  「\(rule.sentence)」")
            print("  \(rule.summary)")
            for spec in rule.settings { print("  \(spec.name) = \(settings.values[spec.name]!)  (\(spec.help))") }
        }
    }
}

struct Schema: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the request format as a JSON Schema (draft 2020-12), for systems that check a request before dropping it.")

    func run() { print(RequestSchema.document().pretty) }
}

struct DefaultConfig: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "default-config",
                                                    abstract: "Print the config file with every key at its default (what etc/meetingd.yaml ships).")

    func run() { print(MeetingConfig.Configuration.defaultFileText(), terminator: "") }
}

struct Feeds: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Manage the calendar feeds under feeds/.", subcommands: [Rebuild.self])

    struct Rebuild: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Regenerate every feed from the ledger (after changing the horizon, or to repair).")

        @OptionGroup var options: SpoolOptions

        func run() throws {
            let (pipeline, lock) = try options.openPipeline()
            let written = try pipeline.feeds.rebuild()
            print("feeds rebuilt: \(written) file(s) changed under \(pipeline.spool.path(.feeds))")
            withExtendedLifetime(lock) {}
        }
    }
}

struct LedgerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ledger", abstract: "Manage the ledger.", subcommands: [Copy.self])

    struct Copy: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Copy an embedded SQLite ledger into an empty shared PostgreSQL ledger: history and caps carry over.",
            discussion: "Stop the daemon first. The copy is one transaction: all of it, or nothing. A target that holds any decision is refused.")

        @Option(help: "The SQLite ledger file.") var from: String
        @Option(help: "The PostgreSQL ledger: postgresql://user@host:port/database (or a socket: postgresql:///db?host=/run/postgresql).")
        var to: String
        @Option(help: "The node named on decisions recorded before ledgers kept one (default: the config's node, else the host name).")
        var node: String?
        @Option(help: "Config file (YAML), for its node.") var config: String?

        func run() throws {
            guard PostgresLocation.isURL(to) else { throw ValidationError("--to: \"\(to)\" is not a postgresql:// URL") }
            guard FileManager.default.fileExists(atPath: from) else { throw ValidationError("--from: no ledger at \(from)") }
            if let node, let problem = MeetingConfig.Configuration.nodeNameProblem(node) { throw ValidationError("--node: \(problem)") }
            let configuration = try SpoolOptions.configPath(config).map { try MeetingConfig.Configuration.load(path: $0) } ?? MeetingConfig.Configuration()
            do {
                // Read only: the source is left as it was (one from an older meetingd is refused until a drain migrates it).
                let copied = try LedgerCopy.copy(from: try SQLiteLedger(readingOnly: from), to: to, node: node ?? configuration.nodeName)
                print("copied into \(LedgerOpener.displayName(to)): "
                    + LedgerCopy.tableNames.map { "\(copied.rows[$0] ?? 0) \($0)" }.joined(separator: ", "))
            } catch {
                FileHandle.standardError.write(Data("meetingd: ledger copy: \(error)\n".utf8))
                throw ExitCode(1)
            }
        }
    }
}
