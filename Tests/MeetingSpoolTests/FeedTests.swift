import Foundation
import MeetingModel
@testable import MeetingSpool
import XCTest

final class FeedTests: XCTestCase {
    func feed(_ spool: TestSpool, _ key: FeedKey) throws -> String { try spool.text("feeds/" + key.path) }

    func allFeedFiles(_ spool: TestSpool) -> [String] {
        let root = spool.url("feeds")
        let enumerator = FileManager.default.enumerator(atPath: root.path)!
        return enumerator.compactMap { $0 as? String }.filter { $0.hasSuffix(".ics") }.sorted().map { root.appendingPathComponent($0).path }
    }

    func test_feeds_perRegionOrganizerAndAttendee_passParsers_andFollowRevisionsAndWithdrawals() throws {
        let spool = try TestSpool()
        for name in TestSpool.exampleNames { try spool.dropExample(name) }
        try spool.drop("opt.json", json: requestJSON(id: "optional-only", unit: "杭州市民政局",
                                                    attendees: countyAttendee("上城区卫生健康局", district: "上城区", required: false)))
        try spool.pipeline().drain()

        let all = try feed(spool, .all)
        XCTAssertTrue(all.contains("UID:hz-wj-2025-014@meetingd"))
        XCTAssertTrue(all.contains("STATUS:CANCELLED"), "the withdrawn example stays, cancelled")
        XCTAssertFalse(all.contains("UID:hz-wj-2025-002@meetingd"), "rejected meetings are in no feed")
        for header in ["METHOD:PUBLISH", "NAME:全部会议", "X-WR-CALNAME:全部会议", "REFRESH-INTERVAL;VALUE=DURATION:PT3600S", "X-PUBLISHED-TTL:PT3600S"] {
            XCTAssertTrue(all.contains(header), header)
        }
        // A province feed holds its cities' meetings; an attendee feed holds only what the unit must attend.
        XCTAssertTrue(try feed(spool, FeedKey(kind: .region, name: "浙江省")).contains("UID:hz-wj-2025-014@meetingd"))
        XCTAssertTrue(try feed(spool, FeedKey(kind: .attendee, name: "西湖区卫生健康局")).contains("UID:hz-wj-2025-014@meetingd"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: spool.url("feeds/" + FeedKey(kind: .attendee, name: "上城区卫生健康局").path).path))
        XCTAssertTrue(try feed(spool, FeedKey(kind: .organizer, name: "杭州市民政局")).contains("UID:optional-only@meetingd"))

        let (status, output) = try runChecker(allFeedFiles(spool))
        XCTAssertEqual(status, 0, output)

        // A revision keeps the UID and raises SEQUENCE in every feed.
        try spool.drop("rev.json", json: requestJSON(id: "optional-only", revision: 2, start: "2025-03-20T09:00:00+08:00",
                                                    end: "2025-03-20T11:00:00+08:00", unit: "杭州市民政局"))
        try spool.pipeline().drain()
        let revised = try feed(spool, FeedKey(kind: .organizer, name: "杭州市民政局")).replacingOccurrences(of: "\r\n ", with: "")
        XCTAssertEqual(revised.components(separatedBy: "UID:optional-only@meetingd").count, 2, "one event per UID")
        XCTAssertTrue(revised.contains("SEQUENCE:1"))
        XCTAssertTrue(revised.contains("DTSTART;TZID=Asia/Shanghai:20250320T090000"))
        // The meeting now requires 西湖区卫生健康局, so it joined that unit's feed.
        XCTAssertTrue(try feed(spool, FeedKey(kind: .attendee, name: "西湖区卫生健康局")).contains("UID:optional-only@meetingd"))

        // A withdrawal: CANCELLED with a higher SEQUENCE.
        try spool.drop("w.json", json: #"{"format": 1, "id": "optional-only", "action": "withdraw"}"#)
        try spool.pipeline().drain()
        let cancelled = try feed(spool, FeedKey(kind: .organizer, name: "杭州市民政局"))
        XCTAssertTrue(cancelled.contains("STATUS:CANCELLED"))
        XCTAssertTrue(cancelled.contains("SEQUENCE:2"))

        // The index lists every feed with its URL, name and count.
        let index = try JSONReader.parse(Array(try spool.text("feeds/index.json").utf8))
        guard case let .array(entries)? = index["feeds"] else { return XCTFail("no feeds in index.json") }
        let paths = entries.compactMap { entry -> String? in if case let .string(path)? = entry["path"] { path } else { nil } }
        XCTAssertEqual(Set(paths), Set(allFeedFiles(spool).map { String($0.dropFirst(spool.url("feeds").path.count + 1)) }))
        let eventsInAll = try feed(spool, .all).components(separatedBy: "BEGIN:VEVENT").count - 1
        XCTAssertEqual(eventsInAll, 4, "three examples approved (one since withdrawn) and optional-only (withdrawn)")
        XCTAssertTrue(entries.contains { $0["path"] == .string("all.ics") && $0["events"] == .integer(eventsInAll) && $0["name"] == .string("全部会议") })
        XCTAssertTrue(try spool.text("feeds/index.html").contains("全部会议"))
    }

    /// The daemon rewrites the index at most every `indexInterval`, for changed counts and new feeds alike
    /// (the new feed's own file is written at once); a pass with nothing else to do brings it up to date.
    func test_theIndex_waitsForItsInterval_forNewFeedsAndCountsAlike() throws {
        let spool = try TestSpool()
        func index() throws -> [JSONValue] {
            let index = try JSONReader.parse(Array(try spool.text("feeds/index.json").utf8))
            guard case let .array(entries)? = index["feeds"] else { return [] }
            return entries
        }
        func allCount() throws -> JSONValue? { try index().first { $0["path"] == .string("all.ics") }?["events"] }
        func lists(_ path: String) throws -> Bool { try index().contains { $0["path"] == .string(path) } }
        let pipeline = try spool.pipeline()
        pipeline.feeds.indexInterval = 3600
        try spool.drop("a.json", json: requestJSON(id: "a", start: "2030-03-18T09:00:00+08:00", end: "2030-03-18T11:00:00+08:00"))
        _ = try pipeline.drain()
        XCTAssertEqual(try allCount(), .integer(1), "the first index is written at once")
        // Same feeds, one more event: the index waits.
        try spool.drop("b.json", json: requestJSON(id: "b", start: "2030-03-19T09:00:00+08:00", end: "2030-03-19T11:00:00+08:00"))
        _ = try pipeline.drain()
        XCTAssertEqual(try allCount(), .integer(1))
        XCTAssertTrue(pipeline.feeds.indexIsBehind)
        // A new feed (another organizer): its file at once, the index still waits.
        try spool.drop("c.json", json: requestJSON(id: "c", start: "2030-03-20T09:00:00+08:00", end: "2030-03-20T11:00:00+08:00",
                                                   unit: "杭州市民政局"))
        _ = try pipeline.drain()
        let newFeed = FeedKey(kind: .organizer, name: "杭州市民政局").path
        XCTAssertTrue(FileManager.default.fileExists(atPath: spool.url("feeds/" + newFeed).path))
        XCTAssertFalse(try lists(newFeed))
        XCTAssertFalse(try spool.text("feeds/index.html").contains("杭州市民政局"))
        XCTAssertEqual(try allCount(), .integer(1))
        // Once the interval is over, a pass with nothing dirty writes it, with the new feed and the counts of now.
        pipeline.feeds.indexInterval = 0.3
        usleep(400_000)
        XCTAssertEqual(try pipeline.feeds.flush(), 1, "the index alone")
        XCTAssertTrue(try lists(newFeed))
        XCTAssertTrue(try spool.text("feeds/index.html").contains("杭州市民政局"))
        XCTAssertEqual(try allCount(), .integer(3))
        XCTAssertFalse(pipeline.feeds.indexIsBehind)
        // Counts behind, then a pass with nothing dirty once the interval is over: before it, nothing.
        try spool.drop("d.json", json: requestJSON(id: "d", start: "2030-03-21T09:00:00+08:00", end: "2030-03-21T11:00:00+08:00"))
        _ = try pipeline.drain()
        XCTAssertEqual(try allCount(), .integer(3))
        XCTAssertEqual(try pipeline.feeds.flush(), 0, "the interval is not over")
        XCTAssertEqual(try allCount(), .integer(3))
        usleep(400_000)
        XCTAssertEqual(try pipeline.feeds.flush(), 1, "only the index is written")
        XCTAssertEqual(try allCount(), .integer(4))
        XCTAssertFalse(pipeline.feeds.indexIsBehind)
        XCTAssertEqual(try pipeline.feeds.flush(), 0, "and then nothing more")
    }

    func test_aDecision_rewritesOnlyTheFeedsItTouches_andUnchangedBytesStay() throws {
        let spool = try TestSpool()
        try spool.drop("a.json", json: requestJSON(id: "a"))
        try spool.pipeline().drain()
        let untouched = spool.url("feeds/" + FeedKey(kind: .attendee, name: "西湖区卫生健康局").path)
        let before = try FileManager.default.attributesOfItem(atPath: untouched.path)
        let allBefore = try spool.text("feeds/all.ics")
        usleep(20_000)
        try spool.drop("b.json", json: requestJSON(id: "b", unit: "杭州市民政局", attendees: countyAttendee("拱墅区民政局", district: "拱墅区")))
        let outcome = try XCTUnwrap(try spool.pipeline().drain().first)
        let after = try FileManager.default.attributesOfItem(atPath: untouched.path)
        XCTAssertEqual(before[.systemFileNumber] as? Int, after[.systemFileNumber] as? Int, "a feed without the meeting is not rewritten")
        XCTAssertEqual(before[.modificationDate] as? Date, after[.modificationDate] as? Date)
        XCTAssertNotEqual(try spool.text("feeds/all.ics"), allBefore)
        XCTAssertFalse(outcome.recorded.touchedFeeds.contains("attendee:西湖区卫生健康局"))

        // Rebuilding from the ledger gives the same bytes: nothing changes, so ETags stay.
        let snapshot = allFeedFiles(spool).map { try? Data(contentsOf: URL(fileURLWithPath: $0)) }
        XCTAssertEqual(try spool.pipeline().feeds.rebuild(), 0)
        XCTAssertEqual(allFeedFiles(spool).map { try? Data(contentsOf: URL(fileURLWithPath: $0)) }, snapshot)
    }

    /// A feed writer keeps the shown events between passes and reads only the meetings decided since: after
    /// every kind of change — new meetings, a revision that moves a meeting and changes its feeds, a withdrawal,
    /// a rejected revision, the clock moving past a meeting's end and past a withdrawal's retention, the clock
    /// set back — its feeds are byte for byte what a writer reading the whole ledger anew makes.
    func test_feedsKeptBetweenPasses_equalFeedsReadAnew_afterEveryKindOfChange() throws {
        let spool = try TestSpool()
        let pipeline = try spool.pipeline()  // one writer for every step, as in the daemon
        var clock = Date(timeIntervalSince1970: 1_767_225_600)  // 2026-01-01
        pipeline.now = { clock }
        func assertSameAsReadAnew(_ step: String, line: UInt = #line) throws {
            let fresh = try spool.pipeline()
            fresh.now = { clock }
            let before = allFeedFiles(spool).map { try? Data(contentsOf: URL(fileURLWithPath: $0)) }
            XCTAssertEqual(try fresh.feeds.rebuild(), 0, "\(step): a rebuild from the whole ledger changed files", line: line)
            XCTAssertEqual(allFeedFiles(spool).map { try? Data(contentsOf: URL(fileURLWithPath: $0)) }, before, step, line: line)
        }
        func step(_ name: String, _ json: String) throws {
            try spool.drop(name, json: json)
            _ = try pipeline.drain()
        }
        try step("a.json", requestJSON(id: "a", start: "2026-03-18T09:00:00+08:00", end: "2026-03-18T11:00:00+08:00"))
        try step("b.json", requestJSON(id: "b", start: "2026-02-01T09:00:00+08:00", end: "2026-02-01T11:00:00+08:00", unit: "杭州市民政局"))
        try step("c.json", requestJSON(id: "c", start: "2026-02-01T09:00:00+08:00", end: "2026-02-01T10:00:00+08:00",
                                       attendees: countyAttendee("拱墅区民政局", district: "拱墅区")))
        XCTAssertEqual(try feed(spool, .all).components(separatedBy: "BEGIN:VEVENT").count - 1, 3)
        try assertSameAsReadAnew("three meetings, two starting at once")
        // A revision moves `a` before the others and to other attendees (it leaves 西湖区卫生健康局's feed).
        try step("a2.json", requestJSON(id: "a", revision: 2, start: "2026-01-20T09:00:00+08:00", end: "2026-01-20T11:00:00+08:00",
                                        attendees: countyAttendee("上城区卫生健康局", district: "上城区")))
        XCTAssertFalse(try feed(spool, FeedKey(kind: .attendee, name: "西湖区卫生健康局")).contains("UID:a@meetingd"))
        try assertSameAsReadAnew("a revision that moved a meeting and changed its feeds")
        try step("w.json", #"{"format": 1, "id": "b", "action": "withdraw"}"#)
        XCTAssertTrue(try feed(spool, .all).contains("STATUS:CANCELLED"))
        try assertSameAsReadAnew("a withdrawal")
        // A revision that is rejected (a session of a whole day) leaves the meeting as it was.
        try step("c2.json", requestJSON(id: "c", revision: 2, start: "2026-02-01T08:00:00+08:00", end: "2026-02-01T18:00:00+08:00",
                                        attendees: countyAttendee("拱墅区民政局", district: "拱墅区")))
        XCTAssertEqual(try spool.logLines().last?["verdict"], .string("rejected"))
        try assertSameAsReadAnew("a rejected revision")
        // Time passes: `c` (ended 2026-02-01) leaves at the horizon; `b`'s cancellation leaves after its retention.
        clock = Date(timeIntervalSince1970: 1_767_225_600 + 400 * 86_400)
        try step("d.json", requestJSON(id: "d", start: "2027-06-01T09:00:00+08:00", end: "2027-06-01T11:00:00+08:00"))
        let later = try feed(spool, .all)
        XCTAssertFalse(later.contains("UID:c@meetingd"), "ended more than the horizon ago")
        XCTAssertFalse(later.contains("UID:b@meetingd"), "withdrawn more than cancelled_days ago")
        XCTAssertTrue(later.contains("UID:d@meetingd"))
        try assertSameAsReadAnew("the clock past the horizon")
        // The clock set back: what was dropped is shown again.
        clock = Date(timeIntervalSince1970: 1_767_225_600)
        try step("e.json", requestJSON(id: "e", start: "2026-05-01T09:00:00+08:00", end: "2026-05-01T11:00:00+08:00"))
        XCTAssertTrue(try feed(spool, .all).contains("UID:c@meetingd"))
        try assertSameAsReadAnew("the clock set back")
        // No decision at all: a quiet pass takes out what time took out, once its interval is over.
        clock = Date(timeIntervalSince1970: 1_767_225_600 + 400 * 86_400)
        let gongshu = FeedKey(kind: .attendee, name: "拱墅区民政局")
        XCTAssertEqual(try pipeline.feeds.flush(), 0, "the interval is not over")
        let quiet = try feed(spool, gongshu)
        XCTAssertTrue(quiet.contains("UID:c@meetingd"), quiet)
        pipeline.feeds.expiryInterval = 0
        // That pass fails (a file where the attendee feeds' folder was): the feeds it found stay to be written.
        let attendees = spool.url("feeds/attendee").path, away = spool.url("feeds/attendee-away").path
        XCTAssertEqual(rename(attendees, away), 0)
        XCTAssertTrue(FileManager.default.createFile(atPath: attendees, contents: Data()))
        XCTAssertThrowsError(try pipeline.feeds.flush())
        try FileManager.default.removeItem(atPath: attendees)
        XCTAssertEqual(rename(away, attendees), 0)
        pipeline.feeds.expiryInterval = 3600
        XCTAssertGreaterThan(try pipeline.feeds.flush(), 0, "the next pass writes them, interval or not")
        XCTAssertFalse(try feed(spool, gongshu).contains("UID:c@meetingd"))
        try assertSameAsReadAnew("a quiet pass after time passed, once it could write")
    }

    func test_horizonAndCancelledRetention_keepFeedsSmall() throws {
        let spool = try TestSpool()  // its clock says 2026-01-01
        try spool.drop("old.json", json: requestJSON(id: "old", start: "2024-06-01T09:00:00+08:00", end: "2024-06-01T11:00:00+08:00"))
        try spool.drop("new.json", json: requestJSON(id: "new", start: "2025-06-01T09:00:00+08:00", end: "2025-06-01T11:00:00+08:00", unit: "杭州市民政局"))
        try spool.pipeline().drain()
        let all = try spool.text("feeds/all.ics")
        XCTAssertFalse(all.contains("UID:old@meetingd"), "ended more than horizon_days ago")
        XCTAssertTrue(all.contains("UID:new@meetingd"))
    }

    func test_feedFileNames_areSafeAndStableForAnyName() {
        let names = ["杭州市卫生健康委员会", "../../etc/passwd", "a/b", ".hidden", "名\u{0}字", String(repeating: "很长的单位名称", count: 30), "Unit One"]
        for name in names {
            for kind in [FeedKey.Kind.organizer, .attendee, .region] {
                let key = FeedKey(kind: kind, name: name)
                let segments = key.path.split(separator: "/", omittingEmptySubsequences: false)
                XCTAssertTrue(segments.allSatisfy { !$0.isEmpty && $0 != "." && $0 != ".." && !$0.hasPrefix(".") && !$0.contains("\u{0}") }, key.path)
                XCTAssertTrue(segments.allSatisfy { $0.utf8.count < 255 }, key.path)
                XCTAssertEqual(key.path, FeedKey(kind: kind, name: name).path, "stable")
                XCTAssertEqual(FeedKey(key: key.key), key)
            }
        }
        XCTAssertEqual(FeedKey(kind: .organizer, name: "杭州市卫生健康委员会").path, "organizer/杭州市卫生健康委员会.ics")
        XCTAssertNotEqual(FeedKey(kind: .organizer, name: "a/b").path, FeedKey(kind: .organizer, name: "a_b").path)
    }

    /// A name of letters and digits of any script and `_（）·` is kept as it is — found without walking the
    /// name character by character when it is Chinese characters and ASCII only, and by the walk otherwise (a
    /// combining mark, full-width letters, a Roman numeral); anything else (`-`, a space, too long) gets the digest.
    func test_namesOfLettersAndDigits_areKept_andEveryOtherNameGetsItsDigest() {
        for name in ["杭州市卫生健康委员会", "西湖区AB12", "办公室（综合）", "张·三", "_x", String(repeating: "局", count: 83),
                     "e\u{301}局", "ＡＢ局", "Ⅻ局"] {
            XCTAssertEqual(FeedKey(kind: .attendee, name: name).path, "attendee/\(name).ics", name)
        }
        // The names kept without the walk are exactly those the walk keeps: every such character, in runs of 50.
        let plain = SpoolNames.plainNameScalars.flatMap { $0.compactMap(Unicode.Scalar.init) }
        XCTAssertGreaterThan(plain.count, 20_000)
        for start in stride(from: 0, to: plain.count, by: 50) {
            let name = String(String.UnicodeScalarView(plain[start..<min(start + 50, plain.count)]))
            XCTAssertEqual(SpoolNames.safeCharacters(name), name, "\(name.unicodeScalars.first!.value)")
        }
        for name in ["单位0-1", "a b", String(repeating: "局", count: 84), "局\u{200F}"] {
            let path = FeedKey(kind: .attendee, name: name).path
            XCTAssertNotEqual(path, "attendee/\(name).ics", name)
            XCTAssertTrue(path.hasSuffix(".ics") && path.contains("-"), path)
        }
    }

    /// Two organizers whose names differ only by a CJK compatibility ideograph (U+F90A) and the character it
    /// stands for (U+91D1): requests are read in NFC, so they are one unit to the ledger (whose keys and the feed
    /// pass compare bytes) and one feed, with both meetings, listed once.
    func test_canonicallyEquivalentUnitNames_areOneFeed() throws {
        let spool = try TestSpool()
        let compatibility = "\u{F90A}华区局", unified = "\u{91D1}华区局"
        XCTAssertFalse(compatibility.utf8.elementsEqual(unified.utf8))
        try spool.drop("a.json", json: requestJSON(id: "a", start: "2030-03-18T09:00:00+08:00", end: "2030-03-18T11:00:00+08:00", unit: compatibility))
        try spool.drop("b.json", json: requestJSON(id: "b", start: "2030-03-19T09:00:00+08:00", end: "2030-03-19T11:00:00+08:00", unit: unified))
        try spool.pipeline().drain()
        let text = try spool.text("feeds/" + FeedKey(kind: .organizer, name: unified).path)
        XCTAssertEqual(text.components(separatedBy: "BEGIN:VEVENT").count - 1, 2)
        XCTAssertTrue(text.contains("UID:a@meetingd") && text.contains("UID:b@meetingd"))
        let index = try JSONReader.parse(Array(try spool.text("feeds/index.json").utf8))
        guard case let .array(entries)? = index["feeds"] else { return XCTFail("no feeds in index.json") }
        let organizers = entries.filter { $0["kind"] == .string("organizer") }
        XCTAssertEqual(organizers.count, 1)
        XCTAssertEqual(organizers.first?["events"], .integer(2))
    }

    /// A pass that wrote feeds calls `beforeBarrier` once, just before its durability barrier (the daemon moves
    /// the pass's thread out of the background there); a pass with nothing to write does not.
    func test_aPassThatWrites_callsBeforeBarrier_once() throws {
        let spool = try TestSpool()
        let pipeline = try spool.pipeline()
        var calls = 0
        pipeline.feeds.beforeBarrier = { calls += 1 }
        try spool.drop("a.json", json: requestJSON(id: "a", start: "2030-03-18T09:00:00+08:00", end: "2030-03-18T11:00:00+08:00"))
        _ = try pipeline.drain()
        XCTAssertEqual(calls, 1)
        XCTAssertEqual(try spool.text("feeds/.meetingd-feeds-through"), "1\n")
        XCTAssertEqual(try pipeline.feeds.flush(), 0)
        XCTAssertEqual(calls, 1, "nothing marked: no barrier")
    }

    /// A pipeline whose feed passes record what they reflect as the daemon's do (not at once), a shared ledger's
    /// catching up at every drain, with the passes' own barriers counted.
    private final class DaemonStyleFeeds {
        let spool: TestSpool
        let pipeline: DecisionPipeline
        private(set) var ownBarriers = 0

        init() throws {
            spool = try TestSpool()
            pipeline = try spool.pipeline()
            pipeline.feeds.recordsThroughAtOnce = false
            // A shared ledger's feeds reflect what its last catch-up read: here, every drain's.
            pipeline.feeds.catchUpInterval = 0
            pipeline.feeds.beforeBarrier = { [unowned self] in ownBarriers += 1 }
        }

        /// What `feeds/.meetingd-feeds-through` records.
        var note: String? { try? spool.text("feeds/.meetingd-feeds-through") }

        /// Drops a meeting on day `day` of March 2030 and drains.
        func decide(_ id: String, day: Int) throws {
            try spool.drop("\(id).json", json: requestJSON(id: id, start: "2030-03-\(day)T09:00:00+08:00", end: "2030-03-\(day)T11:00:00+08:00"))
            _ = try pipeline.drain()
        }
    }

    /// The daemon's passes sync nothing themselves while decisions keep coming: what the feeds reflect is
    /// recorded once a barrier started after they were written has completed (a decision's), and a quiet pass
    /// syncs itself to record it. The note never says more than the disk holds.
    func test_theDaemonsPasses_recordWhatTheFeedsReflect_onceABarrierCoversThem() throws {
        let feeds = try DaemonStyleFeeds()
        try feeds.decide("a", day: 18)
        XCTAssertNil(feeds.note, "the decision's barrier came before the feeds were written")
        XCTAssertTrue(try feeds.spool.text("feeds/all.ics").contains("UID:a@meetingd"))
        try feeds.pipeline.spool.barrier()  // the next decision's
        XCTAssertEqual(try feeds.pipeline.feeds.flush(), 0)
        XCTAssertEqual(feeds.note, "1\n")
        XCTAssertEqual(feeds.ownBarriers, 0, "recorded on the decision's barrier")
        // No barrier after the next pass: a quiet pass syncs itself.
        try feeds.decide("b", day: 19)
        XCTAssertEqual(feeds.note, "1\n")
        XCTAssertEqual(try feeds.pipeline.feeds.flush(), 0)
        XCTAssertEqual(feeds.note, "2\n")
        XCTAssertEqual(feeds.ownBarriers, 1)
        // Recorded once: the next quiet pass does nothing.
        XCTAssertEqual(try feeds.pipeline.feeds.flush(), 0)
        XCTAssertEqual(feeds.ownBarriers, 1)
    }

    /// A file replaced `.deferred` (by an exchange) is replaced atomically as by a rename: a reader that holds
    /// the old file keeps reading the old bytes, the name shows the new ones, nothing is left under a temporary
    /// name — where a file was there before and where none was.
    func test_aDeferredReplacement_isAtomic_andLeavesNoTemporaryFile() throws {
        let spool = try TestSpool()
        let directory = try SpoolDirectory(root: spool.root.path)
        try directory.writeAtomically("feeds/region/x.ics", Array("first\n".utf8), durable: false, writeback: .deferred)
        XCTAssertEqual(try spool.text("feeds/region/x.ics"), "first\n", "nothing to exchange with: renamed")
        let reader = try FileHandle(forReadingFrom: spool.url("feeds/region/x.ics"))
        defer { try? reader.close() }
        try directory.writeAtomically("feeds/region/x.ics", Array("second\n".utf8), durable: false, writeback: .deferred)
        XCTAssertEqual(try spool.text("feeds/region/x.ics"), "second\n")
        XCTAssertEqual(String(decoding: try reader.readToEnd() ?? Data(), as: UTF8.self), "first\n", "the old file, still open, is whole")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: spool.url("feeds/region").path), ["x.ics"])
    }

