import Foundation
import KeyCodec

/// The one seam between the restore driver and a cluster. Its operations have the shapes of
/// kvproto's: from PD, the stores and regions, split and scatter; from each store, Download,
/// (multi-)Ingest, SetDownloadSpeedLimit and SwitchMode. Errors are typed as errorpb's
/// (`RegionError`) and import_sstpb's (`ImportError`). The embedded cluster implements it in
/// process; a remote implementation speaks the same operations over gRPC.
public protocol ClusterClient: ClusterSurvey {
    // MARK: PD

    /// GetRegionByID, from the client's view (which may be stale).
    func region(id: UInt64) async -> Region?
    /// GetRegion: the region that holds `key` (encoded, without `z`).
    func region(containing key: [UInt8]) async -> Region?
    /// The region as the cluster sees it now, after an EpochNotMatch or a NotLeader.
    func refreshRegion(id: UInt64) async -> Region?
    /// The region's leader, if it has one now.
    func leader(of regionID: UInt64) async -> PeerMeta?
    /// Waits until the region has a leader.
    func waitForLeader(of regionID: UInt64, timeout: Duration) async throws(RegionError) -> PeerMeta
    /// Splits whichever regions hold `keys` (SplitRegion on each one's leader), so that every key
    /// becomes a region boundary. Returns the new regions. `rawKeys`: the keys are raw (a raw
    /// backup), not memcomparable-encoded, so TiKV must not encode them again.
    func split(at keys: [[UInt8]], rawKeys: Bool) async throws(RegionError) -> [Region]
    /// Spreads the regions' peers and leaders over the stores (ScatterRegion), and waits for the
    /// operators to finish (GetOperator), up to a cap: a scatter that does not finish is a warning.
    func scatter(_ regionIDs: [UInt64]) async throws(RegionError)

    // MARK: each store's ImportSST

    func download(_ request: DownloadRequest, on store: UInt64) async throws(ImportError) -> DownloadResponse
    /// BatchDownload: `request.batch`'s files, each rewritten for the region, merged into one SST
    /// (tikv src/import/sst_service.rs `batch_download`). One bad file fails the whole batch.
    func batchDownload(_ request: DownloadRequest, on store: UInt64) async throws(ImportError) -> DownloadResponse
    /// True when the store takes BatchDownload (a TiKV before v8.5.5 answers UNIMPLEMENTED).
    func offersBatchDownload(store: UInt64) -> Bool
    /// MultiIngest on the region's leader.
    func ingest(_ request: IngestRequest, on store: UInt64) async throws(ImportError)
    func setDownloadSpeedLimit(_ bytesPerSecond: UInt64, on store: UInt64) async
    func switchMode(_ mode: ImportMode, on store: UInt64) async throws(ImportError)
    /// What the store's importer has downloaded, and its rate limit.
    func traffic(of store: UInt64) -> StoreTraffic?
}

/// What a restore's plan and prechecks read of a cluster before anything is written; none of it
/// writes. A cluster client offers it, and so does a read-only look at an embedded cluster's
/// directory, for a dry run.
public protocol ClusterSurvey: Sendable {
    /// Where the cluster is, for the console's header: an embedded directory or a PD address.
    var location: String { get }
    /// How many replicas each region keeps.
    var replicas: Int { get }
    /// Every store, as PD lists it (GetAllStores).
    func stores() async -> [StoreInfo]
    /// The regions that overlap `range`, in key order (ScanRegions).
    func regions(overlapping range: KeyRange) async -> [Region]
    /// The largest TiDB table id with data in the cluster, so new table ids can go above it.
    func highestTableIDInUse() async -> Int64
    /// Whether any store holds a key in `range` (region bounds: encoded, without `z`); nil when the
    /// cluster does not let a client tell.
    func holdsData(in range: KeyRange) async -> Bool?
    /// The room on the disk of the store's data; nil when unknown.
    func disk(ofStore store: UInt64) async -> StoreDisk?
    /// A timestamp newer than every version in the cluster, as PD's TSO gives one (its physical
    /// milliseconds shifted left 18 bits, plus a logical count); nil when none can be had.
    func timestamp() async -> UInt64?
}

