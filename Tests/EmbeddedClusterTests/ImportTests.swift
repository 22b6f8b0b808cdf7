import Foundation
import Testing
@testable import TestSupport
@testable import KeyCodec
@testable import ExternalStorage
@testable import BackupFormat
@testable import ClusterAPI
@testable import EmbeddedCluster

/// A cluster, its import services, and a one-table backup (table 100, one file per CF) to restore
/// into it as table 200.
final class ImportFixture {
    let dir: TemporaryDirectory
    let cluster: Cluster
    let services: [UInt64: ImportService]
    let storage: LocalStorage
    let backup: Backup
    let rules: RewriteRules

    init(rows: Int = 2_000, stores: Int = 3) async throws {
        dir = try TemporaryDirectory()
        storage = LocalStorage(root: dir.file("backup"))
        var options = BackupProducer.Options()
        options.tables = 1
        options.rows = rows
        options.indexes = 1
        options.fileSize = 64 << 20
        backup = try BackupProducer(storage: storage, options: options).produce()
        rules = try RewriteRules([RewriteRule.table(from: 100, to: 200).encoded])
        cluster = try await Cluster.open(directory: dir.file("cluster"), create: .init(stores: stores, replicas: 3))
        var services: [UInt64: ImportService] = [:]
        for (id, store) in cluster.stores { services[id] = ImportService(store: store, pd: cluster.pd, proposalTimeout: .seconds(3)) }
        self.services = services
        _ = try await cluster.pd.waitForLeader(1)
    }

    /// The rewritten form of table 200's key space, encoded (a region bound).
    var tableStart: [UInt8] { Memcomparable.encode(TableCodec.tablePrefix(200)) }
    var tableEnd: [UInt8] { Memcomparable.encode(TableCodec.tablePrefix(201)) }

    /// Downloads every backup file for `region` on each of its peers' stores; returns the files to ingest.
    func download(for region: Region, uuidSuffix: String = "") async throws -> [IngestFile] {
        var files: [IngestFile] = []
        for file in backup.files {
            let meta = SSTMeta(uuid: "f\(file.cf.name)\(uuidSuffix)", range: region.range, cf: file.cf, regionID: region.id, epoch: region.epoch)
            var range: KeyRange?
            for peer in region.peers where cluster.store(peer.storeID)!.isUp {
                let request = DownloadRequest(sst: meta, name: file.name, storage: storage, expected: file.expectedContent, rules: rules, mode: .legacy, format: .transactional)
                let response = try await services[peer.storeID]!.download(request)
                if !response.isEmpty { range = response.range }
            }
            if let range { files.append(IngestFile(uuid: meta.uuid, cf: file.cf, range: range)) }
        }
        return files
    }

    /// Scans a store's DB with `ldb` and returns the keys of one CF, decoded to user keys.
    func ldbKeys(store: UInt64, cf: ColumnFamily) throws -> [[UInt8]] {
        let out = try runProgram("ldb", ["--db=\(cluster.store(store)!.directory)/db", "--column_family=\(cf.name)", "--hex", "scan"])
        #expect(out.status == 0, "ldb: \(out.stderr)")
        return out.stdout.split(separator: "\n").compactMap { line in
            guard let hex = line.split(separator: " ").first, let key = [UInt8](hex: String(hex)), key.first == DataKey.prefix else { return nil }
            return try? MVCCKey(decoding: key.dropFirst()).userKey
        }
    }

    func close() async {
        await cluster.close()
    }
}

