import Foundation
import Testing
import Synchronization
@testable import KeyCodec
@testable import ExternalStorage
@testable import BackupFormat
@testable import ClusterAPI
@testable import EmbeddedCluster
@testable import RestoreDriver
@testable import RestoreDrills
@testable import KVWire
@testable import RemoteCluster
@testable import ClusterServer

/// How the driver reaches the cluster: in process, or over kvproto's gRPC on loopback, to the
/// same embedded cluster served by `ClusterServer`.
enum Transport: String, CaseIterable, CustomTestStringConvertible {
    case inProcess
    case grpc

    var testDescription: String { rawValue }
}

/// A backup and a fresh cluster to restore it into, with fast retry budgets.
final class RestoreFixture {
    let dir: TemporaryDirectory
    let storage: LocalStorage
    let backup: Backup
    let cluster: Cluster
    let transport: Transport
    /// Over gRPC: the server in front of `cluster`, and the client the driver uses.
    private(set) var server: ClusterServer?
    private(set) var remote: RemoteCluster?
    private(set) var pdAddress: WireAddress?
    var options = RestoreOptions()

    init(
        tables: Int = 3, rows: Int = 6_000, raw: Bool = false, stores: Int = 3, transport: Transport = .inProcess, wireTimeouts: WireTimeouts = WireTimeouts(),
        pdMembers: Int = 1
    ) async throws {
        self.transport = transport
        dir = try TemporaryDirectory()
        storage = LocalStorage(root: dir.file("backup"))
        var o = BackupProducer.Options()
        o.tables = tables
        o.rows = rows
        o.indexes = 1
        o.fileSize = 128 << 10
        o.raw = raw
        backup = try BackupProducer(storage: storage, options: o).produce()
        cluster = try await Cluster.open(directory: dir.file("cluster"), create: .init(stores: stores, replicas: 3))
        options.mergeSize = 400 << 10
        options.download = RetryPolicy(attempts: 4, initialBackoff: .milliseconds(10), maxBackoff: .milliseconds(50))
        options.ingest = RetryPolicy(attempts: 16, initialBackoff: .milliseconds(20), maxBackoff: .seconds(1))
        if transport == .grpc {
            let server = await ClusterServer(cluster: cluster, pd: WireAddress(host: "127.0.0.1", port: 0), pdMembers: pdMembers, storeHost: "127.0.0.1", firstStorePort: 0, security: nil,
                storageAccess: StorageAccess(localRoots: [dir.file("backup")], endpoints: []))
            let bound = try await server.start()
            self.server = server
            pdAddress = bound.pd
            remote = try await RemoteCluster.connect(pd: bound.pd, security: nil, timeouts: wireTimeouts)
        }
    }

    /// The cluster as the driver sees it.
    var client: any ClusterClient { remote ?? cluster }

    /// The checkpoint's directory: the cluster's own, or the remote client's state directory.
    var stateDirectory: String { transport == .grpc ? dir.file("state") : cluster.directory }

    func engine() async throws -> RestoreEngine {
        try await RestoreEngine.prepare(storage: storage, cluster: client, stateDirectory: stateDirectory, options: options)
    }

    /// True when the restored data matches the backup: the engine's own checksum. Over the wire,
    /// where that checksum is each region leader's (TiKV's coprocessor), the served cluster's
    /// stores are also read in process (with the remote restore's checkpoint, and so its table
    /// ids): the two must agree, figure for figure. A raw backup has no checksum over the wire.
    func checksumMatches(_ engine: RestoreEngine) async throws -> Bool {
        let own = engine.monitor.snapshot().checksumMatch
        guard transport == .grpc else { return own == true }
        let verifier = try await RestoreEngine.prepare(storage: storage, cluster: cluster, stateDirectory: stateDirectory, options: options)
        let matched = await verifier.verifyChecksum() == .matched
        if !matched {
            let regions = engine.monitor.snapshot().regions.map { "r\($0.id) \($0.phase) \($0.lastError ?? "")" }
            let events = engine.monitor.snapshot().events.map { "r\($0.regionID ?? 0) s\($0.storeID ?? 0) \($0.message)" }
            Issue.record("over the wire: \(verifier.monitor.snapshot().events.map(\.message).suffix(5)); regions \(regions); events \(events)")
        }
        if backup.isRawKV || !options.verifyChecksum { return matched && own == nil }
        #expect(Self.matchedFigures(engine) == Self.matchedFigures(verifier), "the wire checksum and the stores read in process agree: \(engine.monitor.snapshot().events.map(\.message).suffix(4))")
        return matched && own == true
    }

