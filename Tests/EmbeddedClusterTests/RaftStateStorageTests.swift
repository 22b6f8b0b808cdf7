import Foundation
import Testing
@testable import TestSupport
@testable import KeyCodec
@testable import ClusterAPI
@testable import EmbeddedCluster

/// Raft state storage, on a real store's RocksDB and in memory: what it saves is what it loads.
@Suite struct RaftStateStorageTests {
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

    /// The two places Raft state is kept: the store's RocksDB, and memory for tests of the loop.
    /// Both keep the same contract.
    enum Kind: String, CaseIterable, CustomTestStringConvertible {
        case rocksDB, memory
        var testDescription: String { rawValue }
    }

    static func storage(_ kind: Kind) throws -> (TemporaryDirectory, any RaftStateStorage) {
        let dir = try TemporaryDirectory()
        switch kind {
        case .rocksDB: return (dir, try Store(id: 1, clusterDirectory: dir.path).raftState)
        case .memory: return (dir, MemoryRaftStorage(storeID: 1))
        }
    }

    @Test(arguments: Kind.allCases) func whatIsSavedIsLoaded(_ kind: Kind) throws {
        let (dir, storage) = try Self.storage(kind)
        defer { withExtendedLifetime(dir) {} }
        let hard = RaftHardState(term: 3, votedFor: 9, baseIndex: 0, baseTerm: 0)
        let apply = RaftApplyState(applied: 4, region: Self.region, tombstone: false)
        try storage.persistNow(RaftStateWrite(region: 7, hardState: hard, entries: Self.entries, lastIndex: 6, staleThrough: 0, apply: apply))
        let saved = try storage.load(region: 7)
        #expect(saved.hard == hard)
        #expect(saved.entries == Self.entries)
        #expect(saved.apply == apply)
        #expect(try storage.regionViews() == [Self.region])
    }

    @Test(arguments: Kind.allCases) func aWriteThroughTheGroupCommitIsLoaded(_ kind: Kind) async throws {
        let (dir, storage) = try Self.storage(kind)
        defer { withExtendedLifetime(dir) {} }
        try await storage.persist(RaftStateWrite(region: 7, hardState: .init(term: 2, votedFor: 8, baseIndex: 0, baseTerm: 0), entries: Self.entries, lastIndex: 6, staleThrough: 0))
        #expect(try storage.load(region: 7).entries == Self.entries)
    }

    @Test(arguments: Kind.allCases) func entriesCoveredByASnapshotAreNotLoaded(_ kind: Kind) throws {
        let (dir, storage) = try Self.storage(kind)
        defer { withExtendedLifetime(dir) {} }
        try storage.persistNow(RaftStateWrite(region: 7, hardState: .init(term: 2, votedFor: nil, baseIndex: 0, baseTerm: 0), entries: Self.entries, lastIndex: 6, staleThrough: 0))
        try storage.persistNow(RaftStateWrite(region: 7, hardState: .init(term: 2, votedFor: nil, baseIndex: 4, baseTerm: 2), entries: [], lastIndex: 6, staleThrough: 6, truncated: 1...4))
        #expect(try storage.load(region: 7).entries.map(\.index) == [5, 6])
    }

    /// A suffix replaced by a leader of a newer term leaves the log: a reload does not bring back
    /// the entries that the conflict deleted.
    @Test(arguments: Kind.allCases) func aReplacedSuffixIsGoneAfterAReload(_ kind: Kind) throws {
        let (dir, storage) = try Self.storage(kind)
        defer { withExtendedLifetime(dir) {} }
        try storage.persistNow(RaftStateWrite(region: 7, hardState: .init(term: 2, votedFor: nil, baseIndex: 0, baseTerm: 0), entries: Self.entries, lastIndex: 6, staleThrough: 0))
        let replacement = RaftEntry(term: 4, index: 3, command: .noop)
        try storage.persistNow(RaftStateWrite(region: 7, hardState: .init(term: 4, votedFor: 9, baseIndex: 0, baseTerm: 0), entries: [replacement], lastIndex: 3, staleThrough: 6))
        #expect(try storage.load(region: 7).entries == Array(Self.entries.prefix(2)) + [replacement])
    }

    @Test(arguments: Kind.allCases) func aLogWithAGapIsRefusedOnLoad(_ kind: Kind) throws {
        let (dir, storage) = try Self.storage(kind)
        defer { withExtendedLifetime(dir) {} }
        let entries = [RaftEntry(term: 1, index: 1, command: .noop), RaftEntry(term: 1, index: 3, command: .noop)]
        try storage.persistNow(RaftStateWrite(region: 5, hardState: .init(term: 1, votedFor: nil, baseIndex: 0, baseTerm: 0), entries: entries, lastIndex: 3, staleThrough: 0))
        #expect {
            try storage.load(region: 5)
        } throws: { error in
            "\(error)" == "the Raft log of region 5 on store 1 has a gap: entry 3 follows 1"
        }
    }

    @Test(arguments: Kind.allCases) func aReplicaUnderRepairStaysSoAfterARestart(_ kind: Kind) throws {
        let (dir, storage) = try Self.storage(kind)
        defer { withExtendedLifetime(dir) {} }
        try storage.saveApplyState(.init(applied: 9, region: Self.region, tombstone: false, needsRepair: true), sync: true)
        #expect(try storage.load(region: 7).apply?.needsRepair == true)
    }

    @Test(arguments: Kind.allCases) func tombstonesAreNoRegionViews(_ kind: Kind) throws {
        let (dir, storage) = try Self.storage(kind)
        defer { withExtendedLifetime(dir) {} }
        try storage.saveApplyState(.init(applied: 3, region: Self.region, tombstone: true))
        #expect(try storage.regionViews().isEmpty)
    }

    /// A removed peer's log and vote are gone, so a new peer of the region here starts from
    /// nothing; its apply state (the tombstone) stays.
    @Test(arguments: Kind.allCases) func aDestroyedReplicaKeepsOnlyItsTombstone(_ kind: Kind) throws {
        let (dir, storage) = try Self.storage(kind)
        defer { withExtendedLifetime(dir) {} }
        let tombstone = RaftApplyState(applied: 6, region: Self.region, tombstone: true, peerID: 8)
        try storage.persistNow(RaftStateWrite(region: 7, hardState: .init(term: 3, votedFor: 8, baseIndex: 0, baseTerm: 0), entries: Self.entries, lastIndex: 6, staleThrough: 0, apply: tombstone))
        try storage.destroyRaftState(region: 7)
        let saved = try storage.load(region: 7)
        #expect(saved.hard == nil && saved.entries.isEmpty)
        #expect(saved.apply == tombstone)
    }

    @Test func aMalformedRecordIsAnErrorNotACrash() throws {
        let dir = try TemporaryDirectory()
        let store = try Store(id: 1, clusterDirectory: dir.path)
        try store.db.put(RocksRaftStorage.key(7, RocksRaftStorage.entrySuffix, 1), [0xFF, 0xFF, 0xFF])
        #expect(throws: (any Error).self) { try store.raftState.load(region: 7) }
    }
}
