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

/// Faults that only the wire has, against a restore over gRPC: each ends in a matching checksum.
@Suite(.serialized) struct WireFaultTests {
    /// A store's server stops (connections refused) as the restore begins, and comes back: its
    /// regions wait for it (PD still lists it up: one refused call does not make a store down),
    /// nothing is ingested without it, and the restore ends once it answers again.
    @Test func aStoreServerThatStopsAndComesBackIsRidden() async throws {
        let f = try await RestoreFixture(tables: 2, rows: 4_000, transport: .grpc)
        let engine = try await f.engine()
        let server = try #require(f.server)
        await server.stopServing(store: 2)
        let run = Task { await engine.run() }
        try await waitUntil(timeout: .seconds(20)) { (engine.monitor.snapshot().retries["StoreNotAvailable"] ?? 0) > 0 }
        let meanwhile = engine.monitor.snapshot()
        #expect(meanwhile.stores.first { $0.id == 2 }?.state == .up, "PD's view, not one failed call")
        #expect(meanwhile.doneBytes == 0, "every region has a peer on store 2: none is ingested without it")
        try await server.resumeServing(store: 2)
        let outcome = await run.value
        #expect(outcome == .success, "\(engine.monitor.snapshot().regions.filter { $0.phase == .failed }.map { $0.lastError ?? "" })")
        #expect(try await f.checksumMatches(engine))
        try await waitUntil(timeout: .seconds(10)) { await f.client.stores().first { $0.id == 2 }?.state == .up }
        await f.close()
    }

    /// A leader's store that stops serving while the checksum asks it is asked again until it
    /// answers (the checksum's retries counted as the restore's are); one that never comes back
    /// ends the restore as a checksum that could not be read, naming the store, never as a
    /// mismatch.
    @Test func aStoreThatStopsDuringTheChecksumIsAskedAgainOrNamed() async throws {
        let f = try await RestoreFixture(tables: 2, rows: 2_000, transport: .grpc)
        f.options.verifyChecksum = false
        let restore = try await f.engine()
        #expect(await restore.run() == .success)
        let server = try #require(f.server)
        let restored = restore.monitor.snapshot().regions.filter { $0.fileSetsTotal > 0 }
        let first = try #require(restored.first)
        let leader = try #require(await f.client.leader(of: first.id)).storeID

        f.options.verifyChecksum = true
        f.options.checksum = RetryPolicy(attempts: 50, initialBackoff: .milliseconds(20), maxBackoff: .milliseconds(100))
        let blinked = try await f.engine()
        await server.stopServing(store: leader)
        let verdict = Task { await blinked.verifyChecksum() }
        try await waitUntil(timeout: .seconds(20)) { (blinked.monitor.snapshot().retries["StoreNotAvailable"] ?? 0) > 0 }
        try await server.resumeServing(store: leader)
        #expect(await verdict.value == .matched, "\(blinked.monitor.snapshot().events.map(\.message).suffix(4))")

        f.options.checksum = RetryPolicy(attempts: 3, initialBackoff: .milliseconds(10), maxBackoff: .milliseconds(20))
        let gone = try await f.engine()
        await server.stopServing(store: leader)
        let outcome = await gone.run()
        guard case let .checksumUnread(why) = outcome else {
            Issue.record("a checksum that cannot be read is not a mismatch: \(outcome)")
            return await f.close()
        }
        #expect(why.contains("store \(leader)"), "\(why)")
        #expect(gone.checksumMismatches.isEmpty)
        #expect(RestoreSummary(engine: gone, outcome: outcome).line.contains("checksum=UNREAD"))
        try await server.resumeServing(store: leader)
        await f.close()
    }

    /// PD's leader moves to another member mid-restore, and then the first member stops: the
    /// client, given one member's address, follows the leader that GetMembers names, and the
    /// restore ends as if nothing happened.
    @Test func aPDLeaderChangeIsFollowed() async throws {
        let f = try await RestoreFixture(tables: 2, rows: 4_000, transport: .grpc, pdMembers: 3)
        let server = try #require(f.server)
        let engine = try await f.engine()
        let run = Task { await engine.run() }
        try await waitUntil(timeout: .seconds(20)) { engine.monitor.snapshot().doneBytes > 0 }
        server.movePDLeader(to: 1)
        try await waitUntil(timeout: .seconds(20)) { await f.client.stores().count == 3 && engine.monitor.snapshot().doneBytes > 0 }
        await server.stopServing(pdMember: 0)
        server.movePDLeader(to: 2)
        #expect(await run.value == .success, "\(engine.monitor.snapshot().regions.filter { $0.phase == .failed }.map { $0.lastError ?? "" })")
        #expect(await f.client.regions(overlapping: .all).count > 1, "PD answers through its new leader")
        #expect(try #require(f.remote).pd.address == server.pdMembers[2], "the client follows the leader GetMembers names")
        #expect(try await f.checksumMatches(engine))
        await f.close()
    }