    /// Changes the value of a restored row (its newest write) in one store's RocksDB, behind the
    /// cluster's back.
    static func tamper(_ userKey: [UInt8], in db: RocksDatabase) throws {
        var found: ([UInt8], [UInt8])?
        try db.scan(cf: .write, from: DataKey.make(Memcomparable.encode(userKey))) { k, v in
            found = (Array(k), Array(v))
            return false
        }
        let (key, value) = try #require(found)
        var record = try WriteRecord(decoding: value)
        record.shortValue = Array("tampered".utf8)
        try db.put(key, record.encoded, cf: .write)
    }

    /// The figures of the checksum that matched, as the engine logs them.
    static func matchedFigures(_ engine: RestoreEngine) -> String? {
        engine.monitor.snapshot().events.map(\.message).first { $0.hasPrefix("checksum matched:") }
    }

    /// Closes the client, the server and the cluster.
    func close() async {
        await remote?.close()
        server?.stop()
        await server?.wait()
        await cluster.close()
    }

    /// Every data key of `cf` on a store, read with `ldb` (an independent reader), as user keys.
    func ldbUserKeys(store: UInt64, cf: ColumnFamily, raw: Bool = false) throws -> [[UInt8]] {
        let out = try runProgram("ldb", ["--db=\(dir.file("cluster"))/stores/\(store)/db", "--column_family=\(cf.name)", "--hex", "scan"])
        #expect(out.status == 0, "ldb: \(out.stderr)")
        return out.stdout.split(separator: "\n").compactMap { line in
            guard let hex = line.split(separator: " ").first, let key = [UInt8](hex: String(hex)), key.first == DataKey.prefix else { return nil }
            return raw ? Array(key.dropFirst()) : try? MVCCKey(decoding: key.dropFirst()).userKey
        }
    }
}

@Suite(.serialized) struct RestoreTests {
    @Test(arguments: Transport.allCases) func aRestoreMatchesAndEveryReplicaHoldsItsRegion(transport: Transport) async throws {
        let f = try await RestoreFixture(transport: transport)
        let engine = try await f.engine()
        #expect(await engine.run() == .success)
        let s = engine.monitor.snapshot()
        #expect(try await f.checksumMatches(engine))
        #expect(s.doneBytes == s.totalBytes)
        #expect((s.counts[.ingested] ?? 0) >= 3, "several regions")
        #expect(s.stores.allSatisfy { $0.bytesPerSecond == 0 }, "nothing moves after the end: \(s.stores.map(\.bytesPerSecond))")
        let newIDs = Set(engine.rules.tableIDs.values)
        #expect(newIDs.count == 3 && newIDs.allSatisfy { $0 > 102 })
        let regions = await f.cluster.pd.allRegions
        await f.close()

        let expectedPerTable = 6_000 * 2  // rows and one index entry each, in the write CF
        for store in UInt64(1)...3 {
            let keys = try f.ldbUserKeys(store: store, cf: .write)
            #expect(keys.count == 3 * expectedPerTable, "store \(store)")
            #expect(keys.allSatisfy { newIDs.contains(TableCodec.decode($0)?.tableID ?? -1) }, "rewritten on store \(store)")
            // Each key is on the replicas of the region that holds it.
            for key in keys.prefix(500) {
                let encoded = Memcomparable.encode(key)
                let region = regions.first { $0.contains(encoded) }!
                #expect(region.peer(onStore: store) != nil)
            }
        }
    }

