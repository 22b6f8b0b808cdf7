/// One peer's Raft state machine: terms, randomized election timeouts, heartbeats, votes, log
/// replication with quorum commit, check-quorum and leader transfer. It does no I/O: the group
/// delivers its messages, persists what `takeUnpersisted` returns, and applies committed entries.
struct RaftPeer: Sendable {
    enum Role: Sendable { case follower, candidate, leader }

    static let heartbeatTicks = 2
    static let electionTicks = 10

    let id: UInt64
    let storeID: UInt64
    private(set) var voters: [UInt64]

    // Persistent state.
    private(set) var term: UInt64 = 0
    private(set) var votedFor: UInt64?
    /// Entries after `baseIndex`; `log[i]` has index `baseIndex + 1 + i`.
    private(set) var log: [RaftEntry] = []
    private(set) var baseIndex: UInt64 = 0
    private(set) var baseTerm: UInt64 = 0

    private(set) var commitIndex: UInt64 = 0
    var appliedIndex: UInt64 = 0

    // Volatile state.
    private(set) var role = Role.follower
    private(set) var leaderID: UInt64?
    private var electionElapsed = 0
    private var heartbeatElapsed = 0
    private var electionTimeout: Int
    private var votes = Set<UInt64>()
    private var nextIndex: [UInt64: UInt64] = [:]
    private(set) var matchIndex: [UInt64: UInt64] = [:]
    private var recentlyActive = Set<UInt64>()
    private(set) var transferee: UInt64?
    private var random: SyntheticRandom
    /// False while this replica misses data that a snapshot will bring (it applied an ingest whose
    /// file it never received): it must not lead, or the region would serve that hole.
    var mayLead = true

    private(set) var outbox: [RaftMessage] = []
    /// Index from which log entries have not been persisted yet; nil when all are.
    private var unpersistedFrom: UInt64?
    private var hardStateDirty = false

    init(id: UInt64, storeID: UInt64, voters: [UInt64], seed: UInt64) {
        self.id = id
        self.storeID = storeID
        self.voters = voters
        random = SyntheticRandom(seed: seed ^ id)
        electionTimeout = Self.electionTicks
        resetElectionTimeout()
    }

    /// Restores persisted state after a restart.
    mutating func restore(term: UInt64, votedFor: UInt64?, baseIndex: UInt64, baseTerm: UInt64, log: [RaftEntry], applied: UInt64) {
        self.term = term
        self.votedFor = votedFor
        self.baseIndex = baseIndex
        self.baseTerm = baseTerm
        self.log = log
        appliedIndex = max(applied, baseIndex)
        commitIndex = appliedIndex
    }

    var lastIndex: UInt64 { baseIndex + UInt64(log.count) }
    var lastTerm: UInt64 { log.last?.term ?? baseTerm }
    var isLeader: Bool { role == .leader }
    var quorum: Int { voters.count / 2 + 1 }

    func termAt(_ index: UInt64) -> UInt64? {
        if index == baseIndex { return baseTerm }
        guard index > baseIndex, index <= lastIndex else { return nil }
        return log[Int(index - baseIndex - 1)].term
    }

    func entry(at index: UInt64) -> RaftEntry? {
        guard index > baseIndex, index <= lastIndex else { return nil }
        return log[Int(index - baseIndex - 1)]
    }

    mutating func takeOutbox() -> [RaftMessage] {
        defer { outbox.removeAll() }
        return outbox
    }

    /// What must reach disk before messages go out: the hard state, and entries from an index on.
    mutating func takeUnpersisted() -> (hardState: Bool, entriesFrom: UInt64?) {
        defer {
            hardStateDirty = false
            unpersistedFrom = nil
        }
        return (hardStateDirty, unpersistedFrom)
    }

    mutating func setVoters(_ newVoters: [UInt64]) {
        voters = newVoters
        if role == .leader {
            for v in newVoters where nextIndex[v] == nil {
                nextIndex[v] = lastIndex + 1
                matchIndex[v] = 0
            }
        }
    }

