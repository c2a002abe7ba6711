import Foundation
import MeetingCalendar
import MeetingConfig
import MeetingLedger
import MeetingModel
import MeetingRules

/// Decides spool files in arrival order, in the order of effects that makes a crash harmless:
/// decision committed in the ledger → outputs written (tmp + rename) → log line appended → one durability
/// barrier (syncfs; on a ledger that is not a local file, the group's own files synced instead, see
/// `syncsOwnFiles(groupOf:)`) → request renamed out of `incoming/`. Run again after a crash at any point, it
/// finishes the work from the recorded decision without deciding anything twice.
///
/// Files are decided in groups of `batchSize` (the `group_commit` setting): one ledger transaction and one
/// barrier per group (or, on a shared ledger, the group's own files synced). With 1 (the default) every
/// decision is durable before its request moves; with 100, a burst costs one barrier per hundred, and no
/// request leaves `incoming/` before its group's barrier. While one group's barrier runs, the next group is
/// decided, and the group after it is read and parsed.
public final class DecisionPipeline {
    /// The points between the steps, where tests inject failures. `deciding` is reached inside the decision's
    /// transaction, once per attempt (a deadlock retried, a second try after `alreadyDecided`); on a ledger that
    /// looks for an earlier decision of the file in the decision's own round trips (PostgreSQL), also for a file
    /// whose earlier decision is then taken up instead — a fault injected there is then moot.
    public enum Step: Sendable, CaseIterable {
        case reading, deciding, afterLedgerCommit, afterOutputs, afterLogLine
        /// Before a request is set aside: a fault here makes setting it aside fail too.
        case settingAside

        /// The steps after a decision is committed: a crash there leaves a decision to finish, not to make.
        public var isAfterCommit: Bool { self == .afterLedgerCommit || self == .afterOutputs || self == .afterLogLine }
    }

    public struct Outcome: Sendable {
        public let file: String
        /// The file's name as it was in `incoming/`, byte for byte.
        public let nameBytes: [UInt8]
        public let recorded: RecordedDecision
        /// True when this run only finished a decision recorded by an earlier, interrupted run.
        public let resumed: Bool
        /// Why the request was set aside in `invalid/` after its decision, if it was.
        public let setAside: String?
    }

    public let spool: SpoolDirectory
    public let ledger: any Ledger
    public let log: DecisionLog
    public private(set) var decider: Decider
    public private(set) var parser: RequestParser
    private let logTimeZone: TimeZone
    /// Called at each step with the file's name; a test throws here to simulate a crash (a transient error)
    /// or a fault of that one request (any other error).
    public var faultInjector: ((Step, String) throws -> Void)?
    /// The clock of decisions (DTSTAMP, log time) and of the feeds' horizon; tests fix it.
    public var now: () -> Date = { Date() } {
        didSet { feeds.now = now }
    }

    /// The feeds under `feeds/`, kept up to date with every approval and withdrawal.
    public let feeds: FeedWriter

    /// Decisions per ledger transaction and durability barrier.
    public var batchSize = 1

    /// The feeds read `ledger` on their own thread in a daemon: every ledger gives that thread a connection of
    /// its own (SQLite: a reader of the pool, beside the writer in WAL mode; PostgreSQL: a second connection).
    public init(spool: SpoolDirectory, ledger: any Ledger, settings: RuleSettingsSet, timeZone: String,
                feedSettings: FeedSettings = FeedSettings()) throws {
        self.spool = spool
        self.ledger = ledger
        log = try DecisionLog(spool: spool)
        decider = Decider(engine: RuleEngine(settings: settings))
        parser = Self.parser(timeZone: timeZone, settings: settings)
        logTimeZone = TimeZone(identifier: timeZone) ?? TimeZone(identifier: "Asia/Shanghai")!
        feeds = FeedWriter(spool: spool, ledger: ledger, settings: feedSettings)
        try feeds.recoverWhenReadable()
    }

    /// Decides every file now waiting in `incoming/`, in arrival order, then brings the feeds up to date.
    @discardableResult
    public func drain() throws -> [Outcome] {
        var outcomes: [Outcome] = []
        try process(groupsOf: try spool.waitingFiles()) { outcomes += $0 }
        try feeds.followOtherNodes()
        try feeds.flush()
        return outcomes
    }