    @Test(arguments: Transport.allCases) func retriesCarryTheRestoreThroughFaults(transport: Transport) async throws {
        let f = try await RestoreFixture(tables: 4, rows: 8_000, transport: transport)
        let engine = try await f.engine()
        let faults = Task { await DemoFaults().run(against: engine) }
        f.cluster.failNextDownloads(onStore: 1, count: 2)
        let outcome = await engine.run()
        faults.cancel()
        let failures = engine.monitor.snapshot().regions.filter { $0.phase == .failed }.map { "r\($0.id): \($0.lastError ?? "")" }
        #expect(outcome == .success, "\(failures)")
        let s = engine.monitor.snapshot()
        #expect((s.retries[transport == .grpc ? "StoreError" : "InjectedFault"] ?? 0) >= 1, "\(s.retries)")
        #expect(s.events.contains { $0.message.contains("download failed") })
        #expect(try await f.checksumMatches(engine))
        await f.close()
    }

    @Test(arguments: Transport.allCases) func aBusyStoreIsWaitedOutNotFailed(transport: Transport) async throws {
        let f = try await RestoreFixture(tables: 2, rows: 2_000, transport: transport)
        let engine = try await f.engine()
        f.cluster.makeBusy(store: 1, for: .milliseconds(1500))
        #expect(await engine.run() == .success)
        #expect((engine.monitor.snapshot().retries["ServerIsBusy"] ?? 0) >= 1)
        #expect(engine.monitor.snapshot().regions.allSatisfy { $0.waitingFor == nil })
        await f.close()
    }

    /// A store that is down holds back every region with a peer on it: no ingest goes out while a
    /// replica could not have its SSTs (TiKV panics applying such an ingest); once the store is
    /// back, the restore ends and every replica holds the data.
    @Test(arguments: Transport.allCases) func aDownStoreHoldsItsRegionsBackUntilItReturns(transport: Transport) async throws {
        let f = try await RestoreFixture(tables: 2, rows: 3_000, transport: transport)
        _ = try await f.cluster.pd.waitForLeader(1)
        let engine = try await f.engine()
        try await f.cluster.setStore(3, up: false)
        let run = Task { await engine.run() }
        try await waitUntil(timeout: .seconds(30)) { (engine.monitor.snapshot().retries["StoreNotAvailable"] ?? 0) > 0 }
        for store in f.cluster.stores.values {
            #expect(try store.appliedIngestCounts().isEmpty, "store \(store.id) ingested while store 3 was down")
        }
        try await f.cluster.setStore(3, up: true)
        #expect(await run.value == .success)
        #expect(try await f.checksumMatches(engine))
        // The store that was down catches up through Raft, after the restore's last ingest.
        let expected = 2 * 3_000 * 2
        for store in f.cluster.stores.values {
            var count = 0
            do {
                try await waitUntil(timeout: .seconds(20)) {
                    for r in await f.cluster.pd.allRegions { f.cluster.pd.awake.wake(r.id) }
                    count = 0
                    try? store.db.scan(cf: .write, from: [DataKey.prefix]) { _, _ in count += 1; return true }
                    return count == expected
                }
            } catch {
                Issue.record("store \(store.id) holds \(count) of \(expected) keys")
            }
        }
        await f.close()
    }

    /// A failed ingest execution panics its store, and the restore says so (exit 3). Every region
    /// has a peer on it (3 stores, 3 replicas), so what was not in by then waits: no ingest may go
    /// out while a replica lacks its SSTs. What went in is on the other two replicas, alike.
    @Test(arguments: Transport.allCases) func aPanicOnApplyIsReportedAndTheRestOfTheClusterGoesOn(transport: Transport) async throws {
        let f = try await RestoreFixture(tables: 1, rows: 3_000, transport: transport)
        f.cluster.failNextApplies(onStore: 2, count: 1)
        let engine = try await f.engine()
        let outcome = await engine.run()
        guard case let .storePanicked(panics) = outcome else {
            Issue.record("expected a store panic, got \(outcome)")
            return
        }
        #expect(panics.keys.contains(2))
        #expect(RestoreSummary(engine: engine, outcome: outcome).exit_code == 3)
        #expect(f.cluster.store(1)!.isUp && f.cluster.store(3)!.isUp)
        #expect(await ChaosRun.replicasAgree([f.cluster.store(1)!, f.cluster.store(3)!], in: f.cluster), "the surviving replicas hold the same data")
        await f.close()
    }

