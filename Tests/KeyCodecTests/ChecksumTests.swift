import Testing
@testable import TestSupport
@testable import KeyCodec

@Suite struct ChecksumTests {
    /// CRC-64/XZ check value, which Go's crc64.ECMA table gives too.
    @Test func crc64CheckValue() {
        #expect(CRC64.checksum(bytes("123456789")) == 0x995D_C9BB_DF19_39FA)
        #expect(CRC64.checksum([UInt8]()) == 0)
    }

    /// Against CRC-64/XZ bit by bit (reflected ECMA-182 polynomial, all ones in and out), over
    /// random lengths and updates cut anywhere.
    @Test func crc64MatchesTheBitwiseDefinition() {
        func bitwise(_ data: [UInt8]) -> UInt64 {
            var crc = ~UInt64(0)
            for byte in data {
                crc ^= UInt64(byte)
                for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xC96C_5795_D787_0F42 : crc >> 1 }
            }
            return ~crc
        }
        var random = SystemRandomNumberGenerator()
        for length in [1, 2, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 255, 256, 1000, 4096 + 3] {
            let data = (0..<length).map { _ in UInt8.random(in: 0...255, using: &random) }
            #expect(CRC64.checksum(data) == bitwise(data), "length \(length)")
            let cut = Int.random(in: 0...length, using: &random)
            var crc = CRC64()
            crc.update(Array(data[..<cut]))
            crc.update(Array(data[cut...]))
            #expect(crc.value == bitwise(data), "length \(length) cut at \(cut)")
        }
    }

    @Test func incrementalUpdateEqualsOneShot() {
        let data = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        for cut in [0, 1, 7, 8, 9, 500, 999, 1000] {
            var crc = CRC64()
            crc.update(Array(data[..<cut]))
            crc.update(Array(data[cut...]))
            #expect(crc.value == CRC64.checksum(data))
        }
    }

    @Test func kvChecksumIsXorOfPairCRCs() {
        var sum = KVChecksum()
        sum.add(key: bytes("k1"), value: bytes("v1"))
        sum.add(key: bytes("k2"), value: bytes("value2"))
        #expect(sum.crc64xor == CRC64.checksum(bytes("k1v1")) ^ CRC64.checksum(bytes("k2value2")))
        #expect(sum.totalKVs == 2)
        #expect(sum.totalBytes == 12)

        var a = KVChecksum(), b = KVChecksum()
        a.add(key: bytes("k1"), value: bytes("v1"))
        b.add(key: bytes("k2"), value: bytes("value2"))
        a.merge(b)
        #expect(a == sum)
    }
}
