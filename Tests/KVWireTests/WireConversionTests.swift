import Foundation
import Testing
@testable import KeyCodec
@testable import ClusterAPI
@testable import KVProto
@testable import KVWire

/// kvproto's messages and ours, both ways: what a client reads is what a server wrote.
@Suite struct WireConversionTests {
    static let region = Region(
        id: 42, startKey: Array("t\u{80}".utf8), endKey: [], epoch: RegionEpoch(confVer: 3, version: 9),
        peers: [PeerMeta(id: 1, storeID: 1), PeerMeta(id: 2, storeID: 2), PeerMeta(id: 3, storeID: 3, isLearner: true)])

    @Test func aRegionSurvivesMetapbAndItsBytes() throws {
        let wire = Self.region.wire
        #expect(wire.peers[2].role == .learner)
        let decoded = try Metapb_Region(serializedBytes: try wire.serializedBytes() as [UInt8])
        #expect(Region(decoded) == Self.region)
    }

    /// Every region error a client retries by comes back as it went, through errorpb's bytes.
    @Test func regionErrorsSurviveErrorpb() throws {
        let errors: [RegionError] = [
            .notLeader(regionID: 42, leader: PeerMeta(id: 2, storeID: 2)),
            .notLeader(regionID: 42, leader: nil),
            .epochNotMatch(regionID: 42, currentRegions: [Self.region]),
            .serverIsBusy(storeID: 7, reason: "too many pending ingests", backoffMillis: 300),
            .keyNotInRegion(key: [1, 2], regionID: 42, startKey: [1], endKey: [1, 1]),
            .regionNotFound(regionID: 42),
        ]
        for error in errors {
            let bytes: [UInt8] = try error.wire.serializedBytes()
            let back = RegionError(try Errorpb_Error(serializedBytes: bytes), storeID: 7)
            #expect(back == error, "\(error)")
        }
        // A message alone is no region error: the client treats it as the store's own.
        var plain = Errorpb_Error()
        plain.message = "disk is slow"
        #expect(RegionError(plain, storeID: 7) == nil)
        #expect(ImportError(plain, storeID: 7) == .remote(storeID: 7, message: "disk is slow", retryable: true))
    }

    @Test func loopbackHostsAreTheOnlyOnesPlaintextMayReach() {
        for host in ["127.0.0.1", "127.3.2.1", "localhost", "::1"] { #expect(WireAddress.isLoopback(host), "\(host)") }
        for host in ["10.0.0.1", "128.0.0.1", "pd.example.com", "0.0.0.0", "::"] { #expect(!WireAddress.isLoopback(host), "\(host)") }
    }
}
