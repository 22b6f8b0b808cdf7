import Foundation
import KeyCodec
import ClusterAPI

/// The Raft state of one replica as `RocksRaftStorage` keeps it, in protobuf (proto/raftstore.proto).
/// Decoding checks what the schema cannot: a known column family, a command present.
enum RaftRecords {
    struct Malformed: Error, CustomStringConvertible {
        var description: String

        /// A stored log must run without a gap from its base: whatever keeps it says so alike.
        static func gap(region: UInt64, store: UInt64, entry: UInt64, follows: UInt64) -> Malformed {
            Malformed(description: "the Raft log of region \(region) on store \(store) has a gap: entry \(entry) follows \(follows)")
        }
    }

    static func encode(_ entry: RaftEntry) throws -> [UInt8] {
        var e = Raftstore_Entry()
        e.term = entry.term
        e.index = entry.index
        switch entry.command {
        case .noop: e.noop = Raftstore_Noop()
        case let .ingest(cmd):
            var m = Raftstore_IngestCommand()
            m.regionID = cmd.regionID
            m.epoch = record(cmd.epoch)
            m.files = cmd.files.map { file in
                var f = Raftstore_IngestFile()
                f.uuid = file.uuid
                f.cf = file.cf.rawValue
                f.range = record(file.range)
                return f
            }
            e.ingest = m
        case let .split(cmd):
            var m = Raftstore_SplitCommand()
            m.regionID = cmd.regionID
            m.epoch = record(cmd.epoch)
            m.splitKeys = cmd.splitKeys.map { Data($0) }
            m.newRegions = cmd.newRegions.map { ids in
                var n = Raftstore_SplitCommand.NewRegion()
                n.regionID = ids.regionID
                n.peerIds = ids.peerIDs
                return n
            }
            e.split = m
        case let .changePeer(cmd):
            var m = Raftstore_ChangePeerCommand()
            m.regionID = cmd.regionID
            m.epoch = record(cmd.epoch)
            switch cmd.change {
            case let .addLearner(peer):
                m.kind = .addLearner
                m.peer = record(peer)
            case let .promoteLearner(id):
                m.kind = .promoteLearner
                m.peer.id = id
            case let .removePeer(id):
                m.kind = .removePeer
                m.peer.id = id
            }
            e.changePeer = m
        case let .compactLog(index, term):
            var m = Raftstore_CompactLogCommand()
            m.index = index
            m.term = term
            e.compactLog = m
        }
        return try [UInt8](e.serializedData())
    }

    static func decodeEntry(_ bytes: some Collection<UInt8>) throws -> RaftEntry {
        let e = try Raftstore_Entry(serializedBytes: Array(bytes))
        let command: RaftCommand
        switch e.command {
        case .noop: command = .noop
        case let .ingest(m):
            let files = try m.files.map { f in
                guard let cf = ColumnFamily(rawValue: f.cf) else { throw Malformed(description: "entry \(e.index): unknown column family \(f.cf)") }
                return IngestFile(uuid: f.uuid, cf: cf, range: value(f.range))
            }
            command = .ingest(IngestCommand(regionID: m.regionID, epoch: value(m.epoch), files: files))
        case let .split(m):
            command = .split(SplitCommand(
                regionID: m.regionID, epoch: value(m.epoch), splitKeys: m.splitKeys.map { [UInt8]($0) },
                newRegions: m.newRegions.map { .init(regionID: $0.regionID, peerIDs: $0.peerIds) }))
        case let .changePeer(m):
            let change: ChangePeerCommand.Change
            switch m.kind {
            case .addLearner: change = .addLearner(value(m.peer))
            case .promoteLearner: change = .promoteLearner(peerID: m.peer.id)
            case .removePeer: change = .removePeer(peerID: m.peer.id)
            case let .UNRECOGNIZED(kind): throw Malformed(description: "entry \(e.index): unknown peer change \(kind)")
            }
            command = .changePeer(ChangePeerCommand(regionID: m.regionID, epoch: value(m.epoch), change: change))
        case let .compactLog(m):
            command = .compactLog(index: m.index, term: m.term)
        case nil:
            throw Malformed(description: "entry \(e.index) has no command")
        }
        return RaftEntry(term: e.term, index: e.index, command: command)
    }

    static func encode(_ state: RaftHardState) throws -> [UInt8] {
        var m = Raftstore_HardState()
        m.term = state.term
        m.votedFor = state.votedFor ?? 0
        m.baseIndex = state.baseIndex
        m.baseTerm = state.baseTerm
        return try [UInt8](m.serializedData())
    }

    static func decodeHardState(_ bytes: some Collection<UInt8>) throws -> RaftHardState {
        let m = try Raftstore_HardState(serializedBytes: Array(bytes))
        return RaftHardState(term: m.term, votedFor: m.votedFor == 0 ? nil : m.votedFor, baseIndex: m.baseIndex, baseTerm: m.baseTerm)
    }

    static func encode(_ state: RaftApplyState) throws -> [UInt8] {
        var m = Raftstore_ApplyState()
        m.applied = state.applied
        m.region = record(state.region)
        m.tombstone = state.tombstone
        m.needsRepair = state.needsRepair
        m.peerID = state.peerID
        return try [UInt8](m.serializedData())
    }

    static func decodeApplyState(_ bytes: some Collection<UInt8>) throws -> RaftApplyState {
        let m = try Raftstore_ApplyState(serializedBytes: Array(bytes))
        return RaftApplyState(applied: m.applied, region: value(m.region), tombstone: m.tombstone, needsRepair: m.needsRepair, peerID: m.peerID)
    }

    // MARK: small types

    private static func record(_ epoch: RegionEpoch) -> Raftstore_Epoch {
        var m = Raftstore_Epoch()
        m.confVer = epoch.confVer
        m.version = epoch.version
        return m
    }

    private static func value(_ m: Raftstore_Epoch) -> RegionEpoch { RegionEpoch(confVer: m.confVer, version: m.version) }

    private static func record(_ peer: PeerMeta) -> Raftstore_Peer {
        var m = Raftstore_Peer()
        m.id = peer.id
        m.storeID = peer.storeID
        m.isLearner = peer.isLearner
        return m
    }

    private static func value(_ m: Raftstore_Peer) -> PeerMeta { PeerMeta(id: m.id, storeID: m.storeID, isLearner: m.isLearner) }

    private static func record(_ range: KeyRange) -> Raftstore_KeyRange {
        var m = Raftstore_KeyRange()
        m.start = Data(range.start)
        m.end = Data(range.end)
        m.endInclusive = range.endInclusive
        return m
    }

    private static func value(_ m: Raftstore_KeyRange) -> KeyRange { KeyRange(start: [UInt8](m.start), end: [UInt8](m.end), endInclusive: m.endInclusive) }

    private static func record(_ region: Region) -> Raftstore_Region {
        var m = Raftstore_Region()
        m.id = region.id
        m.startKey = Data(region.startKey)
        m.endKey = Data(region.endKey)
        m.epoch = record(region.epoch)
        m.peers = region.peers.map(record)
        return m
    }

    private static func value(_ m: Raftstore_Region) -> Region {
        Region(id: m.id, startKey: [UInt8](m.startKey), endKey: [UInt8](m.endKey), epoch: value(m.epoch), peers: m.peers.map(value))
    }
}
