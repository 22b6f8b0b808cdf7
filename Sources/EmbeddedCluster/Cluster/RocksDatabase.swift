import Foundation
import Synchronization
import CRocksDB
import KeyCodec
import ClusterAPI

/// A store's RocksDB with TiKV's column families. Thread-safe: RocksDB's DB is safe for concurrent
/// use, and the handle is only released in `deinit`, when no other reference exists.
public final class RocksDatabase: @unchecked Sendable {
    // @unchecked: `handle` is immutable, and every crdb_db_* call is thread-safe per RocksDB's
    // documented contract for DB (concurrent reads, writes and IngestExternalFile). `close()` is
    // the one exception: its caller (Store.close, from Cluster.close) calls it only after every
    // user has stopped (the clock's ticks awaited, every Raft group stopped with its running round
    // awaited, the store's ingest, Raft log and compaction queues finished), and afterwards every
    // call fails with `.closed` instead of touching the handle.

    public let path: String
    private let handle: OpaquePointer
    private let closed = Atomic<Bool>(false)

    /// Opens or creates the DB; it keeps at most `maxOpenFiles` SST files open (its table cache).
    /// `readOnly`: an existing DB, for reads only, leaving every file of it as it was.
    public init(path: String, maxOpenFiles: Int = OpenFileBudget.minimumPerStore, readOnly: Bool = false) throws(DatabaseError) {
        self.path = path
        var err: UnsafeMutablePointer<CChar>?
        guard let h = crdb_db_open(path, Int32(maxOpenFiles), readOnly ? 1 : 0, &err) else { throw .open(path: path, reason: takeRocksDBError(err)) }
        handle = h
    }

    /// True when the DB at `path` has every column family: one whose creation a kill cut short
    /// has fewer, and never held data.
    public static func hasEveryColumnFamily(path: String) -> Bool { crdb_db_has_column_families(path) == 1 }

    deinit { close() }

    /// The SST files of every column family, and their bytes.
    public func liveFiles() -> (count: Int, bytes: UInt64) {
        guard !closed.load(ordering: .acquiring) else { return (0, 0) }
        var count: UInt64 = 0, bytes: UInt64 = 0
        crdb_db_live_files(handle, &count, &bytes)
        return (Int(count), bytes)
    }

    /// The tables of `cf` that no compaction holds, in key order.
    func tableFiles(cf: ColumnFamily) -> [TableFile] {
        guard !closed.load(ordering: .acquiring) else { return [] }
        var files: [TableFile] = []
        withUnsafeMutablePointer(to: &files) { out in
            crdb_db_table_files(handle, cf.rawValue, out) { context, smallest, smallestCount, largest, largestCount, size, number in
                let files = context!.assumingMemoryBound(to: [TableFile].self)
                files.pointee.append(TableFile(
                    smallest: Array(UnsafeRawBufferPointer(start: smallest, count: smallestCount)),
                    largest: Array(UnsafeRawBufferPointer(start: largest, count: largestCount)),
                    bytes: size, number: number))
            }
        }
        return files.sorted { keyLess($0.smallest, $1.smallest) }
    }

    /// Closes the DB and releases its lock; later calls fail with `.closed`.
    public func close() {
        if !closed.exchange(true, ordering: .acquiringAndReleasing) { crdb_db_close(handle) }
    }

    private func checkOpen() throws(DatabaseError) {
        if closed.load(ordering: .acquiring) { throw .closed(path: path) }
    }

    public func put(_ key: [UInt8], _ value: [UInt8], cf: ColumnFamily = .default, sync: Bool = false) throws(DatabaseError) {
        try checkOpen()
        var err: UnsafeMutablePointer<CChar>?
        let ok = key.withUnsafeBytes { k in
            value.withUnsafeBytes { v in
                crdb_db_put(handle, cf.rawValue, k.baseAddress, k.count, v.baseAddress, v.count, sync ? 1 : 0, &err)
            }
        }
        guard ok == 1 else { throw .write(path: path, reason: takeRocksDBError(err)) }
    }

