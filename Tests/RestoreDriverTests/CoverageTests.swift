import Foundation
import Synchronization
import Testing
@testable import TestSupport
@testable import RestoreTestSupport
@testable import KeyCodec
@testable import ExternalStorage
@testable import ClusterAPI
@testable import EmbeddedCluster
@testable import RestoreDriver

/// A cluster whose calls all go to `inner`, with hooks in front of region scans, downloads and
/// ingests: tests hold the engine to rules about them.
final class InterposedCluster: ClusterClient {
    struct Hooks: Sendable {
        /// What a region scan answers, given what `inner` answered.
        var scanned: @Sendable ([Region]) -> [Region] = { $0 }
        /// Around each Download and BatchDownload on a store: true before it, false after.
        var downloading: @Sendable (_ store: UInt64, _ starts: Bool) -> Void = { _, _ in }
        /// Before each Ingest.
        var ingesting: @Sendable () async -> Void = {}
    }

    let inner: any ClusterClient
    let hooks: Hooks

    init(_ inner: any ClusterClient, hooks: Hooks) {
        self.inner = inner
        self.hooks = hooks
    }

    var location: String { inner.location }
    var replicas: Int { inner.replicas }
    func stores() async -> [StoreInfo] { await inner.stores() }
    func regions(overlapping range: KeyRange) async -> [Region] { hooks.scanned(await inner.regions(overlapping: range)) }
    func region(id: UInt64) async -> Region? { await inner.region(id: id) }
    func region(containing key: [UInt8]) async -> Region? { await inner.region(containing: key) }
    func refreshRegion(id: UInt64) async -> Region? { await inner.refreshRegion(id: id) }
    func leader(of regionID: UInt64) async -> PeerMeta? { await inner.leader(of: regionID) }
    func waitForLeader(of regionID: UInt64, timeout: Duration) async throws(RegionError) -> PeerMeta { try await inner.waitForLeader(of: regionID, timeout: timeout) }
    func split(at keys: [[UInt8]], rawKeys: Bool) async throws(RegionError) -> [Region] { try await inner.split(at: keys, rawKeys: rawKeys) }
    func scatter(_ regionIDs: [UInt64]) async throws(RegionError) { try await inner.scatter(regionIDs) }
    func highestTableIDInUse() async -> Int64 { await inner.highestTableIDInUse() }
    func holdsData(in range: KeyRange) async -> Bool? { await inner.holdsData(in: range) }
    func disk(ofStore store: UInt64) async -> StoreDisk? { await inner.disk(ofStore: store) }
    func download(_ request: DownloadRequest, on store: UInt64) async throws(ImportError) -> DownloadResponse {
        hooks.downloading(store, true)
        defer { hooks.downloading(store, false) }
        return try await inner.download(request, on: store)
    }
    func batchDownload(_ request: DownloadRequest, on store: UInt64) async throws(ImportError) -> DownloadResponse {
        hooks.downloading(store, true)
        defer { hooks.downloading(store, false) }
        return try await inner.batchDownload(request, on: store)
    }
    func offersBatchDownload(store: UInt64) -> Bool { inner.offersBatchDownload(store: store) }
    func ingest(_ request: IngestRequest, on store: UInt64) async throws(ImportError) {
        await hooks.ingesting()
        try await inner.ingest(request, on: store)
    }
    func setDownloadSpeedLimit(_ bytesPerSecond: UInt64, on store: UInt64) async { await inner.setDownloadSpeedLimit(bytesPerSecond, on: store) }
    func switchMode(_ mode: ImportMode, on store: UInt64) async throws(ImportError) { try await inner.switchMode(mode, on: store) }
    func traffic(of store: UInt64) -> StoreTraffic? { inner.traffic(of: store) }
}

/// Region scans whose last region is missing the first `holes` times, as a PD in the middle of
/// a change can answer; `holesLeft` counts down.
final class HoleyCluster: Sendable {
    let inner: any ClusterClient
    let holesLeft: Mutex<Int>

    init(_ inner: any ClusterClient, holes: Int) {
        self.inner = inner
        holesLeft = Mutex(holes)
    }

    var cluster: InterposedCluster {
        InterposedCluster(inner, hooks: .init(scanned: { [self] regions in
            let hole = holesLeft.withLock { n -> Bool in
                guard n > 0, !regions.isEmpty else { return false }
                n -= 1
                return true
            }
            return hole ? Array(regions.dropLast()) : regions
        }))
    }
}

@Suite(.serialized) struct CoverageTests {
    /// Pieces that a holey region scan left out are found at the end, queued again by the
    /// regions that hold them, and restored: the restore never calls a partial restore a success.
    @Test func piecesThatNoRegionScanCoveredAreRestoredBeforeTheEnd() async throws {
        let f = try await RestoreFixture(tables: 2, rows: 4_000)
        let holey = HoleyCluster(f.cluster, holes: 3)
        let engine = try await RestoreEngine.prepare(storage: f.storage, cluster: holey.cluster, stateDirectory: f.cluster.directory, options: f.options)
        #expect(await engine.run() == .success)
        #expect(holey.holesLeft.withLock { $0 } == 0, "the scans did leave holes")
        #expect(engine.monitor.snapshot().events.contains { $0.message.contains("queued again") })
        let verifier = try await RestoreEngine.prepare(storage: f.storage, cluster: f.cluster, stateDirectory: f.cluster.directory, options: f.options)
        #expect(await verifier.verifyChecksum() == .matched)
        await f.close()
    }

    /// Holes that do not close are no success: the restore ends with failed pieces, and says so.
    @Test func holesThatNeverCloseEndInFailureNotSuccess() async throws {
        let f = try await RestoreFixture(tables: 2, rows: 4_000)
        let holey = HoleyCluster(f.cluster, holes: 1_000)
        let engine = try await RestoreEngine.prepare(storage: f.storage, cluster: holey.cluster, stateDirectory: f.cluster.directory, options: f.options)
        let outcome = await engine.run()
        guard case .regionsFailed = outcome else {
            Issue.record("expected failed pieces, got \(outcome)")
            return
        }
        #expect(engine.monitor.snapshot().events.contains { $0.message.contains("no region covered") })
        await f.close()
    }
}
