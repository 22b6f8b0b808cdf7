import Foundation
import KeyCodec
import ClusterAPI

/// The embedded cluster behind the driver's seam: PD's operations go to the placement driver,
/// each store's ImportSST operations to that store's import service.
extension Cluster: ClusterClient {
    public var location: String { "cluster \(directory)" }

    public var replicas: Int { configuration.replicas }

    public func stores() async -> [StoreInfo] {
        stores.values.sorted { $0.id < $1.id }.map { StoreInfo(id: $0.id, address: $0.directory, state: $0.state) }
    }

    public func regions(overlapping range: KeyRange) async -> [Region] { await pd.regions(overlapping: range) }

    public func region(id: UInt64) async -> Region? { await pd.region(id: id) }

    public func region(containing key: [UInt8]) async -> Region? { await pd.region(containing: key) }

    public func refreshRegion(id: UInt64) async -> Region? { await pd.refresh(id) }

    public func leader(of regionID: UInt64) async -> PeerMeta? { await pd.leader(of: regionID) }

    public func waitForLeader(of regionID: UInt64, timeout: Duration) async throws(RegionError) -> PeerMeta {
        try await pd.waitForLeader(regionID, timeout: timeout)
    }

    /// The embedded stores keep every key as given, so raw and encoded keys split alike.
    public func split(at keys: [[UInt8]], rawKeys: Bool) async throws(RegionError) -> [Region] { try await pd.splitAt(keys) }

    public func scatter(_ regionIDs: [UInt64]) async throws(RegionError) { try await pd.scatter(regionIDs) }

    /// The last `z` + `t...` key of any up store, decoded.
    public func highestTableIDInUse() async -> Int64 {
        stores.values.filter(\.isUp).map { StoreDataFacts.highestTableID(in: $0.db) }.max() ?? 0
    }

    public func holdsData(in range: KeyRange) async -> Bool? {
        stores.values.contains { $0.isUp && StoreDataFacts.holdsData($0.db, in: range) }
    }

    public func disk(ofStore store: UInt64) async -> StoreDisk? {
        stores[store].flatMap { StoreDataFacts.disk(at: $0.directory) }
    }

    public func download(_ request: DownloadRequest, on store: UInt64) async throws(ImportError) -> DownloadResponse {
        guard let importer = importers[store] else { throw .region(.storeNotAvailable(storeID: store, state: .down)) }
        return try await importer.download(request)
    }

    public func batchDownload(_ request: DownloadRequest, on store: UInt64) async throws(ImportError) -> DownloadResponse {
        guard let importer = importers[store] else { throw .region(.storeNotAvailable(storeID: store, state: .down)) }
        return try await importer.batchDownload(request)
    }

    public func offersBatchDownload(store: UInt64) -> Bool { true }

    public func ingest(_ request: IngestRequest, on store: UInt64) async throws(ImportError) {
        guard let importer = importers[store] else { throw .region(.storeNotAvailable(storeID: store, state: .down)) }
        try await importer.ingest(request)
    }

    public func setDownloadSpeedLimit(_ bytesPerSecond: UInt64, on store: UInt64) async {
        importers[store]?.limiter.bytesPerSecond = bytesPerSecond
    }

    /// The embedded stores' RocksDB needs no tuning for a restore: the mode is accepted and kept.
    public func switchMode(_ mode: ImportMode, on store: UInt64) async throws(ImportError) {
        guard let importer = importers[store] else { throw .region(.storeNotAvailable(storeID: store, state: .down)) }
        importer.mode.withLock { $0 = mode }
    }

    public func traffic(of store: UInt64) -> StoreTraffic? {
        importers[store].map { StoreTraffic(bytesPerSecond: $0.meter.bytesPerSecond, totalBytes: $0.meter.totalBytes, rateLimit: $0.limiter.bytesPerSecond) }
    }
}

extension Cluster: ClusterInspection {
    public func hasIngested(uuid: String, onStore store: UInt64) -> Bool { stores[store]?.hasIngested(uuid: uuid) ?? false }

    public func cleanImportDirectories() async -> [UInt64: Int] {
        let pending = await pd.pendingIngestFiles()
        var removed: [UInt64: Int] = [:]
        for (id, importer) in importers where importer.store.isUp {
            let count = importer.cleanImportDirectory(keeping: pending[id] ?? [])
            if count > 0 { removed[id] = count }
        }
        return removed
    }

    public func readBarrier(_ regionID: UInt64) async throws(RegionError) -> PeerMeta { try await pd.readBarrier(regionID) }

    public func waitForReplicasToApply(timeout: Duration) async {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline, !Task.isCancelled {
            let pending = await pd.pendingIngestFiles(wakingTheirRegions: true)
            guard pending.contains(where: { store, files in !files.isEmpty && stores[store]?.isUp == true }) else { return }
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    public func dataReader(store: UInt64) -> (any StoreDataReader)? {
        guard let store = stores[store], store.isUp else { return nil }
        return StoreReader(database: store.db)
    }

    public func sstFiles(ofStore store: UInt64) -> SSTFiles? {
        guard let store = stores[store], store.isUp else { return nil }
        let files = store.db.liveFiles()
        return SSTFiles(count: files.count, bytes: files.bytes)
    }
}

/// Fault drills that only the embedded cluster allows: the console's drill keys, the demo, chaos.
/// They live here, not in the ClusterAPI seam: no other cluster offers them.
public protocol ClusterDrills: ClusterClient {
    func setStore(_ id: UInt64, up: Bool) async throws
    func transferLeader(regionID: UInt64, toStore store: UInt64) async throws(RegionError)
    func split(regionID: UInt64, at keys: [[UInt8]]) async throws(RegionError) -> [Region]
    func makeBusy(store: UInt64, for duration: Duration)
    func failNextDownloads(onStore store: UInt64, count: Int)
}

extension Cluster: ClusterDrills {
    public func transferLeader(regionID: UInt64, toStore store: UInt64) async throws(RegionError) {
        try await pd.transferLeader(regionID: regionID, toStore: store)
    }

    public func split(regionID: UInt64, at keys: [[UInt8]]) async throws(RegionError) -> [Region] {
        try await pd.split(regionID: regionID, at: keys)
    }
}

/// A store's RocksDB as the checksum reads it.
struct StoreReader: StoreDataReader {
    let database: RocksDatabase

    func scan(cf: ColumnFamily, from start: [UInt8], _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Bool) throws {
        try database.scan(cf: cf, from: start, body)
    }

    func makeCursor(cf: ColumnFamily) throws -> any DataCursor { try database.makeCursor(cf: cf) }
}

extension DatabaseCursor: DataCursor {}
