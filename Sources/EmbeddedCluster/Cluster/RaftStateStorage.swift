import KeyCodec
import ClusterAPI

/// Where a store keeps its replicas' Raft state, as the store's loop uses it: etcd's `Storage`
/// (raft/storage.go) with the writes the loop makes. `RaftPeer` never touches it; `RaftGroup`
/// loads a replica from it and writes every Ready to it, synced, before the Ready's messages go
/// out. The store's is `RocksRaftStorage`; tests drive the loop over one in memory.
protocol RaftStateStorage: Sendable {
    /// The replica's saved state. The log runs without a gap from the snapshot base on.
    func load(region: UInt64) throws -> SavedRaftState
    /// The replica's apply state alone, without its log.
    func applyState(region: UInt64) throws -> RaftApplyState?
    /// Every live region this store holds a replica of, as the replica last applied it.
    func regionViews() throws -> [Region]
    /// Writes `write` synced, together with the writes of other regions that wait (group commit).
    func persist(_ write: RaftStateWrite) async throws(DatabaseError)
    /// Writes `write` synced, at once.
    func persistNow(_ write: RaftStateWrite) throws
    /// Saves apply states in one write (a split's children: one write, not one each); `sync` when
    /// they must survive a crash on their own.
    func saveApplyStates(_ states: [RaftApplyState], sync: Bool) throws
    /// Deletes a removed peer's log and hard state, so that a new peer of the region on this
    /// store starts from nothing of it.
    func destroyRaftState(region: UInt64) throws
}

extension RaftStateStorage {
    func saveApplyState(_ state: RaftApplyState, sync: Bool = false) throws { try saveApplyStates([state], sync: sync) }
}

/// What Raft must remember across a restart: the term, the vote, and the snapshot base.
struct RaftHardState: Equatable, Sendable {
    var term: UInt64
    var votedFor: UInt64?
    var baseIndex: UInt64
    var baseTerm: UInt64
}

/// How far a replica applied its log, with its view of the region at that point.
struct RaftApplyState: Equatable, Sendable {
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

/// A replica's state as a store held it when the replica started.
struct SavedRaftState: Sendable {
    var hard: RaftHardState?
    var entries: [RaftEntry]
    var apply: RaftApplyState?
}

/// One write of a replica's Raft state: `entries` appended, the stored entries in
/// `lastIndex + 1 ... staleThrough` (a suffix that a conflict or a snapshot replaced) and in
/// `truncated` (below a new base) deleted, with the hard state and, after a snapshot, the apply
/// state.
struct RaftStateWrite: Sendable {
    var region: UInt64
    var hardState: RaftHardState?
    var entries: [RaftEntry]
    var lastIndex: UInt64
    var staleThrough: UInt64
    var truncated: ClosedRange<UInt64>? = nil
    var apply: RaftApplyState? = nil

    /// The stored entry indexes that this write deletes.
    var deletedIndexes: [ClosedRange<UInt64>] {
        var ranges: [ClosedRange<UInt64>] = []
        if lastIndex < staleThrough { ranges.append((lastIndex + 1)...staleThrough) }
        if let truncated { ranges.append(truncated) }
        return ranges
    }
}

extension RaftStateWrite {
    /// What `ready` asks to be persisted for `region`.
    init(region: UInt64, ready: RaftReady, apply: RaftApplyState? = nil) {
        self.init(region: region, hardState: ready.hardState, entries: ready.entries, lastIndex: ready.lastIndex, staleThrough: ready.staleThrough, truncated: ready.truncated, apply: apply)
    }
}
