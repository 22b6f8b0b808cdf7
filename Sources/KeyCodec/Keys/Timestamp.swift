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
}
