import Foundation
import Synchronization
import Testing
@testable import TestSupport
@testable import KeyCodec
@testable import ExternalStorage
@testable import BackupFormat
@testable import ClusterAPI
@testable import RestoreDriver

/// The piece state machine alone, against a cluster that answers from a script: every protocol
/// outcome leads to the next call that TiKV's errors ask for.
@Suite struct PieceRestorerTests {
    static let peers = [PeerMeta(id: 11, storeID: 1), PeerMeta(id: 12, storeID: 2), PeerMeta(id: 13, storeID: 3)]
    static let region = Region(id: 5, startKey: bytes("a"), endKey: bytes("z"), epoch: RegionEpoch(confVer: 3, version: 4), peers: peers)
    static let set = FileSet(
        id: 0,
        files: [BackupFile(name: "1_write.sst", sha256: [1], startKey: bytes("b"), endKey: bytes("c"), endVersion: 9, checksum: KVChecksum(), cf: .write, size: 4096)],
        oldRange: KeyRange(start: bytes("b"), end: bytes("c")), newRange: KeyRange(start: bytes("b"), end: bytes("c")), tableID: nil)

    func restore(_ cluster: ScriptedCluster, sets: [FileSet] = [Self.set], attempts: Int = 4, apiVersion: Int = 0) async -> PieceRestorer.Outcome {
        let fast = RetryPolicy(attempts: attempts, initialBackoff: .milliseconds(1), maxBackoff: .milliseconds(2))
        let monitor = RestoreMonitor(source: "test", clusterLocation: "test", storeCount: 3, replicas: 3, insecureTLS: false)
        var pieces = PieceRestorer(
            cluster: cluster, storage: LocalStorage(root: "/nonexistent"), rules: try! RewriteRules([]), mode: .legacy, format: .transactional,
            retries: RetryRules(download: fast, ingest: fast), reporter: ProgressReporter(monitor: monitor), control: RestoreControl(),
            downloadSlots: StoreSlots(width: 2), ingestSlots: AsyncSemaphore(2), backupKey: "bk")
        pieces.apiVersion = apiVersion
        return await pieces.restore(sets: sets, regionID: 5, range: KeyRange(start: bytes("b"), end: bytes("c")), deadline: .now + .seconds(30))
    }

    @Test func downloadsOnEveryPeerThenIngestsOnTheLeader() async {
        let cluster = ScriptedCluster(region: Self.region, leader: Self.peers[0])
        #expect(await restore(cluster) == .done(bytes: 4096))
        #expect(cluster.calls.filter { $0.hasPrefix("download") }.sorted() == ["download s1", "download s2", "download s3"])
        #expect(cluster.calls.last == "ingest s1")
    }

    @Test func aBatchOfSetsIsDownloadedEverywhereAndIngestedOnce() async {
        let cluster = ScriptedCluster(region: Self.region, leader: Self.peers[0])
        let sets = (0..<3).map { i in
            var set = Self.set
            set.id = i
            set.files[0].name = "\(i)_write.sst"
            return set
        }
        #expect(await restore(cluster, sets: sets) == .done(bytes: 3 * 4096))
        #expect(cluster.calls.filter { $0.hasPrefix("download") }.count == 9, "three files on three peers")
        #expect(cluster.calls.filter { $0.hasPrefix("ingest") } == ["ingest s1"])
        #expect(cluster.ingestedFiles == 3, "one ingest of every file")
    }

    @Test func notLeaderIsFollowedToTheLeaderItNames() async {
        let cluster = ScriptedCluster(region: Self.region, leader: Self.peers[0])
        cluster.ingestAnswers = [.region(.notLeader(regionID: 5, leader: Self.peers[2]))]
        #expect(await restore(cluster) == .done(bytes: 4096))
        #expect(cluster.calls.filter { $0.hasPrefix("ingest") } == ["ingest s1", "ingest s3"])
    }

    @Test func aBusyStoreIsWaitedOutAndAskedAgain() async {
        let cluster = ScriptedCluster(region: Self.region, leader: Self.peers[1])
        cluster.ingestAnswers = [.region(.serverIsBusy(storeID: 2, reason: "busy", backoffMillis: 5))]
        #expect(await restore(cluster) == .done(bytes: 4096))
        #expect(cluster.calls.filter { $0.hasPrefix("ingest") } == ["ingest s2", "ingest s2"])
    }

    @Test func staleCommandMeansApplied() async {
        let cluster = ScriptedCluster(region: Self.region, leader: Self.peers[0])
        cluster.ingestAnswers = [.region(.staleCommand(regionID: 5))]
        #expect(await restore(cluster) == .done(bytes: 4096))
        #expect(cluster.calls.filter { $0.hasPrefix("ingest") }.count == 1)
    }

