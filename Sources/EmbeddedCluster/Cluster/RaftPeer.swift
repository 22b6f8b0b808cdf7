import KeyCodec
import ClusterAPI

/// One peer's Raft state machine, in the shape of etcd-io/raft and raft-rs: `step` and `tick`
/// change it and do no I/O, and `takeReady` says what to do next. The owner persists the Ready's
/// entries and hard state (synced), calls `persisted`, applies its committed entries (each of
/// them on disk already), installs its snapshot, and only then sends its messages.
///
/// Terms, randomized election timeouts, heartbeats, votes, log replication with quorum commit,
/// check-quorum, leader transfer, learners, and snapshots checked like any other message.
struct RaftPeer: Sendable {
    enum Role: Sendable { case follower, candidate, leader }

    static let heartbeatTicks = 2
    static let electionTicks = 10

    let id: UInt64
    let storeID: UInt64
    private(set) var voters: [UInt64]
    /// Peers that receive the log but neither vote nor count for a quorum.
    private(set) var learners: [UInt64] = []

    // Persistent state.
    private(set) var term: UInt64 = 0
    private(set) var votedFor: UInt64?
    /// Entries after `baseIndex`; `log[i]` has index `baseIndex + 1 + i`.
    private(set) var log: [RaftEntry] = []
    private(set) var baseIndex: UInt64 = 0
    private(set) var baseTerm: UInt64 = 0

    private(set) var commitIndex: UInt64 = 0
    private(set) var appliedIndex: UInt64 = 0
    /// Entries up to here are on disk; nothing after it is acknowledged, counted or applied.
    private(set) var stableIndex: UInt64 = 0
    /// The last index on disk; above `lastIndex` while a replaced suffix is still stored.
    private var storedLastIndex: UInt64 = 0
    /// The base on disk: the stored entries from here up to `baseIndex` are deleted with the next
    /// Ready, in the same synced write as the hard state that moves the base.
    private var storedBaseIndex: UInt64 = 0
    private var hardStateDirty = false

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
    /// True while this replica misses data that a snapshot will bring (it applied an ingest whose
    /// file it never received): it must not lead, or the region would serve that hole, and it
    /// takes a snapshot at its own applied index.
    var needsRepair = false
    /// Set by the owner while the next committed entry cannot be applied (no descriptors or disk):
    /// Readys carry no committed entries until it is cleared.
    var applyHeld = false
    /// A snapshot accepted by `step`, for the owner to install.
    private var pendingSnapshot: RaftSnapshot?
    private var outbox: [RaftMessage] = []

    init(id: UInt64, storeID: UInt64, voters: [UInt64], learners: [UInt64] = [], seed: UInt64) {
        self.id = id
        self.storeID = storeID
        self.voters = voters
        self.learners = learners
        random = SyntheticRandom(seed: seed ^ id)
        electionTimeout = Self.electionTicks
        resetElectionTimeout()
    }

    /// Restores persisted state after a restart: everything loaded is on disk.
    mutating func restore(hardState: RaftStorage.HardState?, log: [RaftEntry], applied: UInt64) {
        term = hardState?.term ?? 0
        votedFor = hardState?.votedFor
        baseIndex = hardState?.baseIndex ?? 0
        baseTerm = hardState?.baseTerm ?? 0
        self.log = log
        appliedIndex = max(applied, baseIndex)
        commitIndex = appliedIndex
        stableIndex = lastIndex
        storedLastIndex = lastIndex
        storedBaseIndex = baseIndex
    }

    var lastIndex: UInt64 { baseIndex + UInt64(log.count) }
    var lastTerm: UInt64 { log.last?.term ?? baseTerm }
    var isLeader: Bool { role == .leader }
    var quorum: Int { voters.count / 2 + 1 }
    private var isVoter: Bool { voters.contains(id) }
    private var mayCampaign: Bool { isVoter && !needsRepair }

    func termAt(_ index: UInt64) -> UInt64? {
        if index == baseIndex { return baseTerm }
        guard index > baseIndex, index <= lastIndex else { return nil }
        return log[Int(index - baseIndex - 1)].term
    }

    func entry(at index: UInt64) -> RaftEntry? {
        guard index > baseIndex, index <= lastIndex else { return nil }
        return log[Int(index - baseIndex - 1)]
    }

    // MARK: the Ready hand-off