    /// A scatter whose operator PD reports as TIMEOUT is sent again, as BR does, and the restore
    /// goes on.
    @Test func aScatterThatTimedOutIsSentAgain() async throws {
        let f = try await RestoreFixture(tables: 2, rows: 2_000, transport: .grpc)
        let server = try #require(f.server)
        server.timeOutScatters(2)
        let engine = try await f.engine()
        #expect(await engine.run() == .success)
        let asked = server.scatterRequests
        #expect(asked.values.contains { $0 >= 2 }, "a timed-out scatter was sent again: \(asked)")
        #expect(try await f.checksumMatches(engine))
        await f.close()
    }

    /// Replies slower than the client's deadline count as failed calls and are retried; once the
    /// store is fast again the restore finishes.
    @Test func aReplySlowerThanTheDeadlineIsRetried() async throws {
        var timeouts = WireTimeouts()
        timeouts.download = .milliseconds(300)
        let f = try await RestoreFixture(tables: 1, rows: 3_000, transport: .grpc, wireTimeouts: timeouts)
        f.options.download = RetryPolicy(attempts: 20, initialBackoff: .milliseconds(20), maxBackoff: .milliseconds(100))
        let server = try #require(f.server)
        server.delayReplies(store: 1, by: .seconds(1))
        let engine = try await f.engine()
        let run = Task { await engine.run() }
        try await waitUntil(timeout: .seconds(20)) { (engine.monitor.snapshot().retries["StoreError"] ?? 0) > 0 }
        server.delayReplies(store: 1, by: .zero)
        #expect(await run.value == .success)
        #expect(engine.monitor.snapshot().events.contains { $0.message.contains("did not answer in time") })
        #expect(try await f.checksumMatches(engine))
        await f.close()
    }

    /// Leaders moved and regions split behind the client's back: the NotLeader answers name the
    /// new leader, the EpochNotMatch answers the new regions, and the client follows both.
    @Test func leaderMovesAndSplitsBehindTheClientAreFollowed() async throws {
        let f = try await RestoreFixture(tables: 3, rows: 6_000, transport: .grpc)
        f.options.mergeSize = 200 << 10
        let engine = try await f.engine()
        let run = Task { await engine.run() }
        var moved = 0, split = 0
        try await waitUntil(timeout: .seconds(20)) { engine.monitor.snapshot().phase == .restoring }
        for row in engine.monitor.snapshot().regions where row.phase == .queued {
            guard let region = await f.cluster.pd.region(id: row.id), let leader = await f.cluster.leader(of: row.id) else { continue }
            if moved < 3, let target = region.peers.first(where: { $0.storeID != leader.storeID }),
               (try? await f.cluster.transferLeader(regionID: row.id, toStore: target.storeID)) != nil {
                moved += 1
            } else if split < 2, let key = DemoFaults.middle(region), (try? await f.cluster.split(regionID: row.id, at: [key])) != nil {
                split += 1
            }
        }
        #expect(await run.value == .success)
        #expect(moved + split > 0, "some queued region was changed behind the client")
        let retries = engine.monitor.snapshot().retries
        #expect((retries["NotLeader"] ?? 0) + (retries["EpochNotMatch"] ?? 0) > 0, "\(retries)")
        #expect(try await f.checksumMatches(engine))
        await f.close()
    }

    /// The rate limit reaches every store over the wire (SetDownloadSpeedLimit), at the start and
    /// when the operator changes it, the console's figures show it, and the end sets it back to 0.
    @Test func theRateLimitReachesEveryStoreOverTheWire() async throws {
        let f = try await RestoreFixture(tables: 1, rows: 500, transport: .grpc)
        f.options.rateLimit = 256 << 10
        let engine = try await f.engine()
        for (id, importer) in f.cluster.importers { #expect(importer.limiter.bytesPerSecond == 256 << 10, "store \(id)") }
        engine.setRateLimit(4 << 20)
        try await waitUntil(timeout: .seconds(10)) { f.cluster.importers.values.allSatisfy { $0.limiter.bytesPerSecond == 4 << 20 } }
        try await waitUntil(timeout: .seconds(10)) { f.client.traffic(of: 1)?.rateLimit == 4 << 20 }
        #expect(await engine.run() == .success)
        // TiKV keeps a limit with no expiry: the end of the restore sets it back to none.
        for (id, importer) in f.cluster.importers { #expect(importer.limiter.bytesPerSecond == 0, "store \(id) keeps a limit") }
        await f.close()
    }
}
