import Foundation
@testable import MeetingDaemon
import MeetingSpool
import XCTest

/// The daemon's feed pass shares the CPU with decisions (`PassPacer`): it rests after each slice of work
/// until its patience is spent, and the feed writer gives it a chance to between any two feeds.
final class PassPacerTests: XCTestCase {
    /// On clocks of the test's own: each feed costs 0.51 ms of CPU, so a rest of 8 ms follows every fourth,
    /// until the pass has lasted 0.8 s; from then on it runs to its end. A new pass rests again.
    func test_aPass_restsAfterEachSliceOfCPU_untilItsPatienceIsSpent() {
        var wall = 100.0, cpu = 5.0
        var rests: [Double] = []
        let pacer = PassPacer(now: { wall }, threadCPU: { cpu }, sleep: { rests.append(wall); wall += $0 })
        func feeds(_ count: Int) {
            for _ in 0..<count {
                cpu += 0.00051
                wall += 0.00051
                pacer.pause()
            }
        }
        pacer.startPass()
        feeds(2_000)  // a second of work
        // Slices of 2.04 ms of work and 8 ms of rest: the 80th rest begins at 0.7952 s, the next slice ends past 0.8 s.
        XCTAssertEqual(rests.count, 80)
        XCTAssertEqual(rests.first.map { $0 - 100 } ?? -1, 0.00204, accuracy: 1e-6)
        for (earlier, later) in zip(rests, rests.dropFirst()) { XCTAssertEqual(later - earlier, 0.01004, accuracy: 1e-6) }
        XCTAssertLessThan(rests.last! - 100, 0.8)
        // Time spent waiting for a core is not work: a slice counts the thread's CPU, not the wall clock.
        rests = []
        pacer.startPass()
        wall += 0.5
        pacer.pause()
        XCTAssertEqual(rests, [], "half a second on the wall clock, no CPU: no rest")
        feeds(4)
        XCTAssertEqual(rests.count, 1, "2.04 ms of CPU: a rest")
    }

    /// The feed writer calls its pacing between the feeds of a pass: once for each feed written.
    func test_theFeedWriter_givesThePacerAChance_afterEachFeed() throws {
        let spool = try TestSpool()
        let pipeline = try spool.pipeline()
        var calls = 0
        pipeline.feeds.pacing = { calls += 1 }
        try spool.drop("a.json", json: requestJSON(id: "a"))
        _ = try pipeline.drain()
        let feedFiles = FileManager.default.enumerator(atPath: spool.url("feeds").path)!.compactMap { $0 as? String }
            .filter { $0.hasSuffix(".ics") }
        XCTAssertGreaterThan(feedFiles.count, 3)
        XCTAssertEqual(calls, feedFiles.count, "one chance after each of the pass's feeds: \(feedFiles.sorted())")
    }

    /// A pass's thread really runs in the background (SCHED_IDLE) until it is promoted, and a promotion after
    /// the pass ended leaves the thread id (which may be reused) alone.
    func test_aBackgroundPass_runsInTheBackground_untilPromoted() throws {
        guard BackgroundPass.isAvailable else { throw XCTSkip("this process may not move a thread back from SCHED_IDLE") }
        let pass = BackgroundPass()
        let inBackground = DispatchSemaphore(value: 0), promoted = DispatchSemaphore(value: 0), done = DispatchSemaphore(value: 0)
        let seen = Seen()
        Thread.detachNewThread {
            seen.before = BackgroundPass.isInBackground()
            pass.begin()
            seen.during = BackgroundPass.isInBackground()
            inBackground.signal()
            promoted.wait()
            seen.after = BackgroundPass.isInBackground()
            pass.end()
            done.signal()
        }
        inBackground.wait()
        pass.promote()
        promoted.signal()
        done.wait()
        XCTAssertEqual([seen.before, seen.during, seen.after], [false, true, false])
        pass.promote()  // ended: nothing to do
        XCTAssertFalse(BackgroundPass.isInBackground(), "the test's own thread was never moved")
    }

    private final class Seen: @unchecked Sendable {
        var before = true, during = false, after = true
    }
}
