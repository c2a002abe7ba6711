import CLibical
import Foundation
import MeetingModel

public enum CalendarError: Error, CustomStringConvertible {
    case unknownTimeZone(String)
    case libical(String)

    public var description: String {
        switch self {
        case let .unknownTimeZone(name): return "libical has no time zone named \(name)"
        case let .libical(what): return "libical failed: \(what)"
        }
    }
}

/// Writes RFC 5545 iCalendar through libical: CRLF, folded lines, a VTIMEZONE for every TZID used.
/// The only code that touches libical. Components never leave this call, so no libical state is shared
/// between threads.
public enum ICalendarWriter {
    public static let productID = "-//meetingd//meetingd 1.0//ZH"

    public static func render(_ document: CalendarDocument) throws -> [UInt8] {
        var zones: [String: Date] = [:]
        for event in document.events { zones[event.timeZone] = min(zones[event.timeZone] ?? event.start, event.start) }
        return try assemble(document, zones: zones, events: document.events.map(renderEvent))
    }

    /// One VEVENT as libical writes it (CRLF, folded), for feeds to assemble without re-rendering every event.
    public static func renderEvent(_ event: CalendarEvent) throws -> String {
        guard let zone = icaltimezone_get_builtin_timezone(event.timeZone) else { throw CalendarError.unknownTimeZone(event.timeZone) }
        let vevent = try component(event, zone: zone)
        defer { icalcomponent_free(vevent) }
        return String(decoding: try serialize(vevent), as: UTF8.self)
    }

    /// A calendar: the VCALENDAR properties and one VTIMEZONE per zone (from libical) around VEVENTs rendered
    /// by `renderEvent`, in the order libical itself would write them. `zones` maps each TZID used to the
    /// earliest start it must cover. The document's own events are not used: `events` are.
    public static func assemble(_ document: CalendarDocument, zones: [String: Date], events: [String]) throws -> [UInt8] {
        var bytes = try withCalendar(document) { calendar in try serialize(calendar) }
        let end = Array("END:VCALENDAR\r\n".utf8)
        guard bytes.count >= end.count, Array(bytes.suffix(end.count)) == end else { throw CalendarError.libical("no END:VCALENDAR") }
        bytes.removeLast(end.count)
        for (name, earliest) in zones.sorted(by: { $0.key < $1.key }) {
            bytes.append(contentsOf: try timeZoneText(name, fromYear: year(before: earliest)))
        }
        for event in events { bytes.append(contentsOf: event.utf8) }
        bytes.append(contentsOf: end)
        return bytes
    }

    /// libical's text with its content lines folded again by `ContentLines`: libical 3.0.16 folds a line that
    /// ends exactly on the 75-octet boundary between its CR and LF (`CR CR LF SP LF`).
    private static func serialize(_ component: OpaquePointer) throws -> [UInt8] {
        guard let text = icalcomponent_as_ical_string_r(component) else { throw CalendarError.libical("icalcomponent_as_ical_string_r") }
        defer { icalmemory_free_buffer(text) }
        return ContentLines.refold(UnsafeRawBufferPointer(start: text, count: strlen(text)))
    }

    /// Throws unless a calendar in `name` can be written: checked before a decision is recorded, so that
    /// writing its calendar cannot fail after the ledger has committed it. The VTIMEZONE is cached.
    public static func checkTimeZone(_ name: String, from earliest: Date) throws {
        _ = try timeZoneText(name, fromYear: year(before: earliest))
    }

    private static func year(before earliest: Date) -> Int {
        LocalDate(dayNumber: Int((earliest.timeIntervalSince1970 / 86_400).rounded(.down))).year - 1
    }

    private static func withCalendar<T>(_ document: CalendarDocument, _ body: (OpaquePointer) throws -> T) throws -> T {
        guard let calendar = icalcomponent_new(ICAL_VCALENDAR_COMPONENT) else { throw CalendarError.libical("icalcomponent_new") }
        defer { icalcomponent_free(calendar) }
        add(calendar, icalproperty_new_version("2.0"))
        add(calendar, icalproperty_new_prodid(productID))
        add(calendar, icalproperty_new_calscale("GREGORIAN"))
        if document.methodPublish { add(calendar, icalproperty_new_method(ICAL_METHOD_PUBLISH)) }
        if let name = document.name {
            add(calendar, xProperty("NAME", name))
            add(calendar, xProperty("X-WR-CALNAME", name))
        }
        if let seconds = document.refreshInterval {
            let duration = "PT\(seconds)S"
            let refresh = xProperty("REFRESH-INTERVAL", duration)
            icalproperty_add_parameter(refresh, icalparameter_new_value(ICAL_VALUE_DURATION))
            add(calendar, refresh)
            add(calendar, xProperty("X-PUBLISHED-TTL", duration))
        }
        return try body(calendar)
    }

