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
        var key: [UInt8] = []
        self.timestamp = try withRawBytes(encoded) { (raw) throws(KeyCodecError) in try Self.decode(raw, userKey: &key) }
        self.userKey = key
    }

    /// Decodes `memcomparable(key) + ts` from `encoded` into `userKey` (its storage reused, for a
    /// scan that decodes a key per row) and returns the timestamp.
    public static func decode(_ encoded: UnsafeRawBufferPointer, userKey: inout [UInt8]) throws(KeyCodecError) -> UInt64 {
        let consumed = try Memcomparable.decode(encoded, into: &userKey)
        guard encoded.count - consumed == DescendingTimestamp.length else {
            throw .tooShort(expected: consumed + DescendingTimestamp.length, actual: encoded.count, key: Array(encoded))
        }
        return ~UInt64(bigEndian: encoded.loadUnaligned(fromByteOffset: consumed, as: UInt64.self))
    }
}