    /// New rule settings (after a reload) for the decisions that follow.
    public func apply(settings: RuleSettingsSet) {
        decider = Decider(engine: RuleEngine(settings: settings))
        parser = Self.parser(timeZone: parser.defaultTimeZone, settings: settings)
    }

    /// The request reader meetingd decides with: series expanded by libical within the configured bounds.
    public static func parser(timeZone: String, settings: RuleSettingsSet) -> RequestParser {
        RequestParser(defaultTimeZone: timeZone, expander: LibicalRecurrence(), recurrenceLimits: settings.recurrence)
    }

    public var settingsVersion: String { decider.engine.settings.version }

    /// Decides `files` in groups of `batchSize`, in order, calling `settled` with each group's outcomes once
    /// its requests have left `incoming/`. A group's output files, log lines, barrier and moves run on a
    /// second thread while the next group is decided, so the disk's work and the rules' overlap; every
    /// request still moves only after a barrier of its own group (or its group's own files synced). Stops
    /// after the group in flight when `continuing` turns false or a transient step fails (a full disk, a busy
    /// ledger); that failure is thrown after the group in flight has settled or failed too, and the requests
    /// not settled stay waiting.
    ///
    /// `more` is asked for requests that arrived since, each time every request given so far has been taken
    /// to be read (before the last of them is decided, and again once it is settling): they are decided in the
    /// same run, after those, instead of waiting for the last group's barrier and a new listing. It returns
    /// none to end the run (the default), and is not asked once `continuing` turns false.
    ///
    /// A failure that trying again cannot cure never stops the queue. A request whose own decision or
    /// outputs fail that way is set aside (`invalid/` with a note naming the cause) and the rest go on; one
    /// that fails a whole group's transaction is found by deciding that group again one request at a time,
    /// and a request that still fails alone is held back in `incoming/` (`heldBack`) while the rest go on.
    public func process(groupsOf files: [IncomingFile], continuing: () -> Bool = { true },
                        more: () -> [IncomingFile] = { [] }, settled: ([Outcome]) -> Void) throws {
        // A held-back file that is gone or was replaced (new time or size) is tried again.
        heldBack.formIntersection(files.map(HeldBack.init))
        var remaining = files.filter { !heldBack.contains(HeldBack($0)) }
        /// What arrived since is decided after `remaining`, and is part of it if a failure has to be sorted out.
        func arrivals() -> [IncomingFile] {
            let arrived = more().filter { !heldBack.contains(HeldBack($0)) }
            remaining += arrived
            return arrived
        }
        while !remaining.isEmpty {
            var settledNames = Set<[UInt8]>()
            do {
                try processGroups(remaining, continuing: continuing, more: arrivals) { outcomes in
                    settledNames.formUnion(outcomes.map(\.nameBytes))
                    settled(outcomes)
                }
                return
            } catch where !Failure.isTransient(error) {
                remaining.removeAll { settledNames.contains($0.nameBytes) || heldBack.contains(HeldBack($0)) }
                guard continuing(), !remaining.isEmpty else { return }
                // Decide the group that failed again alone, one request at a time, to find the one at fault.
                let suspects = remaining.prefix(max(1, batchSize))
                let whole = batchSize
                batchSize = 1
                defer { batchSize = whole }
                for suspect in suspects {
                    do {
                        try processGroups([suspect], continuing: continuing, settled: settled)
                    } catch where !Failure.isTransient(error) {
                        holdBack(suspect, cause: "\(error)")
                    }
                }
                remaining.removeFirst(suspects.count)
                // What arrived while the suspects were decided alone is not left for another run.
                if remaining.isEmpty, continuing() { _ = arrivals() }
            }
        }
    }

    /// A file in `incoming/` as it was when held back: a new file under the same name is tried again.
    struct HeldBack: Hashable {
        let nameBytes: [UInt8]
        let modifiedSeconds: Int
        let modifiedNanoseconds: Int
        let size: Int

