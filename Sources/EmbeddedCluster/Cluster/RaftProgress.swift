/// What a leader knows of each follower's log, as etcd's `tracker.Progress` (etcd-io/raft
/// `tracker/progress.go`): the next index to send, the highest index known to match, and who
/// answered since the last check of the quorum.
struct RaftProgress: Sendable {
    private(set) var next: [UInt64: UInt64] = [:]
    private(set) var match: [UInt64: UInt64] = [:]
    private var recentlyActive = Set<UInt64>()

    /// A new leader's view: every follower is sent from `lastIndex + 1` and known to match nothing.
    init(followers: [UInt64], lastIndex: UInt64) {
        for peer in followers {
            next[peer] = lastIndex + 1
            match[peer] = 0
        }
    }

    init() {}

    func tracks(_ peer: UInt64) -> Bool { next[peer] != nil }

    /// The leader's own stable index counts as its match.
    mutating func setOwn(_ peer: UInt64, stable: UInt64) { match[peer] = stable }

    /// A peer that joined: it has nothing, and starts from a snapshot.
    mutating func add(_ peer: UInt64) {
        next[peer] = 0
        match[peer] = 0
    }

    /// Forgets the peers that are no longer members.
    mutating func keep(only members: Set<UInt64>) {
        for peer in next.keys where !members.contains(peer) {
            next[peer] = nil
            match[peer] = nil
        }
    }

    /// The follower holds the leader's log through `index`.
    mutating func acknowledge(_ peer: UInt64, through index: UInt64) {
        recentlyActive.insert(peer)
        if index > (match[peer] ?? 0) { match[peer] = index }
        next[peer] = max(next[peer] ?? 0, index + 1)
    }

    /// The follower refused an append; `hint` is the last index it may hold.
    mutating func refuse(_ peer: UInt64, hint: UInt64) {
        recentlyActive.insert(peer)
        next[peer] = max(1, min((next[peer] ?? 1) - 1, hint + 1))
    }

    /// The follower installed a snapshot through `index`: its log is that now, even below what it had.
    mutating func snapshotApplied(_ peer: UInt64, at index: UInt64) {
        recentlyActive.insert(peer)
        match[peer] = index
        next[peer] = index + 1
    }

    /// The highest index that `quorum` of `voters` hold (the leader's own is `ownStable`).
    func quorumIndex(voters: [UInt64], leader: UInt64, ownStable: UInt64, quorum: Int) -> UInt64? {
        let matches = voters.map { $0 == leader ? ownStable : (match[$0] ?? 0) }.sorted(by: >)
        guard !matches.isEmpty, matches.count >= quorum else { return nil }
        return matches[quorum - 1]
    }

    /// Whether a quorum of `voters`, counting the leader, answered since the last check; starts
    /// the next period.
    mutating func checkQuorum(voters: [UInt64], leader: UInt64, quorum: Int) -> Bool {
        defer { recentlyActive.removeAll() }
        return recentlyActive.intersection(voters).subtracting([leader]).count + 1 >= quorum
    }
}
