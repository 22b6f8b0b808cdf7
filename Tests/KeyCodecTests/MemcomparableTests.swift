import PropertyBased
import Testing
@testable import TestSupport
@testable import KeyCodec

@Suite struct MemcomparableTests {
    /// TiKV's own vectors (tikv_util codec::bytes tests).
    static let tikvVectors: [([UInt8], [UInt8])] = [
        ([], [0, 0, 0, 0, 0, 0, 0, 0, 247]),
        ([0], [0, 0, 0, 0, 0, 0, 0, 0, 248]),
        ([1, 2, 3], [1, 2, 3, 0, 0, 0, 0, 0, 250]),
        ([1, 2, 3, 0], [1, 2, 3, 0, 0, 0, 0, 0, 251]),
        ([1, 2, 3, 4, 5, 6, 7], [1, 2, 3, 4, 5, 6, 7, 0, 254]),
        ([0, 0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0, 0, 255, 0, 0, 0, 0, 0, 0, 0, 0, 247]),
        ([1, 2, 3, 4, 5, 6, 7, 8], [1, 2, 3, 4, 5, 6, 7, 8, 255, 0, 0, 0, 0, 0, 0, 0, 0, 247]),
        ([1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 2, 3, 4, 5, 6, 7, 8, 255, 9, 0, 0, 0, 0, 0, 0, 0, 248]),
    ]

    @Test(arguments: tikvVectors)
    func encodesAsTiKV(raw: [UInt8], encoded: [UInt8]) throws {
        #expect(Memcomparable.encode(raw) == encoded)
        #expect(Memcomparable.encodedLength(raw.count) == encoded.count)
        let (decoded, consumed) = try Memcomparable.decode(encoded)
        #expect(decoded == raw)
        #expect(consumed == encoded.count)
    }

    @Test func malformedInputIsAnErrorNotATrap() {
        let group: [UInt8] = [1, 2, 3, 4, 5, 6, 7, 8]
        #expect(throws: KeyCodecError.truncatedGroup(offset: 9, key: group + [255] + group)) {
            try Memcomparable.decode(group + [255] + group)
        }
        #expect(throws: KeyCodecError.truncatedGroup(offset: 18, key: group + [255] + group + [255])) {
            try Memcomparable.decode(group + [255] + group + [255])
        }
        #expect(throws: KeyCodecError.invalidMarker(offset: 17, marker: 0, key: group + [255] + group + [0])) {
            try Memcomparable.decode(group + [255] + group + [0])
        }
        #expect(throws: KeyCodecError.nonZeroPadding(offset: 0, key: [1, 2, 3, 1, 0, 0, 0, 0, 250])) {
            try Memcomparable.decode([1, 2, 3, 1, 0, 0, 0, 0, 250])
        }
        #expect(throws: KeyCodecError.self) { try Memcomparable.decode([UInt8]()) }
        #expect(throws: KeyCodecError.trailingBytes(offset: 9, key: [0, 0, 0, 0, 0, 0, 0, 0, 247, 1])) {
            try Memcomparable.decodeAll([0, 0, 0, 0, 0, 0, 0, 0, 247, 1])
        }
    }

    @Test func errorMessagesNameTheBytes() {
        let error = KeyCodecError.invalidMarker(offset: 8, marker: 0x10, key: [0xAB, 0xCD])
        #expect(error.description.contains("0x10"))
        #expect(error.description.contains("abcd"))
    }

    @Test func decodeInvertsEncode() async {
        await propertyCheck(count: 500, input: Gen.uint8().array(of: 0...40)) { key in
            #expect((try? Memcomparable.decodeAll(Memcomparable.encode(key))) == key)
        }
    }

    @Test func encodingPreservesOrder() async {
        await propertyCheck(count: 1000, input: Gen.uint8(in: 0...3).array(of: 0...20), Gen.uint8(in: 0...3).array(of: 0...20)) { a, b in
            let plain = compareKeys(a, b)
            let encoded = compareKeys(Memcomparable.encode(a), Memcomparable.encode(b))
            #expect(plain.signum() == encoded.signum())
        }
    }

    @Test func encodedPrefixIsAPrefixOfEveryEncodedKeyWithThatPrefix() async {
        await propertyCheck(count: 500, input: Gen.uint8().array(of: 0...20), Gen.uint8().array(of: 0...20)) { prefix, suffix in
            let encodedKey = Memcomparable.encode(prefix + suffix)
            #expect(encodedKey.starts(with: Memcomparable.encodePrefix(prefix)))
        }
    }

    /// BR's EncodeKeyPrefix on a table prefix: one whole group encoded, the rest raw.
    @Test func encodedTablePrefix() {
        let prefix = TableCodec.tablePrefix(1) + [UInt8(ascii: "_")]
        #expect(Memcomparable.encodePrefix(prefix).hexString == "7480000000000000ff015f")
        #expect(Memcomparable.encodePrefix([1, 2, 3]) == [1, 2, 3])
        #expect(Memcomparable.encodePrefix([UInt8]()) == [])
    }

    @Test func timestampsSortNewestFirst() throws {
        let older = MVCCKey(userKey: bytes("k"), timestamp: 100).encoded
        let newer = MVCCKey(userKey: bytes("k"), timestamp: 200).encoded
        #expect(keyLess(newer, older))
        #expect(try MVCCKey(decoding: newer) == MVCCKey(userKey: bytes("k"), timestamp: 200))
        #expect(DescendingTimestamp.encode(0) == [UInt8](repeating: 0xFF, count: 8))
        #expect(throws: KeyCodecError.self) { try MVCCKey(decoding: Memcomparable.encode(bytes("k")) + [1, 2]) }
    }

    @Test func dataKeys() throws {
        #expect(DataKey.make(bytes("abc")) == bytes("zabc"))
        #expect(Array(try DataKey.strip(bytes("zabc"))) == bytes("abc"))
        #expect(throws: KeyCodecError.missingDataPrefix(key: bytes("abc"))) { try DataKey.strip(bytes("abc")) }
    }

    @Test func hexRoundTrip() {
        #expect([UInt8](hex: "0x7A00ff") == [0x7A, 0x00, 0xFF])
        #expect([UInt8](hex: "7g") == nil)
        #expect([UInt8](hex: "abc") == nil)
        #expect([0x7A, 0x00, 0xFF].hexString == "7a00ff")
    }
}
