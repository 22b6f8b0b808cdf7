import Testing
@testable import KeyCodec
@testable import ClusterAPI

/// The seam's region types: ranges with an open end, peers and voters, errors a client retries by.
@Suite struct RegionTests {
    static let peers = [PeerMeta(id: 11, storeID: 1), PeerMeta(id: 12, storeID: 2), PeerMeta(id: 13, storeID: 3, isLearner: true)]

    @Test(arguments: [
        (Array("b".utf8), Array("d".utf8), Array("b".utf8), true),  // the start is inside
        (Array("b".utf8), Array("d".utf8), Array("c".utf8), true),
        (Array("b".utf8), Array("d".utf8), Array("d".utf8), false),  // the end is not
        (Array("b".utf8), Array("d".utf8), Array("a".utf8), false),
        (Array("b".utf8), [], Array("zzzz".utf8), true),  // an empty end is the end of the key space
        ([], [], [], true),
    ] as [([UInt8], [UInt8], [UInt8], Bool)])
    func aRegionHoldsTheKeysFromItsStartUpToItsEnd(start: [UInt8], end: [UInt8], key: [UInt8], inside: Bool) {
        let region = Region(id: 1, startKey: start, endKey: end, epoch: RegionEpoch(confVer: 1, version: 1), peers: Self.peers)
        #expect(region.contains(key) == inside)
    }

    @Test func peersAreFoundByStoreAndIdAndLearnersDoNotVote() {
        let region = Region(id: 1, startKey: [], endKey: [], epoch: RegionEpoch(confVer: 1, version: 1), peers: Self.peers)
        #expect(region.peer(onStore: 2)?.id == 12)
        #expect(region.peer(id: 13)?.storeID == 3)
        #expect(region.peer(onStore: 4) == nil)
        #expect(region.voters.map(\.id) == [11, 12])
    }

    /// Each error names itself as TiKV's errorpb does, and says what to retry.
    @Test func regionErrorsNameTheirKindAndTheirRegion() {
        let errors: [(RegionError, String, String)] = [
            (.notLeader(regionID: 7, leader: PeerMeta(id: 2, storeID: 2)), "NotLeader", "region 7 leader is store 2"),
            (.notLeader(regionID: 7, leader: nil), "NotLeader", "leader is unknown"),
            (.epochNotMatch(regionID: 7, currentRegions: []), "EpochNotMatch", "region 7 changed"),
            (.serverIsBusy(storeID: 3, reason: "compaction", backoffMillis: 500), "ServerIsBusy", "retry in 500 ms"),
            (.regionNotFound(regionID: 9), "RegionNotFound", "region 9"),
            (.timeout(regionID: 4, after: .zero), "Timeout", "outcome is unknown"),
        ]
        for (error, label, text) in errors {
            #expect(error.label == label)
            #expect(error.description.contains(text), "\(error.description)")
        }
    }
}
