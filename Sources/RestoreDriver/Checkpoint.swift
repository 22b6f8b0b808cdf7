import Foundation
import Synchronization
import KeyCodec
import ExternalStorage

/// A restore's progress on disk, in `<cluster>/checkpoints/<backup>.log`: a header with the table-id
/// mapping (so a resume rewrites to the same tables) and one line per restored piece (a file set
/// within one region). The file is created durably (written, synced, renamed into place, and its
/// directory synced), and lines are appended and synced off the cooperative pool, so a crash or a
/// power loss loses at most the piece in flight, which the Raft log then shows as applied.
final class Checkpoint: Sendable {
    struct Header: Codable, Equatable {
        var backup: String
        var tableIDs: [String: Int64]
        var rules: [String]
        /// The new timestamp every version is rewritten to, when one was taken (an incremental
        /// backup's, from PD's TSO): a resume keeps it.
        var newTimestamp: UInt64? = nil
    }

    struct Piece: Codable, Hashable {
        var set: Int
        var start: String
        var end: String
    }

    let path: String
    let header: Header
    /// The pieces restored, for readers; updated once their line is on disk.
    private let done: Mutex<[Int: [KeyRange]]>
    /// The open file, written by `commits` alone (readers never wait for a write).
    private let fd: Int32
    /// Lines are appended and synced in group commits: one fsync for every piece recorded while
    /// the last one synced.
    private let commits: GroupCommit<[UInt8], RestoreError>

