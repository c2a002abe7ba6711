import MeetingModel

/// A rule shape that libical 3.0.16's iterator expands differently from RFC 5545 (as python-dateutil, vobject
/// and icalendar read the same RRULE). meetingd counts what it publishes, so a rule of such a shape is refused
/// at `$.recurrence.rrule` with the shape named and, where one exists, an equivalent rule that libical expands
/// as RFC 5545 does (`shared/spec/recurrence.md`, "What is counted is what calendars show").
///
/// Each shape carries an example that libical gets wrong, with RFC 5545's dates and libical's: the test
/// `RecurrenceTests` checks that libical still deviates on it (a libical that no longer does makes the
/// refusal needless, and the test says so).
public struct LibicalDeviation: Sendable {
    /// A short name for notes and tests (`weekly-bysetpos`).
    public let id: String
    /// What the shape is, as the note says it.
    public let shape: String
    /// Whether `rule` has the shape.
    let matches: @Sendable (Rule) -> Bool
    /// An equivalent rule (the same dates under RFC 5545) that libical expands correctly, or advice.
    let remedy: @Sendable (Rule) -> Remedy

    public let example: Example

    public struct Example: Sendable {
        public let rule: String
        /// DTSTART, floating (`20250902T090000`).
        public let start: String
        /// RFC 5545's first dates (python-dateutil's expansion).
        public let rfc5545: [String]
        /// libical 3.0.16's first dates.
        public let libical: [String]
    }

    public enum Remedy: Sendable, Equatable {
        case equivalent(String)
        case advice(String)
    }

    /// The first deviation `rule` has, or nil.
    public static func first(in parts: RecurrenceRuleParts, from start: LocalDateTime? = nil) -> (LibicalDeviation, Remedy)? {
        var rule = Rule(parts)
        rule.startWeekday = start.map { (($0.date.dayNumber + 3) % 7 + 7) % 7 }
        for deviation in all where deviation.matches(rule) { return (deviation, deviation.remedy(rule)) }
        return nil
    }

    /// The refusal's text for `parts`, or nil when libical expands the rule as RFC 5545 does. The equivalent
    /// offered is one libical expands correctly: a remedy that leaves another deviation is followed by that
    /// one's remedy, and a remedy that is only advice ends the search.
    public static func refusal(for parts: RecurrenceRuleParts, from start: LocalDateTime? = nil) -> String? {
        guard let (deviation, firstRemedy) = first(in: parts, from: start) else { return nil }
        var remedy = firstRemedy
        for _ in 0..<all.count {
            guard case let .equivalent(text) = remedy, case let .success(next) = RecurrenceRuleParts.parse(text),
                  let (_, further) = first(in: next, from: start) else { break }
            remedy = further
        }
        let fix: String
        switch remedy {
        case let .equivalent(rule): fix = "write the equivalent \"\(rule)\""
        case let .advice(text): fix = text
        }
        return "\(deviation.shape) is expanded differently by calendar programs built on libical than RFC 5545 "
            + "gives (meetingd's libical \(deviation.id)); \(fix)"
    }

    /// A rule's parts by name, with the lists split.
    struct Rule {
        let parts: [(name: String, value: String)]
        let frequency: String
        /// DTSTART's weekday, 0 for Monday; nil when not known (every shape that needs it then matches).
        var startWeekday: Int?

        init(_ parts: RecurrenceRuleParts) {
            self.parts = parts.parts
            frequency = parts.parts.first { $0.name == "FREQ" }?.value ?? ""
            startWeekday = nil
        }

        func has(_ name: String) -> Bool { parts.contains { $0.name == name } }
        func value(_ name: String) -> String? { parts.first { $0.name == name }?.value }
        func list(_ name: String) -> [String] { value(name).map { $0.split(separator: ",").map(String.init) } ?? [] }
        var interval: Int { value("INTERVAL").flatMap { Int($0) } ?? 1 }

