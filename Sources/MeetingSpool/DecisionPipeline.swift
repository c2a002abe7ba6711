import Foundation
import MeetingCalendar
import MeetingConfig
import MeetingLedger
import MeetingModel
import MeetingRules

/// Decides spool files in arrival order, in the order of effects that makes a crash harmless:
/// decision committed in the ledger → outputs written (tmp + rename) → log line appended → one durability
/// barrier (syncfs) → request renamed out of `incoming/`. Run again after a crash at any point, it finishes
/// the work from the recorded decision without deciding anything twice.
///
/// Files are decided in groups of `batchSize` (the `group_commit` setting): one ledger transaction and one
/// barrier per group. With 1 (the default) every decision is durable before its request moves; with 100, a
/// burst costs one barrier per hundred, and no request leaves `incoming/` before its group's barrier. While
/// one group's barrier runs, the next group is decided, and the group after it is read and parsed.
public final class DecisionPipeline {
    /// The points between the steps, where tests inject failures.
    public enum Step: Sendable, CaseIterable {
        case afterLedgerCommit, afterOutputs, afterLogLine
    }

    public struct Outcome: Sendable {
        public let file: String
        /// The file's name as it was in `incoming/`, byte for byte.
        public let nameBytes: [UInt8]
        public let recorded: RecordedDecision
        /// True when this run only finished a decision recorded by an earlier, interrupted run.
        public let resumed: Bool
    }

    public let spool: SpoolDirectory
    public let ledger: any Ledger
    public let log: DecisionLog
    public private(set) var decider: Decider
    public private(set) var parser: RequestParser
    private let logTimeZone: TimeZone
    /// Called between steps; a test throws here to simulate a crash.
    public var faultInjector: ((Step) throws -> Void)?
    /// The clock of decisions (DTSTAMP, log time) and of the feeds' horizon; tests fix it.
    public var now: () -> Date = { Date() } {
        didSet { feeds.now = now }
    }

    /// The feeds under `feeds/`, kept up to date with every approval and withdrawal.
    public let feeds: FeedWriter

    /// Decisions per ledger transaction and durability barrier.
    public var batchSize = 1

    /// `feedLedger`: a second connection for the feeds, so that a daemon can rewrite them on another
    /// thread without holding up decisions (reads in WAL mode do not block the writer).
    public init(spool: SpoolDirectory, ledger: any Ledger, settings: RuleSettingsSet, timeZone: String,
                feedSettings: FeedSettings = FeedSettings(), feedLedger: (any Ledger)? = nil) throws {
        self.spool = spool
        self.ledger = ledger
        log = try DecisionLog(spool: spool)
        decider = Decider(engine: RuleEngine(settings: settings))
        parser = RequestParser(defaultTimeZone: timeZone)
        logTimeZone = TimeZone(identifier: timeZone) ?? TimeZone(identifier: "Asia/Shanghai")!
        feeds = FeedWriter(spool: spool, ledger: feedLedger ?? ledger, settings: feedSettings)
        try feeds.recover()
    }

    /// Decides every file now waiting in `incoming/`, in arrival order, then brings the feeds up to date.
    @discardableResult
    public func drain() throws -> [Outcome] {
        var outcomes: [Outcome] = []
        try process(groupsOf: try spool.waitingFiles()) { outcomes += $0 }
        try feeds.flush()
        return outcomes
    }

    /// New rule settings (after a reload) for the decisions that follow.
    public func apply(settings: RuleSettingsSet) {
        decider = Decider(engine: RuleEngine(settings: settings))
    }

    public var settingsVersion: String { decider.engine.settings.version }

