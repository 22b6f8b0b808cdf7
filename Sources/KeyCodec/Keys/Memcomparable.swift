/// TiKV's memcomparable encoding of byte strings: the key is cut into 8-byte groups, each followed by
/// a marker `0xFF - padding`, and the last group is padded with zeros. Encoded keys sort as the
/// originals do, and no encoded key is a prefix of another.
public enum Memcomparable {
    @usableFromInline static let groupSize = 8
    @usableFromInline static let marker: UInt8 = 0xFF
    @usableFromInline static let pad: UInt8 = 0

    /// Length of `encode` for an input of `count` bytes.
    @inlinable public static func encodedLength(_ count: Int) -> Int { (count / groupSize + 1) * (groupSize + 1) }

    public static func encode(_ key: some Collection<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        encode(key, into: &out)
        return out
    }

    /// Inlinable so that a caller's concrete collection is specialized: a scan encodes a key per row.
    @inlinable public static func encode(_ key: some Collection<UInt8>, into out: inout [UInt8]) {
        out.reserveCapacity(out.count + encodedLength(key.count))
        var index = key.startIndex
        var remaining = key.count
        while true {
            let take = min(remaining, groupSize)
            for _ in 0..<take {
                out.append(key[index])
                index = key.index(after: index)
            }
            remaining -= take
            let padding = groupSize - take
            if padding > 0 { out.append(contentsOf: repeatElement(pad, count: padding)) }
            out.append(marker - UInt8(padding))
            if padding > 0 { return }
        }
    }

    /// Decodes one encoded key from the start of `data`. Returns the key and how many bytes it used,
    /// so a caller can read a suffix (such as a timestamp) after it.
    public static func decode(_ data: some Collection<UInt8>) throws(KeyCodecError) -> (key: [UInt8], consumed: Int) {
        var key: [UInt8] = []
        let consumed = try withRawBytes(data) { (raw) throws(KeyCodecError) in try decode(raw, into: &key) }
        return (key, consumed)
    }

    /// Decodes one encoded key from the start of `bytes` into `key`, whose contents it replaces and
    /// whose storage it reuses (a scan decodes a key per row). Returns how many bytes it used.
    public static func decode(_ bytes: UnsafeRawBufferPointer, into key: inout [UInt8]) throws(KeyCodecError) -> Int {
        key.removeAll(keepingCapacity: true)
        key.reserveCapacity(bytes.count)
        var offset = 0
        while true {
            guard offset + groupSize + 1 <= bytes.count else {
                throw .truncatedGroup(offset: offset, key: Array(bytes))
            }
            let m = bytes[offset + groupSize]
            guard m >= marker - UInt8(groupSize) else {
                throw .invalidMarker(offset: offset + groupSize, marker: m, key: Array(bytes))
            }
            let padding = Int(marker - m)
            let real = groupSize - padding
            key.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + real)]))
            if padding > 0 {
                for i in (offset + real)..<(offset + groupSize) where bytes[i] != pad {
                    throw .nonZeroPadding(offset: offset, key: Array(bytes))
                }
                return offset + groupSize + 1
            }
            offset += groupSize + 1
        }
    }

    /// Decodes `data` that must hold exactly one encoded key and nothing after it.
    public static func decodeAll(_ data: some Collection<UInt8>) throws(KeyCodecError) -> [UInt8] {
        let (key, consumed) = try decode(data)
        guard consumed == data.count else {
            throw .trailingBytes(offset: consumed, key: Array(data))
        }
        return key
    }

    /// BR's `EncodeKeyPrefix`: a prefix of a user key in encoded form. The whole 8-byte groups are
    /// encoded with their markers and the trailing partial group stays raw, so that every encoded key
    /// whose user key starts with `prefix` starts with the result.
    public static func encodePrefix(_ prefix: some Collection<UInt8>) -> [UInt8] {
        let bytes = Array(prefix)
        let whole = bytes.count - bytes.count % groupSize
        var out = encode(bytes[..<whole])
        out.removeLast(groupSize + 1)  // the pad group that `encode` adds after whole groups
        out.append(contentsOf: bytes[whole...])
        return out
    }
}
