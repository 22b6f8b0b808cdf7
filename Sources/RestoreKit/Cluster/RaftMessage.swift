/// A message between two peers of one region's Raft group.
struct RaftMessage: Sendable {
    enum Kind: Sendable {
        case requestVote(lastIndex: UInt64, lastTerm: UInt64)
        case vote(granted: Bool)
        /// Entries after (prevIndex, prevTerm); an empty list is a heartbeat.
        case append(prevIndex: UInt64, prevTerm: UInt64, entries: [RaftEntry], commit: UInt64)
        case appendResponse(success: Bool, matchIndex: UInt64)
        /// The leader has no log before the follower's next index: the follower needs a snapshot.
        case snapshot(index: UInt64, term: UInt64)
        /// Start an election now (leader transfer).
        case timeoutNow
    }

    var from: UInt64
    var to: UInt64
    var term: UInt64
    var kind: Kind
}