    public func get(_ key: [UInt8], cf: ColumnFamily = .default) throws(DatabaseError) -> [UInt8]? {
        try checkOpen()
        var err: UnsafeMutablePointer<CChar>?
        var found: Int32 = 0
        var length = 0
        let value = key.withUnsafeBytes { k in crdb_db_get(handle, cf.rawValue, k.baseAddress, k.count, &length, &found, &err) }
        if let err { throw .read(path: path, reason: takeRocksDBError(err)) }
        guard found == 1, let value else { return nil }
        defer { crdb_free(value) }
        return Array(UnsafeRawBufferPointer(start: value, count: length))
    }

    /// Writes several puts and deletes atomically, across column families.
    public func write(_ batch: WriteBatch, sync: Bool = true) throws(DatabaseError) {
        try checkOpen()
        let b = crdb_batch_create()
        defer { crdb_batch_destroy(b) }
        for op in batch.operations {
            op.key.withUnsafeBytes { k in
                if let value = op.value {
                    value.withUnsafeBytes { v in crdb_batch_put(b, op.cf.rawValue, k.baseAddress, k.count, v.baseAddress, v.count) }
                } else {
                    crdb_batch_delete(b, op.cf.rawValue, k.baseAddress, k.count)
                }
            }
        }
        var err: UnsafeMutablePointer<CChar>?
        guard crdb_db_write(handle, b, sync ? 1 : 0, &err) == 1 else { throw .write(path: path, reason: takeRocksDBError(err)) }
    }

    /// Ingests SST files into their column families, atomically: after a crash every file is in
    /// the DB or none is. With `move`, the files are hard-linked into the DB and disappear from
    /// their old place, as TiKV's ingest does. RocksDB never writes into an ingested file.
    public func ingest(_ files: [(cf: ColumnFamily, path: String)], move: Bool = true) throws(DatabaseError) {
        try checkOpen()
        var err: UnsafeMutablePointer<CChar>?
        var cStrings = files.map { strdup($0.path) }
        defer { cStrings.forEach { free($0) } }
        let cfs = files.map { Int32($0.cf.rawValue) }
        let ok = cStrings.withUnsafeMutableBufferPointer { buffer in
            buffer.baseAddress!.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: buffer.count) { paths in
                crdb_db_ingest(handle, cfs, paths, files.count, move ? 1 : 0, &err)
            }
        }
        guard ok == 1 else { throw .ingest(path: path, files: files.map(\.path), reason: takeRocksDBError(err)) }
    }

    /// Deletes every key of `cf` in [begin, end).
    public func deleteRange(_ begin: [UInt8], _ end: [UInt8], cf: ColumnFamily) throws(DatabaseError) {
        try checkOpen()
        var err: UnsafeMutablePointer<CChar>?
        let ok = begin.withUnsafeBytes { b in
            end.withUnsafeBytes { e in crdb_db_delete_range(handle, cf.rawValue, b.baseAddress, b.count, e.baseAddress, e.count, &err) }
        }
        guard ok == 1 else { throw .write(path: path, reason: takeRocksDBError(err)) }
    }

    /// Compacts the keys of `cf` in [begin, end] (RocksDB includes the end) into as few files as they need.
    public func compactRange(_ begin: [UInt8], _ end: [UInt8], cf: ColumnFamily) throws(DatabaseError) {
        try checkOpen()
        var err: UnsafeMutablePointer<CChar>?
        let ok = begin.withUnsafeBytes { b in
            end.withUnsafeBytes { e in crdb_db_compact_range(handle, cf.rawValue, b.baseAddress, b.count, e.baseAddress, e.count, &err) }
        }
        guard ok == 1 else { throw .write(path: path, reason: takeRocksDBError(err)) }
    }

    public func flush() throws(DatabaseError) {
        try checkOpen()
        var err: UnsafeMutablePointer<CChar>?
        guard crdb_db_flush(handle, &err) == 1 else { throw .write(path: path, reason: takeRocksDBError(err)) }
    }

    /// A cursor over `cf`, unpositioned until its first seek.
    public func makeCursor(cf: ColumnFamily) throws(DatabaseError) -> DatabaseCursor {
        try checkOpen()
        return DatabaseCursor(database: self, iterator: RocksIterator(crdb_db_iter(handle, cf.rawValue)!))
    }

    /// The last key of `cf` below `end`, or nil when there is none: one seek, however much lies
    /// before it.
    public func lastKey(cf: ColumnFamily, before end: [UInt8]) throws(DatabaseError) -> [UInt8]? {
        try checkOpen()
        let it = RocksIterator(crdb_db_iter(handle, cf.rawValue)!)
        end.withUnsafeBytes { it.seek($0) }
        // Invalid past the last key, or on an error: only the first goes on from the end.
        if let reason = it.failure { throw .read(path: path, reason: reason) }
        if it.isValid { it.prev() } else { it.seekToLast() }
        if let reason = it.failure { throw .read(path: path, reason: reason) }
        return it.isValid ? Array(it.key) : nil
    }

    /// Calls `body` for each entry of `cf` from `start`, in order; `body` returns false to stop.
    public func scan(
        cf: ColumnFamily, from start: [UInt8] = [],
        _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Bool
    ) throws {
        try checkOpen()
        let it = RocksIterator(crdb_db_iter(handle, cf.rawValue)!)
        start.withUnsafeBytes { it.seek($0) }
        while it.isValid {
            guard try body(it.key, it.value) else { break }
            it.next()
        }
        if let reason = it.failure { throw DatabaseError.read(path: path, reason: reason) }
    }
}

