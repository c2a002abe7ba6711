import Foundation
import MeetingModel
import MeetingRules

/// The SQL that answers the rules' `MeetingQuery`s, shared by every ledger backend: the same tables, indexes
/// and statements on SQLite and PostgreSQL, so that a cap counts the same on either. Statements are written
/// with `?` placeholders; PostgreSQL numbers them (`PostgresDialect`).
package enum CountPlan {
    /// How `query` is read: from the narrowest index for it, with the expressions that name a matching
    /// occurrence (meeting id and number) and its local date there, and whether one occurrence can match more
    /// than once (several units). Only approved, counted meetings have occurrence, attendee and principal rows
    /// that join an occurrence, so no status or exemption is tested.
    package struct Plan {
        package var from: String
        package var conditions: [String] = []
        /// The arguments, in order: every one is text (names, dates, the catalogue's words).
        package var values: [String] = []
        package var id: String
        package var n: String
        package var date: String
        package var distinct = false

        /// False when the statement's text for this shape is known already: only the arguments are collected.
        package var writesText = true
        /// The statements' text, once made (or taken from the cache of shapes).
        package var texts: PlanTexts.Texts?

        package var whereClause: String { conditions.joined(separator: " AND ") }

        package mutating func add(_ condition: @autoclosure () -> String, _ values: [String] = []) {
            if writesText { conditions.append(condition()) }
            self.values += values
        }

        package mutating func join(_ clause: @autoclosure () -> String) {
            if writesText { from += clause() }
        }

        package var countSQL: String { texts!.count }
        package var listSQL: String { texts!.list }
        /// The first `?` matching occurrences, each with its meeting's title (`countedMeetings`).
        package var countedSQL: String { texts!.counted }

        package static func placeholders(_ count: Int) -> String { Array(repeating: "?", count: count).joined(separator: ",") }

        /// The matching occurrences, each once, in the rules' order: local date, meeting id, occurrence number.
        /// `aliased`: the columns named id, n and date, for a statement around it.
        package func makeListSQL(aliased: Bool) -> String {
            let columns = aliased ? "\(id) AS id, \(n) AS n, \(date) AS date" : "\(id), \(n), \(date)"
            return "SELECT \(distinct ? "DISTINCT " : "")\(columns) FROM \(from) WHERE \(whereClause) ORDER BY \(date), \(id), \(n)"
        }

        package func makeCountSQL() -> String {
            distinct ? "SELECT COUNT(*) FROM (SELECT DISTINCT \(id), \(n) FROM \(from) WHERE \(whereClause)) AS matches"
                : "SELECT COUNT(*) FROM \(from) WHERE \(whereClause)"
        }
    }


    /// A query's plan: its arguments, and its statements' text, made once per shape of query (which fields
    /// are set, how many units, levels and kinds). Building the text for every query cost 9 % of the
    /// deciding thread in a replay.
    package static func plan(_ query: MeetingQuery) -> Plan {
        let shape = PlanTexts.Shape(query)
        let known = PlanTexts.shared[shape]
        var plan = build(query, writingText: known == nil)
        if let known {
            plan.texts = known
        } else {
            // The occurrences first, then each one's title from its meeting row.
            let counted = "SELECT l.id, l.date, m.title FROM (\(plan.makeListSQL(aliased: true)) LIMIT ?) l "
                + "CROSS JOIN meeting m ON m.id = l.id ORDER BY l.date, l.id, l.n"
            let texts = PlanTexts.Texts(count: plan.makeCountSQL(), list: plan.makeListSQL(aliased: false), counted: counted)
            PlanTexts.shared[shape] = texts
            plan.texts = texts
        }
        return plan
    }

    private static func build(_ query: MeetingQuery, writingText: Bool) -> Plan {
        let dates = [query.startDates.lowerBound.description, query.startDates.upperBound.description]
        let byOrganizer = query.organizerRegion != nil || query.organizerSystem != nil || query.organizerLevels != nil
        var plan: Plan
        if let units = query.sharingAttendeeUnits {
            // Driven by the attendee rows: one index range per unit; they exist for approved, counted meetings only.
            plan = Plan(from: "meeting_attendee a", id: "a.meeting_id", n: "a.n", date: "a.local_date", distinct: units.count > 1,
                        writesText: writingText)
            plan.add("a.unit IN (\(Plan.placeholders(units.count)))", units.sorted())
            if let unit = query.organizerUnit { plan.add("a.organizer_unit = ?", [unit]) }
            if let kinds = query.kinds { plan.add("a.kind IN (\(Plan.placeholders(kinds.count)))", kinds.map(\.rawValue).sorted()) }
            plan.add("a.local_date BETWEEN ? AND ?", dates)
            if let excluded = query.excludingID { plan.add("a.meeting_id <> ?", [excluded]) }
            if let region = query.grassrootsPrincipalRegion {
                plan.add("EXISTS (SELECT 1 FROM meeting_principal_region p WHERE p.meeting_id = a.meeting_id AND p.n = a.n AND p.region = ?)",
                         [region])
            }
            if byOrganizer { plan.join(" CROSS JOIN meeting m ON m.id = a.meeting_id") }
        } else if let region = query.grassrootsPrincipalRegion {
            // Driven by the principal rows: a region's few rows, not every occurrence in the date range. They
            // exist for approved meetings only; the meeting row says whether the meeting is counted.
            plan = Plan(from: "meeting_principal_region p CROSS JOIN meeting m ON m.id = p.meeting_id",
                        id: "p.meeting_id", n: "p.n", date: "p.local_date", writesText: writingText)
            plan.add("p.region = ?", [region])
            plan.add("p.local_date BETWEEN ? AND ?", dates)
            plan.add("m.status = 'approved'")
            plan.add("m.exempt = 0")
            if let kinds = query.kinds { plan.add("m.kind IN (\(Plan.placeholders(kinds.count)))", kinds.map(\.rawValue).sorted()) }
            if let unit = query.organizerUnit { plan.add("m.organizer_unit = ?", [unit]) }
            if let excluded = query.excludingID { plan.add("p.meeting_id <> ?", [excluded]) }
        } else {
            // Driven by the occurrence rows, keyed (organizer unit, kind, date) and, for comprehensive meetings,
            // indexed by region and system.
            plan = Plan(from: "occurrence o", id: "o.meeting_id", n: "o.n", date: "o.local_date", writesText: writingText)
            if let unit = query.organizerUnit { plan.add("o.organizer_unit = ?", [unit]) }
            // Kinds are written into the SQL (they are the catalogue's words, not input), so that SQLite can
            // use the partial indexes on comprehensive meetings.
            // (`kind = 'x'`, not `kind IN ('x')`: SQLite matches a partial index's condition only in that form.)
            if let kinds = query.kinds {
                let words = { kinds.map { "'\($0.rawValue)'" }.sorted() }
                plan.add(words().count == 1 ? "o.kind = \(words()[0])" : "o.kind IN (\(words().joined(separator: ",")))")
            }
            plan.add("o.local_date BETWEEN ? AND ?", dates)
            if let excluded = query.excludingID { plan.add("o.meeting_id <> ?", [excluded]) }
            if byOrganizer, query.kinds == [.comprehensive] {
                // A comprehensive meeting's occurrences carry its region, system and level.
                if let region = query.organizerRegion { plan.add("o.organizer_region = ?", [region]) }
                if let system = query.organizerSystem { plan.add("o.organizer_system = ?", [system]) }
                if let levels = query.organizerLevels {
                    plan.add("o.organizer_level IN (\(Plan.placeholders(levels.count)))", levels.map(\.rawValue).sorted())
                }
                return plan
            }
            if byOrganizer { plan.join(" CROSS JOIN meeting m ON m.id = o.meeting_id") }
        }
        // Region, system and level of other meetings: from the meeting row.
        if let region = query.organizerRegion { plan.add("m.organizer_region = ?", [region]) }
        if let system = query.organizerSystem { plan.add("m.organizer_system = ?", [system]) }
        if let levels = query.organizerLevels {
            plan.add("m.organizer_level IN (\(Plan.placeholders(levels.count)))", levels.map(\.rawValue).sorted())
        }
        return plan
    }

}

