import Foundation
import KeyCodec
import BackupFormat

/// The files of one backup range: the write and default CF files that share it (one default file
/// for raw backups), restored together with one MultiIngest.
public struct FileSet: Sendable, Hashable, Codable {
    public var id: Int
    public var files: [BackupFile]
    /// Raw user keys, end exclusive, as the backup records them.
    public var oldRange: KeyRange
    /// The same range after the rewrite, as region bounds.
    public var newRange: KeyRange
    public var tableID: Int64?
    /// A `--start-key`/`--end-key` selection cuts the files: only part of their keys are restored,
    /// so the checksum is counted from the files themselves, not taken from the backupmeta.
    public var isPartial = false

    public var size: UInt64 { files.reduce(0) { $0 + $1.size } }
    public var checksum: KVChecksum { files.reduce(into: KVChecksum()) { $0.merge($1.checksum) } }
}

/// What a restore will do: the file sets in key order, the ranges they merge into (one region each
/// at first), and the split keys.
public struct RestorePlan: Sendable {
    public let fileSets: [FileSet]
    /// Merged ranges in key order, each with the ids of its file sets.
    public let ranges: [(range: KeyRange, fileSets: [Int])]
    public let splitKeys: [[UInt8]]

    /// The split keys in two batches, as BR splits: every 128th key first, so that the second
    /// batch splits many regions side by side.
    public var splitBatches: [[[UInt8]]] {
        let sparse = stride(from: 0, to: splitKeys.count, by: 128).map { splitKeys[$0] }
        return [sparse, splitKeys].filter { !$0.isEmpty }
    }

    /// `keyRange`: only keys in this range of the backup's key space are restored.
    public init(backup: Backup, rules: RuleBuilder, mergeSize: UInt64, keyRange: KeyRange? = nil) throws(RestoreError) {
        var groups: [String: [BackupFile]] = [:]
        for file in backup.files { groups["\(file.startKey.hexString)-\(file.endKey.hexString)", default: []].append(file) }
        var sets: [FileSet] = []
        for files in groups.values {
            let first = files[0]
            let old = BackupSelection.clip(first.range, to: keyRange)
            var set = FileSet(id: 0, files: files.sorted { $0.cf.rawValue < $1.cf.rawValue }, oldRange: old, newRange: try rules.rewriteRange(old, of: first.name), tableID: first.tableID)
            set.isPartial = old != first.range
            sets.append(set)
        }
        sets.sort { keyLess($0.newRange.start, $1.newRange.start) }
        for i in sets.indices { sets[i].id = i }
        fileSets = sets

        // A merged range holds one table and one rule: its files are batched, and a batch is
        // rewritten in old-key order, which two rules need not keep.
        let rule = { (set: FileSet) in rules.userRules.ruleIndex(for: set.oldRange.start) }
        var merged: [(range: KeyRange, fileSets: [Int])] = []
        var size: UInt64 = 0
        for set in sets {
            if var last = merged.last, last.range.end == set.newRange.start, size + set.size <= mergeSize,
               sets[last.fileSets[0]].tableID == set.tableID, rule(sets[last.fileSets[0]]) == rule(set) {
                last.range.end = set.newRange.end
                last.fileSets.append(set.id)
                merged[merged.count - 1] = last
                size += set.size
            } else {
                merged.append((set.newRange, [set.id]))
                size = set.size
            }
        }
        ranges = merged
        var keys = Set<[UInt8]>()
        for r in merged {
            if !r.range.start.isEmpty { keys.insert(r.range.start) }
            if !r.range.end.isEmpty { keys.insert(r.range.end) }
        }
        splitKeys = keys.sorted(by: keyLess)
    }

    public var totalSize: UInt64 { fileSets.reduce(0) { $0 + $1.size } }
    public var totalKVs: UInt64 { fileSets.reduce(0) { $0 + $1.checksum.totalKVs } }
}
