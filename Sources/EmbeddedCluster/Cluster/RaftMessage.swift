import KeyCodec
import ClusterAPI

/// A message between two peers of one region's Raft group.
struct RaftMessage: Sendable {
    enum Kind: Sendable {
        case requestVote(lastIndex: UInt64, lastTerm: UInt64)
        case vote(granted: Bool)
        /// Entries after (prevIndex, prevTerm); an empty list is a heartbeat.
        case append(prevIndex: UInt64, prevTerm: UInt64, entries: [RaftEntry], commit: UInt64)
        case appendResponse(success: Bool, matchIndex: UInt64)
        /// The leader's data as of (index, term), for a follower that lacks the log or the data
        /// it needs. The follower checks it in `step` like any other message.
        case snapshot(index: UInt64, term: UInt64)
        /// The follower installed a snapshot: its log now ends at `index`.
        case snapshotApplied(index: UInt64)
        /// Start an election now (leader transfer).
        case timeoutNow
        /// A heartbeat of a read index's round (`RaftReads`), and a follower's answer in the same term.
        case readHeartbeat(round: UInt64)
        case readAck(round: UInt64)
    }

    var from: UInt64
    var to: UInt64
    var term: UInt64
    var kind: Kind
}
