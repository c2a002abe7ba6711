import Foundation
import MeetingModel

/// What a rule's finding does to a request.
public enum Severity: String, CaseIterable, Sendable, Codable {
    /// The request is rejected unless a valid waiver cancels the finding.
    case reject
    /// The request may pass; the finding is published with it.
    case warn
    /// The rule is not checked.
    case off
}

/// The value of one rule setting.
public enum SettingValue: Sendable, Hashable, CustomStringConvertible {
    case integer(Int)
    case text(String)

    public var description: String {
        switch self {
        case let .integer(value): return String(value)
        case let .text(value): return value
        }
    }
}

/// A named setting of a rule, its type and default (`rules.<id>.<name>` in the config file).
public struct SettingSpec: Sendable {
    public enum Kind: Sendable {
        /// An integer from `minimum` to `maximum`: every setting has a maximum, so no configured number can
        /// overflow the arithmetic of a rule (a window of Int.max days) or make an output unreadable.
        case integer(minimum: Int, maximum: Int)
        /// `MM-DD`
        case monthDay
        /// `HH:MM`
        case timeOfDay
        /// `reject`, `warn` or `off`
        case severity
    }

    public let name: String
    public let kind: Kind
    public let defaultValue: SettingValue
    public let help: String

    public init(_ name: String, _ kind: Kind, default defaultValue: SettingValue, help: String) {
        self.name = name
        self.kind = kind
        self.defaultValue = defaultValue
        self.help = help
    }

    /// Checks a configured value; returns what is wrong with it, or nil.
    public func problem(with value: SettingValue) -> String? {
        switch (kind, value) {
        case let (.integer(minimum, maximum), .integer(number)):
            return (minimum...maximum).contains(number) ? nil : "must be an integer from \(minimum) to \(maximum), found \(number)"
        case let (.integer(minimum, maximum), .text(text)):
            return "must be an integer from \(minimum) to \(maximum), found \"\(text)\""
        case (.monthDay, .text(let text)):
            return SettingSpec.monthDay(text) == nil ? "must be a month and day MM-DD, found \"\(text)\"" : nil
        case (.timeOfDay, .text(let text)):
            return SettingSpec.secondsOfDay(text) == nil ? "must be a time HH:MM, found \"\(text)\"" : nil
        case (.severity, .text(let text)):
            return Severity(rawValue: text) == nil ? "must be one of reject, warn, off, found \"\(text)\"" : nil
        default:
            return "has the wrong type (\(value))"
        }
    }

    static func monthDay(_ text: String) -> (month: Int, day: Int)? {
        let parts = text.split(separator: "-")
        guard parts.count == 2, parts.allSatisfy({ $0.count == 2 }), let month = Int(parts[0]), let day = Int(parts[1]),
              (1...12).contains(month), (1...LocalDate.daysIn(month: month, year: 2024)).contains(day) else { return nil }
        return (month, day)
    }

    static func secondsOfDay(_ text: String) -> Double? {
        let parts = text.split(separator: ":")
        guard parts.count == 2, parts.allSatisfy({ $0.count == 2 }), let hour = Int(parts[0]), let minute = Int(parts[1]),
              hour < 24, minute < 60 else { return nil }
        return Double(hour * 3600 + minute * 60)
    }
}

/// The effective settings of one rule: its severity and its named values.
public struct RuleSettings: Sendable, Equatable {
    public var severity: Severity
    public var values: [String: SettingValue]

    public init(severity: Severity, values: [String: SettingValue] = [:]) {
        self.severity = severity
        self.values = values
    }

    /// An integer setting; the config loader has already checked its type.
    public func integer(_ name: String) -> Int {
        if case let .integer(value) = values[name] { return value }
        preconditionFailure("setting \(name) is not an integer")
    }

    public func text(_ name: String) -> String {
        if case let .text(value) = values[name] { return value }
        preconditionFailure("setting \(name) is not text")
    }

    public func monthDay(_ name: String) -> (month: Int, day: Int) { SettingSpec.monthDay(text(name))! }
    public func secondsOfDay(_ name: String) -> Double { SettingSpec.secondsOfDay(text(name))! }
    public func severity(_ name: String) -> Severity { Severity(rawValue: text(name))! }
}

