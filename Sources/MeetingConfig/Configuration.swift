import Foundation
import MeetingModel
import MeetingRules
import Yams

/// meetingd's settings, read from a YAML file (`etc/meetingd.yaml` shows every key with its default).
///
/// Keys:
/// - `spool` (string, default `/var/spool/meetingd`): the spool directory.
/// - `ledger` (string, default `<spool>/state/ledger.sqlite`): the SQLite ledger file, or a `postgresql://` URL of
///   a ledger several offices share.
/// - `node` (string, default the host name): this office's name in a shared ledger, on every decision it makes.
/// - `timezone` (string, default `Asia/Shanghai`): the zone of requests that name none, and of log times.
/// - `http` (string, default `127.0.0.1:8080`): where `meetingd run` serves the feeds; `off` serves nothing.
/// - `group_commit` (integer, default 1): decisions per ledger transaction and durability barrier.
/// - `listed_meetings` (integer, default 10): counted meetings named in a finding; the rest are "and N more".
/// - `recurrence.max_occurrences` (integer, default 400) and `recurrence.max_span_days` (integer, default 366):
///   the bounds of a recurring series; a request beyond them is invalid.
/// - `feeds.refresh_seconds` (integer, default 3600): REFRESH-INTERVAL and X-PUBLISHED-TTL of every feed.
/// - `feeds.cancelled_days` (integer, default 30): how long a withdrawn meeting stays in feeds as CANCELLED.
/// - `feeds.horizon_days` (integer, default 365): feeds show meetings that ended at most this many days ago.
/// - `rules.<rule-id>.severity` (`reject`, `warn` or `off`) and `rules.<rule-id>.<setting>`: see `meetingd rules`.
public struct Configuration: Sendable, Equatable {
    public static let defaultPath = "/etc/meetingd/meetingd.yaml"
    public static let defaultSpool = "/var/spool/meetingd"

    public var spool: String = Configuration.defaultSpool
    /// nil: `<spool>/state/ledger.sqlite`.
    public var ledger: String?
    /// nil: the host name. Names this meetingd in the decisions it records; it must stay the same across restarts.
    public var node: String?
    public var timezone: String = "Asia/Shanghai"
    /// `host:port`, or nil when `http: off`.
    public var http: String? = "127.0.0.1:8080"
    /// Whether the HTTP listener also serves the report and the decision browser (`/report/`, `/decisions/`),
    /// which show what the ledger holds: titles, units, names.
    public var pages = true
    public var feeds = FeedSettings()
    /// Decisions per ledger transaction and durability barrier (1: each decision durable on its own).
    public var groupCommit = 1
    public var rules: RuleSettingsSet = RuleSettingsSet()

    public init() {}

}

/// How feeds are published.
public struct FeedSettings: Sendable, Equatable {
    public var refreshSeconds = 3600
    public var cancelledDays = 30
    public var horizonDays = 365

    /// What each `feeds.` setting may be: a refresh of a minute to 30 days, which calendar programs honour,
    /// and day counts up to 100 years, which keep the cut-off dates in range.
    static let ranges: [String: ClosedRange<Int>] = [
        "refresh_seconds": 60...2_592_000, "cancelled_days": 0...36_500, "horizon_days": 0...36_500,
    ]

    public init() {}
}

/// A config file that could not be used; `description` names the file, line and key at fault.
public struct ConfigurationError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

