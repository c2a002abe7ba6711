import MeetingModel
import MeetingRules
import MeetingSpool

/// The report as one self-contained HTML page: inline CSS and SVG, no script, nothing fetched. Chinese first,
/// then English. Every chart has its numbers in a table under it (screen readers, copying into a document);
/// it prints on A4 and reads on a 390 px phone without the page scrolling sideways (wide tables scroll in
/// their own box). Built as a typed tree (`HTML`): every value from the ledger is escaped once, on rendering.
public enum ReportPage {
    public static func render(_ report: Report) -> String {
        let title = "会议年度报告 Meetings report \(report.year)" + (report.region.map { " · \($0)" } ?? "")
        return PageFrame.document(title: title, body: [
            .el("h1", [], title),
            .el("p", [("class", "meta")], "生成于 Generated \(report.generated) · 设置版本 Settings \(report.settings)"),
            totals(report),
            months(report),
            caps(report),
            yearEnd(report),
            townshipLoad(report),
            rejections(report),
        ])
    }

    // MARK: Sections

    private static func totals(_ report: Report) -> HTML {
        let items: [(String, Int)] = [
            ("批准 Approved", report.totals.approved), ("驳回 Rejected", report.totals.rejected), ("无效 Invalid", report.totals.invalid),
            ("撤回 Withdrawn", report.totals.withdrawn), ("豁免 Exempt", report.totals.exempt),
        ]
        return section("totals", "总数 Totals", [
            .el("div", [("class", "cards")], items.map { name, count in
                .el("div", [("class", "card")], [.el("span", [("class", "num big")], "\(count)"), .el("span", [], name)])
            }),
            table(["", "数量 Count"], items.map { [.text($0.0), number($0.1)] }),
            report.byKind.isEmpty ? .text("") : table(["类型 Kind", "批准 Approved", "驳回 Rejected"],
                                                      report.byKind.map { [.text($0.name), number($0.approved), number($0.rejected)] }),
        ])
    }

    private static func months(_ report: Report) -> HTML {
        let labels = (1...12).map { "\(report.year)-\($0.zeroPadded(2))" }
        let tallies = labels.map { label in report.byMonth.first { $0.name == label } ?? Report.Tally(name: label) }
        let highest = max(1, tallies.map { $0.approved + $0.rejected }.max() ?? 1)
        let (width, height, top, bottom) = (600.0, 200.0, 10.0, 24.0)
        let slot = width / 12
        var marks: [HTML] = [svgTitle("每月批准与驳回 Approved and rejected by month")]
        for (index, tally) in tallies.enumerated() {
            let x = Double(index) * slot + slot * 0.15
            let scale = (height - top - bottom) / Double(highest)
            let approvedHeight = Double(tally.approved) * scale
            let rejectedHeight = Double(tally.rejected) * scale
            let base = height - bottom
            marks.append(rect(x, base - approvedHeight, slot * 0.7, approvedHeight, "approved",
                              "\(tally.name) 批准 approved \(tally.approved)"))
            marks.append(rect(x, base - approvedHeight - rejectedHeight, slot * 0.7, rejectedHeight, "rejected",
                              "\(tally.name) 驳回 rejected \(tally.rejected)"))
            marks.append(svgText(x + slot * 0.35, height - 8, "\(index + 1)", anchor: "middle"))
        }
        return section("months", "每月 By month", [
            svg(width: width, height: height, "chart-months", marks),
            legend([("approved", "批准 Approved"), ("rejected", "驳回 Rejected")]),
            table(["月份 Month", "批准 Approved", "驳回 Rejected"], tallies.map { [.text($0.name), number($0.approved), number($0.rejected)] }),
        ])
    }

    private static func caps(_ report: Report) -> HTML {
        var groups: [HTML] = [.el("p", [], "每个键一行：已用与上限，满额的标出。One row per key: used against the limit; full ones are marked.")]
        var rules: [RuleID] = []
        for cap in report.caps where !rules.contains(cap.rule) { rules.append(cap.rule) }
        if rules.isEmpty { groups.append(.el("p", [("class", "empty")], "本年尚无计数的会议。No counted meetings this year.")) }
        for rule in rules {
            let uses = report.caps.filter { $0.rule == rule }
            groups.append(.el("h3", [], rule.rawValue))
            groups.append(table(["键 Key", "期间 Period", "", "已用 Used", "上限 Limit", "剩余 Remaining", "会议 Meetings"], uses.map { cap in
                [.text(cap.keyText), .text(cap.period), capBar(cap), number(cap.used), number(cap.limit),
                 .el("span", [("class", cap.isFull ? "num full" : "num")], cap.isFull ? "\(cap.remaining) 已满 full" : "\(cap.remaining)"),
                 .text(cap.meetings.joined(separator: ", "))]
            }))
        }
        return section("caps", "上限 Caps", groups)
    }

