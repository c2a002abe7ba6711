import Foundation
import MeetingModel
import MeetingRules
import XCTest

/// The real daemon, real signals, a real notify socket.
final class DaemonTests: XCTestCase {
    func test_daemon_decidesArrivals_reloadsConfig_andStopsCleanlyOnSIGTERM() throws {
        let spool = try TestSpool()
        let config = spool.url("meetingd.yaml")
        try Data("timezone: Asia/Shanghai\n".utf8).write(to: config)
        let notify = try NotifyListener()
        let daemon = try DaemonProcess(spool: spool.root, config: config, notify: notify)
        let ready = notify.waitFor("READY=1")
        XCTAssertNotNil(ready, daemon.stderr)
        XCTAssertTrue(ready?.contains("STATUS=decided 0, waiting 0") ?? false, ready ?? "")

        // Renamed in whole: decided at once.
        try spool.drop("renamed.json", json: requestJSON(id: "renamed"))
        XCTAssertTrue(eventually { spool.files("approved").contains("renamed.ics") }, daemon.stderr)

        // Written in place, slowly: left alone until closed, then decided whole.
        let slowPath = spool.url("incoming/slow.json").path
        let bytes = Array(requestJSON(id: "slow", unit: "杭州市教育局").utf8)
        // One open(2), as `cat > incoming/slow.json` would do.
        let writer = FileHandle(fileDescriptor: open(slowPath, O_CREAT | O_WRONLY | O_EXCL, 0o644), closeOnDealloc: true)
        writer.write(Data(bytes[0..<bytes.count / 2]))
        usleep(1_500_000)
        XCTAssertTrue(spool.files("incoming").contains("slow.json"), "a file still open for writing must wait")
        writer.write(Data(bytes[(bytes.count / 2)...]))
        writer.closeFile()
        XCTAssertTrue(eventually { spool.files("approved").contains("slow.ics") }, daemon.stderr)
        XCTAssertEqual(spool.files("invalid"), [])

        // SIGHUP with a good config: RELOADING=1, READY=1, and the next decision carries the new settings version.
        try Data("rules:\n  main-speech-one-hour:\n    max_minutes: 40\n".utf8).write(to: config)
        daemon.signal(SIGHUP)
        XCTAssertNotNil(notify.waitFor("RELOADING=1"), daemon.stderr)
        XCTAssertNotNil(notify.waitFor("READY=1"))
        var reloaded = RuleSettingsSet()
        reloaded[.mainSpeechOneHour].values["max_minutes"] = .integer(40)
        try spool.drop("after-reload.json", json: requestJSON(id: "after-reload", unit: "杭州市民政局"))
        XCTAssertTrue(eventually { (try? spool.logLines().count) == 3 })
        XCTAssertEqual(try spool.logLines().last?["settings"], .string(reloaded.version))

        // SIGHUP with a broken config: logged with line and key; the last good settings stay.
        try Data("rules:\n  main-speech-one-hour:\n    max_minutes: lots\n".utf8).write(to: config)
        daemon.signal(SIGHUP)
        XCTAssertNotNil(notify.waitFor("READY=1"))
        XCTAssertTrue(eventually { daemon.stderr.contains("meetingd.yaml:3: rules.main-speech-one-hour.max_minutes") }, daemon.stderr)
        try spool.drop("after-broken.json", json: requestJSON(id: "after-broken", unit: "杭州市财政局"))
        XCTAssertTrue(eventually { (try? spool.logLines().count) == 4 })
        XCTAssertEqual(try spool.logLines().last?["settings"], .string(reloaded.version))

        // SIGTERM: STOPPING=1, exit 0.
        daemon.signal(SIGTERM)
        XCTAssertNotNil(notify.waitFor("STOPPING=1"))
        XCTAssertEqual(daemon.waitForExit(), 0, daemon.stderr)
        XCTAssertTrue(daemon.stderr.contains("<6>approved renamed"), "one journal line per decision at info level")
    }

