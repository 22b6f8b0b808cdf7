/// The checksum that TiKV's backup writes for each file and BR checks after a restore: the xor of
/// `crc64(key ‖ value)` over all pairs, with the count of pairs and their key plus value bytes.
public struct KVChecksum: Equatable, Hashable, Sendable, Codable, CustomStringConvertible {
    public var crc64xor: UInt64
    public var totalKVs: UInt64
    public var totalBytes: UInt64

    public init(crc64xor: UInt64 = 0, totalKVs: UInt64 = 0, totalBytes: UInt64 = 0) {
        self.crc64xor = crc64xor
        self.totalKVs = totalKVs
        self.totalBytes = totalBytes
    }

    public mutating func add(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        var crc = CRC64()
        crc.update(key)
        crc.update(value)
        crc64xor ^= crc.value
        totalKVs += 1
        totalBytes += UInt64(key.count + value.count)
    }

    public mutating func add(key: [UInt8], value: [UInt8]) {
        key.withUnsafeBytes { k in value.withUnsafeBytes { v in add(key: k, value: v) } }
    }

    /// Combines the checksums of two disjoint sets of pairs.
    public mutating func merge(_ other: KVChecksum) {
        crc64xor ^= other.crc64xor
        totalKVs += other.totalKVs
        totalBytes += other.totalBytes
    }

    public func merging(_ other: KVChecksum) -> KVChecksum {
        var sum = self
        sum.merge(other)
        return sum
    }

    public var description: String {
        "crc64xor=\(crc64xor) kvs=\(totalKVs) bytes=\(totalBytes)"
    }
}
