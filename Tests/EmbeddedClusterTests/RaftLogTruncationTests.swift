import Foundation
import Testing
@testable import TestSupport
@testable import KeyCodec
@testable import ClusterAPI
@testable import EmbeddedCluster

/// The Raft log is truncated as TiKV truncates it: a CompactLog entry once every replica holds
/// enough entries, or, past the count limit, whoever lags; the entries leave the disk, a reopen
/// reads only what is kept, and a replica that fell behind the truncation is caught up by snapshot.
@Suite(.serialized) struct RaftLogTruncationTests {
    /// Entries of `region` that `store` keeps on disk.
    func storedEntries(_ store: Store, region: UInt64) throws -> Int {
        let prefix = RocksRaftStorage.key(region, RocksRaftStorage.entrySuffix)
        var count = 0
        try store.db.scan(cf: .default, from: prefix) { key, _ in
            guard key.starts(with: prefix) else { return false }
            count += 1
            return true
        }
        return count
    }

    /// Proposes `count` no-ops through the region's leader, as a client does: a leader that lost
    /// its term (a busy machine can delay its heartbeats past an election) is asked for again.
    func propose(_ count: Int, to group: RaftGroup, in cluster: Cluster) async throws {
        var store = try await cluster.pd.waitForLeader(group.regionID).storeID
        var proposed = 0
        while proposed < count {
            switch await group.propose(.noop, viaStore: store, timeout: .seconds(10)) {
            case .applied:
                proposed += 1
            case .rejected(.notLeader):
                store = try await cluster.pd.waitForLeader(group.regionID).storeID
            case let outcome:
                Issue.record("a proposal ended \(outcome)")
                return
            }
        }
    }

    /// Ingests through the region's leader, as a client does: a leader that changed since it was
    /// asked for is asked for again.
    func ingest(_ files: [IngestFile], into region: Region, _ f: ImportFixture) async throws {
        while true {
            let leader = try await f.cluster.pd.waitForLeader(region.id)
            do {
                return try await f.services[leader.storeID]!.ingest(IngestRequest(regionID: region.id, epoch: region.epoch, files: files))
            } catch {
                guard case .region(.notLeader) = error else { throw error }
            }
        }
    }

    /// Above the threshold and the count limit, every entry a replica keeps: what a log may hold.
    static let bound = Int(RaftLogGC.threshold) * 2 + 8

    @Test func aThousandIngestsLeaveALogBoundedOnDiskAndOnReopen() async throws {
        let f = try await ImportFixture(rows: 100)
        let region = try #require(await f.cluster.pd.region(id: 1))
        var ingested = 0
        for i in 0..<1_000 {
            let files = try await f.download(for: region, uuidSuffix: "-\(i)")
            ingested += files.count
            try await ingest(files, into: region, f)
        }
        try await waitUntilApplied(f, region: 1)
        for store in f.cluster.stores.values { #expect(try store.appliedIngestCounts().count == ingested, "store \(store.id): every file of every ingest") }
        for status in await f.cluster.pd.peerStatus(of: 1) {
            #expect(status.appliedIndex > 1_000)
            #expect(status.lastIndex - status.truncatedIndex <= UInt64(Self.bound), "store \(status.peer.storeID) keeps \(status.truncatedIndex + 1)...\(status.lastIndex)")
        }
        for store in f.cluster.stores.values {
            let kept = try storedEntries(store, region: 1)
            #expect(kept <= Self.bound, "store \(store.id) keeps \(kept) entries on disk")
        }
        await f.close()

        // Reopened, each replica loads only the entries it keeps, and the region serves again.
        let reopened = try await Cluster.open(directory: f.dir.file("cluster"))
        for store in reopened.stores.values {
            let saved = try store.raftState.load(region: 1)
            #expect(saved.entries.count <= Self.bound, "store \(store.id) loads \(saved.entries.count) entries")
            #expect((saved.hard?.baseIndex ?? 0) > 900)
        }
        try await propose(10, to: try #require(await reopened.pd.group(1)), in: reopened)
        await reopened.close()
    }

    /// A replica on a down store holds the others back only up to the count limit: then the log is
    /// truncated past it, and when its store comes back it takes a snapshot of the leader's data.
    @Test func aReplicaLeftBehindTheTruncationIsCaughtUpBySnapshot() async throws {
        let f = try await ImportFixture(rows: 2_000)
        let region = await f.cluster.pd.region(id: 1)!
        let files = try await f.download(for: region)
        let leader = try await f.cluster.pd.waitForLeader(1)
        let behind = try #require(region.peers.first { $0.storeID != leader.storeID })
        try await f.cluster.setStore(behind.storeID, up: false)
        try await ingest(files, into: region, f)
        let group = try #require(await f.cluster.pd.group(1))
        try await propose(Int(RaftLogGC.countLimit) + 100, to: group, in: f.cluster)
        let current = try await f.cluster.pd.waitForLeader(1)
        let lead = try #require(await f.cluster.pd.peerStatus(of: 1).first { $0.peer.storeID == current.storeID })
        #expect(lead.lastIndex - lead.truncatedIndex <= RaftLogGC.countLimit, "the leader keeps \(lead.truncatedIndex + 1)...\(lead.lastIndex)")
        let stuck = try #require(await f.cluster.pd.peerStatus(of: 1).first { $0.peer.id == behind.id })
        #expect(stuck.appliedIndex < lead.truncatedIndex, "the down replica lags past the truncation")

        try await f.cluster.setStore(behind.storeID, up: true)
        try await waitUntilApplied(f, region: 1)
        let caughtUp = try #require(await f.cluster.pd.peerStatus(of: 1).first { $0.peer.id == behind.id })
        #expect(caughtUp.appliedIndex >= lead.appliedIndex)
        // The snapshot brought the ingested data: the same keys as the leader's, read by ldb.
        for cf in [ColumnFamily.write, .default] {
            #expect(try f.ldbKeys(store: behind.storeID, cf: cf) == f.ldbKeys(store: leader.storeID, cf: cf), "\(cf.name)")
        }
        #expect(try f.ldbKeys(store: behind.storeID, cf: .write).count > 100)
        #expect(f.cluster.stores.values.allSatisfy { $0.state == .up })
        await f.close()
    }
}