    /// Running out of descriptors on apply is no apply failure: the store does not panic, the
    /// entry waits and is applied once there is room, and nothing is ingested twice.
    @Test(arguments: Transport.allCases) func anApplyOutOfDescriptorsWaitsInsteadOfPanicking(transport: Transport) async throws {
        let f = try await RestoreFixture(tables: 1, rows: 3_000, transport: transport)
        for store in 1...3 { f.cluster.exhaustDescriptors(onStore: UInt64(store), applies: 3) }
        let engine = try await f.engine()
        #expect(await engine.run() == .success)
        // The restore ends once each leader applied; a follower whose apply is held retries on
        // its own ticks, meeting its remaining EMFILEs, until it holds every file its leader does.
        let stores = Array(f.cluster.stores.values)
        try await waitUntil(timeout: .seconds(30)) {
            for r in await f.cluster.pd.allRegions { f.cluster.pd.awake.wake(r.id) }
            let ingested = stores.map { Set(((try? $0.appliedIngestCounts()) ?? [:]).keys) }
            return stores.allSatisfy { $0.faults.exhaustDescriptors == 0 } && !ingested[0].isEmpty && ingested.allSatisfy { $0 == ingested[0] }
        }
        for store in stores {
            #expect(store.state == .up, "store \(store.id) is \(store.state)")
            #expect(store.faults.exhaustDescriptors == 0, "every injected EMFILE was met")
            for (uuid, count) in try store.appliedIngestCounts() { #expect(count == 1, "store \(store.id) applied \(uuid) \(count) times") }
        }
        #expect(engine.monitor.snapshot().retries["ServerIsBusy"] ?? 0 > 0, "the leader's refusals told the driver to wait")
        await f.close()
    }

    @Test(arguments: Transport.allCases) func pauseHoldsEveryRegionUntilResume(transport: Transport) async throws {
        let f = try await RestoreFixture(tables: 2, rows: 3_000, transport: transport)
        let engine = try await f.engine()
        engine.pauseAll()
        let run = Task { await engine.run() }
        try await waitUntil(timeout: .seconds(10)) { (engine.monitor.snapshot().counts[.paused] ?? 0) > 0 }
        // Paused before it started: a worker holds a region at its pause point, and no region has
        // downloaded or ingested anything on any store.
        let paused = engine.monitor.snapshot()
        #expect(paused.doneBytes == 0)
        #expect(paused.stores.allSatisfy { $0.bytesDownloaded == 0 && $0.downloadsInFlight == 0 })
        for store in f.cluster.stores.values {
            #expect(try FileManager.default.contentsOfDirectory(atPath: store.importDirectory).isEmpty, "store \(store.id) downloaded while paused")
            try store.db.scan(cf: .write, from: [DataKey.prefix]) { _, _ in
                Issue.record("store \(store.id) holds data while paused")
                return false
            }
        }
        engine.resumeAll()
        #expect(await run.value == .success)
        await f.close()
    }

    /// A restore cancelled while its regions are paused stops: the paused workers neither spin on
    /// waits that cancellation makes return at once (which kept both cores busy, and the
    /// cooperative pool with them) nor take more work, and the run ends with what is done kept.
    @Test func aPausedRestoreStopsWhenCancelled() async throws {
        let f = try await RestoreFixture(tables: 2, rows: 3_000, transport: .inProcess)
        let engine = try await f.engine()
        engine.pauseAll()
        let run = Task { await engine.run() }
        try await waitUntil(timeout: .seconds(10)) { (engine.monitor.snapshot().counts[.paused] ?? 0) > 0 }
        let before = processCPUSeconds()
        run.cancel()
        #expect(await run.value == .stopped)
        try await Task.sleep(for: .seconds(1))
        let busy = processCPUSeconds() - before
        #expect(busy < 0.5, "the process used \(busy) s of CPU in the second after the cancel")
        #expect(engine.monitor.snapshot().counts[.ingested, default: 0] == 0)
        await f.close()
    }

    private func processCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1_000_000
    }

