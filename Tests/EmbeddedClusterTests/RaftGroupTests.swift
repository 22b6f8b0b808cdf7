import Foundation
import Testing
@testable import TestSupport
@testable import KeyCodec
@testable import ClusterAPI
@testable import EmbeddedCluster

/// One region's `RaftGroup`, the store's loop around the Raft peers: over real stores, what a
/// proposal hears when it cannot apply; over Raft state kept in memory and ticks given by hand,
/// what the loop writes, and that a restart resumes from it.
@Suite(.serialized) struct RaftGroupTests {
    static func cluster() async throws -> (TemporaryDirectory, Cluster, RaftGroup, PeerMeta) {
        let dir = try TemporaryDirectory()
        let cluster = try await Cluster.open(directory: dir.file("cluster"), create: .init(stores: 3, replicas: 3))
        let leader = try await cluster.pd.waitForLeader(1)
        let group = try #require(await cluster.pd.group(1))
        return (dir, cluster, group, leader)
    }

    @Test func aProposalThroughAFollowerIsRefusedNamingTheLeader() async throws {
        let (dir, cluster, group, leader) = try await Self.cluster()
        defer { withExtendedLifetime(dir) {} }
        let follower = try #require(await group.region.peers.first { $0.storeID != leader.storeID })
        let outcome = await group.propose(.noop, viaStore: follower.storeID, timeout: .seconds(5))
        #expect(outcome == .rejected(.notLeader(regionID: 1, leader: leader)))
        #expect(await group.propose(.noop, viaStore: leader.storeID, timeout: .seconds(5)) == .applied)
        await cluster.close()
    }

    /// Without a quorum nothing commits: the proposal ends in a timeout, and the group holds no
    /// waiter for it afterwards.
    @Test func aProposalWithoutAQuorumTimesOut() async throws {
        let (dir, cluster, group, leader) = try await Self.cluster()
        defer { withExtendedLifetime(dir) {} }
        for store in UInt64(1)...3 where store != leader.storeID { try await cluster.setStore(store, up: false) }
        let outcome = await group.propose(.noop, viaStore: leader.storeID, timeout: .milliseconds(300))
        #expect(outcome == .rejected(.timeout(regionID: 1, after: .milliseconds(300))))
        #expect(await group.proposals.isEmpty)
        await cluster.close()
    }

    /// A proposal to a store that is down is refused at once, naming the store and its state.
    @Test func aProposalToADownStoreIsRefusedAtOnce() async throws {
        let (dir, cluster, group, leader) = try await Self.cluster()
        defer { withExtendedLifetime(dir) {} }
        try await cluster.setStore(leader.storeID, up: false)
        let outcome = await group.propose(.noop, viaStore: leader.storeID, timeout: .seconds(5))
        #expect(outcome == .rejected(.storeNotAvailable(storeID: leader.storeID, state: .down)))
        await cluster.close()
    }

