import Foundation
import MeetingModel
import MeetingRules

/// The keys a shared ledger locks so that concurrent decisions on different nodes count as if made one after
/// the other. A decision locks, exclusively, the key of every query its rules ask, just before asking it;
/// recording a meeting locks, shared, every key under which any query could count it (before the meeting is
/// written, and for a revision or withdrawal the keys of what it replaces too). All are held until commit, so
/// a count cannot change between being read and the decision that read it being committed, while meetings
/// that no decision counts by the same key never wait for each other (two writers share a key).
///
/// The keys come from the queries the rules actually ask, not from a list kept beside the rules: every field a
/// query can match by equality on is a key (the organizer unit, the organizer region, a region whose township
/// principal is required), with the kinds it counts. A query that names none of them locks `any`, which every
/// meeting written holds shared: slow, but never unsafe. `CountedKeysTests` checks, over random queries and
/// meetings, that a query and every meeting it matches always share a key.
///
/// Different values may hash to one lock; that only makes unrelated decisions wait, never miss a conflict.
package enum CountedKeys {
    /// What one decision of the rules reads: the meeting's own id (its standing, an earlier revision).
    package static func meeting(_ id: String) -> String { "id" + separator + id }

    /// The keys `query` reads: one field it matches by equality, with each kind it counts.
    package static func reading(_ query: MeetingQuery) -> [String] {
        let kinds = (query.kinds.map(Array.init) ?? MeetingKind.allCases).map(\.rawValue).sorted()
        if let unit = query.organizerUnit { return kinds.map { key("unit", unit, $0) } }
        if let region = query.grassrootsPrincipalRegion { return [key("principal", region)] }
        if let region = query.organizerRegion { return kinds.map { key("region", region, $0) } }
        return [any]
    }

    /// The keys under which a query could count `record`: its organizer unit and region with its kind, every
    /// region whose principal it requires, and `any`.
    package static func writing(_ record: MeetingRecord) -> [String] {
        var keys: Set<String> = [any, key("unit", record.organizerUnit, record.kind.rawValue),
                                 key("region", record.organizerRegion, record.kind.rawValue)]
        for region in record.grassrootsPrincipalRegions { keys.insert(key("principal", region)) }
        return keys.sorted()
    }

    /// The keys of the meeting whose id is the parameter `id` (`$1`, …) as the ledger holds it, in PostgreSQL:
    /// the same strings as `writing`, for what a revision or a withdrawal replaces.
    package static func writingSQL(id: String = "$1") -> String {
        """
        SELECT k FROM meeting m, unnest(ARRAY['\(any)', 'unit' || chr(31) || m.organizer_unit || chr(31) || m.kind,
            'region' || chr(31) || m.organizer_region || chr(31) || m.kind]
            || ARRAY(SELECT 'principal' || chr(31) || p.region FROM meeting_principal_region p WHERE p.meeting_id = m.id)) AS k
        WHERE m.id = \(id)
        """
    }

    /// Held shared by every meeting written; a query that names no key locks it exclusively.
    package static let any = "any"
    /// U+001F, which no name in a request can hold (control characters are refused).
    private static let separator = "\u{1F}"

    private static func key(_ parts: String...) -> String { parts.joined(separator: separator) }
}