    /// Decides `files` in groups of `batchSize`, in order, calling `settled` with each group's outcomes once
    /// its requests have left `incoming/`. A group's output files, log lines, barrier and moves run on a
    /// second thread while the next group is decided, so the disk's work and the rules' overlap; every
    /// request still moves only after a barrier of its own group. Stops after the group in flight when
    /// `continuing` turns false or a step fails; the failure is thrown after that group has settled or
    /// failed too.
    public func process(groupsOf files: [IncomingFile], continuing: () -> Bool = { true },
                        settled: ([Outcome]) -> Void) throws {
        let groups = stride(from: 0, to: files.count, by: max(1, batchSize)).map { Array(files[$0..<min($0 + max(1, batchSize), files.count)]) }
        var inFlight: [Decided] = []
        var reading = groups.isEmpty ? nil : reader.start { try groups[0].map(self.read) }
        do {
            for index in groups.indices {
                guard let current = reading, continuing() else { break }
                let readFiles = try current.wait()
                reading = index + 1 < groups.count ? reader.start { try groups[index + 1].map(self.read) } : nil
                let decided = try record(readFiles)
                let previous = inFlight
                inFlight = []
                try settling.waitForPrevious()
                if !previous.isEmpty { settled(previous.map(\.outcome)) }
                settling.start { try self.settle(decided) }
                inFlight = decided
            }
        } catch {
            _ = try? reading?.wait()
            // The group in flight when deciding failed may still settle: its requests have moved, so say so.
            if (try? settling.waitForPrevious()) != nil, !inFlight.isEmpty { settled(inFlight.map(\.outcome)) }
            throw error
        }
        _ = try? reading?.wait()
        try settling.waitForPrevious()
        if !inFlight.isEmpty { settled(inFlight.map(\.outcome)) }
    }

    private let reader = DispatchQueue(label: "meetingd.read", qos: .userInitiated)
    private let settling = SettlingThread()

    /// Records the group's decisions in one ledger transaction, then makes the bytes of their outputs.
    private func record(_ files: [ReadFile]) throws -> [Decided] {
        var decided = try ledger.transaction { try files.map(decide) }
        try faultInjector?(.afterLedgerCommit)
        for index in decided.indices {
            let item = decided[index]
            decided[index].output = try output(item.recorded, parsed: item.parsed, fileName: item.file.name, publication: item.publication)
            feeds.markDirty(item.recorded.touchedFeeds, through: item.recorded.sequenceNumber)
        }
        return decided
    }

    /// Writes the group's outputs and log lines, then one barrier: the ledger's commit, the outputs and the
    /// log lines are on stable storage before any request of the group leaves incoming/. The bytes were made
    /// on the deciding thread; the writing is done here, off it.
    private func settle(_ decided: [Decided]) throws {
        for item in decided {
            guard let output = item.output else { continue }
            try spool.writeAtomically(output.path, output.bytes, durable: false)
        }
        try faultInjector?(.afterOutputs)
        for item in decided {
            let recorded = item.recorded
            try log.append(DecisionLine.make(recorded.decision, decidedAt: recorded.decidedAt, timeZone: logTimeZone,
                                             input: "incoming/\(item.file.name)", output: item.output?.path, moved: recorded.destination,
                                             sequenceNumber: recorded.sequenceNumber),
                           sequenceNumber: recorded.sequenceNumber)
        }
        try spool.barrier(alsoSync: ledger.localFile)
        try faultInjector?(.afterLogLine)
        for item in decided { try spool.moveIncoming(item.file, to: item.recorded.destination) }
    }

    private struct Decided {
        let file: IncomingFile
        let parsed: Result<ParsedRequest, InvalidRequest>
        let recorded: RecordedDecision
        let resumed: Bool
        /// The event as this run rendered it for the ledger, reused for the .ics; nil when resumed.
        var publication: Publication?
        /// The calendar object or note to write, and where (relative to the spool).
        var output: (path: String, bytes: [UInt8])?
        var outcome: Outcome { Outcome(file: file.name, nameBytes: file.nameBytes, recorded: recorded, resumed: resumed) }
    }

