import Foundation
import Testing
@testable import TestSupport
@testable import RestoreTestSupport
@testable import KeyCodec
@testable import ClusterAPI
@testable import EmbeddedCluster
@testable import RestoreDriver
@testable import RestoreDrills
@testable import RemoteCluster
@testable import ClusterServer

/// The client held to TiKV's rules under the faults a real cluster has: the server checks every
/// MultiIngest against what TiKV would do (`TiKVRules`: every peer of the region must hold every
/// SST, or TiKV panics applying it), and each scenario ends with every key on every replica.
@Suite(.serialized) struct RuleHarnessTests {
    enum Scenario: String, CaseIterable, CustomTestStringConvertible {
        case storeUnreachable, pdLeaderChange, splitAndLeaderMoveBehindTheClient, serverIsBusy
        var testDescription: String { rawValue }
    }

    static let tables = 2, rows = 4_000

    @Test(arguments: Scenario.allCases) func theClientKeepsTiKVsRules(_ scenario: Scenario) async throws {
        let f = try await RestoreFixture(tables: Self.tables, rows: Self.rows, transport: .grpc, pdMembers: 2)
        f.options.mergeSize = 200 << 10
        let server = try #require(f.server)
        let engine = try await f.engine()
        let run = Task { await engine.run() }
        try await waitUntil(timeout: .seconds(30)) { engine.monitor.snapshot().phase == .restoring }
        switch scenario {
        case .storeUnreachable:
            try await waitUntil(timeout: .seconds(20)) { engine.monitor.snapshot().doneBytes > 0 }
            await server.stopServing(store: 3)
            try await Task.sleep(for: .seconds(2))  // a few seconds of a store that does not answer
            try await server.resumeServing(store: 3)
        case .pdLeaderChange:
            try await waitUntil(timeout: .seconds(20)) { engine.monitor.snapshot().doneBytes > 0 }
            server.movePDLeader(to: 1)
            await server.stopServing(pdMember: 0)
        case .splitAndLeaderMoveBehindTheClient:
            var changed = 0
            for row in engine.monitor.snapshot().regions where row.phase == .queued && changed < 6 {
                guard let region = await f.cluster.pd.region(id: row.id), let leader = await f.cluster.leader(of: row.id) else { continue }
                if changed % 2 == 0, let target = region.peers.first(where: { $0.storeID != leader.storeID }) {
                    if (try? await f.cluster.transferLeader(regionID: row.id, toStore: target.storeID)) != nil { changed += 1 }
                } else if let key = DemoFaults.middle(region), (try? await f.cluster.split(regionID: row.id, at: [key])) != nil {
                    changed += 1
                }
            }
            #expect(changed > 0, "some queued region was changed behind the client")
        case .serverIsBusy:
            for store in UInt64(1)...3 { f.cluster.makeBusy(store: store, for: .milliseconds(800)) }
        }
        let outcome = await run.value
        #expect(outcome == .success, "\(scenario): \(engine.monitor.snapshot().regions.filter { $0.phase == .failed }.map { $0.lastError ?? "" })")
        #expect(server.rules.violations.isEmpty, "\(scenario): \(server.rules.violations)")
        #expect(try await f.checksumMatches(engine))
        let expected = Self.tables * Self.rows * 2
        for store in f.cluster.stores.values {
            try await waitUntil(timeout: .seconds(10)) {
                for r in await f.cluster.pd.allRegions { f.cluster.pd.awake.wake(r.id) }
                var count = 0
                try? store.db.scan(cf: .write, from: [DataKey.prefix]) { _, _ in count += 1; return true }
                return count == expected
            }
        }
        await f.close()
    }
}