        init(_ file: IncomingFile) {
            nameBytes = file.nameBytes
            (modifiedSeconds, modifiedNanoseconds) = file.modified
            size = file.size
        }
    }

    /// Requests that failed even alone for a reason retrying cannot cure, left in `incoming/` untouched and
    /// skipped while they stay as they are (until this process restarts, where they are tried once more).
    private(set) var heldBack = Set<HeldBack>()
    /// How many requests are held back now.
    public var heldBackCount: Int { heldBack.count }
    /// The name and cause of each request held back, for the caller to log once; taken by `takeHeldBack()`.
    private var heldBackCauses: [(name: String, cause: String)] = []

    /// The requests held back since the last call, with their causes.
    public func takeHeldBack() -> [(name: String, cause: String)] {
        defer { heldBackCauses.removeAll() }
        return heldBackCauses
    }

    private func holdBack(_ file: IncomingFile, cause: String) {
        if heldBack.insert(HeldBack(file)).inserted { heldBackCauses.append((file.name, cause)) }
    }

    private func processGroups(_ files: [IncomingFile], continuing: () -> Bool, more: () -> [IncomingFile] = { [] },
                               settled: ([Outcome]) -> Void) throws {
        let size = max(1, batchSize)
        var waiting = files[...]
        /// The next group to read: from `files`, then from what arrived since, asked for once those are all taken.
        func readNextGroup() -> Pending<[ReadFile]>? {
            if waiting.isEmpty, continuing() { waiting = more()[...] }
            guard !waiting.isEmpty else { return nil }
            let group = Array(waiting.prefix(size))
            waiting.removeFirst(group.count)
            return reader.start { try group.map(self.read) }
        }
        var inFlight: [Decided] = []
        var reading = readNextGroup()
        /// Reports a group that has settled (or failed to): what the settling thread found is taken here.
        func report(_ group: [Decided]) {
            let found = settleReport.take()
            var outcomes: [Outcome] = []
            for item in group {
                if let cause = found.notMoved[item.file.nameBytes] {
                    holdBack(item.file, cause: cause)
                } else if found.moved.contains(item.file.nameBytes) {
                    outcomes.append(item.outcome(setAside: found.setAsideCauses[item.file.nameBytes]))
                }
            }
            if !outcomes.isEmpty { settled(outcomes) }
        }
        do {
            while let current = reading, continuing() {
                let readFiles = try current.wait()
                reading = readNextGroup()
                let decided = try record(readFiles)
                // The group settling is reported once it is done, or by the catch below if that fails.
                try settling.waitForPrevious()
                report(inFlight)
                inFlight = []
                settling.start { try self.settle(decided) }
                inFlight = decided
                // What arrived while this group was decided goes on now, while its barrier runs.
                if reading == nil { reading = readNextGroup() }
            }
        } catch {
            _ = try? reading?.wait()
            // The group in flight when deciding failed may have settled in part: what moved is reported.
            _ = try? settling.waitForPrevious()
            report(inFlight)
            throw error
        }
        _ = try? reading?.wait()
        do {
            try settling.waitForPrevious()
        } catch {
            report(inFlight)
            throw error
        }
        report(inFlight)
    }

    private let reader = DispatchQueue(label: "meetingd.read", qos: .userInitiated)
    private let settling = SettlingThread()
    /// What the settling thread found, read by the deciding thread after it has waited for it.
    private let settleReport = SettleReport()
    /// `invalid/` names claimed inside the ledger transaction in progress: given back if it rolls back.
    private var claimsInTransaction: [String] = []

    private func claimInvalidDestination(for file: IncomingFile) throws -> String {
        let destination = try spool.claimInvalidDestination(for: file)
        claimsInTransaction.append(destination)
        return destination
    }

