/// Reads that a leader serves once a quorum confirms that it still leads, as Raft's read index
/// (Raft thesis §6.4; etcd-io/raft `read_only.go`, ReadOnlySafe; TiKV's ReadIndex): a read takes
/// the commit index when it is asked, a heartbeat round sent after it is answered by a quorum in
/// the leader's term, and the read goes once the leader applied that index. Nothing is written:
/// a read costs a round of messages, not a log entry synced on every replica.
struct RaftReads: Sendable {
    struct Read: Sendable {
        var round: UInt64
        var index: UInt64
        var token: UInt64
    }

    /// The newest heartbeat round; each read waits for one sent after it was asked.
    private(set) var round: UInt64 = 0
    /// Reads in the order asked (so in increasing rounds), not yet confirmed.
    private var pending: [Read] = []
    /// Reads a quorum confirmed, waiting for the leader to apply their index.
    private var confirmed: [Read] = []
    /// The newest round each follower answered.
    private var answered: [UInt64: UInt64] = [:]

    var isEmpty: Bool { pending.isEmpty && confirmed.isEmpty }

    /// A read of everything committed through `index`; returns the round its heartbeats carry.
    mutating func add(index: UInt64, token: UInt64) -> UInt64 {
        round += 1
        pending.append(Read(round: round, index: index, token: token))
        return round
    }

    /// `peer` answered the heartbeat of `answeredRound`. The reads of every round that a quorum
    /// of `voters` answered (the leader answers each of its rounds at once) are confirmed.
    mutating func answer(from peer: UInt64, round answeredRound: UInt64, voters: [UInt64], leader: UInt64, quorum: Int) {
        if peer != leader { answered[peer] = max(answered[peer] ?? 0, answeredRound) }
        let rounds = voters.map { $0 == leader ? round : (answered[$0] ?? 0) }.sorted(by: >)
        guard rounds.count >= quorum else { return }
        let through = rounds[quorum - 1]
        let count = pending.prefix { $0.round <= through }.count
        confirmed += pending.prefix(count)
        pending.removeFirst(count)
    }

    /// With no read waiting, the buffers and the followers' answers go (a sleeping region keeps
    /// none); the round goes on, so that a late answer to an old round confirms no later read.
    mutating func releaseIdleMemory() {
        guard isEmpty else { return }
        pending = []
        confirmed = []
        answered = [:]
    }

    /// The tokens of the confirmed reads whose index `applied` reached, taken.
    mutating func takeServable(applied: UInt64) -> [UInt64] {
        guard confirmed.contains(where: { $0.index <= applied }) else { return [] }
        let servable = confirmed.filter { $0.index <= applied }.map(\.token)
        confirmed.removeAll { $0.index <= applied }
        return servable
    }
}
