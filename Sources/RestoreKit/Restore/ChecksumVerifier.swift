import Foundation

/// The check at the end of a restore, as BR's: read back every restored key from one replica of
/// each region, undo the rewrite, and compare crc64xor, kvs and bytes with the backup's figures per
/// file set and per table.
public struct ChecksumVerifier: Sendable {
    public struct Mismatch: Sendable, Equatable, Codable, CustomStringConvertible {
        public var scope: String
        public var expected: KVChecksum
        public var actual: KVChecksum

        public var description: String {
            "\(scope): expected crc64xor=\(expected.crc64xor) kvs=\(expected.totalKVs) bytes=\(expected.totalBytes), "
                + "got crc64xor=\(actual.crc64xor) kvs=\(actual.totalKVs) bytes=\(actual.totalBytes)"
        }
    }

    public struct Report: Sendable {
        public var total: KVChecksum
        public var expected: KVChecksum
        public var mismatches: [Mismatch]
        public var isMatch: Bool { mismatches.isEmpty && total == expected }
    }

    let cluster: Cluster
    let plan: RestorePlan
    let rules: RuleBuilder
    let backup: Backup

    public func verify() async throws -> Report {
        var perSet = [KVChecksum](repeating: KVChecksum(), count: plan.fileSets.count)
        var perTable: [Int64: KVChecksum] = [:]
        var stray = KVChecksum()
        let starts = plan.fileSets.map(\.oldRange.start)
        for merged in plan.ranges {
            for region in await cluster.pd.regions(overlapping: merged.range) {
                let leader = try? await cluster.pd.waitForLeader(region.id, timeout: .seconds(2))
                let storeID = leader?.storeID ?? region.peers.first { cluster.store($0.storeID)?.isUp == true }?.storeID
                guard let storeID, let store = cluster.store(storeID) else { continue }
                let clipped = RestoreEngine.clip(merged.range, to: region.range)
                let (start, end) = (clipped.start, clipped.end)
                try scan(store, from: start, to: end) { oldKey, value in
                    var sum = KVChecksum()
                    sum.add(key: oldKey, value: value)
                    // The file set whose old range holds the key: the last one starting at or before it.
                    var lo = 0, hi = starts.count
                    while lo < hi {
                        let mid = (lo + hi) / 2
                        if compareKeys(starts[mid], oldKey) <= 0 { lo = mid + 1 } else { hi = mid }
                    }
                    if lo > 0, plan.fileSets[lo - 1].oldRange.contains(oldKey) {
                        perSet[lo - 1].merge(sum)
                    } else {
                        stray.merge(sum)
                    }
                    if let table = TableCodec.decode(oldKey)?.tableID { perTable[table, default: KVChecksum()].merge(sum) }
                }
            }
        }
        var mismatches: [Mismatch] = []
        for set in plan.fileSets where perSet[set.id] != set.checksum {
            let names = set.files.map(\.name).joined(separator: " + ")
            mismatches.append(Mismatch(scope: "file \(names)", expected: set.checksum, actual: perSet[set.id]))
        }
        for table in backup.tables {
            let actual = table.physicalIDs.reduce(into: KVChecksum()) { $0.merge(perTable[$1] ?? KVChecksum()) }
            if actual != table.checksum, table.checksum.totalKVs > 0 {
                mismatches.append(Mismatch(scope: "table \(table.qualifiedName)", expected: table.checksum, actual: actual))
            }
        }
        if stray.totalKVs > 0 {
            mismatches.append(Mismatch(scope: "keys outside every backup file", expected: KVChecksum(), actual: stray))
        }
        let total = perSet.reduce(into: stray) { $0.merge($1) }
        return Report(total: total, expected: backup.checksum, mismatches: mismatches)
    }

    /// Calls `body` with each restored pair in [start, end) (region bounds), as (old user key, value).
    private func scan(_ store: Store, from start: [UInt8], to end: [UInt8], _ body: ([UInt8], [UInt8]) throws -> Void) throws {
        let dataStart = DataKey.make(start)
        let dataEnd = end.isEmpty ? [DataKey.prefix + 1] : DataKey.make(end)
        if rules.format == .raw {
            try store.db.scan(cf: .default, from: dataStart) { key, value in
                guard compareKeys(key, dataEnd) < 0 else { return false }
                try body(try rules.userRules.undoRewriteKey(Array(key.dropFirst())), Array(value))
                return true
            }
            return
        }
        try store.db.scan(cf: .write, from: dataStart) { key, value in
            guard compareKeys(key, dataEnd) < 0 else { return false }
            let mvcc = try MVCCKey(decoding: key.dropFirst())
            let record = try WriteRecord(decoding: value)
            guard record.kind == .put else { return true }
            let data: [UInt8]
            if let short = record.shortValue {
                data = short
            } else {
                var defaultKey = DataKey.make(Memcomparable.encode(mvcc.userKey))
                DescendingTimestamp.append(record.startTS, to: &defaultKey)
                guard let long = try store.db.get(defaultKey, cf: .default) else {
                    throw RestoreError.rules("restored key \(KeyDescription(mvcc.userKey).summary) has no value at start_ts \(record.startTS) in the default CF")
                }
                data = long
            }
            try body(try rules.userRules.undoRewriteKey(mvcc.userKey), data)
            return true
        }
    }
}
