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
    var hardState: RaftHardState?
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
