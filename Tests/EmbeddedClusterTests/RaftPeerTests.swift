import Foundation
import Testing
@testable import TestSupport
@testable import KeyCodec
@testable import ClusterAPI
@testable import EmbeddedCluster

/// `RaftPeer` alone, in the style of etcd/raft's raft_test.go: no clock, no threads, no disk. A
/// `RaftNetwork` hands messages over and plays the owner's part of the Ready contract.
@Suite struct RaftPeerTests {
    static func entry(_ index: UInt64, term: UInt64) -> RaftEntry { RaftEntry(term: term, index: index, command: .noop) }

    static func peer(_ id: UInt64, voters: [UInt64] = [1, 2, 3], log: [RaftEntry] = [], term: UInt64 = 0, applied: UInt64 = 0) -> RaftPeer {
        var p = RaftPeer(id: id, storeID: id, voters: voters, seed: 7)
        p.restore(hardState: .init(term: term, votedFor: nil, baseIndex: 0, baseTerm: 0), log: log, applied: applied)
        return p
    }

    static func terms(_ ts: [UInt64]) -> [RaftEntry] { ts.enumerated().map { entry(UInt64($0.offset + 1), term: $0.element) } }

    // MARK: elections

    /// (voter's log terms, candidate's last index, candidate's last term, vote granted)
    @Test(arguments: [
        ([1, 1, 2], UInt64(3), UInt64(2), true),  // as up to date
        ([1, 1, 2], 4, 2, true),  // longer, same last term
        ([1, 1, 2], 2, 2, false),  // shorter, same last term
        ([1, 1, 2], 5, 1, false),  // longer but an older last term
        ([1, 1, 2], 1, 3, true),  // a newer last term wins however short
        ([], 0, 0, true),  // both empty
    ] as [([UInt64], UInt64, UInt64, Bool)])
    func aVoteIsRefusedToAStaleLog(voterTerms: [UInt64], lastIndex: UInt64, lastTerm: UInt64, granted: Bool) {
        var voter = Self.peer(2, log: Self.terms(voterTerms), term: 3)
        voter.step(RaftMessage(from: 1, to: 2, term: 4, kind: .requestVote(lastIndex: lastIndex, lastTerm: lastTerm)))
        let reply = voter.takeReady().messages.last
        guard case let .vote(g)? = reply?.kind else {
            Issue.record("no vote reply: \(String(describing: reply))")
            return
        }
        #expect(g == granted)
        #expect(voter.term == 4)
        // A vote is part of the hard state: it is persisted with the Ready that carries the reply.
        #expect(voter.votedFor == (granted ? 1 : nil))
    }

