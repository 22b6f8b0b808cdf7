import Foundation

/// One prefix rewrite, as in `import_sstpb.RewriteRule`: keys that start with `oldPrefix` get
/// `newPrefix` instead. An empty old prefix inserts `newPrefix` before every key. A non-zero
/// `newTimestamp` also replaces the timestamp of transactional keys and write records.
public struct RewriteRule: Hashable, Sendable, CustomStringConvertible {
    public var oldPrefix: [UInt8]
    public var newPrefix: [UInt8]
    public var newTimestamp: UInt64

    public init(oldPrefix: [UInt8], newPrefix: [UInt8], newTimestamp: UInt64 = 0) {
        self.oldPrefix = oldPrefix
        self.newPrefix = newPrefix
        self.newTimestamp = newTimestamp
    }

    /// `t{old}_` -> `t{new}_`, which moves a table's rows and indexes to a new table id.
    public static func table(from oldID: Int64, to newID: Int64, newTimestamp: UInt64 = 0) -> RewriteRule {
        RewriteRule(
            oldPrefix: TableCodec.tablePrefix(oldID) + [UInt8(ascii: "_")],
            newPrefix: TableCodec.tablePrefix(newID) + [UInt8(ascii: "_")],
            newTimestamp: newTimestamp)
    }

    /// The same rule with both prefixes in BR's encoded-prefix form, for swapping prefixes directly
    /// on memcomparable-encoded keys (the legacy rewrite mode).
    public var encoded: RewriteRule {
        RewriteRule(
            oldPrefix: Memcomparable.encodePrefix(oldPrefix),
            newPrefix: Memcomparable.encodePrefix(newPrefix),
            newTimestamp: newTimestamp)
    }

    public func matches(_ key: some Collection<UInt8>) -> Bool {
        Self.key(key, startsWith: oldPrefix)
    }

    /// True when `key` was rewritten by this rule's prefix (it starts with the new prefix).
    public func produced(_ key: some Collection<UInt8>) -> Bool {
        Self.key(key, startsWith: newPrefix)
    }

    private static func key(_ key: some Collection<UInt8>, startsWith prefix: [UInt8]) -> Bool {
        // Keys are nearly always contiguous bytes: compare them with memcmp, not element by element.
        let contiguous = key.withContiguousStorageIfAvailable { key in
            prefix.withUnsafeBufferPointer { prefix in
                key.count >= prefix.count && (prefix.isEmpty || memcmp(key.baseAddress!, prefix.baseAddress!, prefix.count) == 0)
            }
        }
        return contiguous ?? key.starts(with: prefix)
    }

    /// `key` with its old prefix replaced. The caller has checked that the rule matches.
    public func apply(to key: some Collection<UInt8>) -> [UInt8] {
        var out = newPrefix
        out.append(contentsOf: key.dropFirst(oldPrefix.count))
        return out
    }

    /// The old-key range whose rewritten keys fall in `newRange`, or nil when none can.
    /// A store uses this to find which part of a backup file belongs to a region.
    public func oldRange(for newRange: KeyRange) -> KeyRange? {
        let start: [UInt8]
        if newRange.start.starts(with: newPrefix) {
            start = oldPrefix + newRange.start.dropFirst(newPrefix.count)
        } else if keyLess(newRange.start, newPrefix) {
            start = oldPrefix
        } else {
            return nil  // the range starts after every key with the new prefix
        }
        var result = KeyRange(start: start, end: Self.prefixEnd(oldPrefix))
        if !newRange.end.isEmpty {
            if newRange.end.starts(with: newPrefix) {
                result.end = oldPrefix + newRange.end.dropFirst(newPrefix.count)
                result.endInclusive = newRange.endInclusive
            } else if keyLess(newRange.end, newPrefix) {
                return nil  // the range ends before every key with the new prefix
            }
        }
        return result.isEmpty ? nil : result
    }

    /// The smallest key greater than every key that starts with `prefix`; empty (unbounded) when
    /// there is none, as for an empty prefix or one of only 0xFF bytes.
    public static func prefixEnd(_ prefix: [UInt8]) -> [UInt8] {
        var end = prefix
        while let last = end.last {
            if last < 0xFF {
                end[end.count - 1] = last + 1
                return end
            }
            end.removeLast()
        }
        return []
    }

    public var description: String {
        let ts = newTimestamp == 0 ? "" : " @\(newTimestamp)"
        return "\(oldPrefix.isEmpty ? "(empty)" : oldPrefix.hexString) -> \(newPrefix.hexString)\(ts)"
    }
}