    /// Records the group's decisions in one ledger transaction, then makes the bytes of their outputs.
    private func record(_ files: [ReadFile]) throws -> [Decided] {
        // A file that vanished after it was listed was taken by someone else: nothing to decide.
        let files = files.filter { !$0.vanished }
        claimsInTransaction = []
        var decided: [Decided]
        do {
            decided = try decideInTransaction(files)
        } catch {
            for claim in claimsInTransaction { spool.abandonInvalidDestination(claim) }
            throw error
        }
        for index in decided.indices {
            let item = decided[index]
            do {
                try faultInjector?(.afterLedgerCommit, item.file.name)
                decided[index].output = try output(item.recorded, parsed: item.parsed, fileName: item.file.name, publication: item.publication)
            } catch where !Failure.isTransient(error) {
                try faultInjector?(.settingAside, item.file.name)
                decided[index].setAside = SetAside(cause: "its output could not be made: \(error)",
                                                   destination: try spool.claimInvalidDestination(for: item.file))
            }
            feeds.markDirty(item.recorded.touchedFeeds, through: item.recorded.sequenceNumber)
        }
        return decided
    }

    private func decideInTransaction(_ files: [ReadFile]) throws -> [Decided] {
        try ledger.transaction { () throws -> [Decided] in
            try files.compactMap(decide)
        }
    }

    /// Whether a failure of a step after the commit concerns this one request. Permission errors on meetingd's
    /// own folders, and failures of the steps shared by the whole group (log, barrier), are the machine's: they
    /// are waited out like a full disk rather than setting every request aside in turn.
    private func isRequestFault(_ error: any Error) -> Bool {
        if Failure.isTransient(error) { return false }
        if let spoolError = error as? SpoolError, let code = spoolError.code, code == EACCES || code == EPERM { return false }
        return true
    }

    /// Writes the group's outputs and log lines, then one barrier: the ledger's commit, the outputs and the
    /// log lines are on stable storage before any request of the group leaves incoming/. The bytes were made
    /// on the deciding thread; the writing is done here, off it. A request whose own step fails for good is
    /// set aside, and the others go on; one that can be neither moved nor set aside stays in `incoming/` and
    /// is held back. Every decision's log line is written either way.
    private func settle(_ decided: [Decided]) throws {
        do {
            try settleGroup(decided)
        } catch where !Failure.isTransient(error) {
            // Every fault of one request is handled inside; what escapes concerns the whole group.
            throw MachineFault(step: "settling a group", error)
        }
    }

    /// Whether a group of `count` decisions is made durable by syncing its own files — each output and note
    /// with its folder as it is written, then the log — rather than by a barrier of the whole file system.
    /// Only when the ledger is not a file here (PostgreSQL makes its commits durable itself) and the group is
    /// small: `syncfs` also waits for every byte anything else wrote to the file system, such as the feeds of
    /// this node and of the other nodes on the machine, and requests stalled behind it (docs/performance-history.md).
    /// A big group is cheaper to sync at once.
    public func syncsOwnFiles(groupOf count: Int) -> Bool {
        ledger.localFile == nil && count <= Self.ownFileSyncLimit
    }

    /// The largest group whose files are synced one by one on a ledger that is not a local file.
    public static let ownFileSyncLimit = 8