    /// Two peers of a region that time out on the same ticks split every vote once the third peer
    /// is gone. Each draws its own timeouts: within a few elections, any two differ, for every
    /// region (peers 11 and 13 of region 1 once drew the same ones).
    @Test func noTwoPeersOfARegionShareTheirElectionTimeouts() {
        func timeouts(region: UInt64, peer: UInt64) -> [Int] {
            var p = RaftPeer(id: peer, storeID: peer, voters: [peer, peer + 1, peer + 2], seed: region)
            var drawn = [p.electionTimeout]
            for _ in 0..<7 {
                p.campaign()
                drawn.append(p.electionTimeout)
            }
            return drawn
        }
        for region in UInt64(1)...2_000 {
            let peers = Array(Set([region * 3 + 8, region * 3 + 9, region * 3 + 10, 11, 12, 13])).sorted()
            let drawn = peers.map { timeouts(region: region, peer: $0) }
            for i in drawn.indices {
                for j in drawn.indices where j > i { #expect(drawn[i] != drawn[j], "region \(region): peers \(peers[i]) and \(peers[j])") }
            }
        }
    }

    @Test func oneVotePerTerm() {
        var voter = Self.peer(3)
        voter.step(RaftMessage(from: 1, to: 3, term: 1, kind: .requestVote(lastIndex: 0, lastTerm: 0)))
        voter.step(RaftMessage(from: 2, to: 3, term: 1, kind: .requestVote(lastIndex: 0, lastTerm: 0)))
        let votes = voter.takeReady().messages.compactMap { m -> Bool? in if case let .vote(g) = m.kind { g } else { nil } }
        #expect(votes == [true, false])
    }

    /// A split starts its child's election on the leader's store before the other replicas hold
    /// the region, and the requests to them are dropped. Asked again once a replica holds it, each
    /// votes, and the candidate leads without waiting out an election timeout; no one who voted is
    /// asked twice, and no one at all once the election is over.
    @Test func aCandidateAsksAgainForTheVotesThatWereLost() {
        let voters: [UInt64] = [1, 2, 3, 4, 5]
        var candidate = Self.peer(1, voters: voters)
        var late = [2, 3].map { Self.peer($0, voters: voters) }
        candidate.campaign()
        #expect(candidate.takeReady().messages.count == 4, "asked 2 to 5, and nobody got it")
        func requests() -> [RaftMessage] {
            candidate.takeReady().messages.filter { m in if case .requestVote = m.kind { true } else { false } }
        }
        for (i, voter) in [UInt64(2), 3].enumerated() {
            candidate.askVoteAgain(of: voter)
            let asked = requests()
            #expect(asked.map(\.to) == [voter])
            for request in asked { late[i].step(request) }
            for reply in late[i].takeReady().messages { candidate.step(reply) }
            candidate.askVoteAgain(of: voter)
            #expect(requests().isEmpty, "\(voter) voted already")
        }
        #expect(candidate.role == .leader, "three votes of five")
        candidate.askVoteAgain(of: 4)
        #expect(requests().isEmpty, "a leader asks no one")
    }

    // MARK: log replication

    @Test func aConflictingSuffixIsTruncatedAndTheTruncationPersisted() async throws {
        let dir = try TemporaryDirectory()
        let store = try Store(id: 1, clusterDirectory: dir.path)
        let storage = store.raftState
        // Entries 3 and 4 came from a leader of term 2 that lost them; the leader of term 3 has 3'.
        var follower = Self.peer(2, log: [], term: 2)
        follower.step(RaftMessage(from: 1, to: 2, term: 2, kind: .append(prevIndex: 0, prevTerm: 0, entries: Self.terms([1, 1, 2, 2]), commit: 2)))
        var ready = follower.takeReady()
        try storage.persistNow(RaftStateWrite(region: 9, ready: ready))
        follower.persisted(ready)
        for entry in ready.committed { follower.applied(entry.index) }

        follower.step(RaftMessage(from: 3, to: 2, term: 3, kind: .append(prevIndex: 2, prevTerm: 1, entries: [Self.entry(3, term: 3)], commit: 2)))
        #expect(follower.log.entries.map(\.term) == [1, 1, 3])
        ready = follower.takeReady()
        #expect(ready.entries.map(\.index) == [3])
        #expect(ready.lastIndex == 3 && ready.staleThrough == 4, "the stored entry 4 must be deleted")
        try storage.persistNow(RaftStateWrite(region: 9, ready: ready))
        follower.persisted(ready)
        for entry in ready.committed { follower.applied(entry.index) }

        // After a restart the log is what the follower has now, not what it had.
        let saved = try storage.load(region: 9)
        #expect(saved.entries.map(\.term) == [1, 1, 3])
        #expect(saved.hard?.term == 3)
        #expect(!follower.hasReady)
    }

    @Test func aFollowerAppliesOnlyWhatItsReadyPersists() {
        var follower = Self.peer(2, term: 1)
        follower.step(RaftMessage(from: 1, to: 2, term: 1, kind: .append(prevIndex: 0, prevTerm: 0, entries: Self.terms([1, 1, 1]), commit: 3)))
        let ready = follower.takeReady()
        // Committed entries to apply are on disk once this Ready is persisted: never beyond it.
        #expect(ready.committed.map(\.index) == [1, 2, 3])
        #expect(ready.entries.map(\.index) == [1, 2, 3])
        // The acknowledgement goes out with the same Ready, after the entries are persisted.
        #expect(ready.messages.contains { if case .appendResponse(true, 3) = $0.kind { true } else { false } })
        #expect(follower.stableIndex == 0, "nothing is stable before the owner persists")
    }

    /// (entries' terms on the leader, leader's term, match indexes of the two followers, commit)
    @Test(arguments: [
        ([1, 1], UInt64(1), [UInt64(2), 0], UInt64(2)),  // a majority holds entries of this term
        ([1, 1], 1, [0, 0], 0),  // only the leader
        ([1, 2, 2], 3, [3, 3], 0),  // Raft §5.4.2: entries of earlier terms do not commit by count
        ([1, 2, 2, 3], 3, [4, 0], 4),  // an entry of this term commits, and everything before it
        ([1, 2, 2, 3], 3, [3, 3], 0),  // the majority stops before this term's entry
    ] as [([UInt64], UInt64, [UInt64], UInt64)])
    func theCommitRule(terms: [UInt64], term: UInt64, matches: [UInt64], commit: UInt64) {
        var leader = Self.leader(withTerms: terms, term: term)
        for (follower, match) in zip([2, 3] as [UInt64], matches) where match > 0 {
            leader.step(RaftMessage(from: follower, to: 1, term: leader.term, kind: .appendResponse(success: true, matchIndex: match)))
        }
        let noopIndex = UInt64(terms.count) + 1  // every new leader appends a no-op of its term
        #expect(leader.commitIndex == (commit == 0 ? 0 : min(commit, noopIndex)), "terms \(terms), matches \(matches)")
    }

    /// The followers hear at once that a new leader's first entry or a split committed (urgent
    /// entries, as TiKV's): the split's other replicas start its new regions only when they apply
    /// it. An ingest's commit comes with the next append or heartbeat.
    @Test func followersHearAtOnceOnlyOfUrgentCommits() {
        var net = RaftNetwork(voters: [1, 2, 3])
        net.elect(1)
        for id: UInt64 in [2, 3] { #expect(net.peers[id]!.commitIndex == 1, "peer \(id) knows the leader's first entry committed") }
        let ingest = net.peers[1]!.propose(.ingest(IngestCommand(regionID: 1, epoch: RegionEpoch(), files: [])))!
        net.settle()
        #expect(net.peers[1]!.commitIndex == ingest)
        for id: UInt64 in [2, 3] { #expect(net.peers[id]!.commitIndex < ingest, "peer \(id) hears of it with the next heartbeat") }
        net.heartbeat()
        for id: UInt64 in [2, 3] { #expect(net.peers[id]!.commitIndex == ingest, "peer \(id)") }
        let split = net.peers[1]!.propose(.split(SplitCommand(regionID: 1, epoch: RegionEpoch(), splitKeys: [[1]], newRegions: [.init(regionID: 2, peerIDs: [4, 5, 6])])))!
        net.settle()
        for id: UInt64 in [1, 2, 3] { #expect(net.peers[id]!.commitIndex == split, "peer \(id)") }
    }

    /// A leader of `term` whose log holds entries of `terms` and its own no-op, persisted.
    static func leader(withTerms terms: [UInt64], term: UInt64) -> RaftPeer {
        var p = peer(1, log: Self.terms(terms), term: term - 1)
        p.campaign()
        for voter: UInt64 in [2, 3] { p.step(RaftMessage(from: voter, to: 1, term: p.term, kind: .vote(granted: true))) }
        #expect(p.isLeader && p.term == term)
        let ready = p.takeReady()
        p.persisted(ready)
        return p
    }

    @Test func theLeaderCountsItsOwnEntriesOnlyOnceTheyArePersisted() {
        var leader = Self.leader(withTerms: [], term: 1)
        let index = leader.propose(.noop)!
        leader.step(RaftMessage(from: 2, to: 1, term: 1, kind: .appendResponse(success: true, matchIndex: index)))
        // The no-op before it is on the leader's disk and commits; the new entry is not, and one
        // follower is no quorum of three.
        #expect(leader.commitIndex == index - 1)
        leader.persisted(leader.takeReady())
        #expect(leader.commitIndex == index)
    }

    /// Entries that every replica applied leave memory, and the log goes on from there: appends,
    /// commits and a new leader work as before, and no snapshot is needed.
    @Test func anAppliedPrefixLeavesMemoryAndTheLogGoesOn() {
        var net = RaftNetwork(voters: [1, 2, 3])
        net.elect(1)
        for _ in 0..<5 { _ = net.peers[1]!.propose(.noop) }
        net.settle()
        net.heartbeat()
        let floor = net.peers.values.map(\.appliedIndex).min()!
        #expect(floor >= 5)
        for id in net.peers.keys { net.peers[id]!.compactLog(through: floor) }
        #expect(net.peers.values.allSatisfy { $0.baseIndex == floor && $0.entry(at: floor) == nil && $0.termAt(floor) != nil })
        let index = net.peers[1]!.propose(.noop)!
        net.settle()
        net.heartbeat()
        #expect(net.peers.values.allSatisfy { $0.appliedIndex >= index })
        net.peers[2]!.campaign()
        net.settle()
        #expect(net.peers[2]!.isLeader)
        let next = net.peers[2]!.propose(.noop)!
        net.settle()
        net.heartbeat()
        #expect(net.peers.values.allSatisfy { $0.appliedIndex >= next })
        #expect(net.installedSnapshots.isEmpty, "every replica had what it needed")
        // Never past what a replica applied.
        var behind = net.peers[3]!
        behind.compactLog(through: behind.appliedIndex + 1)
        #expect(behind.baseIndex == net.peers[3]!.baseIndex)
    }

    // MARK: snapshots

    /// (follower's commit and applied index, snapshot index, repairing, accepted)
    @Test(arguments: [
        (UInt64(5), UInt64(3), false, false),  // stale: it would take back what was applied
        (5, 5, false, false),  // a duplicate
        (5, 8, false, true),  // moves the follower forward
        (5, 5, true, true),  // a replica being repaired takes one at its applied index
        (5, 4, true, false),  // but never one below it
    ] as [(UInt64, UInt64, Bool, Bool)])
    func aSnapshotIsCheckedInStep(applied: UInt64, index: UInt64, repairing: Bool, accepted: Bool) {
        var follower = Self.peer(2, log: Self.terms(Array(repeating: 1, count: 6)), term: 1, applied: applied)
        follower.needsRepair = repairing
        follower.step(RaftMessage(from: 1, to: 2, term: 1, kind: .snapshot(index: index, term: 1)))
        #expect(follower.hasPendingSnapshot == accepted)
        #expect(follower.appliedIndex == applied, "step never moves the applied index")
        let ready = follower.takeReady()
        #expect(ready.snapshot == (accepted ? RaftSnapshot(index: index, term: 1, leader: 1) : nil))
    }

    @Test func aSnapshotOfAnOlderTermOrFromADeposedLeaderIsRefused() {
        var follower = Self.peer(2, term: 4)
        follower.step(RaftMessage(from: 1, to: 2, term: 3, kind: .snapshot(index: 10, term: 3)))
        #expect(!follower.hasPendingSnapshot)
        let reply = follower.takeReady().messages.first
        #expect(reply?.term == 4, "the stale leader learns of the newer term")
    }

    @Test func afterASnapshotTheLeadersMatchIndexIsWhatTheSnapshotCovers() {
        var leader = Self.leader(withTerms: [], term: 1)
        for _ in 0..<4 { _ = leader.propose(.noop) }
        leader.persisted(leader.takeReady())
        leader.step(RaftMessage(from: 2, to: 1, term: 1, kind: .appendResponse(success: true, matchIndex: 5)))
        #expect(leader.matchIndex(of: 2) == 5)
        // The follower's log was replaced by a snapshot at 3 (for example, a repair).
        leader.step(RaftMessage(from: 2, to: 1, term: 1, kind: .snapshotApplied(index: 3)))
        #expect(leader.matchIndex(of: 2) == 3)
        #expect(leader.takeReady().messages.contains { m in
            if case let .append(prev, _, entries, _) = m.kind { m.to == 2 && prev == 3 && entries.map(\.index) == [4, 5] } else { false }
        })
    }

    @Test func aSnapshotNeverTakesBackWhatWasApplied() {
        var follower = Self.peer(2, log: Self.terms([1, 1, 1, 1, 1, 1]), term: 1, applied: 5)
        follower.restoreSnapshot(RaftSnapshot(index: 3, term: 1, leader: 1), voters: [1, 2, 3], learners: [])
        #expect(follower.appliedIndex == 5 && follower.baseIndex == 0)
    }

    @Test func nothingIsAppliedWhileASnapshotWaits() {
        // A replica under repair, with committed entries not yet applied, accepts a snapshot at
        // its applied index: the entries would write data the snapshot then replaces.
        var follower = Self.peer(2, log: Self.terms([1, 1, 1, 1, 1, 1]), term: 1, applied: 3)
        follower.needsRepair = true
        follower.step(RaftMessage(from: 1, to: 2, term: 1, kind: .append(prevIndex: 6, prevTerm: 1, entries: [], commit: 6)))
        follower.step(RaftMessage(from: 1, to: 2, term: 1, kind: .snapshot(index: 3, term: 1)))
        let ready = follower.takeReady()
        #expect(ready.snapshot?.index == 3)
        #expect(ready.committed.isEmpty)
    }

    @Test func aLeaderThatMissesDataSendsNoSnapshot() {
        var leader = Self.leader(withTerms: [], term: 1)
        leader.needsRepair = true
        leader.sendSnapshot(to: 2)
        #expect(!leader.takeReady().messages.contains { if case .snapshot = $0.kind { true } else { false } })
    }

    // MARK: whole groups

    @Test func leadershipIsTransferred() {
        var net = RaftNetwork(voters: [1, 2, 3])
        net.elect(1)
        net.peers[1]!.transferLeadership(to: 3)
        net.settle()
        #expect(net.peers[3]!.isLeader)
        #expect(!net.peers[1]!.isLeader)
        #expect(net.peers[3]!.term > 1)
    }

    @Test func aLeaderCutOffFromTheQuorumStepsDown() {
        var net = RaftNetwork(voters: [1, 2, 3])
        net.elect(1)
        net.isolated = [1]
        // Two of the longest election timeouts: the first check may still count earlier replies.
        for _ in 0..<(4 * RaftPeer.electionTicks) { net.tick(only: [1]) }
        #expect(!net.peers[1]!.isLeader, "check quorum")
    }

    // MARK: read index

    /// A read waits for a heartbeat round that a quorum answers after it was asked, then for its
    /// index to apply; it writes no entry.
    @Test func aReadIsServedOnceAQuorumConfirmsTheLeaderAndNothingIsWritten() {
        var net = RaftNetwork(voters: [1, 2, 3])
        net.elect(1)
        for _ in 0..<3 { _ = net.peers[1]!.propose(.noop) }
        net.settle()
        let last = net.peers[1]!.lastIndex
        let taken = net.peers[1]!.readIndex(token: 7)
        #expect(taken)
        let beforeQuorum = net.peers[1]!.takeServableReads()
        #expect(beforeQuorum.isEmpty, "no quorum answered yet")
        let byFollower = net.peers[2]!.readIndex(token: 8)
        #expect(!byFollower, "a follower takes no read")
        net.settle()
        let served = net.peers[1]!.takeServableReads()
        #expect(served == [7])
        #expect(!net.peers[1]!.hasReads)
        for id in [UInt64(1), 2, 3] { #expect(net.peers[id]!.lastIndex == last) }
    }

    /// A leader cut off from the others while they elect a new one and commit more never serves
    /// the reads it took (it would miss what the new leader committed); it drops them on hearing
    /// of the newer term.
    @Test func aDeposedLeaderServesNoRead() {
        var net = RaftNetwork(voters: [1, 2, 3])
        net.elect(1)
        net.isolated = [1]
        net.elect(2)
        _ = net.peers[2]!.propose(.noop)
        net.settle()
        #expect(net.peers[1]!.isLeader, "it has not heard of term \(net.peers[2]!.term)")
        let taken = net.peers[1]!.readIndex(token: 1)
        #expect(taken)
        net.settle()
        let whileCutOff = net.peers[1]!.takeServableReads()
        #expect(whileCutOff.isEmpty)
        // Healed, its next read's heartbeats meet the newer term, and the answer deposes it.
        net.isolated = []
        let again = net.peers[1]!.readIndex(token: 2)
        #expect(again)
        net.settle()
        #expect(!net.peers[1]!.isLeader)
        #expect(!net.peers[1]!.hasReads)
        let afterwards = net.peers[1]!.takeServableReads()
        #expect(afterwards.isEmpty)
    }

    /// Two of five answering is no quorum; the third confirms every read of the rounds all three
    /// answered, and only those, in the order asked; an answer is never taken for a later round.
    @Test func aReadRoundIsConfirmedByAQuorumOfVoters() {
        var reads = RaftReads()
        let voters: [UInt64] = [1, 2, 3, 4, 5]
        let first = reads.add(index: 10, token: 100)
        let second = reads.add(index: 12, token: 200)
        reads.answer(from: 2, round: second, voters: voters, leader: 1, quorum: 3)
        let twoOfFive = reads.takeServable(applied: 20)
        #expect(twoOfFive.isEmpty, "the leader and one follower")
        reads.answer(from: 3, round: first, voters: voters, leader: 1, quorum: 3)
        let firstRound = reads.takeServable(applied: 11)
        #expect(firstRound == [100], "round 1 has three answers; its index applied")
        let secondRound = reads.takeServable(applied: 20)
        #expect(secondRound.isEmpty, "round 2 has two")
        reads.answer(from: 4, round: second, voters: voters, leader: 1, quorum: 3)
        let unapplied = reads.takeServable(applied: 11)
        #expect(unapplied.isEmpty, "confirmed, but index 12 is not applied")
        let applied = reads.takeServable(applied: 12)
        #expect(applied == [200])
        #expect(reads.isEmpty)
        // Idle, it lets the answers go but not the round: late answers to round 2 confirm no
        // read asked after it.
        reads.releaseIdleMemory()
        let third = reads.add(index: 13, token: 300)
        for peer: UInt64 in [2, 3, 4] { reads.answer(from: peer, round: second, voters: voters, leader: 1, quorum: 3) }
        let late = reads.takeServable(applied: 20)
        #expect(late.isEmpty)
        for peer: UInt64 in [2, 5] { reads.answer(from: peer, round: third, voters: voters, leader: 1, quorum: 3) }
        let thirdRound = reads.takeServable(applied: 20)
        #expect(thirdRound == [300])
    }

    @Test func aNewPeerJoinsAsALearnerCatchesUpBySnapshotAndThenCounts() {
        var net = RaftNetwork(voters: [1, 2, 3])
        net.elect(1)
        for _ in 0..<5 { _ = net.peers[1]!.propose(.noop) }
        net.settle()
        let before = net.peers[1]!.appliedIndex

        // Add peer 4 as a learner: it starts from a snapshot, not from the log.
        net.addPeer(4, learner: true)
        net.settle()
        #expect(net.installedSnapshots[4] == before, "the learner took the leader's snapshot")
        #expect(net.peers[1]!.hasCaughtUp(4))

        // A learner is no quorum: with 2 and 3 cut off, nothing commits although 4 holds it.
        net.isolated = [2, 3]
        let index = net.peers[1]!.propose(.noop)!
        net.settle()
        #expect(net.peers[1]!.commitIndex < index)

        // Promoted, it counts: 1 and 4 are not a quorum of four, with 2 back they are three.
        net.setMembers(voters: [1, 2, 3, 4], learners: [])
        net.settle()
        #expect(net.peers[1]!.commitIndex < index)
        net.isolated = [3]
        net.heartbeat()
        #expect(net.peers[1]!.commitIndex >= index)
    }
}

/// Peers that hand each other their messages, with the owner's part of the Ready contract done
/// in memory: persist, apply, install a snapshot (recorded), then send.
struct RaftNetwork {
    var peers: [UInt64: RaftPeer] = [:]
    var isolated = Set<UInt64>()
    var installedSnapshots: [UInt64: UInt64] = [:]
    private var inFlight: [RaftMessage] = []

    init(voters: [UInt64]) {
        for id in voters { peers[id] = RaftPeer(id: id, storeID: id, voters: voters, seed: 11) }
    }

    mutating func elect(_ id: UInt64) {
        peers[id]!.campaign()
        settle()
        #expect(peers[id]!.isLeader)
    }

    mutating func tick(only ids: [UInt64]? = nil) {
        for id in ids ?? Array(peers.keys) { peers[id]!.tick() }
        settle()
    }

    /// Enough ticks for a heartbeat round.
    mutating func heartbeat() {
        for _ in 0..<RaftPeer.heartbeatTicks { tick() }
    }

    mutating func addPeer(_ id: UInt64, learner: Bool) {
        let leader = peers.values.first { $0.isLeader }!
        let voters = leader.voters, learners = leader.learners + (learner ? [id] : [])
        peers[id] = RaftPeer(id: id, storeID: id, voters: voters, learners: learners, seed: 11)
        setMembers(voters: voters, learners: learners)
    }

    mutating func setMembers(voters: [UInt64], learners: [UInt64]) {
        for id in peers.keys { peers[id]!.setMembers(voters: voters, learners: learners) }
    }

    /// Runs Readys and deliveries until nothing moves.
    mutating func settle() {
        for _ in 0..<10_000 {
            var moved = false
            for id in peers.keys.sorted() where peers[id]!.hasReady {
                moved = true
                let ready = peers[id]!.takeReady()
                peers[id]!.persisted(ready)
                for entry in ready.committed { peers[id]!.applied(entry.index) }
                if let snapshot = ready.snapshot {
                    let leader = peers[snapshot.leader]!
                    installedSnapshots[id] = snapshot.index
                    peers[id]!.restoreSnapshot(snapshot, voters: leader.voters, learners: leader.learners)
                }
                inFlight += ready.messages
            }
            let messages = inFlight
            inFlight.removeAll()
            for m in messages where !isolated.contains(m.from) && !isolated.contains(m.to) {
                guard var to = peers[m.to] else { continue }
                var message = m
                if case .snapshot = m.kind, let from = peers[m.from] {
                    message.kind = .snapshot(index: from.appliedIndex, term: from.termAt(from.appliedIndex) ?? 0)
                }
                to.step(message)
                peers[m.to] = to
                moved = true
            }
            if !moved { return }
        }
        Issue.record("the network did not settle")
    }
}
