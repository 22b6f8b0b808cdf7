import Foundation
import KeyCodec
import ClusterAPI

/// All replicas of one region and the Raft traffic between them: the store's loop around the pure
/// `RaftPeer`s, as etcd's `node.go` is around its `RawNode`. Each round takes every replica's
/// Ready, persists it (synced, through its store's group commit), applies what it committed,
/// and only then sends its messages. Messages go through the `Transport` (drops, delays,
/// partitions); peers on down stores neither send nor receive. Applying lives in
/// `RaftGroup+Apply.swift`; snapshots, repairs, removed peers and log compaction in
/// `RaftGroup+Upkeep.swift`.
actor RaftGroup {
    let context: GroupContext
    var replicas: ReplicaTable
    var proposals = Proposals()
    var reads = ReadWaits()
    var leaderWaits = LeaderWaits()
    var pumpState = PumpState()
    var mail = GroupMail()

    nonisolated var regionID: UInt64 { context.regionID }

    /// `initializedStores`: stores whose replica holds the region already (all of them for a new
    /// cluster; those that applied the split for a child region). `campaignOn` starts an election
    /// at once on that store's peer, so a split keeps its leader where it was.
    init(
        region: Region, stores: [UInt64: Store], transport: Transport, awake: AwakeRegions, initializedStores: Set<UInt64>,
        campaignOn: UInt64?, onEvent: @escaping @Sendable (GroupEvent) -> Void
    ) throws {
        context = GroupContext(regionID: region.id, stores: stores, transport: transport, awake: awake, onEvent: onEvent)
        let (voters, learners) = (Self.voterIDs(region), Self.learnerIDs(region))  // one copy for all peers
        replicas = ReplicaTable(capacity: region.peers.count)
        for meta in region.peers {
            var replica = Replica(
                peer: RaftPeer(id: meta.id, storeID: meta.storeID, voters: voters, learners: learners, seed: region.id),
                view: region, initialized: false)
            let saved = initializedStores.contains(meta.storeID) ? try stores[meta.storeID].map { try $0.raftState.load(region: region.id) } : nil
            // A state of an earlier peer of the region on this store (removed, then a new one
            // added) is not this peer's.
            if let saved, saved.apply?.belongs(to: meta.id) ?? true {
                // The saved view is most often the region itself: then the region's copy is kept,
                // one for all replicas, not one decoded for each.
                if let apply = saved.apply, apply.region != region {
                    replica.view = apply.region
                }
                replica.tombstoned = saved.apply?.tombstone ?? false
                replica.peer.restore(hardState: saved.hard, log: saved.entries, applied: saved.apply?.applied ?? 0)
                if replica.view.peers != region.peers {
                    replica.peer.setMembers(voters: Self.voterIDs(replica.view), learners: Self.learnerIDs(replica.view))
                }
                if saved.apply?.needsRepair == true { replica.markForRepair() }
                replica.initialized = true
            } else if meta.isLearner {
                // A learner starts empty and takes a snapshot before anything else.
                replica.markForRepair()
                replica.initialized = true
            }
            replicas[meta.id] = replica
        }
        if let store = campaignOn, let id = region.peer(onStore: store)?.id, replicas[id]?.initialized == true {
            replicas[id]!.peer.campaign()  // its messages go out at the first pump
        }
    }

    static func voterIDs(_ region: Region) -> [UInt64] { region.voters.map(\.id) }
    static func learnerIDs(_ region: Region) -> [UInt64] { region.peers.filter(\.isLearner).map(\.id) }

    // MARK: queries

    /// Each field read in place: asked many times on every tick of every awake region.
    func isLive(_ id: UInt64) -> Bool {
        guard replicas[id]?.initialized == true, replicas[id]?.tombstoned == false else { return false }
        return store(ofPeer: id)?.isUp ?? false
    }

    /// The store of the replica `id`.
    func store(ofPeer id: UInt64) -> Store? {
        guard let storeID = replicas[id]?.peer.storeID else { return nil }
        return context.stores[storeID]
    }

    /// The live leader of the highest term, if there is one: a deposed leader that has not heard
    /// of the newer term yet still believes it leads.
    var leader: PeerMeta? {
        replicas.leader(isLive: isLive)
    }

    /// The live leader (on `store`, if given) as soon as there is one, or nil once `timeout` passed.
    func awaitLeader(onStore store: UInt64?, timeout: Duration) async -> PeerMeta? {
        if let l = leader, store == nil || l.storeID == store { return l }
        let token = leaderWaits.nextToken()
        let timer = Task { [weak self] in
            guard (try? await Task.sleep(for: timeout)) != nil else { return }  // cancelled: answered
            await self?.endLeaderWait(token)
        }
        defer { timer.cancel() }
        return await withCheckedContinuation { leaderWaits.add(token, store: store, $0) }
    }

    private func endLeaderWait(_ token: UInt64) { leaderWaits.end(token, with: nil) }

    /// True when the learner `peerID` installed its snapshot and holds everything the leader has.
    func hasCaughtUp(peerID: UInt64) -> Bool {
        guard let l = leader, let lp = replicas[l.id]?.peer, let replica = replicas[peerID], isLive(peerID) else { return false }
        return lp.hasCaughtUp(peerID) && replica.peer.appliedIndex > 0 && !replica.peer.needsRepair && !replica.needsSnapshot
    }

    /// The region as its leader sees it, or as the most advanced live replica does.
    var region: Region {
        if let l = leader, let view = replicas[l.id]?.view { return view }
        let live = replicas.keys.filter(isLive).max { (replicas[$0]?.peer.appliedIndex ?? 0) < (replicas[$1]?.peer.appliedIndex ?? 0) }
        return replicas[live ?? replicas.keys.min()!]!.view
    }

    func status() -> [PeerStatus] {
        region.peers.compactMap { meta in
            replicas[meta.id].map(\.peer).map { PeerStatus(
                peer: meta, isLeader: $0.isLeader && isLive(meta.id), term: $0.term, appliedIndex: $0.appliedIndex, isLive: isLive(meta.id),
                truncatedIndex: $0.baseIndex, lastIndex: $0.lastIndex) }
        }
    }

    /// Stores whose replica has applied the region up to `version` (for example, a split).
    func stores(withVersionAtLeast version: UInt64) -> Set<UInt64> {
        Set(replicas.values.compactMap { $0.view.epoch.version >= version && $0.initialized ? $0.peer.storeID : nil })
    }

    /// Import files that replicas still need: those of ingests in their logs not yet applied.
    func pendingIngestFiles() -> [UInt64: Set<String>] {
        var out: [UInt64: Set<String>] = [:]
        for id in replicas.keys {
            guard let (store, applied, last) = replicas[id].map({ ($0.peer.storeID, $0.peer.appliedIndex, $0.peer.lastIndex) }), last > applied else { continue }
            for index in (applied + 1)...last {
                guard case let .ingest(cmd)? = replicas[id]!.peer.entry(at: index)?.command else { continue }
                for file in cmd.files { out[store, default: []].insert(file.fileName(regionID: cmd.regionID, epoch: cmd.epoch)) }
            }
        }
        return out
    }

    /// True while the group needs ticks: no leader, work in flight, or a live replica that has not
    /// yet received or applied everything the leader committed.
    var isAwake: Bool {
        if !proposals.isEmpty || !reads.isEmpty || !mail.isEmpty { return true }
        if replicas.contains(where: { replicas[$0]!.hold != nil || (replicas[$0]!.needsSnapshot && isLive($0)) }) { return true }
        if replicas.contains(where: { isLive($0) && replicas[$0]!.peer.hasReady }) { return true }
        // The leader's indexes read in place, not its peer copied.
        guard let l = leader, let commit = replicas[l.id]?.peer.commitIndex, let last = replicas[l.id]?.peer.lastIndex else {
            return canElect
        }
        return replicas.contains { id in
            isLive(id) && (replicas[id]!.peer.appliedIndex < commit || (id != l.id && (replicas[l.id]?.peer.matchIndex(of: id) ?? 0) < last))
        }
    }

    /// Whether a live replica sees a quorum of its voters live. Ticks drive a leaderless group's
    /// elections, and none can be won without a quorum: a split's child waits so until a second
    /// replica applied the split (a candidate ticking meanwhile was 80% of the ticks of a
    /// 24,145-region restore), a region so while most of its stores are down. Such a group
    /// sleeps; `initializePeer`, and a store coming back (`PlacementDriver.wakeRegions`), wake it.
    private var canElect: Bool {
        replicas.contains { id in
            guard isLive(id) else { return false }
            let voters = replicas[id]!.peer.voters
            return voters.reduce(0) { $0 + (isLive($1) ? 1 : 0) } >= replicas[id]!.peer.quorum
        }
    }

    // MARK: commands

    /// Proposes `command` through the peer on `storeID`, which must lead, and waits until that peer
    /// applies it, or `timeout` passes.
    func propose(_ command: RaftCommand, viaStore storeID: UInt64, timeout: Duration) async -> ApplyOutcome {
        let token = proposals.nextToken()
        let timer = Task { [weak self] in
            guard (try? await Task.sleep(for: timeout)) != nil else { return }  // cancelled: answered
            await self?.expire(token: token, after: timeout)
        }
        defer { timer.cancel() }
        return await withCheckedContinuation { continuation in
            whenIdle { self.submit(command, viaStore: storeID, token: token, continuation) }
            schedulePump()
        }
    }

    private func submit(_ command: RaftCommand, viaStore storeID: UInt64, token: UInt64, _ continuation: CheckedContinuation<ApplyOutcome, Never>) {
        if let after = proposals.takeExpiry(of: token) { return continuation.resume(returning: .rejected(.timeout(regionID: regionID, after: after))) }
        if pumpState.stopped { return continuation.resume(returning: .rejected(.regionNotFound(regionID: regionID))) }
        guard let meta = region.peer(onStore: storeID) ?? replicas.values.lazy.compactMap({ $0.view.peer(onStore: storeID) }).first else {
            return continuation.resume(returning: .rejected(.notLeader(regionID: regionID, leader: leader)))
        }
        if let store = context.stores[storeID], !store.isUp { return continuation.resume(returning: .rejected(.storeNotAvailable(storeID: storeID, state: store.state))) }
        guard isLive(meta.id), replicas[meta.id]?.peer.isLeader == true, let index = replicas[meta.id]?.peer.propose(command) else {
            return continuation.resume(returning: .rejected(.notLeader(regionID: regionID, leader: leader)))
        }
        // An index proposed again in a newer term: the older proposal lost its entry.
        let displaced = proposals.wait(at: index, .init(term: replicas[meta.id]!.peer.term, token: token, resume: continuation))
        displaced?.resume.resume(returning: .rejected(.notLeader(regionID: regionID, leader: leader)))
    }

    private func expire(token: UInt64, after: Duration) {
        proposals.expire(token: token, after: after)?.resume.resume(returning: .rejected(.timeout(regionID: regionID, after: after)))
    }

    /// A read index through the peer on `storeID`, which must lead (`RaftPeer.readIndex`):
    /// `.applied` once that peer confirmed with a quorum that it still leads and applied everything
    /// committed before the call. No entry is written.
    func readIndex(viaStore storeID: UInt64, timeout: Duration) async -> ApplyOutcome {
        let token = reads.nextToken()
        let timer = Task { [weak self] in
            guard (try? await Task.sleep(for: timeout)) != nil else { return }  // cancelled: answered
            await self?.expireRead(token: token, after: timeout)
        }
        defer { timer.cancel() }
        return await withCheckedContinuation { continuation in
            whenIdle { self.submitRead(viaStore: storeID, token: token, continuation) }
            schedulePump()
        }
    }

    private func submitRead(viaStore storeID: UInt64, token: UInt64, _ continuation: CheckedContinuation<ApplyOutcome, Never>) {
        if let after = reads.takeExpiry(of: token) { return continuation.resume(returning: .rejected(.timeout(regionID: regionID, after: after))) }
        if pumpState.stopped { return continuation.resume(returning: .rejected(.regionNotFound(regionID: regionID))) }
        if let store = context.stores[storeID], !store.isUp { return continuation.resume(returning: .rejected(.storeNotAvailable(storeID: storeID, state: store.state))) }
        guard let meta = region.peer(onStore: storeID), isLive(meta.id), replicas[meta.id]!.peer.readIndex(token: token) else {
            return continuation.resume(returning: .rejected(.notLeader(regionID: regionID, leader: leader)))
        }
        reads.wait(token, .init(peer: meta.id, term: replicas[meta.id]!.peer.term, resume: continuation))
    }

    private func expireRead(token: UInt64, after: Duration) {
        reads.expire(token, after: after, region: regionID)
    }

    /// Answers the reads their leaders may serve now, and those whose peer no longer leads in
    /// the term that took them (or went down): a read outlives neither.
    private func answerReads() {
        guard !reads.isEmpty else { return }
        for id in replicas.keys where replicas[id]!.peer.hasReads {
            for token in replicas[id]!.peer.takeServableReads() { reads.answer(token, with: .applied) }
        }
        for (token, waiter) in reads.all {
            let peer = replicas[waiter.peer]?.peer
            if peer?.isLeader != true || peer?.term != waiter.term || !isLive(waiter.peer) {
                reads.answer(token, with: .rejected(.notLeader(regionID: regionID, leader: leader)))
            }
        }
    }

    /// Asks the leader to hand over to the peer on `storeID`.
    func transferLeader(toStore storeID: UInt64) {
        whenIdle { [self] in
            guard let l = leader, let target = replicas[l.id]?.view.peer(onStore: storeID) else { return }
            replicas[l.id]!.peer.transferLeadership(to: target.id)
        }
        schedulePump()
    }

    /// The split parent on `storeID` applied the split, so this region's peer there can start.
    func initializePeer(onStore storeID: UInt64) {
        whenIdle { [self] in
            guard let meta = region.peers.first(where: { $0.storeID == storeID }), replicas[meta.id]?.initialized == false else { return }
            replicas[meta.id]!.initialized = true
            // The election that the split started on the leader's store asked this replica for
            // its vote before it held the region, and the request was dropped: it is asked
            // again now, not after an election timeout.
            for id in replicas.keys where id != meta.id && isLive(id) {
                replicas[id]!.peer.askVoteAgain(of: meta.id)
            }
        }
        schedulePump()
    }

    /// One unit of time: elections and heartbeats. Returns whether the group stays awake.
    func tick() async -> Bool {
        whenIdle { [self] in
            pumpState.ticks += 1
            for id in Array(replicas.keys) {
                replicas[id]!.repairSent = false
                if let hold = replicas[id]!.hold, pumpState.ticks - hold.since >= Hold.retryTicks {
                    replicas[id]!.hold = nil
                    replicas[id]!.peer.applyHeld = false
                    if hold.unsavedApplyState { saveApplyState(of: id) }
                }
                if isLive(id) { replicas[id]!.peer.tick() }
            }
        }
        await pump()
        return isAwake
    }

    /// Starts no more pumps, and returns once the running one (if any) ended: afterwards the
    /// group touches no store, which may then close.
    func stop() async {
        pumpState.stopped = true
        await idle()
        // Whoever still waits hears that the region is gone from here.
        for change in pumpState.takeInbox() { change() }
        for waiter in proposals.takeAll() { waiter.resume.resume(returning: .rejected(.regionNotFound(regionID: regionID))) }
        reads.answerAll(with: .rejected(.regionNotFound(regionID: regionID)))
        leaderWaits.endAll()
    }

    /// Returns once no pump is running (at once when none is).
    func idle() async {
        if pumpState.running { await withCheckedContinuation { pumpState.idleWaits.append($0) } }
    }

    // MARK: the loop

    /// Runs `change` now, or, while a pump waits for its writes, at the start of its next round.
    func whenIdle(_ change: @escaping () -> Void) {
        if pumpState.running { pumpState.inbox.append(change) } else { change() }
    }

    /// A running pump takes the inbox at its next round; otherwise one starts.
    func schedulePump() {
        guard !pumpState.running else { return }
        Task { await self.pump() }
    }

    /// Handles every peer's Ready and delivers messages until nothing moves; then says whether the
    /// clock must tick it. The Readies of a round are persisted side by side, each through its
    /// store's group commit, so that the regions of a store share their fsyncs.
    private func pump() async {
        guard !pumpState.running, !pumpState.stopped else { return }
        pumpState.running = true
        for _ in 0..<10_000 {
            let changes = pumpState.takeInbox()
            for change in changes { change() }
            var moved = !changes.isEmpty
            let ready = replicas.keys.sorted().filter { isLive($0) && replicas[$0]!.peer.hasReady && replicas[$0]!.hold?.writes != true }
            if !ready.isEmpty {
                let readies = ready.map { (id: $0, ready: replicas[$0]!.peer.takeReady()) }
                let failures = await persist(readies)
                for (id, taken) in readies { finishReady(taken, of: id, failure: failures[id]) }
                moved = true
            }
            if !mail.ingests.isEmpty {
                await runIngests()
                moved = true
            }
            let messages = mail.takeDeliverable(at: pumpState.ticks)
            for m in messages { deliver(m) }
            if !messages.isEmpty { moved = true }
            if collectRemovedPeers() { moved = true }
            if repairMissedIngests() { moved = true }
            if proposeLogCompaction() { moved = true }
            if !moved && pumpState.inbox.isEmpty { break }
        }
        pumpState.running = false
        answerReads()
        for wait in pumpState.idleWaits { wait.resume() }
        pumpState.idleWaits.removeAll()
        if let l = leader { leaderWaits.answer(l) }
        if isAwake {
            context.awake.wake(regionID)
        } else {
            releaseIdleMemory()
            context.awake.sleep(regionID)
        }
    }

    /// A group goes to sleep with its buffers given back: they keep the capacity of their busiest
    /// moment otherwise, for every one of tens of thousands of regions.
    private func releaseIdleMemory() {
        for id in Array(replicas.keys) { replicas[id]!.peer.releaseIdleMemory() }
        pumpState.releaseIdleMemory()
        mail.releaseIdleMemory()
        proposals.releaseIdleMemory()
        reads.releaseIdleMemory()
        leaderWaits.releaseIdleMemory()
    }

    /// Writes the Readies that must be persisted, all at once; returns the failures by peer.
    private func persist(_ readies: [(id: UInt64, ready: RaftReady)]) async -> [UInt64: DatabaseError] {
        let writes = readies.compactMap { id, ready -> (id: UInt64, storage: any RaftStateStorage, write: RaftStateWrite)? in
            guard ready.mustPersist, let store = store(ofPeer: id) else { return nil }
            return (id, store.raftState, RaftStateWrite(region: regionID, ready: ready))
        }
        return await withTaskGroup(of: (UInt64, DatabaseError?).self) { group in
            for write in writes {
                group.addTask {
                    do throws(DatabaseError) { try await write.storage.persist(write.write) } catch { return (write.id, error) }
                    return (write.id, nil)
                }
            }
            var failures: [UInt64: DatabaseError] = [:]
            for await (id, failure) in group { failures[id] = failure }
            return failures
        }
    }

    /// The rest of a Ready once it is on disk: apply what it committed, install its snapshot, and
    /// only then let its messages go.
    func finishReady(_ ready: RaftReady, of id: UInt64, failure: DatabaseError?) {
        guard let store = store(ofPeer: id) else { return }
        if let failure {
            // A store closing under a round is no failure of the store.
            if case .closed = failure { return }
            // No room: nothing of the Ready is on disk, and it is offered again when the writes
            // are tried next; a full disk is no reason for the store to panic.
            if let exhausted = ResourceExhausted(failure) {
                replicas[id]!.peer.persistFailed(ready)
                holdWrites(of: id, reason: exhausted.reason)
                return
            }
            panic(store: store, reason: "cannot persist the Raft log of region \(regionID): \(failure)")
            return
        }
        replicas[id]!.peer.persisted(ready)
        applyCommitted(ready.committed, on: id)
        if let snapshot = ready.snapshot { installSnapshot(snapshot, on: id) }
        mail.outgoing += ready.messages
    }

    /// Persists the peer's Ready (synced) at once and finishes it: for a snapshot, whose apply
    /// state goes in the same write as the Raft state, inside a round.
    func handleReady(of id: UInt64, apply: RaftApplyState? = nil) {
        guard let store = store(ofPeer: id) else { return }
        let ready = replicas[id]!.peer.takeReady()
        if ready.mustPersist || apply != nil {
            do {
                try store.raftState.persistNow(RaftStateWrite(region: regionID, ready: ready, apply: apply))
            } catch {
                panic(store: store, reason: "cannot persist the Raft log of region \(regionID): \(error)")
                return
            }
        }
        finishReady(ready, of: id, failure: nil)
    }

    private func deliver(_ m: RaftMessage) {
        guard let from = replicas[m.from]?.peer.storeID, let to = replicas[m.to]?.peer.storeID, isLive(m.to) else { return }
        guard let hold = context.transport.route(from: from, to: to) else { return }
        if hold > 0 {
            mail.delayed.append((pumpState.ticks + UInt64(hold), m))
            return
        }
        var message = m
        if case .snapshot = m.kind {
            // A snapshot is the sender's data as it is now, which is what its applied index says.
            let sender = replicas[m.from]!.peer
            message.kind = .snapshot(index: sender.appliedIndex, term: sender.termAt(sender.appliedIndex) ?? sender.baseTerm)
        }
        replicas[m.to]!.peer.step(message)
        // Install at once, while the sender's data is still what the snapshot says.
        if case .snapshot = message.kind, replicas[m.to]!.peer.hasPendingSnapshot { handleReady(of: m.to) }
    }

    /// An unrecoverable failure on apply: the store goes down for good, as TiKV panics.
    @discardableResult
    func panic(store: Store, reason: String) -> ApplyOutcome {
        try? store.setState(.panicked(reason: reason))
        context.onEvent(.storePanicked(storeID: store.id, reason: reason))
        return .storePanicked(storeID: store.id, reason: reason)
    }
}

extension Replica {
    /// It lacks data that a snapshot will bring: it must not lead, and takes one.
    mutating func markForRepair() {
        peer.needsRepair = true
        needsSnapshot = true
    }
}
