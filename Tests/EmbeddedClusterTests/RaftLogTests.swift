import Testing
@testable import KeyCodec
@testable import ClusterAPI
@testable import EmbeddedCluster

/// `RaftLog` alone, as etcd's log_test.go tests its raftLog: tables of logs and the changes a
/// leader, a compaction or a snapshot makes, with what must then reach the disk.
@Suite struct RaftLogTests {
    static func entries(_ terms: [UInt64], from first: UInt64 = 1) -> [RaftEntry] {
        terms.enumerated().map { RaftEntry(term: $0.element, index: first + UInt64($0.offset), command: .noop) }
    }

    /// A stored log of terms [1, 2] takes a leader's entries starting at `first`: entries it holds
    /// stay, a conflicting suffix goes (and what is stable shrinks to before it).
    @Test(arguments: [
        (UInt64(3), [UInt64(3)], [UInt64(1), 2, 3], UInt64(2)),  // after the end
        (2, [2], [1, 2], 2),  // already held
        (2, [2, 3], [1, 2, 3], 2),  // partly held
        (2, [3], [1, 3], 1),  // a conflict at 2
        (1, [4, 4], [4, 4], 0),  // a conflict at the first entry
    ] as [(UInt64, [UInt64], [UInt64], UInt64)])
    func aLeadersEntriesReplaceOnlyAConflictingSuffix(first: UInt64, terms: [UInt64], after: [UInt64], stable: UInt64) {
        var log = RaftLog(stored: Self.entries([1, 2]), baseIndex: 0, baseTerm: 0)
        log.appendFromLeader(Self.entries(terms, from: first))
        #expect(log.entries.map(\.term) == after)
        #expect(log.stableIndex == stable)
        #expect(log.unstable.map(\.index) == log.entries.map(\.index).filter { $0 > stable }, "what is not stable is what the next write takes")
        // The stored entries past a conflict are deleted with the next write, not left behind.
        #expect(log.hasUnpersisted == (after != [1, 2]))
    }

    /// (compact through, done, base, base term, entries left)
    @Test(arguments: [
        (UInt64(0), false, UInt64(0), UInt64(0), [UInt64(1), 1, 2, 2, 3]),  // not past the base
        (3, true, 3, 2, [2, 3]),
        (5, true, 5, 3, []),
        (6, false, 0, 0, [1, 1, 2, 2, 3]),  // past the end
    ] as [(UInt64, Bool, UInt64, UInt64, [UInt64])])
    func aCompactionMovesTheBaseToAnEntryItHolds(through index: UInt64, done: Bool, base: UInt64, baseTerm: UInt64, left: [UInt64]) {
        var log = RaftLog(stored: Self.entries([1, 1, 2, 2, 3]), baseIndex: 0, baseTerm: 0)
        let compacted = log.compact(through: index)
        #expect(compacted == done)
        #expect(log.baseIndex == base && log.baseTerm == baseTerm)
        #expect(log.entries.map(\.term) == left)
        #expect(log.termAt(base) == baseTerm, "the base keeps its term for the log matching check")
        #expect(log.lastIndex == 5, "a compaction drops entries from memory, not from the log")
    }

    @Test func anUnstableEntryIsNotCompacted() {
        var log = RaftLog(stored: Self.entries([1, 1]), baseIndex: 0, baseTerm: 0)
        log.append(RaftEntry(term: 1, index: 3, command: .noop))
        let unstable = log.compact(through: 3), stable = log.compact(through: 2)
        #expect(!unstable, "entry 3 is not on disk yet")
        #expect(stable)
    }

    /// The entries a compaction dropped stay on disk until the write that moves the base: that
    /// write deletes them, and a restart never finds a hole below what the log keeps.
    @Test func theStoredPrefixLeavesTheDiskWithTheWriteThatMovesTheBase() {
        var log = RaftLog(stored: Self.entries([1, 1, 2, 2]), baseIndex: 0, baseTerm: 0)
        #expect(log.truncatedOnDisk == nil && !log.baseMoved)
        log.compact(through: 3)
        #expect(log.baseMoved && log.hasUnpersisted)
        #expect(log.truncatedOnDisk == 1...3)
        log.persisted(lastIndex: 4, base: 3)
        #expect(log.truncatedOnDisk == nil && !log.hasUnpersisted)
    }

    /// (snapshot index, term, entries kept after it, stable)
    @Test(arguments: [
        (UInt64(2), UInt64(1), [UInt64(2)], UInt64(3)),  // the log agrees: what follows stays
        (3, 3, [], 3),  // it disagrees at 3: the log starts afresh
        (5, 2, [], 5),  // beyond the log
    ] as [(UInt64, UInt64, [UInt64], UInt64)])
    func aSnapshotStartsTheLogAtItsIndex(index: UInt64, term: UInt64, kept: [UInt64], stable: UInt64) {
        var log = RaftLog(stored: Self.entries([1, 1, 2]), baseIndex: 0, baseTerm: 0)
        log.restore(snapshotIndex: index, term: term)
        #expect(log.baseIndex == index && log.baseTerm == term)
        #expect(log.entries.map(\.term) == kept)
        #expect(log.stableIndex == stable)
        #expect(log.lastIndex == index + UInt64(kept.count))
    }
}
