import Foundation
import MeetingModel

/// One VEVENT, in Swift terms; `ICalendarWriter` turns it into iCalendar through libical.
public struct CalendarEvent: Sendable, Equatable {
    public struct Participant: Sendable, Equatable {
        public var name: String
        /// `mailto:…` or a `urn:meetingd:unit:…` URI.
        public var address: String
        public var required: Bool

        public init(name: String, address: String, required: Bool = true) {
            self.name = name
            self.address = address
            self.required = required
        }
    }

    public var uid: String
    public var sequence: Int
    /// DTSTAMP and LAST-MODIFIED: the decision time, so the same decision always gives the same bytes.
    public var stamp: Date
    public var start: Date
    public var end: Date
    /// IANA zone name written as TZID (plain `Asia/Shanghai`, not libical's prefixed form).
    public var timeZone: String
    public var summary: String
    public var location: String?
    public var organizer: Participant
    public var attendees: [Participant]
    public var categories: [String]
    public var cancelled: Bool
    /// RRULE of a recurring series (its UNTIL in UTC), and the EXDATE starts of the occurrences taken out.
    public var recurrenceRule: String?
    public var exceptionStarts: [LocalDateTime] = []
    /// `X-` properties in order, e.g. `("X-MEETINGD-WARNING", "plan-required: no plan_ref")`.
    public var extra: [(name: String, value: String)]

    public init(uid: String, sequence: Int, stamp: Date, start: Date, end: Date, timeZone: String, summary: String,
                location: String? = nil, organizer: Participant, attendees: [Participant] = [], categories: [String] = [],
                cancelled: Bool = false, extra: [(name: String, value: String)] = [], recurrenceRule: String? = nil,
                exceptionStarts: [LocalDateTime] = []) {
        self.uid = uid
        self.sequence = sequence
        self.stamp = stamp
        self.start = start
        self.end = end
        self.timeZone = timeZone
        self.summary = summary
        self.location = location
        self.organizer = organizer
        self.attendees = attendees
        self.categories = categories
        self.cancelled = cancelled
        self.extra = extra
        self.recurrenceRule = recurrenceRule
        self.exceptionStarts = exceptionStarts
    }

    public static func == (lhs: CalendarEvent, rhs: CalendarEvent) -> Bool {
        lhs.uid == rhs.uid && lhs.sequence == rhs.sequence && lhs.stamp == rhs.stamp && lhs.start == rhs.start
            && lhs.end == rhs.end && lhs.timeZone == rhs.timeZone && lhs.summary == rhs.summary && lhs.location == rhs.location
            && lhs.organizer == rhs.organizer && lhs.attendees == rhs.attendees && lhs.categories == rhs.categories
            && lhs.cancelled == rhs.cancelled && lhs.recurrenceRule == rhs.recurrenceRule && lhs.exceptionStarts == rhs.exceptionStarts
            && lhs.extra.elementsEqual(rhs.extra) { $0.name == $1.name && $0.value == $1.value }
    }
}

/// A VCALENDAR: one approved meeting, or a feed of many.
public struct CalendarDocument: Sendable {
    public var events: [CalendarEvent]
    /// NAME and X-WR-CALNAME, for feeds.
    public var name: String?
    /// REFRESH-INTERVAL and X-PUBLISHED-TTL in seconds, for feeds.
    public var refreshInterval: Int?
    public var methodPublish: Bool

    public init(events: [CalendarEvent], name: String? = nil, refreshInterval: Int? = nil, methodPublish: Bool = false) {
        self.events = events
        self.name = name
        self.refreshInterval = refreshInterval
        self.methodPublish = methodPublish
    }
}