/// A list of strings as a ledger column keeps it: a JSON array (SQLite's `json_each` reads it in migrations).
/// Read and written with meetingd's own JSON reader and writer: Foundation's coders cost several times more
/// for these short arrays, on the path of every listed meeting.
package enum StringList {
    package static func encode(_ strings: [String]) -> String { JSONValue.array(strings.map(JSONValue.string)).serialized }

    package static func decode(_ text: String, column: String) throws -> [String] {
        guard case let .array(items)? = try? JSONReader.parse(Array(text.utf8)) else {
            throw LedgerError.corrupt("\(column) = \(text)")
        }
        return try items.map { item in
            guard case let .string(string) = item else { throw LedgerError.corrupt("\(column) = \(text)") }
            return string
        }
    }
}

/// The statements' text of each shape of query the rules ask, made once per process.
package final class PlanTexts: @unchecked Sendable {
    package struct Texts {
        package let count: String
        package let list: String
        package let counted: String
    }

    /// What decides a query's text: which fields are set, how many units and levels, and which kinds (the
    /// kinds are written into the text).
    package struct Shape: Hashable {
        let units: Int
        let organizerUnit: Bool
        let kinds: Int
        let region: Bool
        let system: Bool
        let levels: Int
        let principalRegion: Bool
        let excluding: Bool

        package init(_ query: MeetingQuery) {
            units = query.sharingAttendeeUnits?.count ?? -1
            organizerUnit = query.organizerUnit != nil
            kinds = query.kinds.map { kinds in
                kinds.reduce(0) { mask, kind in mask | 1 << (MeetingKind.allCases.firstIndex(of: kind) ?? 0) }
            } ?? -1
            region = query.organizerRegion != nil
            system = query.organizerSystem != nil
            levels = query.organizerLevels?.count ?? -1
            principalRegion = query.grassrootsPrincipalRegion != nil
            excluding = query.excludingID != nil
        }
    }

    package static let shared = PlanTexts()
    private let lock = NSLock()
    private var texts: [Shape: Texts] = [:]

    package subscript(shape: Shape) -> Texts? {
        get { lock.withLock { texts[shape] } }
        set { lock.withLock { texts[shape] = newValue } }
    }
}

