import Foundation
import Testing
@testable import TestSupport
@testable import KeyCodec
@testable import ClusterAPI
@testable import EmbeddedCluster

/// The placement driver's routing and id allocation under splits that do not go as proposed.
@Suite(.serialized) struct PlacementDriverTests {
    static func key(_ text: String) -> [UInt8] { Memcomparable.encode(Array(text.utf8)) }

    /// A split whose proposal times out stays in the Raft log and applies later: the children are
    /// registered when it applies, and every key routes to the region that holds it.
    @Test func aSplitThatTimesOutIsRoutedWhenItApplies() async throws {
        let dir = try TemporaryDirectory()
        let cluster = try await Cluster.open(directory: dir.file("cluster"), create: .init(stores: 3, replicas: 3))
        _ = try await cluster.pd.waitForLeader(1)
        let middle = Self.key("m")
        // Messages held for 5 ticks (50 ms): the entry cannot commit within the proposal's 20 ms.
        cluster.transport.setDelay(ticks: 5)
        do {
            _ = try await cluster.pd.split(regionID: 1, at: [middle], timeout: .milliseconds(20))
            Issue.record("the split did not time out")
        } catch {
            guard case .timeout = error else {
                Issue.record("expected a timeout, got \(error)")
                return
            }
        }
        cluster.transport.setDelay(ticks: 0)
        try await waitUntil(timeout: .seconds(10)) { await cluster.pd.regionCount == 2 }
        // A refresh of the parent must not leave the right half without a region.
        await cluster.pd.refresh(1)
        let left = try #require(await cluster.pd.region(containing: Self.key("a")))
        let right = try #require(await cluster.pd.region(containing: Self.key("z")))
        #expect(left.id == 1 && left.endKey == middle)
        #expect(right.id != 1 && right.startKey == middle && right.endKey.isEmpty)
        #expect(await cluster.pd.allRegions.map(\.id) == [left.id, right.id])
        _ = try await cluster.pd.waitForLeader(right.id)
        await cluster.close()
    }

    /// Ids are reserved on disk before a split that uses them is proposed: after a reopen, new ids
    /// start above every id reserved before, so a split durable in a log but not yet applied when
    /// the process died never shares its ids with a later one.
    @Test func idsAreReservedOnDiskBeforeTheyAreProposed() async throws {
        let dir = try TemporaryDirectory()
        var cluster = try await Cluster.open(directory: dir.file("cluster"), create: .init(stores: 3, replicas: 3))
        _ = try await cluster.pd.waitForLeader(1)
        let first = try await cluster.pd.split(regionID: 1, at: [Self.key("m")])
        let reserved = try PlacementDriver.readReservation(at: dir.file("cluster/pd-ids"))
        #expect(first.flatMap { [$0.id] + $0.peers.map(\.id) }.allSatisfy { $0 < reserved })
        await cluster.close()

        cluster = try await Cluster.open(directory: dir.file("cluster"))
        let parent = try #require(await cluster.pd.region(containing: Self.key("z")))
        _ = try await cluster.pd.waitForLeader(parent.id)
        let second = try await cluster.pd.split(regionID: parent.id, at: [Self.key("t")])
        let child = try #require(second.first { $0.id != parent.id })
        #expect(([child.id] + child.peers.map(\.id)).allSatisfy { $0 >= reserved }, "ids \(child.id) \(child.peers.map(\.id)) reuse the reservation below \(reserved)")
        await cluster.close()
    }
}
