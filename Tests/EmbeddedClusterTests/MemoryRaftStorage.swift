import Synchronization
@testable import KeyCodec
@testable import ClusterAPI
@testable import EmbeddedCluster

/// Raft state in memory, as etcd's `MemoryStorage` (raft/storage.go): for tests that drive the
/// store's loop and then read, or refuse, what it writes. It keeps what it was given as the loop
/// gave it, and the order in which the writes came.
final class MemoryRaftStorage: RaftStateStorage {
    struct Replica {
        var hard: RaftHardState?
        var entries: [UInt64: RaftEntry] = [:]
        var apply: RaftApplyState?
    }

    let storeID: UInt64
    private let replicas = Mutex<[UInt64: Replica]>([:])
    private let history = Mutex<[RaftStateWrite]>([])
    /// While set, every write fails as a full disk does, and nothing is written.
    private let refusal = Mutex<String?>(nil)

    init(storeID: UInt64) { self.storeID = storeID }

    /// Every Raft state write that was accepted, in order.
    var writes: [RaftStateWrite] { history.withLock { $0 } }

    func refuseWrites(_ reason: String?) { refusal.withLock { $0 = reason } }

    private func checkRoom() throws(DatabaseError) {
        if let reason = refusal.withLock({ $0 }) { throw .write(path: "memory of store \(storeID)", reason: "No space left on device: \(reason)") }
    }

    func persist(_ write: RaftStateWrite) async throws(DatabaseError) { try apply(write) }

    func persistNow(_ write: RaftStateWrite) throws { try apply(write) }

    private func apply(_ write: RaftStateWrite) throws(DatabaseError) {
        try checkRoom()
        replicas.withLock { all in
            var replica = all[write.region] ?? Replica()
            for range in write.deletedIndexes {
                for index in range { replica.entries[index] = nil }
            }
            for entry in write.entries { replica.entries[entry.index] = entry }
            if let hard = write.hardState { replica.hard = hard }
            if let apply = write.apply { replica.apply = apply }
            all[write.region] = replica
        }
        history.withLock { $0.append(write) }
    }

    func saveApplyStates(_ states: [RaftApplyState], sync: Bool) throws {
        try checkRoom()
        replicas.withLock { all in
            for state in states { all[state.region.id, default: Replica()].apply = state }
        }
    }

    func destroyRaftState(region: UInt64) throws {
        replicas.withLock { all in
            all[region]?.entries = [:]
            all[region]?.hard = nil
        }
    }

    func applyState(region: UInt64) throws -> RaftApplyState? { replicas.withLock { $0[region]?.apply } }

    func regionViews() throws -> [Region] {
        replicas.withLock { all in all.values.compactMap { $0.apply }.filter { !$0.tombstone }.map(\.region).sorted { $0.id < $1.id } }
    }

    func load(region: UInt64) throws -> SavedRaftState {
        let replica = replicas.withLock { $0[region] } ?? Replica()
        let base = replica.hard?.baseIndex ?? 0
        var entries: [RaftEntry] = []
        for index in replica.entries.keys.sorted() where index > base {
            let expected = base + UInt64(entries.count) + 1
            guard index == expected else {
                throw RaftRecords.Malformed.gap(region: region, store: storeID, entry: index, follows: expected - 1)
            }
            entries.append(replica.entries[index]!)
        }
        return SavedRaftState(hard: replica.hard, entries: entries, apply: replica.apply)
    }
}