    /// Reads one file and records its decision, or finds the decision an interrupted run recorded.
    /// A spool file read and parsed, before any ledger work: this part needs no order, so the next group's
    /// files are read on another thread while the current group is decided.
    struct ReadFile: @unchecked Sendable {
        let file: IncomingFile
        let bytes: [UInt8]
        let identity: InputIdentity
        let parsed: Result<ParsedRequest, InvalidRequest>
    }

    private func read(_ file: IncomingFile) throws -> ReadFile {
        let bytes: [UInt8]
        let unreadable: String?
        switch file.kind {
        case .regular:
            do {
                bytes = try spool.read(file, limit: RequestParser.maximumBytes)
                unreadable = bytes.count > RequestParser.maximumBytes
                    ? "$: the file is \(file.size) bytes, over the limit of \(RequestParser.maximumBytes)" : nil
            } catch let error as SpoolError where error.isPermanent {
                // A file meetingd may not read would block the queue forever: it is invalid, and moved aside whole.
                bytes = []
                unreadable = "$: cannot be read: \(error.reason)"
            }
        case .symbolicLink:
            bytes = []
            unreadable = "$: is a symbolic link; a request must be a regular file renamed into incoming/"
        case .directory:
            bytes = []
            unreadable = "$: is a directory, not a request file"
        case .other:
            bytes = []
            unreadable = "$: is not a regular file (a FIFO, socket or device)"
        }
        let identity = InputIdentity(name: file.name, digest: Digest.fnv1a64Hex(bytes) + "-\(file.size)")
        let parsed: Result<ParsedRequest, InvalidRequest> = unreadable.map { .failure(InvalidRequest(id: nil, problems: [$0])) }
            ?? parser.parse(bytes)
        return ReadFile(file: file, bytes: bytes, identity: identity, parsed: parsed)
    }

    /// Records the decision of a read file, or finds the decision an interrupted run recorded.
    private func decide(_ input: ReadFile) throws -> Decided {
        let (file, bytes, identity, parsed) = (input.file, input.bytes, input.identity, input.parsed)
        if let earlier = try ledger.latestDecision(for: identity), !spool.exists(earlier.destination) {
            // Decided before a crash, not yet moved: finish that decision.
            return Decided(file: file, parsed: parsed, recorded: earlier, resumed: true)
        }
        let (recorded, publication) = try decideAndRecord(file, identity: identity, parsed: parsed, bytes: bytes)
        return Decided(file: file, parsed: parsed, recorded: recorded, resumed: false, publication: publication)
    }

    private func decideAndRecord(_ file: IncomingFile, identity: InputIdentity, parsed: Result<ParsedRequest, InvalidRequest>,
                                 bytes: [UInt8]) throws -> (RecordedDecision, Publication?) {
        // Milliseconds, so the time read back from the ledger gives the same bytes on a replay.
        let decidedAt = Date(timeIntervalSince1970: (now().timeIntervalSince1970 * 1000).rounded(.down) / 1000)
        // A withdrawal republishes the stored meeting as cancelled.
        var stored: (meeting: StoredMeeting, request: MeetingRequest)?
        if case let .success(.withdrawal(withdrawal)) = parsed, let meeting = try ledger.meeting(id: withdrawal.id),
           case let .success(.proposal(request)) = parser.parse(meeting.requestBytes) {
            stored = (meeting, request)
        }
        var published: Publication?
        let attempt = {
            try self.ledger.decideAndRecord(input: identity, decidedAt: decidedAt) { state in
                published = nil
                let decision = try self.decider.decide(parsed, state: state)
                var record = DecisionToRecord(decision: decision, destination: self.destination(decision, file: file))
                if decision.verdict == .approved, case let .success(.proposal(request)) = parsed {
                    record.approved = (request, bytes)
                    record.publication = try Self.publication(self.event(request, decision, decidedAt: decidedAt), request: request)
                } else if decision.verdict == .withdrawn, let stored {
                    let event = self.cancelledEvent(stored.meeting, stored.request, decision, decidedAt: decidedAt)
                    record.publication = try Self.publication(event, request: stored.request)
                }
                published = record.publication
                return record
            }
        }
        do {
            return (try attempt(), published)
        } catch LedgerError.alreadyDecided {
            // Another decider recorded the same id and revision first; deciding again now sees that.
            return (try attempt(), published)
        }
    }

