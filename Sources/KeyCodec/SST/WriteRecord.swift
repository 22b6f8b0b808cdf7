/// A value of TiKV's `write` column family: what a commit did and where its data is.
///
/// Layout: a type byte (`P`ut, `D`elete, `L`ock, `R`ollback); start_ts as a varint; then optional
/// fields, each behind a flag byte: `v` + 1-byte length + short value, `R` (overlapped rollback),
/// `F` + 8-byte gc fence, `l` + 8-byte last_change_ts + varint versions, `S` + varint txn source.
/// Parsing stops at an unknown flag, as TiKV's does, so newer fields don't break older readers.
public struct WriteRecord: Equatable, Sendable {
    public enum Kind: UInt8, Sendable {
        case put = 0x50  // P
        case delete = 0x44  // D
        case lock = 0x4C  // L
        case rollback = 0x52  // R
    }

    public var kind: Kind
    public var startTS: UInt64
    public var shortValue: [UInt8]?
    public var hasOverlappedRollback = false
    public var gcFence: UInt64?
    public var lastChange: (ts: UInt64, versions: UInt64)?
    public var txnSource: UInt64?

    static let shortValueFlag = UInt8(ascii: "v")
    static let overlappedRollbackFlag = UInt8(ascii: "R")
    static let gcFenceFlag = UInt8(ascii: "F")
    static let lastChangeFlag = UInt8(ascii: "l")
    static let txnSourceFlag = UInt8(ascii: "S")
    /// The longest value kept inline in the write CF; longer values go to the default CF.
    public static let shortValueMaxLength = 255

    public init(kind: Kind, startTS: UInt64, shortValue: [UInt8]? = nil) {
        self.kind = kind
        self.startTS = startTS
        self.shortValue = shortValue
    }

    public static func == (a: WriteRecord, b: WriteRecord) -> Bool {
        a.kind == b.kind && a.startTS == b.startTS && a.shortValue == b.shortValue
            && a.hasOverlappedRollback == b.hasOverlappedRollback && a.gcFence == b.gcFence
            && a.lastChange?.ts == b.lastChange?.ts && a.lastChange?.versions == b.lastChange?.versions
            && a.txnSource == b.txnSource
    }

    public var encoded: [UInt8] {
        var out: [UInt8] = [kind.rawValue]
        Varint.append(startTS, to: &out)
        if let v = shortValue {
            out.append(Self.shortValueFlag)
            out.append(UInt8(v.count))
            out.append(contentsOf: v)
        }
        if hasOverlappedRollback { out.append(Self.overlappedRollbackFlag) }
        if let fence = gcFence {
            out.append(Self.gcFenceFlag)
            withUnsafeBytes(of: fence.bigEndian) { out.append(contentsOf: $0) }
        }
        if let change = lastChange {
            out.append(Self.lastChangeFlag)
            withUnsafeBytes(of: change.ts.bigEndian) { out.append(contentsOf: $0) }
            Varint.append(change.versions, to: &out)
        }
        if let source = txnSource {
            out.append(Self.txnSourceFlag)
            Varint.append(source, to: &out)
        }
        return out
    }

    public init(decoding bytes: some Collection<UInt8>) throws(WriteRecordError) {
        self = try withRawBytes(bytes) { (raw) throws(WriteRecordError) in try Self(decoding: raw) }
    }

    /// Decodes a record in place: a scan decodes one per row, and a generic collection would cost a
    /// copy and runtime type lookups each time.
    public init(decoding data: UnsafeRawBufferPointer) throws(WriteRecordError) {
        let (record, shortValue) = try Self.decodeInPlace(data)
        self = record
        self.shortValue = shortValue.map { Array(UnsafeRawBufferPointer(rebasing: data[$0])) }
    }

    /// The record without its short value, and where that value lies in `data` (nil when the
    /// value is in the default CF): checked as `init(decoding:)` checks it, with nothing copied,
    /// for the reads that visit every row.
    public static func decodeInPlace(_ data: UnsafeRawBufferPointer) throws(WriteRecordError) -> (record: WriteRecord, shortValue: Range<Int>?) {
        guard let first = data.first else { throw .empty }
        guard let kind = Kind(rawValue: first) else { throw .unknownKind(first) }
        var cursor = 1
        guard let ts = Varint.read(data, at: &cursor) else { throw .truncated(field: "start_ts") }
        var record = WriteRecord(kind: kind, startTS: ts)
        var shortValue: Range<Int>?
        func readU64(_ field: String) throws(WriteRecordError) -> UInt64 {
            guard cursor + 8 <= data.count else { throw .truncated(field: field) }
            let v = UInt64(bigEndian: data.loadUnaligned(fromByteOffset: cursor, as: UInt64.self))
            cursor += 8
            return v
        }
        parsing: while cursor < data.count {
            let flag = data[cursor]
            cursor += 1
            switch flag {
            case Self.shortValueFlag:
                guard cursor < data.count else { throw .truncated(field: "short value length") }
                let length = Int(data[cursor])
                cursor += 1
                guard cursor + length <= data.count else { throw .truncated(field: "short value") }
                shortValue = cursor..<(cursor + length)
                cursor += length
            case Self.overlappedRollbackFlag:
                record.hasOverlappedRollback = true
            case Self.gcFenceFlag:
                record.gcFence = try readU64("gc fence")
            case Self.lastChangeFlag:
                let ts = try readU64("last_change_ts")
                guard let versions = Varint.read(data, at: &cursor) else { throw .truncated(field: "versions_to_last_change") }
                record.lastChange = (ts, versions)
            case Self.txnSourceFlag:
                guard let source = Varint.read(data, at: &cursor) else { throw .truncated(field: "txn_source") }
                record.txnSource = source
            default:
                break parsing
            }
        }
        return (record, shortValue)
    }

    /// `value` with its start_ts replaced and every other byte kept, for a timestamp rewrite.
    public static func replacingStartTS(in value: UnsafeRawBufferPointer, with ts: UInt64, into out: inout [UInt8]) throws(WriteRecordError) {
        guard let first = value.first else { throw .empty }
        guard Kind(rawValue: first) != nil else { throw .unknownKind(first) }
        var cursor = 1
        guard Varint.read(value, at: &cursor) != nil else { throw .truncated(field: "start_ts") }
        out.removeAll(keepingCapacity: true)
        out.append(first)
        Varint.append(ts, to: &out)
        out.append(contentsOf: value[cursor...])
    }
}

public enum WriteRecordError: Error, Equatable, Sendable, CustomStringConvertible {
    case empty
    case unknownKind(UInt8)
    case truncated(field: String)

    public var description: String {
        switch self {
        case .empty: "write record is empty"
        case let .unknownKind(b): "write record has unknown type byte 0x\(String(b, radix: 16))"
        case let .truncated(field): "write record is truncated in \(field)"
        }
    }
}

/// LEB128 unsigned varints, as TiKV's `encode_var_u64`.
enum Varint {
    static func append(_ value: UInt64, to out: inout [UInt8]) {
        var v = value
        while v >= 0x80 {
            out.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }

    static func read<C: Collection<UInt8>>(_ data: C, at cursor: inout Int) -> UInt64? where C.Index == Int {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        var i = cursor
        while i < data.endIndex, shift < 64 {
            let b = data[i]
            result |= UInt64(b & 0x7F) << shift
            i += 1
            if b & 0x80 == 0 {
                cursor = i
                return result
            }
            shift += 7
        }
        return nil
    }
}
