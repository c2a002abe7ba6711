import Foundation
import Glibc

/// What the file system says of a file's data (FIEMAP): whether some of it is still delayed — in the page
/// cache, not yet given blocks, so not yet on its way to the disk. ext4 reports such extents; a file system
/// that does not delay allocation never does (`Probe` tells, from a file written and left).
enum FileExtents {
    private static let fiemapRequest: UInt = 0xC020_660B  // FS_IOC_FIEMAP: _IOWR('f', 11, struct fiemap)
    private static let extentDelalloc: UInt32 = 0x4
    private static let headerSize = 32, extentSize = 56, extentSlots = 32

    /// Whether any extent of the file at `path` is delayed; nil where the file system does not answer FIEMAP.
    static func hasDelayedData(_ path: String) -> Bool? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: headerSize + extentSize * extentSlots)
        return buffer.withUnsafeMutableBytes { raw -> Bool? in
            raw.storeBytes(of: 0, toByteOffset: 0, as: UInt64.self)  // fm_start
            raw.storeBytes(of: UInt64.max, toByteOffset: 8, as: UInt64.self)  // fm_length
            raw.storeBytes(of: UInt32(extentSlots), toByteOffset: 24, as: UInt32.self)  // fm_extent_count
            guard ioctl(fd, fiemapRequest, raw.baseAddress!) == 0 else { return nil }
            let mapped = Int(raw.load(fromByteOffset: 20, as: UInt32.self))
            return (0..<mapped).contains { index in
                raw.load(fromByteOffset: headerSize + extentSize * index + 40, as: UInt32.self) & extentDelalloc != 0
            }
        }
    }

    /// A file written with write(2) and left in the page cache: while it is still delayed, nothing (a `sync` by
    /// another process, writeback under memory pressure) has written the file system's dirty data since, so
    /// other files' answers mean what they say. nil where the file system does not delay allocation.
    final class Probe {
        let path: String

        init?(in folder: URL) throws {
            path = folder.appendingPathComponent("delay-probe-\(UUID().uuidString)").path
            let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
            let bytes = [UInt8](repeating: 0x2A, count: 64 * 1024)
            let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress!, $0.count) }
            close(fd)
            guard written == bytes.count, hasDelayedData(path) == true else {
                unlink(path)
                return nil
            }
        }

        var isStillDelayed: Bool { FileExtents.hasDelayedData(path) == true }

        deinit { unlink(path) }
    }
}