/// The effective settings of every rule, with a version that identifies them in outputs.
public struct RuleSettingsSet: Sendable, Equatable {
    public private(set) var byRule: [RuleID: RuleSettings] {
        didSet { version = Self.version(of: byRule) }
    }

    /// A short hash of the effective settings (`X-MEETINGD-SETTINGS`, `settings` in the log); kept, not
    /// recomputed, because every decision carries it.
    public private(set) var version: String

    /// How many counted meetings a finding names (`listed_meetings`); the rest are "and N more". It shapes
    /// notes, not decisions, so it is not part of `version`.
    public var listedMeetings = 10
    public static let listedMeetingsRange = 1...1000

    /// The bounds of a recurring series (`recurrence.max_occurrences`, `recurrence.max_span_days`). They decide
    /// whether a request is valid, not how rules judge it, so they are not part of `version` either.
    public var recurrence = RecurrenceLimits()

    /// Every rule at its catalogue default.
    public init(catalog: RuleCatalog = .standard) {
        byRule = [:]
        for rule in catalog.rules {
            var values: [String: SettingValue] = [:]
            for spec in rule.settings { values[spec.name] = spec.defaultValue }
            byRule[rule.id] = RuleSettings(severity: rule.defaultSeverity, values: values)
        }
        version = Self.version(of: byRule)
    }

    public subscript(id: RuleID) -> RuleSettings {
        get { byRule[id]! }
        set { byRule[id] = newValue }
    }

    /// Canonical text of every setting (`rules.<id>.<name> = value`, sorted), the input of `version`.
    public var canonicalText: String { Self.canonicalText(of: byRule) }

    private static func canonicalText(of byRule: [RuleID: RuleSettings]) -> String {
        ruleEntries(of: byRule).map { "\($0.key) = \($0.value)" }.sorted().joined(separator: "\n")
    }

    private static func ruleEntries(of byRule: [RuleID: RuleSettings]) -> [(key: String, value: SettingValue)] {
        var entries: [(key: String, value: SettingValue)] = []
        for (id, settings) in byRule {
            entries.append(("rules.\(id.rawValue).severity", .text(settings.severity.rawValue)))
            for (name, value) in settings.values { entries.append(("rules.\(id.rawValue).\(name)", value)) }
        }
        return entries
    }

    /// Every setting by the key `--set` and the config file name it (`rules.<id>.<name>`, `recurrence.<name>`,
    /// `listed_meetings`), sorted by key: what `meetingd replay` compares to say what changed.
    public var entries: [(key: String, value: SettingValue)] {
        (Self.ruleEntries(of: byRule) + [
            ("recurrence.max_occurrences", .integer(recurrence.maxOccurrences)),
            ("recurrence.max_span_days", .integer(recurrence.maxSpanDays)),
            ("listed_meetings", .integer(listedMeetings)),
        ]).sorted { $0.key < $1.key }
    }

    private static func version(of byRule: [RuleID: RuleSettings]) -> String {
        Digest.fnv1a64Hex(Array(canonicalText(of: byRule).utf8))
    }
}

/// FNV-1a: a fast, stable 64-bit digest. Used for settings versions and for recognising a replayed input,
/// never for security.
public enum Digest {
    public static func fnv1a64(_ bytes: some Sequence<UInt8>) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01B3
        }
        return hash
    }

    /// A digest that reads eight bytes a step, for noticing that a file's new content equals its old one:
    /// feeds run to megabytes and are compared on every pass, where FNV-1a's byte-at-a-time loop dominated.
    /// Deterministic but not stored anywhere; the length is mixed in.
    public static func content(_ bytes: [UInt8]) -> UInt64 {
        bytes.withUnsafeBytes { raw in
            var hash: UInt64 = 0xcbf2_9ce4_8422_2325 ^ UInt64(raw.count)
            var offset = 0
            func mix(_ word: UInt64) {
                hash = ((hash ^ word) &* 0x9E37_79B9_7F4A_7C15)
                hash ^= hash >> 32
            }
            while offset + 8 <= raw.count {
                mix(raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
                offset += 8
            }
            var tail: UInt64 = 0
            for index in offset..<raw.count { tail = tail << 8 | UInt64(raw[index]) }
            mix(tail)
            return hash
        }
    }

    public static func fnv1a64Hex(_ bytes: some Sequence<UInt8>) -> String {
        let value = fnv1a64(bytes)
        return String(value, radix: 16).leftPadded(to: 16)
    }
}
