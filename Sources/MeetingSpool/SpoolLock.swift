#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// `state/meetingd.lock`: one process at a time decides a spool. Held (flock) for the life of the process.
public final class SpoolLock: @unchecked Sendable {
    public struct Held: Error, CustomStringConvertible {
        public let description: String
    }

    private let descriptor: Int32

    /// Takes the lock or throws `Held` naming the process that has it.
    public init(spool: SpoolDirectory) throws {
        descriptor = try spool.openFile(.state, SpoolNames.lock, flags: O_RDWR | O_CREAT)
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            var buffer = [UInt8](repeating: 0, count: 32)
            let count = buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, 32, 0) }
            let holder = String(decoding: buffer.prefix(max(0, count)), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            close(descriptor)
            throw Held(description: "another meetingd (pid \(holder.isEmpty ? "?" : holder)) is already deciding \(spool.root); "
                + "it holds \(spool.path(.state, SpoolNames.lock))")
        }
        let pid = Array("\(getpid())\n".utf8)
        _ = ftruncate(descriptor, 0)
        _ = pid.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, 0) }
    }

    deinit { close(descriptor) }
}
