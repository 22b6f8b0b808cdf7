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
        /// The tables the mismatch is in, by (physical) id.
        public var tables: Set<Int64>

        public init(scope: String, expected: KVChecksum, actual: KVChecksum, tables: Set<Int64> = []) {
            self.scope = scope
            self.expected = expected
            self.actual = actual
            self.tables = tables
        }

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
        /// Tables with a mismatch of their own or in one of their files, by id.
        public var mismatchedTables: Set<Int64> { mismatches.reduce(into: []) { $0.formUnion($1.tables) } }
    }

    let cluster: any ClusterInspection
    let rules: RuleBuilder
    let expectation: ChecksumExpectation
    var plan: RestorePlan { expectation.plan }

    /// Checksums of one part of the restored data, merged as the parts finish. By file set index
    /// and by table, holding only those the part touched: a part is one region, and a restore has
    /// tens of thousands of each.
    struct Tally: Sendable {
        var perSet: [Int: KVChecksum] = [:]
        var perTable: [Int64: KVChecksum] = [:]
        var stray = KVChecksum()

        mutating func merge(_ other: Tally) {
            perSet.merge(other.perSet) { $0.merging($1) }
            perTable.merge(other.perTable) { $0.merging($1) }
            stray.merge(other.stray)
        }
    }

    public func verify() async throws -> Report {
        // The parts are independent: each waits for its region's read barrier (a Raft round),
        // then scans; one per core at a time, so that one's barrier overlaps another's scan. Parts
        // start as regions are found, not listed first: a restore has tens of thousands.
        let width = max(1, ProcessInfo.processInfo.activeProcessorCount)
        var tally = Tally()
        let sets = SetsByOldKey(plan.fileSets)
        try await withThrowingTaskGroup(of: Tally.self) { group in
            var running = 0
            for merged in plan.ranges {
                for region in await cluster.regions(overlapping: merged.range) {
                    if running == width, let done = try await group.next() {
                        tally.merge(done)
                        running -= 1
                    }
                    group.addTask { try await self.tally(region, clippedTo: merged.range, sets: sets) }
                    running += 1
                }
            }
            for try await done in group { tally.merge(done) }
        }
        var mismatches: [Mismatch] = []
        for set in plan.fileSets {
            let (expected, actual) = (expectation.of(set), tally.perSet[set.id, default: KVChecksum()])
            guard actual != expected else { continue }
            let names = set.files.map(\.name).joined(separator: " + ")
            mismatches.append(
                Mismatch(
                    scope: "file \(names)\(set.isPartial ? " (the selected keys)" : "")", expected: expected, actual: actual,
                    tables: set.tableID.map { [$0] } ?? []))
        }
        mismatches += expectation.tableMismatches(actual: tally.perTable)
        if tally.stray.totalKVs > 0 {
            mismatches.append(Mismatch(scope: "keys outside every backup file", expected: KVChecksum(), actual: tally.stray))
        }
        let total = tally.perSet.values.reduce(into: tally.stray) { $0.merge($1) }
        return Report(total: total, expected: expectation.total, mismatches: mismatches)
    }

    /// Reads the part of `merged` in `region` where everything committed is applied (from its
    /// leader; without one, from any live replica: a short read then shows as a mismatch, never
    /// as a match), and tallies it.
    private func tally(_ region: Region, clippedTo merged: KeyRange, sets: SetsByOldKey) async throws -> Tally {
        let leader = try? await cluster.readBarrier(region.id)
        let reader = leader.flatMap { cluster.dataReader(store: $0.storeID) } ?? region.peers.lazy.compactMap { cluster.dataReader(store: $0.storeID) }.first
        guard let store = reader else { return Tally() }
        let part = RestoreEngine.clip(merged, to: region.range)
        return try await BlockingIO.run { try self.tally(store, from: part.start, to: part.end, sets: sets) }
    }

    /// Reads [start, end) of `store` and sorts each pair into its file set and table.
    private func tally(_ store: any StoreDataReader, from start: [UInt8], to end: [UInt8], sets: SetsByOldKey) throws -> Tally {
        var running = RunningTally(sets: sets)
        try scan(store, from: start, to: end) { oldKey, value in running.add(oldKey: oldKey, value: value) }
        CrashPoint.checksum.pass()
        return running.finish()
    }

    /// The sums of one scan. Its keys come in order, so a run of them shares a file set (nil: none)
    /// and a table: the run is summed, then added. Held in one local captured by a non-escaping
    /// closure, as `OldKeys` is: variables captured by local functions were boxed and checked for
    /// exclusive access at run time, on every key.
    private struct RunningTally {
        let sets: SetsByOldKey
        private var tally = Tally()
        private var set: Int?, setSum = KVChecksum(), table: Int64?, tableSum = KVChecksum()
        /// The old range of `set`: while keys stay in it, no set is looked up.
        private var setRange: KeyRange?

        init(sets: SetsByOldKey) { self.sets = sets }

        mutating func add(oldKey: [UInt8], value: UnsafeRawBufferPointer) {
            var sum = KVChecksum()
            oldKey.withUnsafeBytes { sum.add(key: $0, value: value) }
            if setRange?.contains(oldKey) != true {
                let found = sets.set(holding: oldKey)
                if found?.id != set {
                    flushSet()
                    set = found?.id
                }
                setRange = found?.range
            }
            setSum.merge(sum)
            let keyTable = TableCodec.tableID(of: oldKey)
            if keyTable != table {
                flushTable()
                table = keyTable
            }
            tableSum.merge(sum)
        }

        mutating func finish() -> Tally {
            flushSet()
            flushTable()
            return tally
        }

        private mutating func flushSet() {
            if let set { tally.perSet[set, default: KVChecksum()].merge(setSum) } else { tally.stray.merge(setSum) }
            setSum = KVChecksum()
        }

        private mutating func flushTable() {
            if let table { tally.perTable[table, default: KVChecksum()].merge(tableSum) }
            tableSum = KVChecksum()
        }
    }

    /// Undoes the rewrite of each key read back into one buffer, trying the last key's rule first.
    private struct OldKeys {
        let rules: RewriteRules
        private var oldKey: [UInt8] = []
        private var rule: Int?

        init(rules: RewriteRules) { self.rules = rules }

        mutating func undo(_ key: [UInt8]) throws(RewriteError) -> [UInt8] {
            try rules.undoRewriteKey(key, into: &oldKey, hint: &rule)
            return oldKey
        }
    }

    /// Calls `body` with each restored pair in [start, end) (region bounds), as (old user key,
    /// value): the newest version of each key, as a read now sees it.
    private func scan(_ store: any StoreDataReader, from start: [UInt8], to end: [UInt8], _ body: ([UInt8], UnsafeRawBufferPointer) throws -> Void) throws {
        var keys = OldKeys(rules: rules.userRules.unshared())
        do {
            if rules.format == .raw {
                try store.forEachRawPair(from: start, to: end) { key, value in try body(keys.undo(key), value) }
            } else {
                try store.forEachVisibleRow(from: start, to: end, readAt: .max) { key, value in try body(keys.undo(key), value) }
            }
        } catch let missing as MissingValue {
            throw RestoreError.rules("restored \(missing)")
        }
    }
}

/// The file sets in the order of their old (backup) ranges, to find the one holding a key read
/// back. A plan orders its sets by their new ranges, and a rewrite need not keep the order: a
/// table map may give a later table a smaller id.
struct SetsByOldKey: Sendable {
    private let ranges: [KeyRange]
    private let ids: [Int]

    init(_ sets: [FileSet]) {
        let sorted = sets.sorted { keyLess($0.oldRange.start, $1.oldRange.start) }
        ranges = sorted.map(\.oldRange)
        ids = sorted.map(\.id)
    }

    /// The id of the set that holds `oldKey` (the last one starting at or before it), and the keys
    /// that it holds as well: its old range, cut at the next set's start.
    func set(holding oldKey: [UInt8]) -> (id: Int, range: KeyRange)? {
        let after = ranges.partitionPoint { compareKeys($0.start, oldKey) <= 0 }
        guard after > 0, ranges[after - 1].contains(oldKey) else { return nil }
        var range = ranges[after - 1]
        if after < ranges.count, range.end.isEmpty || keyLess(ranges[after].start, range.end) {
            range = KeyRange(start: range.start, end: ranges[after].start)
        }
        return (ids[after - 1], range)
    }
}