    private func settleGroup(_ decided: [Decided]) throws {
        var decided = decided
        var found = SettleReport.Found()
        let syncsOwnFiles = syncsOwnFiles(groupOf: decided.count)
        for index in decided.indices where decided[index].setAside == nil {
            let item = decided[index]
            guard let output = item.output else { continue }
            do {
                try spool.writeAtomically(output.path, output.bytes, durable: syncsOwnFiles)
                try faultInjector?(.afterOutputs, item.file.name)
            } catch where isRequestFault(error) {
                do {
                    try faultInjector?(.settingAside, item.file.name)
                    decided[index].setAside = SetAside(cause: "its output \(output.path) could not be written: \(error)",
                                                       destination: try spool.claimInvalidDestination(for: item.file))
                } catch where isRequestFault(error) {
                    found.notMoved[item.file.nameBytes] = "\(error)"
                }
            }
        }
        for index in decided.indices {
            let item = decided[index]
            let recorded = item.recorded
            var line = DecisionLine.make(recorded.decision, decidedAt: recorded.decidedAt, timeZone: logTimeZone,
                                         input: "incoming/\(item.file.name)", output: item.setAside.map { SpoolNames.note(besideInvalid: $0.destination) } ?? item.output?.path,
                                         moved: item.destination, sequenceNumber: recorded.sequenceNumber, node: recorded.node)
            if let aside = item.setAside {
                do {
                    try writeSetAsideNote(item, aside, durable: syncsOwnFiles)
                    found.setAsideCauses[item.file.nameBytes] = aside.cause
                } catch where isRequestFault(error) {
                    spool.abandonInvalidDestination(aside.destination)
                    found.notMoved[item.file.nameBytes] = "\(error)"
                }
                if case var .object(members) = line {
                    members.append(("set_aside", .string(aside.cause)))
                    line = .object(members)
                }
            }
            do {
                try log.append(line, sequenceNumber: recorded.sequenceNumber)
            } catch {
                throw MachineFault(step: "the decision log", error)
            }
        }
        do {
            if syncsOwnFiles {
                try log.sync()
            } else {
                try spool.barrier(alsoSync: ledger.localFile)
            }
        } catch {
            throw MachineFault(step: "the durability barrier", error)
        }
        defer { settleReport.put(found) }
        for item in decided where found.notMoved[item.file.nameBytes] == nil {
            do {
                try faultInjector?(.afterLogLine, item.file.name)
                try spool.moveIncoming(item.file, to: item.destination)
                found.moved.insert(item.file.nameBytes)
            } catch let error as SpoolError where error.code == ENOENT {
                continue  // someone else took the file after its decision; nothing is left to move
            } catch where isRequestFault(error) {
                do {
                    try setAsideAtMove(item, cause: "it could not be moved to \(item.destination): \(error)", into: &found,
                                       syncsOwnFiles: syncsOwnFiles)
                } catch where isRequestFault(error) {
                    found.notMoved[item.file.nameBytes] = "\(error)"
                }
            }
        }
        // With no barrier of the whole file system to come, the moves are made durable now, before the next
        // group's: a crash never keeps a later move and loses an earlier one.
        if syncsOwnFiles {
            do {
                try spool.syncFolders(Set([.incoming] + decided.compactMap { spool.folder(of: $0.destination) }))
            } catch {
                throw MachineFault(step: "syncing the folders the requests moved between", error)
            }
        }
    }

    /// Its destination is taken or cannot be named: set aside now, durable before the next group. The note
    /// is removed again if the move fails, so a request left in `incoming/` leaves no note behind.
    private func setAsideAtMove(_ item: Decided, cause: String, into found: inout SettleReport.Found,
                                syncsOwnFiles: Bool) throws {
        try faultInjector?(.settingAside, item.file.name)
        let aside = SetAside(cause: cause, destination: try spool.claimInvalidDestination(for: item.file))
        do {
            try writeSetAsideNote(item, aside, durable: true)
            try spool.moveIncoming(item.file, to: aside.destination)
        } catch {
            spool.removeOutput(SpoolNames.note(besideInvalid: aside.destination))
            throw error
        }
        found.moved.insert(item.file.nameBytes)
        found.setAsideCauses[item.file.nameBytes] = cause
        // The note was synced before the move; this makes the move durable before the next group.
        if syncsOwnFiles {
            try spool.syncFolders([.incoming, .invalid])
        } else {
            try spool.barrier()
        }
    }

    /// The note beside a request set aside after its decision, under the name claimed for it.
    private func writeSetAsideNote(_ item: Decided, _ aside: SetAside, durable: Bool) throws {
        let note = Notes.setAside(fileName: item.file.name, item.recorded.decision, sequenceNumber: item.recorded.sequenceNumber,
                                  cause: aside.cause)
        // The note replaces the empty claim on its name (`SpoolDirectory.claimInvalidDestination`).
        try spool.writeAtomically(SpoolNames.note(besideInvalid: aside.destination), Array(note.utf8), durable: durable)
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
        /// Set when a step after the ledger's commit failed for good: the request goes to `invalid/` instead.
        var setAside: SetAside?

        var destination: String { setAside?.destination ?? recorded.destination }
        func outcome(setAside cause: String?) -> Outcome {
            Outcome(file: file.name, nameBytes: file.nameBytes, recorded: recorded, resumed: resumed, setAside: cause)
        }
    }

    private struct SetAside {
        let cause: String
        let destination: String
    }