extension Configuration {
    /// Reads `path`, checking every key and value against the catalogue.
    public static func load(path: String, catalog: RuleCatalog = .standard) throws(ConfigurationError) -> Configuration {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigurationError("\(path): cannot read: \(error.localizedDescription)")
        }
        return try parse(text, source: path, catalog: catalog)
    }

    public static func parse(_ text: String, source: String, catalog: RuleCatalog = .standard) throws(ConfigurationError) -> Configuration {
        try parse(text, source: source, catalog: catalog, onto: Configuration())
    }

    /// Reads `text` as changes to `base`: every key it names replaces `base`'s value, checked as in a file.
    static func parse(_ text: String, source: String, catalog: RuleCatalog, onto base: Configuration) throws(ConfigurationError) -> Configuration {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            throw ConfigurationError("\(source): not valid YAML: \(error)")
        }
        var configuration = base
        guard let root else { return configuration }  // an empty file means every default
        func at(_ node: Node) -> String { node.mark.map { "\(source):\($0.line)" } ?? source }
        guard let mapping = root.mapping else { throw ConfigurationError("\(at(root)): expected a mapping of keys") }

        func string(_ node: Node, _ key: String) throws(ConfigurationError) -> String {
            guard let scalar = node.scalar, !scalar.string.isEmpty else { throw ConfigurationError("\(at(node)): \(key): expected a string") }
            return scalar.string
        }

        for (keyNode, value) in mapping {
            let key = keyNode.string ?? ""
            switch key {
            case "spool": configuration.spool = try string(value, key)
            case "ledger": configuration.ledger = value.null == nil ? try string(value, key) : nil
            case "node":
                if value.null == nil {
                    let name = try string(value, key)
                    guard let problem = Self.nodeNameProblem(name) else { configuration.node = name; break }
                    throw ConfigurationError("\(at(value)): node: \(problem)")
                } else {
                    configuration.node = nil
                }
            case "timezone":
                let zone = try string(value, key)
                guard TimeZoneDatabase.system.timeZone(named: zone) != nil else {
                    throw ConfigurationError("\(at(value)): timezone: \"\(zone)\" is not a Zone or Link of the tz database")
                }
                configuration.timezone = zone
            case "http":
                let address = try string(value, key)
                if address == "off" || value.bool == false {
                    configuration.http = nil
                } else {
                    guard HTTPAddress(address) != nil else {
                        throw ConfigurationError("\(at(value)): http: \"\(address)\" is not HOST:PORT (or off)")
                    }
                    configuration.http = address
                }
            case "pages":
                guard let flag = value.bool else { throw ConfigurationError("\(at(value)): pages: expected true or false") }
                configuration.pages = flag
            case "listed_meetings":
                let range = RuleSettingsSet.listedMeetingsRange
                guard let number = value.scalar.flatMap({ Self.integer($0.string) }), range.contains(number) else {
                    throw ConfigurationError("\(at(value)): listed_meetings: must be an integer from \(range.lowerBound) to \(range.upperBound)")
                }
                configuration.rules.listedMeetings = number
            case "group_commit":
                guard let number = value.scalar.flatMap({ Self.integer($0.string) }), (1...10_000).contains(number) else {
                    throw ConfigurationError("\(at(value)): group_commit: must be an integer from 1 to 10000")
                }
                configuration.groupCommit = number
            case "feeds":
                guard let feeds = value.mapping else { throw ConfigurationError("\(at(value)): feeds: expected a mapping") }
                for (settingNode, valueNode) in feeds {
                    let setting = settingNode.string ?? ""
                    guard let range = FeedSettings.ranges[setting] else {
                        throw ConfigurationError("\(at(settingNode)): feeds.\(setting): unknown key (known: refresh_seconds, cancelled_days, horizon_days)")
                    }
                    guard let number = valueNode.scalar.flatMap({ Self.integer($0.string) }), range.contains(number) else {
                        throw ConfigurationError("\(at(valueNode)): feeds.\(setting): must be an integer from \(range.lowerBound) to \(range.upperBound)")
                    }
                    switch setting {
                    case "refresh_seconds": configuration.feeds.refreshSeconds = number
                    case "cancelled_days": configuration.feeds.cancelledDays = number
                    default: configuration.feeds.horizonDays = number
                    }
                }
            case "recurrence":
                guard let recurrence = value.mapping else { throw ConfigurationError("\(at(value)): recurrence: expected a mapping") }
                for (settingNode, valueNode) in recurrence {
                    let setting = settingNode.string ?? ""
                    let range: ClosedRange<Int>
                    switch setting {
                    case "max_occurrences": range = RecurrenceLimits.occurrencesRange
                    case "max_span_days": range = RecurrenceLimits.spanDaysRange
                    default:
                        throw ConfigurationError("\(at(settingNode)): recurrence.\(setting): unknown key (known: max_occurrences, max_span_days)")
                    }
                    guard let number = valueNode.scalar.flatMap({ Self.integer($0.string) }), range.contains(number) else {
                        throw ConfigurationError("\(at(valueNode)): recurrence.\(setting): must be an integer from \(range.lowerBound) to \(range.upperBound)")
                    }
                    if setting == "max_occurrences" {
                        configuration.rules.recurrence.maxOccurrences = number
                    } else {
                        configuration.rules.recurrence.maxSpanDays = number
                    }
                }
            case "rules":
                guard let rules = value.mapping else { throw ConfigurationError("\(at(value)): rules: expected a mapping of rule ids") }
                for (ruleNode, settingsNode) in rules {
                    let name = ruleNode.string ?? ""
                    guard let id = RuleID(rawValue: name), let rule = catalog.rule(id) else {
                        throw ConfigurationError("\(at(ruleNode)): rules.\(name): no such rule (see `meetingd rules`)")
                    }
                    guard let settings = settingsNode.mapping else {
                        throw ConfigurationError("\(at(settingsNode)): rules.\(name): expected a mapping of settings")
                    }
                    for (settingNode, valueNode) in settings {
                        let setting = settingNode.string ?? ""
                        let path = "rules.\(name).\(setting)"
                        if setting == "severity" {
                            // YAML 1.1 reads a bare `off` as false; accept it as the word the user meant.
                            let word = valueNode.scalar?.string ?? ""
                            guard let severity = Severity(rawValue: word) else {
                                throw ConfigurationError("\(at(valueNode)): \(path): must be one of reject, warn, off, found \"\(word)\"")
                            }
                            configuration.rules[id].severity = severity
                            continue
                        }
                        guard let spec = rule.settings.first(where: { $0.name == setting }) else {
                            let known = (["severity"] + rule.settings.map(\.name)).joined(separator: ", ")
                            throw ConfigurationError("\(at(settingNode)): \(path): no such setting (known: \(known))")
                        }
                        guard let scalar = valueNode.scalar else { throw ConfigurationError("\(at(valueNode)): \(path): expected a single value") }
                        let parsed: SettingValue
                        if case .integer = spec.kind {
                            // A number too large for Int is reported with the setting's range, not as text.
                            parsed = Self.integer(scalar.string).map(SettingValue.integer) ?? .text(scalar.string)
                        } else {
                            parsed = .text(scalar.string)
                        }
                        if let problem = spec.problem(with: parsed) { throw ConfigurationError("\(at(valueNode)): \(path): \(problem)") }
                        configuration.rules[id].values[setting] = parsed
                    }
                }
            default:
                throw ConfigurationError("\(at(keyNode)): \(key): unknown key (known: spool, ledger, node, timezone, http, pages, group_commit, listed_meetings, recurrence, feeds, rules)")
            }
        }
        return configuration
    }
}