    /// A daemon whose decisions sync their own files (a shared ledger's) leaves its feeds and index in the page
    /// cache: a version replaced before the kernel writes it never reaches the disk. Asked of the file system
    /// itself (FIEMAP: ext4 reports data not yet given blocks as delayed), where it delays allocation. The note
    /// of what the feeds reflect is withdrawn before the first such write, so that a crash makes the next start
    /// compare every feed with the ledger, and the last pass's barrier writes everything and records it again.
    func test_aSharedLedgersDaemon_defersItsWrites_andWithdrawsTheNoteUntilItsLastPass() throws {
        let feeds = try DaemonStyleFeeds()
        let all = feeds.spool.url("feeds/all.ics").path, index = feeds.spool.url("feeds/index.json").path
        try feeds.decide("a", day: 18)
        feeds.pipeline.feeds.recordsThroughAtOnce = true
        XCTAssertEqual(try feeds.pipeline.feeds.flush(), 0)
        XCTAssertEqual(feeds.note, "1\n", "recorded while nothing was deferred")
        let barriers = feeds.ownBarriers

        feeds.pipeline.feeds.recordsThroughAtOnce = false
        feeds.pipeline.feeds.defersWrites = true
        try feeds.decide("b", day: 19)
        // c decided and its group's barrier made (a syncfs, on SQLite) before the probe, then its feeds written.
        try feeds.spool.drop("c.json", json: requestJSON(id: "c", start: "2030-03-20T09:00:00+08:00", end: "2030-03-20T11:00:00+08:00"))
        try feeds.pipeline.process(groupsOf: try feeds.pipeline.spool.waitingFiles()) { _ in }
        let probe = try FileExtents.Probe(in: feeds.spool.root)
        try feeds.pipeline.feeds.followOtherNodes()
        try feeds.pipeline.feeds.flush()
        XCTAssertTrue(try feeds.spool.text("feeds/all.ics").contains("UID:c@meetingd"))
        XCTAssertNil(feeds.note, "withdrawn before the first deferred write")
        let delayed = (all: FileExtents.hasDelayedData(all), index: FileExtents.hasDelayedData(index))
        if let probe, probe.isStillDelayed {
            XCTAssertEqual(delayed.all, true, "replaced by an exchange: nothing started")
            XCTAssertEqual(delayed.index, true)
        }
        XCTAssertEqual(feeds.ownBarriers, barriers, "a busy pass that defers syncs nothing")
        XCTAssertEqual(try feeds.pipeline.feeds.flush(), 0)
        XCTAssertNil(feeds.note, "nor does a quiet one: the note waits for the last pass")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: feeds.spool.url("feeds").path).filter { $0.hasPrefix(".") }
        XCTAssertEqual(leftovers, [], "no old file left under a temporary name")

