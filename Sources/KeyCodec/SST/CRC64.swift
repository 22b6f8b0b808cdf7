import Foundation

/// CRC-64/XZ, which is Go's `crc64.Checksum(data, crc64.MakeTable(crc64.ECMA))`, the checksum that
/// TiKV's backup and BR use. Slicing-by-8 keeps it near memory speed.
public struct CRC64: Sendable {
    static let polynomial: UInt64 = 0xC96C_5795_D787_0F42

    /// The eight slicing tables, one after another (`table[t * 256 + byte]`). A pointer, not an
    /// array: every store's threads read it for every pair, and an array's reference count would
    /// be an atomic write to one shared cache line at each call.
    nonisolated(unsafe) static let tables: UnsafePointer<UInt64> = {
        // Safe to share: written once here, before any reader can see it, and never again.
        let t = UnsafeMutablePointer<UInt64>.allocate(capacity: 8 * 256)
        for i in 0..<256 {
            var crc = UInt64(i)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ polynomial : crc >> 1 }
            t[i] = crc
        }
        for table in 1..<8 {
            for i in 0..<256 {
                let previous = t[(table - 1) * 256 + i]
                t[table * 256 + i] = (previous >> 8) ^ t[Int(previous & 0xFF)]
            }
        }
        return UnsafePointer(t)
    }()

    private var state: UInt64 = ~0

    public init() {}

    public var value: UInt64 { ~state }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        var crc = state
        let t = Self.tables
        var i = 0
        let n = bytes.count
        while n - i >= 8 {
            let word = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self)) ^ crc
            crc = t[7 * 256 + Int(word & 0xFF)] ^ t[6 * 256 + Int((word >> 8) & 0xFF)]
                ^ t[5 * 256 + Int((word >> 16) & 0xFF)] ^ t[4 * 256 + Int((word >> 24) & 0xFF)]
                ^ t[3 * 256 + Int((word >> 32) & 0xFF)] ^ t[2 * 256 + Int((word >> 40) & 0xFF)]
                ^ t[256 + Int((word >> 48) & 0xFF)] ^ t[Int(word >> 56)]
            i += 8
        }
        while i < n {
            crc = t[Int((crc ^ UInt64(bytes[i])) & 0xFF)] ^ (crc >> 8)
            i += 1
        }
        state = crc
    }

    public mutating func update(_ bytes: some ContiguousBytes) {
        bytes.withUnsafeBytes { update($0) }
    }

    public static func checksum(_ bytes: some ContiguousBytes) -> UInt64 {
        var crc = CRC64()
        crc.update(bytes)
        return crc.value
    }
}