    // MARK: time

    mutating func tick() {
        electionElapsed += 1
        switch role {
        case .leader:
            heartbeatElapsed += 1
            if heartbeatElapsed >= Self.heartbeatTicks {
                heartbeatElapsed = 0
                broadcastAppend()
            }
            if electionElapsed >= electionTimeout {
                electionElapsed = 0
                // Check quorum: a leader cut off from a majority steps down, so clients look elsewhere.
                if recentlyActive.count + 1 < quorum {
                    becomeFollower(term: term, leader: nil)
                }
                recentlyActive.removeAll()
                transferee = nil
            }
        case .follower, .candidate:
            if electionElapsed >= electionTimeout, voters.contains(id), mayLead { campaign() }
        }
    }

    private mutating func resetElectionTimeout() {
        electionElapsed = 0
        electionTimeout = Self.electionTicks + Int(random.next() % UInt64(Self.electionTicks))
    }

    // MARK: roles

    mutating func campaign() {
        role = .candidate
        term += 1
        votedFor = id
        hardStateDirty = true
        leaderID = nil
        votes = [id]
        resetElectionTimeout()
        if votes.count >= quorum {
            becomeLeader()
            return
        }
        for v in voters where v != id {
            outbox.append(RaftMessage(from: id, to: v, term: term, kind: .requestVote(lastIndex: lastIndex, lastTerm: lastTerm)))
        }
    }

    private mutating func becomeFollower(term newTerm: UInt64, leader: UInt64?) {
        if newTerm != term {
            term = newTerm
            votedFor = nil
            hardStateDirty = true
        }
        role = .follower
        leaderID = leader
        transferee = nil
        resetElectionTimeout()
    }

    private mutating func becomeLeader() {
        role = .leader
        leaderID = id
        transferee = nil
        heartbeatElapsed = 0
        recentlyActive.removeAll()
        for v in voters {
            nextIndex[v] = lastIndex + 1
            matchIndex[v] = 0
        }
        append(.noop)
        broadcastAppend()
    }

    // MARK: proposals

    /// Appends a command when this peer leads; returns its index, or nil.
    mutating func propose(_ command: RaftCommand) -> UInt64? {
        guard role == .leader, transferee == nil else { return nil }
        let index = append(command)
        broadcastAppend()
        return index
    }

    @discardableResult
    private mutating func append(_ command: RaftCommand) -> UInt64 {
        let index = lastIndex + 1
        log.append(RaftEntry(term: term, index: index, command: command))
        unpersistedFrom = min(unpersistedFrom ?? index, index)
        matchIndex[id] = index
        maybeCommit()
        return index
    }

    /// Hands leadership to `target` once its log has caught up.
    mutating func transferLeadership(to target: UInt64) {
        guard role == .leader, target != id, voters.contains(target) else { return }
        transferee = target
        if matchIndex[target] == lastIndex {
            outbox.append(RaftMessage(from: id, to: target, term: term, kind: .timeoutNow))
        } else {
            sendAppend(to: target)
        }
    }

    private mutating func broadcastAppend() {
        for v in voters where v != id { sendAppend(to: v) }
    }

    private mutating func sendAppend(to peer: UInt64) {
        let next = nextIndex[peer] ?? lastIndex + 1
        guard next > baseIndex, let prevTerm = termAt(next - 1) else {
            outbox.append(RaftMessage(from: id, to: peer, term: term, kind: .snapshot(index: appliedIndex, term: termAt(appliedIndex) ?? baseTerm)))
            return
        }
        let entries = next <= lastIndex ? Array(log[Int(next - baseIndex - 1)...].prefix(64)) : []
        outbox.append(RaftMessage(from: id, to: peer, term: term, kind: .append(prevIndex: next - 1, prevTerm: prevTerm, entries: entries, commit: commitIndex)))
    }

