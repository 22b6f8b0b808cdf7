import KeyCodec
import ClusterAPI

/// What a `RaftGroup` is given and never changes: its region's id, the stores its replicas live
/// on, the transport between them, the clock's list of groups to tick, and where its events go.
struct GroupContext: Sendable {
    let regionID: UInt64
    let stores: [UInt64: Store]
    let transport: Transport
    /// The clock's list of groups to tick; the group keeps its own entry right, inside the actor,
    /// so a proposal can never be left asleep by a tick that just finished.
    let awake: AwakeRegions
    let onEvent: @Sendable (GroupEvent) -> Void
}

/// One replica of the region as its group drives it: its Raft state machine, its view of the
/// region as of its applied index, and what it waits for. A region's replicas are few, so they
/// are kept in one small table rather than one collection per fact.
struct Replica {
    var peer: RaftPeer
    var view: Region
    /// Whether it can take part: a peer of a split region starts once its parent replica applied the split.
    var initialized: Bool
    var tombstoned = false
    /// It missed an ingest's file (its store was down when it was downloaded): it takes a
    /// snapshot of the leader's data instead of applying without it.
    var needsSnapshot = false
    /// Its repair's snapshot went out since the last tick (sent again at the next, if lost).
    var repairSent = false
    /// What it waits for: descriptors or disk.
    var hold: Hold?
    /// The last CompactLog it proposed while leading, so that one is not proposed again while it replicates.
    var lastCompaction: (term: UInt64, index: UInt64)?
}

/// A region's replicas by peer id: searched, since a region has three or so, and tens of
/// thousands of groups each keep one. Each replica lives in a box of its own, so that a read of
/// one field borrows it in place: an array's getter hands out a copy of its element first, and a
/// copy of a replica retains and releases its peer's log, progress and views (a sixth of the CPU
/// of a split and scatter of 24,145 regions, when the replicas were an array's elements). The
/// table is the group's own and never copied (`~Copyable`): no two tables share a box.
struct ReplicaTable: ~Copyable {
    private final class Box {
        let id: UInt64
        /// nil once the replica was removed (its box stays). Unchecked: a box is reached only
        /// through its table, whose own accesses Swift checks (a read of the table for a read of
        /// the box, a modification for a modification), so no two accesses to a box conflict;
        /// checking each one again cost more than the copies it saved.
        @exclusivity(unchecked) var replica: Replica?

        init(_ replica: Replica) {
            id = replica.peer.id
            self.replica = replica
        }
    }

    private var boxes: [Box] = []

    init(capacity: Int) { boxes.reserveCapacity(capacity) }

    private func box(_ id: UInt64) -> Box? { boxes.first { $0.id == id } }

    /// A replica, read and changed in place (as a dictionary's value is).
    subscript(id: UInt64) -> Replica? {
        _read {
            if let box = box(id) { yield box.replica } else { yield nil }
        }
        _modify {
            if let box = box(id) {
                yield &box.replica
            } else {
                var added: Replica?
                yield &added
                if let added { boxes.append(Box(added)) }
            }
        }
    }

    var keys: [UInt64] { boxes.compactMap { $0.replica?.peer.id } }
    /// Copies of every replica (about 400 bytes each): for rare callers only (a split waiting for
    /// its replicas, a proposal through a store the region's view lacks), never on a tick.
    var values: [Replica] { boxes.compactMap(\.replica) }

    /// The replica that leads in the highest term among those `isLive` accepts, read in place:
    /// asked on every tick of every awake region.
    func leader(isLive: (UInt64) -> Bool) -> PeerMeta? {
        var found: (term: UInt64, meta: PeerMeta)?
        for box in boxes where box.replica?.peer.isLeader == true {
            let (id, term) = (box.id, box.replica!.peer.term)
            guard isLive(id), found.map({ term > $0.term }) ?? true else { continue }
            found = (term, PeerMeta(id: id, storeID: box.replica!.peer.storeID))
        }
        return found?.meta
    }

