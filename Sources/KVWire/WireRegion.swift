import ClusterAPI
import KVProto

// Regions, peers and epochs as metapb carries them. Region bounds are encoded keys without `z` on
// both sides, as PD and TiKV keep them.

extension RegionEpoch {
    public init(_ wire: Metapb_RegionEpoch) { self.init(confVer: wire.confVer, version: wire.version) }

    public var wire: Metapb_RegionEpoch {
        var epoch = Metapb_RegionEpoch()
        epoch.confVer = confVer
        epoch.version = version
        return epoch
    }
}

extension PeerMeta {
    public init(_ wire: Metapb_Peer) { self.init(id: wire.id, storeID: wire.storeID, isLearner: wire.role == .learner) }

    public var wire: Metapb_Peer {
        var peer = Metapb_Peer()
        peer.id = id
        peer.storeID = storeID
        peer.role = isLearner ? .learner : .voter
        return peer
    }
}

extension Region {
    public init(_ wire: Metapb_Region) {
        self.init(id: wire.id, startKey: Array(wire.startKey), endKey: Array(wire.endKey), epoch: RegionEpoch(wire.regionEpoch), peers: wire.peers.map(PeerMeta.init))
    }

    public var wire: Metapb_Region {
        var region = Metapb_Region()
        region.id = id
        region.startKey = .init(startKey)
        region.endKey = .init(endKey)
        region.regionEpoch = epoch.wire
        region.peers = peers.map(\.wire)
        return region
    }
}
