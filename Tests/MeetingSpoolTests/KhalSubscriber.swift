import Foundation
import XCTest

/// A real subscriber: vdirsyncer fetches one feed over HTTP into a local calendar folder, and khal lists it.
/// Each instance works in its own temporary HOME, removed when it goes.
final class KhalSubscriber {
    let work: URL
    private var discovered = false

    struct ToolFailure: Error, CustomStringConvertible {
        let description: String
    }

    /// Skips the test (or fails it under `make test`, which installs both) when a tool is missing.
    static func requireTools() throws {
        for tool in ["/usr/bin/vdirsyncer", "/usr/bin/khal"] where !FileManager.default.isExecutableFile(atPath: tool) {
            if ProcessInfo.processInfo.environment["MEETINGD_REQUIRE_PARSERS"] == "1" { XCTFail("\(tool) missing (make test installs it)") }
            throw XCTSkip("\(tool) is not installed")
        }
    }

    /// `feedURL`: the feed as a subscriber's client would be given it (percent-encoded as needed).
    init(feedURL: String) throws {
        work = FileManager.default.temporaryDirectory.appendingPathComponent("vdir-\(UUID().uuidString.prefix(8))")
        for folder in ["cal", "status"] {
            try FileManager.default.createDirectory(at: work.appendingPathComponent(folder), withIntermediateDirectories: true)
        }
        try Data("""
            [general]
            status_path = "\(work.path)/status/"
            [pair feed]
            a = "feed_remote"
            b = "feed_local"
            collections = null
            conflict_resolution = "a wins"
            [storage feed_remote]
            type = "http"
            url = "\(feedURL)"
            [storage feed_local]
            type = "filesystem"
            path = "\(work.path)/cal/"
            fileext = ".ics"
            """.utf8).write(to: work.appendingPathComponent("vdirsyncer.conf"))
        try Data("""
            [calendars]
            [[feed]]
            path = \(work.path)/cal/
            [locale]
            timeformat = %H:%M
            dateformat = %Y-%m-%d
            longdateformat = %Y-%m-%d
            datetimeformat = %Y-%m-%d %H:%M
            longdatetimeformat = %Y-%m-%d %H:%M
            local_timezone = Asia/Shanghai
            default_timezone = Asia/Shanghai
            """.utf8).write(to: work.appendingPathComponent("khal.conf"))
    }

    deinit { try? FileManager.default.removeItem(at: work) }

    /// Fetches the feed again (the first time, after vdirsyncer's discovery).
    func sync() throws {
        let config = ["-c", work.appendingPathComponent("vdirsyncer.conf").path]
        if !discovered {
            _ = try run("/usr/bin/vdirsyncer", config + ["discover", "feed"], input: "y\ny\n")
            discovered = true
        }
        _ = try run("/usr/bin/vdirsyncer", config + ["sync"])
    }

    /// khal's listing of `days` days from `start` (YYYY-MM-DD) after a sync, one event a line in `format`
    /// (khal's; `{start}` is `YYYY-MM-DD HH:MM`), day headings left out.
    func list(from start: String, days: Int, format: String = "{start} {title}") throws -> [String] {
        try sync()
        let output = try run("/usr/bin/khal", ["-c", work.appendingPathComponent("khal.conf").path, "list", "--format", format,
                                               "--day-format", "", start, "\(days)d"])
        return output.split(separator: "\n").map(String.init).filter { !$0.isEmpty }
    }

    private func run(_ tool: String, _ arguments: [String], input: String? = nil) throws -> String {
        let process = Process()
        let output = Pipe()
        let stdin = Pipe()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        process.standardOutput = output
        process.standardError = output
        process.standardInput = stdin
        var environment = ProcessInfo.processInfo.environment
        environment["HOME"] = work.path
        environment["LC_ALL"] = "C.UTF-8"
        process.environment = environment
        try process.run()
        if let input { stdin.fileHandleForWriting.write(Data(input.utf8)) }
        stdin.fileHandleForWriting.closeFile()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw ToolFailure(description: "\(tool) \(arguments) exited \(process.terminationStatus): \(text)") }
        return text
    }
}