/// A position in one column family of a database, for readers that move mostly forward and look
/// entries up as they go (cheaper than a point read per key).
public final class DatabaseCursor {
    private let database: RocksDatabase  // keeps the database open while the cursor lives
    private let iterator: RocksIterator

    init(database: RocksDatabase, iterator: RocksIterator) {
        self.database = database
        self.iterator = iterator
    }

    /// Calls `body` with the value at exactly `key` (valid during the call) and returns true, or
    /// returns false. Lookups in ascending order cost a step each: the cursor tries the next entry
    /// before it seeks.
    public func withValue(at key: [UInt8], _ body: (UnsafeRawBufferPointer) throws -> Void) throws -> Bool {
        let found = key.withUnsafeBytes { key in
            if iterator.isValid, compareKeys(iterator.key, key) < 0 {
                iterator.next()
                if iterator.isValid, compareKeys(iterator.key, key) == 0 { return true }
            }
            iterator.seek(key)
            return iterator.isValid && compareKeys(iterator.key, key) == 0
        }
        if let reason = iterator.failure { throw DatabaseError.read(path: database.path, reason: reason) }
        if found { try body(iterator.value) }
        return found
    }
}

/// Puts and deletes to apply together.
public struct WriteBatch: Sendable {
    struct Operation: Sendable {
        var cf: ColumnFamily
        var key: [UInt8]
        var value: [UInt8]?
    }

    var operations: [Operation] = []

    public init() {}

    public mutating func put(_ key: [UInt8], _ value: [UInt8], cf: ColumnFamily = .default) {
        operations.append(Operation(cf: cf, key: key, value: value))
    }

    public mutating func delete(_ key: [UInt8], cf: ColumnFamily = .default) {
        operations.append(Operation(cf: cf, key: key, value: nil))
    }

    /// Adds `other`'s operations after these.
    public mutating func append(_ other: WriteBatch) {
        operations += other.operations
    }
}

public enum DatabaseError: Error, Equatable, Sendable, CustomStringConvertible {
    case open(path: String, reason: String)
    case read(path: String, reason: String)
    case write(path: String, reason: String)
    case ingest(path: String, files: [String], reason: String)
    case closed(path: String)

    public var description: String {
        switch self {
        case let .open(path, reason): "cannot open RocksDB at \(path): \(reason)"
        case let .read(path, reason): "cannot read RocksDB at \(path): \(reason)"
        case let .write(path, reason): "cannot write RocksDB at \(path): \(reason)"
        case let .ingest(path, files, reason): "cannot ingest \(files.joined(separator: ", ")) into \(path): \(reason)"
        case let .closed(path): "RocksDB at \(path) is closed"
        }
    }
}
