import KeyCodec
import ExternalStorage
import ClusterAPI

/// PD's schedulers, as the restore needs them: peers spread over the stores one membership step
/// at a time, and leaders balanced over the stores that hold each region.
extension PlacementDriver {
    /// Spreads peers evenly over the up stores (a peer move bumps conf_ver) and then leaders evenly
    /// over the stores that hold each region's peers.
    public func scatter(_ regionIDs: [UInt64], timeout: Duration = .seconds(10)) async throws(RegionError) {
        let up = stores.values.filter(\.isUp).map(\.id).sorted()
        var peerCount: [UInt64: Int] = Dictionary(uniqueKeysWithValues: up.map { ($0, 0) })
        for region in layout.values { for p in region.peers where peerCount[p.storeID] != nil { peerCount[p.storeID]! += 1 } }
        if up.count > replicas {
            for id in regionIDs {
                guard let region = await refresh(id) else { continue }
                let current = region.peers.map(\.storeID)
                // Move the peer from the fullest store to the emptiest store without one.
                guard let from = current.filter({ peerCount[$0] != nil }).max(by: { peerCount[$0]! < peerCount[$1]! }),
                      let to = up.filter({ !current.contains($0) }).min(by: { peerCount[$0]! < peerCount[$1]! }),
                      peerCount[from]! > peerCount[to]! + 1
                else { continue }
                // A scatter that does not finish is a warning, not a failure.
                guard await movePeer(of: id, from: from, to: to, timeout: timeout) else { continue }
                peerCount[from]! -= 1
                peerCount[to]! += 1
            }
        }
        try await balanceLeaders(regionIDs, timeout: timeout)
        try? persist()
    }

    /// Moves the region's peer on store `from` to store `to` one membership step at a time, as
    /// PD's operators do: add a learner on `to`, wait until its snapshot and the log have caught
    /// it up, promote it, move the leader away from `from` if it is there, remove the old peer.
    /// Returns false when a step did not finish (the region keeps a valid membership).
    func movePeer(of regionID: UInt64, from: UInt64, to: UInt64, timeout: Duration) async -> Bool {
        guard let group = groups[regionID], let region = await refresh(regionID), let old = region.peer(onStore: from), (try? reserveIDs(1)) != nil else { return false }
        let learner = PeerMeta(id: allocID(), storeID: to, isLearner: true)
        guard await changePeer(regionID, .addLearner(learner), timeout: timeout) else { return false }
        let deadline = ContinuousClock.now + timeout
        while await !group.hasCaughtUp(peerID: learner.id) {
            guard ContinuousClock.now < deadline else { return false }
            awake.wake(regionID)
            try? await Task.sleep(for: .milliseconds(5))
        }
        guard await changePeer(regionID, .promoteLearner(peerID: learner.id), timeout: timeout) else { return false }
        if let leader = await group.leader, leader.storeID == from {
            await group.transferLeader(toStore: to)
            awake.wake(regionID)
            guard (try? await waitForLeader(regionID, onStore: to, timeout: timeout)) != nil else { return false }
        }
        return await changePeer(regionID, .removePeer(peerID: old.id), timeout: timeout)
    }

    /// Proposes one membership step through the leader and waits until the leader applied it.
    func changePeer(_ regionID: UInt64, _ change: ChangePeerCommand.Change, timeout: Duration) async -> Bool {
        guard let group = groups[regionID], let leader = try? await waitForLeader(regionID, timeout: timeout), let region = await refresh(regionID) else { return false }
        awake.wake(regionID)
        let outcome = await group.propose(.changePeer(ChangePeerCommand(regionID: regionID, epoch: region.epoch, change: change)), viaStore: leader.storeID, timeout: timeout)
        await refresh(regionID)
        return outcome == .applied
    }

    /// Moves leaders so that each store leads about as many regions as the others: the leaders of
    /// the other regions are counted first, then each of `regionIDs` keeps its leader or moves it to
    /// the peer's store that leads the fewest, greedily. The regions elect and hand over side by
    /// side, as PD's operators run.
    public func balanceLeaders(_ regionIDs: [UInt64], timeout: Duration = .seconds(10)) async throws(RegionError) {
        let moving = Set(regionIDs)
        var leaders: [UInt64: Int] = [:]
        for id in layout.keys where !moving.contains(id) {
            if let l = await groups[id]?.leader { leaders[l.storeID, default: 0] += 1 }
        }
        let elected = await BoundedConcurrency.map(regionIDs) { id in (id, try? await self.waitForLeader(id, timeout: timeout)) }
        let current = Dictionary(elected.compactMap { id, leader in leader.map { (id, $0) } }, uniquingKeysWith: { a, _ in a })
        var moves: [(region: UInt64, to: UInt64)] = []
        for id in regionIDs {
            guard let region = layout[id], let leader = current[id] else { continue }
            let candidates = region.peers.map(\.storeID).filter { stores[$0]?.isUp == true }
            guard let target = candidates.min(by: { leaders[$0, default: 0] < leaders[$1, default: 0] }),
                  leaders[leader.storeID, default: 0] > leaders[target, default: 0]
            else {
                leaders[leader.storeID, default: 0] += 1
                continue
            }
            moves.append((id, target))
            leaders[target, default: 0] += 1
        }
        _ = await BoundedConcurrency.map(moves) { move in try? await self.transferLeader(regionID: move.region, toStore: move.to, timeout: timeout) }
    }

}
