import Foundation
import KeyCodec
import ClusterAPI

/// Moves a region's data between stores: the snapshot that a new peer starts from, and the
/// clean-up of a removed peer. Keys are data keys (`z` + key) in every column family.
enum RegionData {
    static func dataBounds(_ region: Region) -> (start: [UInt8], end: [UInt8]) {
        (DataKey.make(region.startKey), region.endKey.isEmpty ? [DataKey.prefix + 1] : DataKey.make(region.endKey))
    }

    /// Copies the region's keys from `source` into `target` through SST files, one per column
    /// family, ingested by move in one atomic ingest.
    static func copy(_ region: Region, from source: Store, to target: Store) throws {
        let (start, end) = dataBounds(region)
        var files: [(cf: ColumnFamily, path: String)] = []
        defer { for file in files { unlink(file.path) } }
        for cf in ColumnFamily.allCases {
            try target.db.deleteRange(start, end, cf: cf)
            let path = "\(target.importDirectory)/snapshot-\(region.id)-\(UUID().uuidString)-\(cf.name).sst"
            let writer = try SSTWriter(path: path)
            try source.db.scan(cf: cf, from: start) { key, value in
                guard compareKeys(key, end) < 0 else { return false }
                try writer.put(key: key, value: value)
                return true
            }
            if writer.entryCount > 0 {
                _ = try writer.finish()
                files.append((cf, path))
            } else {
                unlink(path)
            }
        }
        try target.db.ingest(files, move: true)
    }

    /// Deletes the region's keys from `store`.
    static func destroy(_ region: Region, on store: Store) throws {
        let (start, end) = dataBounds(region)
        for cf in ColumnFamily.allCases { try store.db.deleteRange(start, end, cf: cf) }
    }
}