    /// A spool file read and parsed, before any ledger work: this part needs no order, so the next group's
    /// files are read on another thread while the current group is decided.
    struct ReadFile: @unchecked Sendable {
        let file: IncomingFile
        let bytes: [UInt8]
        let identity: InputIdentity
        let parsed: Result<ParsedRequest, InvalidRequest>
        /// Gone between listing and reading: someone else took it.
        var vanished = false
    }

    private func read(_ file: IncomingFile) throws -> ReadFile {
        var bytes: [UInt8] = []
        var unreadable: String?
        switch file.kind {
        case .regular:
            do {
                try faultInjector?(.reading, file.name)
                bytes = try spool.read(file, limit: RequestParser.maximumBytes)
                unreadable = bytes.count > RequestParser.maximumBytes
                    ? "$: the file is \(file.size) bytes, over the limit of \(RequestParser.maximumBytes)" : nil
            } catch let error as SpoolError where error.code == ENOENT {
                return ReadFile(file: file, bytes: [], identity: InputIdentity(name: file.name, digest: ""), parsed: .failure(InvalidRequest(id: nil, problems: [])), vanished: true)
            } catch where !Failure.isTransient(error) {
                // A file meetingd may not read would block the queue forever: it is invalid, and moved aside whole.
                bytes = []
                unreadable = "$: cannot be read: \((error as? SpoolError)?.reason ?? "\(error)")"
            }
        case .symbolicLink:
            unreadable = "$: is a symbolic link; a request must be a regular file renamed into incoming/"
        case .directory:
            unreadable = "$: is a directory, not a request file"
        case .other:
            unreadable = "$: is not a regular file (a FIFO, socket or device)"
        }
        let identity = InputIdentity(name: file.name, digest: InputIdentity.digest(of: bytes, size: file.size))
        let parsed: Result<ParsedRequest, InvalidRequest> = unreadable.map { .failure(InvalidRequest(id: nil, problems: [$0])) }
            ?? Self.parse(bytes, with: parser)
        return ReadFile(file: file, bytes: bytes, identity: identity, parsed: parsed)
    }

    /// The request in `bytes`, read as `drain`, `run` and `check` all read it: parsed and validated, and for a
    /// proposal its calendar's time zone checked writable, so that nothing after the ledger's commit can
    /// fail on account of it.
    public static func parse(_ bytes: [UInt8], with parser: RequestParser) -> Result<ParsedRequest, InvalidRequest> {
        let parsed = parser.parse(bytes)
        guard case let .success(.proposal(request)) = parsed else { return parsed }
        do {
            try ICalendarWriter.checkTimeZone(request.timeZoneName, from: request.start)
            return parsed
        } catch {
            return .failure(InvalidRequest(id: request.id, problems: ["$.timezone: \"\(request.timeZoneName)\" cannot be written to a calendar: \(error)"]))
        }
    }

