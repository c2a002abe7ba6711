#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CSystemExtras
import Foundation
import MeetingLedger

/// An I/O failure in the spool, with the path and the system's reason.
public struct SpoolError: ClassifiedFailure, CustomStringConvertible {
    public let description: String
    /// The system's reason, when a call failed.
    public let reason: String
    public let code: Int32?

    init(_ operation: String, _ path: String, errno code: Int32 = errno) {
        reason = String(cString: strerror(code))
        description = "\(operation) \(path): \(reason)"
        self.code = code
    }

    init(_ message: String) {
        description = message
        reason = message
        code = nil
    }

    /// A full disk, an I/O error, a lack of memory or descriptors: trying again can mend it. Anything else
    /// (permissions, a name too long, a file that is not what it seemed, a refusal without a system error)
    /// fails again the same way.
    public var isTransient: Bool {
        guard let code else { return false }
        return [ENOSPC, EDQUOT, EIO, EAGAIN, EINTR, EBUSY, ENOMEM, EMFILE, ENFILE, EROFS, ETIMEDOUT, ESTALE].contains(code)
    }
}

/// A file found in `incoming/`, named by its raw bytes (names need not be UTF-8).
public struct IncomingFile: Sendable, Equatable {
    public enum Kind: Sendable { case regular, symbolicLink, directory, other }

    public let nameBytes: [UInt8]
    /// The name as text; bytes that are not UTF-8 appear as `%XX`.
    public let name: String
    public let modified: (seconds: Int, nanoseconds: Int)
    public let kind: Kind
    public let size: Int

    public static func == (lhs: IncomingFile, rhs: IncomingFile) -> Bool { lhs.nameBytes == rhs.nameBytes }
}

/// The one owner of the spool's layout (`shared/spec/spool-and-outputs.md`). Every folder is held open
/// as a directory descriptor and every file is reached by name relative to it, so no path is ever
/// concatenated from input and no symbolic link is followed. State changes are renames; outputs are
/// written to a dot-file, synced and renamed into place.
public final class SpoolDirectory: @unchecked Sendable {
    public enum Folder: String, CaseIterable, Sendable {
        case incoming, approved, rejected, withdrawn, invalid, feeds, log, state
    }

    public let root: String
    private var descriptors: [Folder: Int32] = [:]

    /// Opens (creating when missing) the spool at `root` and removes temporary files a crash left behind.
    public init(root: String) throws {
        self.root = root
        try Self.makeDirectory(root)
        for folder in Folder.allCases {
            let path = root + "/" + folder.rawValue
            try Self.makeDirectory(path)
            let fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            guard fd >= 0 else { throw SpoolError("cannot open", path) }
            descriptors[folder] = fd
        }
        for folder in [Folder.approved, .rejected, .invalid, .feeds, .withdrawn] { try removeTemporaryFiles(in: folder) }
    }

    deinit { for fd in descriptors.values { close(fd) } }

    public func path(_ folder: Folder, _ name: String? = nil) -> String {
        name.map { "\(root)/\(folder.rawValue)/\($0)" } ?? "\(root)/\(folder.rawValue)"
    }

    private func fd(_ folder: Folder) -> Int32 { descriptors[folder]! }

    private static func makeDirectory(_ path: String) throws {
        if mkdir(path, 0o755) != 0, errno != EEXIST { throw SpoolError("cannot create", path) }
    }

    // MARK: incoming

