import Foundation

/// Why a request could not be decided: every problem found, one per line as `$.path: what is wrong`.
public struct InvalidRequest: Error, Sendable, Equatable {
    /// The request's `id` when it could be read, for the decision log.
    public var id: String?
    public var problems: [String]

    public init(id: String?, problems: [String]) {
        self.id = id
        self.problems = problems
    }
}

/// Reads and validates format version 1 (`shared/spec/request-format.md`) completely:
/// every field, enum and bound, collecting all problems rather than stopping at the first.
public struct RequestParser: Sendable {
    /// Requests larger than this are invalid without being read further.
    public static let maximumBytes = 1_048_576
    public static let maximumSpan: TimeInterval = 14 * 86_400
    /// The years a meeting may be in; reports take the same range.
    public static let meetingYears = 1900...2999

    public let defaultTimeZone: String
    public let zones: TimeZoneDatabase
    /// Expands `recurrence` (libical's iterator, from MeetingCalendar); without one, a series is invalid.
    public let expander: (any RecurrenceExpanding)?
    public let recurrenceLimits: RecurrenceLimits

    public init(defaultTimeZone: String = "Asia/Shanghai", zones: TimeZoneDatabase = .system,
                expander: (any RecurrenceExpanding)? = nil, recurrenceLimits: RecurrenceLimits = RecurrenceLimits()) {
        self.defaultTimeZone = defaultTimeZone
        self.zones = zones
        self.expander = expander
        self.recurrenceLimits = recurrenceLimits
    }

    /// The format's text limits, in characters; `meetingd schema` states the same ones.
    typealias Limit = RequestSchema.Limit

    public func parse(_ input: [UInt8]) -> Result<ParsedRequest, InvalidRequest> { parse(input, strict: true) }

    /// A request the ledger kept when it was approved, read again to publish it (a withdrawal's cancelled
    /// event). Rules added to the format since then (duplicate keys, control characters in unknown members,
    /// the year range, the tz database as the list of zones) must not make an approved meeting unreadable:
    /// they are not applied here.
    ///
    /// `asSeries`: whether it was approved as a series. A meeting approved before meetingd knew `recurrence`
    /// was counted once, whatever unknown `recurrence` member it carried: it is read back as one meeting.
    ///
    /// `appliesBounds`: whether a series must keep within this parser's `recurrenceLimits` (replay asks what
    /// the settings it replays under would decide); otherwise it is read under the widest bounds, as a config
    /// narrowed since the approval must not make the approved series unreadable.
    public func parseStored(_ input: [UInt8], asSeries: Bool = true, appliesBounds: Bool = false) -> Result<ParsedRequest, InvalidRequest> {
        parse(input, strict: false, readsRecurrence: asSeries, appliesBounds: appliesBounds)
    }

