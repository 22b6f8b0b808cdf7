/// Rewrites the data keys of a backup SST (`z` + key) by a rule set, the way a store's importer does.
public struct KeyRewriter: Sendable {
    /// How rules meet keys.
    public enum Mode: String, Sendable, CaseIterable {
        /// Rules hold encoded prefixes (BR's `EncodeKeyPrefix`); they are matched on the encoded key.
        case legacy
        /// The key is decoded, the rule matched on the raw user key, and the result encoded again.
        case keyspace
    }

    /// What the keys after `z` are.
    public enum KeyFormat: String, Sendable {
        /// `memcomparable(user key) + BE(!ts)`.
        case transactional
        /// Raw keys (API v1): no encoding, no timestamp.
        case raw
    }

    public let rules: RewriteRules
    public let mode: Mode
    public let format: KeyFormat
    private var lastRule: Int?

    public init(rules: RewriteRules, mode: Mode, format: KeyFormat) throws(RewriteError) {
        if format == .raw, let rule = rules.rules.first(where: { $0.newTimestamp != 0 }) {
            throw .timestampOnRawKeys(rule)
        }
        self.rules = rules.unshared()
        self.mode = mode
        self.format = format
    }

    /// Rewrites one data key into `out` (cleared first) and returns the new timestamp of the rule
    /// that was used (0: the key's own is kept). Not the rule itself: copying it for every key
    /// would cost two reference counts on the hot path.
    @discardableResult
    public mutating func rewrite(dataKey: UnsafeRawBufferPointer, into out: inout [UInt8]) throws(RewriteError) -> UInt64 {
        let key = UnsafeRawBufferPointer(rebasing: dataKey.dropFirst())
        guard dataKey.first == DataKey.prefix else {
            throw .malformedKey(.missingDataPrefix(key: Array(dataKey)))
        }
        out.removeAll(keepingCapacity: true)
        out.append(DataKey.prefix)
        if format == .raw || mode == .legacy {
            return try spliceEncoded(key, into: &out)
        }
        return try rewriteDecoded(key, into: &out)
    }

    public mutating func rewrite(dataKey: [UInt8]) throws(RewriteError) -> [UInt8] {
        var out: [UInt8] = []
        var rewriter = self
        let result = dataKey.withUnsafeBytes { raw in
            Result { () throws(RewriteError) in try rewriter.rewrite(dataKey: raw, into: &out) }
        }
        _ = try result.get()
        self = rewriter
        return out
    }

    private mutating func findRule(_ key: UnsafeRawBufferPointer) throws(RewriteError) -> Int {
        guard let index = rules.ruleIndex(for: key, hint: lastRule) else { throw .wrongKeyPrefix(key: Array(key)) }
        lastRule = index
        return index
    }

    /// Legacy and raw: the old prefix is swapped on the bytes as they are.
    private mutating func spliceEncoded(_ key: UnsafeRawBufferPointer, into out: inout [UInt8]) throws(RewriteError) -> UInt64 {
        let index = try findRule(key)
        let oldLength = rules.rules[index].oldPrefix.count, newTimestamp = rules.rules[index].newTimestamp
        out.append(contentsOf: rules.rules[index].newPrefix)
        if newTimestamp != 0 {
            let tsLength = DescendingTimestamp.length
            guard key.count >= oldLength + tsLength else {
                throw .malformedKey(.tooShort(expected: oldLength + tsLength, actual: key.count, key: Array(key)))
            }
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: key[oldLength..<(key.count - tsLength)]))
            DescendingTimestamp.append(newTimestamp, to: &out)
        } else {
            // Rebased, not a slice: a slice is appended a byte at a time.
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: key[oldLength...]))
        }
        return newTimestamp
    }

    /// Keyspace: decode, rewrite the user key, encode again, keep or replace the timestamp.
    private mutating func rewriteDecoded(_ key: UnsafeRawBufferPointer, into out: inout [UInt8]) throws(RewriteError) -> UInt64 {
        let tsLength = DescendingTimestamp.length
        guard key.count >= tsLength else {
            throw .malformedKey(.tooShort(expected: tsLength, actual: key.count, key: Array(key)))
        }
        let userKey: [UInt8]
        do {
            userKey = try Memcomparable.decodeAll(key[..<(key.count - tsLength)])
        } catch {
            throw .malformedKey(error)
        }
        var rewriter = self
        let found = Result { () throws(RewriteError) in try withRawBytes(userKey) { (raw) throws(RewriteError) in try rewriter.findRule(raw) } }
        lastRule = rewriter.lastRule
        let rule = rules.rules[try found.get()]
        Memcomparable.encode(rule.newPrefix + userKey.dropFirst(rule.oldPrefix.count), into: &out)
        if rule.newTimestamp != 0 {
            DescendingTimestamp.append(rule.newTimestamp, to: &out)
        } else {
            out.append(contentsOf: key[(key.count - tsLength)...])
        }
        return rule.newTimestamp
    }
}