    var hasReady: Bool {
        hardStateDirty || storedBaseIndex < baseIndex || stableIndex < lastIndex || storedLastIndex > lastIndex || pendingSnapshot != nil || !outbox.isEmpty
            || (!applyHeld && pendingSnapshot == nil && appliedIndex < min(commitIndex, lastIndex))
    }

    var hasPendingSnapshot: Bool { pendingSnapshot != nil }

    /// What to do next. Its entries and committed entries are valid until the next `step`.
    mutating func takeReady() -> RaftReady {
        let unstable = stableIndex < lastIndex ? Array(log[Int(stableIndex - baseIndex)...]) : []
        let applyTo = min(commitIndex, lastIndex)
        // Nothing is applied while a snapshot waits: it replaces what those entries would write.
        let committed = !applyHeld && pendingSnapshot == nil && appliedIndex < applyTo ? Array(log[Int(appliedIndex - baseIndex)..<Int(applyTo - baseIndex)]) : []
        // Entries at or below the base that are still stored: deleted with the hard state that
        // moves the base, so that a restart never finds a log with a hole below what it keeps.
        let truncated = storedBaseIndex < min(baseIndex, storedLastIndex) ? (storedBaseIndex + 1)...min(baseIndex, storedLastIndex) : nil
        let ready = RaftReady(
            hardState: hardStateDirty || storedBaseIndex < baseIndex ? RaftStorage.HardState(term: term, votedFor: votedFor, baseIndex: baseIndex, baseTerm: baseTerm) : nil,
            entries: unstable, lastIndex: lastIndex, staleThrough: storedLastIndex, truncated: truncated, snapshot: pendingSnapshot,
            messages: outbox, committed: committed)
        hardStateDirty = false
        pendingSnapshot = nil
        outbox.removeAll()
        return ready
    }

    /// The Ready's entries and hard state are on disk.
    mutating func persisted(_ ready: RaftReady) {
        stableIndex = max(stableIndex, min(ready.lastIndex, lastIndex))
        storedLastIndex = ready.lastIndex
        if let base = ready.hardState?.baseIndex { storedBaseIndex = max(storedBaseIndex, base) }
        if role == .leader {
            matchIndex[id] = stableIndex
            maybeCommit()
        }
    }

    /// The Ready's writes did not reach the disk (no room): what it would have persisted is
    /// offered again by the next Ready, and its committed entries stay unapplied. Its messages
    /// and its snapshot are dropped, as a lossy network would drop them; Raft sends them again.
    mutating func persistFailed(_ ready: RaftReady) {
        if ready.hardState != nil { hardStateDirty = true }
    }

    /// The entry at `index` was applied (in order).
    mutating func applied(_ index: UInt64) {
        appliedIndex = max(appliedIndex, index)
    }

    /// Truncates the log through `index`, which this replica applied (a CompactLog entry after it
    /// applied): the entries leave memory now, and leave the disk with the next Ready, in the write
    /// that moves the base. A follower that needs one of them later gets a snapshot instead.
    mutating func compactLog(through index: UInt64) {
        guard index > baseIndex, index <= appliedIndex, index <= stableIndex, let term = termAt(index) else { return }
        log.removeFirst(Int(index - baseIndex))
        baseIndex = index
        baseTerm = term
    }

    /// Gives back what a sleeping peer does not need until it wakes: the buffers of its log and
    /// outbox, which keep the capacity of their busiest moment, and the votes of its last election.
    /// Tens of thousands of regions sleep at a time in a large restore.
    mutating func releaseIdleMemory() {
        if log.capacity > log.count * 2 { log = log.map { $0 } }
        if outbox.isEmpty { outbox = [] }
        if role != .candidate { votes = [] }
    }

    // MARK: membership