    private func parse(_ input: [UInt8], strict: Bool, readsRecurrence: Bool = true, appliesBounds: Bool = true) -> Result<ParsedRequest, InvalidRequest> {
        guard input.count <= Self.maximumBytes else {
            return .failure(InvalidRequest(id: nil, problems: ["$: the file is \(input.count) bytes, over the limit of \(Self.maximumBytes)"]))
        }
        var bytes = input[...]
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes = bytes.dropFirst(3) }  // Windows editors write a BOM.
        if let offset = Self.firstInvalidUTF8Offset(bytes) {
            return .failure(InvalidRequest(id: nil, problems: ["$: not valid UTF-8 (byte \(offset))"]))
        }
        let document: JSONValue
        do {
            document = try JSONReader.parse(Array(bytes))
        } catch {
            return .failure(InvalidRequest(id: nil, problems: ["$: \(error.description)"]))
        }
        var fields = FieldReader()
        fields.strict = strict
        fields.readsRecurrence = readsRecurrence
        fields.appliesRecurrenceBounds = strict || appliesBounds
        if strict { DocumentChecks.check(document, at: "$", &fields) }
        let parsed = read(document, &fields)
        if let parsed, fields.problems.isEmpty { return .success(parsed) }
        let id = document["id"].flatMap { if case let .string(text) = $0, Self.isValidID(text) { text } else { nil } }
        return .failure(InvalidRequest(id: id, problems: fields.problems))
    }

    /// `A-Z a-z 0-9 . _ -`, 1–128 characters, not starting with `.`: safe as a file name everywhere.
    public static func isValidID(_ id: String) -> Bool {
        (1...128).contains(id.utf8.count) && !id.hasPrefix(".")
            && id.utf8.allSatisfy { byte in
                (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
                    || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
            }
    }

    static func firstInvalidUTF8Offset(_ bytes: ArraySlice<UInt8>) -> Int? {
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        var offset = 0
        while true {
            switch decoder.decode(&iterator) {
            case let .scalarValue(scalar): offset += UTF8.width(scalar)
            case .emptyInput: return nil
            case .error: return offset
            }
        }
    }

    private func read(_ document: JSONValue, _ fields: inout FieldReader) -> ParsedRequest? {
        guard case .object = document else {
            fields.problem("$", "expected a JSON object, found \(document.typeName)")
            return nil
        }
        let root = FieldPath(document, "$")
        if let format = fields.integer(root, "format", required: true), format != 1 {
            fields.problem("$.format", "\(format) is not a supported format version (expected 1)")
        }
        let id = fields.string(root, "id", required: true, maxLength: Limit.id)
        if let id, !Self.isValidID(id) {
            fields.problem("$.id", "\(quoted(id)) is not a valid id: use 1–128 of A-Z a-z 0-9 . _ - and do not start with '.'")
        }
        let action = fields.enumeration(root, "action", RequestAction.self) ?? .propose
        let revision = fields.integer(root, "revision", range: 1...Int.max)
        if action == .withdraw {
            guard let id else { return nil }
            return .withdrawal(Withdrawal(id: id, revision: revision))
        }

        let title = fields.string(root, "title", required: true, maxLength: Limit.name)
        let kind = fields.enumeration(root, "kind", MeetingKind.self, required: true)
        let purpose = fields.enumeration(root, "purpose", Purpose.self)
        let organizer = readOrganizer(root, kind: kind, &fields)
        let convener = readConvener(root, &fields)

        let zoneName = fields.string(root, "timezone", maxLength: Limit.timeZone) ?? defaultTimeZone
        let timeZone = zones.timeZone(named: zoneName) ?? (fields.strict ? nil : TimeZone(identifier: zoneName))
        if timeZone == nil {
            let reason = zones.zones.isEmpty ? " (no tz database: install tzdata)" : ", a Zone or Link of the tz database"
            fields.problem(fields.has(root, "timezone") ? "$.timezone" : "$", "\(quoted(zoneName)) is not a known IANA time zone name\(reason)")
        }
        let start = fields.dateTime(root, "start", required: true)
        let end = fields.dateTime(root, "end", required: true)
        if let start, let end {
            if end <= start {
                fields.problem("$.end", "must be after start (end \(fields.text(root, "end") ?? "") ≤ start \(fields.text(root, "start") ?? ""))")
            } else if end.timeIntervalSince(start) > Self.maximumSpan {
                fields.problem("$.end", "is more than 14 days after start")
            }
        }
        let location = fields.string(root, "location", maxLength: Limit.text)
        let contact = fields.string(root, "contact", maxLength: Limit.text)
        if let contact, !Self.isURI(contact) { fields.problem("$.contact", "\(quoted(contact)) is not a URI (for example mailto:office@example.org)") }
        let planRef = fields.string(root, "plan_ref", maxLength: Limit.text)
        let covered = fields.string(root, "covered_by_document", maxLength: Limit.text)
        let mode = fields.enumeration(root, "mode", MeetingMode.self) ?? .inPerson
        let groupDiscussion = fields.bool(root, "group_discussion") ?? false
        let reachesGrassroots = fields.bool(root, "reaches_grassroots") ?? false
        let relays = fields.string(root, "relays", maxLength: Limit.id)
        var directiveIssued: Date?
        if let text = fields.string(root, "directive_date", maxLength: Limit.date) {
            if let date = LocalDate(text) {
                directiveIssued = timeZone.map { ZonedClock(timeZone: $0).instant(date) }
            } else if let (instant, _) = RFC3339.parse(text) {
                directiveIssued = instant
            } else {
                fields.problem("$.directive_date", "\(quoted(text)) is neither a date (YYYY-MM-DD) nor an RFC 3339 date-time")
            }
        } else if kind == .relay {
            fields.problem("$.directive_date", "missing (required for a relay meeting)")
        }
        let attendees = fields.array(root, "attendees").enumerated().compactMap { readAttendee($1, &fields) }
        let agenda = fields.array(root, "agenda").compactMap { readAgendaItem($0, &fields) }
        let approvals = fields.array(root, "approvals").compactMap { readApproval($0, &fields) }
        let recurrence = readRecurrence(root, start: start, end: end, timeZone: timeZone, &fields)

        guard let id, let title, let kind, let organizer, let convener, let start, let end, let timeZone else { return nil }
        return .proposal(MeetingRequest(
            id: id, revision: revision ?? 1, title: title, kind: kind, purpose: purpose,
            organizer: organizer, convener: convener, start: start, end: end, timeZone: timeZone, timeZoneName: zoneName,
            location: location, contact: contact, planRef: planRef, coveredByDocument: covered,
            mode: mode, groupDiscussion: groupDiscussion, reachesGrassroots: reachesGrassroots,
            relays: relays, directiveIssued: directiveIssued,
            attendees: attendees, agenda: agenda, approvals: approvals, recurrence: recurrence))
    }

    /// `recurrence` expanded into its occurrences (`shared/spec/recurrence.md`). Every problem is reported at
    /// `$.recurrence…`; nil when the field is absent or could not be expanded.
    private func readRecurrence(_ root: FieldPath, start: Date?, end: Date?, timeZone: TimeZone?,
                                _ fields: inout FieldReader) -> Recurrence? {
        guard fields.readsRecurrence, let object = fields.object(root, "recurrence", required: false) else { return nil }
        // A stored series is read back under the widest bounds unless replay asks for the settings' own.
        let limits = fields.appliesRecurrenceBounds ? recurrenceLimits
            : RecurrenceLimits(maxOccurrences: RecurrenceLimits.occurrencesRange.upperBound, maxSpanDays: RecurrenceLimits.spanDaysRange.upperBound)
        let rule = fields.string(object, "rrule", required: true, maxLength: Limit.rule)
        var exdates: [LocalDate] = []
        var seen = Set<LocalDate>()
        let items = fields.array(object, "exdates")
        // Each exdate must be an occurrence's date, so there can be no more of them than occurrences allowed.
        if items.count > limits.maxOccurrences {
            fields.problem("\(object.path).exdates", "\(items.count) dates, more than recurrence.max_occurrences (\(limits.maxOccurrences))")
            return nil
        }
        for item in items {
            guard case let .string(text) = item.value else {
                fields.problem(item.path, "expected a date (YYYY-MM-DD), found \(item.value.typeName)")
                continue
            }
            guard let date = LocalDate(text), text.utf8.count == 10 else {
                fields.problem(item.path, "\(quoted(text)) is not a date (YYYY-MM-DD)")
                continue
            }
            if seen.insert(date).inserted { exdates.append(date) } else { fields.problem(item.path, "\(date) is listed twice") }
        }
        guard let rule, let start, let end, let timeZone, end > start else { return nil }
        let rulePath = "\(object.path).rrule"
        let parts: RecurrenceRuleParts
        switch RecurrenceRuleParts.parse(rule) {
        case let .failure(problem):
            fields.problem(rulePath, problem.description)
            return nil
        case let .success(read): parts = read
        }
        guard let expander else {
            fields.problem(object.path, "this meetingd cannot expand recurring meetings (no recurrence library)")
            return nil
        }
        let clock = ZonedClock(timeZone: timeZone)
        let reading = clock.local(start)
        // Rules run on whole seconds; a start with a fraction keeps it in every occurrence.
        let fraction = reading.secondsOfDay - reading.secondsOfDay.rounded(.down)
        let first = LocalDateTime(date: reading.date, secondsOfDay: reading.secondsOfDay.rounded(.down))
        // Calendars read a repeated wall time as its first instant (RFC 5545 section 3.3.5): a series whose
        // DTSTART is the second one would be shown an hour (or half an hour) early in every reader.
        let readBack = clock.readBack(start)
        if fields.strict, readBack != start {
            let shown = RFC3339.offsetText(timeZone.secondsFromGMT(for: readBack))
            let given = RFC3339.offsetText(timeZone.secondsFromGMT(for: start))
            let clockTime = first.hour.zeroPadded(2) + ":" + first.minute.zeroPadded(2) + ":" + first.second.zeroPadded(2)
            let wall = first.date.description + "T" + clockTime
            fields.problem("$.start", "\(wall)\(given) is the second \(clockTime) of \(timeZone.identifier) that day "
                + "(the clocks go back), and calendars read a series' wall time as the first, \(wall)\(shown); "
                + "start the series at another time, or submit this day's meeting on its own and the series from its next occurrence")
            return nil
        }
        if first.date > expander.lastDate {
            fields.problem(rulePath, "the series starts after \(expander.lastDate), the last date the recurrence library (libical) expands; "
                + "a series must start and end by then (a single meeting may be in any year to 2999)")
            return nil
        }
        // The rule's own end, as an instant and a wall-clock bound: an UNTIL date includes that whole local day.
        var untilInstant: Date?
        switch parts.end {
        case .count: break
        case let .untilDate(date): untilInstant = clock.instant(date.adding(days: 1)).addingTimeInterval(-1)
        case let .untilInstant(instant): untilInstant = instant
        }
        // The rule is expanded to its own end — at most one occurrence more than the bounds accept, so neither
        // COUNT nor UNTIL can make it long — and the span is checked on what comes back. (Cutting the expansion
        // at the longest span instead would miss a series that continues past it after a gap.)
        let lastAllowedDate = first.date.adding(days: limits.maxSpanDays)
        let limit = limits.maxOccurrences + exdates.count + 1
        var through = LocalDateTime(date: expander.lastDate, secondsOfDay: 86_399)
        if let untilInstant {
            let until = clock.local(untilInstant)
            if (until.date, until.secondsOfDay) < (through.date, through.secondsOfDay) { through = until }
        }
        // A rule shape the library expands otherwise than RFC 5545; a series approved before the shape was
        // known is still read back as it was counted.
        if fields.strict, let refusal = expander.refusal(for: parts, from: first) {
            fields.problem(rulePath, refusal)
            return nil
        }
        let starts: [LocalDateTime]
        switch expander.expand(rule: parts.text(untilInstant: nil), first: first, through: through, limit: limit) {
        case let .failure(problem):
            fields.problem(rulePath, problem.description)
            return nil
        case let .success(expanded): starts = expanded
        }
        // libical's iterator stops after its last date without a word: a series that would go on past it
        // (COUNT not reached, or UNTIL beyond it) is refused rather than counted short.
        let cutShort: Bool
        switch parts.end {
        case let .count(count): cutShort = !starts.isEmpty && starts.count < min(count, limit)
        case .untilDate, .untilInstant:
            cutShort = starts.count < limit && untilInstant.map { clock.local($0).date > expander.lastDate } ?? false
        }
        if cutShort, starts.last.map({ $0.date <= lastAllowedDate }) ?? true {
            fields.problem(rulePath, "the series runs past \(expander.lastDate), the last date the recurrence library (libical) expands")
            return nil
        }
        guard let firstStart = starts.first else {
            fields.problem(rulePath, "\(quoted(rule)) has no occurrence from start \(first.description)")
            return nil
        }
        guard firstStart == first else {
            fields.problem(rulePath, "start \(first.description) is not an occurrence of \(quoted(rule)) (the first is \(firstStart.description)); start the series on its first occurrence")
            return nil
        }
        if let last = starts.last, last.date > lastAllowedDate {
            fields.problem(rulePath, "the series runs past \(lastAllowedDate), more than recurrence.max_span_days (\(limits.maxSpanDays)) days after its first occurrence")
            return nil
        }
        let duration = end.timeIntervalSince(start)
        var occurrences: [Occurrence] = []
        var excludedStarts: [LocalDateTime] = []
        var matchedExdates = Set<LocalDate>()
        for (index, local) in starts.enumerated() {
            // The first is the request's own start (in a repeated hour, the wall clock alone could name the
            // other instant); the others are read from the wall clock as RFC 5545 reads them.
            let instant = index == 0 ? start : clock.instant(local.date, secondsOfDay: local.secondsOfDay).addingTimeInterval(fraction)
            if seen.contains(local.date) {
                matchedExdates.insert(local.date)
                excludedStarts.append(local)
            } else {
                occurrences.append(Occurrence(start: instant, end: instant.addingTimeInterval(duration)))
            }
        }
        var problems = false
        for (index, date) in exdates.enumerated() where !matchedExdates.contains(date) {
            fields.problem("\(object.path).exdates[\(index)]", "\(date) is not the date of an occurrence of the series")
            problems = true
        }
        if occurrences.count > limits.maxOccurrences {
            fields.problem(rulePath, "the series has more than recurrence.max_occurrences (\(limits.maxOccurrences)) occurrences")
            return nil
        }
        if occurrences.isEmpty {
            fields.problem("\(object.path).exdates", "no occurrence is left once the exdates are taken out")
            return nil
        }
        if problems { return nil }
        let written = parts.text(untilInstant: untilInstant)
        return Recurrence(rule: written, exdates: exdates, occurrences: occurrences, excludedStarts: excludedStarts)
    }

    private func readOrganizer(_ root: FieldPath, kind: MeetingKind?, _ fields: inout FieldReader) -> MeetingRequest.Organizer? {
        guard let object = fields.object(root, "organizer", required: true) else { return nil }
        let unit = fields.string(object, "unit", required: true, maxLength: Limit.name)
        let level = fields.enumeration(object, "level", Level.self, required: true)
        let type = fields.enumeration(object, "type", OrganizerType.self, required: true)
        let system = fields.string(object, "system", required: kind == .comprehensive, maxLength: Limit.name,
                                   missingNote: "required for a comprehensive meeting")
        let region = fields.region(object, "region", required: true)
        guard let unit, let level, let type, let region else { return nil }
        return .init(unit: unit.canonicalName, level: level, type: type, system: system?.canonicalName, region: region.canonicalName)
    }

    private func readConvener(_ root: FieldPath, _ fields: inout FieldReader) -> MeetingRequest.Convener? {
        guard let object = fields.object(root, "convener", required: true) else { return nil }
        let name = fields.string(object, "name", maxLength: Limit.name)
        guard let rank = fields.enumeration(object, "rank", ConvenerRank.self, required: true) else { return nil }
        return .init(name: name, rank: rank)
    }

    private func readAttendee(_ item: FieldPath, _ fields: inout FieldReader) -> MeetingRequest.Attendee? {
        guard fields.expectObject(item) else { return nil }
        let unit = fields.string(item, "unit", required: true, maxLength: Limit.name)
        let level = fields.enumeration(item, "level", Level.self, required: true)
        let region = fields.region(item, "region", required: true)
        let role = fields.enumeration(item, "role", AttendeeRole.self, required: true)
        let type = fields.enumeration(item, "type", OrganizerType.self) ?? .department
        let required = fields.bool(item, "required") ?? true
        let reason = fields.string(item, "reason", maxLength: Limit.reason)
        let accompanying = fields.bool(item, "accompanying") ?? false
        let email = fields.string(item, "email", maxLength: Limit.email)
        if let email, !Self.isEmail(email) { fields.problem("\(item.path).email", "\(quoted(email)) is not an e-mail address") }
        guard let unit, let level, let region, let role else { return nil }
        return .init(unit: unit.canonicalName, level: level, region: region.canonicalName, type: type, role: role, required: required,
                     reason: reason, accompanying: accompanying, email: email)
    }

    private func readAgendaItem(_ item: FieldPath, _ fields: inout FieldReader) -> MeetingRequest.AgendaItem? {
        guard fields.expectObject(item) else { return nil }
        let type = fields.enumeration(item, "type", AgendaItemType.self, required: true)
        let speaker = fields.string(item, "speaker", maxLength: Limit.name)
        let role = fields.enumeration(item, "speaker_role", AttendeeRole.self)
        let region = fields.region(item, "speaker_region")
        let minutes = fields.integer(item, "minutes", range: 0...20_160)
        guard let type else { return nil }
        return .init(type: type, speaker: speaker, speakerRole: role, speakerRegion: region?.canonicalName, minutes: minutes)
    }

    private func readApproval(_ item: FieldPath, _ fields: inout FieldReader) -> MeetingRequest.Approval? {
        guard fields.expectObject(item) else { return nil }
        let rule = fields.enumeration(item, "rule", RuleID.self, required: true)
        let approver = fields.string(item, "approver", maxLength: Limit.name)
        let role = fields.enumeration(item, "approver_role", AttendeeRole.self)
        let level = fields.enumeration(item, "approver_level", Level.self)
        let ref = fields.string(item, "ref", maxLength: Limit.text)
        let date = fields.string(item, "date", maxLength: Limit.date)
        if let date, LocalDate(date) == nil, RFC3339.parse(date) == nil {
            fields.problem("\(item.path).date", "\(quoted(date)) is neither a date (YYYY-MM-DD) nor an RFC 3339 date-time")
        }
        guard let rule else { return nil }
        return .init(rule: rule, approver: approver, approverRole: role, approverLevel: level, ref: ref, date: date)
    }

    static func isURI(_ text: String) -> Bool {
        guard let colon = text.firstIndex(of: ":"), colon != text.startIndex, text.index(after: colon) != text.endIndex else { return false }
        let scheme = text[..<colon]
        return scheme.first!.isASCII && scheme.first!.isLetter
            && scheme.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "+.-".contains($0)) }
            && !text.contains(where: { $0.isWhitespace || $0 == "<" || $0 == ">" || $0 == "\"" })
    }

    static func isEmail(_ text: String) -> Bool {
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        return parts.count == 2 && !parts[0].isEmpty && parts[1].contains(".")
            && !text.contains(where: { $0.isWhitespace || $0 == "<" || $0 == ">" || $0 == "\"" || $0 == ":" })
    }
}