extension Configuration {
    /// What `--set` may change: the settings that decide requests, not where meetingd keeps its files.
    static let settableKeys = ["rules", "recurrence", "listed_meetings"]

    /// This configuration with `--set KEY=VALUE` assignments applied in order (`rules.township-leader-load.max_per_month=3`,
    /// `rules.prefer-video.severity=off`, `recurrence.max_occurrences=100`), each checked exactly as the same
    /// key in a config file is: an unknown rule, setting or key, or a value out of range, is refused naming it.
    public func overriding(_ assignments: [String], catalog: RuleCatalog = .standard) throws(ConfigurationError) -> Configuration {
        var configuration = self
        for assignment in assignments {
            let source = "--set \(assignment)"
            guard let equals = assignment.firstIndex(of: "="), equals != assignment.startIndex else {
                throw ConfigurationError("\(source): expected KEY=VALUE, e.g. rules.township-leader-load.max_per_month=3")
            }
            let key = assignment[..<equals]
            let value = String(assignment[assignment.index(after: equals)...])
            let path = key.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            guard let top = path.first, Self.settableKeys.contains(top) else {
                throw ConfigurationError("\(source): \(key): only rules.<rule-id>.<setting>, recurrence.<setting> and listed_meetings can be set")
            }
            guard !path.contains(where: \.isEmpty), path.count == (top == "rules" ? 3 : top == "recurrence" ? 2 : 1) else {
                throw ConfigurationError("\(source): \(key): expected rules.<rule-id>.<setting>, recurrence.<setting> or listed_meetings")
            }
            guard !"\(key)\(value)".unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
                throw ConfigurationError("\(source): control characters are not allowed")
            }
            // The assignment as the YAML a config file would hold, every key and the value quoted (so nothing in
            // them is read as YAML structure), then read by the file's own parser on top of this configuration.
            func quoted(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "''") + "'" }
            var yaml = ""
            for (depth, segment) in path.enumerated() {
                yaml += String(repeating: "  ", count: depth) + quoted(segment) + ":"
                yaml += depth == path.count - 1 ? " " + quoted(value) + "\n" : "\n"
            }
            do {
                configuration = try Self.parse(yaml, source: source, catalog: catalog, onto: configuration)
            } catch {
                // The snippet's line numbers mean nothing to the user: the assignment names the place.
                var message = Substring(error.description)
                if message.hasPrefix(source + ":") {
                    message = message.dropFirst(source.count + 1).drop { $0.isASCII && $0.isNumber }
                    message = message.hasPrefix(": ") ? message.dropFirst(2) : message
                    throw ConfigurationError("\(source): \(message)")
                }
                throw error
            }
        }
        return configuration
    }
}

