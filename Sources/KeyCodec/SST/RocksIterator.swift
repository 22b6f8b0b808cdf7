import CRocksDB

/// One iterator of the RocksDB shim, over an SST file or a database's column family; it owns the
/// handle. The key and value buffers are valid until the next move. Callers keep what the iterator
/// reads from (the file or the database) alive, and turn `failure` into their own error.
package final class RocksIterator {
    private let handle: OpaquePointer

    package init(_ handle: OpaquePointer) { self.handle = handle }

    deinit { crdb_iter_destroy(handle) }

    package var isValid: Bool { crdb_iter_valid(handle) == 1 }

    package var key: UnsafeRawBufferPointer {
        var n = 0
        return UnsafeRawBufferPointer(start: crdb_iter_key(handle, &n), count: n)
    }

    package var value: UnsafeRawBufferPointer {
        var n = 0
        return UnsafeRawBufferPointer(start: crdb_iter_value(handle, &n), count: n)
    }

    package func seek(_ key: UnsafeRawBufferPointer) { crdb_iter_seek(handle, key.baseAddress, key.count) }
    package func seekToFirst() { crdb_iter_seek_to_first(handle) }
    package func seekToLast() { crdb_iter_seek_to_last(handle) }
    package func next() { crdb_iter_next(handle) }
    package func prev() { crdb_iter_prev(handle) }

    /// The error the iterator stopped on (a corrupt block, an I/O error), if any. A RocksDB
    /// iterator is never valid with an error (`Valid()`: "always returns false if !status().ok()",
    /// rocksdb/iterator.h), so a valid one has none and its status is not copied for each key.
    package var failure: String? {
        guard !isValid else { return nil }
        var err: UnsafeMutablePointer<CChar>?
        return crdb_iter_check(handle, &err) == 1 ? nil : takeRocksDBError(err)
    }
}
