import Foundation
import Failpoints
import KeyCodec
import ExternalStorage
import BackupFormat
import ClusterAPI

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
        /// Tables with a mismatch of their own or in one of their files, by id.
        public var mismatchedTables: Set<Int64> = []
        public var isMatch: Bool { mismatches.isEmpty && total == expected }
    }

    let cluster: any ClusterInspection
    let plan: RestorePlan
    let rules: RuleBuilder
    let backup: Backup
    /// What the parts of file sets that a key selection cuts must hold, by set id.
    var selectedParts: [Int: KVChecksum] = [:]

    func expected(_ set: FileSet) -> KVChecksum { selectedParts[set.id] ?? set.checksum }

    /// Checksums of one part of the restored data, merged as the parts finish.
    struct Tally: Sendable {
        var perSet: [KVChecksum]
        var perTable: [Int64: KVChecksum] = [:]
        var stray = KVChecksum()

        init(sets: Int) { perSet = [KVChecksum](repeating: KVChecksum(), count: sets) }

        mutating func merge(_ other: Tally) {
            for i in perSet.indices { perSet[i].merge(other.perSet[i]) }
            perTable.merge(other.perTable) { a, b in
                var sum = a
                sum.merge(b)
                return sum
            }
            stray.merge(other.stray)
        }
    }

    /// A part of a merged range that lies in one region, read from one replica.
    struct Part: Sendable {
        var store: any StoreDataReader
        var start: [UInt8]
        var end: [UInt8]
    }

    public func verify() async throws -> Report {
        var parts: [Part] = []
        for merged in plan.ranges {
            for region in await cluster.regions(overlapping: merged.range) {
                // Read where everything committed is applied; without a leader, from any live
                // replica (a short read then shows as a mismatch, never as a match).
                let leader = try? await cluster.readBarrier(region.id)
                let reader = leader.flatMap { cluster.dataReader(store: $0.storeID) } ?? region.peers.lazy.compactMap { cluster.dataReader(store: $0.storeID) }.first
                guard let store = reader else { continue }
                let clipped = RestoreEngine.clip(merged.range, to: region.range)
                parts.append(Part(store: store, start: clipped.start, end: clipped.end))
            }
        }
        // The parts are independent scans: one per core at a time.
        let width = max(1, ProcessInfo.processInfo.activeProcessorCount)
        var tally = Tally(sets: plan.fileSets.count)
        let starts = plan.fileSets.map(\.oldRange.start)
        try await withThrowingTaskGroup(of: Tally.self) { group in
            var next = 0
            func start() {
                guard next < parts.count else { return }
                let part = parts[next]
                next += 1
                group.addTask { try await BlockingIO.run { try self.tally(part, setStarts: starts) } }
            }
            for _ in 0..<width { start() }
            while let done = try await group.next() {
                tally.merge(done)
                start()
            }
        }
        var mismatches: [Mismatch] = []
        var mismatchedTables = Set<Int64>()
        for set in plan.fileSets where tally.perSet[set.id] != expected(set) {
            if let table = set.tableID { mismatchedTables.insert(table) }
            let names = set.files.map(\.name).joined(separator: " + ")
            mismatches.append(Mismatch(scope: "file \(names)\(set.isPartial ? " (the selected keys)" : "")", expected: expected(set), actual: tally.perSet[set.id]))
        }
        for table in backup.tables {
            let ids = Set(table.physicalIDs)
            let actual = ids.reduce(into: KVChecksum()) { $0.merge(tally.perTable[$1] ?? KVChecksum()) }
            // A table that a key selection cuts expects what its selected parts hold.
            let sets = plan.fileSets.filter { $0.tableID.map(ids.contains) ?? false }
            let wanted = sets.contains(where: \.isPartial) ? sets.reduce(into: KVChecksum()) { $0.merge(expected($1)) } : table.checksum
            if actual != wanted, wanted.totalKVs > 0 {
                mismatchedTables.insert(table.id)
                mismatches.append(Mismatch(scope: "table \(table.qualifiedName)", expected: wanted, actual: actual))
            }
        }
        if tally.stray.totalKVs > 0 {
            mismatches.append(Mismatch(scope: "keys outside every backup file", expected: KVChecksum(), actual: tally.stray))
        }
        let total = tally.perSet.reduce(into: tally.stray) { $0.merge($1) }
        return Report(
            total: total, expected: plan.fileSets.reduce(into: KVChecksum()) { $0.merge(expected($1)) }, mismatches: mismatches, mismatchedTables: mismatchedTables)
    }

    /// Reads one part and sorts each pair into its file set (`starts`: each set's first old key)
    /// and table.
    private func tally(_ part: Part, setStarts starts: [[UInt8]]) throws -> Tally {
        var tally = Tally(sets: plan.fileSets.count)
        try scan(part.store, from: part.start, to: part.end) { oldKey, value in
            var sum = KVChecksum()
            sum.add(key: oldKey, value: value)
            // The file set whose old range holds the key: the last one starting at or before it.
            var lo = 0, hi = starts.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if compareKeys(starts[mid], oldKey) <= 0 { lo = mid + 1 } else { hi = mid }
            }
            if lo > 0, plan.fileSets[lo - 1].oldRange.contains(oldKey) {
                tally.perSet[lo - 1].merge(sum)
            } else {
                tally.stray.merge(sum)
            }
            if let table = TableCodec.decode(oldKey)?.tableID { tally.perTable[table, default: KVChecksum()].merge(sum) }
        }
        CrashPoint.checksum.pass()
        return tally
    }

    /// Calls `body` with each restored pair in [start, end) (region bounds), as (old user key, value).
    private func scan(_ store: any StoreDataReader, from start: [UInt8], to end: [UInt8], _ body: ([UInt8], [UInt8]) throws -> Void) throws {
        let dataStart = DataKey.make(start)
        let dataEnd = end.isEmpty ? [DataKey.prefix + 1] : DataKey.make(end)
        if rules.format == .raw {
            try store.scan(cf: .default, from: dataStart) { key, value in
                guard compareKeys(key, dataEnd) < 0 else { return false }
                try body(try rules.userRules.undoRewriteKey(Array(key.dropFirst())), Array(value))
                return true
            }
            return
        }
        let values = try store.makeCursor(cf: .default)
        try store.scan(cf: .write, from: dataStart) { key, value in
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
                guard let long = try values.value(at: defaultKey) else {
                    throw RestoreError.rules("restored key \(KeyDescription(mvcc.userKey).summary) has no value at start_ts \(record.startTS) in the default CF")
                }
                data = long
            }
            try body(try rules.userRules.undoRewriteKey(mvcc.userKey), data)
            return true
        }
    }
}
