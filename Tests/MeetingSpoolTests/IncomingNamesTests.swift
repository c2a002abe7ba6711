import Foundation
@testable import MeetingDaemon
import MeetingSpool
import XCTest

/// The watcher lists `incoming/` knowing which names inotify announced complete. The thread reading inotify
/// keeps that knowledge itself, so a request renamed in while a decision runs (and while its event waits in
/// the stream, unread by the busy watcher) is known at the next listing: a backlog is decided in one pass,
/// its barriers overlapping its decisions, not one request per pass.
final class IncomingNamesTests: XCTestCase {
    func test_namesRenamedIn_areKnown_beforeTheStreamIsRead() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("meetingd-names-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let names = IncomingNames()
        let events = try InotifyWatch.events(in: folder.path, tick: 0.5, names: names)
        // Written under a dot-name, then renamed in whole, as writers should; one written in place, still open.
        for index in 0..<5 {
            let hidden = folder.appendingPathComponent(".r\(index)")
            try Data("{}".utf8).write(to: hidden)
            XCTAssertEqual(rename(hidden.path, folder.appendingPathComponent("r\(index).json").path), 0)
        }
        let descriptor = Glibc.open(folder.appendingPathComponent("open.json").path, O_CREAT | O_WRONLY | O_EXCL, 0o644)
        XCTAssertGreaterThanOrEqual(descriptor, 0)
        XCTAssertEqual(write(descriptor, "{", 1), 1)
        let expected = Set((0..<5).map { Array("r\($0).json".utf8) })
        let deadline = Date().addingTimeInterval(10)
        while !expected.isSubset(of: names.current.completed) || !names.current.writing.contains(Array("open.json".utf8)), Date() < deadline {
            usleep(10_000)
        }
        XCTAssertTrue(expected.isSubset(of: names.current.completed), "every name renamed in is known with no one reading the stream")
        XCTAssertTrue(names.current.writing.contains(Array("open.json".utf8)), "a file open for writing is known as such")
        XCTAssertFalse(names.current.completed.contains(Array("open.json".utf8)))
        XCTAssertFalse(names.current.created.contains(Array("open.json".utf8)), "written to: no longer only created")

        // A hard link made there is created, and never written to nor closed: only created, never "being written".
        let elsewhere = folder.appendingPathComponent(".elsewhere")
        try Data("{}".utf8).write(to: elsewhere)
        XCTAssertEqual(link(elsewhere.path, folder.appendingPathComponent("linked.json").path), 0)
        while !names.current.created.contains(Array("linked.json".utf8)), Date() < deadline { usleep(10_000) }
        XCTAssertTrue(names.current.created.contains(Array("linked.json".utf8)))
        XCTAssertFalse(names.current.writing.contains(Array("linked.json".utf8)))
        XCTAssertFalse(names.current.completed.contains(Array("linked.json".utf8)))

        // Closed after writing: complete. Renamed away (decided): forgotten, so a new file of that name is looked at anew.
        close(descriptor)
        XCTAssertEqual(rename(folder.appendingPathComponent("r0.json").path, folder.appendingPathComponent(".away").path), 0)
        while (!names.current.completed.contains(Array("open.json".utf8)) || names.current.completed.contains(Array("r0.json".utf8))),
              Date() < deadline {
            usleep(10_000)
        }
        XCTAssertTrue(names.current.completed.contains(Array("open.json".utf8)))
        XCTAssertFalse(names.current.writing.contains(Array("open.json".utf8)))
        XCTAssertFalse(names.current.completed.contains(Array("r0.json".utf8)))
        // Reading the stream and stopping stops the thread that watches.
        let reader = Task { for await _ in events {} }
        reader.cancel()
        _ = await reader.value
    }

    func test_anOverflow_forgetsEverything_andADecidedNameIsForgotten() {
        let names = IncomingNames()
        names.apply([.writing(Array("a".utf8)), .created(Array("e".utf8)), .completed(Array("b".utf8)), .overflow])
        XCTAssertEqual(names.current.writing, [], "events were lost: judged by age again")
        XCTAssertEqual(names.current.created, [])
        XCTAssertEqual(names.current.completed, [], "a name whose departure was lost is not kept for ever")
        names.apply([.completed(Array("c".utf8)), .completed(Array("d".utf8))])
        names.forget(Array("c".utf8))
        XCTAssertEqual(names.current.completed, [Array("d".utf8)], "decided and moved away: a new c is not complete on the old one's word")
    }

    /// What a pass takes in while it decides: only names announced complete since it last looked, not handed
    /// yet, still there and a request's, in arrival order, as the watcher's rules let them through; nothing
    /// once its time is up.
    func test_arrivalsDuringAPass_areTheNewNamesAnnounced_inArrivalOrder() throws {
        let spool = try TestSpool()
        let directory = try SpoolDirectory(root: spool.root.path)
        let names = IncomingNames()
        let bytes = { (name: String) in Array(name.utf8) }
        try spool.drop("listed.json", json: "{}")
        names.apply([.completed(bytes("listed.json"))])
        let listed = try directory.waitingFiles()
        let start = ArrivalsDuringPass.now
        var vetted: [[String]] = []
        var arrivals = ArrivalsDuringPass(names: names, spool: directory, handed: listed, completionsBeforeListing: names.completionCount,
                                          until: start + 1) { files in
            vetted.append(files.map(\.name))
            return files.filter { $0.name != "refused.json" }
        }
        XCTAssertEqual(arrivals.take(now: start).map(\.name), [], "nothing announced since the listing: nothing looked up")
        XCTAssertEqual(vetted, [], "not even asked")

        // Dropped in one order, announced in another: taken in arrival order (modification time), the listed one
        // not again, a name gone since its announcement and a name that is no request's left out.
        try spool.drop("second.json", json: "{}")
        try spool.drop("first-announced.json", json: "{}")
        try spool.drop("refused.json", json: "{}")
        names.apply([.completed(bytes("first-announced.json")), .completed(bytes("second.json")), .completed(bytes("listed.json")),
                     .completed(bytes("gone.json")), .completed(bytes("notes.txt")), .completed(bytes("refused.json"))])
        XCTAssertEqual(arrivals.take(now: start).map(\.name), ["second.json", "first-announced.json"])
        XCTAssertEqual(vetted.last, ["second.json", "first-announced.json", "refused.json"], "the watcher's rules judge what is there")
        XCTAssertEqual(arrivals.take(now: start).map(\.name), [], "handed once")

        try spool.drop("third.json", json: "{}")
        names.apply([.completed(bytes("third.json"))])
        XCTAssertEqual(arrivals.take(now: start + 1).map(\.name), [], "the pass's time is up: left to the next pass")
    }
}
