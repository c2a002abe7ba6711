/// The frame every page of meetingd shares: head, style and the links between the feeds index, the report
/// and the decision browser.
public enum PageFrame {
    /// `linksPages`: the navigation to the report and the browser (left out where `pages: false` turns them off).
    public static func document(title: String, body: [HTML], linksPages: Bool = true) -> String {
        HTML.el("html", [("lang", "zh-CN")], [
            .el("head", [], [
                .el("meta", [("charset", "utf-8")]),
                .el("meta", [("name", "viewport"), ("content", "width=device-width, initial-scale=1")]),
                // No icon to fetch: a browser would otherwise ask for /favicon.ico.
                .el("link", [("rel", "icon"), ("href", "data:,")]),
                .el("title", [], title),
                .el("style", [], [.trusted(css)]),
            ]),
            .el("body", [], (linksPages ? [navigation] : []) + [.el("main", [], body)]),
        ]).document()
    }

    public static let navigation = HTML.el("nav", [], [
        .el("a", [("href", "/")], "订阅源 Feeds"), .text(" · "),
        .el("a", [("href", "/report/")], "年度报告 Report"), .text(" · "),
        .el("a", [("href", "/decisions/")], "决定记录 Decisions"),
    ])

    public static let css: StaticString = """
        :root{--ink:#1b1b1b;--muted:#5c5c5c;--line:#d0d0d0;--ok:#2f7d4f;--no:#b3261e;--h0:#ececec;--h1:#fde2b3;--h2:#f9b56b;--h3:#e8772e;--h4:#b3261e}
        *{box-sizing:border-box}
        body{margin:0;padding:12px;font:15px/1.5 "Noto Sans CJK SC","Source Han Sans SC","PingFang SC",sans-serif;color:var(--ink);max-width:1100px;margin-inline:auto}
        nav{padding:6px 0;border-bottom:1px solid var(--line)}
        nav a{color:#0b57d0}
        h1,h2,h3,p,li{overflow-wrap:anywhere}
        h1{font-size:1.4em;margin:.6em 0 .2em} h2{font-size:1.2em;border-bottom:2px solid var(--ink);margin-top:1.6em} h3{font-size:1.05em}
        .meta,.legend,.empty{color:var(--muted)}
        section{break-inside:avoid-page}
        .cards{display:flex;flex-wrap:wrap;gap:8px}
        .card{border:1px solid var(--line);border-radius:6px;padding:6px 12px;display:flex;flex-direction:column;min-width:7em}
        .big{font-size:1.6em;font-weight:600}
        .table{max-width:100%;overflow-x:auto;margin:.5em 0}
        table{border-collapse:collapse;width:100%}
        th,td{border-bottom:1px solid var(--line);padding:3px 6px;text-align:left;vertical-align:top;overflow-wrap:anywhere}
        .num{font-variant-numeric:tabular-nums}
        .full{color:var(--no);font-weight:600}
        svg{max-width:100%;height:auto;display:block;margin:.5em 0}
        svg text{font-size:10px;fill:var(--ink)}
        svg.chart-months{width:100%;max-width:760px} svg.chart-calendar{width:100%;max-width:420px}
        svg.chart-township{width:100%;max-width:640px} svg.chart-bars{width:100%;max-width:640px}
        svg.bar{width:80px;min-width:80px;max-width:none;height:12px;margin:0}
        th,.num,.full{white-space:nowrap}
        td:first-child{min-width:6em}
        rect.approved,.swatch.approved{fill:var(--ok);background:var(--ok)}
        rect.rejected,.swatch.rejected{fill:var(--no);background:var(--no)}
        rect.track{fill:var(--h0)} rect.used{fill:var(--ok)} rect.used.full{fill:var(--no)}
        .heat0{fill:var(--h0)} .heat1{fill:var(--h1)} .heat2{fill:var(--h2)} .heat3{fill:var(--h3)} .heat4{fill:var(--h4)}
        rect.full{stroke:var(--ink);stroke-width:1}
        rect.busiest{fill:none;stroke:var(--ink);stroke-width:2}
        .swatch{display:inline-block;width:.9em;height:.9em;vertical-align:middle}
        q{quotes:"「" "」"}
        .filters{display:flex;flex-wrap:wrap;gap:6px 12px;margin:.5em 0} .filters input{max-width:100%}
        pre.note{white-space:pre-wrap;overflow-wrap:anywhere;background:#f6f6f6;padding:8px;border-radius:4px}
        .verdict.approved{color:var(--ok)} .verdict.rejected{color:var(--no)}
        @media print{@page{size:A4;margin:14mm} body{padding:0;font-size:10.5pt} nav{display:none} svg,table,tr{break-inside:avoid} .table{overflow:visible}}
        """
}