    /// Whether the id of a replica matches: asked on every tick of every awake region. The test
    /// reads what it needs through the table (a replica handed to it would be copied first).
    func contains(where matches: (UInt64) -> Bool) -> Bool {
        for box in boxes where box.replica?.peer.id != nil {
            if matches(box.id) { return true }
        }
        return false
    }
}

/// What a replica waits for: the room or descriptors to apply its next entry (`RaftPeer.applyHeld`),
/// to write its apply state, or to write its Raft log; since which tick.
struct Hold {
    /// Ticks between tries of what is held.
    static let retryTicks: UInt64 = 50

    var since: UInt64
    var writes = false
    var unsavedApplyState = false
}

/// Proposals waiting for their entry to apply on the leader that proposed them, by log index.
struct Proposals {
    struct Waiter {
        let term: UInt64
        let token: UInt64
        let resume: CheckedContinuation<ApplyOutcome, Never>
    }

    private var waiting: [UInt64: Waiter] = [:]
    private var tokens = WaitTokens()

    var isEmpty: Bool { waiting.isEmpty }

    mutating func nextToken() -> UInt64 { tokens.next() }

    /// The waiter at `index`, which the caller answers.
    mutating func take(at index: UInt64) -> Waiter? { waiting.removeValue(forKey: index) }

    func waiter(at index: UInt64) -> Waiter? { waiting[index] }

    /// Puts a proposal at `index`; returns the one it displaced (proposed there in an older term).
    mutating func wait(at index: UInt64, _ waiter: Waiter) -> Waiter? { waiting.updateValue(waiter, forKey: index) }

    mutating func takeAll() -> [Waiter] {
        defer { waiting.removeAll() }
        return Array(waiting.values)
    }

    /// The waiter of `token`, once its time ran out; or nil, and the timeout is kept for when the
    /// proposal leaves the inbox.
    mutating func expire(token: UInt64, after timeout: Duration) -> Waiter? {
        guard let (index, waiter) = waiting.first(where: { $0.value.token == token }) else {
            tokens.keepExpiry(of: token, timeout)
            return nil
        }
        waiting[index] = nil
        return waiter
    }

    /// The timeout of a proposal whose time ran out while it waited in the inbox.
    mutating func takeExpiry(of token: UInt64) -> Duration? { tokens.takeExpiry(of: token) }

    mutating func releaseIdleMemory() {
        if waiting.isEmpty { waiting = [:] }
        tokens.forgetExpiries()
    }
}

/// Read indexes waiting on the leader that took them (`RaftPeer.readIndex`), by token.
struct ReadWaits {
    struct Waiter {
        /// The peer that took the read, and its term then: a read outlives neither.
        let peer: UInt64
        let term: UInt64
        let resume: CheckedContinuation<ApplyOutcome, Never>
    }

    private var waiting: [UInt64: Waiter] = [:]
    private var tokens = WaitTokens()

    var isEmpty: Bool { waiting.isEmpty }
    var all: [(token: UInt64, waiter: Waiter)] { waiting.map { ($0.key, $0.value) } }

    mutating func nextToken() -> UInt64 { tokens.next() }

    mutating func wait(_ token: UInt64, _ waiter: Waiter) { waiting[token] = waiter }

    /// Answers the read of `token`, if it still waits.
    mutating func answer(_ token: UInt64, with outcome: ApplyOutcome) {
        waiting.removeValue(forKey: token)?.resume.resume(returning: outcome)
    }

    /// Answers the read of `token` with its timeout, or keeps the timeout for when it leaves the inbox.
    mutating func expire(_ token: UInt64, after timeout: Duration, region: UInt64) {
        guard waiting[token] != nil else {
            tokens.keepExpiry(of: token, timeout)
            return
        }
        answer(token, with: .rejected(.timeout(regionID: region, after: timeout)))
    }

    mutating func takeExpiry(of token: UInt64) -> Duration? { tokens.takeExpiry(of: token) }

    mutating func answerAll(with outcome: ApplyOutcome) {
        for token in Array(waiting.keys) { answer(token, with: outcome) }
    }

    mutating func releaseIdleMemory() {
        if waiting.isEmpty { waiting = [:] }
        tokens.forgetExpiries()
    }
}

