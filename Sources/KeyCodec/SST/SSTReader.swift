import CRocksDB

/// Reads an SST file: its entries in order, seeks, and block checksums. Corruption is an error that
/// names the file, never a crash. Not thread-safe: one reader belongs to one task.
public final class SSTReader {
    public let path: String
    private let handle: OpaquePointer

    public init(path: String) throws(SSTError) {
        self.path = path
        var err: UnsafeMutablePointer<CChar>?
        handle = try Self.opened(crdb_sst_reader_open(path, &err), err, path: path)
    }

    /// A reader over an SST held in memory (a small download): no file is created or read.
    /// `name` stands for the path in errors.
    public init(bytes: [UInt8], name: String) throws(SSTError) {
        path = name
        var err: UnsafeMutablePointer<CChar>?
        let h = bytes.withUnsafeBytes { crdb_sst_reader_open_memory($0.baseAddress, $0.count, &err) }
        handle = try Self.opened(h, err, path: name)
    }

    private static func opened(_ handle: OpaquePointer?, _ err: UnsafeMutablePointer<CChar>?, path: String) throws(SSTError) -> OpaquePointer {
        guard let handle else {
            let reason = takeRocksDBError(err)
            if reason.contains("Corruption") { throw .corrupt(path: path, reason: reason) }
            throw .cannotOpen(path: path, reason: reason)
        }
        return handle
    }

    deinit { crdb_sst_reader_destroy(handle) }

    /// True when the table was decoded whole in memory and is read without RocksDB (a small,
    /// plain table given as bytes).
    var isDecoded: Bool { crdb_sst_reader_is_decoded(handle) == 1 }

    /// Entries as recorded in the file's properties.
    public var entryCount: UInt64 { crdb_sst_reader_num_entries(handle) }

    /// Raw key plus value bytes, from the file's properties.
    public var dataSize: UInt64 { crdb_sst_reader_data_size(handle) }

    /// Reads every block and checks its checksum.
    public func verifyChecksums() throws(SSTError) {
        var err: UnsafeMutablePointer<CChar>?
        guard crdb_sst_reader_verify_checksums(handle, &err) == 1 else {
            throw .corrupt(path: path, reason: takeRocksDBError(err))
        }
    }

    public func makeCursor() -> SSTCursor { SSTCursor(reader: self, iterator: RocksIterator(crdb_sst_reader_iter(handle))) }

    public var firstKey: [UInt8]? {
        get throws(SSTError) {
            let cursor = makeCursor()
            try cursor.seekToFirst()
            return cursor.isValid ? cursor.key : nil
        }
    }

    public var lastKey: [UInt8]? {
        get throws(SSTError) {
            let cursor = makeCursor()
            try cursor.seekToLast()
            return cursor.isValid ? cursor.key : nil
        }
    }

    /// Calls `body` for each entry from `start` (or the first), without copying; the buffers are
    /// valid only during the call. `body` returns false to stop.
    public func scan(
        from start: [UInt8]? = nil,
        _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Bool
    ) throws {
        let cursor = makeCursor()
        if let start { try cursor.seek(start) } else { try cursor.seekToFirst() }
        while cursor.isValid {
            guard try body(cursor.keyBytes, cursor.valueBytes) else { return }
            try cursor.next()
        }
    }

    /// The checksum of every entry.
    public func checksum() throws -> KVChecksum {
        var sum = KVChecksum()
        try scan { key, value in
            sum.add(key: key, value: value)
            return true
        }
        return sum
    }
}

/// A position in an SST. Every move checks the iterator's status, so a corrupt block surfaces as an
/// error at the move that reached it.
public final class SSTCursor {
    private let reader: SSTReader  // keeps the file open while the cursor lives
    private let iterator: RocksIterator

    init(reader: SSTReader, iterator: RocksIterator) {
        self.reader = reader
        self.iterator = iterator
    }

    public var isValid: Bool { iterator.isValid }

    public func seekToFirst() throws(SSTError) {
        iterator.seekToFirst()
        try check()
    }

    public func seekToLast() throws(SSTError) {
        iterator.seekToLast()
        try check()
    }

    /// Moves to the first key at or after `key`.
    public func seek(_ key: [UInt8]) throws(SSTError) {
        key.withUnsafeBytes { iterator.seek($0) }
        try check()
    }

    public func next() throws(SSTError) {
        iterator.next()
        try check()
    }

    /// The current key, valid until the next move.
    public var keyBytes: UnsafeRawBufferPointer { iterator.key }

    /// The current value, valid until the next move.
    public var valueBytes: UnsafeRawBufferPointer { iterator.value }

    public var key: [UInt8] { Array(keyBytes) }
    public var value: [UInt8] { Array(valueBytes) }

    private func check() throws(SSTError) {
        if let reason = iterator.failure { throw .corrupt(path: reader.path, reason: reason) }
    }
}
