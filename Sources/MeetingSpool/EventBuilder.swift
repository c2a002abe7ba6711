import Foundation
import MeetingCalendar
import MeetingModel
import MeetingRules

/// Turns an approved (or withdrawn) request into the calendar event meetingd publishes.
public enum EventBuilder {
    public static func uid(_ id: String) -> String { "\(id)@meetingd" }

    /// `urn:meetingd:unit:<percent-encoded unit name>`: a stable address for a unit without e-mail.
    public static func unitAddress(_ unit: String) -> String {
        "urn:meetingd:unit:" + unit.percentEncoded()
    }

    public static func event(_ request: MeetingRequest, sequence: Int, stamp: Date, assessment: Assessment,
                             settingsVersion: String, note: String?, cancelled: Bool) -> CalendarEvent {
        // One ATTENDEE per unit: required when any of its listed people is required.
        var units: [String] = []
        var byUnit: [String: [MeetingRequest.Attendee]] = [:]
        for attendee in request.attendees {
            if byUnit[attendee.unit] == nil { units.append(attendee.unit) }
            byUnit[attendee.unit, default: []].append(attendee)
        }
        let attendees = units.map { unit -> CalendarEvent.Participant in
            let people = byUnit[unit]!
            let address = people.compactMap(\.email).first.map { "mailto:\($0)" } ?? unitAddress(unit)
            return .init(name: unit, address: address, required: people.contains(where: \.required))
        }
        var extra: [(name: String, value: String)] = [
            ("X-MEETINGD-KIND", request.kind.rawValue),
            ("X-MEETINGD-SETTINGS", settingsVersion),
            ("X-MEETINGD-REVISION", String(request.revision)),
        ]
        // The facts without the list of meetings counted: a calendar entry says how many, the log and notes say which.
        extra += assessment.warnings.map { warning in
            ("X-MEETINGD-WARNING", "\(warning.rule.rawValue): \(warning.facts.en)" + (warning.datesLine.map { " (dates: \($0))" } ?? ""))
        }
        extra += assessment.waived.map { ("X-MEETINGD-WAIVER", "\($0.rule.rawValue); \($0.ref ?? "-"); \($0.approver ?? "-")") }
        if let note { extra.append(("X-MEETINGD-NOTE", note)) }
        if cancelled { extra.append(("X-MEETINGD-NOTE", "withdrawn")) }
        return CalendarEvent(
            uid: uid(request.id), sequence: sequence, stamp: stamp, start: request.start, end: request.end,
            timeZone: request.timeZoneName, summary: request.title, location: request.location,
            organizer: .init(name: request.organizer.unit, address: request.contact ?? unitAddress(request.organizer.unit)),
            attendees: attendees, categories: [request.kind.rawValue], cancelled: cancelled, extra: extra,
            recurrenceRule: request.recurrence?.rule, exceptionStarts: request.recurrence?.excludedStarts ?? [])
    }
}