    private func event(_ request: MeetingRequest, _ decision: Decision, decidedAt: Date) -> CalendarEvent {
        EventBuilder.event(request, sequence: decision.sequence ?? 0, stamp: decidedAt, assessment: decision.assessment,
                           settingsVersion: decision.settingsVersion, note: decision.note, cancelled: false)
    }

    private func cancelledEvent(_ meeting: StoredMeeting, _ request: MeetingRequest, _ decision: Decision, decidedAt: Date) -> CalendarEvent {
        EventBuilder.event(request, sequence: decision.sequence ?? meeting.sequence, stamp: decidedAt, assessment: meeting.assessment,
                           settingsVersion: meeting.settingsVersion, note: nil, cancelled: true)
    }

    /// The single-event .ics of an approval or withdrawal: the VEVENT the ledger keeps for feeds, in its calendar.
    private static func calendar(_ publication: Publication) throws -> [UInt8] {
        try ICalendarWriter.assemble(CalendarDocument(events: []), zones: [publication.timeZone: publication.start],
                                         events: [publication.vevent])
    }

    private static func publication(_ event: CalendarEvent, request: MeetingRequest) throws -> Publication {
        Publication(vevent: try ICalendarWriter.renderEvent(event), timeZone: event.timeZone, start: event.start, end: event.end,
                    feedKeys: FeedKey.keys(for: request).map(\.key))
    }

    /// Where the input file goes for `decision` (relative to the spool).
    private func destination(_ decision: Decision, file: IncomingFile) -> String {
        switch decision.verdict {
        case .approved: return "approved/\(decision.requestID!).r\(decision.revision!).json"
        case .rejected: return "rejected/\(decision.requestID!).r\(decision.revision!).json"
        case .withdrawn: return "withdrawn/\(decision.requestID!).r\(decision.revision!).withdraw.json"
        case .invalid: return "invalid/" + spool.freeInvalidName(for: file.name)
        }
    }

    /// The calendar object or note of a decision and its spool path. A replay makes the same bytes, so writing
    /// them again is harmless; they are not synced one by one: the group's barrier makes them durable before
    /// the request moves.
    private func output(_ recorded: RecordedDecision, parsed: Result<ParsedRequest, InvalidRequest>, fileName: String,
                        publication: Publication?) throws -> (path: String, bytes: [UInt8]) {
        let decision = recorded.decision
        switch decision.verdict {
        case .approved:
            guard case let .success(.proposal(request)) = parsed else {
                throw SpoolError("approved decision \(recorded.sequenceNumber) has no readable request")
            }
            let event = { self.event(request, decision, decidedAt: recorded.decidedAt) }
            return ("approved/\(request.id).ics", try Self.calendar(publication ?? Self.publication(event(), request: request)))
        case .rejected:
            guard case let .success(.proposal(request)) = parsed else {
                throw SpoolError("rejected decision \(recorded.sequenceNumber) has no readable request")
            }
            return ("rejected/\(request.id).txt", Array(Notes.rejection(request, decision, decidedAt: recorded.decidedAt).utf8))
        case .withdrawn:
            let id = decision.requestID!
            guard let meeting = try ledger.meeting(id: id), case let .success(.proposal(request)) = parser.parse(meeting.requestBytes) else {
                throw SpoolError("withdrawn meeting \(id) is missing from the ledger")
            }
            let event = { self.cancelledEvent(meeting, request, decision, decidedAt: recorded.decidedAt) }
            return ("approved/\(id).ics", try Self.calendar(publication ?? Self.publication(event(), request: request)))
        case .invalid:
            return (recorded.destination + ".txt", Array(Notes.invalid(fileName: fileName, decision).utf8))
        }
    }
}
