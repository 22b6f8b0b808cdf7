import Foundation
import KeyCodec
import ClusterAPI

/// What a look at a store's database tells a restore before it writes anything: the highest TiDB
/// table id with data, whether a key range holds data, and the room left on its disk.
enum StoreDataFacts {
    /// The table id of the last `z` + `t...` key in `write` or `default`: the last key below
    /// `z` + `u` (an encoded user key starts with the user key's first byte), found with one seek
    /// from the end, not a scan of every table's keys.
    static func highestTableID(in db: RocksDatabase) -> Int64 {
        var highest: Int64 = 0
        for cf in [ColumnFamily.write, .default] {
            guard let last = try? db.lastKey(cf: cf, before: [DataKey.prefix, UInt8(ascii: "u")]),
                  last.count > 1, last[0] == DataKey.prefix, last[1] == UInt8(ascii: "t"),
                  let user = try? MVCCKey(decoding: last.dropFirst()).userKey, let id = TableCodec.decode(user)?.tableID
            else { continue }
            highest = max(highest, id)
        }
        return highest
    }

    /// True when `write` or `default` holds a key in `range` (region bounds, without `z`).
    static func holdsData(_ db: RocksDatabase, in range: KeyRange) -> Bool {
        let end = range.end.isEmpty ? [DataKey.prefix + 1] : DataKey.make(range.end)
        for cf in [ColumnFamily.write, .default] {
            var found = false
            try? db.scan(cf: cf, from: DataKey.make(range.start)) { key, _ in
                found = compareKeys(key, end) < 0
                return false
            }
            if found { return true }
        }
        return false
    }

    /// Free bytes for an unprivileged writer on the file system that holds `path` (or the nearest
    /// directory above it that exists), and which file system it is.
    static func disk(at path: String) -> StoreDisk? {
        var directory = URL(fileURLWithPath: path).standardizedFileURL
        while !FileManager.default.fileExists(atPath: directory.path), directory.path != "/" { directory = directory.deletingLastPathComponent() }
        var stats = statvfs()
        var info = stat()
        guard statvfs(directory.path, &stats) == 0, stat(directory.path, &info) == 0 else { return nil }
        return StoreDisk(availableBytes: UInt64(stats.f_bavail) * UInt64(stats.f_frsize), device: UInt64(info.st_dev))
    }
}
