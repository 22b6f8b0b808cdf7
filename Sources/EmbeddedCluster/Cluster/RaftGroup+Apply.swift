import Foundation
import KeyCodec
import ClusterAPI

/// Applying committed entries: in order, each on disk already, re-checking epoch and range, with
/// the applied index saved beside the data. Ingests go to their stores' `IngestWriter`s at the
/// end of the round; what finds no room or descriptors waits and is tried again.
extension RaftGroup {
    /// Applies committed entries (on disk already) in order. An ingest goes to its store's
    /// `IngestWriter` at the end of the round, and the entries after it wait for it.
    func applyCommitted(_ entries: [RaftEntry], on id: UInt64) {
        for entry in entries {
            guard isLive(id), let peer = replicas[id]?.peer, !peer.applyHeld, entry.index == peer.appliedIndex + 1 else { return }
            switch apply(entry.command, at: entry.index, on: id) {
            case let .done(outcome):
                finishApply(entry, outcome: outcome, on: id)
            case let .ingest(ingestion):
                replicas[id]!.peer.applyHeld = true
                mail.ingests.append((id, entry, ingestion))
                return
            case let .held(reason):
                hold(entry, on: id, reason: reason)
                return
            }
        }
    }

    /// Runs this round's ingests, each replica's through its store's writer and all of them side
    /// by side, so that the regions of a store share their ingests; then finishes their applies.
    func runIngests() async {
        let taken = mail.takeIngests()
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
                replicas[job.peer]!.peer.applyHeld = false
                finishApply(job.entry, outcome: .applied, on: job.peer)
                continue
            }
            // A store closing under the round: nothing more applies there.
            if case .closed? = failure as? DatabaseError { continue }
            if let exhausted = ResourceExhausted(failure) {
                hold(job.entry, on: job.peer, reason: exhausted.reason)
                continue
            }
            replicas[job.peer]!.peer.applyHeld = false
            let store = job.ingestion.store
            finishApply(job.entry, outcome: panic(store: store, reason: "ingest into region \(regionID) failed on apply: \(failure)"), on: job.peer)
        }
    }

    /// Starts or restarts the replica's hold at this tick.
    private func startHold(of id: UInt64, _ change: (inout Hold) -> Void) {
        var hold = replicas[id]!.hold ?? Hold(since: pumpState.ticks)
        hold.since = pumpState.ticks
        change(&hold)
        replicas[id]!.hold = hold
    }

    /// Out of descriptors or disk: nothing was ingested. The entry stays next to apply, and is
    /// tried again once the store may have room; the proposer hears why now.
    private func hold(_ entry: RaftEntry, on id: UInt64, reason: String) {
        guard let peer = replicas[id]?.peer else { return }
        replicas[id]!.peer.applyHeld = true
        startHold(of: id) { _ in }
        if let waiter = proposals.waiter(at: entry.index), waiter.term == entry.term, peer.isLeader {
            _ = proposals.take(at: entry.index)
            waiter.resume.resume(returning: .rejected(.serverIsBusy(storeID: peer.storeID, reason: "cannot apply now: \(reason)", backoffMillis: 500)))
        }
    }

    /// The replica's Raft writes found no room: its Readies wait until the next try, and the
    /// proposals it leads are told to come back later (what they proposed may still commit, and
    /// a retried ingest then finds its files applied).
    func holdWrites(of id: UInt64, reason: String) {
        guard let peer = replicas[id]?.peer else { return }
        startHold(of: id) { $0.writes = true }
        guard peer.isLeader else { return }
        for waiter in proposals.takeAll() {
            waiter.resume.resume(returning: .rejected(.serverIsBusy(storeID: peer.storeID, reason: "cannot write the Raft log: \(reason)", backoffMillis: 1_000)))
        }
    }

    /// Writes the replica's apply state as it is in memory; when there is no room, its applies
    /// wait and the write is tried again (a crash before then replays the entries, which apply
    /// the same way again).
    func saveApplyState(of id: UInt64) {
        guard !pumpState.stopped, let store = store(ofPeer: id), store.isUp, replicas[id]?.tombstoned == false else { return }
        let state = RaftApplyState(
            applied: replicas[id]!.peer.appliedIndex, region: replicas[id]!.view, tombstone: false, needsRepair: replicas[id]!.needsSnapshot, peerID: id)
        do { try store.raftState.saveApplyState(state) } catch {
            // A store closing under the group: nothing more is written there.
            if case .closed? = error as? DatabaseError { return }
            if ResourceExhausted(error) != nil {
                replicas[id]!.peer.applyHeld = true
                startHold(of: id) { $0.unsavedApplyState = true }
                return
            }
            panic(store: store, reason: "cannot save the apply state of region \(regionID): \(error)")
        }
    }

    /// Records that the replica applied `entry`, and tells its proposer how.
    private func finishApply(_ entry: RaftEntry, outcome: ApplyOutcome, on id: UInt64) {
        guard replicas[id] != nil else { return }
        replicas[id]!.peer.applied(entry.index)
        // A leader's empty entry changes nothing but the applied index: replayed after a crash,
        // it applies the same way, so its state waits for the next entry's write. Each child of
        // a split elects a leader, and this write on its three replicas was a tenth of a split
        // and scatter's CPU. (TiKV too lets the apply state lag across a crash: it writes it with
        // the apply round's unsynced batch, components/raftstore/src/store/fsm/apply.rs `finish_for`.)
        if entry.command != .noop { saveApplyState(of: id) }
        if let waiter = proposals.waiter(at: entry.index), replicas[id]!.peer.isLeader || waiter.term != entry.term {
            _ = proposals.take(at: entry.index)
            waiter.resume.resume(returning: waiter.term == entry.term ? outcome : .rejected(.notLeader(regionID: regionID, leader: leader)))
        }
    }

    private func apply(_ command: RaftCommand, at index: UInt64, on id: UInt64) -> ApplyStep {
        guard let view = replicas[id]?.view, let store = store(ofPeer: id) else { return .done(.rejected(.regionNotFound(regionID: regionID))) }
        switch command {
        case .noop: return .done(.applied)
        case let .ingest(cmd): return applyIngest(cmd, at: index, view: view, store: store, peer: id)
        case let .split(cmd): return applySplit(cmd, view: view, store: store, on: id)
        case let .changePeer(cmd): return .done(applyChangePeer(cmd, view: view, on: id))
        case let .compactLog(index, _):
            // This replica applied everything through `index`; one at or below its base is stale.
            replicas[id]!.peer.compactLog(through: index)
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
            try store.raftState.saveApplyStates(
                children.map { .init(applied: 0, region: $0, tombstone: false, peerID: $0.peer(onStore: store.id)?.id ?? 0) }, sync: false)
        } catch {
            // No room: the split waits, and applies when the children's states can be written.
            if let exhausted = ResourceExhausted(error) { return .held(exhausted.reason) }
            panic(store: store, reason: "cannot save split regions of region \(regionID): \(error)")
        }
        replicas[id]!.view = parent
        context.onEvent(.splitApplied(storeID: store.id, parent: parent, children: children))
        return .done(.applied)
    }

    private func applyChangePeer(_ cmd: ChangePeerCommand, view: Region, on id: UInt64) -> ApplyOutcome {
        guard cmd.epoch == view.epoch else { return .rejected(.epochNotMatch(regionID: regionID, currentRegions: [view])) }
        guard let changed = cmd.applied(to: view) else { return .rejected(.staleCommand(regionID: regionID)) }
        replicas[id]!.view = changed
        replicas[id]!.peer.setMembers(voters: Self.voterIDs(changed), learners: Self.learnerIDs(changed))
        switch cmd.change {
        case let .addLearner(meta) where replicas[meta.id] == nil:
            let peer = RaftPeer(id: meta.id, storeID: meta.storeID, voters: Self.voterIDs(changed), learners: Self.learnerIDs(changed), seed: regionID)
            // It has no data: entries of the log would find no files, or an epoch that moved on.
            var learner = Replica(peer: peer, view: changed, initialized: true)
            learner.markForRepair()
            replicas[meta.id] = learner
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
        let records = store.records
        // The apply record enters the DB in the same atomic ingest as the files, so a file with a
        // record is in: this entry applied it before a crash (a replay), or another entry did (a
        // retried proposal, or an earlier batch that held the same file). Only the rest is ingested.
        let recorded: [UInt64?]
        do { recorded = try cmd.files.map { try records.ingestingEntry(uuid: $0.uuid) } } catch {
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
            replicas[peer]?.markForRepair()
            return .done(.rejected(.staleCommand(regionID: regionID)))
        }
        if store.faults.fire(\.failApplies) {
            return .done(panic(store: store, reason: "ingest of \(paths[0].path) into region \(regionID) failed on apply (injected fault)"))
        }
        return .ingest(ingestion)
    }
}

/// What applying an entry came to: done at once, or an ingest for the store's writer.
private enum ApplyStep {
    case done(ApplyOutcome)
    case ingest(SSTIngestion)
    /// Not applied: no room to write what it changes; tried again later.
    case held(String)
}