    func test_secondDaemonOnTheSameSpool_refusesToStart() throws {
        let spool = try TestSpool()
        let notify = try NotifyListener()
        let first = try DaemonProcess(spool: spool.root, notify: notify)
        XCTAssertNotNil(notify.waitFor("READY=1"), first.stderr)
        let second = try DaemonProcess(spool: spool.root)
        XCTAssertEqual(second.waitForExit(), 1)
        XCTAssertTrue(second.stderr.contains("already deciding"), second.stderr)
        first.signal(SIGTERM)
        XCTAssertEqual(first.waitForExit(), 0)
    }

    func test_watchdog_isFedAtHalfTheInterval() throws {
        let spool = try TestSpool()
        let notify = try NotifyListener()
        let daemon = try DaemonProcess(spool: spool.root, notify: notify, environment: ["WATCHDOG_USEC": "400000"])
        XCTAssertNotNil(notify.waitFor("READY=1"), daemon.stderr)
        XCTAssertNotNil(notify.waitFor("WATCHDOG=1", timeout: 2))
        XCTAssertNotNil(notify.waitFor("WATCHDOG=1", timeout: 1), "fed again within half the interval")
        daemon.signal(SIGINT)
        XCTAssertEqual(daemon.waitForExit(), 0)
    }

    func test_burstOfArrivals_isDecidedInArrivalOrder() throws {
        let spool = try TestSpool()
        let notify = try NotifyListener()
        let daemon = try DaemonProcess(spool: spool.root, notify: notify)
        XCTAssertNotNil(notify.waitFor("READY=1"), daemon.stderr)
        // Three comprehensive meetings of one system and year: whichever arrives first is the one approved.
        for (index, id) in ["third-name", "first-name", "second-name"].enumerated() {
            try spool.drop("\(id).json", json: requestJSON(id: id, kind: "comprehensive", start: "2025-0\(index + 3)-10T09:00:00+08:00",
                                                          end: "2025-0\(index + 3)-10T11:00:00+08:00"))
        }
        XCTAssertTrue(eventually { (try? spool.logLines().count) == 3 }, daemon.stderr)
        XCTAssertEqual(try spool.logLines().map { $0["id"] }, [.string("third-name"), .string("first-name"), .string("second-name")])
        XCTAssertEqual(try spool.logLines().map { $0["verdict"] }, [.string("approved"), .string("rejected"), .string("rejected")])
        daemon.signal(SIGTERM)
        XCTAssertEqual(daemon.waitForExit(), 0)
    }

    func test_sigtermDuringABurst_putsEveryDecisionIntoTheFeedsBeforeExit() throws {
        let spool = try TestSpool()
        let notify = try NotifyListener()
        let daemon = try DaemonProcess(spool: spool.root, notify: notify)
        XCTAssertNotNil(notify.waitFor("READY=1"), daemon.stderr)
        // Enough that the watcher is still deciding when the publisher would stop first.
        for index in 0..<800 {
            try spool.drop("b\(index).json", json: requestJSON(id: "b\(index)", start: "2030-03-18T09:00:00+08:00",
                                                             end: "2030-03-18T11:00:00+08:00", unit: "单位\(index)"))
        }
        XCTAssertTrue(eventually { spool.files("approved").contains { $0.hasSuffix(".ics") } }, daemon.stderr)
        daemon.signal(SIGTERM)
        XCTAssertEqual(daemon.waitForExit(), 0, daemon.stderr)
        // The watcher's last group is decided before the publisher's last flush: nothing waits for the next start.
        let approved = try spool.logLines().filter { $0["verdict"] == .string("approved") }.compactMap { line -> String? in
            if case let .string(id) = line["id"] { return id }
            return nil
        }
        XCTAssertFalse(approved.isEmpty)
        let feed = try spool.text("feeds/all.ics")
        for id in approved { XCTAssertTrue(feed.contains("UID:\(id)@meetingd"), "\(id) decided but not in feeds/all.ics") }
    }
}