extension Configuration {
    /// A whole number written as digits, with a minus sign at most: `+40`, ` 40` and `4_0`, which Swift's
    /// `Int(_:)` or YAML would read as 40, are refused rather than taken as another setting than written.
    static func integer(_ text: String) -> Int? {
        let digits = text.utf8.first == UInt8(ascii: "-") ? text.utf8.dropFirst() : text.utf8[...]
        guard !digits.isEmpty, digits.allSatisfy({ (0x30...0x39).contains($0) }) else { return nil }
        return Int(text)
    }

    /// The node name in force: `node`, else the host name (cut to a valid name).
    public var nodeName: String { node ?? Self.hostNodeName() }

    public static func hostNodeName() -> String {
        let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "localhost"
        let cleaned = String(host.unicodeScalars.filter { nodeCharacters.contains($0) }.prefix(64).map(Character.init))
        return cleaned.isEmpty ? "localhost" : cleaned
    }

    private static let nodeCharacters = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")

    /// Why `name` cannot name a node, or nil: it is written into log lines, notes and the ledger.
    public static func nodeNameProblem(_ name: String) -> String? {
        if name.isEmpty || name.unicodeScalars.count > 64 { return "must be 1 to 64 characters" }
        if !name.unicodeScalars.allSatisfy(nodeCharacters.contains) { return "may hold only A-Z a-z 0-9 . _ - (got \"\(name)\")" }
        return nil
    }

