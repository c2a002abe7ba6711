import CLibical
import Foundation
import MeetingModel

/// libical's recurrence iterator: the code that expands a series is the library that writes its RRULE.
/// The iteration runs on floating wall-clock times (the request's zone turns them into instants), so a
/// weekly 09:00 stays 09:00 local across a DST change, as calendar clients expand it.
public struct LibicalRecurrence: RecurrenceExpanding {
    public init() {}

    /// libical 3.0's iterator stops after the year 2582, without saying so (a weekly COUNT=4 from 2582-12-20
    /// gives two dates).
    public let lastDate = LocalDate(year: 2582, month: 12, day: 31)

    /// libical's own answer, for the shapes `refusal(for:)` lets through (the parser asks it first).
    public func expand(rule: String, first: LocalDateTime, through: LocalDateTime, limit: Int) -> Result<[LocalDateTime], RecurrenceRuleError> {
        libicalLock.withLock { expandLocked(rule: rule, first: first, through: through, limit: limit) }
    }

    public func refusal(for parts: RecurrenceRuleParts, from first: LocalDateTime) -> String? {
        LibicalDeviation.refusal(for: parts, from: first)
    }

    private func expandLocked(rule: String, first: LocalDateTime, through: LocalDateTime, limit: Int) -> Result<[LocalDateTime], RecurrenceRuleError> {
        // libical reports a rule it cannot read through icalerrno; it must not abort the process.
        icalerror_set_errors_are_fatal(0)
        icalerror_clear_errno()
        var recurrence = icalrecurrencetype_from_string(rule)
        if recurrence.freq == ICAL_NO_RECURRENCE || icalerrno_return().pointee != ICAL_NO_ERROR {
            icalerror_clear_errno()
            return .failure(RecurrenceRuleError("\"\(rule)\" is not an RRULE libical can read (RFC 5545 section 3.3.10)"))
        }
        // Never past `through`, whatever COUNT says: the caller's bounds stop the iteration.
        recurrence.until = Self.floating(through)
        guard let iterator = icalrecur_iterator_new(recurrence, Self.floating(first)) else {
            icalerror_clear_errno()
            // libical refuses a rule that can produce no date at all (BYMONTH=2;BYMONTHDAY=30).
            return .success([])
        }
        defer { icalrecur_iterator_free(iterator) }
        var starts: [LocalDateTime] = []
        while starts.count < limit {
            let next = icalrecur_iterator_next(iterator)
            if icaltime_is_null_time(next) != 0 { break }
            let date = LocalDate(year: Int(next.year), month: Int(next.month), day: Int(next.day))
            let reading = LocalDateTime(date: date, secondsOfDay: Double(Int(next.hour) * 3600 + Int(next.minute) * 60 + Int(next.second)))
            if (reading.date, reading.secondsOfDay) > (through.date, through.secondsOfDay) { break }
            starts.append(reading)
        }
        icalerror_clear_errno()
        return .success(starts)
    }

    static func floating(_ reading: LocalDateTime) -> icaltimetype {
        var time = icaltime_null_time()
        time.year = Int32(reading.date.year)
        time.month = Int32(reading.date.month)
        time.day = Int32(reading.date.day)
        let seconds = Int(reading.secondsOfDay)
        time.hour = Int32(seconds / 3600)
        time.minute = Int32(seconds % 3600 / 60)
        time.second = Int32(seconds % 60)
        time.is_date = 0
        time.zone = nil
        return time
    }
}

/// libical keeps its error number and caches in process-wide state: its recurrence parser and iterator are
/// run one at a time.
let libicalLock = NSLock()
