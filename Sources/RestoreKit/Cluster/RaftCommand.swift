/// What a region's Raft log replicates. Every replica applies the same commands in the same order.
public enum RaftCommand: Codable, Hashable, Sendable {
    /// A new leader's first entry, which commits everything from earlier terms.
    case noop
    /// Ingest downloaded SSTs (every CF of one file set) into the region.
    case ingest(IngestCommand)
    /// Split the region at `splitKeys`; `newRegions` gets the ids for the right-hand parts.
    case split(SplitCommand)
    /// Replace the region's peers (a scatter move).
    case changePeers(ChangePeersCommand)
}

/// One SST to ingest, as the importer saved it: `{uuid}_{region}_{conf_ver}_{version}_{cf}.sst`.
public struct IngestFile: Codable, Hashable, Sendable {
    public var uuid: String
    public var cf: ColumnFamily
    /// Rewritten keys, encoded, without `z`, inclusive.
    public var range: KeyRange

    public init(uuid: String, cf: ColumnFamily, range: KeyRange) {
        self.uuid = uuid
        self.cf = cf
        self.range = range
    }

    /// The file's name in a store's import directory.
    public func fileName(regionID: UInt64, epoch: RegionEpoch) -> String {
        "\(uuid)_\(regionID)_\(epoch.confVer)_\(epoch.version)_\(cf.name).sst"
    }
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

public struct ChangePeersCommand: Codable, Hashable, Sendable {
    public var regionID: UInt64
    public var epoch: RegionEpoch
    public var peers: [PeerMeta]
}

public struct RaftEntry: Codable, Hashable, Sendable {
    public var term: UInt64
    public var index: UInt64
    public var command: RaftCommand
}
