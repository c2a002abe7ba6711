import ArgumentParser
import Foundation
import MeetingSpool

/// A first daemon: drains `incoming/` once a second until SIGTERM or SIGINT. The inotify watcher,
/// systemd notification and reload come with the service-lifecycle daemon.
struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Watch incoming/ and decide each request as it arrives (polls every second).")

    @OptionGroup var options: SpoolOptions
    @Option(help: "Seconds between scans of incoming/.") var interval: Double = 1

    func run() throws {
        let pipeline = try options.openPipeline()
        signal(SIGTERM, stopRequested)
        signal(SIGINT, stopRequested)
        FileHandle.standardError.write(Data("<6>meetingd: watching \(pipeline.spool.path(.incoming))\n".utf8))
        while !stopping {
            do {
                for outcome in try pipeline.drain() {
                    FileHandle.standardError.write(Data("<6>meetingd: \(summary(outcome))\n".utf8))
                }
            } catch {
                FileHandle.standardError.write(Data("<3>meetingd: \(error)\n".utf8))
            }
            usleep(useconds_t(interval * 1_000_000))
        }
        FileHandle.standardError.write(Data("<6>meetingd: stopped\n".utf8))
    }
}

nonisolated(unsafe) private var stopping = false
private func stopRequested(_ signal: Int32) { stopping = true }
