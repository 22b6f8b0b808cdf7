/// TiDB's table codec: `t` + int64 + `_r` + handle for rows, `t` + int64 + `_i` + index id + datums for
/// index entries. Integers are comparable: big-endian with the sign bit flipped.
public enum TableCodec {
    public static let tablePrefix: UInt8 = UInt8(ascii: "t")
    public static let recordSeparator: [UInt8] = Array("_r".utf8)
    public static let indexSeparator: [UInt8] = Array("_i".utf8)
    /// `t` + 8-byte id.
    public static let tablePrefixLength = 9
    /// `t` + id + `_r` or `_i`.
    public static let tableSectionLength = 11

    public static func encodeInt(_ v: Int64) -> [UInt8] {
        var out: [UInt8] = []
        appendInt(v, to: &out)
        return out
    }

    public static func appendInt(_ v: Int64, to out: inout [UInt8]) {
        withUnsafeBytes(of: (UInt64(bitPattern: v) ^ (1 << 63)).bigEndian) { out.append(contentsOf: $0) }
    }

    public static func decodeInt(_ bytes: some Collection<UInt8>) throws(KeyCodecError) -> Int64 {
        guard bytes.count >= 8 else { throw .tooShort(expected: 8, actual: bytes.count, key: Array(bytes)) }
        var v: UInt64 = 0
        for b in bytes.prefix(8) { v = v << 8 | UInt64(b) }
        return Int64(bitPattern: v ^ (1 << 63))
    }

    /// `t{id}`.
    public static func tablePrefix(_ tableID: Int64) -> [UInt8] {
        var out: [UInt8] = [tablePrefix]
        appendInt(tableID, to: &out)
        return out
    }

    /// `t{id}_r`: the start of a table's rows.
    public static func recordPrefix(_ tableID: Int64) -> [UInt8] { tablePrefix(tableID) + recordSeparator }

    /// `t{id}_r{handle}` for an integer handle.
    public static func recordKey(tableID: Int64, handle: Int64) -> [UInt8] {
        var out = recordPrefix(tableID)
        appendInt(handle, to: &out)
        return out
    }

    /// `t{id}_i{index}`.
    public static func indexPrefix(tableID: Int64, indexID: Int64) -> [UInt8] {
        var out = tablePrefix(tableID) + indexSeparator
        appendInt(indexID, to: &out)
        return out
    }

    /// `t{id}_i{index}` + already-encoded index column datums.
    public static func indexKey(tableID: Int64, indexID: Int64, encodedValues: [UInt8]) -> [UInt8] {
        indexPrefix(tableID: tableID, indexID: indexID) + encodedValues
    }

    /// Datum flags from TiDB's codec, for the datums we encode and display.
    public enum DatumFlag: UInt8, Sendable {
        case bytes = 1
        case int = 3
        case uint = 4
    }

    /// An int datum: flag + comparable int64, as TiDB writes index columns.
    public static func intDatum(_ v: Int64) -> [UInt8] { [DatumFlag.int.rawValue] + encodeInt(v) }

    /// A bytes datum: flag + memcomparable bytes.
    public static func bytesDatum(_ v: some Collection<UInt8>) -> [UInt8] {
        var out: [UInt8] = [DatumFlag.bytes.rawValue]
        Memcomparable.encode(v, into: &out)
        return out
    }

    /// The table of a `t{id}...` key, read without decoding the rest of it.
    public static func tableID(of key: [UInt8]) -> Int64? {
        guard key.count >= tablePrefixLength, key[0] == tablePrefix else { return nil }
        return try? decodeInt(key[1..<tablePrefixLength])
    }

    /// Reads a user key as a TiDB key for display; nil when it is not one.
    public static func decode(_ key: some Collection<UInt8>) -> TableKey? {
        let bytes = Array(key)
        guard let table = tableID(of: bytes) else { return nil }
        let rest = bytes[tablePrefixLength...]
        if rest.starts(with: recordSeparator) {
            let handle = rest.dropFirst(2)
            if handle.count == 8, let h = try? decodeInt(handle) { return .record(tableID: table, handle: h) }
            return .commonRecord(tableID: table, handle: Array(handle))
        }
        if rest.starts(with: indexSeparator), rest.count >= 10, let index = try? decodeInt(rest.dropFirst(2)) {
            return .index(tableID: table, indexID: index, values: Array(rest.dropFirst(10)))
        }
        return .table(tableID: table, rest: Array(rest))
    }
}

/// A TiDB key, decoded for display.
public enum TableKey: Equatable, Sendable, CustomStringConvertible {
    case table(tableID: Int64, rest: [UInt8])
    case record(tableID: Int64, handle: Int64)
    case commonRecord(tableID: Int64, handle: [UInt8])
    case index(tableID: Int64, indexID: Int64, values: [UInt8])

    public var tableID: Int64 {
        switch self {
        case let .table(id, _), let .record(id, _), let .commonRecord(id, _), let .index(id, _, _): id
        }
    }

    public var description: String {
        switch self {
        case let .table(id, rest):
            rest.isEmpty ? "table \(id)" : "table \(id) / \(rest.hexString)"
        case let .record(id, handle):
            "table \(id) / handle \(handle)"
        case let .commonRecord(id, handle):
            "table \(id) / handle \(handle.hexString)"
        case let .index(id, index, values):
            values.isEmpty ? "table \(id) / index \(index)" : "table \(id) / index \(index) / \(Self.describeDatums(values))"
        }
    }

    /// Int, uint and bytes datums in readable form; anything else in hex.
    static func describeDatums(_ values: [UInt8]) -> String {
        var parts: [String] = []
        var rest = values[...]
        while let flag = rest.first {
            let body = rest.dropFirst()
            switch TableCodec.DatumFlag(rawValue: flag) {
            case .int where body.count >= 8:
                parts.append(String((try? TableCodec.decodeInt(body)) ?? 0))
                rest = body.dropFirst(8)
                continue
            case .uint where body.count >= 8:
                var v: UInt64 = 0
                for b in body.prefix(8) { v = v << 8 | UInt64(b) }
                parts.append(String(v))
                rest = body.dropFirst(8)
                continue
            case .bytes:
                if let (decoded, used) = try? Memcomparable.decode(body) {
                    let text = String(decoding: decoded, as: UTF8.self)
                    let printable = decoded.allSatisfy { (0x20..<0x7F).contains($0) }
                    parts.append(printable ? "\"\(text)\"" : decoded.hexString)
                    rest = body.dropFirst(used)
                    continue
                }
            default:
                break
            }
            parts.append(rest.hexString)
            break
        }
        return parts.joined(separator: ", ")
    }
}
