import Testing
@testable import TestSupport
@testable import KeyCodec

@Suite struct ChecksumTests {
    /// CRC-64/XZ check value, which Go's crc64.ECMA table gives too.
    @Test func crc64CheckValue() {
        #expect(CRC64.checksum(bytes("123456789")) == 0x995D_C9BB_DF19_39FA)
        #expect(CRC64.checksum([UInt8]()) == 0)
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