    /// Request files waiting in `incoming/`, in arrival order: modification time, then name bytes.
    /// Dot-files (still being written, by convention) and names not ending in `.json` are left alone.
    public func waitingFiles() throws -> [IncomingFile] {
        let duplicate = dup(fd(.incoming))
        guard duplicate >= 0, let stream = fdopendir(duplicate) else { throw SpoolError("cannot list", path(.incoming)) }
        defer { closedir(stream) }
        rewinddir(stream)
        var files: [IncomingFile] = []
        while let entry = readdir(stream) {
            let nameBytes = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                Array(raw.prefix { $0 != 0 })
            }
            if let file = waitingFile(named: nameBytes) { files.append(file) }
        }
        return Self.inArrivalOrder(files)
    }

    /// The request file waiting in `incoming/` under `nameBytes`, if there is one there now and the name is a
    /// request's (as `waitingFiles()` judges it): a name the caller learnt of otherwise (inotify) is looked up
    /// without listing the whole folder.
    public func waitingFile(named nameBytes: [UInt8]) -> IncomingFile? {
        guard nameBytes.first != UInt8(ascii: "."), nameBytes.count > 5, nameBytes.suffix(5).elementsEqual(".json".utf8),
              !nameBytes.contains(UInt8(ascii: "/")), !nameBytes.contains(0) else { return nil }
        var info = stat()
        let found = nameBytes.withCString { fstatat(fd(.incoming), $0, &info, AT_SYMLINK_NOFOLLOW) }
        guard found == 0 else { return nil }  // gone since it was named: someone else took it
        let kind: IncomingFile.Kind
        switch info.st_mode & S_IFMT {
        case S_IFREG: kind = .regular
        case S_IFLNK: kind = .symbolicLink
        case S_IFDIR: kind = .directory
        default: kind = .other
        }
        return IncomingFile(nameBytes: nameBytes, name: Self.displayName(nameBytes),
                            modified: (Int(info.st_mtim.tv_sec), Int(info.st_mtim.tv_nsec)), kind: kind, size: Int(info.st_size))
    }

    /// `files` in arrival order: modification time, then name bytes.
    public static func inArrivalOrder(_ files: [IncomingFile]) -> [IncomingFile] {
        files.sorted { a, b in
            if a.modified != b.modified { return a.modified < b.modified }
            return a.nameBytes.lexicographicallyPrecedes(b.nameBytes)
        }
    }

    /// The name as UTF-8 text, with every byte of a name that is not UTF-8 shown as `%XX`.
    static func displayName(_ bytes: [UInt8]) -> String {
        if let text = String(validating: bytes, as: UTF8.self) { return text }
        return bytes.map { $0 < 0x80 && $0 != UInt8(ascii: "%") ? String(UnicodeScalar($0)) : String(format: "%%%02X", $0) }.joined()
    }

    /// Reads at most `limit + 1` bytes of a regular file without following links.
    public func read(_ file: IncomingFile, limit: Int) throws -> [UInt8] {
        let fd = file.nameBytes.withCString { openat(self.fd(.incoming), $0, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC) }
        guard fd >= 0 else { throw SpoolError("cannot open", path(.incoming, file.name)) }
        defer { close(fd) }
        return try Self.readBounded(fd, limit: limit, path: path(.incoming, file.name))
    }

    /// A request file named on the command line (`meetingd check FILE`): at most `limit + 1` bytes are read,
    /// and only from a regular file, so a huge file, a FIFO or a device cannot exhaust memory or block.
    public static func readRequestFile(atPath path: String, limit: Int) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw SpoolError("cannot open", path) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw SpoolError("cannot examine", path) }
        guard info.st_mode & S_IFMT == S_IFREG else { throw SpoolError("\(path) is not a regular file") }
        return try readBounded(fd, limit: limit, path: path)
    }

    private static func readBounded(_ fd: Int32, limit: Int, path: String) throws -> [UInt8] {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while bytes.count <= limit {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, min($0.count, limit + 1 - bytes.count)) }
            if count < 0 {
                if errno == EINTR { continue }
                throw SpoolError("cannot read", path)
            }
            if count == 0 { break }
            bytes.append(contentsOf: chunk[0..<count])
        }
        return bytes
    }

    // MARK: outputs

    /// Whether `relativePath` (`folder/name`) exists, without following links.
    public func exists(_ relativePath: String) -> Bool {
        guard let (folder, name) = split(relativePath) else { return false }
        var info = stat()
        return name.withCString { fstatat(fd(folder), $0, &info, AT_SYMLINK_NOFOLLOW) } == 0
    }

    private func split(_ relativePath: String) -> (Folder, String)? {
        guard let (folder, directories, name) = components(relativePath), directories.isEmpty else { return nil }
        return (folder, name)
    }

    /// `folder/dir/…/name` with every segment checked: no empty, `.`/`..` or dot-led segments, no NUL.
    /// Sub-folders are allowed in `feeds/` only.
    private func components(_ relativePath: String) -> (Folder, [String], String)? {
        let parts = relativePath.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.count >= 2, let folder = Folder(rawValue: parts[0]),
              parts.dropFirst().allSatisfy({ !$0.isEmpty && $0 != "." && $0 != ".." && !$0.contains("\0") }),
              parts.count == 2 || folder == .feeds,
              parts.dropFirst().dropLast().allSatisfy({ !$0.hasPrefix(".") })
        else { return nil }
        return (folder, Array(parts[1..<(parts.count - 1)]), parts.last!)
    }

    /// A descriptor of `directories` below `folder`, reached without following links; created when asked.
    /// The caller closes it unless it is the folder's own.
    private func directory(_ folder: Folder, _ directories: [String], create: Bool) -> Int32? {
        var current = fd(folder)
        for segment in directories {
            if create, mkdirat(current, segment, 0o755) != 0, errno != EEXIST {
                if current != fd(folder) { close(current) }
                return nil
            }
            let next = openat(current, segment, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            if current != fd(folder) { close(current) }
            guard next >= 0 else { return nil }
            current = next
        }
        return current
    }

    /// The bytes of one of the daemon's own small files (`feeds/.meetingd-feeds-through`), if it exists.
    func readSpoolFile(_ relativePath: String) -> [UInt8]? {
        guard let (folder, directories, name) = components(relativePath), directories.isEmpty else { return nil }
        let file = openat(fd(folder), name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard file >= 0 else { return nil }
        defer { close(file) }
        var bytes = [UInt8](repeating: 0, count: 4096)
        let count = bytes.withUnsafeMutableBytes { Glibc.read(file, $0.baseAddress, $0.count) }
        return count >= 0 ? Array(bytes[0..<count]) : nil
    }

    /// A file under `feeds/`, opened for the HTTP server: every segment is reached without following links,
    /// dot-names are refused, only regular files are served.
    public func openFeed(_ path: String) -> FeedFile? {
        guard let (_, directories, name) = components("feeds/" + path), !name.hasPrefix("."),
              let dirfd = directory(.feeds, directories, create: false) else { return nil }
        defer { if dirfd != fd(.feeds) { close(dirfd) } }
        let file = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard file >= 0 else { return nil }
        var info = stat()
        guard fstat(file, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
            close(file)
            return nil
        }
        return FeedFile(descriptor: file, info: info)
    }

    /// The bytes of a feed file and its modification time.
    public func readFeed(_ path: String) -> (bytes: [UInt8], modified: Date)? {
        guard let file = openFeed(path), let bytes = file.readAll() else { return nil }
        return (bytes, file.modified)
    }

    /// Claims a path in `invalid/` for `file`: `invalid/x.json`, else `invalid/x.json.1`, … — the first whose
    /// file and note are both free. The claim is the note's name, created empty with O_EXCL, so no other
    /// request can be given the same name, in this group, the next one, or after a crash; the note's text
    /// replaces the empty file later.
    public func claimInvalidDestination(for file: IncomingFile) throws -> String {
        let base = "invalid/" + SpoolNames.invalidBase(for: file)
        var suffix = 0
        while true {
            let candidate = suffix == 0 ? base : "\(base).\(suffix)"
            suffix += 1
            guard !exists(candidate), let (_, name) = split(SpoolNames.note(besideInvalid: candidate)) else { continue }
            let claim = openat(fd(.invalid), name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
            if claim >= 0 {
                close(claim)
                return candidate
            }
            guard errno == EEXIST else { throw SpoolError("cannot claim", path(.invalid, name)) }
        }
    }

    /// Gives back a claim that will not be used: its note is removed while it is still the empty claim.
    public func abandonInvalidDestination(_ destination: String) {
        guard let (folder, name) = split(SpoolNames.note(besideInvalid: destination)), folder == .invalid else { return }
        var info = stat()
        guard fstatat(fd(.invalid), name, &info, AT_SYMLINK_NOFOLLOW) == 0, info.st_mode & S_IFMT == S_IFREG, info.st_size == 0 else { return }
        unlinkat(fd(.invalid), name, 0)
    }

    /// Writes `bytes` to `relativePath` atomically: a dot-file in the same folder, renamed into place. With
    /// `durable`, the file and its folder are synced before returning; without, the caller's `barrier()` does it.
    /// Without `replacing`, the path is claimed: an existing file there is an error (EEXIST), never replaced.
    /// `writeback`: when the data of a file written without `durable` leaves for the disk.
    public func writeAtomically(_ relativePath: String, _ bytes: [UInt8], durable: Bool = true, replacing: Bool = true,
                                keepingFoldersIn folders: FolderHandles? = nil, writeback: Writeback = .withBarrier) throws {
        guard let (folder, directories, name) = components(relativePath) else { throw SpoolError("not a spool path: \(relativePath)") }
        let folderKey = directories.isEmpty || folders == nil ? nil : folder.rawValue + "/" + directories.joined(separator: "/")
        let kept = folderKey.flatMap { folders?.descriptor(of: $0) }
        guard let dirfd = kept ?? directory(folder, directories, create: true) else { throw SpoolError("cannot create the folder of", path(folder, name)) }
        if kept == nil, let folderKey, let folders { folders.keep(folderKey, dirfd) }
        defer { if dirfd != fd(folder), folderKey == nil { close(dirfd) } }
        let temporary = SpoolNames.temporary()
        let fd = openat(dirfd, temporary, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw SpoolError("cannot create", path(folder, temporary)) }
        var written = 0
        while written < bytes.count {
            let count = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + written, $0.count - written) }
            if count < 0 {
                if errno == EINTR { continue }
                let code = errno
                close(fd)
                unlinkat(dirfd, temporary, 0)
                throw SpoolError("cannot write", path(folder, name), errno: code)
            }
            written += count
        }
        if writeback == .startedNow { _ = meetingd_start_writeback(fd) }
        if durable, fsync(fd) != 0 {
            let code = errno
            close(fd)
            unlinkat(dirfd, temporary, 0)
            throw SpoolError("cannot sync", path(folder, name), errno: code)
        }
        close(fd)
        let renamed = !replacing ? meetingd_rename_noreplace(dirfd, temporary, dirfd, name)
            : writeback == .deferred ? meetingd_exchange_into_place(dirfd, temporary, name) : renameat(dirfd, temporary, dirfd, name)
        guard renamed == 0 else {
            let code = errno
            unlinkat(dirfd, temporary, 0)
            throw SpoolError("cannot rename into", path(folder, name), errno: code)
        }
        if durable, fsync(dirfd) != 0 { throw SpoolError("cannot sync", path(folder)) }
    }

    /// Removes the file at `relativePath` (a top folder's own, not below it), if there is one, and syncs its
    /// folder: once this returns, no crash brings it back.
    public func removeDurably(_ relativePath: String) throws {
        guard let (folder, name) = split(relativePath) else { throw SpoolError("not a spool path: \(relativePath)") }
        guard unlinkat(fd(folder), name, 0) == 0 || errno == ENOENT else { throw SpoolError("cannot remove", path(folder, name)) }
        try syncFolders([folder])
    }

    /// When the data of a file that `writeAtomically` writes without `durable` leaves for the disk.
    public enum Writeback: Sendable {
        /// With the caller's next barrier — or, for a file that replaces another on ext4, at the rename
        /// (auto_da_alloc starts writing the new file's data then).
        case withBarrier
        /// Started now, from the writing thread, without waiting (a feed pass in a daemon whose decisions make
        /// barriers: those then find the pages written or under way instead of writing them).
        case startedNow
        /// Only with the next barrier, or the kernel's own writeback half a minute on: the file replaces the
        /// old one by an exchange (`meetingd_exchange_into_place`), which starts nothing, so a version
        /// replaced again before then never reaches the disk at all.
        case deferred
    }

    /// The durability barrier: every write made so far to the spool's file system (and to `alsoSync`, a file
    /// on another one, such as a ledger elsewhere) is on stable storage when this returns.
    public func barrier(alsoSync otherPath: String? = nil) throws {
        let ticket = barriers.withLock { () -> Int in
            barriers.started += 1
            return barriers.started
        }
        guard meetingd_syncfs(fd(.state)) == 0 else { throw SpoolError("cannot sync the file system of", root) }
        barriers.withLock { barriers.completed = max(barriers.completed, ticket) }
        guard let otherPath else { return }
        var spoolInfo = stat(), otherInfo = stat()
        guard fstat(fd(.state), &spoolInfo) == 0, stat(otherPath, &otherInfo) == 0, spoolInfo.st_dev != otherInfo.st_dev else { return }
        let other = open(otherPath, O_RDONLY | O_CLOEXEC)
        guard other >= 0 else { throw SpoolError("cannot open", otherPath) }
        defer { close(other) }
        guard meetingd_syncfs(other) == 0 else { throw SpoolError("cannot sync the file system of", otherPath) }
    }

    /// The barriers started and the latest of them that completed (by the number each was started with).
    private let barriers = BarrierCount()

    /// Makes the entries of `folders` durable (names created, renamed in or out): fsync of each folder, not a
    /// barrier of the whole file system.
    public func syncFolders(_ folders: Set<Folder>) throws {
        for folder in folders.sorted(by: { $0.rawValue < $1.rawValue }) where fsync(fd(folder)) != 0 {
            throw SpoolError("cannot sync", path(folder))
        }
    }

    /// The top folder of a spool path (`approved/x.ics` → `.approved`).
    public func folder(of relativePath: String) -> Folder? {
        split(relativePath)?.0
    }

    /// A mark of this moment for `hasBarrier(since:)`.
    public func barrierMark() -> Int { barriers.withLock { barriers.started } }

    /// Whether a barrier started after `mark` has completed: everything written before the mark is on disk.
    public func hasBarrier(since mark: Int) -> Bool { barriers.withLock { barriers.completed > mark } }

    /// Moves a file out of `incoming/` by one rename that claims the destination: a file already there is
    /// never replaced (EEXIST). The rename reaches the disk with the next barrier (or `syncFolders`); if a crash loses it, the
    /// request is found in `incoming/` again and its recorded decision is finished, not repeated.
    public func moveIncoming(_ file: IncomingFile, to relativePath: String) throws {
        guard let (folder, name) = split(relativePath) else { throw SpoolError("not a spool path: \(relativePath)") }
        let moved = file.nameBytes.withCString { source in meetingd_rename_noreplace(fd(.incoming), source, fd(folder), name) }
        guard moved == 0 else { throw SpoolError("cannot move \(file.name) to", path(folder, name)) }
    }

    /// Whether `relativePath` is the very file `file` is in `incoming/` (one inode under two names): a move
    /// by link and unlink that a crash cut in half.
    public func isSameFile(_ file: IncomingFile, _ relativePath: String) -> Bool {
        guard let (folder, name) = split(relativePath) else { return false }
        var incoming = stat(), destination = stat()
        let found = file.nameBytes.withCString { fstatat(fd(.incoming), $0, &incoming, AT_SYMLINK_NOFOLLOW) } == 0
        guard found, name.withCString({ fstatat(fd(folder), $0, &destination, AT_SYMLINK_NOFOLLOW) }) == 0 else { return false }
        return incoming.st_dev == destination.st_dev && incoming.st_ino == destination.st_ino
    }

    /// Removes `file`'s name from `incoming/` once the same file is at its destination (see `isSameFile`).
    public func finishMove(_ file: IncomingFile) throws {
        guard file.nameBytes.withCString({ unlinkat(fd(.incoming), $0, 0) }) == 0 else { throw SpoolError("cannot remove", path(.incoming, file.name)) }
    }

    /// Removes one of meetingd's own output files (a note it claimed but could not use).
    public func removeOutput(_ relativePath: String) {
        guard let (folder, name) = split(relativePath), folder != .incoming else { return }
        unlinkat(fd(folder), name, 0)
    }

    /// Creates a request in `incoming/` the way writers should: a dot-file renamed in whole.
    public func drop(name: String, _ bytes: [UInt8]) throws {
        try writeAtomically("incoming/" + name, bytes, replacing: false)
    }

    func sync(_ folder: Folder) throws {
        guard fsync(fd(folder)) == 0 else { throw SpoolError("cannot sync", path(folder)) }
    }

    /// A descriptor of `folder` for other owners of one spool file (the decision log), duplicated for them.
    func openFile(_ folder: Folder, _ name: String, flags: Int32) throws -> Int32 {
        let descriptor = openat(fd(folder), name, flags | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw SpoolError("cannot open", path(folder, name)) }
        return descriptor
    }

    private func removeTemporaryFiles(in folder: Folder) throws {
        // Only feeds/ has sub-folders of ours; a folder quarantined in invalid/ is someone else's and stays whole.
        try removeTemporaryFiles(below: fd(folder), path: path(folder), recursive: folder == .feeds)
    }

    /// Deletes the dot-files this class writes before a rename, in `directory` and (for feeds) its sub-folders.
    private func removeTemporaryFiles(below directory: Int32, path: String, recursive: Bool) throws {
        let duplicate = dup(directory)
        guard duplicate >= 0, let stream = fdopendir(duplicate) else { throw SpoolError("cannot list", path) }
        defer { closedir(stream) }
        var leftovers: [String] = []
        var folders: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name.hasPrefix(SpoolNames.temporaryPrefix) {
                leftovers.append(name)
            } else if recursive, entry.pointee.d_type == UInt8(DT_DIR), !name.hasPrefix(".") {
                folders.append(name)
            }
        }
        for name in leftovers { unlinkat(directory, name, 0) }
        for name in folders {
            let child = openat(directory, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            guard child >= 0 else { continue }
            defer { close(child) }
            try removeTemporaryFiles(below: child, path: path + "/" + name, recursive: true)
        }
    }
}

