import Foundation
import Testing
@testable import TestSupport
@testable import KeyCodec
@testable import ClusterAPI
@testable import EmbeddedCluster

/// `RaftStorage` on a real store's RocksDB: what it saves is what it loads, in protobuf.
@Suite struct RaftStorageTests {
    static let region = Region(
        id: 7, startKey: bytes("a"), endKey: bytes("m"), epoch: RegionEpoch(confVer: 4, version: 9),
        peers: [PeerMeta(id: 8, storeID: 1), PeerMeta(id: 9, storeID: 2), PeerMeta(id: 10, storeID: 4, isLearner: true)])

    static let entries: [RaftEntry] = [
        RaftEntry(term: 1, index: 1, command: .noop),
        RaftEntry(term: 1, index: 2, command: .ingest(IngestCommand(regionID: 7, epoch: region.epoch, files: [
            IngestFile(uuid: "u1default", cf: .default, range: KeyRange(start: bytes("b"), end: bytes("c"), endInclusive: true)),
            IngestFile(uuid: "u1write", cf: .write, range: KeyRange(start: bytes("b"), end: bytes("d"), endInclusive: true)),
        ]))),
        RaftEntry(term: 2, index: 3, command: .split(SplitCommand(regionID: 7, epoch: region.epoch, splitKeys: [bytes("f")], newRegions: [.init(regionID: 11, peerIDs: [12, 13, 14])]))),
        RaftEntry(term: 2, index: 4, command: .changePeer(ChangePeerCommand(regionID: 7, epoch: region.epoch, change: .addLearner(PeerMeta(id: 15, storeID: 3, isLearner: true))))),
        RaftEntry(term: 2, index: 5, command: .changePeer(ChangePeerCommand(regionID: 7, epoch: region.epoch, change: .promoteLearner(peerID: 15)))),
        RaftEntry(term: 3, index: 6, command: .changePeer(ChangePeerCommand(regionID: 7, epoch: region.epoch, change: .removePeer(peerID: 8)))),
    ]

    @Test func whatIsSavedIsLoaded() throws {
        let dir = try TemporaryDirectory()
        let storage = RaftStorage(store: try Store(id: 1, clusterDirectory: dir.path))
        let hard = RaftStorage.HardState(term: 3, votedFor: 9, baseIndex: 0, baseTerm: 0)
        let apply = RaftStorage.ApplyState(applied: 4, region: Self.region, tombstone: false)
        try storage.save(region: 7, hardState: hard, entries: Self.entries, lastIndex: 6, staleThrough: 0, apply: apply)
        let saved = try storage.load(region: 7)
        #expect(saved.hard == hard)
        #expect(saved.entries == Self.entries)
        #expect(saved.apply == apply)
        #expect(try storage.regionViews() == [Self.region])
    }

    @Test func entriesCoveredByASnapshotAreNotLoaded() throws {
        let dir = try TemporaryDirectory()
        let storage = RaftStorage(store: try Store(id: 1, clusterDirectory: dir.path))
        try storage.save(region: 7, hardState: .init(term: 2, votedFor: nil, baseIndex: 0, baseTerm: 0), entries: Self.entries, lastIndex: 6, staleThrough: 0)
        try storage.save(region: 7, hardState: .init(term: 2, votedFor: nil, baseIndex: 4, baseTerm: 2), entries: [], lastIndex: 6, staleThrough: 6)
        #expect(try storage.load(region: 7).entries.map(\.index) == [5, 6])
    }

    @Test func aReplicaUnderRepairStaysSoAfterARestart() throws {
        let dir = try TemporaryDirectory()
        let storage = RaftStorage(store: try Store(id: 1, clusterDirectory: dir.path))
        try storage.saveApplyState(.init(applied: 9, region: Self.region, tombstone: false, needsRepair: true), sync: true)
        #expect(try storage.load(region: 7).apply?.needsRepair == true)
    }

    @Test func tombstonesAreNoRegionViews() throws {
        let dir = try TemporaryDirectory()
        let storage = RaftStorage(store: try Store(id: 1, clusterDirectory: dir.path))
        try storage.saveApplyState(.init(applied: 3, region: Self.region, tombstone: true))
        #expect(try storage.regionViews().isEmpty)
    }

    @Test func anIngestRecordEntersWithItsFilesAndCountsOnce() throws {
        let dir = try TemporaryDirectory()
        let store = try Store(id: 1, clusterDirectory: dir.path)
        let record = dir.file("record.sst")
        try RaftStorage.writeIngestRecord([(uuids: ["u2write", "u2default"], entry: 12)], to: record)
        try store.db.ingest([(cf: .default, path: record)])
        let storage = RaftStorage(store: store)
        #expect(try storage.ingestingEntry(uuid: "u2write") == 12)
        #expect(try storage.ingestingEntry(uuid: "u2") == nil, "a uuid is matched whole, not by prefix")
        #expect(try storage.ingestCounts() == ["u2write": 1, "u2default": 1])
    }

    @Test func aMalformedRecordIsAnErrorNotACrash() throws {
        let dir = try TemporaryDirectory()
        let store = try Store(id: 1, clusterDirectory: dir.path)
        try store.db.put(RaftStorage.key(7, RaftStorage.entrySuffix, 1), [0xFF, 0xFF, 0xFF])
        #expect(throws: (any Error).self) { try RaftStorage(store: store).load(region: 7) }
    }
}
