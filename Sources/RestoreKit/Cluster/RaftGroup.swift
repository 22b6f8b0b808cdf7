import Foundation

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
    private let stores: [UInt64: Store]
    private let transport: Transport
    /// The clock's list of groups to tick; the group keeps its own entry right, inside the actor,
    /// so a proposal can never be left asleep by a tick that just finished.
    private let awake: AwakeRegions
    private let onEvent: @Sendable (GroupEvent) -> Void
    private var delayed: [(due: UInt64, message: RaftMessage)] = []
    private var waiters: [UInt64: (term: UInt64, resume: CheckedContinuation<ApplyOutcome, Never>)] = [:]
    private var ticks: UInt64 = 0

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
        let voters = region.peers.map(\.id)
        for meta in region.peers {
            var peer = RaftPeer(id: meta.id, storeID: meta.storeID, voters: voters, seed: region.id &* 31 &+ meta.id)
            var view = region
            if initializedStores.contains(meta.storeID), let store = stores[meta.storeID] {
                let saved = try RaftStorage(store: store).load(region: region.id)
                if let apply = saved.apply {
                    if apply.tombstone { tombstones.insert(meta.id) }
                    view = apply.region
                }
                if let hard = saved.hard {
                    peer.restore(term: hard.term, votedFor: hard.votedFor, baseIndex: hard.baseIndex, baseTerm: hard.baseTerm, log: saved.entries, applied: saved.apply?.applied ?? 0)
                } else {
                    peer.restore(term: 0, votedFor: nil, baseIndex: 0, baseTerm: 0, log: saved.entries, applied: saved.apply?.applied ?? 0)
                }
                peer.setVoters(view.peers.map(\.id))
                initialized.insert(meta.id)
            }
            peers[meta.id] = peer
            views[meta.id] = view
        }
        if let store = campaignOn, let id = region.peer(onStore: store)?.id, initialized.contains(id) {
            peers[id]?.campaign()  // its messages go out at the first tick
        }
    }

    // MARK: queries

    private func isLive(_ id: UInt64) -> Bool {
        guard initialized.contains(id), !tombstones.contains(id), let peer = peers[id] else { return false }
        return stores[peer.storeID]?.isUp ?? false
    }

    /// The live leader, if there is one.
    var leader: PeerMeta? {
        for (id, peer) in peers where peer.isLeader && isLive(id) { return PeerMeta(id: id, storeID: peer.storeID) }
        return nil
    }

    /// The region as its leader sees it, or as the most advanced live replica does.
    var region: Region {
        if let l = leader, let view = views[l.id] { return view }
        let live = peers.keys.filter(isLive).max { (peers[$0]?.appliedIndex ?? 0) < (peers[$1]?.appliedIndex ?? 0) }
        return views[live ?? peers.keys.min()!]!
    }

    func status() -> [PeerStatus] {
        region.peers.compactMap { meta in
            peers[meta.id].map { PeerStatus(peer: meta, isLeader: $0.isLeader && isLive(meta.id), term: $0.term, appliedIndex: $0.appliedIndex, isLive: isLive(meta.id)) }
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
        if !waiters.isEmpty || !delayed.isEmpty { return true }
        guard let l = leader, let lp = peers[l.id] else { return peers.keys.contains(where: isLive) }
        return peers.contains { id, peer in
            isLive(id) && (peer.appliedIndex < lp.commitIndex || (id != l.id && (lp.matchIndex[id] ?? 0) < lp.lastIndex))
        }
    }

    // MARK: commands

    /// Proposes `command` through the peer on `storeID`, which must lead, and waits until that peer
    /// applies it, or `timeout` passes.
    func propose(_ command: RaftCommand, viaStore storeID: UInt64, timeout: Duration) async -> ApplyOutcome {
        guard let meta = region.peer(onStore: storeID) ?? views.values.lazy.compactMap({ $0.peer(onStore: storeID) }).first else {
            return .rejected(.notLeader(regionID: regionID, leader: leader))
        }
        if let store = stores[storeID], !store.isUp { return .rejected(.storeNotAvailable(storeID: storeID, state: store.state)) }
        guard isLive(meta.id), peers[meta.id]?.isLeader == true, let index = peers[meta.id]?.propose(command) else {
            return .rejected(.notLeader(regionID: regionID, leader: leader))
        }
        let term = peers[meta.id]!.term
        let timer = Task { [weak self] in
            try? await Task.sleep(for: timeout)
            await self?.expire(index: index, term: term, after: timeout)
        }
        defer { timer.cancel() }
        return await withCheckedContinuation { continuation in
            waiters[index] = (term, continuation)
            pump()
        }
    }

    private func expire(index: UInt64, term: UInt64, after: Duration) {
        guard let waiter = waiters[index], waiter.term == term else { return }
        waiters[index] = nil
        waiter.resume.resume(returning: .rejected(.timeout(regionID: regionID, after: after)))
    }

    /// Asks the leader to hand over to the peer on `storeID`.
    func transferLeader(toStore storeID: UInt64) {
        guard let l = leader, let target = views[l.id]?.peer(onStore: storeID) else { return }
        peers[l.id]?.transferLeadership(to: target.id)
        pump()
    }

    /// The split parent on `storeID` applied the split, so this region's peer there can start.
    func initializePeer(onStore storeID: UInt64) {
        guard let meta = region.peers.first(where: { $0.storeID == storeID }), !initialized.contains(meta.id) else { return }
        initialized.insert(meta.id)
        pump()
    }

    /// One unit of time: elections and heartbeats. Returns whether the group stays awake.
    func tick() -> Bool {
        ticks += 1
        for id in Array(peers.keys) where isLive(id) { peers[id]!.tick() }
        pump()
        return isAwake
    }

    // MARK: the loop

    /// Persists, delivers and applies until nothing moves; then says whether the clock must tick it.
    private func pump() {
        defer { if isAwake { awake.wake(regionID) } else { awake.sleep(regionID) } }
        for _ in 0..<10_000 {
            var messages: [RaftMessage] = []
            for id in Array(peers.keys) {
                if isLive(id) { persist(id) }
                messages += peers[id]!.takeOutbox().filter { _ in isLive(id) }
            }
            let due = delayed.filter { $0.due <= ticks }
            delayed.removeAll { $0.due <= ticks }
            messages += due.map(\.message)
            var moved = !messages.isEmpty
            for m in messages { deliver(m) }
            for id in Array(peers.keys) where isLive(id) {
                if applyCommitted(id) { moved = true }
            }
            if repairMissedIngests() { moved = true }
            if !moved { return }
        }
    }

    private func persist(_ id: UInt64) {
        guard let store = stores[peers[id]!.storeID] else { return }
        let (hard, from) = peers[id]!.takeUnpersisted()
        guard hard || from != nil else { return }
        let p = peers[id]!
        let entries = from.map { f in (f...p.lastIndex).compactMap { p.entry(at: $0) } } ?? []
        let state = RaftStorage.HardState(term: p.term, votedFor: p.votedFor, baseIndex: p.baseIndex, baseTerm: p.baseTerm)
        do { try RaftStorage(store: store).save(region: regionID, hardState: hard ? state : nil, entries: entries) } catch {
            panic(store: store, reason: "cannot persist the Raft log of region \(regionID): \(error)")
        }
    }

    private func deliver(_ m: RaftMessage) {
        guard let from = peers[m.from], let to = peers[m.to], isLive(m.to) else { return }
        guard let hold = transport.route(from: from.storeID, to: to.storeID) else { return }
        if hold > 0 {
            delayed.append((ticks + UInt64(hold), m))
            return
        }
        if case let .snapshot(index, term) = m.kind {
            installSnapshot(on: m.to, from: m.from, index: index, term: term)
        } else {
            peers[m.to]!.step(m)
        }
    }

    /// Copies the leader's region data to a follower that lacks the log it needs, then resets the
    /// follower's log to the snapshot point.
    private func installSnapshot(on target: UInt64, from leaderID: UInt64, index: UInt64, term: UInt64) {
        guard let leaderView = views[leaderID], let source = stores[peers[leaderID]!.storeID], let dest = stores[peers[target]!.storeID] else { return }
        do {
            try RegionData.copy(leaderView, from: source, to: dest)
            peers[target]!.installSnapshot(index: index, term: term, leader: leaderID)
            peers[target]!.setVoters(leaderView.peers.map(\.id))
            views[target] = leaderView
            persist(target)
            try RaftStorage(store: dest).saveApplyState(.init(applied: index, region: leaderView, tombstone: false))
        } catch {
            panic(store: dest, reason: "cannot install a snapshot of region \(regionID): \(error)")
        }
    }

    /// Gives a snapshot to each replica that missed an ingest, once the leader has applied past it.
    /// A leader that missed one hands leadership to a replica that holds everything first.
    private func repairMissedIngests() -> Bool {
        guard !needsSnapshot.isEmpty, let l = leader, let lp = peers[l.id] else { return false }
        if needsSnapshot.contains(l.id) {
            if lp.transferee == nil, let target = peers.keys.sorted().first(where: { $0 != l.id && isLive($0) && !needsSnapshot.contains($0) }) {
                peers[l.id]!.transferLeadership(to: target)
                return true
            }
            return false
        }
        var repaired = false
        for id in needsSnapshot where id != l.id && isLive(id) && lp.appliedIndex >= (peers[id]?.appliedIndex ?? 0) {
            installSnapshot(on: id, from: l.id, index: lp.appliedIndex, term: lp.termAt(lp.appliedIndex) ?? lp.term)
            needsSnapshot.remove(id)
            peers[id]?.mayLead = true
            repaired = true
        }
        return repaired
    }

    /// Applies what peer `id` has committed; returns whether anything was applied.
    private func applyCommitted(_ id: UInt64) -> Bool {
        var applied = false
        while isLive(id), let peer = peers[id], peer.appliedIndex < peer.commitIndex, let entry = peer.entry(at: peer.appliedIndex + 1) {
            let outcome = apply(entry.command, at: entry.index, on: id)
            peers[id]!.appliedIndex = entry.index
            applied = true
            if let store = stores[peer.storeID], store.isUp, let view = views[id] {
                do { try RaftStorage(store: store).saveApplyState(.init(applied: entry.index, region: view, tombstone: tombstones.contains(id))) } catch {
                    panic(store: store, reason: "cannot save the apply state of region \(regionID): \(error)")
                }
            }
            if let waiter = waiters[entry.index], peer.isLeader || waiter.term != entry.term {
                waiters[entry.index] = nil
                waiter.resume.resume(returning: waiter.term == entry.term ? outcome : .rejected(.notLeader(regionID: regionID, leader: leader)))
            }
        }
        return applied
    }

    private func apply(_ command: RaftCommand, at index: UInt64, on id: UInt64) -> ApplyOutcome {
        guard let view = views[id], let store = stores[peers[id]!.storeID] else { return .rejected(.regionNotFound(regionID: regionID)) }
        switch command {
        case .noop:
            return .applied
        case let .ingest(cmd):
            return applyIngest(cmd, at: index, view: view, store: store, peer: id)
        case let .split(cmd):
            guard cmd.epoch == view.epoch else { return .rejected(.epochNotMatch(regionID: regionID, currentRegions: [view])) }
            let keys = cmd.splitKeys
            for key in keys where !(compareKeys(key, view.startKey) > 0 && (view.endKey.isEmpty || compareKeys(key, view.endKey) < 0)) {
                return .rejected(.keyNotInRegion(key: key, regionID: regionID, startKey: view.startKey, endKey: view.endKey))
            }
            var parent = view
            parent.endKey = keys[0]
            parent.epoch.version += UInt64(keys.count)
            var children: [Region] = []
            for (i, ids) in cmd.newRegions.enumerated() {
                let peersOfChild = zip(view.peers, ids.peerIDs).map { PeerMeta(id: $1, storeID: $0.storeID) }
                children.append(Region(id: ids.regionID, startKey: keys[i], endKey: i + 1 < keys.count ? keys[i + 1] : view.endKey, epoch: parent.epoch, peers: peersOfChild))
            }
            views[id] = parent
            do {
                for child in children { try RaftStorage(store: store).saveApplyState(.init(applied: 0, region: child, tombstone: false)) }
            } catch {
                panic(store: store, reason: "cannot save split regions of region \(regionID): \(error)")
            }
            onEvent(.splitApplied(storeID: store.id, children: children))
            return .applied
        case let .changePeers(cmd):
            guard cmd.epoch == view.epoch else { return .rejected(.epochNotMatch(regionID: regionID, currentRegions: [view])) }
            var changed = view
            changed.peers = cmd.peers
            changed.epoch.confVer += 1
            views[id] = changed
            peers[id]!.setVoters(cmd.peers.map(\.id))
            if !cmd.peers.contains(where: { $0.id == id }) {
                tombstones.insert(id)
                try? RegionData.destroy(view, on: store)
            }
            if peers[id]!.isLeader {
                for meta in cmd.peers where peers[meta.id] == nil {
                    peers[meta.id] = RaftPeer(id: meta.id, storeID: meta.storeID, voters: cmd.peers.map(\.id), seed: regionID &* 31 &+ meta.id)
                    views[meta.id] = changed
                    initialized.insert(meta.id)
                }
            }
            return .applied
        }
    }

    private func applyIngest(_ cmd: IngestCommand, at index: UInt64, view: Region, store: Store, peer: UInt64) -> ApplyOutcome {
        guard cmd.regionID == view.id, cmd.epoch == view.epoch else {
            return .rejected(.epochNotMatch(regionID: regionID, currentRegions: [view]))
        }
        for file in cmd.files where !(view.contains(file.range.start) && (view.endKey.isEmpty || compareKeys(file.range.end, view.endKey) < 0)) {
            return .rejected(.keyNotInRegion(key: file.range.end, regionID: regionID, startKey: view.startKey, endKey: view.endKey))
        }
        let paths = cmd.files.map { (cf: $0.cf, path: store.importDirectory + "/" + $0.fileName(regionID: cmd.regionID, epoch: cmd.epoch)) }
        let storage = RaftStorage(store: store)
        // Each SST records the entry that ingested it. Another entry with the same files (a retry
        // proposed before the first applied) finds them ingested and leaves them alone.
        let ingestedBy = cmd.files.map { storage.ingestingEntry(uuid: $0.uuid) }
        if ingestedBy.allSatisfy({ $0 != nil }), ingestedBy.contains(where: { $0 != index }) {
            for path in paths { unlink(path.path) }
            return .rejected(.staleCommand(regionID: regionID))
        }
        let exists = paths.map { FileManager.default.fileExists(atPath: $0.path) }
        let present = zip(paths, exists).filter(\.1).map(\.0)
        let missing = zip(ingestedBy, exists).filter { !$0.1 }.map(\.0)
        // Files this entry ingested before a crash are gone (moved into RocksDB): the rest is still
        // to ingest. A file gone otherwise, or never received, means this replica lacks the data:
        // a snapshot from the leader repairs it, and it ingests nothing partial meanwhile.
        if missing.contains(where: { $0 != index }) || present.isEmpty {
            if missing.contains(where: { $0 == nil }) {
                needsSnapshot.insert(peer)
                peers[peer]?.mayLead = false
            }
            return .rejected(.staleCommand(regionID: regionID))
        }
        if store.takeFault(\.failApplies) {
            return panic(store: store, reason: "ingest of \(present[0].path) into region \(regionID) failed on apply (injected fault)")
        }
        // The record goes first: after a crash this entry is applied again, and a file still in the
        // import directory is then ingested, while a file that is gone was ingested (moved).
        do { try storage.markIngested(uuids: cmd.files.map(\.uuid), entry: index) } catch {
            return panic(store: store, reason: "cannot record the ingest into region \(regionID): \(error)")
        }
        for cf in ColumnFamily.allCases {
            let files = present.filter { $0.cf == cf }.map(\.path)
            guard !files.isEmpty else { continue }
            do { try store.db.ingest(files, cf: cf, move: true) } catch {
                return panic(store: store, reason: "ingest into region \(regionID) failed on apply: \(error)")
            }
            CrashPoint.ingest.pass()
        }
        return .applied
    }

    /// An unrecoverable failure on apply: the store goes down for good, as TiKV panics.
    @discardableResult
    private func panic(store: Store, reason: String) -> ApplyOutcome {
        try? store.setState(.panicked(reason: reason))
        onEvent(.storePanicked(storeID: store.id, reason: reason))
        return .storePanicked(storeID: store.id, reason: reason)
    }
}