extension Array where Element == UInt8 {
    /// Calls `body` with the bytes as a NUL-terminated C string (a file name read from a directory).
    func withCString<R>(_ body: (UnsafePointer<CChar>) throws -> R) rethrows -> R {
        try (self + [0]).withUnsafeBufferPointer { buffer in
            try buffer.withMemoryRebound(to: CChar.self) { try body($0.baseAddress!) }
        }
    }
}

/// An open feed file. Its `identity` (device, inode, size, modification time) changes whenever the file is
/// replaced, so a digest computed from its bytes can be reused while the identity stays.
public final class FeedFile {
    private let descriptor: Int32
    public let size: Int
    public let modified: Date
    public let identity: String

    init(descriptor: Int32, info: stat) {
        self.descriptor = descriptor
        size = Int(info.st_size)
        modified = Date(timeIntervalSince1970: Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec) / 1e9)
        identity = "\(info.st_dev):\(info.st_ino):\(info.st_size):\(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec)"
    }

    deinit { close(descriptor) }

    public func readAll() -> [UInt8]? {
        var bytes = [UInt8](repeating: 0, count: size)
        var total = 0
        while total < bytes.count {
            let count = bytes.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress! + total, $0.count - total, off_t(total)) }
            guard count > 0 else { return nil }
            total += count
        }
        return bytes
    }
}

