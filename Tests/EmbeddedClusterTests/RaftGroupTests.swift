import Foundation
import Testing
@testable import TestSupport
@testable import KeyCodec
@testable import ClusterAPI
@testable import EmbeddedCluster

/// One region's `RaftGroup` over real stores: what a proposal hears when it cannot apply, and
/// what a stopped group tells those still waiting.
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
}