    /// Opens the checkpoint for `backupKey`; a new one when none exists.
    init(clusterDirectory: String, header proposed: Header) throws(RestoreError) {
        let dir = clusterDirectory + "/checkpoints"
        let path = "\(dir)/\(proposed.backup).log"
        self.path = path
        if !FileManager.default.fileExists(atPath: dir) {
            do { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700]) } catch {
                throw .checkpoint(path: dir, reason: "cannot create directory: \(error.localizedDescription)")
            }
            do { try DurableFile.syncDirectory(clusterDirectory) } catch { throw .checkpoint(path: clusterDirectory, reason: "cannot sync: \(error)") }
        }
        var pieces: [Int: [KeyRange]] = [:]
        if let saved = try Self.parse(try Self.wholeLines(at: path), path: path) {
            header = saved.header
            pieces = saved.pieces
        } else {
            header = proposed
            // Whole or not at all, so that a power loss never leaves the header unwritten after
            // data has landed (a resume would then map the tables to new ids).
            do { try DurableFile.replace(path, with: Array(((try? JSONEncoder().encode(proposed)) ?? Data()) + Data("\n".utf8))) } catch {
                throw .checkpoint(path: path, reason: "cannot create: \(error)")
            }
        }
        let fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC)
        guard fd >= 0 else { throw .checkpoint(path: path, reason: "cannot open for writing: \(String(cString: strerror(errno)))") }
        self.fd = fd
        commits = GroupCommit(label: "restore-console.checkpoint") { batches in
            do { try DurableFile.append(Array(batches.joined()), to: fd) } catch {
                return .checkpoint(path: path, reason: "cannot record a restored piece: \(error)")
            }
            return nil
        }
        done = Mutex(pieces)
    }

    // A commit runs only while a `markDone` awaits it, which holds the checkpoint: none is left.
    deinit { close(fd) }


    /// What a checkpoint file holds.
    struct Saved: Sendable {
        var header: Header
        var pieces: [Int: [KeyRange]]
    }

    /// Reads the checkpoint at `path` without changing it (a torn last line is left out); nil when
    /// there is none.
    static func read(at path: String) throws(RestoreError) -> Saved? {
        guard var data = FileManager.default.contents(atPath: path) else { return nil }
        if let last = data.last, last != UInt8(ascii: "\n") { data = data.prefix(data.lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? 0) }
        return try parse(data, path: path)
    }

    private static func parse(_ data: Data, path: String) throws(RestoreError) -> Saved? {
        guard !data.isEmpty else { return nil }
        let lines = data.split(separator: UInt8(ascii: "\n"))
        guard let first = lines.first, let header = try? JSONDecoder().decode(Header.self, from: Data(first)) else {
            throw .checkpoint(path: path, reason: "unreadable header; remove it to start over")
        }
        var pieces: [Int: [KeyRange]] = [:]
        for line in lines.dropFirst() {
            guard let piece = try? JSONDecoder().decode(Piece.self, from: Data(line)),
                  let start = [UInt8](hex: piece.start), let end = [UInt8](hex: piece.end) else { continue }
            pieces[piece.set, default: []].append(KeyRange(start: start, end: end))
        }
        return Saved(header: header, pieces: pieces)
    }

    /// The file's complete lines. A torn last line (a crash mid-write) is cut off the file, so
    /// the next piece starts a line of its own; that piece is found in the stores' apply records.
    static func wholeLines(at path: String) throws(RestoreError) -> Data {
        let data = FileManager.default.contents(atPath: path) ?? Data()
        guard let last = data.last, last != UInt8(ascii: "\n") else { return data }
        let whole = data.lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? 0
        guard truncate(path, off_t(whole)) == 0 else {
            throw .checkpoint(path: path, reason: "cannot cut a torn last line: \(String(cString: strerror(errno)))")
        }
        return data.prefix(whole)
    }

    var isResume: Bool { done.withLock { !$0.isEmpty } }

    /// True when the piece (or a piece covering it) was restored.
    func isDone(set: Int, range: KeyRange) -> Bool {
        done.withLock { $0[set]?.contains { $0.covers(range) } ?? false }
    }

    /// When the last piece was recorded (or the checkpoint opened).
    private let lastWrite = Mutex(ContinuousClock.now)

    /// How long ago the last piece was recorded.
    var sinceLastWrite: Duration { ContinuousClock.now - lastWrite.withLock { $0 } }

    /// Records that `sets` were restored within `range`, in a synced write off the cooperative
    /// pool that carries every piece recorded meanwhile (one fsync for many regions). A write that
    /// fails (a full disk, an I/O error) leaves the file as it was and throws to each piece in
    /// it: the caller waits and tries again, as the data it records is in the stores already.
    func markDone(sets: [Int], range: KeyRange) async throws(RestoreError) {
        let encoder = JSONEncoder()
        let (start, end) = (range.start.hexString, range.end.hexString)
        var lines = Data()
        for set in sets {
            lines += (try? encoder.encode(Piece(set: set, start: start, end: end))) ?? Data()
            lines += Data("\n".utf8)
        }
        if let failure = await commits.submit(Array(lines)) { throw failure }
        done.withLock { pieces in
            for set in sets { pieces[set, default: []].append(range) }
        }
        lastWrite.withLock { $0 = .now }
    }

    /// Parts of `range` of file set `set` not yet restored.
    func remaining(set: Int, range: KeyRange) -> [KeyRange] {
        Self.remaining(of: range, after: done.withLock { $0[set] ?? [] })
    }

    /// Parts of `range` that none of `restored` covers.
    static func remaining(of range: KeyRange, after restored: [KeyRange]) -> [KeyRange] {
        let pieces = restored.sorted { keyLess($0.start, $1.start) }
        var left: [KeyRange] = []
        var cursor = range.start
        for p in pieces {
            if !p.end.isEmpty, compareKeys(p.end, cursor) <= 0 { continue }
            if !range.end.isEmpty, compareKeys(p.start, range.end) >= 0 { break }
            if compareKeys(p.start, cursor) > 0 { left.append(KeyRange(start: cursor, end: p.start)) }
            if p.end.isEmpty { return left }
            cursor = p.end
        }
        if range.end.isEmpty || compareKeys(cursor, range.end) < 0 { left.append(KeyRange(start: cursor, end: range.end)) }
        return left
    }
}