/// The descriptor of the folder below `feeds/` that the feed writer last wrote into, kept open while it writes
/// one pass, then closed: a pass that writes hundreds of small feeds into a few folders made and opened the
/// folder again for each file (two system calls of the seven a small feed cost). Feeds are written in key
/// order, so the units' feeds of a folder come together (regions nested in each other alternate between their
/// folders, and open them again). One at a time, so a pass over thousands of region folders holds one.
/// Not kept between passes: a folder removed by hand is made again when a pass next writes into it.
public final class FolderHandles {
    private var current: (key: String, descriptor: Int32)?

    public init() {}

    fileprivate func descriptor(of key: String) -> Int32? {
        guard let current, current.key == key else { return nil }
        return current.descriptor
    }

    /// Keeps `descriptor` (now owned here) for `key`, closing the one kept before.
    fileprivate func keep(_ key: String, _ descriptor: Int32) {
        closeAll()
        current = (key, descriptor)
    }

    public func closeAll() {
        if let current { close(current.descriptor) }
        current = nil
    }

    deinit { closeAll() }
}

private final class BarrierCount: @unchecked Sendable {
    private let lock = NSLock()
    var started = 0
    var completed = 0

    func withLock<T>(_ body: () -> T) -> T { lock.withLock(body) }
}