extension ClusterSurvey {
    /// A cluster without a TSO of its own (an embedded one) takes the clock, as PD's TSO does:
    /// every version it holds came from a backup or from an earlier restore's clock.
    public func timestamp() async -> UInt64? {
        UInt64(max(0, Date().timeIntervalSince1970 * 1_000)) << 18
    }
}

/// A store's SST files: how many, and their bytes on disk.
public struct SSTFiles: Sendable, Equatable {
    public var count: Int
    public var bytes: UInt64

    public init(count: Int, bytes: UInt64) {
        self.count = count
        self.bytes = bytes
    }
}

/// The disk under a store's data.
public struct StoreDisk: Sendable, Equatable {
    /// Free bytes for the store to write.
    public var availableBytes: UInt64
    /// The file system, when stores may share one (embedded stores in one directory); nil for a
    /// store of its own machine.
    public var device: UInt64?

    public init(availableBytes: UInt64, device: UInt64? = nil) {
        self.availableBytes = availableBytes
        self.device = device
    }
}

/// A store as PD lists it.
public struct StoreInfo: Sendable, Equatable {
    public var id: UInt64
    /// Its address, or where it lives for an embedded store.
    public var address: String
    public var state: StoreState

    public init(id: UInt64, address: String, state: StoreState) {
        self.id = id
        self.address = address
        self.state = state
    }
}

/// One store's download traffic.
public struct StoreTraffic: Sendable, Equatable {
    public var bytesPerSecond: Double
    public var totalBytes: UInt64
    /// Bytes per second; 0 is unlimited.
    public var rateLimit: UInt64

    public init(bytesPerSecond: Double, totalBytes: UInt64, rateLimit: UInt64) {
        self.bytesPerSecond = bytesPerSecond
        self.totalBytes = totalBytes
        self.rateLimit = rateLimit
    }
}

/// `import_sstpb.SwitchMode`: a store in import mode tunes its engine for bulk ingests.
public enum ImportMode: String, Sendable {
    case normal
    case `import`
}

/// What only an embedded cluster offers the driver: reading its stores (the checksum), its apply
/// records and import directories (a resume). A cluster reached over the wire has none of it.
public protocol ClusterInspection: ClusterClient {
    /// True when the store holds the apply record of the SST `uuid`.
    func hasIngested(uuid: String, onStore store: UInt64) -> Bool
    /// Removes import files that no pending ingest needs; returns how many per store.
    func cleanImportDirectories() async -> [UInt64: Int]
    /// A Raft read index: returns the leader, once it has applied everything committed before.
    func readBarrier(_ regionID: UInt64) async throws(RegionError) -> PeerMeta
    /// Returns once every replica on an up store has applied every committed ingest (a replica
    /// whose apply fails panics its store meanwhile), or after `timeout`.
    func waitForReplicasToApply(timeout: Duration) async
    /// The store's data, to read for the checksum; nil for a store that is not up.
    func dataReader(store: UInt64) -> (any StoreDataReader)?
    /// The store's SST files and their bytes; nil for a store that is not up.
    func sstFiles(ofStore store: UInt64) -> SSTFiles?
}

/// Reads one store's data keys (`z` + key) in one column family.
public protocol StoreDataReader: Sendable {
    /// Calls `body` for each entry of `cf` from `start`, in order; `body` returns false to stop.
    func scan(cf: ColumnFamily, from start: [UInt8], _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Bool) throws
    func makeCursor(cf: ColumnFamily) throws -> any DataCursor
}

/// A position in a column family for lookups in mostly ascending order.
public protocol DataCursor {
    /// Calls `body` with the value at exactly `key`, valid only during the call, and returns
    /// true; false when there is none.
    func withValue(at key: [UInt8], _ body: (UnsafeRawBufferPointer) throws -> Void) throws -> Bool
}

