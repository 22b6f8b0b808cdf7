import Foundation
import SortedCollections
import Failpoints
import KeyCodec
import ExternalStorage
import ClusterAPI

/// A PD-like placement driver: it routes keys to regions through an ordered map of end keys,
/// splits regions (through their Raft logs), scatters peers over stores, balances leaders and
/// persists the region layout in `<cluster>/pd.json` and `pd.log` (`LayoutFiles`).
public actor PlacementDriver {
    private let directory: String
    let stores: [UInt64: Store]
    private let transport: Transport
    nonisolated let awake: AwakeRegions
    let replicas: Int
    var groups: [UInt64: RaftGroup] = [:]
    /// End key -> region id; the region holding a key is the first one that ends after it.
    private var routing = SortedSet<RoutingKey>()
    private var routeIDs: [RoutingKey: UInt64] = [:]
    var layout: [UInt64: Region] = [:]
    private var nextID: UInt64 = 1
    /// Ids below this are reserved on disk (`pd-ids`): a split proposed, durable in a Raft log
    /// and not yet applied when the process dies never has its ids handed out again, as PD's
    /// allocator reserves a batch of ids in etcd before it gives any out (pd pkg/id/id.go).
    private var reservedThrough: UInt64 = 1
    private var isShutDown = false
    static let idBatch: UInt64 = 1_000
    private var layoutFiles: LayoutFiles
    /// Regions whose layout changed since the last `persist`.
    private var changedSincePersist = Set<UInt64>()

    init(directory: String, stores: [UInt64: Store], transport: Transport, awake: AwakeRegions, replicas: Int) {
        self.directory = directory
        layoutFiles = LayoutFiles(directory: directory)
        self.stores = stores
        self.transport = transport
        self.awake = awake
        self.replicas = replicas
    }

    /// Creates the first region, covering every key, on the first `replicas` stores.
    func bootstrap() throws(ClusterError) {
        let storeIDs = stores.keys.sorted().prefix(replicas)
        try reserveIDs(UInt64(storeIDs.count + 1))
        let region = Region(id: allocID(), startKey: [], endKey: [], epoch: RegionEpoch(), peers: storeIDs.map { PeerMeta(id: allocID(), storeID: $0) })
        for store in storeIDs {
            do { try stores[store]!.raftState.saveApplyState(.init(applied: 0, region: region, tombstone: false, peerID: region.peer(onStore: store)?.id ?? 0)) } catch {
                throw .io(path: stores[store]!.directory, reason: "cannot write region state: \(error)")
            }
        }
        try register(region, initializedStores: Set(storeIDs), campaignOn: storeIDs.first)
        try persist()
    }

    /// Loads the layout written by `persist` and restarts every region's group from its stores.
    func load() throws(ClusterError) {
        let (savedNextID, saved) = try layoutFiles.read()
        // The stores' own views win where they are newer: a crash can land between a split that
        // the replicas applied and the layout file that records its new regions.
        let savedByID = Dictionary(saved.map { ($0.id, $0) }) { a, _ in a }
        var regions = savedByID
        for store in stores.values {
            let views: [Region]
            do { views = try store.raftState.regionViews() } catch {
                throw .io(path: store.directory, reason: "cannot read region states: \(error)")
            }
            for view in views {
                if let known = regions[view.id], (known.epoch.version, known.epoch.confVer) >= (view.epoch.version, view.epoch.confVer) { continue }
                regions[view.id] = view
            }
        }
        let usedIDs = regions.values.flatMap { [$0.id] + $0.peers.map(\.id) }
        reservedThrough = try Self.readReservation(at: idsPath)
        nextID = max(savedNextID, (usedIDs.max() ?? 0) + 1, reservedThrough)
        for region in regions.values.sorted(by: { $0.id < $1.id }) {
            var holders = Set<UInt64>()
            for peer in region.peers {
                // The apply state alone: the group loads (and checks) the log once, when it starts.
                let apply: RaftApplyState?
                do { apply = try stores[peer.storeID]!.raftState.applyState(region: region.id) } catch {
                    throw .corruptMetadata(path: stores[peer.storeID]!.directory + "/db", reason: "\(error)")
                }
                if let apply, apply.belongs(to: peer.id) { holders.insert(peer.storeID) }
            }
            try register(region, initializedStores: holders, campaignOn: nil)
        }
        // What the files hold needs no saving again: only the stores' newer views do.
        changedSincePersist = Set(layout.keys.filter { layout[$0] != savedByID[$0] })
    }

    /// The layout that `persist` wrote: the next id and the regions.
    static func readLayout(directory: String) throws(ClusterError) -> (nextID: UInt64, regions: [Region]) {
        var files = LayoutFiles(directory: directory)
        return try files.read()
    }

    var idsPath: String { directory + "/pd-ids" }

    /// Makes sure the next `count` ids are reserved on disk, reserving a new batch (written,
    /// synced and renamed into place) when they are not.
    func reserveIDs(_ count: UInt64) throws(ClusterError) {
        guard nextID + count > reservedThrough else { return }
        let through = nextID + count + Self.idBatch
        do { try DurableFile.replace(idsPath, with: Array("\(through)\n".utf8)) } catch {
            throw .io(path: idsPath, reason: "cannot reserve ids: \(error)")
        }
        reservedThrough = through
    }

    /// The reservation on disk; 1 for a cluster written before there was one.
    static func readReservation(at path: String) throws(ClusterError) -> UInt64 {
        guard let data = FileManager.default.contents(atPath: path) else { return 1 }
        guard let through = UInt64(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw .corruptMetadata(path: path, reason: "not an id")
        }
        return through
    }

    /// Saves the regions changed since the last call (`LayoutFiles`).
    func persist() throws(ClusterError) {
        let changed = changedSincePersist.sorted().compactMap { layout[$0] }
        try layoutFiles.save(nextID: nextID, changed: changed, count: layout.count) { layout.values.sorted { $0.id < $1.id } }
        changedSincePersist.removeAll()
    }

    private func register(_ region: Region, initializedStores: Set<UInt64>, campaignOn: UInt64?) throws(ClusterError) {
        guard !isShutDown else { return }
        if groups[region.id] == nil {
            let events: @Sendable (GroupEvent) -> Void = { [weak self] event in
                Task { await self?.handle(event) }
            }
            let group: RaftGroup
            do {
                group = try RaftGroup(region: region, stores: stores, transport: transport, awake: awake, initializedStores: initializedStores, campaignOn: campaignOn, onEvent: events)
            } catch {
                throw .io(path: directory, reason: "cannot load region \(region.id): \(error)")
            }
            groups[region.id] = group
            awake.register(group)
        }
        setLayout(region)
        awake.wake(region.id)
    }

    /// Records a region's layout. A view older than the one known (a new leader that has not yet
    /// applied a split it committed, say) never replaces it, as PD ignores stale heartbeats: it
    /// would route the children's keys back to the parent.
    func setLayout(_ region: Region) {
        if let old = layout[region.id] {
            guard (region.epoch.version, region.epoch.confVer) >= (old.epoch.version, old.epoch.confVer) else { return }
            let key = RoutingKey(end: old.endKey)
            if routeIDs[key] == region.id {
                routing.remove(key)
                routeIDs[key] = nil
            }
        }
        layout[region.id] = region
        changedSincePersist.insert(region.id)
        let key = RoutingKey(end: region.endKey)
        routing.insert(key)
        routeIDs[key] = region.id
    }

    private func handle(_ event: GroupEvent) async {
        switch event {
        case let .splitApplied(storeID, parent, children):
            // The routing follows the split as soon as a replica applied it, whoever proposed it
            // and whether or not the proposal is still waited for (it may have timed out).
            setLayout(parent)
            for child in children {
                if let group = groups[child.id] {
                    await group.initializePeer(onStore: storeID)
                    awake.wake(child.id)
                } else {
                    // The first replica to apply a split is, almost always, the parent's leader's.
                    try? register(child, initializedStores: [storeID], campaignOn: storeID)
                }
            }
        case .storePanicked:
            break  // the store's state is persisted by the store itself; routing is unchanged
        }
    }

    /// Stops every group and waits for the rounds they are in, so that nothing the driver started
    /// touches a store after it returns; a split's event that arrives later registers nothing.
    func shutdown() async {
        isShutDown = true
        for group in groups.values { await group.stop() }
        groups.removeAll()
    }

    func allocID() -> UInt64 {
        defer { nextID += 1 }
        return nextID
    }

    // MARK: routing

    /// The region holding `key` (an encoded key without `z`).
    public func region(containing key: [UInt8]) -> Region? {
        guard let end = routing[RoutingKey.after(key)...].first, let id = routeIDs[end] else { return nil }
        return layout[id]
    }

    public func region(id: UInt64) -> Region? { layout[id] }

    /// The regions that overlap `range`, in key order.
    public func regions(overlapping range: KeyRange) -> [Region] {
        var out: [Region] = []
        for end in routing[RoutingKey.after(range.start)...] {
            guard let region = routeIDs[end].flatMap({ layout[$0] }) else { continue }
            if !range.end.isEmpty, compareKeys(region.startKey, range.end) >= (range.endInclusive ? 1 : 0) { break }
            out.append(region)
        }
        return out
    }

    public var allRegions: [Region] { routing.compactMap { routeIDs[$0].flatMap { layout[$0] } } }

    public var regionCount: Int { layout.count }

    /// Wakes every region's group, so that each replica catches up with what its leader has.
    public func wakeEveryRegion() {
        for id in layout.keys { awake.wake(id) }
    }

    func group(_ id: UInt64) -> RaftGroup? { groups[id] }

    /// The current leader of a region, if it has a live one.
    public func leader(of regionID: UInt64) async -> PeerMeta? {
        await groups[regionID]?.leader
    }

    public func peerStatus(of regionID: UInt64) async -> [PeerStatus] {
        await groups[regionID]?.status() ?? []
    }

    /// Refreshes the layout from a region's group (after its epoch changed).
    @discardableResult
    public func refresh(_ regionID: UInt64) async -> Region? {
        guard let group = groups[regionID] else { return nil }
        setLayout(await group.region)
        return layout[regionID]
    }

    // MARK: operations

    /// Splits region `regionID` at `keys` (inside it) through its Raft log. Each split bumps the
    /// region's version; the new regions keep the peers' stores and the leader's store.
    public func split(regionID: UInt64, at keys: [[UInt8]], timeout: Duration = .seconds(10)) async throws(RegionError) -> [Region] {
        defer { try? persist() }
        return try await splitWithoutPersisting(regionID: regionID, at: keys, timeout: timeout)
    }

    /// `split`, leaving the layout's file as it was: the stores' apply states hold every region a
    /// split made (and the ids it used), so the file may be written once after many splits. It is
    /// the whole layout, and writing it after each of thousands of splits cost more than the splits.
    private func splitWithoutPersisting(regionID: UInt64, at keys: [[UInt8]], timeout: Duration) async throws(RegionError) -> [Region] {
        guard let group = groups[regionID], var region = layout[regionID] else { throw .regionNotFound(regionID: regionID) }
        region = await refresh(regionID) ?? region
        let inside = keys.filter { compareKeys($0, region.startKey) > 0 && (region.endKey.isEmpty || compareKeys($0, region.endKey) < 0) }
        let sorted = Array(Set(inside.map { RoutingKey(end: $0) })).sorted().map(\.bytes)
        guard !sorted.isEmpty else { return [region] }
        let leader = try await waitForLeader(regionID, timeout: timeout)
        do { try reserveIDs(UInt64(sorted.count * (region.peers.count + 1))) } catch {
            throw .serverIsBusy(storeID: leader.storeID, reason: "\(error)", backoffMillis: 1_000)
        }
        let newRegions = sorted.map { _ in SplitCommand.NewRegionIDs(regionID: allocID(), peerIDs: region.peers.map { _ in allocID() }) }
        let command = SplitCommand(regionID: regionID, epoch: region.epoch, splitKeys: sorted, newRegions: newRegions)
        awake.wake(regionID)
        let outcome = await group.propose(.split(command), viaStore: leader.storeID, timeout: timeout)
        switch outcome {
        case .applied: break
        case let .rejected(error): throw error
        case let .storePanicked(store, reason): throw .storeNotAvailable(storeID: store, state: .panicked(reason: reason))
        }
        let parent = await refresh(regionID) ?? region
        var result = [parent]
        for (i, ids) in newRegions.enumerated() {
            let child = Region(
                id: ids.regionID, startKey: sorted[i], endKey: i + 1 < sorted.count ? sorted[i + 1] : region.endKey,
                epoch: parent.epoch, peers: zip(region.peers, ids.peerIDs).map { PeerMeta(id: $1, storeID: $0.storeID, isLearner: $0.isLearner) })
            let applied = await group.stores(withVersionAtLeast: parent.epoch.version)
            try? register(child, initializedStores: applied.intersection([leader.storeID]), campaignOn: leader.storeID)
            for store in applied where store != leader.storeID { await groups[child.id]?.initializePeer(onStore: store) }
            result.append(child)
            CrashPoint.split.pass()
        }
        return result
    }

    /// Splits whichever regions hold `keys`, so that every key becomes a region boundary.
    public func splitAt(_ keys: [[UInt8]], timeout: Duration = .seconds(10)) async throws(RegionError) -> [Region] {
        var byRegion: [UInt64: [[UInt8]]] = [:]
        for key in keys {
            if let r = region(containing: key), r.startKey != key { byRegion[r.id, default: []].append(key) }
        }
        defer { try? persist() }
        // Parents side by side: their Raft writes share each store's group commit.
        let parents = byRegion.sorted { $0.key < $1.key }
        let splits = await BoundedConcurrency.map(Array(parents.indices)) { i -> (Int, Result<[Region], RegionError>) in
            let (id, regionKeys) = parents[i]
            do throws(RegionError) { return (i, .success(try await self.splitWithoutPersisting(regionID: id, at: regionKeys, timeout: timeout))) } catch { return (i, .failure(error)) }
        }
        var created: [Region] = []
        for (_, split) in splits.sorted(by: { $0.0 < $1.0 }) { created += try split.get().dropFirst() }
        return created
    }

    public func transferLeader(regionID: UInt64, toStore storeID: UInt64, timeout: Duration = .seconds(5)) async throws(RegionError) {
        guard let group = groups[regionID] else { throw .regionNotFound(regionID: regionID) }
        await group.transferLeader(toStore: storeID)
        awake.wake(regionID)
        _ = try await waitForLeader(regionID, onStore: storeID, timeout: timeout)
    }

    /// Waits until the region has a live leader (on `store`, if given): the group answers when a
    /// round of its Raft traffic ends with one.
    public func waitForLeader(_ regionID: UInt64, onStore store: UInt64? = nil, timeout: Duration = .seconds(5)) async throws(RegionError) -> PeerMeta {
        guard let group = groups[regionID] else { throw .regionNotFound(regionID: regionID) }
        awake.wake(regionID)
        guard let leader = await group.awaitLeader(onStore: store, timeout: timeout) else { throw .timeout(regionID: regionID, after: timeout) }
        return leader
    }

    /// A read barrier: a Raft read index through the leader (`RaftReads`, as TiKV's ReadIndex),
    /// which writes nothing. Returns that leader, whose store then holds everything the region
    /// committed before (a new leader may not have applied all it committed; a follower may lag).
    public func readBarrier(_ regionID: UInt64, timeout: Duration = .seconds(10)) async throws(RegionError) -> PeerMeta {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let leader = try await waitForLeader(regionID, timeout: deadline - ContinuousClock.now)
            guard let group = groups[regionID] else { throw .regionNotFound(regionID: regionID) }
            awake.wake(regionID)
            if await group.readIndex(viaStore: leader.storeID, timeout: min(.seconds(2), deadline - ContinuousClock.now)) == .applied {
                return leader
            }
        }
        throw .timeout(regionID: regionID, after: timeout)
    }

    /// Per store, the import files that committed but unapplied ingests still need. `wake`: the
    /// regions that have such ingests are woken, so that their leaders tell the followers what
    /// committed (waking every region of a large cluster at once costs a Raft round and its
    /// buffers in each).
    public func pendingIngestFiles(wakingTheirRegions wake: Bool = false) async -> [UInt64: Set<String>] {
        var out: [UInt64: Set<String>] = [:]
        for (id, group) in groups {
            let pending = await group.pendingIngestFiles()
            if wake, !pending.isEmpty { awake.wake(id) }
            for (store, names) in pending { out[store, default: []].formUnion(names) }
        }
        return out
    }

    /// Wakes every region with a peer on `storeID`, so that they notice it went down or came back.
    func wakeRegions(onStore storeID: UInt64) {
        for region in layout.values where region.peer(onStore: storeID) != nil { awake.wake(region.id) }
    }
}
