import Testing
@testable import EmbeddedCluster

/// `RaftProgress` alone, as etcd's tracker tests: the index a quorum holds, how a follower's next
/// index moves on its answers, and the leader's check of its quorum.
@Suite struct RaftProgressTests {
    /// (voters, the leader's stable index, the followers' match indexes, the quorum's index)
    @Test(arguments: [
        ([UInt64(1), 2, 3], UInt64(5), [UInt64(3), 4], UInt64(4)),
        ([1, 2, 3], 5, [0, 0], 0),  // only the leader holds anything
        ([1, 2, 3], 2, [7, 7], 7),  // a leader behind its followers does not hold the commit back
        ([1, 2, 3, 4, 5], 9, [9, 1, 1, 8], 8),
        ([1], 6, [], 6),  // a single voter is its own quorum
    ] as [([UInt64], UInt64, [UInt64], UInt64)])
    func theQuorumIndexIsWhatAMajorityOfVotersHolds(voters: [UInt64], own: UInt64, matches: [UInt64], expected: UInt64) {
        var progress = RaftProgress(followers: Array(voters.dropFirst()), lastIndex: 10)
        for (peer, match) in zip(voters.dropFirst(), matches) { progress.acknowledge(peer, through: match) }
        #expect(progress.quorumIndex(voters: voters, leader: 1, ownStable: own, quorum: voters.count / 2 + 1) == expected)
    }

    @Test func aFollowersNextIndexFollowsItsAnswers() {
        var progress = RaftProgress(followers: [2], lastIndex: 10)
        #expect(progress.next(2) == 11 && progress.match(2) == 0)
        progress.refuse(2, hint: 4)
        #expect(progress.next(2) == 5, "back to just after what it may hold")
        progress.refuse(2, hint: 9)
        #expect(progress.next(2) == 4, "never forward on a refusal")
        progress.acknowledge(2, through: 6)
        #expect(progress.next(2) == 7 && progress.match(2) == 6)
        progress.acknowledge(2, through: 3)
        #expect(progress.next(2) == 7 && progress.match(2) == 6, "a late answer takes nothing back")
        progress.snapshotApplied(2, at: 2)
        #expect(progress.next(2) == 3 && progress.match(2) == 2, "after a snapshot the follower holds what it covers")
        progress.refuse(2, hint: 0)
        #expect(progress.next(2) == 1)
    }

    @Test func membersThatLeaveAreForgottenAndNewOnesStartFromNothing() {
        var progress = RaftProgress(followers: [2, 3], lastIndex: 4)
        progress.add(4)
        #expect(progress.next(4) == 0 && progress.match(4) == 0)
        progress.keep(only: [1, 2, 4])
        #expect(!progress.tracks(3) && progress.tracks(2) && progress.tracks(4))
    }

    @Test func theQuorumCheckCountsWhoAnsweredSinceTheLastOne() {
        var progress = RaftProgress(followers: [2, 3, 4, 5], lastIndex: 1)
        let voters: [UInt64] = [1, 2, 3, 4, 5]
        progress.acknowledge(2, through: 1)
        let oneAnswered = progress.checkQuorum(voters: voters, leader: 1, quorum: 3)
        #expect(!oneAnswered, "the leader and one follower are two of five")
        progress.acknowledge(2, through: 1)
        progress.refuse(3, hint: 0)
        let twoAnswered = progress.checkQuorum(voters: voters, leader: 1, quorum: 3)
        #expect(twoAnswered, "a refusal is an answer too")
        let noneSince = progress.checkQuorum(voters: voters, leader: 1, quorum: 3)
        #expect(!noneSince, "each check starts a new period")
    }
}