    @Test func aLeaderWithoutTheFileGetsEveryDownloadAgain() async {
        let cluster = ScriptedCluster(region: Self.region, leader: Self.peers[0])
        cluster.ingestAnswers = [.fileNotDownloaded(storeID: 1, name: "f")]
        #expect(await restore(cluster) == .done(bytes: 4096))
        #expect(cluster.calls.filter { $0.hasPrefix("download") }.count == 6, "two rounds of three")
    }

    @Test func anEpochChangeRefreshesTheRegionAndHandsThePieceOn() async {
        let cluster = ScriptedCluster(region: Self.region, leader: Self.peers[0])
        cluster.ingestAnswers = [.region(.epochNotMatch(regionID: 5, currentRegions: []))]
        // After the refresh the region ends before the piece does: it split.
        cluster.afterRefresh = Region(id: 5, startKey: bytes("a"), endKey: bytes("bb"), epoch: RegionEpoch(confVer: 3, version: 5), peers: Self.peers)
        #expect(await restore(cluster) == .regionChanged)
        #expect(cluster.calls.contains("refresh r5"))
    }

    /// TiKV panics on applying an ingest whose SST a replica lacks: a peer whose store does not
    /// answer holds the ingest back (without using up attempts) until it has downloaded too.
    @Test func noIngestGoesAheadWhileAPeerLacksTheFiles() async {
        let cluster = ScriptedCluster(region: Self.region, leader: Self.peers[0])
        cluster.unreachable = (store: 3, times: 10)
        #expect(await restore(cluster, attempts: 3) == .done(bytes: 4096), "ten failures on one store use no attempt")
        #expect(cluster.unsafeIngests == 0, "an ingest went out while store 3 lacked the files")
        #expect(cluster.calls.filter { $0 == "download s3" }.count == 11)
        #expect(cluster.calls.filter { $0.hasPrefix("ingest") } == ["ingest s1"])
        #expect(cluster.calls.contains("refresh r5"), "the region is read again: PD may have moved the peer")
    }

    /// Every Download names the keys' API version (SSTMeta.api_version): TiKV refuses raw keys of
    /// a version other than its own, as BR sets it from the backup.
    @Test func everyDownloadNamesTheKeysAPIVersion() async {
        let cluster = ScriptedCluster(region: Self.region, leader: Self.peers[0])
        #expect(await restore(cluster, apiVersion: 2) == .done(bytes: 4096))
        #expect(cluster.apiVersions == [2])
    }

    @Test func downloadFailuresRunOutOfAttempts() async {
        let cluster = ScriptedCluster(region: Self.region, leader: Self.peers[0])
        cluster.downloadAnswers = Array(repeating: .injected(storeID: 1, what: "fault"), count: 100)
        guard case let .failed(reason) = await restore(cluster, attempts: 3) else {
            Issue.record("expected a failed region")
            return
        }
        #expect(reason.hasPrefix("download failed 3/3"))
        #expect(!cluster.calls.contains { $0.hasPrefix("ingest") })
    }

    @Test func anErrorThatIsNotRetryableFailsAtOnce() async {
        let cluster = ScriptedCluster(region: Self.region, leader: Self.peers[0])
        cluster.downloadAnswers = [.rewrite(name: "1_write.sst", error: .wrongKeyPrefix(key: bytes("b")))]
        #expect(await restore(cluster) == .failed(ImportError.rewrite(name: "1_write.sst", error: .wrongKeyPrefix(key: bytes("b"))).description))
        #expect(cluster.calls.filter { $0.hasPrefix("download") }.count == 3, "one round, no retry")
    }
}

