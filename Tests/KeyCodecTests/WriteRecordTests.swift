import Testing
@testable import TestSupport
@testable import KeyCodec

@Suite struct WriteRecordTests {
    @Test func roundTripsEveryField() throws {
        var record = WriteRecord(kind: .put, startTS: 425_000_000_000_000_001, shortValue: bytes("hello"))
        record.hasOverlappedRollback = true
        record.gcFence = 12345
        record.lastChange = (ts: 99, versions: 3)
        record.txnSource = 1
        #expect(try WriteRecord(decoding: record.encoded) == record)
        for kind in [WriteRecord.Kind.put, .delete, .lock, .rollback] {
            let plain = WriteRecord(kind: kind, startTS: 7)
            #expect(try WriteRecord(decoding: plain.encoded) == plain)
        }
    }

    /// The layout TiKV writes: 'P', varint start_ts, 'v', length, value.
    @Test func layoutMatchesTiKV() {
        let record = WriteRecord(kind: .put, startTS: 300, shortValue: [0xAA])
        #expect(record.encoded == [0x50, 0xAC, 0x02, 0x76, 0x01, 0xAA])
    }

    @Test func parsingStopsAtAnUnknownFlag() throws {
        let bytesWithFutureField = WriteRecord(kind: .put, startTS: 5, shortValue: [1]).encoded + [0x7E, 1, 2, 3]
        #expect(try WriteRecord(decoding: bytesWithFutureField) == WriteRecord(kind: .put, startTS: 5, shortValue: [1]))
    }

    @Test func malformedRecordsAreErrors() {
        #expect(throws: WriteRecordError.empty) { try WriteRecord(decoding: [UInt8]()) }
        #expect(throws: WriteRecordError.unknownKind(0x41)) { try WriteRecord(decoding: [0x41, 1]) }
        #expect(throws: WriteRecordError.truncated(field: "start_ts")) { try WriteRecord(decoding: [0x50, 0x80]) }
        #expect(throws: WriteRecordError.truncated(field: "short value")) { try WriteRecord(decoding: [0x50, 1, 0x76, 5, 1]) }
        #expect(throws: WriteRecordError.truncated(field: "gc fence")) { try WriteRecord(decoding: [0x50, 1, 0x46, 1]) }
    }

    @Test func startTimestampReplacementKeepsTheRest() throws {
        var record = WriteRecord(kind: .put, startTS: 5, shortValue: bytes("v"))
        record.gcFence = 8
        var out: [UInt8] = []
        try record.encoded.withUnsafeBytes { try WriteRecord.replacingStartTS(in: $0, with: 1 << 50, into: &out) }
        var expected = record
        expected.startTS = 1 << 50
        #expect(try WriteRecord(decoding: out) == expected)
    }
}