    private static func capBar(_ cap: Report.CapUse) -> HTML {
        let share = min(1, Double(cap.used) / Double(max(cap.limit, 1)))
        return svg(width: 100, height: 12, cap.isFull ? "bar full" : "bar", [
            svgTitle("\(cap.used) / \(cap.limit)"),
            rect(0, 0, 100, 12, "track", nil),
            rect(0, 0, share * 100, 12, cap.isFull ? "used full" : "used", nil),
        ])
    }

    private static func yearEnd(_ report: Report) -> HTML {
        var content: [HTML] = [.el("p", [], "窗口内每天一格，颜色按会议数；框出最忙的连续 7 天。One cell a day of the window, coloured by count; the busiest 7 days outlined.")]
        if report.yearEnd.isEmpty { content.append(.el("p", [("class", "empty")], "窗口内尚无市县综合性会议。No city or county comprehensive meetings in the window.")) }
        for region in report.yearEnd {
            content.append(.el("h3", [], "\(region.region) · \(region.window.lowerBound) — \(region.window.upperBound)"))
            content.append(.el("p", [], "窗口内 \(region.inWindow) / \(region.limitWindow) in the window; 最忙 7 天 busiest 7 days "
                                    + "\(region.busiest.lowerBound) — \(region.busiest.upperBound): \(region.busiestCount) / \(region.limitSevenDays)"))
            content.append(calendar(region))
            content.append(table(["日期 Date", "会议数 Count", "会议 Meetings"],
                                 region.days.map { [.text($0.date.description), number($0.count), .text($0.meetings.joined(separator: ", "))] }))
        }
        return section("year-end", "年底年初 The year-end window", content)
    }

    /// One cell a day, a column a week (Monday on top), coloured by count against the 7-day limit.
    private static func calendar(_ region: Report.YearEndRegion) -> HTML {
        let cell = 16.0, left = 28.0, top = 16.0
        func weekday(_ day: LocalDate) -> Int { ((day.dayNumber + 3) % 7 + 7) % 7 }
        let firstMonday = region.window.lowerBound.adding(days: -weekday(region.window.lowerBound))
        let weeks = (region.window.upperBound.dayNumber - firstMonday.dayNumber) / 7 + 1
        let counts = Dictionary(region.days.map { ($0.date, $0.count) }, uniquingKeysWith: +)
        var marks: [HTML] = [svgTitle("\(region.region) 年底年初每日会议 meetings a day")]
        for (row, name) in ["一", "三", "五"].enumerated() { marks.append(svgText(2, top + Double(row * 2) * cell + 12, name, anchor: "start")) }
        var day = region.window.lowerBound
        var outlined: [HTML] = []
        while day <= region.window.upperBound {
            let column = (day.dayNumber - firstMonday.dayNumber) / 7
            let x = left + Double(column) * cell, y = top + Double(weekday(day)) * cell
            let count = counts[day] ?? 0
            let level = count == 0 ? 0 : min(4, 1 + (count - 1) * 3 / max(region.limitSevenDays, 1))
            marks.append(rect(x, y, cell - 2, cell - 2, "heat\(level)", "\(day): \(count)"))
            if region.busiestCount > 0, region.busiest.contains(day) {
                outlined.append(rect(x - 1, y - 1, cell, cell, "busiest", nil))
            }
            if day.day == 1 || day == region.window.lowerBound { marks.append(svgText(x, top - 4, "\(day.month)月", anchor: "start")) }
            day = day.adding(days: 1)
        }
        return svg(width: left + Double(weeks) * cell + 4, height: top + 7 * cell + 4, "chart-calendar", marks + outlined)
    }

    private static func townshipLoad(_ report: Report) -> HTML {
        let uses = report.caps.filter { $0.rule == .townshipLeaderLoad }
        var regions: [String] = []
        for use in uses where !regions.contains(use.keyText) { regions.append(use.keyText) }
        var content: [HTML] = [.el("p", [], "乡镇（村）主要负责同志每月被要求参加的会议数，按地区与月份。Meetings a month that require a township or village principal, by region and month.")]
        guard !regions.isEmpty else {
            content.append(.el("p", [("class", "empty")], "本年没有。None this year."))
            return section("township-load", "乡镇负责同志负担 Township-leader load", content)
        }
        let cell = 26.0, rowHeight = 20.0, left = 150.0, top = 18.0
        var marks: [HTML] = [svgTitle("乡镇负责同志负担 Township-leader load")]
        for month in 1...12 { marks.append(svgText(left + Double(month - 1) * cell + cell / 2, 12, "\(month)", anchor: "middle")) }
        for (row, region) in regions.enumerated() {
            let y = top + Double(row) * rowHeight
            let short = region.split(separator: "/").last.map(String.init) ?? region
            let label: [(name: StaticString, value: String)] = [("x", "2"), ("y", format(y + 14)), ("class", "label")]
            marks.append(.el("text", label, [svgTitle(region), .text(short)]))
            for month in 1...12 {
                let period = "\(report.year)-\(month.zeroPadded(2))"
                let use = uses.first { $0.keyText == region && $0.period == period }
                let level = use.map { min(4, 1 + ($0.used - 1) * 3 / max($0.limit, 1)) } ?? 0
                let x = left + Double(month - 1) * cell
                marks.append(rect(x, y, cell - 2, rowHeight - 2, use?.isFull == true ? "heat4 full" : "heat\(level)",
                                  "\(region) \(period): \(use?.used ?? 0) / \(use?.limit ?? 0)"))
                if let use { marks.append(svgText(x + cell / 2 - 1, y + 13, "\(use.used)", anchor: "middle")) }
            }
        }
        content.append(svg(width: left + 12 * cell + 4, height: top + Double(regions.count) * rowHeight + 4, "chart-township", marks))
        content.append(table(["地区 Region", "月份 Month", "已用 Used", "上限 Limit"], uses.map { use in
            [.text(use.keyText), .text(use.period), number(use.used), .el("span", [("class", use.isFull ? "num full" : "num")], "\(use.limit)")]
        }))
        return section("township-load", "乡镇负责同志负担 Township-leader load", content)
    }

