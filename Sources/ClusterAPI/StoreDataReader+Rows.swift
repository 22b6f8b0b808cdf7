import KeyCodec

extension StoreDataReader {
    /// Calls `body` with each pair of a transactional store visible at `readTS` whose encoded key
    /// lies in [`start`, `end`) (region bounds: encoded, without `z`; an empty end is unbounded), as
    /// (user key, value), in key order: a key's newest write at or below `readTS`, when it is a put;
    /// a delete hides the key, and locks and rollbacks pass to the write below them (TiKV's
    /// snapshot read, tikv src/storage/mvcc/reader/point_getter.rs and scanner/forward.rs). The
    /// value is valid only during the call.
    public func forEachVisibleRow(from start: [UInt8], to end: [UInt8], readAt readTS: UInt64, _ body: ([UInt8], UnsafeRawBufferPointer) throws -> Void) throws {
        let dataEnd = end.isEmpty ? [DataKey.prefix + 1] : DataKey.make(end)
        let values = try makeCursor(cf: .default)
        // Buffers reused from row to row: the user key being read, the one whose visible write is
        // found (or hidden by a delete; its older versions pass), and the default CF's key.
        var userKey: [UInt8] = [], settled: [UInt8] = [], defaultKey: [UInt8] = []
        var hasSettled = false
        try scan(cf: .write, from: DataKey.make(start)) { key, value in
            guard compareKeys(key, dataEnd) < 0 else { return false }
            let ts = try MVCCKey.decode(UnsafeRawBufferPointer(rebasing: key.dropFirst()), userKey: &userKey)
            if ts > readTS || (hasSettled && userKey == settled) { return true }
            let (record, short) = try WriteRecord.decodeInPlace(value)
            guard record.kind == .put || record.kind == .delete else { return true }  // locks and rollbacks pass
            swap(&userKey, &settled)
            hasSettled = true
            guard record.kind == .put else { return true }
            if let short {
                try body(settled, UnsafeRawBufferPointer(rebasing: value[short]))
            } else {
                // The write key's `z` and encoded user key, then the start_ts: no encode again.
                defaultKey.removeAll(keepingCapacity: true)
                defaultKey.append(contentsOf: key.dropLast(DescendingTimestamp.length))
                DescendingTimestamp.append(record.startTS, to: &defaultKey)
                guard try values.withValue(at: defaultKey, { try body(settled, $0) }) else { throw MissingValue(key: settled, startTS: record.startTS) }
            }
            return true
        }
    }

    /// Calls `body` with each pair of a raw store whose key lies in [`start`, `end`); the value is
    /// valid only during the call.
    public func forEachRawPair(from start: [UInt8], to end: [UInt8], _ body: ([UInt8], UnsafeRawBufferPointer) throws -> Void) throws {
        let dataEnd = end.isEmpty ? [DataKey.prefix + 1] : DataKey.make(end)
        try scan(cf: .default, from: DataKey.make(start)) { key, value in
            guard compareKeys(key, dataEnd) < 0 else { return false }
            try body(Array(key.dropFirst()), value)
            return true
        }
    }
}

/// A write record whose value should be in the default column family and is not.
public struct MissingValue: Error, CustomStringConvertible {
    public var key: [UInt8]
    public var startTS: UInt64

    public var description: String { "key \(KeyDescription(key).summary) has no value at start_ts \(startTS) in the default CF" }
}