    /// The serialised VTIMEZONE of `name` from the start of `year`, made once per zone and year: truncating
    /// libical's definition costs more than rendering an event, and every calendar written needs one.
    private static func timeZoneText(_ name: String, fromYear year: Int) throws -> [UInt8] {
        let key = "\(name)|\(year)"
        if let cached = timeZoneCache.withLock({ $0[key] }) { return cached }
        let component = try compactTimeZone(name, fromYear: year)
        defer { icalcomponent_free(component) }
        let text = try serialize(component)
        timeZoneCache.withLock { cache in
            if cache.count > 1_000 { cache.removeAll() }
            cache[key] = text
        }
        return text
    }

    private static let timeZoneCache = LockedDictionary()

    private static func add(_ component: OpaquePointer, _ property: OpaquePointer?) {
        if let property { icalcomponent_add_property(component, property) }
    }

    private static func xProperty(_ name: String, _ value: String) -> OpaquePointer? {
        let property = icalproperty_new_x(value)
        icalproperty_set_x_name(property, name)
        return property
    }

    private static func utc(_ date: Date) -> icaltimetype {
        icaltime_from_timet_with_zone(time_t(date.timeIntervalSince1970.rounded(.down)), 0, icaltimezone_get_utc_timezone())
    }

    /// A wall-clock time in `zone`, written with a plain TZID parameter; in UTC when that wall time means
    /// another instant to a reader (the second pass through a repeated hour, which RFC 5545 reads as the first).
    /// A series keeps its TZID whatever: its RRULE steps in the zone of DTSTART, and in UTC every occurrence
    /// after the next clock change would move (a new series never starts in a second pass: the parser refuses it).
    private static func zoned(_ date: Date, zone: OpaquePointer, name: String, series: Bool = false,
                              make: (icaltimetype) -> OpaquePointer?) -> OpaquePointer? {
        if !series, !readsBack(date, in: name) { return make(utc(date)) }
        var local = icaltime_from_timet_with_zone(time_t(date.timeIntervalSince1970.rounded(.down)), 0, zone)
        local.zone = nil  // libical would otherwise print its prefixed zone name; the TZID parameter names the zone.
        let property = make(local)
        icalproperty_add_parameter(property, icalparameter_new_tzid(name))
        return property
    }

    /// Whether `date`'s wall time in `zone` means `date` to a reader (RFC 5545 reads a repeated time as the first).
    private static func readsBack(_ date: Date, in zone: String) -> Bool {
        guard let foundationZone = TimeZone(identifier: zone) else { return true }
        let whole = Date(timeIntervalSince1970: date.timeIntervalSince1970.rounded(.down))
        return ZonedClock(timeZone: foundationZone).readBack(whole) == whole
    }

    /// `year`: the year before the earliest event — enough for every client, and no 1901 LMT offsets.
    private static func compactTimeZone(_ name: String, fromYear year: Int) throws -> OpaquePointer {
        guard let zone = icaltimezone_get_builtin_timezone(name) else { throw CalendarError.unknownTimeZone(name) }
        guard let builtin = icaltimezone_get_component(zone) else { return try fixedOffsetTimeZone(name) }
        guard let copy = icalcomponent_new_clone(builtin) else { throw CalendarError.libical("icalcomponent_new_clone") }
        var start = icaltime_null_time()
        start.year = Int32(year)
        start.month = 1
        start.day = 1
        start.zone = icaltimezone_get_utc_timezone()
        icaltimezone_truncate_vtimezone(copy, start, icaltime_null_time(), 0)
        if let tzid = icalcomponent_get_first_property(copy, ICAL_TZID_PROPERTY) { icalproperty_set_tzid(tzid, name) }
        while let location = icalcomponent_get_first_property(copy, ICAL_X_PROPERTY) {
            icalcomponent_remove_property(copy, location)
            icalproperty_free(location)
        }
        return copy
    }

