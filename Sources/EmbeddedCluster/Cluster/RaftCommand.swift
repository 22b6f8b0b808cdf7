import KeyCodec
import ClusterAPI

/// What a region's Raft log replicates. Every replica applies the same commands in the same order.
/// Indirect: an entry holds a reference to its command, which the replicas' logs share, and not
/// 48 bytes of it in each (tens of thousands of regions keep a few entries each).
public indirect enum RaftCommand: Codable, Hashable, Sendable {
    /// A new leader's first entry, which commits everything from earlier terms.
    case noop
    /// Ingest downloaded SSTs (every CF of one file set) into the region.
    case ingest(IngestCommand)
    /// Split the region at `splitKeys`; `newRegions` gets the ids for the right-hand parts.
    case split(SplitCommand)
    /// Change one peer of the region (a scatter moves a peer in several such steps).
    case changePeer(ChangePeerCommand)
    /// Truncate the log through `index` (of `term`), as TiKV's CompactLog admin command.
    case compactLog(index: UInt64, term: UInt64)
}

public struct IngestCommand: Codable, Hashable, Sendable {
    public var regionID: UInt64
    public var epoch: RegionEpoch
    public var files: [IngestFile]
}

public struct SplitCommand: Codable, Hashable, Sendable {
    public var regionID: UInt64
    public var epoch: RegionEpoch
    public var splitKeys: [[UInt8]]
    /// For each split key, the new region's id and its peer ids (one per store, in the order of the parent's peers).
    public var newRegions: [NewRegionIDs]

    public struct NewRegionIDs: Codable, Hashable, Sendable {
        public var regionID: UInt64
        public var peerIDs: [UInt64]
    }
}

/// One membership step. A region changes one peer at a time, as TiKV's conf changes do: a new peer
/// joins as a learner, is brought up to date by a snapshot, and only then becomes a voter.
public struct ChangePeerCommand: Codable, Hashable, Sendable {
    public enum Change: Codable, Hashable, Sendable {
        case addLearner(PeerMeta)
        case promoteLearner(peerID: UInt64)
        case removePeer(peerID: UInt64)
    }

    public var regionID: UInt64
    public var epoch: RegionEpoch
    public var change: Change

    /// The region after this change (conf_ver + 1), or nil when it does not apply to `region`.
    func applied(to region: Region) -> Region? {
        var changed = region
        switch change {
        case let .addLearner(meta):
            guard region.peer(id: meta.id) == nil, region.peer(onStore: meta.storeID) == nil else { return nil }
            changed.peers.append(PeerMeta(id: meta.id, storeID: meta.storeID, isLearner: true))
        case let .promoteLearner(id):
            guard let i = region.peers.firstIndex(where: { $0.id == id && $0.isLearner }) else { return nil }
            changed.peers[i].isLearner = false
        case let .removePeer(id):
            guard region.peer(id: id) != nil else { return nil }
            changed.peers.removeAll { $0.id == id }
        }
        changed.epoch.confVer += 1
        return changed
    }
}

public struct RaftEntry: Codable, Hashable, Sendable {
    public var term: UInt64
    public var index: UInt64
    public var command: RaftCommand
}

/// When a region's leader truncates its log, with TiKV's defaults where they fit
/// (tikv components/raftstore/src/store/config.rs): `raft_log_gc_threshold` is 50; TiKV's
/// `raft_log_gc_count_limit` derives from the region size (196,608 entries for 256 MiB regions),
/// ours bounds what a replica on a down store can hold the others to.
enum RaftLogGC {
    static let threshold: UInt64 = 50
    static let countLimit: UInt64 = 1_024
}
