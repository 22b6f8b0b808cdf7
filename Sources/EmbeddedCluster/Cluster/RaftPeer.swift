import KeyCodec
import ClusterAPI

/// One peer's Raft state machine, in the shape of etcd-io/raft and raft-rs: `step` and `tick`
/// change it and do no I/O, and `takeReady` says what to do next. The owner persists the Ready's
/// entries and hard state (synced), calls `persisted`, applies its committed entries (each of
/// them on disk already), installs its snapshot, and only then sends its messages.
///
/// Terms, randomized election timeouts, heartbeats, votes, log replication with quorum commit,
/// check-quorum, leader transfer, learners, snapshots checked like any other message, and read
/// indexes (`RaftReads`).
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
    private(set) var log = RaftLog()

    private(set) var commitIndex: UInt64 = 0
    private(set) var appliedIndex: UInt64 = 0
    private var hardStateDirty = false

    // Volatile state.
    private(set) var role = Role.follower
    private(set) var leaderID: UInt64?
    private var electionElapsed = 0
    private var heartbeatElapsed = 0
    private(set) var electionTimeout: Int
    private var votes = Set<UInt64>()
    private var progress = RaftProgress()
    private var reads = RaftReads()
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
    /// The last entry whose commit the followers must hear at once (0: none): a split, a change
    /// of peers, or a new leader's first entry. TiKV tells them eagerly only for such "urgent"
    /// entries (`is_request_urgent`, `skip_bcast_commit(false)`, components/raftstore/src/store/
    /// peer.rs); the others' commits ride on the next append or heartbeat. A split's other
    /// replicas start its new regions only once they apply it.
    private var urgentThrough: UInt64 = 0

    init(id: UInt64, storeID: UInt64, voters: [UInt64], learners: [UInt64] = [], seed: UInt64) {
        self.id = id
        self.storeID = storeID
        self.voters = voters
        self.learners = learners
        // Each peer draws its own timeouts: two peers of a region on one sequence would campaign
        // at the same tick every time and split the vote for ever once the third is gone.
        random = SyntheticRandom(seed: SyntheticRandom.mix(seed, id, 0, 0))
        electionTimeout = Self.electionTicks
        resetElectionTimeout()
    }

    /// Restores persisted state after a restart: everything loaded is on disk.
    mutating func restore(hardState: RaftHardState?, log: [RaftEntry], applied: UInt64) {
        term = hardState?.term ?? 0
        votedFor = hardState?.votedFor
        self.log = RaftLog(stored: log, baseIndex: hardState?.baseIndex ?? 0, baseTerm: hardState?.baseTerm ?? 0)
        appliedIndex = max(applied, baseIndex)
        commitIndex = appliedIndex
    }

    var lastIndex: UInt64 { log.lastIndex }
    /// The highest index `peer` is known to hold, as this leader sees it.
    func matchIndex(of peer: UInt64) -> UInt64? { progress.match(peer) }
    var lastTerm: UInt64 { log.lastTerm }
    var baseIndex: UInt64 { log.baseIndex }
    var baseTerm: UInt64 { log.baseTerm }
    var stableIndex: UInt64 { log.stableIndex }
    var isLeader: Bool { role == .leader }
    /// True while reads wait for their confirmation or their index (`readIndex`).
    var hasReads: Bool { !reads.isEmpty }
    var quorum: Int { voters.count / 2 + 1 }
    private var isVoter: Bool { voters.contains(id) }
    private var mayCampaign: Bool { isVoter && !needsRepair }

    func termAt(_ index: UInt64) -> UInt64? { log.termAt(index) }
    func entry(at index: UInt64) -> RaftEntry? { log.entry(at: index) }

    // MARK: the Ready hand-off

    var hasReady: Bool {
        hardStateDirty || log.hasUnpersisted || pendingSnapshot != nil || !outbox.isEmpty
            || (!applyHeld && pendingSnapshot == nil && appliedIndex < min(commitIndex, lastIndex))
    }

    var hasPendingSnapshot: Bool { pendingSnapshot != nil }

    /// What to do next. Its entries and committed entries are valid until the next `step`.
    mutating func takeReady() -> RaftReady {
        // Nothing is applied while a snapshot waits: it replaces what those entries would write.
        let committed = !applyHeld && pendingSnapshot == nil ? log.entries(after: appliedIndex, through: min(commitIndex, lastIndex)) : []
        let ready = RaftReady(
            hardState: hardStateDirty || log.baseMoved ? RaftHardState(term: term, votedFor: votedFor, baseIndex: baseIndex, baseTerm: baseTerm) : nil,
            entries: log.unstable, lastIndex: lastIndex, staleThrough: log.storedLastIndex, truncated: log.truncatedOnDisk, snapshot: pendingSnapshot,
            messages: outbox, committed: committed)
        hardStateDirty = false
        pendingSnapshot = nil
        outbox.removeAll()
        return ready
    }

    /// The Ready's entries and hard state are on disk.
    mutating func persisted(_ ready: RaftReady) {
        log.persisted(lastIndex: ready.lastIndex, base: ready.hardState?.baseIndex)
        if role == .leader {
            progress.setOwn(id, stable: stableIndex)
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
        guard index <= appliedIndex else { return }
        log.compact(through: index)
    }

    /// Gives back what a sleeping peer does not need until it wakes: the buffers of its log and
    /// outbox, which keep the capacity of their busiest moment, and the votes of its last election.
    /// Tens of thousands of regions sleep at a time in a large restore.
    mutating func releaseIdleMemory() {
        log.releaseIdleMemory()
        reads.releaseIdleMemory()
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
            progress.add(peer)
            sendAppend(to: peer)
        }
        progress.keep(only: Set(voters + learners))
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
                if !progress.checkQuorum(voters: voters, leader: id, quorum: quorum) { becomeFollower(term: term, leader: nil) }
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
        reads = RaftReads()
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

    /// A candidate sends its vote request again to `voter`, which could not take the first one
    /// (its replica did not hold the region yet). A vote is granted at most once a term, so a
    /// request sent twice elects no one twice.
    mutating func askVoteAgain(of voter: UInt64) {
        guard role == .candidate, voter != id, voters.contains(voter), !votes.contains(voter) else { return }
        outbox.append(RaftMessage(from: id, to: voter, term: term, kind: .requestVote(lastIndex: lastIndex, lastTerm: lastTerm)))
    }

    private mutating func becomeFollower(term newTerm: UInt64, leader: UInt64?) {
        if newTerm != term {
            term = newTerm
            votedFor = nil
            hardStateDirty = true
        }
        role = .follower
        reads = RaftReads()
        leaderID = leader
        transferee = nil
        urgentThrough = 0
        resetElectionTimeout()
    }

    private mutating func becomeLeader() {
        role = .leader
        reads = RaftReads()
        leaderID = id
        transferee = nil
        heartbeatElapsed = 0
        progress = RaftProgress(followers: (voters + learners).filter { $0 != id }, lastIndex: lastIndex)
        progress.setOwn(id, stable: stableIndex)
        urgentThrough = append(.noop)
        broadcastAppend()
    }

    // MARK: proposals

    /// Asks to read everything committed so far, when this peer leads; false otherwise. The read
    /// is confirmed by a heartbeat round that a quorum answers, and `takeServableReads` returns
    /// its token once this peer applied its index. A leader that has not yet committed an entry
    /// of its term does not know the commit index: its last index stands in (Raft thesis §6.4).
    mutating func readIndex(token: UInt64) -> Bool {
        guard role == .leader, transferee == nil else { return false }
        let round = reads.add(index: termAt(commitIndex) == term ? commitIndex : lastIndex, token: token)
        reads.answer(from: id, round: round, voters: voters, leader: id, quorum: quorum)
        for v in voters where v != id {
            outbox.append(RaftMessage(from: id, to: v, term: term, kind: .readHeartbeat(round: round)))
        }
        return true
    }

    /// The tokens of the reads that may be served now: confirmed, and their index applied here.
    mutating func takeServableReads() -> [UInt64] {
        role == .leader ? reads.takeServable(applied: appliedIndex) : []
    }

    /// Appends a command when this peer leads; returns its index, or nil.
    mutating func propose(_ command: RaftCommand) -> UInt64? {
        guard role == .leader, transferee == nil else { return nil }
        let index = append(command)
        switch command {
        case .split, .changePeer: urgentThrough = index
        case .noop, .ingest, .compactLog: break
        }
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
        if matchIndex(of: target) == lastIndex {
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
    func hasCaughtUp(_ peer: UInt64) -> Bool { role == .leader && (matchIndex(of: peer) ?? 0) >= lastIndex }

    private mutating func broadcastAppend() {
        for peer in voters + learners where peer != id { sendAppend(to: peer) }
    }

    private mutating func sendAppend(to peer: UInt64) {
        let next = progress.next(peer) ?? lastIndex + 1
        guard next > baseIndex, let prevTerm = termAt(next - 1) else {
            sendSnapshot(to: peer)
            return
        }
        let entries = log.entries(from: next, limit: 64)
        outbox.append(RaftMessage(from: id, to: peer, term: term, kind: .append(prevIndex: next - 1, prevTerm: prevTerm, entries: entries, commit: commitIndex)))
    }

    /// Advances the commit index to what a quorum holds; returns true when it told every
    /// follower. They learn most commits with the next append or heartbeat, as in TiKV
    /// (`skip_bcast_commit: true`): told of each at once, as etcd/raft's leader does, an ingest
    /// took twice the messages and a 4,022-region restore ticked no less. Urgent entries are
    /// told at once (`urgentThrough`).
    @discardableResult
    private mutating func maybeCommit() -> Bool {
        guard role == .leader else { return false }
        guard let candidate = progress.quorumIndex(voters: voters, leader: id, ownStable: stableIndex, quorum: quorum) else { return false }
        // Only entries of the current term commit by counting replicas (Raft §5.4.2).
        guard candidate > commitIndex, termAt(candidate) == term else { return false }
        commitIndex = candidate
        guard urgentThrough > 0 else { return false }
        if commitIndex >= urgentThrough { urgentThrough = 0 }
        broadcastAppend()
        return true
    }

    // MARK: messages

    mutating func step(_ m: RaftMessage) {
        if m.term > term {
            let fromLeader: Bool = switch m.kind {
            case .append, .snapshot, .timeoutNow, .readHeartbeat: true
            default: false
            }
            becomeFollower(term: m.term, leader: fromLeader ? m.from : nil)
        } else if m.term < term {
            switch m.kind {
            case .append, .snapshot, .readHeartbeat:
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
            guard role == .leader, progress.tracks(m.from) else { return }
            if success {
                progress.acknowledge(m.from, through: match)
                let toldEveryone = maybeCommit()
                if transferee == m.from, matchIndex(of: m.from) == lastIndex {
                    outbox.append(RaftMessage(from: id, to: m.from, term: term, kind: .timeoutNow))
                } else if match < lastIndex, !toldEveryone {
                    sendAppend(to: m.from)
                }
            } else {
                progress.refuse(m.from, hint: match)
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
            guard role == .leader, progress.tracks(m.from) else { return }
            progress.snapshotApplied(m.from, at: index)
            if index < lastIndex { sendAppend(to: m.from) }
        case .timeoutNow:
            campaign()
        case let .readHeartbeat(round):
            followLeader(m.from)
            outbox.append(RaftMessage(from: id, to: m.from, term: term, kind: .readAck(round: round)))
        case let .readAck(round):
            guard role == .leader, voters.contains(m.from) else { return }
            reads.answer(from: m.from, round: round, voters: voters, leader: id, quorum: quorum)
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
        log.appendFromLeader(entries)
        let matched = prevIndex + UInt64(entries.count)
        if commit > commitIndex { commitIndex = max(commitIndex, min(commit, matched)) }
        outbox.append(RaftMessage(from: id, to: leader, term: term, kind: .appendResponse(success: true, matchIndex: matched)))
    }

    /// The owner copied the snapshot's data in: the log now starts at its index.
    mutating func restoreSnapshot(_ snapshot: RaftSnapshot, voters newVoters: [UInt64], learners newLearners: [UInt64]) {
        guard snapshot.index >= appliedIndex else { return }  // never back over what was applied
        log.restore(snapshotIndex: snapshot.index, term: snapshot.term)
        commitIndex = max(commitIndex, snapshot.index)
        appliedIndex = snapshot.index
        hardStateDirty = true
        needsRepair = false
        voters = newVoters
        learners = newLearners
        outbox.append(RaftMessage(from: id, to: snapshot.leader, term: term, kind: .snapshotApplied(index: snapshot.index)))
    }
}