    @Test(arguments: Transport.allCases) func aFailedRegionWaitsForTheOperatorAndRetries(transport: Transport) async throws {
        let f = try await RestoreFixture(tables: 1, rows: 2_000, transport: transport)
        f.options.download.attempts = 2
        f.cluster.failNextDownloads(onStore: 1, count: 1_000)
        let engine = try await f.engine()
        let outcome = await engine.run()
        guard case .regionsFailed = outcome else {
            Issue.record("expected failed regions, got \(outcome)")
            return
        }
        let failed = engine.failedRegions
        #expect(!failed.isEmpty)
        #expect(engine.monitor.snapshot().regions.first { $0.id == failed[0] }?.lastError?.contains("injected") == true)
        f.cluster.store(1)!.updateFaults { $0.failDownloads = 0 }
        #expect(await engine.retryFailed() == failed.count)
        #expect(await engine.run() == .success)
        #expect(try await f.checksumMatches(engine))
        await f.close()
    }

    @Test(arguments: Transport.allCases) func rawBackupsRestoreUnderAnInsertedPrefix(transport: Transport) async throws {
        let f = try await RestoreFixture(tables: 2, rows: 3_000, raw: true, transport: transport)
        f.options.insertPrefix = Array("tenant-7/".utf8)
        let engine = try await f.engine()
        #expect(await engine.run() == .success)
        #expect(try await f.checksumMatches(engine))
        await f.close()
        let keys = try f.ldbUserKeys(store: 1, cf: .default, raw: true)
        #expect(keys.count == 6_000)
        #expect(keys.allSatisfy { $0.starts(with: Array("tenant-7/raw/t".utf8)) })
    }

    @Test(arguments: Transport.allCases) func transactionalBackupsRestoreUnderAPrefixInKeyspaceMode(transport: Transport) async throws {
        let f = try await RestoreFixture(tables: 1, rows: 2_000, transport: transport)
        f.options.insertPrefix = Array("ks1".utf8)
        let engine = try await f.engine()
        #expect(engine.rules.mode == .keyspace)
        #expect(await engine.run() == .success)
        #expect(try await f.checksumMatches(engine))
        await f.close()
        let keys = try f.ldbUserKeys(store: 2, cf: .write)
        #expect(keys.count == 4_000 && keys.allSatisfy { $0.starts(with: Array("ks1t".utf8)) })
    }

    @Test func aChecksumMismatchNamesTheFileAndTable() async throws {
        let f = try await RestoreFixture(tables: 2, rows: 1_500)
        let engine = try await f.engine()
        #expect(await engine.run() == .success)
        // Change one restored row's value on every replica behind the importer's back.
        let table = try #require(engine.rules.tableIDs[100])
        let userKey = TableCodec.recordKey(tableID: table, handle: 7)
        for store in f.cluster.stores.values { try RestoreFixture.tamper(userKey, in: store.db) }
        #expect(await engine.verifyChecksum() == .mismatched)
        let mismatches = engine.checksumMismatches.map(\.description)
        #expect(mismatches.contains { $0.hasPrefix("file ") && $0.contains("expected crc64xor=") })
        #expect(mismatches.contains { $0.contains("table `demo`.`t1`") })
        #expect(mismatches.count == 2, "only the one file set and its table: \(mismatches)")
        await f.close()
    }

    @Test(arguments: Transport.allCases) func badRulesFailBeforeAnyWrite(transport: Transport) async throws {
        let f = try await RestoreFixture(tables: 1, rows: 100, transport: transport)
        f.options.prefixRules = [RewriteRule(oldPrefix: Array("x".utf8), newPrefix: Array("y".utf8))]
        await #expect { try await f.engine() } throws: { "\($0)".contains("no rewrite rule covers") }
        f.options.prefixRules = [RewriteRule(oldPrefix: Array("t".utf8), newPrefix: Array("a".utf8)), RewriteRule(oldPrefix: Array("t".utf8), newPrefix: Array("b".utf8))]
        await #expect { try await f.engine() } throws: { "\($0)".contains("conflict") }
        f.options.prefixRules = []
        f.options.tableIDMap = [555: 7]
        await #expect { try await f.engine() } throws: { "\($0)".contains("not in the backup") }
        #expect(try FileManager.default.contentsOfDirectory(atPath: f.cluster.store(1)!.importDirectory).isEmpty)
        await f.close()
    }
}
