import MeetingModel

/// Clause 4: city and county party committees and governments co-ordinate their annual comprehensive meetings
/// so that they do not pile up at the turn of the year.
public struct YearEndClustering: Rule {
    public let id = RuleID.yearEndClustering
    public let clause = "4"
    public let sentence = "市县两级党委和政府对年度综合性会议加大统筹力度，防止年底年初扎堆开会"
    public let summary = "comprehensive meetings of city/county organizers of one region in the window_start..window_end window: at most max_per_7_days in any 7 consecutive days around this one, at most max_in_window in the window"
    public let defaultSeverity = Severity.reject
    public let waiverPolicy = WaiverPolicy.waivable
    public let settings = [
        SettingSpec("window_start", .monthDay, default: .text("12-01"), help: "first day (MM-DD) of the year-end window"),
        SettingSpec("window_end", .monthDay, default: .text("01-31"), help: "last day (MM-DD) of the window; before window_start means the next year"),
        SettingSpec("max_per_7_days", .integer(minimum: 1, maximum: 10000), default: .integer(2), help: "comprehensive meetings in any 7 consecutive calendar days"),
        SettingSpec("max_in_window", .integer(minimum: 1, maximum: 100000), default: .integer(6), help: "comprehensive meetings in the whole window"),
    ]
    public let fix = Bilingual(zh: "统筹安排年度综合性会议：改期到窗口之外或错开一周以上，或合并召开；确需召开的附上批准（rule 为 year-end-clustering）。",
                               en: "Co-ordinate the annual comprehensive meetings: move this one out of the window or a week away from the others, merge them, or add an approval naming year-end-clustering.")

    public init() {}

    /// The window that contains `day`, if any; it may cross the new year.
    public static func window(containing day: LocalDate, start: (month: Int, day: Int), end: (month: Int, day: Int)) -> ClosedRange<LocalDate>? {
        func date(_ year: Int, _ monthDay: (month: Int, day: Int)) -> LocalDate {
            LocalDate(year: year, month: monthDay.month, day: min(monthDay.day, LocalDate.daysIn(month: monthDay.month, year: year)))
        }
        let crossesYear = (end.month, end.day) < (start.month, start.day)
        let candidates = crossesYear
            ? [date(day.year - 1, start)...date(day.year, end), date(day.year, start)...date(day.year + 1, end)]
            : [date(day.year, start)...date(day.year, end)]
        return candidates.first { $0.contains(day) }
    }

    /// The window that starts in `year` under `settings` (it may end in the next year).
    public static func window(startingIn year: Int, settings: RuleSettings) -> ClosedRange<LocalDate> {
        let start = settings.monthDay("window_start")
        let first = LocalDate(year: year, month: start.month, day: min(start.day, LocalDate.daysIn(month: start.month, year: year)))
        return window(containing: first, start: start, end: settings.monthDay("window_end"))!
    }

    /// The comprehensive meetings of city and county organizers of `region` in `window`: what the check
    /// counts against a request of that region, and what `meetingd report` shows.
    public static func query(region: String, window: ClosedRange<LocalDate>) -> MeetingQuery {
        MeetingQuery(kinds: [.comprehensive], organizerRegion: region, organizerLevels: [.city, .county], startDates: window)
    }

    /// The 7 consecutive days inside `window` that hold most of `dates` (the first such run on a tie), and
    /// how many they hold.
    public static func busiestSevenDays(_ dates: [LocalDate], in window: ClosedRange<LocalDate>) -> (run: ClosedRange<LocalDate>, count: Int) {
        let lastStart = max(window.lowerBound, window.upperBound.adding(days: -6))
        var best = (run: window.lowerBound...window.lowerBound.adding(days: 6), count: -1)
        var start = window.lowerBound
        while start <= lastStart {
            let run = start...start.adding(days: 6)
            let count = dates.filter { run.contains($0) }.count
            if count > best.count { best = (run, count) }
            start = start.adding(days: 1)
        }
        return best
    }

    public func check(_ context: RuleContext) throws -> [Finding] {
        let request = context.request
        let day = context.localStartDate
        guard request.kind == .comprehensive, request.organizer.level == .city || request.organizer.level == .county,
              let window = Self.window(containing: day, start: context.settings.monthDay("window_start"),
                                       end: context.settings.monthDay("window_end"))
        else { return [] }
        let inWindow = Self.query(region: request.organizer.region, window: window)
        let dates = try context.startDates(inWindow)
        var findings: [Finding] = []
        let perWeek = context.settings.integer("max_per_7_days")
        // Every run of 7 consecutive days that contains this meeting's day; report the most crowded.
        let (run, crowded) = (0..<7).map { offset -> (ClosedRange<LocalDate>, Int) in
            let run = day.adding(days: offset - 6)...day.adding(days: offset)
            return (run, dates.filter { run.contains($0) }.count)
        }.max { $0.1 < $1.1 }!
        if crowded + 1 > perWeek {
            // The run's days inside the window: the meetings the count above saw.
            var inRun = inWindow
            inRun.startDates = max(run.lowerBound, window.lowerBound)...min(run.upperBound, window.upperBound)
            findings.append(finding(
                zh: "\(request.organizer.region) 市县两级综合性会议在包含 \(day) 的连续 7 天内连同本次共 \(crowded + 1) 个，上限 \(perWeek) 个",
                en: "\(crowded + 1) comprehensive meetings of city/county organizers in \(request.organizer.region) within 7 consecutive days around \(day) with this one; the limit is \(perWeek)",
                counted: try context.listed(inRun), total: crowded))
        }
        let perWindow = context.settings.integer("max_in_window")
        if dates.count + 1 > perWindow {
            findings.append(finding(
                zh: "\(request.organizer.region) 市县两级综合性会议在 \(window.lowerBound)至\(window.upperBound) 连同本次共 \(dates.count + 1) 个，上限 \(perWindow) 个",
                en: "\(dates.count + 1) comprehensive meetings of city/county organizers in \(request.organizer.region) between \(window.lowerBound) and \(window.upperBound) with this one; the limit is \(perWindow)",
                counted: try context.listed(inWindow), total: dates.count))
        }
        return findings
    }

    public var examples: [RuleExample] {
        func comprehensive(_ id: String, _ day: String, system: String) -> MeetingRequest {
            Sample.meeting(id, kind: .comprehensive, from: "\(day) 09:00", to: "\(day) 11:30", type: .government, system: system)
        }
        let lateDecember = [comprehensive("dec-1", "2025-12-27", system: "教育"), comprehensive("dec-2", "2025-12-29", system: "卫生")]
        let spread = ["2025-12-01", "2025-12-08", "2025-12-15", "2025-12-22", "2026-01-05", "2026-01-12"].enumerated()
            .map { comprehensive("spread-\($0)", $1, system: "系统\($0)") }
        return [
            .passes("two in a week", comprehensive("new", "2025-12-28", system: "交通"), after: [lateDecember[0]]),
            .passes("third outside the window", comprehensive("new", "2025-11-28", system: "交通"),
                    after: [comprehensive("nov-1", "2025-11-27", system: "教育"), comprehensive("nov-2", "2025-11-26", system: "卫生")]),
            .passes("other region", comprehensive("new", "2026-01-02", system: "交通").with { $0.organizer.region = "浙江省/宁波市" }, after: lateDecember),
            .fails("third within 7 days across the new year", comprehensive("new", "2026-01-02", system: "交通"), after: lateDecember),
            .fails("seventh in the window", comprehensive("new", "2026-01-26", system: "交通"), after: spread),
        ]
    }
}