    private static func rejections(_ report: Report) -> HTML {
        let highest = max(1, report.rejectionsByRule.map(\.count).max() ?? 1, report.rejectionsByOrganizer.map(\.count).max() ?? 1)
        func bars(_ rows: [(String, Int)], _ name: String) -> HTML {
            let rowHeight = 18.0
            var marks: [HTML] = [svgTitle(name)]
            for (index, row) in rows.enumerated() {
                let y = Double(index) * rowHeight
                marks.append(rect(0, y + 2, 400 * Double(row.1) / Double(highest), rowHeight - 4, "rejected", "\(row.0): \(row.1)"))
                marks.append(svgText(404, y + 13, "\(row.1)", anchor: "start"))
            }
            return svg(width: 440, height: max(rowHeight, Double(rows.count) * rowHeight), "chart-bars", marks)
        }
        return section("rejections", "驳回原因 Rejections", [
            .el("h3", [], "按规则 By rule"),
            bars(report.rejectionsByRule.map { ($0.rule.rawValue, $0.count) }, "按规则驳回 Rejections by rule"),
            table(["规则 Rule", "条款 Clause", "原文 Sentence", "次数 Count"], report.rejectionsByRule.map {
                [.text($0.rule.rawValue), .text($0.clause), .el("q", [("lang", "zh")], $0.sentence), number($0.count)]
            }),
            .el("h3", [], "按组织单位 By organizer"),
            bars(report.rejectionsByOrganizer.map { ($0.unit, $0.count) }, "按组织单位驳回 Rejections by organizer"),
            table(["组织单位 Organizer", "次数 Count"], report.rejectionsByOrganizer.map { [.text($0.unit), number($0.count)] }),
        ])
    }

    // MARK: Pieces

    private static func section(_ id: String, _ title: String, _ children: [HTML]) -> HTML {
        let attributes: [(name: StaticString, value: String)] = [("id", id)]
        return .el("section", attributes, [.el("h2", [], title)] + children)
    }

    static func table(_ headers: [String], _ rows: [[HTML]]) -> HTML {
        .el("div", [("class", "table")], [.el("table", [], [
            .el("thead", [], [.el("tr", [], headers.map { .el("th", [("scope", "col")], $0) })]),
            .el("tbody", [], rows.map { cells in .el("tr", [], cells.map { .el("td", [], [$0]) }) }),
        ])])
    }

    private static func number(_ value: Int) -> HTML { .el("span", [("class", "num")], "\(value)") }

    private static func legend(_ items: [(String, String)]) -> HTML {
        .el("p", [("class", "legend")], items.map { item in
            .el("span", [], [.el("i", [("class", "swatch " + item.0)], ""), .text(" " + item.1 + " ")])
        })
    }

    private static func format(_ value: Double) -> String {
        let rounded = (value * 10).rounded() / 10
        return rounded == rounded.rounded() ? String(Int(rounded)) : String(rounded)
    }

    private static func svg(width: Double, height: Double, _ className: String, _ children: [HTML]) -> HTML {
        let attributes: [(name: StaticString, value: String)] = [
            ("xmlns", "http://www.w3.org/2000/svg"), ("viewBox", "0 0 \(format(width)) \(format(height))"),
            ("width", format(width)), ("height", format(height)), ("class", className), ("role", "img")]
        return .el("svg", attributes, children)
    }

    private static func svgTitle(_ text: String) -> HTML { .el("title", [], text) }

    private static func rect(_ x: Double, _ y: Double, _ width: Double, _ height: Double, _ className: String, _ title: String?) -> HTML {
        let attributes: [(name: StaticString, value: String)] = [
            ("x", format(x)), ("y", format(y)), ("width", format(max(0, width))), ("height", format(max(0, height))), ("class", className)]
        return .el("rect", attributes, title.map { [svgTitle($0)] } ?? [])
    }

    private static func svgText(_ x: Double, _ y: Double, _ text: String, anchor: String) -> HTML {
        let attributes: [(name: StaticString, value: String)] = [("x", format(x)), ("y", format(y)), ("text-anchor", anchor)]
        return .el("text", attributes, text)
    }
}

