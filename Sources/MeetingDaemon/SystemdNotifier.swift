#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Talks to systemd through `NOTIFY_SOCKET` (sd_notify(3)) without libsystemd: one datagram per message.
/// Without `NOTIFY_SOCKET` (not started by systemd) every call does nothing.
public struct SystemdNotifier: Sendable {
    private let socketPath: [UInt8]?

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        // `@name` is a socket in the abstract namespace: a leading NUL byte.
        socketPath = environment["NOTIFY_SOCKET"].flatMap { path in
            guard !path.isEmpty else { return nil }
            return path.hasPrefix("@") ? [0] + Array(path.utf8.dropFirst()) : Array(path.utf8)
        }
    }

    public var isEnabled: Bool { socketPath != nil }

    /// Sends `KEY=value` lines; failures are ignored, as sd_notify does, and a full socket never blocks the daemon.
    public func send(_ fields: String...) { send(fields) }

    public func send(_ fields: [String]) {
        guard let socketPath, socketPath.count < 108 else { return }
        let descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { return }
        defer { close(descriptor) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in socketPath.enumerated() { raw[index] = byte }
        }
        let length = socklen_t(MemoryLayout.offset(of: \sockaddr_un.sun_path)! + socketPath.count)
        let message = Array(fields.joined(separator: "\n").utf8)
        _ = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                message.withUnsafeBytes { sendto(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT), socketAddress, length) }
            }
        }
    }

    /// `MONOTONIC_USEC=…`, which systemd wants beside `RELOADING=1`.
    public static var monotonicField: String {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return "MONOTONIC_USEC=\(Int(now.tv_sec) * 1_000_000 + Int(now.tv_nsec) / 1000)"
    }
}