    /// libical answers `UTC` and `GMT` with its own UTC zone, which has no VTIMEZONE; a TZID still needs one.
    /// Any zone without daylight saving is one STANDARD observance at its fixed offset.
    private static func fixedOffsetTimeZone(_ name: String) throws -> OpaquePointer {
        guard let foundationZone = TimeZone(identifier: name), foundationZone.nextDaylightSavingTimeTransition == nil,
              let vtimezone = icalcomponent_new(ICAL_VTIMEZONE_COMPONENT), let standard = icalcomponent_new(ICAL_XSTANDARD_COMPONENT)
        else { throw CalendarError.libical("no VTIMEZONE for \(name)") }
        let offset = Int32(foundationZone.secondsFromGMT())
        add(vtimezone, icalproperty_new_tzid(name))
        var epoch = icaltime_null_time()
        epoch.year = 1970
        epoch.month = 1
        epoch.day = 1
        add(standard, icalproperty_new_dtstart(epoch))
        add(standard, icalproperty_new_tzoffsetfrom(offset))
        add(standard, icalproperty_new_tzoffsetto(offset))
        add(standard, icalproperty_new_tzname(offset == 0 ? "UTC" : name))
        icalcomponent_add_component(vtimezone, standard)
        return vtimezone
    }

    private static func component(_ event: CalendarEvent, zone: OpaquePointer) throws -> OpaquePointer {
        guard let vevent = icalcomponent_new(ICAL_VEVENT_COMPONENT) else { throw CalendarError.libical("icalcomponent_new") }
        add(vevent, icalproperty_new_uid(event.uid))
        add(vevent, icalproperty_new_dtstamp(utc(event.stamp)))
        add(vevent, icalproperty_new_lastmodified(utc(event.stamp)))
        add(vevent, icalproperty_new_sequence(Int32(event.sequence)))
        let series = event.recurrenceRule != nil
        add(vevent, zoned(event.start, zone: zone, name: event.timeZone, series: series, make: icalproperty_new_dtstart))
        if series, !readsBack(event.end, in: event.timeZone) {
            // A series' end in a repeated hour's second pass would read as the first: its length says it exactly.
            let seconds = Int32(event.end.timeIntervalSince(event.start).rounded(.down))
            add(vevent, icalproperty_new_duration(icaldurationtype_from_int(seconds)))
        } else {
            add(vevent, zoned(event.end, zone: zone, name: event.timeZone, series: series, make: icalproperty_new_dtend))
        }
        if let rule = event.recurrenceRule {
            let recurrence = libicalLock.withLock { icalrecurrencetype_from_string(rule) }
            guard recurrence.freq != ICAL_NO_RECURRENCE else { throw CalendarError.libical("RRULE \(rule) does not parse") }
            add(vevent, icalproperty_new_rrule(recurrence))
            // The wall-clock time the rule itself gives, so that the EXDATE matches the instance a client
            // expands, even on a day whose clock change skips that time.
            for start in event.exceptionStarts {
                let property = icalproperty_new_exdate(LibicalRecurrence.floating(start))
                icalproperty_add_parameter(property, icalparameter_new_tzid(event.timeZone))
                add(vevent, property)
            }
        }
        add(vevent, icalproperty_new_summary(event.summary))
        if let location = event.location { add(vevent, icalproperty_new_location(location)) }
        add(vevent, icalproperty_new_status(event.cancelled ? ICAL_STATUS_CANCELLED : ICAL_STATUS_CONFIRMED))
        let organizer = icalproperty_new_organizer(event.organizer.address)
        icalproperty_add_parameter(organizer, icalparameter_new_cn(event.organizer.name))
        add(vevent, organizer)
        for attendee in event.attendees {
            let property = icalproperty_new_attendee(attendee.address)
            icalproperty_add_parameter(property, icalparameter_new_cutype(ICAL_CUTYPE_GROUP))
            icalproperty_add_parameter(property, icalparameter_new_role(attendee.required ? ICAL_ROLE_REQPARTICIPANT : ICAL_ROLE_OPTPARTICIPANT))
            icalproperty_add_parameter(property, icalparameter_new_cn(attendee.name))
            add(vevent, property)
        }
        for category in event.categories { add(vevent, icalproperty_new_categories(category)) }
        for (name, value) in event.extra { add(vevent, xProperty(name, value)) }
        return vevent
    }
}

/// The time-zone cache, shared by the deciding thread and the feed publisher.
private final class LockedDictionary: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [String: [UInt8]] = [:]

    func withLock<T>(_ body: (inout [String: [UInt8]]) -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body(&values)
    }
}
