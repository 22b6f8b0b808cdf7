import Foundation
import KeyCodec
import ClusterAPI

/// Where a store keeps its replicas' Raft state, beside the data in the `default` CF under local
/// keys (`0x01` prefix, below every `z` data key), in protobuf (proto/raftstore.proto): log
/// entries, the hard state, and the apply state with the replica's view of its region. Log and hard
/// state writes are synced: Raft acknowledges only what is on disk. The applied index is saved
/// with the region, so a reopened store does not apply an entry twice.
struct RaftStorage {
    let store: Store

    struct HardState: Equatable {
        var term: UInt64
        var votedFor: UInt64?
        var baseIndex: UInt64
        var baseTerm: UInt64
    }

    struct ApplyState: Equatable {
        var applied: UInt64
        var region: Region
        var tombstone: Bool
        /// The replica lacks data that a snapshot must bring; it must not lead until repaired.
        var needsRepair = false
        /// The peer it belongs to (0 for a state written before peers were named).
        var peerID: UInt64 = 0

        /// True when this state is of `peer`, not of an earlier peer of the region on this store.
        func belongs(to peer: UInt64) -> Bool { peerID == 0 || peerID == peer }
    }

    static func key(_ region: UInt64, _ suffix: UInt8, _ index: UInt64? = nil) -> [UInt8] {
        var k: [UInt8] = [0x01, 0x02]
        withUnsafeBytes(of: region.bigEndian) { k.append(contentsOf: $0) }
        k.append(suffix)
        if let index { withUnsafeBytes(of: index.bigEndian) { k.append(contentsOf: $0) } }
        return k
    }

    static let entrySuffix: UInt8 = 0x01
    static let hardStateSuffix: UInt8 = 0x02
    static let applySuffix: UInt8 = 0x03

    /// Appends `entries` and deletes the stored entries after them up to `staleThrough` (a suffix
    /// that a conflict or a snapshot replaced) and those in `truncated` (below a new base), with
    /// the hard state and, after a snapshot, the apply state, in one synced write.
    func save(region: UInt64, hardState: HardState?, entries: [RaftEntry], lastIndex: UInt64, staleThrough: UInt64, truncated: ClosedRange<UInt64>? = nil, apply: ApplyState? = nil) throws {
        try store.db.write(Self.batch(region: region, hardState: hardState, entries: entries, lastIndex: lastIndex, staleThrough: staleThrough, truncated: truncated, apply: apply), sync: true)
    }

    /// The write that `save` makes, for the store's `RaftLogWriter` to sync with others.
    static func batch(
        region: UInt64, hardState: HardState?, entries: [RaftEntry], lastIndex: UInt64, staleThrough: UInt64, truncated: ClosedRange<UInt64>? = nil, apply: ApplyState? = nil
    ) throws -> WriteBatch {
        var batch = WriteBatch()
        if lastIndex < staleThrough {
            for index in (lastIndex + 1)...staleThrough { batch.delete(Self.key(region, Self.entrySuffix, index)) }
        }
        if let truncated {
            for index in truncated { batch.delete(Self.key(region, Self.entrySuffix, index)) }
        }
        for entry in entries { batch.put(Self.key(region, Self.entrySuffix, entry.index), try RaftRecords.encode(entry)) }
        if let hardState { batch.put(Self.key(region, Self.hardStateSuffix), try RaftRecords.encode(hardState)) }
        if let apply { batch.put(Self.key(region, Self.applySuffix), try RaftRecords.encode(apply)) }
        return batch
    }

    /// Every live region this store holds a replica of, as the replica last applied it.
    func regionViews() throws -> [Region] {
        var views: [Region] = []
        try store.db.scan(cf: .default, from: [0x01, 0x02]) { key, value in
            guard key.count >= 2, key[0] == 0x01, key[1] == 0x02 else { return false }
            if key.count == 11, key[10] == Self.applySuffix {
                let state = try RaftRecords.decodeApplyState(value)
                if !state.tombstone { views.append(state.region) }
            }
            return true
        }
        return views
    }

    func saveApplyState(_ state: ApplyState, sync: Bool = false) throws {
        if let pressure = store.diskPressure() { throw DatabaseError.write(path: store.db.path, reason: "No space left on device: \(pressure)") }
        var batch = WriteBatch()
        batch.put(Self.key(state.region.id, Self.applySuffix), try RaftRecords.encode(state))
        try store.db.write(batch, sync: sync)
    }