    private mutating func maybeCommit() {
        guard role == .leader else { return }
        let matches = voters.map { $0 == id ? lastIndex : (matchIndex[$0] ?? 0) }.sorted(by: >)
        guard matches.count >= quorum else { return }
        let candidate = matches[quorum - 1]
        // Only entries of the current term commit by counting replicas (Raft §5.4.2).
        if candidate > commitIndex, termAt(candidate) == term {
            commitIndex = candidate
        }
    }

    // MARK: messages

    mutating func step(_ m: RaftMessage) {
        if m.term > term {
            let leader: UInt64? = if case .append = m.kind { m.from } else { nil }
            becomeFollower(term: m.term, leader: leader)
        } else if m.term < term {
            if case .append = m.kind {
                // Tell a stale leader about the newer term.
                outbox.append(RaftMessage(from: id, to: m.from, term: term, kind: .appendResponse(success: false, matchIndex: lastIndex)))
            }
            return
        }
        switch m.kind {
        case let .requestVote(candidateLast, candidateLastTerm):
            let upToDate = candidateLastTerm > lastTerm || (candidateLastTerm == lastTerm && candidateLast >= lastIndex)
            let grant = (votedFor == nil || votedFor == m.from) && upToDate && role != .leader
            if grant {
                votedFor = m.from
                hardStateDirty = true
                resetElectionTimeout()
            }
            outbox.append(RaftMessage(from: id, to: m.from, term: term, kind: .vote(granted: grant)))
        case let .vote(granted):
            guard role == .candidate, granted else { return }
            votes.insert(m.from)
            if votes.count >= quorum { becomeLeader() }
        case let .append(prevIndex, prevTerm, entries, commit):
            if role != .follower { becomeFollower(term: term, leader: m.from) }
            leaderID = m.from
            electionElapsed = 0
            guard termAt(prevIndex) == prevTerm else {
                let hint = min(lastIndex, prevIndex > 0 ? prevIndex - 1 : 0)
                outbox.append(RaftMessage(from: id, to: m.from, term: term, kind: .appendResponse(success: false, matchIndex: max(hint, commitIndex))))
                return
            }
            for entry in entries {
                if let existing = termAt(entry.index), existing == entry.term { continue }
                if entry.index <= lastIndex {
                    log.removeLast(Int(lastIndex - entry.index + 1))  // conflicting suffix
                }
                log.append(entry)
                unpersistedFrom = min(unpersistedFrom ?? entry.index, entry.index)
            }
            let matched = prevIndex + UInt64(entries.count)
            if commit > commitIndex { commitIndex = min(commit, matched) }
            outbox.append(RaftMessage(from: id, to: m.from, term: term, kind: .appendResponse(success: true, matchIndex: matched)))
        case let .appendResponse(success, match):
            guard role == .leader else { return }
            recentlyActive.insert(m.from)
            if success {
                if match > (matchIndex[m.from] ?? 0) { matchIndex[m.from] = match }
                nextIndex[m.from] = max(nextIndex[m.from] ?? 0, match + 1)
                maybeCommit()
                if transferee == m.from, matchIndex[m.from] == lastIndex {
                    outbox.append(RaftMessage(from: id, to: m.from, term: term, kind: .timeoutNow))
                } else if match < lastIndex {
                    sendAppend(to: m.from)
                }
            } else {
                nextIndex[m.from] = max(1, min((nextIndex[m.from] ?? 1) - 1, match + 1))
                sendAppend(to: m.from)
            }
        case .snapshot:
            break  // installed by the group, which copies the data first (see `installSnapshot`)
        case .timeoutNow:
            if voters.contains(id), mayLead { campaign() }
        }
    }

    /// Replaces the log with a snapshot at (index, term): the region's data was copied in already.
    mutating func installSnapshot(index: UInt64, term snapshotTerm: UInt64, leader: UInt64) {
        log.removeAll()
        baseIndex = index
        baseTerm = snapshotTerm
        commitIndex = index
        appliedIndex = index
        unpersistedFrom = nil
        hardStateDirty = true
        leaderID = leader
        outbox.append(RaftMessage(from: id, to: leader, term: term, kind: .appendResponse(success: true, matchIndex: index)))
    }
}
