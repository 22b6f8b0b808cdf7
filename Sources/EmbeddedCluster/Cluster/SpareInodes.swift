import Foundation
import Synchronization

/// Inodes of ingested import files and apply records, kept for the next SSTs a store writes. On
/// ext4 without a journal, allocating an inode skips every inode freed in the last seconds (tens
/// of seconds while its inode table block is dirty), one buffer lookup each: with a restore
/// ingesting and compacting away thousands of small SSTs a second, a file's creation cost more
/// than its rewrite. So an ingested file's import name is not unlinked but moved here (an apply
/// record, which RocksDB ingests by move, gets a second name here first), where it shares the
/// inode with RocksDB's table; once RocksDB deleted the table (its link count is back to 1), the
/// inode is renamed to the next SST's path and truncated by the writer's open, instead of a new
/// one being allocated.
///
/// An inode is reused only with a link count of 1: this directory's name is then its only one,
/// so neither RocksDB nor any checkpoint of it can see the file change. The directory is emptied
/// when the store opens and closes; names left by a kill are unlinked then (those RocksDB still
/// links just lose a name).
final class SpareInodes: Sendable {
    /// Files kept at most, and the largest kept: a spare RocksDB released holds its blocks until
    /// it is reused, so the pool holds at most `capacity * largestFile` (1 GiB) it does not need,
    /// and none while the store is short of space (`keep`'s caller unlinks then). Most names in
    /// the pool are of tables that no compaction merged yet: with 1,024 of them and 4 looked at
    /// for each file placed, 18% of a 4,022-region restore's rewrite outputs found a free inode;
    /// with these, 49%.
    static let capacity = 4_096
    static let largestFile: UInt64 = 256 << 10
    /// Spares looked at for each file placed (a `stat` each): those still linked go to the back.
    private static let triesPerPlace = 16

    let directory: String
    private let state = Mutex<(queue: [UInt64], head: Int, next: UInt64)>(([], 0, 0))

    init(directory: String) throws {
        self.directory = directory
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        removeAll()
    }

    private func path(_ name: UInt64) -> String { "\(directory)/\(name)" }

    /// Keeps the inode of `file` (an import file RocksDB just ingested by link) for reuse; or, when
    /// it is too large or the pool is full, unlinks it as before.
    func keep(_ file: String, bytes: UInt64) {
        guard let name = reserveName(bytes: bytes), rename(file, path(name)) == 0 else {
            unlink(file)
            return
        }
        state.withLock { $0.queue.append(name) }
    }

    /// Keeps a second name of `file` (an apply record of a few KiB, about to be ingested by move,
    /// which takes its own name away), so that its inode comes back here once RocksDB deletes
    /// its table.
    func keepLink(to file: String) {
        guard let name = reserveName(bytes: 0), link(file, path(name)) == 0 else { return }
        state.withLock { $0.queue.append(name) }
    }

    /// A name for one more spare, or nil when the file is too large or the pool is full.
    private func reserveName(bytes: UInt64) -> UInt64? {
        guard bytes <= Self.largestFile else { return nil }
        return state.withLock { s in
            guard s.queue.count - s.head < Self.capacity else { return nil }
            s.next += 1
            return s.next
        }
    }

    /// Renames a spare that RocksDB no longer links to `target`, so that the SST written there
    /// reuses its inode. Returns false, with `target` untouched, when none is free.
    @discardableResult
    func place(at target: String) -> Bool {
        for _ in 0..<Self.triesPerPlace {
            guard let name = takeOldest() else { return false }
            var info = stat()
            guard stat(path(name), &info) == 0 else { continue }  // gone: forget it
            if info.st_nlink == 1, rename(path(name), target) == 0 { return true }
            state.withLock { $0.queue.append(name) }  // RocksDB still holds it
        }
        return false
    }

    private func takeOldest() -> UInt64? {
        state.withLock { s in
            guard s.head < s.queue.count else { return nil }
            let name = s.queue[s.head]
            s.head += 1
            if s.head > 4_096 && s.head * 2 > s.queue.count {
                s.queue.removeFirst(s.head)
                s.head = 0
            }
            return name
        }
    }

    /// Unlinks every spare: RocksDB keeps the tables it still links.
    func removeAll() {
        state.withLock { s in
            for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] { unlink("\(directory)/\(name)") }
            s = ([], 0, 0)
        }
    }
}
