/// TiKV's data keys: every key stored in a store's RocksDB, and every key in a backup SST, starts with `z`.
public enum DataKey {
    public static let prefix: UInt8 = UInt8(ascii: "z")

    public static func make(_ key: some Collection<UInt8>) -> [UInt8] {
        var out: [UInt8] = [prefix]
        out.append(contentsOf: key)
        return out
    }

    /// The key without its `z`.
    public static func strip(_ dataKey: [UInt8]) throws(KeyCodecError) -> ArraySlice<UInt8> {
        guard dataKey.first == prefix else { throw .missingDataPrefix(key: dataKey) }
        return dataKey.dropFirst()
    }
}