/// The reporter alone: events in, the monitor's rows and counts out.
@Suite struct ProgressReporterTests {
    @Test func eventsBecomeRowsAndCounts() {
        let monitor = RestoreMonitor(source: "test", clusterLocation: "test", storeCount: 3, replicas: 3, insecureTLS: false)
        let reporter = ProgressReporter(monitor: monitor)
        let region = PieceRestorerTests.region
        reporter.report(.totals(bytes: 8192, kvs: 20))
        reporter.report(.regionAdded(RestoreEngine.row(region, leader: region.peers[0], fileSets: 2, done: 0)))
        #expect(monitor.snapshot().counts[.queued] == 1)
        reporter.report(.downloading(region: region, upStores: [1, 2]))
        var row = monitor.snapshot().regions[0]
        #expect(row.phase == .downloading)
        #expect(row.peers.map(\.phase) == [.queued, .queued, .down], "store 3 is not up")
        reporter.report(.retrying(region: 5, .serverIsBusy(store: 2, retryIn: .seconds(1))))
        #expect(monitor.snapshot().regions[0].waitingFor == .serverIsBusy(store: 2, retryIn: .seconds(1)))
        #expect(monitor.snapshot().counts[.retrying] == 1 && monitor.snapshot().counts[.downloading] == 0)
        reporter.report(.pieceDone(region: 5, sets: 1, bytes: 4096))
        reporter.report(.counted(bytes: 4096, kvs: 10, files: 2, table: nil))
        reporter.report(.regionIngested(region: 5))
        row = monitor.snapshot().regions[0]
        #expect(row.phase == .ingested && row.bytes == 4096 && row.fileSetsDone == 1 && row.waitingFor == nil)
        #expect(monitor.snapshot().doneBytes == 4096 && monitor.snapshot().doneKVs == 10)
        #expect(monitor.snapshot().counts[.ingested] == 1 && monitor.snapshot().counts[.retrying] == 0)
        reporter.report(.regionFailed(region: 5, reason: "out of attempts"))
        #expect(monitor.snapshot().events.last?.message == "failed: out of attempts")
    }

    /// A row keeps the attempts that fit its bytes, newest first to stay: long errors keep fewer.
    @Test func aRowsHistoryIsBoundedByItsBytes() {
        let monitor = RestoreMonitor(source: "test", clusterLocation: "test", storeCount: 3, replicas: 3, insecureTLS: false)
        let region = PieceRestorerTests.region
        monitor.setRow(RestoreEngine.row(region, leader: region.peers[0], fileSets: 1, done: 0))
        func attempt(_ n: Int, error: String?) -> AttemptRecord {
            AttemptRecord(storeID: 1, step: .download, fileSet: n, started: Date(), duration: .milliseconds(1), bytes: 0, error: error)
        }
        func bytes() -> Int { monitor.row(5)!.history.reduce(0) { $0 + $1.footprint } }
        for n in 0..<1_000 { monitor.record(5, attempt(n, error: nil)) }
        let plain = monitor.row(5)!.history
        #expect(bytes() <= RestoreMonitor.historyBytes)
        #expect(plain.count > 50, "short attempts: many fit")
        #expect(plain.last?.fileSet == 999, "the newest is kept")
        let long = String(repeating: "x", count: 2_000)
        for n in 1_000..<1_010 { monitor.record(5, attempt(n, error: long)) }
        let failed = monitor.row(5)!.history
        #expect(bytes() <= RestoreMonitor.historyBytes)
        #expect(failed.count < 5, "long errors: few fit, \(failed.count) kept")
        #expect(failed.last?.fileSet == 1_009)
        // One attempt larger than the budget is still kept, alone.
        monitor.record(5, attempt(2_000, error: String(repeating: "y", count: RestoreMonitor.historyBytes)))
        #expect(monitor.row(5)!.history.map(\.fileSet) == [2_000])
    }

    /// An attempt is kept narrow, and reads back what was recorded: the time to the microsecond,
    /// the duration to a part in ten million, no file set as -1.
    @Test func anAttemptReadsBackWhatWasRecorded() {
        #expect(MemoryLayout<AttemptRecord>.stride <= 56)
        let started = Date(timeIntervalSinceReferenceDate: 817_000_000.123456)
        for (fileSet, duration) in [(-1, Duration.microseconds(250)), (0, .milliseconds(1_500)), (43_411, .seconds(3_600)), (Int(Int32.max), .seconds(86_400 * 3))] {
            let record = AttemptRecord(storeID: 7, step: .ingest, fileSet: fileSet, started: started, duration: duration, bytes: 1 << 40, error: "EpochNotMatch")
            #expect(record.fileSet == fileSet && record.storeID == 7 && record.step == .ingest && record.bytes == 1 << 40 && record.error == "EpochNotMatch")
            #expect(abs(record.started.timeIntervalSince(started)) < 1e-6)
            #expect(abs(record.duration.seconds - duration.seconds) <= duration.seconds * 1e-7, "\(record.duration) for \(duration)")
        }
    }
}

/// A cluster whose answers come from a script: downloads and ingests take the next scripted error
/// (or succeed), in order, and every call is logged.
final class ScriptedCluster: ClusterClient {
    struct State {
        var region: Region
        var leader: PeerMeta
        var afterRefresh: Region?
        var downloadAnswers: [ImportError] = []
        /// Downloads to this store fail as a store that does not answer, this many more times.
        var unreachable: (store: UInt64, times: Int)?
        /// Stores that hold the files (a download succeeded there).
        var downloadedOn = Set<UInt64>()
        /// Ingests sent while some peer did not hold the files: TiKV would panic.
        var unsafeIngests = 0
        var ingestedFiles = 0
        var apiVersions = Set<Int>()
        var ingestAnswers: [ImportError] = []
        var calls: [String] = []
    }