        /// The rule's text with `name` replaced by `value` (nil removes it); a new part goes before COUNT/UNTIL.
        func replacing(_ name: String, with value: String?) -> String {
            var out: [(name: String, value: String)] = []
            var placed = value == nil
            for part in parts {
                if part.name == name {
                    if let value { out.append((name, value)) }
                    placed = true
                } else {
                    if !placed, part.name == "COUNT" || part.name == "UNTIL" {
                        out.append((name, value!))
                        placed = true
                    }
                    out.append(part)
                }
            }
            if !placed, let value { out.append((name, value)) }
            return out.map { "\($0.name)=\($0.value)" }.joined(separator: ";")
        }
    }

    static let weekdays = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]

    /// In the order they are checked: the first that matches is named.
    public static let all: [LibicalDeviation] = [repeatedValue, weeklySetPosition, weeklyIntervalWeekStart, yearlyMonthDayWithoutMonth,
                                                  dailyNegativeMonthDay, setPositionMixedMonthDays, weekNumber, yearDayWithMonth]

    /// libical keeps a value listed twice as two candidates, so BYSETPOS counts it twice.
    static let repeatedValue = LibicalDeviation(
        id: "repeated-value", shape: "a value listed twice in one BYxxx part",
        matches: { rule in rule.parts.contains { $0.name.hasPrefix("BY") && Set(rule.list($0.name)).count != rule.list($0.name).count } },
        remedy: { rule in
            var text = rule.parts.map { "\($0.name)=\($0.value)" }.joined(separator: ";")
            for part in rule.parts where part.name.hasPrefix("BY") {
                var seen = Set<String>()
                let unique = rule.list(part.name).filter { seen.insert($0).inserted }
                text = Rule(parts: text).replacing(part.name, with: unique.joined(separator: ","))
            }
            return .equivalent(text)
        },
        example: Example(rule: "FREQ=MONTHLY;BYMONTHDAY=15,28,15;BYSETPOS=-2;COUNT=2", start: "20251215T090000",
                         rfc5545: ["20251215T090000", "20260115T090000"], libical: ["20251228T090000", "20260128T090000"]))

    /// WEEKLY with BYSETPOS: libical takes the positions across week boundaries.
    static let weeklySetPosition = LibicalDeviation(
        id: "weekly-bysetpos", shape: "FREQ=WEEKLY with BYSETPOS",
        matches: { $0.frequency == "WEEKLY" && $0.has("BYSETPOS") },
        remedy: { rule in
            // With only BYDAY to choose from, each week's set is those weekdays in WKST order: the positions pick
            // the same weekdays every week, which BYDAY alone can list.
            guard rule.parts.allSatisfy({ !$0.name.hasPrefix("BY") || $0.name == "BYDAY" || $0.name == "BYSETPOS" }) else {
                return .advice("list the weekdays wanted in BYDAY and leave out BYSETPOS")
            }
            let start = weekdays.firstIndex(of: rule.value("WKST") ?? "MO") ?? 0
            let order = (0..<7).map { weekdays[(start + $0) % 7] }
            let days = order.filter { rule.list("BYDAY").contains($0) }
            var chosen = Set<String>()
            for position in rule.list("BYSETPOS").compactMap({ Int($0) }) {
                let index = position > 0 ? position - 1 : days.count + position
                if days.indices.contains(index) { chosen.insert(days[index]) }
            }
            let picked = days.filter { chosen.contains($0) }
            guard !picked.isEmpty else { return .advice("no position in BYSETPOS falls on one of the \(days.count) weekdays in BYDAY: the rule never matches") }
            return .equivalent(Rule(parts: rule.replacing("BYDAY", with: picked.joined(separator: ","))).replacing("BYSETPOS", with: nil))
        },
        example: Example(rule: "FREQ=WEEKLY;BYDAY=MO,TU;BYSETPOS=1;COUNT=3", start: "20250908T090000",
                         rfc5545: ["20250908T090000", "20250915T090000", "20250922T090000"],
                         libical: ["20250908T090000", "20250909T090000", "20250915T090000"]))

    /// WEEKLY every n > 1 weeks on several weekdays with a week that starts on another day than Monday.
    static let weeklyIntervalWeekStart = LibicalDeviation(
        id: "weekly-interval-wkst",
        shape: "FREQ=WEEKLY with INTERVAL above 1, several BYDAY weekdays, WKST other than MO and a start on a weekday before WKST",
        matches: { rule in
            // libical counts the weeks from a Monday: it errs only when DTSTART lies between Monday and WKST.
            guard rule.frequency == "WEEKLY", rule.interval > 1, rule.list("BYDAY").count > 1,
                  let weekStart = weekdays.firstIndex(of: rule.value("WKST") ?? "MO"), weekStart > 0 else { return false }
            return rule.startWeekday.map { $0 < weekStart } ?? true
        },
        remedy: { rule in
            // The weeks group the same days whether they start on WKST or on Monday when no chosen day lies
            // between Monday and WKST: WKST then changes nothing.
            let start = weekdays.firstIndex(of: rule.value("WKST") ?? "MO") ?? 0
            let indices = rule.list("BYDAY").compactMap { weekdays.firstIndex(of: $0) }
            if indices.allSatisfy({ $0 >= start }) || indices.allSatisfy({ $0 < start }) {
                return .equivalent(rule.replacing("WKST", with: nil))
            }
            return .advice("submit one series per weekday (each with its own BYDAY), or let the weeks start on Monday (WKST=MO)")
        },
        example: Example(rule: "FREQ=WEEKLY;INTERVAL=3;BYDAY=WE,TU;WKST=SA;COUNT=3", start: "20250423T090000",
                         rfc5545: ["20250423T090000", "20250513T090000", "20250514T090000"],
                         libical: ["20250506T090000", "20250507T090000", "20250527T090000"]))

    /// YEARLY with BYMONTHDAY but no BYMONTH: libical keeps DTSTART's month only in some years.
    static let yearlyMonthDayWithoutMonth = LibicalDeviation(
        id: "yearly-bymonthday", shape: "FREQ=YEARLY with BYMONTHDAY and no BYMONTH",
        matches: { $0.frequency == "YEARLY" && $0.has("BYMONTHDAY") && !$0.has("BYMONTH") && !$0.has("BYWEEKNO") && !$0.has("BYYEARDAY") },
        remedy: { rule in
            // Every month listed is the same year's set, unless a weekday has an ordinal: with BYMONTH, 2TU counts
            // within the month instead of the year.
            guard !rule.list("BYDAY").contains(where: { Int($0.dropLast(2)) != nil }) else {
                return .advice("name the months in BYMONTH and count the weekdays within them")
            }
            return .equivalent(rule.replacing("BYMONTH", with: "1,2,3,4,5,6,7,8,9,10,11,12"))
        },
        example: Example(rule: "FREQ=YEARLY;BYMONTHDAY=13,5,28;COUNT=3", start: "20260228T090000",
                         rfc5545: ["20260228T090000", "20260305T090000", "20260313T090000"],
                         libical: ["20260228T090000", "20270205T090000", "20270213T090000"]))

    /// DAILY with a day counted from the month's end.
    static let dailyNegativeMonthDay = LibicalDeviation(
        id: "daily-negative-bymonthday", shape: "FREQ=DAILY with a negative BYMONTHDAY",
        matches: { $0.frequency == "DAILY" && $0.list("BYMONTHDAY").contains { $0.hasPrefix("-") } },
        remedy: { rule in
            // Every day that matches the BY parts, one day apart: with INTERVAL 1 that is a monthly rule's set.
            guard rule.interval == 1, !rule.has("BYSETPOS") else {
                return .advice("write FREQ=MONTHLY with the same BYMONTHDAY (and BYDAY, BYMONTH) if the series is meant to repeat every month")
            }
            return .equivalent(Rule(parts: rule.replacing("FREQ", with: "MONTHLY")).replacing("INTERVAL", with: nil))
        },
        example: Example(rule: "FREQ=DAILY;BYMONTHDAY=-1;COUNT=3", start: "20260831T090000",
                         rfc5545: ["20260831T090000", "20260930T090000", "20261031T090000"], libical: []))

    /// BYSETPOS over month days counted from both ends: a day named twice (30 and -2 in a month of 31) is
    /// two candidates to libical, one date to RFC 5545.
    static let setPositionMixedMonthDays = LibicalDeviation(
        id: "bysetpos-mixed-bymonthday",
        shape: "BYSETPOS with a BYMONTHDAY that names one day from both the start and the end of a month",
        matches: { rule in
            // libical keeps 30 and -2 of a 31-day month as two candidates: only days that coincide mislead it.
            guard rule.has("BYSETPOS") else { return false }
            let days = rule.list("BYMONTHDAY").compactMap { Int($0) }
            let months = rule.list("BYMONTH").compactMap { Int($0) }
            let lengths = Set((months.isEmpty ? Array(1...12) : months).flatMap { $0 == 2 ? [28, 29] : [LocalDate.daysIn(month: $0, year: 2001)] })
            return days.contains { positive in
                positive > 0 && days.contains { negative in negative < 0 && lengths.contains(positive - negative - 1) }
            }
        },
        remedy: { _ in .advice("count every BYMONTHDAY from the same end of the month") },
        example: Example(rule: "FREQ=MONTHLY;BYMONTHDAY=-2,30,-1;BYSETPOS=2,-2;COUNT=2", start: "20250830T090000",
                         rfc5545: ["20250830T090000", "20250831T090000"], libical: ["20250831T090000", "20250930T090000"]))

    /// Week numbers: libical and RFC 5545 readers disagree on the week's days and the years' first weeks.
    static let weekNumber = LibicalDeviation(
        id: "byweekno", shape: "BYWEEKNO",
        matches: { $0.has("BYWEEKNO") },
        remedy: { _ in .advice("name the months and days instead (BYMONTH with BYMONTHDAY or BYDAY)") },
        example: Example(rule: "FREQ=YEARLY;INTERVAL=2;BYDAY=FR,SA,TU;BYWEEKNO=52,1;WKST=MO;COUNT=3", start: "20251223T090000",
                         rfc5545: ["20251223T090000", "20251226T090000", "20251227T090000"],
                         libical: ["20251231T090000", "20251223T090000", "20251226T090000"]))

    /// BYYEARDAY limited by BYMONTH or BYMONTHDAY: libical finds no date at all.
    static let yearDayWithMonth = LibicalDeviation(
        id: "byyearday-bymonth", shape: "BYYEARDAY together with BYMONTH or BYMONTHDAY",
        matches: { $0.has("BYYEARDAY") && ($0.has("BYMONTH") || $0.has("BYMONTHDAY")) },
        remedy: { _ in .advice("give either BYYEARDAY alone or BYMONTH with BYMONTHDAY") },
        example: Example(rule: "FREQ=YEARLY;BYMONTH=10,12;BYYEARDAY=-1;COUNT=2", start: "20251231T090000",
                         rfc5545: ["20251231T090000", "20261231T090000"], libical: []))
}

extension LibicalDeviation.Rule {
    init(parts text: String) {
        let split = text.split(separator: ";").map { piece -> (name: String, value: String) in
            let pair = piece.split(separator: "=", maxSplits: 1)
            return (String(pair[0]), pair.count > 1 ? String(pair[1]) : "")
        }
        parts = split
        frequency = split.first { $0.name == "FREQ" }?.value ?? ""
        startWeekday = nil
    }

}
