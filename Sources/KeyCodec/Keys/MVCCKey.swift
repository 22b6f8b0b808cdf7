/// A transactional key as TiKV stores it: `memcomparable(user key) + BE(!ts)`.
public struct MVCCKey: Equatable, Sendable {
    public var userKey: [UInt8]
    public var timestamp: UInt64

    public init(userKey: [UInt8], timestamp: UInt64) {
        self.userKey = userKey
        self.timestamp = timestamp
    }

    public var encoded: [UInt8] {
        var out = Memcomparable.encode(userKey)
        DescendingTimestamp.append(timestamp, to: &out)
        return out
    }

    /// Decodes `memcomparable(key) + ts` and requires nothing else after it.
    public init(decoding encoded: some Collection<UInt8>) throws(KeyCodecError) {
        let bytes = Array(encoded)
        let (key, consumed) = try Memcomparable.decode(bytes)
        guard bytes.count - consumed == DescendingTimestamp.length else {
            throw .tooShort(expected: consumed + DescendingTimestamp.length, actual: bytes.count, key: bytes)
        }
        self.userKey = key
        self.timestamp = try DescendingTimestamp.decodeSuffix(bytes)
    }
}