@Suite(.serialized) struct ImportTests {
    @Test func downloadRewritesAndIngestReachesEveryReplica() async throws {
        let f = try await ImportFixture()
        let region = await f.cluster.pd.region(id: 1)!
        let files = try await f.download(for: region)
        #expect(files.count == 2)
        #expect(files.allSatisfy { f.rules.rule(forRewritten: $0.range.start) != nil })
        let leader = try await f.cluster.pd.waitForLeader(1)
        // Any store but the leader answers NotLeader, naming the leader.
        let follower = region.peers.first { $0.storeID != leader.storeID }!
        await #expect(throws: ImportError.region(.notLeader(regionID: 1, leader: leader))) {
            try await f.services[follower.storeID]!.ingest(IngestRequest(regionID: 1, epoch: region.epoch, files: files))
        }
        try await f.services[leader.storeID]!.ingest(IngestRequest(regionID: 1, epoch: region.epoch, files: files))
        // Retrying an applied ingest neither fails the restore nor applies twice.
        await #expect(throws: ImportError.region(.staleCommand(regionID: 1))) {
            try await f.services[leader.storeID]!.ingest(IngestRequest(regionID: 1, epoch: region.epoch, files: files))
        }
        try await waitUntilApplied(f, region: 1)
        await f.close()

        let expectedRows = 2_000 + 2_000  // rows plus one index entry each, in the write CF
        for store in region.peers.map(\.storeID) {
            let keys = try f.ldbKeys(store: store, cf: .write)
            #expect(keys.count == expectedRows, "store \(store)")
            #expect(keys.allSatisfy { TableCodec.decode($0)?.tableID == 200 }, "rewritten to table 200 on store \(store)")
            #expect(try f.ldbKeys(store: store, cf: .default).allSatisfy { TableCodec.decode($0)?.tableID == 200 })
        }
    }

    @Test func anIngestReachesQuorumWithOneStoreDown() async throws {
        let f = try await ImportFixture()
        let region = await f.cluster.pd.region(id: 1)!
        let files = try await f.download(for: region)
        let leader = try await f.cluster.pd.waitForLeader(1)
        let other = region.peers.first { $0.storeID != leader.storeID }!.storeID
        try await f.cluster.setStore(other, up: false)
        try await f.services[leader.storeID]!.ingest(IngestRequest(regionID: 1, epoch: region.epoch, files: files))
        let error = await captureError { try await f.services[other]!.ingest(IngestRequest(regionID: 1, epoch: region.epoch, files: files)) }
        #expect(error == .region(.storeNotAvailable(storeID: other, state: .down)))
        // The quorum is the leader and the third replica: both hold every key, read by ldb.
        let third = region.peers.map(\.storeID).first { $0 != leader.storeID && $0 != other }!
        try await waitUntil(timeout: .seconds(10)) {
            f.cluster.pd.awake.wake(1)
            var count = 0
            try? f.cluster.store(third)!.db.scan(cf: .write, from: [DataKey.prefix]) { _, _ in count += 1; return true }
            return count == 4_000
        }
        await f.close()
        #expect(try f.ldbKeys(store: leader.storeID, cf: .write).count == 4_000)
        #expect(try f.ldbKeys(store: third, cf: .write).count == 4_000)
    }

    @Test func aSplitMakesTheOldEpochStale() async throws {
        let f = try await ImportFixture()
        let region = await f.cluster.pd.region(id: 1)!
        let files = try await f.download(for: region)
        let middle = Memcomparable.encode(TableCodec.recordKey(tableID: 200, handle: 1_000))
        _ = try await f.cluster.pd.splitAt([f.tableStart, middle])
        let leader = try await f.cluster.pd.waitForLeader(1)
        let error = await captureError { try await f.services[leader.storeID]!.ingest(IngestRequest(regionID: 1, epoch: region.epoch, files: files)) }
        guard case let .region(.epochNotMatch(regionID, current)) = error else {
            Issue.record("expected EpochNotMatch, got \(String(describing: error))")
            return
        }
        #expect(regionID == 1)
        #expect(current.count == 2, "the regions that now hold table 200: \(current.map { $0.id })")
        #expect(current.allSatisfy { $0.epoch.version > region.epoch.version })
        // A download for the stale epoch is refused too.
        let meta = SSTMeta(uuid: "x", range: region.range, cf: .write, regionID: 1, epoch: region.epoch)
        let file = f.backup.files.first { $0.cf == .write }!
        let stale = await captureError {
            _ = try await f.services[leader.storeID]!.download(DownloadRequest(sst: meta, name: file.name, storage: f.storage, expected: file.expectedContent, rules: f.rules, mode: .legacy, format: .transactional))
        }
        #expect(stale == .region(.epochNotMatch(regionID: 1, currentRegions: await f.cluster.pd.regions(overlapping: region.range))))
        await f.close()
    }

    @Test func aFileOutsideTheRegionIsKeyNotInRegion() async throws {
        let f = try await ImportFixture()
        let split = Memcomparable.encode(TableCodec.recordKey(tableID: 200, handle: 1_000))
        _ = try await f.cluster.pd.splitAt([split])
        let left = await f.cluster.pd.region(id: 1)!
        let leader = try await f.cluster.pd.waitForLeader(1)
        // Claim a range that reaches past the region's end.
        let bad = IngestFile(uuid: "stray", cf: .write, range: KeyRange(start: f.tableStart, end: split + [1], endInclusive: true))
        try Data([1]).write(to: URL(fileURLWithPath: "\(f.cluster.store(leader.storeID)!.importDirectory)/\(bad.fileName(regionID: left.id, epoch: left.epoch))"))
        let error = await captureError { try await f.services[leader.storeID]!.ingest(IngestRequest(regionID: left.id, epoch: left.epoch, files: [bad])) }
        guard case let .region(.keyNotInRegion(_, regionID, _, _)) = error else {
            Issue.record("expected KeyNotInRegion, got \(String(describing: error))")
            return
        }
        #expect(regionID == left.id)
        await f.close()
    }

    @Test func aFailedApplyPanicsOnlyItsStore() async throws {
        let f = try await ImportFixture()
        let region = await f.cluster.pd.region(id: 1)!
        let files = try await f.download(for: region)
        let leader = try await f.cluster.pd.waitForLeader(1)
        let victim = region.peers.first { $0.storeID != leader.storeID }!.storeID
        f.cluster.failNextApplies(onStore: victim, count: 1)
        try await f.services[leader.storeID]!.ingest(IngestRequest(regionID: 1, epoch: region.epoch, files: files))
        try await waitUntil { if case .panicked = f.cluster.store(victim)!.state { return true } else { return false } }
        guard case let .panicked(reason) = f.cluster.store(victim)!.state else { return }
        #expect(reason.contains("failed on apply"))
        #expect(f.cluster.stores.values.filter { $0.state == .up }.count == 2)
        await f.close()
        // The panic is persisted: a reopened cluster still has the store down, with its reason.
        let reopened = try await Cluster.open(directory: f.dir.file("cluster"))
        #expect(reopened.store(victim)!.state == .panicked(reason: reason))
        await reopened.close()
    }

    /// Download is idempotent: the same request again answers the file already in place, the
    /// same range and entries, without fetching the backup file (here gone) again.
    /// A batch whose first file an earlier ingest applied: the rest is ingested, and no file twice.
    @Test func aBatchThatOverlapsAnAppliedOneIngestsOnlyTheRest() async throws {
        let f = try await ImportFixture()
        let region = await f.cluster.pd.region(id: 1)!
        let leader = try await f.cluster.pd.waitForLeader(1)
        let files = try await f.download(for: region)
        #expect(files.count == 2)
        try await f.services[leader.storeID]!.ingest(IngestRequest(regionID: 1, epoch: region.epoch, files: [files[0]]))
        // Every file of the batch downloaded again, the applied one too; one ingest of both.
        let again = try await f.download(for: region)
        try await f.services[leader.storeID]!.ingest(IngestRequest(regionID: 1, epoch: region.epoch, files: again))
        try await waitUntilApplied(f, region: 1)
        for store in region.peers.map(\.storeID) {
            let counts = try f.cluster.store(store)!.appliedIngestCounts()
            #expect(Set(counts.keys) == Set(files.map(\.uuid)), "store \(store): both files are in")
            #expect(counts.values.allSatisfy { $0 == 1 }, "store \(store): no file ingested twice: \(counts)")
        }
        await f.close()
        for store in region.peers.map(\.storeID) {
            #expect(try f.ldbKeys(store: store, cf: .write).count == 2_000 + 2_000, "store \(store)")
        }
    }

    @Test func theSameDownloadAgainReusesItsFile() async throws {
        let f = try await ImportFixture(rows: 500)
        let region = await f.cluster.pd.region(id: 1)!
        let file = f.backup.files.first { $0.cf == .write }!
        let meta = SSTMeta(uuid: "again", range: region.range, cf: .write, regionID: 1, epoch: region.epoch)
        let request = DownloadRequest(sst: meta, name: file.name, storage: f.storage, expected: file.expectedContent, rules: f.rules, mode: .legacy, format: .transactional)
        let first = try await f.services[1]!.download(request)
        try FileManager.default.removeItem(atPath: f.dir.file("backup") + "/" + file.name)
        let again = try await f.services[1]!.download(request)
        #expect(again == first)
        #expect(first.entries > 0 && !first.isEmpty)
        // Another store never downloaded it, and the backup file is gone: a clear error.
        await #expect { try await f.services[2]!.download(request) } throws: { ($0 as? ImportError)?.label == "Storage" }
        await f.close()
    }

    @Test func corruptAndFailedDownloadsAreClearErrorsThatLeaveNoFiles() async throws {
        let f = try await ImportFixture(rows: 500)
        let region = await f.cluster.pd.region(id: 1)!
        let file = f.backup.files.first { $0.cf == .write }!
        let meta = SSTMeta(uuid: "c", range: region.range, cf: .write, regionID: 1, epoch: region.epoch)
        let request = DownloadRequest(sst: meta, name: file.name, storage: f.storage, expected: file.expectedContent, rules: f.rules, mode: .legacy, format: .transactional)
        let service = f.services[1]!
        f.cluster.corruptNextDownloads(onStore: 1, count: 1)
        await #expect { try await service.download(request) } throws: { ($0 as? ImportError)?.label == "CorruptSST" }
        f.cluster.failNextDownloads(onStore: 1, count: 1)
        await #expect { try await service.download(request) } throws: { ($0 as? ImportError)?.label == "InjectedFault" }
        var wrongRules = request
        wrongRules.rules = try RewriteRules([RewriteRule.table(from: 999, to: 200).encoded])
        let wrong = await captureError { _ = try await service.download(wrongRules) }
        guard case let .rewrite(name, .wrongKeyPrefix(key))? = wrong else {
            Issue.record("expected WrongKeyPrefix, got \(String(describing: wrong))")
            return
        }
        #expect(name == file.name)
        #expect(key.starts(with: Memcomparable.encode(TableCodec.tablePrefix(100)).prefix(9)), "the first key of table 100 matches no rule")
        let importDirectory = f.cluster.store(1)!.importDirectory
        let left = try FileManager.default.contentsOfDirectory(atPath: importDirectory).filter { name in
            // The download files kept for reuse are emptied after each download.
            !(name.hasPrefix("download-") && (try? FileManager.default.attributesOfItem(atPath: importDirectory + "/" + name)[.size] as? UInt64) == 0)
        }
        #expect(left.isEmpty, "no temp or partial files: \(left)")
        // The fault counters are used up: the next download works.
        #expect(try await service.download(request).entries > 0)
        f.cluster.makeBusy(store: 1, for: .seconds(5))
        await #expect { try await service.download(request) } throws: {
            guard case .region(.serverIsBusy(1, _, let backoff)) = $0 as? ImportError else { return false }
            return backoff > 0
        }
        await f.close()
    }

    @Test func aReopenedClusterKeepsItsData() async throws {
        let f = try await ImportFixture(rows: 300)
        let region = await f.cluster.pd.region(id: 1)!
        let files = try await f.download(for: region)
        let leader = try await f.cluster.pd.waitForLeader(1)
        try await f.services[leader.storeID]!.ingest(IngestRequest(regionID: 1, epoch: region.epoch, files: files))
        try await waitUntilApplied(f, region: 1)
        await f.close()
        let reopened = try await Cluster.open(directory: f.dir.file("cluster"))
        _ = try await reopened.pd.waitForLeader(1)
        let status = await reopened.pd.peerStatus(of: 1)
        #expect(status.allSatisfy { $0.appliedIndex >= 2 }, "applied index persisted: \(status)")
        for store in reopened.stores.values {
            var count = 0
            try store.db.scan(cf: .write, from: [DataKey.prefix]) { _, _ in count += 1; return true }
            #expect(count == 600)
        }
        await reopened.close()
    }
}

/// The ImportError that `body` throws, or nil when it succeeds.
func captureError(_ body: () async throws -> Void) async -> ImportError? {
    do {
        try await body()
        return nil
    } catch {
        return error as? ImportError
    }
}

/// Waits until every live replica of the region has applied what its leader committed.
func waitUntilApplied(_ f: ImportFixture, region: UInt64) async throws {
    try await waitUntil {
        f.cluster.pd.awake.wake(region)
        let status = await f.cluster.pd.peerStatus(of: region)
        let top = status.map(\.appliedIndex).max() ?? 0
        return status.filter(\.isLive).allSatisfy { $0.appliedIndex == top }
    }
}
