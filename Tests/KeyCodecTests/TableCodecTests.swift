import Testing
@testable import TestSupport
@testable import KeyCodec

@Suite struct TableCodecTests {
    /// TiDB tablecodec test vectors: table 255, handle 2 and index 2.
    @Test func tidbVectors() throws {
        let row: [UInt8] = bytes("t") + [0x80, 0, 0, 0, 0, 0, 0, 0xFF] + bytes("_r") + [0x80, 0, 0, 0, 0, 0, 0, 0x02]
        #expect(TableCodec.recordKey(tableID: 255, handle: 2) == row)
        #expect(TableCodec.decode(row) == .record(tableID: 255, handle: 2))

        let index: [UInt8] = bytes("t") + [0x80, 0, 0, 0, 0, 0, 0, 0xFF] + bytes("_i") + [0x80, 0, 0, 0, 0, 0, 0, 0x02]
        #expect(TableCodec.indexPrefix(tableID: 255, indexID: 2) == index)
        #expect(TableCodec.decode(index) == .index(tableID: 255, indexID: 2, values: []))
    }

    /// TiKV's RowKeyCodec vector: table 0x102, handle 0x40000000002C0C.
    @Test func tikvRowVector() {
        let key: [UInt8] = bytes("t") + [0x80, 0, 0, 0, 0, 0, 0x01, 0x02] + bytes("_r") + [0x80, 0x40, 0, 0, 0, 0, 0x2C, 0x0C]
        #expect(TableCodec.decode(key) == .record(tableID: 0x102, handle: 0x40_0000_0000_2C0C))
    }

    /// The encoded (memcomparable) form of table 1 / handle 1 that TiKV and PD print for region bounds.
    @Test func encodedRecordKeyAsTiKVPrintsIt() throws {
        let encoded = Memcomparable.encode(TableCodec.recordKey(tableID: 1, handle: 1))
        #expect(encoded.hexString == "7480000000000000ff015f728000000000ff0000010000000000fa")
        #expect(KeyDescription(DataKey.make(encoded)).summary == "table 1 / handle 1")
    }

    @Test func comparableIntegersSortAsSigned() throws {
        #expect(TableCodec.encodeInt(Int64.min) == [0, 0, 0, 0, 0, 0, 0, 0])
        #expect(TableCodec.encodeInt(-1) == [0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF])
        #expect(keyLess(TableCodec.encodeInt(-5), TableCodec.encodeInt(3)))
        for v: Int64 in [Int64.min, -1, 0, 1, 5000, Int64.max] {
            #expect(try TableCodec.decodeInt(TableCodec.encodeInt(v)) == v)
        }
    }

    @Test func indexKeysDecodeForDisplay() {
        let key = TableCodec.indexKey(
            tableID: 104, indexID: 1,
            encodedValues: TableCodec.bytesDatum(bytes("alice")) + TableCodec.intDatum(5000))
        #expect(TableCodec.decode(key)?.description == "table 104 / index 1 / \"alice\", 5000")
        #expect(TableCodec.decode(TableCodec.recordKey(tableID: 104, handle: 5000))?.description == "table 104 / handle 5000")
    }

    @Test func nonTableKeysAreNotDecoded() {
        #expect(TableCodec.decode(bytes("hello")) == nil)
        #expect(TableCodec.decode(bytes("t")) == nil)
        #expect(KeyDescription(bytes("hello")).summary == "68656c6c6f")
    }
}
