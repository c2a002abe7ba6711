import Foundation
import MeetingLedger
import MeetingModel
import MeetingRules
import MeetingSpool

/// The decision browser (`/decisions/`, `/decisions/<id>`, `/decisions.json`): decisions newest first, 50 a
/// page, filtered by id, unit (organizer or attendee), verdict, rule, dates and title; and one request's
/// whole history with its notes. It shows only what the ledger holds, through `ReportSQL`'s statements.
public struct DecisionBrowser {
    public static let pageSize = 50

    /// One decision as the browser lists it.
    public struct Row: Sendable, Equatable {
        public var seq: Int64
        public var requestID: String?
        public var revision: Int?
        public var action: String
        public var verdict: String
        public var decidedAt: Date
        public var node: String
        public var title: String?
        public var kind: String?
        public var organizerUnit: String?
        public var organizerRegion: String?
        public var date: String?
        public var destination: String
        /// The rules it found violated, then those it warned about.
        public var violations: [String]
        public var warnings: [String]
    }

    /// The filters and page of a listing, read from a URL's query; a bad value names its parameter.
    public struct Query: Sendable, Equatable {
        package var filter = ReportSQL.BrowserFilter()
        public var page = 1

        public init() {}

        public init(parameters: [(String, String)]) throws {
            func problem(_ name: String, _ value: String, _ why: String) -> ReportParameters.Problem {
                ReportParameters.Problem(description: "\(name): \(quoted(value)) \(why)")
            }
            for (name, value) in parameters where !value.isEmpty {
                switch name {
                case "id":
                    guard RequestParser.isValidID(value) else { throw problem(name, value, "is not a request id (A-Z a-z 0-9 . _ -, 1 to 128)") }
                    filter.id = value
                case "unit":
                    guard value.utf8.count <= 1000, !value.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
                        throw problem(name, value, "is not a unit name")
                    }
                    filter.unit = value.canonicalName
                case "verdict":
                    guard Verdict(rawValue: value) != nil else { throw problem(name, value, "is not one of approved, rejected, invalid, withdrawn") }
                    filter.verdict = value
                case "rule":
                    guard RuleID(rawValue: value) != nil else { throw problem(name, value, "is not a rule id (meetingd rules lists them)") }
                    filter.rule = value
                case "from", "to":
                    guard value.utf8.count == 10, let day = LocalDate(value) else { throw problem(name, value, "is not a date (YYYY-MM-DD)") }
                    if name == "from" { filter.from = day.description } else { filter.to = day.description }
                case "q":
                    guard value.count <= 200 else { throw problem(name, value, "is longer than 200 characters") }
                    guard !value.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
                        throw problem(name, value, "contains a control character")
                    }
                    filter.titleContains = value
                case "page":
                    guard value.utf8.count <= 6, value.allSatisfy(\.isASCII), let number = Int(value), number >= 1 else {
                        throw problem(name, value, "is not a page number (1 or more)")
                    }
                    page = number
                default:
                    continue  // unknown parameters are ignored
                }
            }
        }

        /// The query string of this listing at `page` (for the links to the pages before and after).
        public func queryString(page: Int) -> String {
            var items: [(String, String)] = []
            if let id = filter.id { items.append(("id", id)) }
            if let unit = filter.unit { items.append(("unit", unit)) }
            if let verdict = filter.verdict { items.append(("verdict", verdict)) }
            if let rule = filter.rule { items.append(("rule", rule)) }
            if let from = filter.from { items.append(("from", from)) }
            if let to = filter.to { items.append(("to", to)) }
            if let q = filter.titleContains { items.append(("q", q)) }
            if page > 1 { items.append(("page", String(page))) }
            return items.map { "\($0.0)=\(Self.encode($0.1))" }.joined(separator: "&")
        }

        static func encode(_ text: String) -> String {
            var allowed = CharacterSet.alphanumerics.intersection(CharacterSet(charactersIn: Unicode.Scalar(0)...Unicode.Scalar(127)))
            allowed.insert(charactersIn: "-._~")
            return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
        }
    }

    public struct Listing: Sendable, Equatable {
        public var query: Query
        public var rows: [Row]
        public var hasNext: Bool
    }

    /// One decision of a request's history, with its note.
    public struct Entry: Sendable, Equatable {
        public var row: Row
        /// The rejection note's text (a rejected proposal), as the spool's note has it.
        public var note: String?
    }

    let ledger: any Ledger
    let timeZone: TimeZone

    public init(ledger: any Ledger, timeZone: TimeZone) {
        self.ledger = ledger
        self.timeZone = timeZone
    }

    public func listing(_ query: Query) throws -> Listing {
        let offset = (query.page - 1) * Self.pageSize
        let statement = ReportSQL.browse(query.filter, limit: Self.pageSize + 1, offset: offset)
        let rows = try ledger.select(statement.sql, statement.values).map(Self.row)
        return Listing(query: query, rows: Array(rows.prefix(Self.pageSize)), hasNext: rows.count > Self.pageSize)
    }

    /// Every decision of request `id`, oldest first; empty when the ledger holds none.
    public func history(of id: String) throws -> [Entry] {
        try ledger.select(ReportSQL.history, [.text(id)]).map { (cells) throws -> Entry in
            let row = Self.row(cells)
            var note: String?
            if row.verdict == "rejected", row.action == "propose", case let .bytes(bytes) = cells[14],
               case let .success(.proposal(request)) = RequestParser().parseStored(bytes),
               let json = cells[13].text, let body = try? JSONDecoder().decode(DecisionBody.self, from: Data(json.utf8)) {
                var decision = body.decision(verdict: .rejected, requestID: row.requestID, revision: row.revision)
                // A stored finding names its counted meetings by id and date; the note shows their titles too.
                decision.assessment = try withCountedTitles(decision.assessment)
                note = Notes.rejection(request, decision, decidedAt: row.decidedAt)
            }
            return Entry(row: row, note: note)
        }
    }

    private func withCountedTitles(_ assessment: Assessment) throws -> Assessment {
        let ids = Array(assessment.countedIDs).sorted()
        guard !ids.isEmpty else { return assessment }
        let placeholders = Array(repeating: "?", count: ids.count).joined(separator: ",")
        var titles: [String: String] = [:]
        for cells in try ledger.select("SELECT id, title FROM meeting WHERE id IN (\(placeholders))", ids.map(LedgerCell.text)) {
            if let id = cells[0].text, let title = cells[1].text { titles[id] = title }
        }
        return assessment.withCountedTitles(titles)
    }

    /// Whether the ledger holds a calendar object for request `id` (it was approved, and maybe withdrawn since).
    public func hasCalendar(of id: String) throws -> Bool {
        try !ledger.select("SELECT 1 FROM meeting WHERE id = ?", [.text(id)]).isEmpty
    }

    /// The request's current calendar object (approved or cancelled), as its `.ics` in `approved/` has it.
    public func calendar(of id: String) throws -> [UInt8]? {
        guard let cells = try ledger.select("SELECT vevent, tzid, start_utc, end_utc FROM meeting WHERE id = ?", [.text(id)]).first,
              let vevent = cells[0].text, let zone = cells[1].text, let start = cells[2].real, let end = cells[3].real
        else { return nil }
        return try DecisionPipeline.calendar(Publication(vevent: vevent, timeZone: zone, start: Date(timeIntervalSince1970: start),
                                                         end: Date(timeIntervalSince1970: end), feedKeys: []))
    }

    static func row(_ cells: [LedgerCell]) -> Row {
        var violations: [String] = [], warnings: [String] = []
        if let json = cells[13].text, let body = try? JSONDecoder().decode(RecordedVerdicts.self, from: Data(json.utf8)) {
            violations = RecordedVerdicts.ids(body.assessment.violations).map(\.rawValue)
            warnings = RecordedVerdicts.ids(body.assessment.warnings).map(\.rawValue)
        }
        return Row(seq: cells[0].integer ?? 0, requestID: cells[1].text, revision: cells[2].integer.map(Int.init), action: cells[3].text ?? "",
                   verdict: cells[4].text ?? "", decidedAt: Date(timeIntervalSince1970: cells[5].real ?? 0), node: cells[6].text ?? "",
                   title: cells[7].text, kind: cells[8].text, organizerUnit: cells[9].text, organizerRegion: cells[10].text,
                   date: cells[11].text, destination: cells[12].text ?? "", violations: violations, warnings: warnings)
    }
}