extension String {
    /// The name in Unicode NFC: units, systems and regions are compared and stored as keys byte for byte (in
    /// SQL, in feed names), so two spellings a reader cannot tell apart (a composed and a decomposed é, a CJK
    /// compatibility ideograph and its unified one) must become one.
    public var canonicalName: String {
        // Most names are ASCII and CJK ideographs, which no normalization changes or combines: Foundation's
        // NFC mapping, which cost 15 % of reading a request, is needed only for anything else.
        let stable = unicodeScalars.allSatisfy { scalar in
            switch scalar.value {
            case 0x00...0x7F, 0x4E00...0x9FFF, 0x3000...0x3029, 0x3030...0x303F, 0xFF01...0xFF5E: return true
            default: return false
            }
        }
        return stable ? self : precomposedStringWithCanonicalMapping
    }
}

/// A value as an error message quotes it: at most 60 characters, quotes and control characters escaped.
public func quoted(_ text: String) -> String {
    let shown = text.count > 60 ? String(text.prefix(60)) + "…" : text
    var escaped = ""
    for scalar in shown.unicodeScalars {
        switch scalar {
        case "\"": escaped += "\\\""
        case "\\": escaped += "\\\\"
        case _ where scalar.value < 0x20 || scalar.value == 0x7F: escaped += String(format: "\\u%04X", scalar.value)
        default: escaped.unicodeScalars.append(scalar)
        }
    }
    return "\"\(escaped)\""
}