    /// A read barrier is a read index: it answers on the leader once a quorum confirmed it, and
    /// writes no entry on any replica; without a quorum it times out, and through a follower it is
    /// refused naming the leader.
    @Test func aReadBarrierWritesNothingAndNeedsAQuorum() async throws {
        let (dir, cluster, group, leader) = try await Self.cluster()
        defer { withExtendedLifetime(dir) {} }
        #expect(await group.propose(.noop, viaStore: leader.storeID, timeout: .seconds(5)) == .applied)
        let before = await group.status().map(\.lastIndex)
        for _ in 0..<20 { #expect(try await cluster.pd.readBarrier(1) == leader) }
        #expect(await group.status().map(\.lastIndex) == before)
        let follower = try #require(await group.region.peers.first { $0.storeID != leader.storeID })
        #expect(await group.readIndex(viaStore: follower.storeID, timeout: .seconds(5)) == .rejected(.notLeader(regionID: 1, leader: leader)))
        for store in UInt64(1)...3 where store != leader.storeID { try await cluster.setStore(store, up: false) }
        let outcome = await group.readIndex(viaStore: leader.storeID, timeout: .milliseconds(300))
        #expect(outcome == .rejected(.timeout(regionID: 1, after: .milliseconds(300))) || outcome == .rejected(.notLeader(regionID: 1, leader: nil)))
        #expect(await group.reads.isEmpty)
        await cluster.close()
    }

    // MARK: the loop over storage in memory

    /// Three stores whose Raft state is in memory, and one region with a peer on each.
    struct MemoryGroup {
        let dir: TemporaryDirectory
        let storages: [UInt64: MemoryRaftStorage]
        let stores: [UInt64: Store]
        let region = Region(id: 1, startKey: [], endKey: [], epoch: RegionEpoch(), peers: (1...3).map { PeerMeta(id: 10 + $0, storeID: $0) })

        init() throws {
            dir = try TemporaryDirectory()
            var storages: [UInt64: MemoryRaftStorage] = [:]
            var stores: [UInt64: Store] = [:]
            for id in UInt64(1)...3 {
                storages[id] = MemoryRaftStorage(storeID: id)
                stores[id] = try Store(id: id, clusterDirectory: dir.path, raftState: storages[id])
            }
            self.storages = storages
            self.stores = stores
        }

        /// The group as it starts from what the storages hold, ticked by hand only.
        func start(campaignOn: UInt64? = nil) throws -> RaftGroup {
            try RaftGroup(region: region, stores: stores, transport: Transport(), awake: AwakeRegions(), initializedStores: Set(stores.keys), campaignOn: campaignOn, onEvent: { _ in })
        }

        func close() { for store in stores.values { store.close() } }
    }

    /// Ticks `group` until `condition` holds; false when it did not within `ticks`.
    static func tick(_ group: RaftGroup, upTo ticks: Int = 500, until condition: () async -> Bool) async -> Bool {
        for _ in 0..<ticks {
            if await condition() { return true }
            _ = await group.tick()
        }
        return await condition()
    }

    static func leader(of group: RaftGroup) async throws -> PeerMeta {
        #expect(await tick(group) { await group.leader != nil }, "no leader within 500 ticks")
        return try #require(await group.leader)
    }

    /// What the loop acknowledged is what it wrote: a group started again from the storages has
    /// every replica's term and log as they were, and goes on from there.
    @Test func aRestartedGroupResumesFromWhatItsStorageHolds() async throws {
        let g = try MemoryGroup()
        let first = try g.start(campaignOn: 1)
        let leader = try await Self.leader(of: first)
        for _ in 0..<3 { #expect(await first.propose(.noop, viaStore: leader.storeID, timeout: .seconds(5)) == .applied) }
        #expect(await Self.tick(first) { await !first.isAwake }, "the followers catch up")
        let before = await first.status()
        await first.stop()

        let second = try g.start()
        let after = await second.status()
        #expect(after.map(\.term) == before.map(\.term))
        #expect(after.map(\.lastIndex) == before.map(\.lastIndex))
        #expect(before.allSatisfy { $0.lastIndex >= 4 }, "an empty entry of the new leader and three proposals")
        let next = try await Self.leader(of: second)
        #expect(try #require(await second.status().first { $0.isLeader }).term > before[0].term)
        #expect(await second.propose(.noop, viaStore: next.storeID, timeout: .seconds(5)) == .applied)
        await second.stop()
        g.close()
    }

    /// A split's child starts on the leader's store alone, which campaigns at once; its requests
    /// to the other replicas are dropped, for they do not hold the region yet. The first of them
    /// to apply the split is asked again and votes: the child's leader is elected in that first
    /// election, not in another one an election timeout (10 to 20 ticks) later.
    @Test func aSplitChildElectsItsLeaderAsSoonAsASecondReplicaHoldsIt() async throws {
        let g = try MemoryGroup()
        let group = try RaftGroup(region: g.region, stores: g.stores, transport: Transport(), awake: AwakeRegions(), initializedStores: [1], campaignOn: 1, onEvent: { _ in })
        _ = await group.tick()
        #expect(await group.leader == nil, "one replica of three")
        let campaign = try #require(await group.status().first { $0.peer.storeID == 1 }).term
        await group.initializePeer(onStore: 2)
        // One tick, its pump (or the one the new replica started) run to the end: no time passes
        // in which an election could time out.
        _ = await group.tick()
        await group.idle()
        let statuses = await group.status()
        let leader = try #require(statuses.first { $0.isLeader }, "\(statuses)")
        #expect(leader.peer.storeID == 1 && leader.term == campaign, "elected in the split's own election: \(statuses)")
        await group.stop()
        g.close()
    }

    /// Ticks drive elections, and none can be won while fewer voters than a quorum hold the
    /// region: a split's child held by one replica says it needs no ticks (the clock lets it
    /// sleep), and the replica that comes to hold the region wakes it.
    @Test func aChildThatCannotElectYetSleepsUntilASecondReplicaHoldsIt() async throws {
        let g = try MemoryGroup()
        let awake = AwakeRegions()
        let group = try RaftGroup(region: g.region, stores: g.stores, transport: Transport(), awake: awake, initializedStores: [1], campaignOn: 1, onEvent: { _ in })
        awake.register(group)
        #expect(await group.tick() == false, "one replica of three can win no election")
        #expect(awake.all.isEmpty)
        await group.initializePeer(onStore: 2)
        #expect(await group.isAwake, "woken by the second replica")
        _ = await group.tick()
        await group.idle()
        #expect(await group.leader?.storeID == 1)
        await group.stop()
        g.close()
    }

    /// A region whose stores are mostly down cannot elect: once its leader stepped down it sleeps,
    /// and it elects again when a store comes back (the cluster wakes the store's regions then).
    @Test func aRegionWithMostOfItsStoresDownSleepsUntilOneComesBack() async throws {
        let g = try MemoryGroup()
        let group = try g.start()
        let leader = try await Self.leader(of: group)
        let others = g.stores.keys.filter { $0 != leader.storeID }.sorted()
        for id in others { try g.stores[id]!.setState(.down) }
        #expect(await Self.tick(group) { await group.leader == nil }, "the leader steps down without a quorum")
        #expect(await group.tick() == false)
        try g.stores[others[0]]!.setState(.up)
        #expect(await group.tick() == true)
        #expect(await Self.tick(group) { await group.leader != nil })
        await group.stop()
        g.close()
    }

    /// Raft's safety rests on a vote being on disk before it is sent: across elections, no
    /// storage ever holds two votes for one term, nor a term that goes back.
    @Test func everyStoredVoteIsTheOnlyOneOfItsTerm() async throws {
        let g = try MemoryGroup()
        let group = try g.start()
        var leaders: [UInt64] = []
        for _ in 0..<4 {
            let leader = try await Self.leader(of: group)
            leaders.append(leader.storeID)
            try g.stores[leader.storeID]!.setState(.down)
            #expect(await Self.tick(group) { await group.leader.map { $0.storeID != leader.storeID } ?? false })
            try g.stores[leader.storeID]!.setState(.up)
        }
        #expect(Set(leaders).count >= 2, "leadership moved: \(leaders)")
        for (id, storage) in g.storages {
            let hard = storage.writes.compactMap(\.hardState)
            #expect(!hard.isEmpty)
            #expect(zip(hard, hard.dropFirst()).allSatisfy { $0.term <= $1.term }, "store \(id)'s term went back")
            let votes = Dictionary(grouping: hard.filter { $0.votedFor != nil }, by: \.term).mapValues { Set($0.map(\.votedFor)) }
            #expect(votes.values.allSatisfy { $0.count == 1 }, "store \(id) stored two votes in one term: \(votes)")
        }
        await group.stop()
        g.close()
    }

    /// A disk that takes no write holds the round: the leader refuses proposals as busy, naming
    /// its store, and nothing reaches the storages; once there is room again, the log goes on
    /// without a gap on every replica.
    @Test func aFullDiskHoldsTheLogAndLosesNothing() async throws {
        let g = try MemoryGroup()
        let group = try g.start(campaignOn: 2)
        let leader = try await Self.leader(of: group)
        #expect(await group.propose(.noop, viaStore: leader.storeID, timeout: .seconds(5)) == .applied)
        #expect(await Self.tick(group) { await !group.isAwake })
        let written = g.storages.mapValues(\.writes.count)

        for storage in g.storages.values { storage.refuseWrites("test disk full") }
        let refused = await group.propose(.noop, viaStore: leader.storeID, timeout: .seconds(5))
        guard case let .rejected(.serverIsBusy(storeID, reason, _)) = refused else {
            Issue.record("a proposal on a full disk ended in \(refused)")
            return
        }
        #expect(storeID == leader.storeID)
        #expect(reason.contains("test disk full"))
        #expect(g.storages.mapValues(\.writes.count) == written, "nothing is written while the disk is full")

        for storage in g.storages.values { storage.refuseWrites(nil) }
        #expect(await Self.tick(group) { await !group.holdsWrites }, "the held writes are tried again")
        // Its heartbeats were held with its writes: the leader may have changed meanwhile.
        let next = try await Self.leader(of: group)
        #expect(await group.propose(.noop, viaStore: next.storeID, timeout: .seconds(5)) == .applied)
        #expect(await Self.tick(group) { await !group.isAwake })
        let last = try #require(await group.status().first { $0.isLeader }).lastIndex
        for (id, storage) in g.storages {
            let log = try storage.load(region: 1).entries
            #expect(log.map(\.index) == Array(1...last), "store \(id) holds \(log.map(\.index))")
        }
        await group.stop()
        g.close()
    }
}

extension RaftGroup {
    /// Some replica's Raft writes wait for room on its disk.
    var holdsWrites: Bool { replicas.values.contains { $0.hold?.writes == true } }
}
