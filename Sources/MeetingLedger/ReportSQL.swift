import Foundation
import MeetingModel
import MeetingRules

/// The tables and statements of reports and the decision browser, shared by every ledger backend like the
/// rules' `CountPlan`: written once with `?` placeholders, in SQL that SQLite and PostgreSQL read alike.
/// Every statement reads only what its year and organizer region (or its filter's key) hold, through an index
/// made for it: a report's cost follows what the year and region hold, not the ledger's size.
package enum ReportSQL {
    package enum Dialect { case sqlite, postgresql }

    /// The decision row's subject columns (`DecisionSubject`): `year` is the first occurrence's (an invalid
    /// file's: the year it was decided, in UTC), `last_date` the last occurrence's local date.
    package static func subjectColumns(_ dialect: Dialect) -> [String] {
        let text = dialect == .postgresql ? "TEXT COLLATE \"C\"" : "TEXT"
        return ["title \(text)", "kind \(text)", "organizer_unit \(text)", "organizer_region \(text)", "local_date \(text)",
                "last_date \(text)", "year INTEGER"]
    }

    package static func subjectTables(_ dialect: Dialect) -> [String] {
        let text = dialect == .postgresql ? "TEXT COLLATE \"C\"" : "TEXT"
        let withoutRowID = dialect == .sqlite ? " WITHOUT ROWID" : ""
        return [
            // The browser's `unit` and `rule` filters, newest first: one index range each.
            "CREATE TABLE decision_unit (unit \(text) NOT NULL, seq BIGINT NOT NULL, PRIMARY KEY (unit, seq))\(withoutRowID)",
            "CREATE TABLE decision_rule (rule \(text) NOT NULL, seq BIGINT NOT NULL, PRIMARY KEY (rule, seq))\(withoutRowID)",
            // A report's decisions: its year, then its organizer region (equal or under).
            "CREATE INDEX decision_by_year ON decision (year, organizer_region)",
            // Series, which count in later years too: few, so their own small index.
            "CREATE INDEX decision_series_by_year ON decision (year, organizer_region) WHERE last_date > local_date",
            // One request's history (`/decisions/<id>`), invalid files with its id included.
            "CREATE INDEX decision_by_request_id ON decision (request_id, seq)",
            // The township-leader load's keys of one year.
            "CREATE INDEX principal_by_year ON meeting_principal_region ((substr(local_date, 1, 4)), region)",
        ]
    }

    package static let setSubject = """
        UPDATE decision SET title = ?, kind = ?, organizer_unit = ?, organizer_region = ?, local_date = ?, last_date = ?, year = ?
        WHERE seq = ?
        """

    package static func subjectValues(_ subject: DecisionSubject) -> [LedgerCell] {
        [.text(subject.title), .text(subject.kind.rawValue), .text(subject.organizerUnit), .text(subject.organizerRegion),
         .text(subject.firstDate.description), .text(subject.lastDate.description), .integer(Int64(subject.firstDate.year))]
    }

    /// The subject columns a decision row is inserted with: its subject's, an invalid file's year alone, or
    /// nothing (a scratch ledger's rows).
    package static let subjectColumnNames = "title, kind, organizer_unit, organizer_region, local_date, last_date, year"

    package static func insertedSubject(_ subject: DecisionSubject?, verdict: Verdict, decidedAt: Date, rulesOnly: Bool) -> [LedgerCell] {
        if rulesOnly { return Array(repeating: .null, count: 7) }
        if let subject { return subjectValues(subject) }
        return Array(repeating: .null, count: 6) + [verdict == .invalid ? .integer(Int64(utcYear(decidedAt))) : .null]
    }

    /// Migrating: invalid files set aside before, counted in the year they were decided (UTC).
    package static func invalidYearsBackfill(_ dialect: Dialect) -> String {
        let year = dialect == .sqlite ? "CAST(strftime('%Y', decided_at, 'unixepoch') AS INTEGER)"
            : "CAST(EXTRACT(YEAR FROM to_timestamp(decided_at) AT TIME ZONE 'UTC') AS INTEGER)"
        return "UPDATE decision SET year = \(year) WHERE verdict = 'invalid' AND year IS NULL"
    }

    /// An invalid file's year: the year it was decided (UTC), with no region — counted only in a report of every region.
    package static func utcYear(_ date: Date) -> Int {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar.component(.year, from: date)
    }

    package static let insertUnit = "INSERT INTO decision_unit (unit, seq) VALUES (?, ?) ON CONFLICT DO NOTHING"
    package static let insertRule = "INSERT INTO decision_rule (rule, seq) VALUES (?, ?) ON CONFLICT DO NOTHING"

    /// Migrating: a withdrawal's subject is its withdrawn proposal's.
    package static let withdrawalSubjectsBackfill = """
        UPDATE decision SET (title, kind, organizer_unit, organizer_region, local_date, last_date, year) =
            (SELECT p.title, p.kind, p.organizer_unit, p.organizer_region, p.local_date, p.last_date, p.year FROM decision p
             WHERE p.request_id = decision.request_id AND p.revision = decision.revision AND p.action = 'propose'
                 AND p.verdict = 'approved')
        WHERE action = 'withdraw'
        """

    /// One statement and its arguments, built condition by condition.
    package struct Statement {
        package var sql: String
        package var values: [LedgerCell]

        package init(_ sql: String, _ values: [LedgerCell] = []) {
            self.sql = sql
            self.values = values
        }

        package mutating func and(_ condition: String, _ values: [LedgerCell] = []) {
            sql += " AND " + condition
            self.values += values
        }

        /// "`column` is `region` or under it" (`浙江省/杭州市` keeps `浙江省/杭州市/西湖区`) as one index range;
        /// nothing for no region. Regions are compared byte by byte and `0` follows `/`, so the range [R, R0)
        /// holds R, everything under R/, and names that merely begin with R and a byte below `0` (R-x), which
        /// the second condition drops. (An OR of two ranges would keep the database from using either.)
        package mutating func and(_ column: String, under region: String?) {
            guard let region else { return }
            and("(\(column) >= ? AND \(column) < ? AND (\(column) = ? OR \(column) > ?))",
                [.text(region), .text(region + "0"), .text(region), .text(region + "/")])
        }
    }

    /// A report's decisions of `year`, each with its meeting's current standing (for proposals that are its
    /// current revision): seq, action, verdict, kind, local_date, organizer_unit, decision_json, meeting status,
    /// meeting exempt.
    package static func decisionsOfYear(_ year: Int, region: String?) -> Statement {
        var statement = Statement("""
            SELECT d.seq, d.action, d.verdict, d.kind, d.local_date, d.organizer_unit, d.decision_json, m.status, m.exempt
            FROM decision d LEFT JOIN meeting m ON m.id = d.request_id AND m.revision = d.revision AND d.action = 'propose'
            WHERE d.year = ?
            """, [.integer(Int64(year))])
        statement.and("d.organizer_region", under: region)
        statement.sql += " ORDER BY d.seq"
        return statement
    }

    /// The organizer units of approved proposals touching `year` whose kind is among `kinds` (nil: any):
    /// the candidate keys of a unit's cap (each is then counted with the rule's own query). Series that
    /// began in the `seriesYears` before it count too.
    package static func organizerUnits(year: Int, kinds: [String]?, region: String?, seriesYears: Int) -> Statement {
        func part(_ yearCondition: String, _ yearValues: [LedgerCell], series: Bool) -> Statement {
            var part = Statement("SELECT d.organizer_unit FROM decision d WHERE \(yearCondition) AND d.action = 'propose' AND d.verdict = 'approved'",
                                 yearValues)
            if series { part.and("d.last_date > d.local_date AND d.last_date >= ?", [.text("\(LocalDate(year: year, month: 1, day: 1))")]) }
            if let kinds { part.and("d.kind IN (\(Array(repeating: "?", count: kinds.count).joined(separator: ",")))", kinds.map(LedgerCell.text)) }
            part.and("d.organizer_region", under: region)
            return part
        }
        let thisYear = part("d.year = ?", [.integer(Int64(year))], series: false)
        let earlier = part("d.year >= ? AND d.year < ?", [.integer(Int64(year - seriesYears)), .integer(Int64(year))], series: true)
        return Statement("\(thisYear.sql) UNION \(earlier.sql) ORDER BY 1", thisYear.values + earlier.values)
    }

    /// The region and system of comprehensive meetings in `dates` (the partial index on comprehensive
    /// occurrences), optionally of city and county organizers only.
    package static func comprehensiveKeys(_ dates: ClosedRange<LocalDate>, region: String?, cityAndCountyOnly: Bool) -> Statement {
        var statement = Statement("""
            SELECT DISTINCT organizer_region, organizer_system FROM occurrence
            WHERE kind = 'comprehensive' AND local_date BETWEEN ? AND ?
            """, [.text(dates.lowerBound.description), .text(dates.upperBound.description)])
        if cityAndCountyOnly { statement.and("organizer_level IN ('city', 'county')") }
        statement.and("organizer_region", under: region)
        statement.sql += " ORDER BY 1, 2"
        return statement
    }

    /// The township and village regions whose principal a counted meeting of `year` requires, with the months:
    /// townships under the region (the index range), called by organizers of the region.
    package static func principalRegions(year: Int, region: String?) -> Statement {
        var statement = Statement("""
            SELECT DISTINCT p.region, substr(p.local_date, 1, 7) FROM meeting_principal_region p
            JOIN meeting m ON m.id = p.meeting_id AND m.status = 'approved' AND m.exempt = 0
            WHERE substr(p.local_date, 1, 4) = ?
            """, [.text(String(year))])
        statement.and("p.region", under: region)
        statement.and("m.organizer_region", under: region)
        statement.sql += " ORDER BY 1, 2"
        return statement
    }

    /// The decision browser's filters.
    package struct BrowserFilter: Sendable, Equatable {
        package var id: String?
        package var unit: String?
        package var verdict: String?
        package var rule: String?
        package var from: String?
        package var to: String?
        package var titleContains: String?

        package init(id: String? = nil, unit: String? = nil, verdict: String? = nil, rule: String? = nil, from: String? = nil,
                     to: String? = nil, titleContains: String? = nil) {
            self.id = id
            self.unit = unit
            self.verdict = verdict
            self.rule = rule
            self.from = from
            self.to = to
            self.titleContains = titleContains
        }
    }

    package static let browserColumns = """
        d.seq, d.request_id, d.revision, d.action, d.verdict, d.decided_at, d.node, d.title, d.kind, d.organizer_unit,
        d.organizer_region, d.local_date, d.destination, d.decision_json
        """

    /// One page of decisions, newest first: `limit` rows after skipping `offset`. A `unit` or `rule` filter
    /// reads its own index range newest first; an `id`, its request's.
    package static func browse(_ filter: BrowserFilter, limit: Int, offset: Int) -> Statement {
        var from = "decision d"
        var order = "d.seq DESC"
        // The conditions, each after " AND "; the first becomes the WHERE.
        var statement = Statement("")
        if let unit = filter.unit {
            from = "decision_unit u JOIN decision d ON d.seq = u.seq"
            statement.and("u.unit = ?", [.text(unit)])
            order = "u.seq DESC"
        }
        if let rule = filter.rule {
            from += " JOIN decision_rule r ON r.seq = d.seq"
            statement.and("r.rule = ?", [.text(rule)])
        }
        for (condition, value) in [("d.request_id = ?", filter.id), ("d.verdict = ?", filter.verdict), ("d.local_date >= ?", filter.from),
                                   ("d.local_date <= ?", filter.to)] {
            if let value { statement.and(condition, [.text(value)]) }
        }
        if let text = filter.titleContains {
            // Case-blind for ASCII alone, the same on both ledgers: the title through the database's lower(), which
            // changes only ASCII (SQLite's built-in; PostgreSQL's under the column's COLLATE "C"), and the text
            // lowered here, ASCII only (the database's lower() of a bound value would follow its own locale).
            let lowered = String(String.UnicodeScalarView(text.unicodeScalars.map { scalar in
                ("A"..."Z").contains(scalar) ? Unicode.Scalar(scalar.value + 32)! : scalar
            }))
            let escaped = lowered.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%")
                .replacingOccurrences(of: "_", with: "\\_")
            statement.and("lower(d.title) LIKE ? ESCAPE '\\'", [.text("%" + escaped + "%")])
        }
        let whereClause = statement.sql.isEmpty ? "" : " WHERE " + statement.sql.dropFirst(" AND ".count)
        // LIMIT and OFFSET are bound, not written in: one statement text per combination of filters.
        statement.sql = "SELECT \(browserColumns) FROM \(from)\(whereClause) ORDER BY \(order) LIMIT ? OFFSET ?"
        statement.values += [.integer(Int64(limit)), .integer(Int64(offset))]
        return statement
    }

    /// Every decision of one request, oldest first.
    package static let history = "SELECT \(browserColumns), d.request_bytes FROM decision d WHERE d.request_id = ? ORDER BY d.seq"
}
