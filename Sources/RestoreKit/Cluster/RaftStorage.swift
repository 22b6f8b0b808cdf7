import Foundation

/// Where a store keeps its replicas' Raft state, beside the data in the `default` CF under local
/// keys (`0x01` prefix, below every `z` data key): log entries, the hard state, and the apply state
/// with the replica's view of its region. The applied index is saved with the region, so a
/// reopened store does not apply an entry twice.
struct RaftStorage {
    let store: Store

    struct HardState: Codable {
        var term: UInt64
        var votedFor: UInt64?
        var baseIndex: UInt64
        var baseTerm: UInt64
    }

    struct ApplyState: Codable {
        var applied: UInt64
        var region: Region
        var tombstone: Bool
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

    func save(region: UInt64, hardState: HardState?, entries: [RaftEntry]) throws {
        var batch = WriteBatch()
        let encoder = JSONEncoder()
        for entry in entries { batch.put(Self.key(region, Self.entrySuffix, entry.index), [UInt8](try encoder.encode(entry))) }
        if let hardState { batch.put(Self.key(region, Self.hardStateSuffix), [UInt8](try encoder.encode(hardState))) }
        try store.db.write(batch, sync: false)
    }

    func saveApplyState(_ state: ApplyState) throws {
        var batch = WriteBatch()
        batch.put(Self.key(state.region.id, Self.applySuffix), [UInt8](try JSONEncoder().encode(state)))
        try store.db.write(batch, sync: false)
    }

    static func ingestedKey(_ uuid: String) -> [UInt8] { [0x01, 0x04] + Array(uuid.utf8) }

    /// Records that these SSTs were ingested, so a replay knows a missing file means "done".
    func markIngested(uuids: [String]) throws {
        var batch = WriteBatch()
        for uuid in uuids { batch.put(Self.ingestedKey(uuid), [1]) }
        try store.db.write(batch, sync: false)
    }

    func wasIngested(uuid: String) -> Bool {
        ((try? store.db.get(Self.ingestedKey(uuid))) ?? nil) != nil
    }

    func load(region: UInt64) throws -> (hard: HardState?, entries: [RaftEntry], apply: ApplyState?) {
        let decoder = JSONDecoder()
        let hard = try store.db.get(Self.key(region, Self.hardStateSuffix)).map { try decoder.decode(HardState.self, from: Data($0)) }
        let apply = try store.db.get(Self.key(region, Self.applySuffix)).map { try decoder.decode(ApplyState.self, from: Data($0)) }
        var entries: [RaftEntry] = []
        let prefix = Self.key(region, Self.entrySuffix)
        try store.db.scan(cf: .default, from: prefix) { k, v in
            guard k.starts(with: prefix) else { return false }
            entries.append(try decoder.decode(RaftEntry.self, from: Data(v)))
            return true
        }
        // Entries at or below the base were replaced by a snapshot.
        let base = hard?.baseIndex ?? 0
        return (hard, entries.filter { $0.index > base }, apply)
    }
}
