/// A peer's Raft log in memory, as etcd's `raftLog` (etcd-io/raft `log.go`, `log_unstable.go`):
/// the entries after a base (the last index and term that a compaction or a snapshot left), and
/// how much of it is on disk. No I/O: the owner writes what `unstable` and `truncatedOnDisk` say
/// and reports it with `persisted`.
struct RaftLog: Sendable {
    /// Entries after `baseIndex`; `entries[i]` has index `baseIndex + 1 + i`.
    private(set) var entries: [RaftEntry] = []
    private(set) var baseIndex: UInt64 = 0
    private(set) var baseTerm: UInt64 = 0
    /// Entries up to here are on disk; nothing after it is acknowledged, counted or applied.
    private(set) var stableIndex: UInt64 = 0
    /// The last index on disk; above `lastIndex` while a replaced suffix is still stored.
    private(set) var storedLastIndex: UInt64 = 0
    /// The base on disk: the stored entries from here up to `baseIndex` are deleted with the next
    /// Ready, in the same synced write as the hard state that moves the base.
    private var storedBaseIndex: UInt64 = 0

    init() {}

    /// A log loaded from disk: all of it is stable.
    init(stored entries: [RaftEntry], baseIndex: UInt64, baseTerm: UInt64) {
        self.entries = entries
        self.baseIndex = baseIndex
        self.baseTerm = baseTerm
        stableIndex = baseIndex + UInt64(entries.count)
        storedLastIndex = stableIndex
        storedBaseIndex = baseIndex
    }

    var lastIndex: UInt64 { baseIndex + UInt64(entries.count) }
    var lastTerm: UInt64 { entries.last?.term ?? baseTerm }

    func termAt(_ index: UInt64) -> UInt64? {
        if index == baseIndex { return baseTerm }
        guard index > baseIndex, index <= lastIndex else { return nil }
        return entries[Int(index - baseIndex - 1)].term
    }

    func entry(at index: UInt64) -> RaftEntry? {
        guard index > baseIndex, index <= lastIndex else { return nil }
        return entries[Int(index - baseIndex - 1)]
    }

    /// Up to `limit` entries from `index` on (none when it is past the end).
    func entries(from index: UInt64, limit: Int) -> [RaftEntry] {
        guard index > baseIndex, index <= lastIndex else { return [] }
        return Array(entries[Int(index - baseIndex - 1)...].prefix(limit))
    }

    /// The entries in `after + 1 ... through`, which the log holds.
    func entries(after: UInt64, through: UInt64) -> [RaftEntry] {
        guard after < through else { return [] }
        return Array(entries[Int(after - baseIndex)..<Int(through - baseIndex)])
    }

    // MARK: what the disk still lacks

    /// True while the base moved, entries are not on disk, or a replaced suffix is still stored.
    var hasUnpersisted: Bool { baseMoved || stableIndex < lastIndex || storedLastIndex > lastIndex }

    /// The base moved since the last write: the hard state that records it must be written.
    var baseMoved: Bool { storedBaseIndex < baseIndex }

    /// The entries not on disk yet.
    var unstable: [RaftEntry] { stableIndex < lastIndex ? Array(entries[Int(stableIndex - baseIndex)...]) : [] }

    /// Entries at or below the base that are still stored: deleted with the hard state that
    /// moves the base, so that a restart never finds a log with a hole below what it keeps.
    var truncatedOnDisk: ClosedRange<UInt64>? {
        storedBaseIndex < min(baseIndex, storedLastIndex) ? (storedBaseIndex + 1)...min(baseIndex, storedLastIndex) : nil
    }

    /// The log through `lastIndex`, with the base `base` if the write moved it, is on disk.
    mutating func persisted(lastIndex written: UInt64, base: UInt64?) {
        stableIndex = max(stableIndex, min(written, lastIndex))
        storedLastIndex = written
        if let base { storedBaseIndex = max(storedBaseIndex, base) }
    }

    // MARK: changes

    mutating func append(_ entry: RaftEntry) { entries.append(entry) }

    /// Appends a leader's entries after an index both logs agree on: entries already held are
    /// kept, and a conflicting suffix goes from memory now and from disk with the next Ready.
    mutating func appendFromLeader(_ received: [RaftEntry]) {
        for entry in received {
            if let existing = termAt(entry.index), existing == entry.term { continue }
            if entry.index <= lastIndex {
                entries.removeLast(Int(lastIndex - entry.index + 1))
                stableIndex = min(stableIndex, entry.index - 1)
            }
            entries.append(entry)
        }
    }

    /// Drops the entries through `index` from memory (they leave the disk with the next Ready);
    /// false when `index` is not past the base or not yet stable.
    @discardableResult
    mutating func compact(through index: UInt64) -> Bool {
        guard index > baseIndex, index <= stableIndex, let term = termAt(index) else { return false }
        entries.removeFirst(Int(index - baseIndex))
        baseIndex = index
        baseTerm = term
        return true
    }

    /// A snapshot through `index` at `term` was installed: the log starts there now, keeping what
    /// follows if the log agrees with the snapshot.
    mutating func restore(snapshotIndex index: UInt64, term: UInt64) {
        if termAt(index) == term, index <= lastIndex {
            entries.removeFirst(Int(index - baseIndex))
        } else {
            entries.removeAll()
            stableIndex = index
        }
        baseIndex = index
        baseTerm = term
        stableIndex = max(stableIndex, baseIndex)
    }

    /// Gives back the capacity of the log's busiest moment.
    mutating func releaseIdleMemory() {
        if entries.capacity > entries.count * 2 { entries = entries.map { $0 } }
    }
}
