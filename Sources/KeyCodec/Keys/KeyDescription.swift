/// A key explained for people: which layers of TiKV's encoding it carries and what they hold.
public struct KeyDescription: Sendable {
    public let bytes: [UInt8]
    public private(set) var hasDataPrefix = false
    public private(set) var userKey: [UInt8]?
    public private(set) var timestamp: UInt64?
    public private(set) var tableKey: TableKey?

    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
        var body = bytes[...]
        if body.first == DataKey.prefix {
            hasDataPrefix = true
            body = body.dropFirst()
        }
        if let mvcc = try? MVCCKey(decoding: body) {
            userKey = mvcc.userKey
            timestamp = mvcc.timestamp
        } else if let decoded = try? Memcomparable.decodeAll(body) {
            userKey = decoded
        }
        tableKey = TableCodec.decode(userKey ?? Array(body))
    }

    /// One line: the table reading if there is one, else hex; and the timestamp.
    public var summary: String {
        var s = tableKey?.description ?? (userKey ?? bytes).hexString
        if let timestamp { s += " @\(timestamp)" }
        return s
    }

    public var lines: [String] {
        var out = ["hex        \(bytes.hexString)"]
        out.append("data key   \(hasDataPrefix ? "yes (z prefix)" : "no")")
        if let userKey { out.append("user key   \(userKey.hexString)") }
        if let timestamp { out.append("timestamp  \(timestamp)") }
        out.append("tidb       \(tableKey?.description ?? "not a TiDB table key")")
        return out
    }
}
