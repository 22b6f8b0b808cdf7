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

    /// Every live region this store holds a replica of, as the replica last applied it.
    func regionViews() throws -> [Region] {
        var views: [Region] = []
        let decoder = JSONDecoder()
        try store.db.scan(cf: .default, from: [0x01, 0x02]) { key, value in
            guard key.count >= 2, key[0] == 0x01, key[1] == 0x02 else { return false }
            if key.count == 11, key[10] == Self.applySuffix, let state = try? decoder.decode(ApplyState.self, from: Data(value)), !state.tombstone {
                views.append(state.region)
            }
            return true
        }
        return views
    }

    func saveApplyState(_ state: ApplyState) throws {
        var batch = WriteBatch()
        batch.put(Self.key(state.region.id, Self.applySuffix), [UInt8](try JSONEncoder().encode(state)))
        try store.db.write(batch, sync: false)
    }

    /// `0x01 0x04 uuid 0x00 BE(entry)`: the SST `uuid` was ingested by the Raft entry at that
    /// index. More than one key for a uuid would mean it was ingested twice.
    static func ingestedPrefix(_ uuid: String) -> [UInt8] { [0x01, 0x04] + Array(uuid.utf8) + [0x00] }

    /// Records that these SSTs are ingested by the entry at `entry`.
    func markIngested(uuids: [String], entry: UInt64) throws {
        var batch = WriteBatch()
        for uuid in uuids { batch.put(Self.ingestedPrefix(uuid) + withUnsafeBytes(of: entry.bigEndian, Array.init), []) }
        try store.db.write(batch, sync: false)
    }

    /// The index of the entry that ingested `uuid`, or nil when none did.
    func ingestingEntry(uuid: String) -> UInt64? {
        let prefix = Self.ingestedPrefix(uuid)
        var found: UInt64?
        try? store.db.scan(cf: .default, from: prefix) { key, _ in
            guard key.count == prefix.count + 8, key.starts(with: prefix) else { return false }
            found = key.suffix(8).reduce(0) { $0 << 8 | UInt64($1) }
            return false
        }
        return found
    }

    func wasIngested(uuid: String) -> Bool { ingestingEntry(uuid: uuid) != nil }

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