    /// Deletes a removed peer's log and hard state, so that a new peer of the region on this
    /// store starts from nothing of it.
    func destroyRaftState(region: UInt64) throws {
        try store.db.deleteRange(Self.key(region, Self.entrySuffix), Self.key(region, Self.entrySuffix + 1), cf: .default)
        var batch = WriteBatch()
        batch.delete(Self.key(region, Self.hardStateSuffix))
        try store.db.write(batch, sync: true)
    }

    /// `0x01 0x04 uuid 0x00 BE(entry)`: the SST `uuid` was ingested by the Raft entry at that
    /// index. More than one key for a uuid would mean it was ingested twice.
    static func ingestedPrefix(_ uuid: String) -> [UInt8] { [0x01, 0x04] + Array(uuid.utf8) + [0x00] }

    /// The key range of every apply record.
    static let ingestedRecordsStart: [UInt8] = [0x01, 0x04]
    static let ingestedRecordsEnd: [UInt8] = [0x01, 0x05]

    /// Writes the apply record of ingests (a key per uuid and the entry that ingests it, see
    /// `ingestedPrefix`) into an SST at `path`. It is ingested in the same atomic ingest as the
    /// data, so after a crash the DB holds the data and its record, or neither.
    static func writeIngestRecord(_ applies: [(uuids: [String], entry: UInt64)], to path: String) throws {
        unlink(path)
        let writer = try SSTWriter(path: path)
        let keys = Set(applies.flatMap { apply in apply.uuids.map { ingestedPrefix($0) + withUnsafeBytes(of: apply.entry.bigEndian, Array.init) } })
        for key in keys.sorted(by: keyLess) { try writer.put(key: key, value: []) }
        _ = try writer.finish()
    }

    /// The index of the entry that ingested `uuid`, or nil when none did.
    func ingestingEntry(uuid: String) throws -> UInt64? {
        let prefix = Self.ingestedPrefix(uuid)
        var found: UInt64?
        try store.db.scan(cf: .default, from: prefix) { key, _ in
            guard key.count == prefix.count + 8, key.starts(with: prefix) else { return false }
            found = key.suffix(8).reduce(0) { $0 << 8 | UInt64($1) }
            return false
        }
        return found
    }

    func wasIngested(uuid: String) -> Bool { ((try? ingestingEntry(uuid: uuid)) ?? nil) != nil }

    /// How many entries ingested each SST this store holds: 1 for every uuid, unless one was
    /// ingested twice.
    func ingestCounts() throws -> [String: Int] {
        var counts: [String: Int] = [:]
        try store.db.scan(cf: .default, from: [0x01, 0x04]) { key, _ in
            guard key.count > 11, key[0] == 0x01, key[1] == 0x04 else { return false }
            counts[String(decoding: key.dropFirst(2).dropLast(9), as: UTF8.self), default: 0] += 1
            return true
        }
        return counts
    }

    struct Saved {
        var hard: HardState?
        var entries: [RaftEntry]
        var apply: ApplyState?
    }

    /// The replica's apply state alone, without its log.
    func applyState(region: UInt64) throws -> ApplyState? {
        try store.db.get(Self.key(region, Self.applySuffix)).map(RaftRecords.decodeApplyState)
    }

    /// The replica's saved state. The log must run without a gap from the snapshot base on.
    func load(region: UInt64) throws -> Saved {
        let hard = try store.db.get(Self.key(region, Self.hardStateSuffix)).map(RaftRecords.decodeHardState)
        let apply = try applyState(region: region)
        let base = hard?.baseIndex ?? 0
        var entries: [RaftEntry] = []
        let prefix = Self.key(region, Self.entrySuffix)
        // Only what is kept is read: entries below the base (left by a store of an earlier
        // version, which never deleted them) are not even visited.
        try store.db.scan(cf: .default, from: Self.key(region, Self.entrySuffix, base + 1)) { k, v in
            guard k.starts(with: prefix) else { return false }
            let entry = try RaftRecords.decodeEntry(v)
            // Entries at or below the base were replaced by a snapshot.
            guard entry.index > base else { return true }
            let expected = base + UInt64(entries.count) + 1
            guard entry.index == expected else {
                throw RaftRecords.Malformed(description: "the Raft log of region \(region) on store \(store.id) has a gap: entry \(entry.index) follows \(expected - 1)")
            }
            entries.append(entry)
            return true
        }
        return Saved(hard: hard, entries: entries, apply: apply)
    }
}
