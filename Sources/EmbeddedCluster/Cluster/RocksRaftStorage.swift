import Foundation
import KeyCodec
import ClusterAPI

/// The store's Raft state beside its data in the `default` CF, under local keys (`0x01` prefix,
/// below every `z` data key), in protobuf (proto/raftstore.proto): log entries, the hard state,
/// and the apply state with the replica's view of its region. Log and hard state writes are
/// synced: Raft acknowledges only what is on disk. The applied index is saved with the region,
/// so a reopened store does not apply an entry twice.
struct RocksRaftStorage: RaftStateStorage {
    let db: RocksDatabase
    let storeID: UInt64
    /// Syncs the writes of all the store's regions together.
    let writer: RaftLogWriter
    /// Why the disk cannot take writes now (below the store's reserve), or nil.
    let pressure: @Sendable () -> String?

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

    func persist(_ write: RaftStateWrite) async throws(DatabaseError) {
        let batch: WriteBatch
        do { batch = try Self.batch(write) } catch {
            throw .write(path: db.path, reason: "cannot encode the Raft log of region \(write.region): \(error)")
        }
        try await writer.write(batch)
    }

    func persistNow(_ write: RaftStateWrite) throws {
        try db.write(Self.batch(write), sync: true)
    }

    static func batch(_ write: RaftStateWrite) throws -> WriteBatch {
        var batch = WriteBatch()
        for range in write.deletedIndexes {
            for index in range { batch.delete(Self.key(write.region, Self.entrySuffix, index)) }
        }
        for entry in write.entries { batch.put(Self.key(write.region, Self.entrySuffix, entry.index), try RaftRecords.encode(entry)) }
        if let hardState = write.hardState { batch.put(Self.key(write.region, Self.hardStateSuffix), try RaftRecords.encode(hardState)) }
        if let apply = write.apply { batch.put(Self.key(write.region, Self.applySuffix), try RaftRecords.encode(apply)) }
        return batch
    }

    func regionViews() throws -> [Region] {
        var views: [Region] = []
        try db.scan(cf: .default, from: [0x01, 0x02]) { key, value in
            guard key.count >= 2, key[0] == 0x01, key[1] == 0x02 else { return false }
            if key.count == 11, key[10] == Self.applySuffix {
                let state = try RaftRecords.decodeApplyState(value)
                if !state.tombstone { views.append(state.region) }
            }
            return true
        }
        return views
    }

    func saveApplyStates(_ states: [RaftApplyState], sync: Bool) throws {
        if let pressure = pressure() { throw DatabaseError.write(path: db.path, reason: "No space left on device: \(pressure)") }
        var batch = WriteBatch()
        for state in states { batch.put(Self.key(state.region.id, Self.applySuffix), try RaftRecords.encode(state)) }
        try db.write(batch, sync: sync)
    }

    func destroyRaftState(region: UInt64) throws {
        try db.deleteRange(Self.key(region, Self.entrySuffix), Self.key(region, Self.entrySuffix + 1), cf: .default)
        var batch = WriteBatch()
        batch.delete(Self.key(region, Self.hardStateSuffix))
        try db.write(batch, sync: true)
    }

    func applyState(region: UInt64) throws -> RaftApplyState? {
        try db.get(Self.key(region, Self.applySuffix)).map(RaftRecords.decodeApplyState)
    }

    func load(region: UInt64) throws -> SavedRaftState {
        let hard = try db.get(Self.key(region, Self.hardStateSuffix)).map(RaftRecords.decodeHardState)
        let apply = try applyState(region: region)
        let base = hard?.baseIndex ?? 0
        var entries: [RaftEntry] = []
        let prefix = Self.key(region, Self.entrySuffix)
        // Only what is kept is read: entries below the base (left by a store of an earlier
        // version, which never deleted them) are not even visited.
        try db.scan(cf: .default, from: Self.key(region, Self.entrySuffix, base + 1)) { k, v in
            guard k.starts(with: prefix) else { return false }
            let entry = try RaftRecords.decodeEntry(v)
            // Entries at or below the base were replaced by a snapshot.
            guard entry.index > base else { return true }
            let expected = base + UInt64(entries.count) + 1
            guard entry.index == expected else {
                throw RaftRecords.Malformed.gap(region: region, store: storeID, entry: entry.index, follows: expected - 1)
            }
            entries.append(entry)
            return true
        }
        return SavedRaftState(hard: hard, entries: entries, apply: apply)
    }
}