    private let state: Mutex<State>

    init(region: Region, leader: PeerMeta) { state = Mutex(State(region: region, leader: leader)) }

    var calls: [String] { state.withLock { $0.calls } }
    var ingestedFiles: Int { state.withLock { $0.ingestedFiles } }
    var downloadAnswers: [ImportError] {
        get { state.withLock { $0.downloadAnswers } }
        set { state.withLock { $0.downloadAnswers = newValue } }
    }
    var unsafeIngests: Int { state.withLock { $0.unsafeIngests } }
    var apiVersions: Set<Int> { state.withLock { $0.apiVersions } }
    var unreachable: (store: UInt64, times: Int)? {
        get { state.withLock { $0.unreachable } }
        set { state.withLock { $0.unreachable = newValue } }
    }
    var ingestAnswers: [ImportError] {
        get { state.withLock { $0.ingestAnswers } }
        set { state.withLock { $0.ingestAnswers = newValue } }
    }
    var afterRefresh: Region? {
        get { state.withLock { $0.afterRefresh } }
        set { state.withLock { $0.afterRefresh = newValue } }
    }

    let location = "scripted"
    let replicas = 3

    func stores() async -> [StoreInfo] { (1...3).map { StoreInfo(id: $0, address: "s\($0)", state: .up) } }
    func regions(overlapping range: KeyRange) async -> [Region] { [state.withLock { $0.region }] }
    func region(id: UInt64) async -> Region? { state.withLock { $0.region } }
    func region(containing key: [UInt8]) async -> Region? { state.withLock { $0.region } }
    func refreshRegion(id: UInt64) async -> Region? {
        state.withLock { s in
            s.calls.append("refresh r\(id)")
            if let next = s.afterRefresh { s.region = next }
            return s.region
        }
    }
    func leader(of regionID: UInt64) async -> PeerMeta? { state.withLock { $0.leader } }
    func waitForLeader(of regionID: UInt64, timeout: Duration) async throws(RegionError) -> PeerMeta { state.withLock { $0.leader } }
    func split(at keys: [[UInt8]], rawKeys: Bool) async throws(RegionError) -> [Region] { [] }
    func scatter(_ regionIDs: [UInt64]) async throws(RegionError) {}
    func highestTableIDInUse() async -> Int64 { 0 }
    func holdsData(in range: KeyRange) async -> Bool? { false }
    func disk(ofStore store: UInt64) async -> StoreDisk? { nil }
    /// Like a TiKV before v8.5.5: every file is downloaded alone.
    func offersBatchDownload(store: UInt64) -> Bool { false }
    func batchDownload(_ request: DownloadRequest, on store: UInt64) async throws(ImportError) -> DownloadResponse {
        throw .remote(storeID: store, message: "does not implement BatchDownload", retryable: false)
    }

    func download(_ request: DownloadRequest, on store: UInt64) async throws(ImportError) -> DownloadResponse {
        let answer: ImportError? = state.withLock { s in
            s.calls.append("download s\(store)")
            s.apiVersions.insert(request.apiVersion)
            if let down = s.unreachable, down.store == store, down.times > 0 {
                s.unreachable!.times -= 1
                return .region(.storeNotAvailable(storeID: store, state: .down))
            }
            let answer = s.downloadAnswers.isEmpty ? nil : s.downloadAnswers.removeFirst()
            if answer == nil { s.downloadedOn.insert(store) }
            return answer
        }
        if let answer { throw answer }
        return DownloadResponse(range: KeyRange(start: bytes("b"), end: bytes("c"), endInclusive: true), isEmpty: false, entries: 10, length: 4096)
    }

    func ingest(_ request: IngestRequest, on store: UInt64) async throws(ImportError) {
        let answer: ImportError? = state.withLock { s in
            s.calls.append("ingest s\(store)")
            if !s.region.peers.allSatisfy({ s.downloadedOn.contains($0.storeID) }) { s.unsafeIngests += 1 }
            s.ingestedFiles = request.files.count
            return s.ingestAnswers.isEmpty ? nil : s.ingestAnswers.removeFirst()
        }
        if let answer { throw answer }
    }

    func setDownloadSpeedLimit(_ bytesPerSecond: UInt64, on store: UInt64) async {}
    func switchMode(_ mode: ImportMode, on store: UInt64) async throws(ImportError) {}
    func traffic(of store: UInt64) -> StoreTraffic? { nil }
}