    /// Records the decision of a read file in the group's transaction, or takes up the one an interrupted run
    /// recorded (nil when that run had moved the file all but its last step). A failure that retrying cannot
    /// cure (a bug, content nothing else handles) is recorded instead as the request set aside: invalid, with
    /// the cause as its problem, so the queue moves on and the request is kept whole.
    private func decide(_ input: ReadFile) throws -> Decided? {
        let (file, bytes, identity, parsed) = (input.file, input.bytes, input.identity, input.parsed)
        var movedBefore = false
        /// Whether an earlier decision of this file, recorded by an interrupted run, is the one to finish: its
        /// destination is still free. A destination already taken by this very file is a move by link and
        /// unlink that a crash cut in half: the decision is complete once the link in incoming/ is gone.
        func takesUp(_ earlier: RecordedDecision) -> Bool {
            guard spool.exists(earlier.destination) else { return true }
            movedBefore = spool.isSameFile(file, earlier.destination)
            return movedBefore
        }
        let taken: DecisionTaken, publication: Publication?
        do {
            (taken, publication) = try decideAndRecord(file, identity: identity, parsed: parsed, bytes: bytes, takingUp: takesUp)
        } catch where !Failure.isTransient(error) && !(error is EarlierDecisionUnreadable) {
            // The request's own fault (the rules, its name, its outputs' bytes): set aside. A failure to read an
            // earlier decision of it is not: the group fails, and the file alone is held back in incoming/.
            try faultInjector?(.settingAside, file.name)
            let cause = "$: meetingd could not decide this request: \(error)"
            let decision = Decision(verdict: .invalid, requestID: (try? parsed.get())?.id, revision: nil, problems: [cause],
                                    note: Self.setAsideNote, settingsVersion: settingsVersion)
            let destination = try claimInvalidDestination(for: file)
            let recorded = try ledger.decideAndRecord(input: identity, decidedAt: decisionTime()) { _ in
                DecisionToRecord(decision: decision, destination: destination)
            }
            return Decided(file: file, parsed: .failure(InvalidRequest(id: decision.requestID, problems: [cause])), recorded: recorded, resumed: false)
        }
        switch taken {
        case let .made(recorded):
            return Decided(file: file, parsed: parsed, recorded: recorded, resumed: false, publication: publication)
        case let .takenUp(earlier):
            if movedBefore {
                try spool.finishMove(file)
                return nil
            }
            return Decided(file: file, parsed: parsed, recorded: earlier, resumed: true)
        }
    }

    /// The `note` of a decision that set a request aside.
    public static let setAsideNote = "set aside"

    /// Milliseconds, so the time read back from the ledger gives the same bytes on a replay.
    private func decisionTime() -> Date {
        Date(timeIntervalSince1970: (now().timeIntervalSince1970 * 1000).rounded(.down) / 1000)
    }

