import KeyCodec

/// The checksum of one region's part of the restored data, as BR asks TiKV's coprocessor for it: a
/// `tipb.ChecksumRequest` in a `coprocessor.Request` of type 105 to the region's leader (tidb
/// br/pkg/checksum/executor.go; tikv src/coprocessor/endpoint.rs and checksum.rs). The store reads
/// the pairs visible at `readTS` in `ranges`, swaps each key's `newPrefix` back for `oldPrefix`,
/// and folds them into crc64 xor, kvs and bytes: the backup's own figures for those keys.
public struct RegionChecksumRequest: Sendable, Equatable {
    /// What the ranges hold: TiKV only labels its metrics with it.
    public enum ScanOn: Sendable, Equatable {
        case table
        case index
    }

    public var regionID: UInt64
    public var epoch: RegionEpoch
    /// The peer that is asked: the leader, as the client last saw it.
    public var peer: PeerMeta
    /// User keys, not encoded, [start, end) with an empty end unbounded: inside the region.
    public var ranges: [KeyRange]
    /// The snapshot's timestamp: a version newer than this is not read.
    public var readTS: UInt64
    public var oldPrefix: [UInt8]
    public var newPrefix: [UInt8]
    public var scanOn: ScanOn

    public init(
        regionID: UInt64, epoch: RegionEpoch, peer: PeerMeta, ranges: [KeyRange], readTS: UInt64, oldPrefix: [UInt8], newPrefix: [UInt8],
        scanOn: ScanOn
    ) {
        self.regionID = regionID
        self.epoch = epoch
        self.peer = peer
        self.ranges = ranges
        self.readTS = readTS
        self.oldPrefix = oldPrefix
        self.newPrefix = newPrefix
        self.scanOn = scanOn
    }
}

/// A cluster whose stores take a region's checksum where the data is: TiKV's coprocessor over the
/// wire, the embedded stores in process.
public protocol RegionChecksumming: ClusterClient {
    /// The checksum on the store of `request.peer`. A region error (NotLeader, EpochNotMatch,
    /// KeyNotInRegion, a store down) is `.region`, to retry after refreshing the route.
    func checksum(_ request: RegionChecksumRequest) async throws(ImportError) -> KVChecksum
}

extension RegionChecksumRequest {
    /// Folds one visible pair into `sum` as TiKV's checksum does: `crc64(old prefix ‖ key after the
    /// new prefix ‖ value)`, its bytes counted with the old prefix. False when the key lies outside
    /// the new prefix (TiKV fails the request: "Wrong prefix expect").
    public func add(key: [UInt8], value: UnsafeRawBufferPointer, to sum: inout KVChecksum) -> Bool {
        guard key.starts(with: newPrefix) else { return false }
        (oldPrefix + key[newPrefix.count...]).withUnsafeBytes { sum.add(key: $0, value: value) }
        return true
    }
}