    /// The region's peers changed (a conf change applied, or a snapshot's membership).
    mutating func setMembers(voters newVoters: [UInt64], learners newLearners: [UInt64]) {
        let added = Set(newVoters + newLearners).subtracting(voters + learners)
        voters = newVoters
        learners = newLearners
        guard role == .leader else { return }
        for peer in added where peer != id {
            // A new peer has nothing: it starts from a snapshot, never from entries it lacks data for.
            nextIndex[peer] = 0
            matchIndex[peer] = 0
            sendAppend(to: peer)
        }
        for peer in nextIndex.keys where !voters.contains(peer) && !learners.contains(peer) {
            nextIndex[peer] = nil
            matchIndex[peer] = nil
        }
        if !voters.contains(id) { becomeFollower(term: term, leader: nil) }
        maybeCommit()
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
                if recentlyActive.intersection(voters).subtracting([id]).count + 1 < quorum {
                    becomeFollower(term: term, leader: nil)
                }
                recentlyActive.removeAll()
                transferee = nil
            }
        case .follower, .candidate:
            if electionElapsed >= electionTimeout, mayCampaign { campaign() }
        }
    }

    private mutating func resetElectionTimeout() {
        electionElapsed = 0
        electionTimeout = Self.electionTicks + Int(random.next() % UInt64(Self.electionTicks))
    }

    // MARK: roles

    mutating func campaign() {
        guard mayCampaign else { return }
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
        nextIndex.removeAll()
        matchIndex.removeAll()
        for peer in voters + learners where peer != id {
            nextIndex[peer] = lastIndex + 1
            matchIndex[peer] = 0
        }
        matchIndex[id] = stableIndex
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

    /// The leader's own entries count for the commit once they are stable (`persisted`).
    @discardableResult
    private mutating func append(_ command: RaftCommand) -> UInt64 {
        let index = lastIndex + 1
        log.append(RaftEntry(term: term, index: index, command: command))
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

    /// Sends `peer` a snapshot of what this leader applied (a replica that must be repaired).
    mutating func sendSnapshot(to peer: UInt64) {
        // A leader that misses data would spread the hole.
        guard role == .leader, peer != id, !needsRepair else { return }
        outbox.append(RaftMessage(from: id, to: peer, term: term, kind: .snapshot(index: appliedIndex, term: termAt(appliedIndex) ?? baseTerm)))
    }

    /// True when `peer` holds every entry this leader has.
    func hasCaughtUp(_ peer: UInt64) -> Bool { role == .leader && (matchIndex[peer] ?? 0) >= lastIndex }

    private mutating func broadcastAppend() {
        for peer in voters + learners where peer != id { sendAppend(to: peer) }
    }

    private mutating func sendAppend(to peer: UInt64) {
        let next = nextIndex[peer] ?? lastIndex + 1
        guard next > baseIndex, let prevTerm = termAt(next - 1) else {
            sendSnapshot(to: peer)
            return
        }
        let entries = next <= lastIndex ? Array(log[Int(next - baseIndex - 1)...].prefix(64)) : []
        outbox.append(RaftMessage(from: id, to: peer, term: term, kind: .append(prevIndex: next - 1, prevTerm: prevTerm, entries: entries, commit: commitIndex)))
    }

    private mutating func maybeCommit() {
        guard role == .leader else { return }
        let matches = voters.map { $0 == id ? stableIndex : (matchIndex[$0] ?? 0) }.sorted(by: >)
        guard !matches.isEmpty, matches.count >= quorum else { return }
        let candidate = matches[quorum - 1]
        // Only entries of the current term commit by counting replicas (Raft §5.4.2).
        if candidate > commitIndex, termAt(candidate) == term {
            commitIndex = candidate
        }
    }

    // MARK: messages

    mutating func step(_ m: RaftMessage) {
        if m.term > term {
            let fromLeader: Bool = switch m.kind {
            case .append, .snapshot, .timeoutNow: true
            default: false
            }
            becomeFollower(term: m.term, leader: fromLeader ? m.from : nil)
        } else if m.term < term {
            switch m.kind {
            case .append, .snapshot:
                // Tell a stale leader about the newer term.
                outbox.append(RaftMessage(from: id, to: m.from, term: term, kind: .appendResponse(success: false, matchIndex: lastIndex)))
            default: break
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
            guard role == .candidate, granted, voters.contains(m.from) else { return }
            votes.insert(m.from)
            if votes.count >= quorum { becomeLeader() }
        case let .append(prevIndex, prevTerm, entries, commit):
            followLeader(m.from)
            handleAppend(from: m.from, prevIndex: prevIndex, prevTerm: prevTerm, entries: entries, commit: commit)
        case let .appendResponse(success, match):
            guard role == .leader, nextIndex[m.from] != nil else { return }
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
        case let .snapshot(index, snapshotTerm):
            followLeader(m.from)
            // A snapshot must move this replica forward: a stale or duplicate one would take back
            // what it applied. A replica being repaired takes one at its own applied index.
            let wanted = index > commitIndex || (needsRepair && index >= appliedIndex)
            guard wanted, pendingSnapshot == nil else {
                outbox.append(RaftMessage(from: id, to: m.from, term: term, kind: .appendResponse(success: true, matchIndex: min(commitIndex, lastIndex))))
                return
            }
            pendingSnapshot = RaftSnapshot(index: index, term: snapshotTerm, leader: m.from)
        case let .snapshotApplied(index):
            guard role == .leader, nextIndex[m.from] != nil else { return }
            recentlyActive.insert(m.from)
            // The follower's log is now what the snapshot covers, even below what it had before.
            matchIndex[m.from] = index
            nextIndex[m.from] = index + 1
            if index < lastIndex { sendAppend(to: m.from) }
        case .timeoutNow:
            campaign()
        }
    }

    private mutating func followLeader(_ leader: UInt64) {
        if role != .follower { becomeFollower(term: term, leader: leader) }
        leaderID = leader
        electionElapsed = 0
    }

    private mutating func handleAppend(from leader: UInt64, prevIndex: UInt64, prevTerm: UInt64, entries: [RaftEntry], commit: UInt64) {
        guard prevIndex >= baseIndex, termAt(prevIndex) == prevTerm else {
            let hint = min(lastIndex, prevIndex > 0 ? prevIndex - 1 : 0)
            outbox.append(RaftMessage(from: id, to: leader, term: term, kind: .appendResponse(success: false, matchIndex: max(hint, min(commitIndex, lastIndex)))))
            return
        }
        for entry in entries {
            if let existing = termAt(entry.index), existing == entry.term { continue }
            if entry.index <= lastIndex {
                // A conflicting suffix: it goes from memory now, and from disk with the next Ready.
                log.removeLast(Int(lastIndex - entry.index + 1))
                stableIndex = min(stableIndex, entry.index - 1)
            }
            log.append(entry)
        }
        let matched = prevIndex + UInt64(entries.count)
        if commit > commitIndex { commitIndex = max(commitIndex, min(commit, matched)) }
        outbox.append(RaftMessage(from: id, to: leader, term: term, kind: .appendResponse(success: true, matchIndex: matched)))
    }

    /// The owner copied the snapshot's data in: the log now starts at its index.
    mutating func restoreSnapshot(_ snapshot: RaftSnapshot, voters newVoters: [UInt64], learners newLearners: [UInt64]) {
        guard snapshot.index >= appliedIndex else { return }  // never back over what was applied
        if termAt(snapshot.index) == snapshot.term, snapshot.index <= lastIndex {
            log.removeFirst(Int(snapshot.index - baseIndex))  // the log agrees: keep what follows
        } else {
            log.removeAll()
            stableIndex = snapshot.index
        }
        baseIndex = snapshot.index
        baseTerm = snapshot.term
        stableIndex = max(stableIndex, baseIndex)
        commitIndex = max(commitIndex, snapshot.index)
        appliedIndex = snapshot.index
        hardStateDirty = true
        needsRepair = false
        voters = newVoters
        learners = newLearners
        outbox.append(RaftMessage(from: id, to: snapshot.leader, term: term, kind: .snapshotApplied(index: snapshot.index)))
    }
}

/// A snapshot that a follower accepted: the leader's data as of `index`.
struct RaftSnapshot: Sendable, Equatable {
    var index: UInt64
    var term: UInt64
    var leader: UInt64
}

/// What a peer asks its owner to do, in this order: persist `hardState` and `entries` (deleting
/// stored entries in `lastIndex + 1 ... staleThrough` and in `truncated`), synced; apply `committed`; install
/// `snapshot`; then send `messages`, which may acknowledge what was persisted.
struct RaftReady: Sendable {
    var hardState: RaftStorage.HardState?
    var entries: [RaftEntry]
    var lastIndex: UInt64
    var staleThrough: UInt64
    /// Stored entries below the new base, to delete.
    var truncated: ClosedRange<UInt64>?
    var snapshot: RaftSnapshot?
    var messages: [RaftMessage]
    var committed: [RaftEntry]

    var mustPersist: Bool { hardState != nil || !entries.isEmpty || staleThrough > lastIndex || truncated != nil }
}
