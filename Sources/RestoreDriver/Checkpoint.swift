import Foundation
import Synchronization
import KeyCodec

/// A restore's progress on disk, in `<cluster>/checkpoints/<backup>.log`: a header with the table-id
/// mapping (so a resume rewrites to the same tables) and one line per restored piece (a file set
/// within one region). Lines are appended and synced, so a crash loses at most the piece in flight,
/// which the Raft log then shows as applied.
final class Checkpoint: Sendable {
    struct Header: Codable, Equatable {
        var backup: String
        var tableIDs: [String: Int64]
        var rules: [String]
    }

    struct Piece: Codable, Hashable {
        var set: Int
        var start: String
        var end: String
    }

    let path: String
    let header: Header
    private let done: Mutex<[Int: [KeyRange]]>
    private let handle: FileHandle

    /// Opens the checkpoint for `backupKey`; a new one when none exists.
    init(clusterDirectory: String, header proposed: Header) throws(RestoreError) {
        let dir = clusterDirectory + "/checkpoints"
        path = "\(dir)/\(proposed.backup).log"
        let fm = FileManager.default
        do { try fm.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700]) } catch {
            throw .checkpoint(path: dir, reason: "cannot create directory")
        }
        var pieces: [Int: [KeyRange]] = [:]
        if let saved = try Self.parse(try Self.wholeLines(at: path), path: path) {
            header = saved.header
            pieces = saved.pieces
        } else {
            header = proposed
            let line = (try? JSONEncoder().encode(proposed)) ?? Data()
            do { try (line + Data("\n".utf8)).write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
                throw .checkpoint(path: path, reason: "cannot create: \(error.localizedDescription)")
            }
        }
        guard let h = FileHandle(forUpdatingAtPath: path) else { throw .checkpoint(path: path, reason: "cannot open for writing") }
        h.seekToEndOfFile()
        handle = h
        done = Mutex(pieces)
    }

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

    /// Records that `sets` were restored within `range`, with one synced write.
    func markDone(sets: [Int], range: KeyRange) {
        let encoder = JSONEncoder()
        let (start, end) = (range.start.hexString, range.end.hexString)
        var lines = Data()
        for set in sets {
            lines += (try? encoder.encode(Piece(set: set, start: start, end: end))) ?? Data()
            lines += Data("\n".utf8)
        }
        done.withLock { pieces in
            for set in sets { pieces[set, default: []].append(range) }
            handle.write(lines)
            try? handle.synchronize()
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
