import Foundation
import MeetingModel
import MeetingRules
import MeetingSpool

/// The decision browser's pages, in the report's frame: a filter form (plain GET, no script), the rows, and
/// links to the pages before and after; and one request's history with its notes and its calendar.
public enum BrowserPage {
    static let verdictNames = ["approved": "批准 approved", "rejected": "驳回 rejected", "invalid": "无效 invalid", "withdrawn": "撤回 withdrawn"]

    public static func listing(_ listing: DecisionBrowser.Listing, timeZone: TimeZone) -> String {
        let filter = listing.query.filter
        func field(_ label: String, _ name: StaticString, _ value: String?, type: String = "text") -> HTML {
            let attributes: [(name: StaticString, value: String)] = [("type", type), ("name", name.description), ("value", value ?? "")]
            return .el("label", [], [.text(label + " "), .el("input", attributes, [])])
        }
        let form = HTML.el("form", [("method", "get"), ("action", "/decisions/"), ("class", "filters")], [
            field("编号 id", "id", filter.id), field("单位 unit", "unit", filter.unit), field("结论 verdict", "verdict", filter.verdict),
            field("规则 rule", "rule", filter.rule), field("自 from", "from", filter.from, type: "date"), field("至 to", "to", filter.to, type: "date"),
            field("标题含 title has", "q", filter.titleContains), .el("button", [("type", "submit")], "筛选 Filter"),
        ])
        let rows: [[HTML]] = listing.rows.map { row in
            [.text(ReportBuilder.timestamp(row.decidedAt, in: timeZone)),
             row.requestID.map { id in link("/decisions/" + DecisionBrowser.Query.encode(id), id) } ?? .text("—"),
             .text(row.revision.map(String.init) ?? ""), .el("span", [("class", "verdict " + row.verdict)], verdictNames[row.verdict] ?? row.verdict),
             .text(row.title ?? ""), .text(row.organizerUnit ?? ""), .text(row.date ?? ""),
             .text((row.violations + row.warnings).joined(separator: ", "))]
        }
        var pages: [HTML] = []
        if listing.query.page > 1 {
            pages.append(link("/decisions/?" + listing.query.queryString(page: listing.query.page - 1), "← 上一页 Newer"))
            pages.append(.text(" "))
        }
        if listing.hasNext { pages.append(link("/decisions/?" + listing.query.queryString(page: listing.query.page + 1), "下一页 Older →")) }
        return PageFrame.document(title: "决定记录 Decisions", body: [
            .el("h1", [], "决定记录 Decisions"),
            .el("p", [("class", "meta")], "最新的在前，每页 \(DecisionBrowser.pageSize) 条。Newest first, \(DecisionBrowser.pageSize) a page; page \(listing.query.page). "),
            form,
            rows.isEmpty ? .el("p", [("class", "empty")], "没有符合的决定。No decisions match.")
                : ReportPage.table(["决定时间 Decided", "编号 Id", "版本 Rev", "结论 Verdict", "标题 Title", "组织单位 Organizer", "日期 Date", "规则 Rules"], rows),
            .el("p", [("class", "pages")], pages),
        ])
    }

    public static func history(id: String, _ entries: [DecisionBrowser.Entry], hasCalendar: Bool, timeZone: TimeZone) -> String {
        var body: [HTML] = [.el("h1", [], "请求 Request " + id)]
        if hasCalendar {
            body.append(.el("p", [], [link("/decisions/" + DecisionBrowser.Query.encode(id) + ".ics", "日历 Calendar (.ics)")]))
        }
        body.append(.el("p", [], [link("/decisions/?id=" + DecisionBrowser.Query.encode(id), "在列表中 In the list")]))
        for entry in entries {
            let row = entry.row
            let heading = "#\(row.seq) · " + (row.action == "withdraw" ? "撤回 withdrawal" : "版本 revision \(row.revision.map(String.init) ?? "—")")
                + " · " + (verdictNames[row.verdict] ?? row.verdict)
            var items: [HTML] = [
                .el("h2", [], heading),
                ReportPage.table(["", ""], [
                    [.text("标题 Title"), .text(row.title ?? "")],
                    [.text("组织单位 Organizer"), .text([row.organizerUnit, row.organizerRegion].compactMap { $0 }.joined(separator: " · "))],
                    [.text("日期 Date"), .text(row.date ?? "")],
                    [.text("决定时间 Decided"), .text(ReportBuilder.timestamp(row.decidedAt, in: timeZone) + (row.node.isEmpty ? "" : " · " + row.node))],
                    [.text("去向 Moved to"), .text(row.destination)],
                    [.text("违反 Violations"), .text(row.violations.joined(separator: ", "))],
                    [.text("提醒 Warnings"), .text(row.warnings.joined(separator: ", "))],
                ]),
            ]
            if let note = entry.note {
                items.append(.el("h3", [], "驳回说明 Rejection note"))
                items.append(.el("pre", [("class", "note")], note))
            }
            body.append(.el("section", [], items))
        }
        return PageFrame.document(title: "请求 Request \(id)", body: body)
    }

    static func link(_ href: String, _ text: String) -> HTML {
        let attributes: [(name: StaticString, value: String)] = [("href", href)]
        return .el("a", attributes, text)
    }
}
