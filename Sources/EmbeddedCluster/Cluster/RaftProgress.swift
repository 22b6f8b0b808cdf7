/// What a leader knows of each follower's log, as etcd's `tracker.Progress` (etcd-io/raft
/// `tracker/progress.go`): the next index to send, the highest index known to match, and who
/// answered since the last check of the quorum.
struct RaftProgress: Sendable {
    /// One peer's view. Kept in a small array, searched: a region has three or so peers, and tens
    /// of thousands of leaders each hold one (two dictionaries and a set were five allocations).
    private struct Peer: Sendable {
        let id: UInt64
        /// nil for the leader itself, which sends itself nothing.
        var next: UInt64?
        var match: UInt64
        var recentlyActive = false
    }

    private var peers: [Peer] = []

    /// A new leader's view: every follower is sent from `lastIndex + 1` and known to match nothing.
    init(followers: [UInt64], lastIndex: UInt64) {
        peers.reserveCapacity(followers.count + 1)  // and the leader's own, which `setOwn` adds
        for peer in followers { peers.append(Peer(id: peer, next: lastIndex + 1, match: 0)) }
    }

    init() {}

    private func slot(_ peer: UInt64) -> Int? { peers.firstIndex { $0.id == peer } }

    /// The next index to send `peer`, when it is tracked.
    func next(_ peer: UInt64) -> UInt64? { slot(peer).flatMap { peers[$0].next } }

    /// The highest index `peer` is known to hold, when it is tracked.
    func match(_ peer: UInt64) -> UInt64? { slot(peer).map { peers[$0].match } }

    func tracks(_ peer: UInt64) -> Bool { next(peer) != nil }

    /// Changes `peer`'s view, adding it (knowing nothing) if it is not there yet.
    private mutating func update(_ peer: UInt64, _ change: (inout Peer) -> Void) {
        if let i = slot(peer) {
            change(&peers[i])
        } else {
            var added = Peer(id: peer, next: nil, match: 0)
            change(&added)
            peers.append(added)
        }
    }

    /// The leader's own stable index counts as its match.
    mutating func setOwn(_ peer: UInt64, stable: UInt64) { update(peer) { $0.match = stable } }

    /// A peer that joined: it has nothing, and starts from a snapshot.
    mutating func add(_ peer: UInt64) {
        update(peer) {
            $0.next = 0
            $0.match = 0
        }
    }

    /// Forgets the peers that are no longer members.
    mutating func keep(only members: Set<UInt64>) { peers.removeAll { !members.contains($0.id) } }

    /// The follower holds the leader's log through `index`.
    mutating func acknowledge(_ peer: UInt64, through index: UInt64) {
        update(peer) {
            $0.recentlyActive = true
            $0.match = max($0.match, index)
            $0.next = max($0.next ?? 0, index + 1)
        }
    }

    /// The follower refused an append; `hint` is the last index it may hold.
    mutating func refuse(_ peer: UInt64, hint: UInt64) {
        update(peer) {
            $0.recentlyActive = true
            $0.next = max(1, min(max($0.next ?? 1, 1) - 1, hint + 1))
        }
    }

    /// The follower installed a snapshot through `index`: its log is that now, even below what it had.
    mutating func snapshotApplied(_ peer: UInt64, at index: UInt64) {
        update(peer) {
            $0.recentlyActive = true
            $0.match = index
            $0.next = index + 1
        }
    }

    /// The highest index that `quorum` of `voters` hold (the leader's own is `ownStable`).
    func quorumIndex(voters: [UInt64], leader: UInt64, ownStable: UInt64, quorum: Int) -> UInt64? {
        let matches = voters.map { $0 == leader ? ownStable : (match($0) ?? 0) }.sorted(by: >)
        guard !matches.isEmpty, matches.count >= quorum else { return nil }
        return matches[quorum - 1]
    }

    /// Whether a quorum of `voters`, counting the leader, answered since the last check; starts
    /// the next period.
    mutating func checkQuorum(voters: [UInt64], leader: UInt64, quorum: Int) -> Bool {
        let answered = peers.lazy.filter { $0.recentlyActive && $0.id != leader && voters.contains($0.id) }.count
        for i in peers.indices { peers[i].recentlyActive = false }
        return answered + 1 >= quorum
    }
}