    private func decideAndRecord(_ file: IncomingFile, identity: InputIdentity, parsed: Result<ParsedRequest, InvalidRequest>,
                                 bytes: [UInt8], takingUp: (RecordedDecision) throws -> Bool) throws -> (DecisionTaken, Publication?) {
        let decidedAt = decisionTime()
        var published: Publication?
        var reservedName: String?
        func attempt() throws -> DecisionTaken {
            try self.ledger.decideAndRecord(input: identity, decidedAt: decidedAt, takingUp: takingUp) { state in
                try self.faultInjector?(.deciding, file.name)
                published = nil
                let decision = try self.decider.decide(parsed, state: state)
                // A withdrawal republishes the stored meeting as cancelled: read in the decision's own transaction,
                // after deciding (which, on a shared ledger, locks the id: a revision another node approved
                // meanwhile is committed, and is the one cancelled).
                var stored: (meeting: StoredMeeting, request: MeetingRequest)?
                if case let .success(.withdrawal(withdrawal)) = parsed, let meeting = try self.ledger.meeting(id: withdrawal.id),
                   case let .success(.proposal(request)) = self.parser.parseStored(meeting.requestBytes, asSeries: meeting.occurrences != nil) {
                    stored = (meeting, request)
                }
                // The bytes are kept with every proposal and withdrawal (an invalid file's are in invalid/).
                var record = DecisionToRecord(decision: decision, destination: try self.destination(decision, file: file, reserved: &reservedName),
                                              requestBytes: bytes)
                if case let .success(.proposal(request)) = parsed {
                    record.subject = DecisionSubject(request)
                } else if let stored {
                    record.subject = DecisionSubject(stored.request)
                }
                if decision.verdict == .approved, case let .success(.proposal(request)) = parsed {
                    record.approved = request
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
            let taken: DecisionTaken
            do {
                taken = try attempt()
            } catch LedgerError.alreadyDecided {
                // Another decider recorded the same id and revision first; deciding again now sees that.
                taken = try attempt()
            }
            // A ledger that decided before it found the earlier decision may have claimed a name for nothing.
            if case .takenUp = taken, let reservedName { spool.abandonInvalidDestination(reservedName) }
            return (taken, published)
        } catch {
            if let reservedName { spool.abandonInvalidDestination(reservedName) }
            throw error
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
    public static func calendar(_ publication: Publication) throws -> [UInt8] {
        try ICalendarWriter.assemble(CalendarDocument(events: []), zones: [publication.timeZone: publication.start],
                                         events: [publication.vevent])
    }

    private static func publication(_ event: CalendarEvent, request: MeetingRequest) throws -> Publication {
        // A series is shown until its last occurrence has ended.
        Publication(vevent: try ICalendarWriter.renderEvent(event), timeZone: event.timeZone, start: event.start,
                    end: request.occurrences.last?.end ?? event.end, feedKeys: FeedKey.keys(for: request).map(\.key))
    }

    /// Where the input file goes for `decision` (relative to the spool). An invalid file's name in `invalid/`
    /// is claimed on disk; `reserved` holds it so a failed attempt can give it back.
    private func destination(_ decision: Decision, file: IncomingFile, reserved: inout String?) throws -> String {
        if decision.verdict != .invalid {
            return SpoolNames.decidedRequest(decision.verdict, id: decision.requestID!, revision: decision.revision!)
        }
        if let reserved { return reserved }
        let name = try claimInvalidDestination(for: file)
        reserved = name
        return name
    }

    /// The calendar object or note of a decision and its spool path. A replay makes the same bytes, so writing
    /// them again is harmless. The group's barrier makes them durable before the request moves (or, on a
    /// shared ledger, each is synced as it is written: `syncsOwnFiles(groupOf:)`).
    private func output(_ recorded: RecordedDecision, parsed: Result<ParsedRequest, InvalidRequest>, fileName: String,
                        publication: Publication?) throws -> (path: String, bytes: [UInt8]) {
        let decision = recorded.decision
        switch decision.verdict {
        case .approved:
            guard case let .success(.proposal(request)) = parsed else {
                throw SpoolError("approved decision \(recorded.sequenceNumber) has no readable request")
            }
            let event = { self.event(request, decision, decidedAt: recorded.decidedAt) }
            return (SpoolNames.calendar(id: request.id), try Self.calendar(publication ?? Self.publication(event(), request: request)))
        case .rejected:
            guard case let .success(.proposal(request)) = parsed else {
                throw SpoolError("rejected decision \(recorded.sequenceNumber) has no readable request")
            }
            return (SpoolNames.rejectionNote(id: request.id), Array(Notes.rejection(request, decision, decidedAt: recorded.decidedAt).utf8))
        case .withdrawn:
            let id = decision.requestID!
            guard let meeting = try ledger.meeting(id: id),
                  case let .success(.proposal(request)) = parser.parseStored(meeting.requestBytes, asSeries: meeting.occurrences != nil) else {
                throw SpoolError("withdrawn meeting \(id) is missing from the ledger")
            }
            let event = { self.cancelledEvent(meeting, request, decision, decidedAt: recorded.decidedAt) }
            return (SpoolNames.calendar(id: id), try Self.calendar(publication ?? Self.publication(event(), request: request)))
        case .invalid:
            // It replaces the empty claim on the name (see `SpoolDirectory.claimInvalidDestination`).
            return (SpoolNames.note(besideInvalid: recorded.destination), Array(Notes.invalid(fileName: fileName, decision).utf8))
        }
    }
}

/// A failure of a step the whole group shares (the decision log, the barrier): whatever its cause, no one
/// request is at fault, so it is waited out and retried, never turned into requests set aside or held back.
struct MachineFault: ClassifiedFailure, CustomStringConvertible {
    let step: String
    let underlying: any Error

    init(step: String, _ underlying: any Error) {
        self.step = step
        self.underlying = underlying
    }

    var isTransient: Bool { true }
    var description: String { "\(step): \(underlying)" }
}

/// What the settling thread found about one group: which requests moved, which were set aside there (and
/// why), and which could be neither moved nor set aside. Put by the settling thread, taken by
/// the deciding thread after it has waited for the group.
final class SettleReport: @unchecked Sendable {
    struct Found {
        var moved = Set<[UInt8]>()
        var setAsideCauses: [[UInt8]: String] = [:]
        var notMoved: [[UInt8]: String] = [:]
    }

    private let lock = NSLock()
    private var found = Found()

    func put(_ found: Found) { lock.withLock { self.found = found } }

    func take() -> Found {
        lock.withLock {
            defer { found = Found() }
            return found
        }
    }
}