    /// The config file with every key at its default, each commented: what `etc/meetingd.yaml` ships.
    public static func defaultFileText(catalog: RuleCatalog = .standard) -> String {
        var lines = [
            "# meetingd configuration (YAML). Every key is shown with its default value.",
            "# After a change: `systemctl reload meetingd` (SIGHUP) or restart; `meetingd rules` shows what is in force.",
            "",
            "# The spool directory: incoming/, approved/, rejected/, withdrawn/, invalid/, feeds/, log/, state/.",
            "spool: \(defaultSpool)",
            "",
            "# The ledger of decisions: a SQLite file, null for <spool>/state/ledger.sqlite, or a PostgreSQL URL",
            "# that several offices share (postgresql://user@host:5432/db, postgresql:///db?host=/run/postgresql;",
            "# the password from the URL, PGPASSWORD or ~/.pgpass; sslmode=require for TLS).",
            "ledger: null",
            "",
            "# This office's name on every decision it records in a shared ledger (1 to 64 of A-Z a-z 0-9 . _ -).",
            "# null: the host name. Keep it the same across restarts: a node finishes its own interrupted work.",
            "node: null",
            "",
            "# Time zone of requests that name none, and of the times in the decision log.",
            "timezone: Asia/Shanghai",
            "",
            "# Where `meetingd run` serves the feeds over HTTP (HOST:PORT), or off. `--http` overrides it.",
            "http: 127.0.0.1:8080",
            "",
            "# Whether that listener also serves the year's report (/report/, /report.json) and the decision browser",
            "# (/decisions/, /decisions.json). They show titles, units and names from the ledger: before widening",
            "# `http` beyond 127.0.0.1, put them behind the office's reverse proxy with authentication, or turn them off.",
            "pages: true",
            "",
            "# Decisions per ledger transaction and durability barrier (one syncfs; on PostgreSQL, up to 8 decisions",
            "# sync their own files instead). 1: every decision is durable before its request leaves incoming/.",
            "# 100: a burst costs one barrier per hundred, and no request leaves incoming/ before its group's barrier",
            "# (on PostgreSQL that barrier also writes the feeds the daemon keeps in the page cache, megabytes each).",
            "group_commit: 1",
            "",
            "# How many of the meetings a cap counted a note, log line or .ics names; the rest are \"and N more\"",
            "# (1 to 1000). The full list stays in the ledger.",
            "listed_meetings: 10",
            "",
            "# Recurring meetings (a request's `recurrence`): every occurrence is checked and counted on its own.",
            "recurrence:",
            "  # A series with more occurrences than this (after its exdates) is invalid (1 to 5000).",
            "  max_occurrences: 400",
            "  # A series whose last occurrence is more than this many days after its first is invalid (1 to 3660).",
            "  max_span_days: 366",
            "",
            "# Subscribable calendars under <spool>/feeds/.",
            "feeds:",
            "  # REFRESH-INTERVAL and X-PUBLISHED-TTL, in seconds (60 to 2592000, 30 days).",
            "  refresh_seconds: 3600",
            "  # Days a withdrawn meeting stays in the feeds as STATUS:CANCELLED (0 to 36500).",
            "  cancelled_days: 30",
            "  # Feeds show meetings that ended at most this many days ago, and every later one (0 to 36500).",
            "  horizon_days: 365",
            "",
            "# One block per rule of the catalogue (shared/spec/rules.md).",
            "# severity: reject (the request is rejected unless a valid waiver cancels the finding),",
            "#           warn (approved; the finding is published with it) or off (not checked).",
            "# Clause 7 leaves these numbers to each province: change them here.",
            "rules:",
        ]
        for rule in catalog.rules {
            lines.append("  # 第\(rule.clause)条 「\(rule.sentence)」")
            lines.append("  # \(rule.summary). Waivers: \(rule.waiverPolicy.rawValue).")
            lines.append("  \(rule.id.rawValue):")
            lines.append("    severity: \(rule.defaultSeverity.rawValue)")
            for spec in rule.settings {
                if case let .integer(minimum, maximum) = spec.kind {
                    lines.append("    # \(spec.help) (\(minimum) to \(maximum))")
                } else {
                    lines.append("    # \(spec.help)")
                }
                let value: String
                switch spec.defaultValue {
                case let .integer(number): value = String(number)
                case let .text(text): value = "\"\(text)\""
                }
                lines.append("    \(spec.name): \(value)")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

/// `host:port` for the HTTP server.
public struct HTTPAddress: Sendable, Equatable {
    public var host: String
    public var port: Int

    public init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":"), let port = Configuration.integer(String(text[text.index(after: colon)...])), (0...65535).contains(port) else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty, !host.contains(where: { $0.isWhitespace || $0 == "/" }) else { return nil }
        self.host = host
        self.port = port
    }
}
