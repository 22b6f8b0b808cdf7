import CRocksDB

/// Writes an SST file. Keys must come in strictly increasing bytewise order; `finish` seals the file.
/// Not thread-safe: one writer belongs to one task.
public final class SSTWriter {
    public let path: String
    // No access to these overlaps another (a put calls nothing that comes back to the writer), so
    // the run-time exclusivity checks, three a key on a class's stored properties, are left out.
    @exclusivity(unchecked) private var handle: OpaquePointer?
    @exclusivity(unchecked) public private(set) var entryCount: UInt64 = 0
    /// The checksum of every entry written, kept only when `tracksChecksum` (it costs a CRC per entry).
    @exclusivity(unchecked) public private(set) var checksum = KVChecksum()
    public let tracksChecksum: Bool

    public init(path: String, tracksChecksum: Bool = false) throws(SSTError) {
        self.path = path
        self.tracksChecksum = tracksChecksum
        var err: UnsafeMutablePointer<CChar>?
        guard let h = crdb_sst_writer_open(path, &err) else {
            throw .cannotCreate(path: path, reason: takeRocksDBError(err))
        }
        handle = h
    }

    /// Table options other than the defaults, for tests of the readers: RocksDB's format_version,
    /// ChecksumType and CompressionType numbers, and the data block size.
    struct TableOptions {
        var formatVersion: Int32
        var checksum: Int32
        var compression: Int32
        var blockSize: Int
    }

    init(path: String, options: TableOptions) throws(SSTError) {
        self.path = path
        tracksChecksum = false
        var err: UnsafeMutablePointer<CChar>?
        guard let h = crdb_sst_writer_open_with(path, options.formatVersion, options.checksum, options.compression, options.blockSize, &err) else {
            throw .cannotCreate(path: path, reason: takeRocksDBError(err))
        }
        handle = h
    }

    deinit {
        if let handle { crdb_sst_writer_destroy(handle) }
    }

    public func put(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) throws(SSTError) {
        guard let handle else { throw .alreadyFinished(path: path) }
        var err: UnsafeMutablePointer<CChar>?
        // The shim checks the order (with the last key in C++, so no copy per entry here).
        switch crdb_sst_writer_put(handle, key.baseAddress, key.count, value.baseAddress, value.count, &err) {
        case 1: break
        case 2: throw .outOfOrder(path: path, previous: lastKey ?? [], key: Array(key))
        default: throw .writeFailed(path: path, reason: takeRocksDBError(err))
        }
        if tracksChecksum { checksum.add(key: key, value: value) }
        entryCount += 1
    }

    public func put(key: [UInt8], value: [UInt8]) throws(SSTError) {
        let result = key.withUnsafeBytes { k in
            value.withUnsafeBytes { v in Result { () throws(SSTError) in try put(key: k, value: v) } }
        }
        try result.get()
    }

    /// The last key put, once there is one (until `finish`).
    public var lastKey: [UInt8]? {
        guard let handle else { return nil }
        var n = 0
        guard let p = crdb_sst_writer_last_key(handle, &n) else { return nil }
        return Array(UnsafeRawBufferPointer(start: p, count: n))
    }

    /// Bytes written so far (an estimate until `finish`).
    public var fileSize: UInt64 { handle.map { crdb_sst_writer_file_size($0) } ?? 0 }

    /// Seals the file and returns its size. A writer with no entries cannot be finished (RocksDB
    /// refuses empty SSTs); check `entryCount` first.
    @discardableResult
    public func finish() throws(SSTError) -> UInt64 {
        guard let handle else { throw .alreadyFinished(path: path) }
        defer {
            crdb_sst_writer_destroy(handle)
            self.handle = nil
        }
        var size: UInt64 = 0
        var err: UnsafeMutablePointer<CChar>?
        guard crdb_sst_writer_finish(handle, &size, &err) == 1 else {
            throw .writeFailed(path: path, reason: takeRocksDBError(err))
        }
        return size
    }
}
