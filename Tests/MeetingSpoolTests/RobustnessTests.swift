import Foundation
import MeetingLedger
import MeetingModel
import MeetingRules
import MeetingSpool
import XCTest

/// Hostile and broken inputs end up decided or invalid with a note — never lost, never a crash —
/// and a crash between any two steps is finished by the next run without deciding twice.
final class RobustnessTests: XCTestCase {
    /// A simulated crash: transient, like a process that stops and is started again.
    struct InjectedCrash: ClassifiedFailure { var isTransient: Bool { true } }

    func test_crashBetweenAnyTwoSteps_isFinishedByTheNextRun_withoutDecidingTwice() throws {
        for step in DecisionPipeline.Step.allCases where step != .settingAside {
            let spool = try TestSpool()
            try spool.drop("a.json", json: requestJSON(id: "a", kind: "comprehensive"))
            try spool.drop("b.json", json: requestJSON(id: "b", kind: "comprehensive", start: "2025-05-06T09:00:00+08:00", end: "2025-05-06T11:00:00+08:00"))
            try spool.drop("c.json", json: #"{"format": 1, "id": "a", "action": "withdraw"}"#)
            try spool.drop("d.json", json: "{broken")

            let crashing = try spool.pipeline()
            var calls = 0
            crashing.faultInjector = { reached, _ in
                if reached == step { calls += 1; if calls == 2 { throw InjectedCrash() } }
            }
            XCTAssertThrowsError(try crashing.drain(), "\(step)")
            XCTAssertEqual(spool.files("incoming").count, 3, "\(step): the interrupted request stays waiting")

            let outcomes = try spool.pipeline().drain()
            XCTAssertEqual(outcomes.map(\.file), ["b.json", "c.json", "d.json"], "\(step)")
            XCTAssertEqual(outcomes.first?.resumed, step.isAfterCommit, "\(step): b was already decided if the crash came after its commit")
            XCTAssertEqual(outcomes.map(\.recorded.decision.verdict), [.rejected, .withdrawn, .invalid], "\(step)")

            let lines = try spool.logLines()
            XCTAssertEqual(lines.count, 4, "\(step): one log line per decision")
            XCTAssertEqual(Set(lines.compactMap { $0["seq"]?.serialized }).count, 4, "\(step)")
            XCTAssertEqual(spool.files("incoming"), [], "\(step)")
            XCTAssertEqual(spool.files("rejected"), ["b.r1.json", "b.txt"], "\(step)")
            XCTAssertEqual(spool.files("invalid"), ["d.json", "d.json.txt"], "\(step)")
            for folder in ["approved", "rejected", "invalid", "withdrawn"] {
                XCTAssertFalse(spool.files(folder).contains { $0.hasPrefix(".") }, "\(step): temporary files left in \(folder)")
            }
        }
    }

    func test_overlappedGroups_reportTheGroupThatSettled_whenTheNextOneFails() throws {
        let spool = try TestSpool()
        for name in ["a", "b", "c", "d"] {
            try spool.drop("\(name).json", json: requestJSON(id: name, kind: "business", unit: "单位\(name)"))
        }
        let pipeline = try spool.pipeline()
        pipeline.batchSize = 2
        var calls = 0
        pipeline.faultInjector = { reached, _ in
            // The third request's output: the first of the second group.
            if reached == .afterLedgerCommit { calls += 1; if calls == 3 { throw InjectedCrash() } }
        }
        var settled: [String] = []
        XCTAssertThrowsError(try pipeline.process(groupsOf: try pipeline.spool.waitingFiles()) { settled += $0.map(\.file) })
        // The first group settled on the other thread while the second failed: it is reported and has moved.
        XCTAssertEqual(settled, ["a.json", "b.json"])
        XCTAssertEqual(spool.files("incoming"), ["c.json", "d.json"])
        XCTAssertEqual(try spool.pipeline().drain().map(\.file), ["c.json", "d.json"])
    }

    /// A daemon's pass asks for what arrived while it decided (`more`) and decides it in the same run, after
    /// what came before, in groups as usual; a request that fails even alone is held back there as anywhere;
    /// nothing is asked for once the run is to stop.
    func test_requestsArrivingDuringARun_areDecidedInIt_inOrder_andAFaultyOneIsHeldBack() throws {
        for batch in [1, 2] {
            let spool = try TestSpool()
            try spool.drop("a.json", json: requestJSON(id: "a", unit: "单位a"))
            let pipeline = try spool.pipeline()
            pipeline.batchSize = batch
            var announced: [String] = []
            var droppedD = false
            pipeline.faultInjector = { reached, file in
                guard reached == .deciding || reached == .settingAside else { return }
                if file == "a.json", !announced.contains("b.json") {
                    try spool.drop("b.json", json: requestJSON(id: "b", unit: "单位b"))
                    try spool.drop("c.json", json: requestJSON(id: "c", unit: "单位c"))
                    announced += ["c.json", "b.json"]  // announced out of order: decided in arrival order
                }
                if file == "b.json" { throw HostileSpoolTests.PoisonFault() }  // its decision and setting it aside fail
                if file == "c.json", !droppedD {
                    droppedD = true
                    try spool.drop("d.json", json: requestJSON(id: "d", unit: "单位d"))
                    announced.append("d.json")
                }
            }
            var asked = 0
            let more = { () -> [IncomingFile] in
                asked += 1
                defer { announced = [] }
                return SpoolDirectory.inArrivalOrder(announced.compactMap { pipeline.spool.waitingFile(named: Array($0.utf8)) })
            }
            var decided: [String] = []
            try pipeline.process(groupsOf: try pipeline.spool.waitingFiles(), more: more) { decided += $0.map(\.file) }
            let context = "batch \(batch)"
            XCTAssertEqual(decided, ["a.json", "c.json", "d.json"], context)
            XCTAssertEqual(spool.files("incoming"), ["b.json"], "\(context): held back where it was")
            XCTAssertEqual(pipeline.takeHeldBack().map(\.name), ["b.json"], context)
            XCTAssertEqual(try spool.logLines().map { $0["input"]!.serialized }, [#""incoming/a.json""#, #""incoming/c.json""#, #""incoming/d.json""#],
                           "\(context): one decision each, in arrival order")
            XCTAssertGreaterThanOrEqual(asked, 2, context)

            // Stopping while e is decided: f, which arrived meanwhile, is not asked for and waits.
            try spool.drop("e.json", json: requestJSON(id: "e", unit: "单位e"))
            var stopping = false
            pipeline.faultInjector = { reached, file in
                if reached == .deciding, file == "e.json", !stopping {
                    stopping = true
                    try spool.drop("f.json", json: requestJSON(id: "f", unit: "单位f"))
                    announced.append("f.json")
                }
            }
            asked = 0
            decided = []
            try pipeline.process(groupsOf: [pipeline.spool.waitingFile(named: Array("e.json".utf8))!], continuing: { !stopping }, more: more) {
                decided += $0.map(\.file)
            }
            XCTAssertEqual(decided, ["e.json"], context)
            XCTAssertEqual(asked, 1, "\(context): asked once while e was read, not after the stop")
            XCTAssertEqual(spool.files("incoming"), ["b.json", "f.json"], context)
        }
    }

    /// On a ledger that is a file here (SQLite), a group is made durable by one barrier of the whole file system,
    /// which the ledger's own writes need. On one that is not (PostgreSQL, run with MEETINGD_TEST_BACKEND), a
    /// small group syncs only its own files — outputs with their folders, then the log — so that it does not
    /// wait for whatever else was written (the feeds of every node on the machine); a big group makes one barrier.
    func test_aGroupIsMadeDurable_byOneBarrier_orOnALedgerElsewhere_byItsOwnFiles() throws {
        for batch in [1, DecisionPipeline.ownFileSyncLimit + 1] {
            let spool = try TestSpool()
            let names = (0..<(batch + 1)).map { "r\($0)" }
            for name in names { try spool.drop("\(name).json", json: requestJSON(id: name, unit: "单位\(name)")) }
            let pipeline = try spool.pipeline()
            pipeline.batchSize = batch
            let local = pipeline.ledger.localFile != nil
            XCTAssertEqual(pipeline.syncsOwnFiles(groupOf: batch), !local && batch <= DecisionPipeline.ownFileSyncLimit)
            let before = pipeline.spool.barrierMark()
            var decided: [String] = []
            try pipeline.process(groupsOf: try pipeline.spool.waitingFiles()) { decided += $0.map(\.file) }
            let context = "batch \(batch), \(local ? "local" : "shared") ledger"
            XCTAssertEqual(decided, names.map { "\($0).json" }, context)
            // Two groups: of `batch`, then of one (own files on a shared ledger, whatever the first's size).
            let expected = local ? 2 : (batch <= DecisionPipeline.ownFileSyncLimit ? 0 : 1)
            XCTAssertEqual(pipeline.spool.barrierMark() - before, expected, "\(context): barriers of the whole file system")
            XCTAssertEqual(try spool.logLines().count, names.count, context)
            XCTAssertEqual(spool.files("approved").filter { $0.hasSuffix(".ics") }.count, names.count, context)
            XCTAssertEqual(spool.files("incoming"), [], context)
        }
    }

    func test_groupCommit_decidesExactlyAsOneByOne_andACrashedGroupIsFinished() throws {
        func run(batch: Int, crashAt step: DecisionPipeline.Step?) throws -> [String] {
            let spool = try TestSpool()
            for name in TestSpool.exampleNames { try spool.dropExample(name) }
            for index in 0..<30 {
                try spool.drop("extra-\(index).json", json: requestJSON(id: "extra-\(index)", kind: index % 3 == 0 ? "comprehensive" : "business",
                                                                     unit: "单位\(index % 4)"))
            }
            if let step {
                let crashing = try spool.pipeline()
                crashing.batchSize = batch
                var calls = 0
                crashing.faultInjector = { reached, _ in
                    if reached == step { calls += 1; if calls == 2 { throw InjectedCrash() } }
                }
                XCTAssertThrowsError(try crashing.drain())
            }
            let pipeline = try spool.pipeline()
            pipeline.batchSize = batch
            try pipeline.drain()
            XCTAssertEqual(spool.files("incoming"), [])
            let lines = try spool.logLines()
            XCTAssertEqual(lines.count, 41, "one line per request")
            return lines.map { "\($0["input"]!.serialized) \($0["verdict"]!.serialized)" }
        }
        let oneByOne = try run(batch: 1, crashAt: nil)
        XCTAssertEqual(try run(batch: 16, crashAt: nil), oneByOne)
        for step in DecisionPipeline.Step.allCases where step != .settingAside {
            XCTAssertEqual(try run(batch: 16, crashAt: step), oneByOne, "\(step)")
        }
    }

    func test_tornLastLogLine_isRepairedOnStart() throws {
        let spool = try TestSpool()
        try spool.drop("a.json", json: requestJSON(id: "a"))
        try spool.pipeline().drain()
        let handle = try FileHandle(forWritingTo: spool.url("log/decisions.jsonl"))
        handle.seekToEndOfFile()
        handle.write(Data(#"{"time":"2025-"#.utf8))
        handle.closeFile()
        try spool.drop("b.json", json: requestJSON(id: "b", unit: "杭州市教育局"))
        try spool.pipeline().drain()
        XCTAssertEqual(try spool.logLines().map { $0["id"] }, [.string("a"), .string("b")])
    }

    func test_hostileFiles_goToInvalidWithANote() throws {
        let spool = try TestSpool()
        let secret = spool.url("outside-secret.json")
        try Data(requestJSON(id: "secret").utf8).write(to: secret)
        try FileManager.default.createSymbolicLink(atPath: spool.url("incoming/link.json").path, withDestinationPath: secret.path)
        try FileManager.default.createDirectory(at: spool.url("incoming/folder.json"), withIntermediateDirectories: false)
        try spool.drop("huge.json", Array(repeating: UInt8(ascii: " "), count: 2 * 1_048_576))
        try spool.drop("latin1.json", [0x7B, 0x22, 0x74, 0xE9, 0x22, 0x3A, 0x31, 0x7D])
        try spool.drop("bad-\u{FF}name.json".replacingOccurrences(of: "\u{FF}", with: ""), json: "{}")
        let rawName: [UInt8] = Array("raw-".utf8) + [0xFF, 0xFE] + Array(".json".utf8)
        let rawPath = Array(spool.url("incoming").path.utf8) + [UInt8(ascii: "/")] + rawName + [0]
        let fd = rawPath.withUnsafeBufferPointer { $0.withMemoryRebound(to: CChar.self) { open($0.baseAddress!, O_CREAT | O_WRONLY, 0o644) } }
        XCTAssertGreaterThanOrEqual(fd, 0)
        close(fd)
        try spool.drop(".still-writing.json", json: requestJSON(id: "hidden"))
        try spool.drop("notes.txt", json: "not a request")

        let outcomes = try spool.pipeline().drain()
        XCTAssertEqual(outcomes.count, 6)
        XCTAssertTrue(outcomes.allSatisfy { $0.recorded.decision.verdict == .invalid })
        XCTAssertEqual(spool.files("incoming"), [".still-writing.json", "notes.txt"], "dot-files and other names are left alone")
        let invalid = spool.files("invalid")
        XCTAssertTrue(invalid.contains("link.json") && invalid.contains("link.json.txt"))
        XCTAssertTrue(invalid.contains("folder.json") && invalid.contains("huge.json") && invalid.contains("latin1.json"))
        XCTAssertTrue(invalid.contains("raw-%FF%FE.json.txt"))
        // The symbolic link moved as a link; its target was not read or touched.
        let attributes = try FileManager.default.attributesOfItem(atPath: spool.url("invalid/link.json").path)
        XCTAssertEqual(attributes[.type] as? FileAttributeType, .typeSymbolicLink)
        XCTAssertTrue(FileManager.default.fileExists(atPath: secret.path))
        XCTAssertTrue(try spool.text("invalid/link.json.txt").contains("$: is a symbolic link"))
        XCTAssertTrue(try spool.text("invalid/huge.json.txt").contains("over the limit of 1048576"))
        XCTAssertTrue(try spool.text("invalid/latin1.json.txt").contains("$: not valid UTF-8"))
        XCTAssertEqual(try Data(contentsOf: spool.url("invalid/huge.json")).count, 2 * 1_048_576, "moved whole")
    }

    func test_leftoverTemporaryFiles_areRemovedOnOpen_butQuarantinedFoldersStayWhole() throws {
        let spool = try TestSpool()
        _ = try spool.pipeline()
        try FileManager.default.createDirectory(at: spool.url("feeds/region/浙江省"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: spool.url("invalid/folder.json"), withIntermediateDirectories: true)
        for path in ["feeds/region/浙江省/.meetingd-tmp.x.ics.1", "approved/.meetingd-tmp.a.ics.1", "invalid/folder.json/.meetingd-tmp.theirs"] {
            try Data("half".utf8).write(to: spool.url(path))
        }
        _ = try spool.pipeline()
        XCTAssertFalse(FileManager.default.fileExists(atPath: spool.url("feeds/region/浙江省/.meetingd-tmp.x.ics.1").path))
        XCTAssertFalse(FileManager.default.fileExists(atPath: spool.url("approved/.meetingd-tmp.a.ics.1").path))
        XCTAssertTrue(FileManager.default.fileExists(atPath: spool.url("invalid/folder.json/.meetingd-tmp.theirs").path))
    }

    func test_invalidNamesAlreadyTaken_getANumericSuffix() throws {
        let spool = try TestSpool()
        try spool.drop("x.json", json: "{")
        try spool.pipeline().drain()
        try spool.drop("x.json", json: "{")
        try spool.pipeline().drain()
        XCTAssertEqual(spool.files("invalid"), ["x.json", "x.json.1", "x.json.1.txt", "x.json.txt"])
    }

    func test_sameApprovedFileDroppedAgain_isInvalidNotDecidedTwice() throws {
        let spool = try TestSpool()
        try spool.drop("a.json", json: requestJSON(id: "a"))
        try spool.pipeline().drain()
        try spool.drop("a.json", json: requestJSON(id: "a"))
        let outcome = try XCTUnwrap(try spool.pipeline().drain().first)
        XCTAssertEqual(outcome.recorded.decision.verdict, .invalid)
        XCTAssertFalse(outcome.resumed)
        XCTAssertEqual(try spool.logLines().count, 2)
    }
}
