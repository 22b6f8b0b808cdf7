import Foundation
import KeyCodec
import ClusterAPI

/// What a round does besides Readies and messages: snapshots for replicas that miss data, the
/// removal of replicas a conf change left behind, and the leader's log compaction.
extension RaftGroup {
    /// Copies the leader's region data to a follower, then resets the follower's log to the
    /// snapshot point, with its apply state in the same write.
    func installSnapshot(_ snapshot: RaftSnapshot, on target: UInt64) {
        guard let sourceReplica = replicas[snapshot.leader], let targetReplica = replicas[target] else { return }
        let source = sourceReplica.peer, leaderView = sourceReplica.view
        guard source.appliedIndex == snapshot.index, !source.needsRepair, snapshot.index >= targetReplica.peer.appliedIndex,
              let sourceStore = store(ofPeer: snapshot.leader), let dest = store(ofPeer: target)
        else { return }  // the sender moved on or cannot give it: another comes
        do {
            // Until the new apply state lands, a crash leaves the range half copied: say so first.
            try dest.raftState.saveApplyState(
                .init(applied: targetReplica.peer.appliedIndex, region: targetReplica.view, tombstone: false, needsRepair: true, peerID: target), sync: true)
            try RegionData.copy(leaderView, from: sourceStore, to: dest)
        } catch {
            // No room: the replica stays marked for repair, and the next snapshot tries again.
            if ResourceExhausted(error) != nil { return }
            panic(store: dest, reason: "cannot install a snapshot of region \(regionID): \(error)")
            return
        }
        replicas[target]!.view = leaderView
        replicas[target]!.needsSnapshot = false
        replicas[target]!.peer.restoreSnapshot(snapshot, voters: Self.voterIDs(leaderView), learners: Self.learnerIDs(leaderView))
        handleReady(of: target, apply: .init(applied: snapshot.index, region: leaderView, tombstone: false, peerID: target))
    }

    /// Gives a snapshot to each replica that missed an ingest, once the leader has applied past it.
    /// A leader that missed one hands leadership to a replica that holds everything first.
    func repairMissedIngests() -> Bool {
        guard replicas.contains(where: { replicas[$0]!.needsSnapshot }), let l = leader, let lp = replicas[l.id]?.peer else { return false }
        let ids = replicas.keys.sorted()
        if replicas[l.id]!.needsSnapshot {
            if lp.transferee == nil, let target = ids.first(where: { $0 != l.id && isLive($0) && !replicas[$0]!.needsSnapshot && lp.voters.contains($0) }) {
                replicas[l.id]!.peer.transferLeadership(to: target)
                return true
            }
            return false
        }
        var sent = false
        for id in ids {
            let replica = replicas[id]!
            guard replica.needsSnapshot, id != l.id, isLive(id), !replica.repairSent, lp.appliedIndex >= replica.peer.appliedIndex else { continue }
            replicas[l.id]!.peer.sendSnapshot(to: id)
            replicas[id]!.repairSent = true
            sent = true
        }
        return sent
    }

    /// Destroys the replicas that the leader's view no longer lists although it is newer than
    /// theirs (a peer removed by a conf change, which may never learn that itself), as TiKV
    /// collects stale peers. A peer of a newer conf change that the leader has not applied yet
    /// stays.
    func collectRemovedPeers() -> Bool {
        guard let l = leader, let view = replicas[l.id]?.view else { return false }
        var removed = false
        for id in replicas.keys.sorted() where view.peer(id: id) == nil && !replicas[id]!.tombstoned && isLive(id)
            && replicas[id]!.view.epoch.confVer < view.epoch.confVer {
            tombstone(id)
            removed = true
        }
        return removed
    }

    func tombstone(_ id: UInt64) {
        guard let replica = replicas[id], let store = store(ofPeer: id) else { return }
        replicas[id]!.tombstoned = true
        do {
            try RegionData.destroy(replica.view, on: store)
            try store.raftState.saveApplyState(.init(applied: replica.peer.appliedIndex, region: replica.view, tombstone: true, peerID: id))
            try store.raftState.destroyRaftState(region: regionID)
        } catch {
            panic(store: store, reason: "cannot remove the replica of region \(regionID): \(error)")
        }
    }

    /// Proposes a CompactLog on the leader, as TiKV's leader decides on its raft-log-gc tick
    /// (tikv components/raftstore/src/store/fsm/peer.rs `on_raft_gc_log_tick`): through the index
    /// that every replica holds, once `RaftLogGC.threshold` entries are there; and once the leader
    /// applied `RaftLogGC.countLimit` entries past its base, through at least the middle of its log,
    /// whoever lags (a replica on a down store then gets a snapshot when it comes back).
    func proposeLogCompaction() -> Bool {
        // Read in place: asked on every round of every awake region.
        guard let l = leader, let (target, term) = replicas[l.id]?.peer.logCompactionTarget() else { return false }
        let leaderTerm = replicas[l.id]!.peer.term
        if let last = replicas[l.id]!.lastCompaction, last.term == leaderTerm, last.index >= target { return false }
        guard replicas[l.id]!.peer.propose(.compactLog(index: target, term: term)) != nil else { return false }
        replicas[l.id]!.lastCompaction = (leaderTerm, target)
        return true
    }
}

extension RaftPeer {
    /// The index (and its term) a leader's log may be compacted through, by the rules of
    /// `RaftGroup.proposeLogCompaction`; nil when not yet.
    func logCompactionTarget() -> (index: UInt64, term: UInt64)? {
        guard transferee == nil else { return nil }
        let first = baseIndex + 1, last = lastIndex
        // What every replica holds: the least of their match indexes (this leader's own: what it
        // persisted).
        var least: UInt64?
        func note(_ peer: UInt64) {
            let held = peer == id ? stableIndex : matchIndex(of: peer) ?? 0
            least = min(least ?? held, held)
        }
        voters.forEach(note)
        learners.forEach(note)
        let replicated = least ?? 0
        var target: UInt64
        if appliedIndex >= first, appliedIndex - first >= RaftLogGC.countLimit {
            target = max(first + (last - first) / 2, replicated)
        } else if replicated >= first, last - first >= 3, replicated - first >= RaftLogGC.threshold {
            target = replicated
        } else {
            return nil
        }
        target = min(target, appliedIndex, stableIndex)
        guard target >= first, let term = termAt(target) else { return nil }
        return (target, term)
    }
}