extension DecisionBrowser.Row {
    public func json(timeZone: TimeZone) -> JSONValue {
        func text(_ value: String?) -> JSONValue { value.map(JSONValue.string) ?? .null }
        return .object([
            ("seq", .integer(Int(seq))), ("id", text(requestID)), ("revision", revision.map(JSONValue.integer) ?? .null),
            ("action", .string(action)), ("verdict", .string(verdict)),
            ("decided_at", .string(ReportBuilder.timestamp(decidedAt, in: timeZone))), ("node", .string(node)),
            ("title", text(title)), ("kind", text(kind)), ("organizer_unit", text(organizerUnit)), ("organizer_region", text(organizerRegion)),
            ("date", text(date)), ("destination", .string(destination)),
            ("violations", .array(violations.map(JSONValue.string))), ("warnings", .array(warnings.map(JSONValue.string))),
        ])
    }
}

extension DecisionBrowser.Listing {
    public func json(timeZone: TimeZone) -> JSONValue {
        .object([
            ("page", .integer(query.page)), ("per_page", .integer(DecisionBrowser.pageSize)),
            ("next", hasNext ? .string("/decisions.json?" + query.queryString(page: query.page + 1)) : .null),
            ("decisions", .array(rows.map { $0.json(timeZone: timeZone) })),
        ])
    }
}