/// The tokens of those waiting on a Raft group (proposals, reads), and the timeouts of those whose
/// time ran out while they were still in the group's inbox, kept until they leave it.
struct WaitTokens {
    private var last: UInt64 = 0
    private var expired: [UInt64: Duration] = [:]

    mutating func next() -> UInt64 {
        last += 1
        return last
    }

    mutating func keepExpiry(of token: UInt64, _ timeout: Duration) { expired[token] = timeout }

    mutating func takeExpiry(of token: UInt64) -> Duration? { expired.removeValue(forKey: token) }

    /// With the inbox empty, every waiter left it: an expiry still kept is of one answered just
    /// before its timer fired, and is dropped.
    mutating func forgetExpiries() { expired = [:] }
}

/// Those waiting for a leader (on a store, if given), answered when a pump ends with one.
struct LeaderWaits {
    private var waits: [UInt64: (store: UInt64?, resume: CheckedContinuation<PeerMeta?, Never>)] = [:]
    private var lastToken: UInt64 = 0

    mutating func nextToken() -> UInt64 {
        lastToken += 1
        return lastToken
    }

    mutating func add(_ token: UInt64, store: UInt64?, _ resume: CheckedContinuation<PeerMeta?, Never>) { waits[token] = (store, resume) }

    mutating func end(_ token: UInt64, with leader: PeerMeta?) {
        waits.removeValue(forKey: token)?.resume.resume(returning: leader)
    }

    /// Answers everyone waiting for `leader` (for any leader, or one on its store).
    mutating func answer(_ leader: PeerMeta) {
        for (token, wait) in waits where wait.store == nil || wait.store == leader.storeID { end(token, with: leader) }
    }

    mutating func endAll() {
        for token in Array(waits.keys) { end(token, with: nil) }
        waits = [:]
    }

    var isEmpty: Bool { waits.isEmpty }

    mutating func releaseIdleMemory() {
        if waits.isEmpty { waits = [:] }
    }
}

/// The pump's own state: whether a round runs, what waits for its next round, and the group's clock.
struct PumpState {
    /// True while `pump` runs. It waits for its writes, and whatever arrives meanwhile waits in
    /// `inbox` for the start of its next round, so that no peer changes between a Ready taken and
    /// the same Ready persisted.
    var running = false
    /// Set by `stop`: no pump starts any more.
    var stopped = false
    /// Those waiting for the running pump to end (`stop`).
    var idleWaits: [CheckedContinuation<Void, Never>] = []
    var inbox: [() -> Void] = []
    var ticks: UInt64 = 0

    mutating func takeInbox() -> [() -> Void] {
        defer { inbox.removeAll() }
        return inbox
    }

    mutating func releaseIdleMemory() {
        if inbox.isEmpty { inbox = [] }
    }
}

/// Messages on their way: those whose sender persisted what they acknowledge (to deliver in this
/// round), those the transport holds back until a tick, and this round's ingests.
struct GroupMail {
    var outgoing: [RaftMessage] = []
    var delayed: [(due: UInt64, message: RaftMessage)] = []
    /// Ingests applied in this round, for their stores' `IngestWriter`s; each replica's next
    /// entries wait for its ingest.
    var ingests: [(peer: UInt64, entry: RaftEntry, ingestion: SSTIngestion)] = []

    var isEmpty: Bool { outgoing.isEmpty && delayed.isEmpty }

    /// The messages to deliver now: the outgoing ones and those delayed until `tick` or before.
    mutating func takeDeliverable(at tick: UInt64) -> [RaftMessage] {
        let due = delayed.filter { $0.due <= tick }
        delayed.removeAll { $0.due <= tick }
        defer { outgoing.removeAll() }
        return outgoing + due.map(\.message)
    }

    mutating func takeIngests() -> [(peer: UInt64, entry: RaftEntry, ingestion: SSTIngestion)] {
        defer { ingests.removeAll() }
        return ingests
    }

    mutating func releaseIdleMemory() {
        if outgoing.isEmpty { outgoing = [] }
        if delayed.isEmpty { delayed = [] }
        if ingests.isEmpty { ingests = [] }
    }
}