        feeds.pipeline.feeds.recordsThroughAtOnce = true  // the daemon's last pass
        XCTAssertEqual(try feeds.pipeline.feeds.flush(), 0)
        XCTAssertEqual(feeds.note, "3\n")
        XCTAssertEqual(feeds.ownBarriers, barriers + 1)
        if probe != nil {
            XCTAssertEqual(FileExtents.hasDelayedData(all), false, "the barrier that recorded the note wrote them")
            XCTAssertEqual(FileExtents.hasDelayedData(index), false)
        }
    }

    /// A busy daemon's last pass often has nothing marked but the index, which waited for its interval: the note
    /// is recorded after that write too, by a barrier started after it, not before it (when the write would
    /// withdraw it again).
    func test_theLastPassOfADeferringDaemon_recordsTheNote_afterWritingTheIndexThatWaited() throws {
        let feeds = try DaemonStyleFeeds()
        feeds.pipeline.feeds.defersWrites = true
        feeds.pipeline.feeds.indexInterval = 60
        try feeds.decide("a", day: 18)
        try feeds.decide("b", day: 19)
        XCTAssertTrue(feeds.pipeline.feeds.indexIsBehind, "b's counts wait for the index's interval")
        XCTAssertNil(feeds.note)
        feeds.pipeline.feeds.indexInterval = 0  // as FeedPublisher's last pass
        feeds.pipeline.feeds.recordsThroughAtOnce = true
        XCTAssertEqual(try feeds.pipeline.feeds.flush(), 1, "the index, and no feed")
        XCTAssertEqual(feeds.note, "2\n")
        let listed = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: feeds.spool.url("feeds/index.json"))) as? [String: Any])
        let allFeed = (listed["feeds"] as? [[String: Any]])?.first { $0["path"] as? String == "all.ics" }
        XCTAssertEqual(allFeed?["events"] as? Int, 2)
    }

    /// What a crash can leave of deferred writes — no note, a feed cut short, another emptied — is mended by
    /// the next start: without a note every feed is compared with the ledger, and only those that differ are
    /// written.
    func test_withoutTheNote_theNextStart_comparesEveryFeed_andRewritesOnlyThoseThatDiffer() throws {
        let feeds = try DaemonStyleFeeds()
        try feeds.decide("a", day: 18)
        try feeds.decide("b", day: 19)
        feeds.pipeline.feeds.recordsThroughAtOnce = true
        _ = try feeds.pipeline.feeds.flush()
        let whole = try feeds.spool.text("feeds/all.ics")
        let region = try XCTUnwrap(try FileManager.default.subpathsOfDirectory(atPath: feeds.spool.url("feeds/region").path)
            .first { $0.hasSuffix(".ics") })
        let regionFeed = try feeds.spool.text("feeds/region/" + region)
        let organizer = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: feeds.spool.url("feeds/organizer").path).first)
        let untouched = try FileManager.default.attributesOfItem(atPath: feeds.spool.url("feeds/organizer/" + organizer).path)[.modificationDate] as? Date
        try FileManager.default.removeItem(at: feeds.spool.url("feeds/.meetingd-feeds-through"))
        try Data(whole.utf8.prefix(whole.utf8.count / 2)).write(to: feeds.spool.url("feeds/all.ics"))
        try Data().write(to: feeds.spool.url("feeds/region/" + region))

        let restarted = try feeds.spool.pipeline()
        XCTAssertEqual(try restarted.feeds.flush(), 2, "the two damaged feeds, and nothing else")
        XCTAssertEqual(try feeds.spool.text("feeds/all.ics"), whole)
        XCTAssertEqual(try feeds.spool.text("feeds/region/" + region), regionFeed)
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: feeds.spool.url("feeds/organizer/" + organizer).path)[.modificationDate] as? Date,
                       untouched)
        XCTAssertEqual(feeds.note, "2\n", "recorded again")
    }
}
