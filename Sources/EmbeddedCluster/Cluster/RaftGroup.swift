import Foundation
import KeyCodec
import ClusterAPI

/// All replicas of one region and the Raft traffic between them. Messages go through the
/// `Transport` (drops, delays, partitions); peers on down stores neither send nor receive. Each
/// replica persists its log and hard state before its messages leave, and applies committed
/// entries in order, re-checking epoch and range, with its applied index saved beside the data.
actor RaftGroup {
    let regionID: UInt64
    private var peers: [UInt64: RaftPeer] = [:]
    /// Each replica's view of the region, as of its applied index.
    private var views: [UInt64: Region] = [:]
    /// Peers that can take part: a peer of a split region starts once its parent replica applied the split.
    private var initialized = Set<UInt64>()
    private var tombstones = Set<UInt64>()
    /// Replicas that missed an ingest's file (their store was down when it was downloaded): they
    /// take a snapshot of the leader's data instead of applying without it.
    private var needsSnapshot = Set<UInt64>()
    /// Repairs whose snapshot went out since the last tick (sent again at the next, if lost).
    private var repairsSent = Set<UInt64>()
    /// Replicas waiting for descriptors or disk (their next apply, an apply state not yet written,
    /// or their Raft writes), tried again every `heldRetryTicks`.
    private var holds: [UInt64: Hold] = [:]
    /// Ticks between tries of what is held.
    static let heldRetryTicks: UInt64 = 50
    private let stores: [UInt64: Store]
    private let transport: Transport
    /// The clock's list of groups to tick; the group keeps its own entry right, inside the actor,
    /// so a proposal can never be left asleep by a tick that just finished.
    private let awake: AwakeRegions
    private let onEvent: @Sendable (GroupEvent) -> Void
    private var delayed: [(due: UInt64, message: RaftMessage)] = []
    /// Messages whose sender has persisted what they acknowledge, to deliver in this pump.
    private var outgoing: [RaftMessage] = []
    private var waiters: [UInt64: (term: UInt64, token: UInt64, resume: CheckedContinuation<ApplyOutcome, Never>)] = [:]
    private var ticks: UInt64 = 0
    /// True while `pump` runs. It waits for its writes, and whatever arrives meanwhile waits in
    /// `inbox` for the start of its next round, so that no peer changes between a Ready taken and
    /// the same Ready persisted.
    private var pumping = false
    /// Set by `stop`: no pump starts any more.
    private var stopped = false
    /// Those waiting for the running pump to end (`stop`).
    private var idleWaits: [CheckedContinuation<Void, Never>] = []
    private var inbox: [() -> Void] = []
    private var lastProposal: UInt64 = 0
    /// Proposals whose time ran out before they left the inbox, with their timeout.
    private var expiredTimeouts: [UInt64: Duration] = [:]
    /// Ingests applied in this round, for their stores' `IngestWriter`s; each replica's next
    /// entries wait for its ingest.
    private var ingests: [(peer: UInt64, entry: RaftEntry, ingestion: SSTIngestion)] = []
    /// Those waiting for a leader (on a store, if given), answered when a pump ends with one.
    private var leaderWaits: [UInt64: (store: UInt64?, resume: CheckedContinuation<PeerMeta?, Never>)] = [:]
    private var lastLeaderWait: UInt64 = 0
    /// The last CompactLog proposed, so that one is not proposed again while it replicates.
    private var lastCompaction: (term: UInt64, index: UInt64)?

    /// `initializedStores`: stores whose replica holds the region already (all of them for a new
    /// cluster; those that applied the split for a child region). `campaignOn` starts an election
    /// at once on that store's peer, so a split keeps its leader where it was.
    init(
        region: Region, stores: [UInt64: Store], transport: Transport, awake: AwakeRegions, initializedStores: Set<UInt64>,
        campaignOn: UInt64?, onEvent: @escaping @Sendable (GroupEvent) -> Void
    ) throws {
        regionID = region.id
        self.stores = stores
        self.transport = transport
        self.awake = awake
        self.onEvent = onEvent
        for meta in region.peers {
            var peer = RaftPeer(id: meta.id, storeID: meta.storeID, voters: Self.voterIDs(region), learners: Self.learnerIDs(region), seed: region.id &* 31 &+ meta.id)
            var view = region
            let saved = initializedStores.contains(meta.storeID) ? try stores[meta.storeID].map { try RaftStorage(store: $0).load(region: region.id) } : nil
            // A state of an earlier peer of the region on this store (removed, then a new one
            // added) is not this peer's.
            if let saved, saved.apply?.belongs(to: meta.id) ?? true {
                if let apply = saved.apply {
                    if apply.tombstone { tombstones.insert(meta.id) }
                    view = apply.region
                }
                peer.restore(hardState: saved.hard, log: saved.entries, applied: saved.apply?.applied ?? 0)
                peer.setMembers(voters: Self.voterIDs(view), learners: Self.learnerIDs(view))
                if saved.apply?.needsRepair == true {
                    peer.needsRepair = true
                    needsSnapshot.insert(meta.id)
                }
                initialized.insert(meta.id)
            } else if meta.isLearner {
                // A learner starts empty and takes a snapshot before anything else.
                peer.needsRepair = true
                needsSnapshot.insert(meta.id)
                initialized.insert(meta.id)
            }
            peers[meta.id] = peer
            views[meta.id] = view
        }
        if let store = campaignOn, let id = region.peer(onStore: store)?.id, initialized.contains(id) {
            peers[id]?.campaign()  // its messages go out at the first pump
        }
    }

    static func voterIDs(_ region: Region) -> [UInt64] { region.voters.map(\.id) }
    static func learnerIDs(_ region: Region) -> [UInt64] { region.peers.filter(\.isLearner).map(\.id) }

    // MARK: queries

    private func isLive(_ id: UInt64) -> Bool {
        guard initialized.contains(id), !tombstones.contains(id), let peer = peers[id] else { return false }
        return stores[peer.storeID]?.isUp ?? false
    }

    /// The live leader of the highest term, if there is one: a deposed leader that has not heard
    /// of the newer term yet still believes it leads.
    var leader: PeerMeta? {
        let leading = peers.filter { id, peer in peer.isLeader && isLive(id) }.max { $0.value.term < $1.value.term }
        return leading.map { PeerMeta(id: $0.key, storeID: $0.value.storeID) }
    }

    /// The live leader (on `store`, if given) as soon as there is one, or nil once `timeout` passed.
    func awaitLeader(onStore store: UInt64?, timeout: Duration) async -> PeerMeta? {
        if let l = leader, store == nil || l.storeID == store { return l }
        lastLeaderWait += 1
        let token = lastLeaderWait
        let timer = Task { [weak self] in
            try? await Task.sleep(for: timeout)
            await self?.endLeaderWait(token, with: nil)
        }
        defer { timer.cancel() }
        return await withCheckedContinuation { leaderWaits[token] = (store, $0) }
    }

    private func endLeaderWait(_ token: UInt64, with leader: PeerMeta?) {
        leaderWaits.removeValue(forKey: token)?.resume.resume(returning: leader)
    }

    private func answerLeaderWaits() {
        guard !leaderWaits.isEmpty, let l = leader else { return }
        for (token, wait) in leaderWaits where wait.store == nil || wait.store == l.storeID { endLeaderWait(token, with: l) }
    }

    /// True when the learner `peerID` installed its snapshot and holds everything the leader has.
    func hasCaughtUp(peerID: UInt64) -> Bool {
        guard let l = leader, let lp = peers[l.id], let peer = peers[peerID], isLive(peerID) else { return false }
        return lp.hasCaughtUp(peerID) && peer.appliedIndex > 0 && !peer.needsRepair && !needsSnapshot.contains(peerID)
    }

    /// The region as its leader sees it, or as the most advanced live replica does.
    var region: Region {
        if let l = leader, let view = views[l.id] { return view }
        let live = peers.keys.filter(isLive).max { (peers[$0]?.appliedIndex ?? 0) < (peers[$1]?.appliedIndex ?? 0) }
        return views[live ?? peers.keys.min()!]!
    }

    func status() -> [PeerStatus] {
        region.peers.compactMap { meta in
            peers[meta.id].map { PeerStatus(
                peer: meta, isLeader: $0.isLeader && isLive(meta.id), term: $0.term, appliedIndex: $0.appliedIndex, isLive: isLive(meta.id),
                truncatedIndex: $0.baseIndex, lastIndex: $0.lastIndex) }
        }
    }

    /// Stores whose replica has applied the region up to `version` (for example, a split).
    func stores(withVersionAtLeast version: UInt64) -> Set<UInt64> {
        Set(views.compactMap { id, view in view.epoch.version >= version && initialized.contains(id) ? peers[id]?.storeID : nil })
    }

    /// Import files that replicas still need: those of ingests in their logs not yet applied.
    func pendingIngestFiles() -> [UInt64: Set<String>] {
        var out: [UInt64: Set<String>] = [:]
        for peer in peers.values where peer.lastIndex > peer.appliedIndex {
            for index in (peer.appliedIndex + 1)...peer.lastIndex {
                guard case let .ingest(cmd)? = peer.entry(at: index)?.command else { continue }
                for file in cmd.files { out[peer.storeID, default: []].insert(file.fileName(regionID: cmd.regionID, epoch: cmd.epoch)) }
            }
        }
        return out
    }

    /// True while the group needs ticks: no leader, work in flight, or a live replica that has not
    /// yet received or applied everything the leader committed.
    var isAwake: Bool {
        if !waiters.isEmpty || !delayed.isEmpty || !outgoing.isEmpty || !holds.isEmpty || needsSnapshot.contains(where: isLive) { return true }
        if peers.contains(where: { id, peer in isLive(id) && peer.hasReady }) { return true }
        guard let l = leader, let lp = peers[l.id] else { return peers.keys.contains(where: isLive) }
        return peers.contains { id, peer in
            isLive(id) && (peer.appliedIndex < lp.commitIndex || (id != l.id && (lp.matchIndex[id] ?? 0) < lp.lastIndex))
        }
    }

    // MARK: commands

    /// Proposes `command` through the peer on `storeID`, which must lead, and waits until that peer
    /// applies it, or `timeout` passes.
    func propose(_ command: RaftCommand, viaStore storeID: UInt64, timeout: Duration) async -> ApplyOutcome {
        lastProposal += 1
        let token = lastProposal
        let timer = Task { [weak self] in
            try? await Task.sleep(for: timeout)
            await self?.expire(token: token, after: timeout)
        }
        defer { timer.cancel() }
        return await withCheckedContinuation { continuation in
            whenIdle { self.submit(command, viaStore: storeID, token: token, continuation) }
            schedulePump()
        }
    }

    private func submit(_ command: RaftCommand, viaStore storeID: UInt64, token: UInt64, _ continuation: CheckedContinuation<ApplyOutcome, Never>) {
        if let after = expiredTimeout(token) { return continuation.resume(returning: .rejected(.timeout(regionID: regionID, after: after))) }
        if stopped { return continuation.resume(returning: .rejected(.regionNotFound(regionID: regionID))) }
        guard let meta = region.peer(onStore: storeID) ?? views.values.lazy.compactMap({ $0.peer(onStore: storeID) }).first else {
            return continuation.resume(returning: .rejected(.notLeader(regionID: regionID, leader: leader)))
        }
        if let store = stores[storeID], !store.isUp { return continuation.resume(returning: .rejected(.storeNotAvailable(storeID: storeID, state: store.state))) }
        guard isLive(meta.id), peers[meta.id]?.isLeader == true, let index = peers[meta.id]?.propose(command) else {
            return continuation.resume(returning: .rejected(.notLeader(regionID: regionID, leader: leader)))
        }
        // An index proposed again in a newer term: the older proposal lost its entry.
        waiters[index]?.resume.resume(returning: .rejected(.notLeader(regionID: regionID, leader: leader)))
        waiters[index] = (peers[meta.id]!.term, token, continuation)
    }

    private func expiredTimeout(_ token: UInt64) -> Duration? { expiredTimeouts.removeValue(forKey: token) }

    private func expire(token: UInt64, after: Duration) {
        guard let (index, waiter) = waiters.first(where: { $0.value.token == token }) else {
            expiredTimeouts[token] = after  // still in the inbox: it times out when it leaves it
            return
        }
        waiters[index] = nil
        waiter.resume.resume(returning: .rejected(.timeout(regionID: regionID, after: after)))
    }

    /// Asks the leader to hand over to the peer on `storeID`.
    func transferLeader(toStore storeID: UInt64) {
        whenIdle { [self] in
            guard let l = leader, let target = views[l.id]?.peer(onStore: storeID) else { return }
            peers[l.id]?.transferLeadership(to: target.id)
        }
        schedulePump()
    }

    /// The split parent on `storeID` applied the split, so this region's peer there can start.
    func initializePeer(onStore storeID: UInt64) {
        whenIdle { [self] in
            guard let meta = region.peers.first(where: { $0.storeID == storeID }), !initialized.contains(meta.id) else { return }
            initialized.insert(meta.id)
        }
        schedulePump()
    }

    /// One unit of time: elections and heartbeats. Returns whether the group stays awake.
    func tick() async -> Bool {
        whenIdle { [self] in
            ticks += 1
            repairsSent.removeAll()
            for (id, hold) in holds where ticks - hold.since >= Self.heldRetryTicks {
                holds[id] = nil
                peers[id]?.applyHeld = false
                if hold.unsavedApplyState { saveApplyState(of: id) }
            }
            for id in Array(peers.keys) where isLive(id) { peers[id]!.tick() }
        }
        await pump()
        return isAwake
    }

    /// Starts no more pumps, and returns once the running one (if any) ended: afterwards the
    /// group touches no store, which may then close.
    func stop() async {
        stopped = true
        if pumping { await withCheckedContinuation { idleWaits.append($0) } }
        // Whoever still waits hears that the region is gone from here.
        let changes = inbox
        inbox.removeAll()
        for change in changes { change() }
        for (_, waiter) in waiters { waiter.resume.resume(returning: .rejected(.regionNotFound(regionID: regionID))) }
        waiters.removeAll()
        for token in Array(leaderWaits.keys) { endLeaderWait(token, with: nil) }
    }

    // MARK: the loop

    /// Runs `change` now, or, while a pump waits for its writes, at the start of its next round.
    private func whenIdle(_ change: @escaping () -> Void) {
        if pumping { inbox.append(change) } else { change() }
    }

    /// A running pump takes the inbox at its next round; otherwise one starts.
    private func schedulePump() {
        guard !pumping else { return }
        Task { await self.pump() }
    }

    /// Handles every peer's Ready and delivers messages until nothing moves; then says whether the
    /// clock must tick it. The Readies of a round are persisted side by side, each through its
    /// store's group commit, so that the regions of a store share their fsyncs.
    private func pump() async {
        guard !pumping, !stopped else { return }
        pumping = true
        for _ in 0..<10_000 {
            let changes = inbox
            inbox.removeAll()
            for change in changes { change() }
            var moved = !changes.isEmpty
            let ready = peers.keys.sorted().filter { isLive($0) && peers[$0]!.hasReady && holds[$0]?.writes != true }
            if !ready.isEmpty {
                let readies = ready.map { (id: $0, ready: peers[$0]!.takeReady()) }
                let failures = await persist(readies)
                for (id, taken) in readies { finishReady(taken, of: id, failure: failures[id]) }
                moved = true
            }
            if !ingests.isEmpty {
                await runIngests()
                moved = true
            }
            let due = delayed.filter { $0.due <= ticks }
            delayed.removeAll { $0.due <= ticks }
            let messages = outgoing + due.map(\.message)
            outgoing.removeAll()
            for m in messages { deliver(m) }
            if !messages.isEmpty { moved = true }
            if collectRemovedPeers() { moved = true }
            if repairMissedIngests() { moved = true }
            if proposeLogCompaction() { moved = true }
            if !moved && inbox.isEmpty { break }
        }
        pumping = false
        for wait in idleWaits { wait.resume() }
        idleWaits.removeAll()
        answerLeaderWaits()
        if isAwake {
            awake.wake(regionID)
        } else {
            releaseIdleMemory()
            awake.sleep(regionID)
        }
    }

    /// A group goes to sleep with its buffers given back: they keep the capacity of their busiest
    /// moment otherwise, for every one of tens of thousands of regions.
    private func releaseIdleMemory() {
        for id in Array(peers.keys) { peers[id]!.releaseIdleMemory() }
        if inbox.isEmpty { inbox = [] }
        if outgoing.isEmpty { outgoing = [] }
        if waiters.isEmpty { waiters = [:] }
        if delayed.isEmpty { delayed = [] }
        if holds.isEmpty { holds = [:] }
        if expiredTimeouts.isEmpty { expiredTimeouts = [:] }
        if ingests.isEmpty { ingests = [] }
        if leaderWaits.isEmpty { leaderWaits = [:] }
    }

    /// Proposes a CompactLog on the leader, as TiKV's leader decides on its raft-log-gc tick
    /// (tikv components/raftstore/src/store/fsm/peer.rs `on_raft_gc_log_tick`): through the index
    /// that every replica holds, once `RaftLogGC.threshold` entries are there; and once the leader
    /// applied `RaftLogGC.countLimit` entries past its base, through at least the middle of its log,
    /// whoever lags (a replica on a down store then gets a snapshot when it comes back).
    private func proposeLogCompaction() -> Bool {
        guard let l = leader, let lp = peers[l.id], lp.transferee == nil else { return false }
        let first = lp.baseIndex + 1, last = lp.lastIndex, applied = lp.appliedIndex
        let replicated = (lp.voters + lp.learners).map { $0 == l.id ? lp.stableIndex : (lp.matchIndex[$0] ?? 0) }.min() ?? 0
        var target: UInt64
        if applied >= first, applied - first >= RaftLogGC.countLimit {
            target = max(first + (last - first) / 2, replicated)
        } else if replicated >= first, last - first >= 3, replicated - first >= RaftLogGC.threshold {
            target = replicated
        } else {
            return false
        }
        target = min(target, applied, lp.stableIndex)
        guard target >= first, let term = lp.termAt(target) else { return false }
        if let last = lastCompaction, last.term == lp.term, last.index >= target { return false }
        guard peers[l.id]!.propose(.compactLog(index: target, term: term)) != nil else { return false }
        lastCompaction = (lp.term, target)
        return true
    }

    /// Writes the Readies that must be persisted, all at once; returns the failures by peer.
    private func persist(_ readies: [(id: UInt64, ready: RaftReady)]) async -> [UInt64: DatabaseError] {
        var failures: [UInt64: DatabaseError] = [:]
        var writes: [(id: UInt64, store: Store, batch: WriteBatch)] = []
        for (id, ready) in readies where ready.mustPersist {
            guard let store = stores[peers[id]!.storeID] else { continue }
            do {
                writes.append((id, store, try RaftStorage.batch(
                    region: regionID, hardState: ready.hardState, entries: ready.entries, lastIndex: ready.lastIndex, staleThrough: ready.staleThrough,
                    truncated: ready.truncated)))
            } catch {
                failures[id] = .write(path: store.db.path, reason: "cannot encode the Raft log of region \(regionID): \(error)")
            }
        }
        await withTaskGroup(of: (UInt64, DatabaseError?).self) { group in
            for write in writes {
                group.addTask {
                    do throws(DatabaseError) { try await write.store.raftLog.write(write.batch) } catch { return (write.id, error) }
                    return (write.id, nil)
                }
            }
            for await (id, failure) in group { failures[id] = failure }
        }
        return failures
    }

    /// The rest of a Ready once it is on disk: apply what it committed, install its snapshot, and
    /// only then let its messages go.
    private func finishReady(_ ready: RaftReady, of id: UInt64, failure: DatabaseError?) {
        guard let store = stores[peers[id]!.storeID] else { return }
        if let failure {
            // A store closing under a round is no failure of the store.
            if case .closed = failure { return }
            // No room: nothing of the Ready is on disk, and it is offered again when the writes
            // are tried next; a full disk is no reason for the store to panic.
            if let exhausted = ResourceExhausted(failure) {
                peers[id]!.persistFailed(ready)
                holdWrites(of: id, reason: exhausted.reason)
                return
            }
            panic(store: store, reason: "cannot persist the Raft log of region \(regionID): \(failure)")
            return
        }
        peers[id]!.persisted(ready)
        applyCommitted(ready.committed, on: id)
        if let snapshot = ready.snapshot { installSnapshot(snapshot, on: id) }
        outgoing += ready.messages
    }

    /// Persists the peer's Ready (synced) at once and finishes it: for a snapshot, whose apply
    /// state goes in the same write as the Raft state, inside a round.
    private func handleReady(of id: UInt64, apply: RaftStorage.ApplyState? = nil) {
        guard let store = stores[peers[id]!.storeID] else { return }
        let ready = peers[id]!.takeReady()
        if ready.mustPersist || apply != nil {
            do {
                try RaftStorage(store: store).save(
                    region: regionID, hardState: ready.hardState, entries: ready.entries, lastIndex: ready.lastIndex,
                    staleThrough: ready.staleThrough, truncated: ready.truncated, apply: apply)
            } catch {
                panic(store: store, reason: "cannot persist the Raft log of region \(regionID): \(error)")
                return
            }
        }
        finishReady(ready, of: id, failure: nil)
    }

    private func deliver(_ m: RaftMessage) {
        guard let from = peers[m.from], peers[m.to] != nil, isLive(m.to) else { return }
        guard let hold = transport.route(from: from.storeID, to: peers[m.to]!.storeID) else { return }
        if hold > 0 {
            delayed.append((ticks + UInt64(hold), m))
            return
        }
        var message = m
        if case .snapshot = m.kind {
            // A snapshot is the sender's data as it is now, which is what its applied index says.
            message.kind = .snapshot(index: from.appliedIndex, term: from.termAt(from.appliedIndex) ?? from.baseTerm)
        }
        peers[m.to]!.step(message)
        // Install at once, while the sender's data is still what the snapshot says.
        if case .snapshot = message.kind, peers[m.to]!.hasPendingSnapshot { handleReady(of: m.to) }
    }

    /// Copies the leader's region data to a follower, then resets the follower's log to the
    /// snapshot point, with its apply state in the same write.
    private func installSnapshot(_ snapshot: RaftSnapshot, on target: UInt64) {
        guard let source = peers[snapshot.leader], source.appliedIndex == snapshot.index, !source.needsRepair,
              snapshot.index >= peers[target]!.appliedIndex, let leaderView = views[snapshot.leader],
              let sourceStore = stores[source.storeID], let dest = stores[peers[target]!.storeID], let targetView = views[target]
        else { return }  // the sender moved on or cannot give it: another comes
        do {
            // Until the new apply state lands, a crash leaves the range half copied: say so first.
            try RaftStorage(store: dest).saveApplyState(.init(applied: peers[target]!.appliedIndex, region: targetView, tombstone: false, needsRepair: true, peerID: target), sync: true)
            try RegionData.copy(leaderView, from: sourceStore, to: dest)
        } catch {
            // No room: the replica stays marked for repair, and the next snapshot tries again.
            if ResourceExhausted(error) != nil { return }
            panic(store: dest, reason: "cannot install a snapshot of region \(regionID): \(error)")
            return
        }
        views[target] = leaderView
        needsSnapshot.remove(target)
        peers[target]!.restoreSnapshot(snapshot, voters: Self.voterIDs(leaderView), learners: Self.learnerIDs(leaderView))
        handleReady(of: target, apply: .init(applied: snapshot.index, region: leaderView, tombstone: false, peerID: target))
    }

    /// Gives a snapshot to each replica that missed an ingest, once the leader has applied past it.
    /// A leader that missed one hands leadership to a replica that holds everything first.
    private func repairMissedIngests() -> Bool {
        guard !needsSnapshot.isEmpty, let l = leader, let lp = peers[l.id] else { return false }
        if needsSnapshot.contains(l.id) {
            if lp.transferee == nil, let target = peers.keys.sorted().first(where: { $0 != l.id && isLive($0) && !needsSnapshot.contains($0) && lp.voters.contains($0) }) {
                peers[l.id]!.transferLeadership(to: target)
                return true
            }
            return false
        }
        var sent = false
        for id in needsSnapshot.sorted() where id != l.id && isLive(id) && !repairsSent.contains(id) && lp.appliedIndex >= (peers[id]?.appliedIndex ?? 0) {
            peers[l.id]!.sendSnapshot(to: id)
            repairsSent.insert(id)
            sent = true
        }
        return sent
    }

    /// Destroys the replicas that the leader's view no longer lists although it is newer than
    /// theirs (a peer removed by a conf change, which may never learn that itself), as TiKV
    /// collects stale peers. A peer of a newer conf change that the leader has not applied yet
    /// stays.
    private func collectRemovedPeers() -> Bool {
        guard let l = leader, let view = views[l.id] else { return false }
        var removed = false
        for id in peers.keys.sorted() where view.peer(id: id) == nil && !tombstones.contains(id) && isLive(id)
            && (views[id]?.epoch.confVer ?? 0) < view.epoch.confVer {
            tombstone(id)
            removed = true
        }
        return removed
    }

    private func tombstone(_ id: UInt64) {
        guard let view = views[id], let store = stores[peers[id]!.storeID] else { return }
        tombstones.insert(id)
        do {
            try RegionData.destroy(view, on: store)
            try RaftStorage(store: store).saveApplyState(.init(applied: peers[id]!.appliedIndex, region: view, tombstone: true, peerID: id))
            try RaftStorage(store: store).destroyRaftState(region: regionID)
        } catch {
            panic(store: store, reason: "cannot remove the replica of region \(regionID): \(error)")
        }
    }

    /// Applies committed entries (on disk already) in order. An ingest goes to its store's
    /// `IngestWriter` at the end of the round, and the entries after it wait for it.
    private func applyCommitted(_ entries: [RaftEntry], on id: UInt64) {
        for entry in entries {
            guard isLive(id), let peer = peers[id], !peer.applyHeld, entry.index == peer.appliedIndex + 1 else { return }
            switch apply(entry.command, at: entry.index, on: id) {
            case let .done(outcome):
                finishApply(entry, outcome: outcome, on: id)
            case let .ingest(ingestion):
                peers[id]!.applyHeld = true
                ingests.append((id, entry, ingestion))
                return
            case let .held(reason):
                hold(entry, on: id, reason: reason)
                return
            }
        }
    }

    /// Runs this round's ingests, each replica's through its store's writer and all of them side
    /// by side, so that the regions of a store share their ingests; then finishes their applies.
    private func runIngests() async {
        let taken = ingests
        ingests.removeAll()
        let failures = await withTaskGroup(of: (Int, (any Error)?).self) { group in
            for (i, job) in taken.enumerated() {
                group.addTask {
                    do { try await job.ingestion.store.ingestWriter.ingest(job.ingestion) } catch { return (i, error) }
                    return (i, nil)
                }
            }
            var failures: [Int: any Error] = [:]
            for await (i, failure) in group { failures[i] = failure }
            return failures
        }
        for (i, job) in taken.enumerated() {
            guard let failure = failures[i] else {
                peers[job.peer]!.applyHeld = false
                finishApply(job.entry, outcome: .applied, on: job.peer)
                continue
            }
            // A store closing under the round: nothing more applies there.
            if case .closed? = failure as? DatabaseError { continue }
            if let exhausted = ResourceExhausted(failure) {
                hold(job.entry, on: job.peer, reason: exhausted.reason)
                continue
            }
            peers[job.peer]!.applyHeld = false
            let store = job.ingestion.store
            finishApply(job.entry, outcome: panic(store: store, reason: "ingest into region \(regionID) failed on apply: \(failure)"), on: job.peer)
        }
    }

    /// Out of descriptors or disk: nothing was ingested. The entry stays next to apply, and is
    /// tried again once the store may have room; the proposer hears why now.
    private func hold(_ entry: RaftEntry, on id: UInt64, reason: String) {
        guard let peer = peers[id] else { return }
        peers[id]!.applyHeld = true
        holds[id, default: Hold(since: ticks)].since = ticks
        if let waiter = waiters[entry.index], waiter.term == entry.term, peer.isLeader {
            waiters[entry.index] = nil
            waiter.resume.resume(returning: .rejected(.serverIsBusy(storeID: peer.storeID, reason: "cannot apply now: \(reason)", backoffMillis: 500)))
        }
    }

    /// The replica's Raft writes found no room: its Readies wait until the next try, and the
    /// proposals it leads are told to come back later (what they proposed may still commit, and
    /// a retried ingest then finds its files applied).
    private func holdWrites(of id: UInt64, reason: String) {
        guard let peer = peers[id] else { return }
        holds[id, default: Hold(since: ticks)].writes = true
        holds[id]!.since = ticks
        guard peer.isLeader else { return }
        for (index, waiter) in waiters {
            waiters[index] = nil
            waiter.resume.resume(returning: .rejected(.serverIsBusy(storeID: peer.storeID, reason: "cannot write the Raft log: \(reason)", backoffMillis: 1_000)))
        }
    }

    /// Writes the replica's apply state as it is in memory; when there is no room, its applies
    /// wait and the write is tried again (a crash before then replays the entries, which apply
    /// the same way again).
    private func saveApplyState(of id: UInt64) {
        guard !stopped, let peer = peers[id], let store = stores[peer.storeID], store.isUp, let view = views[id], !tombstones.contains(id) else { return }
        do { try RaftStorage(store: store).saveApplyState(.init(applied: peer.appliedIndex, region: view, tombstone: false, needsRepair: needsSnapshot.contains(id), peerID: id)) } catch {
            // A store closing under the group: nothing more is written there.
            if case .closed? = error as? DatabaseError { return }
            if ResourceExhausted(error) != nil {
                peers[id]!.applyHeld = true
                holds[id, default: Hold(since: ticks)].unsavedApplyState = true
                holds[id]!.since = ticks
                return
            }
            panic(store: store, reason: "cannot save the apply state of region \(regionID): \(error)")
        }
    }

    /// Records that the replica applied `entry`, and tells its proposer how.
    private func finishApply(_ entry: RaftEntry, outcome: ApplyOutcome, on id: UInt64) {
        guard peers[id] != nil else { return }
        peers[id]!.applied(entry.index)
        saveApplyState(of: id)
        if let waiter = waiters[entry.index], peers[id]!.isLeader || waiter.term != entry.term {
            waiters[entry.index] = nil
            waiter.resume.resume(returning: waiter.term == entry.term ? outcome : .rejected(.notLeader(regionID: regionID, leader: leader)))
        }
    }

    /// What applying an entry came to: done at once, or an ingest for the store's writer.
    private enum ApplyStep {
        case done(ApplyOutcome)
        case ingest(SSTIngestion)
        /// Not applied: no room to write what it changes; tried again later.
        case held(String)
    }

    private func apply(_ command: RaftCommand, at index: UInt64, on id: UInt64) -> ApplyStep {
        guard let view = views[id], let store = stores[peers[id]!.storeID] else { return .done(.rejected(.regionNotFound(regionID: regionID))) }
        switch command {
        case .noop: return .done(.applied)
        case let .ingest(cmd): return applyIngest(cmd, at: index, view: view, store: store, peer: id)
        case let .split(cmd): return applySplit(cmd, view: view, store: store, on: id)
        case let .changePeer(cmd): return .done(applyChangePeer(cmd, view: view, on: id))
        case let .compactLog(index, _):
            // This replica applied everything through `index`; one at or below its base is stale.
            peers[id]!.compactLog(through: index)
            return .done(.applied)
        }
    }

    private func applySplit(_ cmd: SplitCommand, view: Region, store: Store, on id: UInt64) -> ApplyStep {
        guard cmd.epoch == view.epoch else { return .done(.rejected(.epochNotMatch(regionID: regionID, currentRegions: [view]))) }
        let keys = cmd.splitKeys
        for key in keys where !(compareKeys(key, view.startKey) > 0 && (view.endKey.isEmpty || compareKeys(key, view.endKey) < 0)) {
            return .done(.rejected(.keyNotInRegion(key: key, regionID: regionID, startKey: view.startKey, endKey: view.endKey)))
        }
        var parent = view
        parent.endKey = keys[0]
        parent.epoch.version += UInt64(keys.count)
        var children: [Region] = []
        for (i, ids) in cmd.newRegions.enumerated() {
            let peersOfChild = zip(view.peers, ids.peerIDs).map { PeerMeta(id: $1, storeID: $0.storeID, isLearner: $0.isLearner) }
            children.append(Region(id: ids.regionID, startKey: keys[i], endKey: i + 1 < keys.count ? keys[i + 1] : view.endKey, epoch: parent.epoch, peers: peersOfChild))
        }
        do {
            for child in children {
                try RaftStorage(store: store).saveApplyState(.init(applied: 0, region: child, tombstone: false, peerID: child.peer(onStore: store.id)?.id ?? 0))
            }
        } catch {
            // No room: the split waits, and applies when the children's states can be written.
            if let exhausted = ResourceExhausted(error) { return .held(exhausted.reason) }
            panic(store: store, reason: "cannot save split regions of region \(regionID): \(error)")
        }
        views[id] = parent
        onEvent(.splitApplied(storeID: store.id, parent: parent, children: children))
        return .done(.applied)
    }

    private func applyChangePeer(_ cmd: ChangePeerCommand, view: Region, on id: UInt64) -> ApplyOutcome {
        guard cmd.epoch == view.epoch else { return .rejected(.epochNotMatch(regionID: regionID, currentRegions: [view])) }
        guard let changed = cmd.applied(to: view) else { return .rejected(.staleCommand(regionID: regionID)) }
        views[id] = changed
        peers[id]!.setMembers(voters: Self.voterIDs(changed), learners: Self.learnerIDs(changed))
        switch cmd.change {
        case let .addLearner(meta) where peers[meta.id] == nil:
            var learner = RaftPeer(id: meta.id, storeID: meta.storeID, voters: Self.voterIDs(changed), learners: Self.learnerIDs(changed), seed: regionID &* 31 &+ meta.id)
            // It has no data: entries of the log would find no files, or an epoch that moved on.
            learner.needsRepair = true
            peers[meta.id] = learner
            needsSnapshot.insert(meta.id)
            views[meta.id] = changed
            initialized.insert(meta.id)
        case let .removePeer(removed) where removed == id:
            tombstone(id)
        default: break
        }
        return .applied
    }

    private func applyIngest(_ cmd: IngestCommand, at index: UInt64, view: Region, store: Store, peer: UInt64) -> ApplyStep {
        guard cmd.regionID == view.id, cmd.epoch == view.epoch else {
            return .done(.rejected(.epochNotMatch(regionID: regionID, currentRegions: [view])))
        }
        for file in cmd.files where !(view.contains(file.range.start) && (view.endKey.isEmpty || compareKeys(file.range.end, view.endKey) < 0)) {
            return .done(.rejected(.keyNotInRegion(key: file.range.end, regionID: regionID, startKey: view.startKey, endKey: view.endKey)))
        }
        let storage = RaftStorage(store: store)
        // The apply record enters the DB in the same atomic ingest as the files, so a file with a
        // record is in: this entry applied it before a crash (a replay), or another entry did (a
        // retried proposal, or an earlier batch that held the same file). Only the rest is ingested.
        let recorded: [UInt64?]
        do { recorded = try cmd.files.map { try storage.ingestingEntry(uuid: $0.uuid) } } catch {
            return .done(panic(store: store, reason: "cannot read the ingest records of region \(regionID): \(error)"))
        }
        var fresh = cmd
        fresh.files = zip(cmd.files, recorded).filter { $1 == nil }.map(\.0)
        for (file, entry) in zip(cmd.files, recorded) where entry != nil {
            unlink(SSTIngestion.importPath(of: file, in: cmd, store: store))
        }
        if fresh.files.isEmpty {
            return .done(recorded.contains(index) ? .applied : .rejected(.staleCommand(regionID: regionID)))
        }
        let ingestion = SSTIngestion(store: store, command: fresh, entry: index)
        let paths = ingestion.files
        // A file never received (its store was down while it was downloaded) means this replica
        // lacks the data: a snapshot from the leader repairs it, and it ingests nothing partial.
        guard paths.allSatisfy({ FileManager.default.fileExists(atPath: $0.path) }) else {
            needsSnapshot.insert(peer)
            peers[peer]?.needsRepair = true
            return .done(.rejected(.staleCommand(regionID: regionID)))
        }
        if store.takeFault(\.failApplies) {
            return .done(panic(store: store, reason: "ingest of \(paths[0].path) into region \(regionID) failed on apply (injected fault)"))
        }
        return .ingest(ingestion)
    }

    /// An unrecoverable failure on apply: the store goes down for good, as TiKV panics.
    @discardableResult
    private func panic(store: Store, reason: String) -> ApplyOutcome {
        try? store.setState(.panicked(reason: reason))
        onEvent(.storePanicked(storeID: store.id, reason: reason))
        return .storePanicked(storeID: store.id, reason: reason)
    }
}

/// What a replica waits for: the room or descriptors to apply its next entry (`RaftPeer.applyHeld`),
/// to write its apply state, or to write its Raft log; since which tick.
private struct Hold {
    var since: UInt64
    var writes = false
    var unsavedApplyState = false
}
