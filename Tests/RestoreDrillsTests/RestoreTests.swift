import Foundation
import Testing
@testable import TestSupport
@testable import RestoreTestSupport
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

@Suite(.serialized) struct RestoreTests {
    @Test(arguments: DriverTransport.allCases) func aRestoreMatchesAndEveryReplicaHoldsItsRegion(transport: DriverTransport) async throws {
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

    @Test(arguments: DriverTransport.allCases) func retriesCarryTheRestoreThroughFaults(transport: DriverTransport) async throws {
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

    @Test(arguments: DriverTransport.allCases) func aBusyStoreIsWaitedOutNotFailed(transport: DriverTransport) async throws {
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
    @Test(arguments: DriverTransport.allCases) func aDownStoreHoldsItsRegionsBackUntilItReturns(transport: DriverTransport) async throws {
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
    @Test(arguments: DriverTransport.allCases) func aPanicOnApplyIsReportedAndTheRestOfTheClusterGoesOn(transport: DriverTransport) async throws {
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
    @Test(arguments: DriverTransport.allCases) func anApplyOutOfDescriptorsWaitsInsteadOfPanicking(transport: DriverTransport) async throws {
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
            return stores.allSatisfy { $0.faults.pending.exhaustDescriptors == 0 } && !ingested[0].isEmpty && ingested.allSatisfy { $0 == ingested[0] }
        }
        for store in stores {
            #expect(store.state == .up, "store \(store.id) is \(store.state)")
            #expect(store.faults.pending.exhaustDescriptors == 0, "every injected EMFILE was met")
            for (uuid, count) in try store.appliedIngestCounts() { #expect(count == 1, "store \(store.id) applied \(uuid) \(count) times") }
        }
        #expect(engine.monitor.snapshot().retries["ServerIsBusy"] ?? 0 > 0, "the leader's refusals told the driver to wait")
        await f.close()
    }

    @Test(arguments: DriverTransport.allCases) func pauseHoldsEveryRegionUntilResume(transport: DriverTransport) async throws {
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

    @Test(arguments: DriverTransport.allCases) func aFailedRegionWaitsForTheOperatorAndRetries(transport: DriverTransport) async throws {
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
        f.cluster.store(1)!.faults.arm { $0.failDownloads = 0 }
        #expect(await engine.retryFailed() == failed.count)
        #expect(await engine.run() == .success)
        #expect(try await f.checksumMatches(engine))
        await f.close()
    }

    @Test(arguments: DriverTransport.allCases) func rawBackupsRestoreUnderAnInsertedPrefix(transport: DriverTransport) async throws {
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

    @Test(arguments: DriverTransport.allCases) func transactionalBackupsRestoreUnderAPrefixInKeyspaceMode(transport: DriverTransport) async throws {
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

    @Test(arguments: DriverTransport.allCases) func aTableMapThatReversesTheTablesOrderStillMatches(transport: DriverTransport) async throws {
        let f = try await RestoreFixture(tables: 3, rows: 1_000, transport: transport)
        // Later tables get smaller ids: the plan's order (by new keys) is the reverse of the
        // backup's (by old keys), and the checksum must find each key's file set all the same.
        f.options.tableIDMap = [100: 902, 101: 901, 102: 900]
        let engine = try await f.engine()
        #expect(await engine.run() == .success)
        #expect(engine.checksumMismatches.isEmpty, "\(engine.checksumMismatches)")
        #expect(try await f.checksumMatches(engine))
        await f.close()
        let keys = try f.ldbUserKeys(store: 1, cf: .write)
        #expect(Set(keys.compactMap { TableCodec.decode($0)?.tableID }) == [900, 901, 902])
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

    @Test(arguments: DriverTransport.allCases) func badRulesFailBeforeAnyWrite(transport: DriverTransport) async throws {
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
