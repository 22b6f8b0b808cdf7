/// A TSO timestamp, as TiKV writes it in keys: big-endian and bit-inverted, so newer versions sort first.
public enum DescendingTimestamp {
    public static let length = 8

    public static func encode(_ ts: UInt64) -> [UInt8] {
        var out: [UInt8] = []
        append(ts, to: &out)
        return out
    }

    public static func append(_ ts: UInt64, to out: inout [UInt8]) {
        withUnsafeBytes(of: (~ts).bigEndian) { out.append(contentsOf: $0) }
    }

    /// Reads the 8 bytes at the end of `data`.
    public static func decodeSuffix(_ data: some Collection<UInt8>) throws(KeyCodecError) -> UInt64 {
        guard data.count >= length else { throw .tooShort(expected: length, actual: data.count, key: Array(data)) }
        var v: UInt64 = 0
        for b in data.suffix(length) { v = v << 8 | UInt64(b) }
        return ~v
    }
}
