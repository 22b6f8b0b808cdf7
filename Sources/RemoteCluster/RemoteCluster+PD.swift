import Foundation
import GRPCCore
import KeyCodec
import ExternalStorage
import ClusterAPI
import KVProto
import KVProtoGRPC
import KVWire

/// PD's side: regions, their leaders, split (on the leader's store) and scatter.
extension RemoteCluster {
    /// ScanRegions from `range.start`, one page; with the leader of each region.
    func scan(_ range: KeyRange, limit: Int32) async throws -> [Route] {
        var request = Pdpb_ScanRegionsRequest()
        request.header = header
        request.startKey = Data(range.start)
        request.endKey = Data(range.end)
        request.limit = limit
        let response = try await pd.call { try await $0.scanRegions(request, options: WireConnection.options(timeout: timeouts.pd)) }
        try Self.check(response.header, from: "PD ScanRegions")
        // Newer PDs fill `regions`; older ones only `region_metas` with `leaders` beside them.
        let found = response.regions.isEmpty
            ? response.regionMetas.enumerated().map { i, meta in Route(meta, leader: i < response.leaders.count ? response.leaders[i] : nil) }
            : response.regions.map { entry in
                var route = Route(entry.region, leader: entry.hasLeader ? entry.leader : nil)
                route.pendingPeers = entry.pendingPeers.count
                return route
            }
        remember(found)
        return found
    }

    func remember(_ found: [Route]) {
        routes.withLock { routes in for route in found { routes[route.region.id] = route } }
    }

    /// ScanRegions, paged, until the end of `range`, with no hole: a page that does not start
    /// where the last region ended is read again (PD may be mid-split or electing), a few times.
    /// What comes back covers a prefix of the range; the driver queues again what no region
    /// covered (`RestoreEngine.requeueUncovered`).
    public func regions(overlapping range: KeyRange) async -> [Region] {
        await routes(overlapping: range, page: 128).map(\.region)
    }

    /// The routes of the regions that overlap `range`, as `regions(overlapping:)` reads them.
    func routes(overlapping range: KeyRange, page limit: Int32) async -> [Route] {
        let end = range.endInclusive && !range.end.isEmpty ? Self.after(range.end) : range.end
        var out: [Route] = []
        var start = range.start
        var holes = 0
        while true {
            guard let page = try? await retrying({ try await scan(KeyRange(start: start, end: end), limit: limit) }), let first = page.first else { break }
            // The first region must hold `start`, and each must begin where the one before ended.
            let contiguous = !keyLess(start, first.region.startKey)
                && zip(page, page.dropFirst()).allSatisfy { $0.region.endKey == $1.region.startKey }
            guard contiguous else {
                holes += 1
                if holes > 5 { break }
                try? await Task.sleep(for: .milliseconds(100 * holes))
                continue
            }
            if out.last?.region.id == first.region.id { out.removeLast() }  // the newer copy wins
            out += page
            let last = page[page.count - 1].region
            guard !last.endKey.isEmpty, end.isEmpty || keyLess(last.endKey, end), keyLess(start, last.endKey) else { break }
            start = last.endKey
        }
        return out
    }

    /// The range from the first region's start to the last one's end.
    static func span(of regions: [Region]) -> KeyRange? {
        guard let start = regions.map(\.startKey).min(by: keyLess) else { return nil }
        let end = regions.contains { $0.endKey.isEmpty } ? [] : regions.map(\.endKey).max(by: keyLess) ?? []
        return KeyRange(start: start, end: end)
    }

    public func region(id: UInt64) async -> Region? {
        if let route = routes.withLock({ $0[id] }) { return route.region }
        return await refreshRegion(id: id)
    }

    public func region(containing key: [UInt8]) async -> Region? {
        var request = Pdpb_GetRegionRequest()
        request.header = header
        request.regionKey = Data(key)
        guard let response = try? await retrying({ try await pd.call { try await $0.getRegion(request, options: WireConnection.options(timeout: timeouts.pd)) } }),
              response.hasRegion else { return nil }
        let route = Route(response.region, leader: response.hasLeader ? response.leader : nil)
        remember([route])
        return route.region
    }

    public func refreshRegion(id: UInt64) async -> Region? { await fetchRoute(id)?.region }

    func fetchRoute(_ id: UInt64) async -> Route? {
        var request = Pdpb_GetRegionByIDRequest()
        request.header = header
        request.regionID = id
        guard let response = try? await retrying({ try await pd.call { try await $0.getRegionByID(request, options: WireConnection.options(timeout: timeouts.pd)) } }) else {
            return nil
        }
        guard response.header.error.type == .ok, response.hasRegion else {
            _ = routes.withLock { $0.removeValue(forKey: id) }  // merged away, or never there
            return nil
        }
        var route = Route(response.region, leader: response.hasLeader ? response.leader : nil)
        route.pendingPeers = response.pendingPeers.count
        remember([route])
        return route
    }

    /// The leader as last seen, unless its store has stopped answering: then PD's view now.
    public func leader(of regionID: UInt64) async -> PeerMeta? {
        if let leader = routes.withLock({ $0[regionID]?.leader }), endpoint(leader.storeID)?.health.withLock({ $0.state.isUp && $0.reachable }) ?? false {
            return leader
        }
        return await fetchRoute(regionID)?.leader
    }

    /// Polls PD until the region has a leader.
    public func waitForLeader(of regionID: UInt64, timeout: Duration) async throws(RegionError) -> PeerMeta {
        let deadline = ContinuousClock.now + timeout
        var pause = Duration.milliseconds(20)
        repeat {
            if let leader = await fetchRoute(regionID)?.leader { return leader }
            try? await Task.sleep(for: pause)
            pause = min(pause * 2, .milliseconds(500))
        } while ContinuousClock.now < deadline
        throw .timeout(regionID: regionID, after: timeout)
    }

    /// A PD call tried again for about ten seconds: a PD leader election (etcd's, a few seconds)
    /// or a restart is ridden out, each try going to the leader found again.
    func retrying<T>(_ body: () async throws -> T) async throws -> T {
        var attempt = 0
        while true {
            do { return try await body() } catch {
                attempt += 1
                if attempt >= 12 { throw error }
                try await Task.sleep(for: .milliseconds(min(1_000, 100 * attempt)))
            }
        }
    }

    // MARK: split and scatter

    /// BR's split: the keys grouped by the region that holds them, SplitRegion on each region's
    /// leader with the raw keys, NotLeader followed, EpochNotMatch answered by a fresh scan.
    public func split(at keys: [[UInt8]], rawKeys: Bool) async throws(RegionError) -> [Region] {
        var pending = Array(Set(keys)).sorted(by: keyLess)
        var created: [Region] = []
        var attempt = 0
        while !pending.isEmpty {
            attempt += 1
            guard let first = pending.first, let last = pending.last else { break }
            let covering = await regions(overlapping: KeyRange(start: first, end: Self.after(last)))
            var retry: [[UInt8]] = []
            var lastError: RegionError?
            // Keys that no region of the scan holds stay pending: the next round reads again.
            var unclaimed = Set(pending)
            for region in covering {
                let held = pending.filter { region.contains($0) }
                unclaimed.subtract(held)
                let (inside, later) = SplitBatch.first(of: held.filter { $0 != region.startKey })
                guard !inside.isEmpty else { continue }
                // The rest goes in the next round, to the regions that hold it after this split.
                retry += later
                do {
                    created += try await splitRegion(region, at: inside, rawKeys: rawKeys)
                } catch {
                    switch error {
                    case .epochNotMatch, .notLeader, .serverIsBusy, .staleCommand, .regionNotFound, .storeNotAvailable, .timeout:
                        retry += inside
                        lastError = error
                    default:
                        throw error
                    }
                }
            }
            if !unclaimed.isEmpty {
                retry += unclaimed.sorted(by: keyLess)
                lastError = lastError ?? .regionNotFound(regionID: 0)
            }
            pending = retry
            if let lastError, attempt >= 8 { throw lastError }
            if !pending.isEmpty { try? await Task.sleep(for: .milliseconds(50 * attempt)) }
        }
        await waitUntilKnown(created)
        return created
    }

    /// One SplitRegion, following a NotLeader to the leader it names. Returns the new regions.
    private func splitRegion(_ region: Region, at keys: [[UInt8]], rawKeys: Bool) async throws(RegionError) -> [Region] {
        var leader = routes.withLock { $0[region.id]?.leader }
        if leader == nil { leader = try await waitForLeader(of: region.id, timeout: .seconds(10)) }
        for _ in 0..<4 {
            guard let peer = leader, let endpoint = endpoint(peer.storeID) else { throw .storeNotAvailable(storeID: leader?.storeID ?? 0, state: .down) }
            var request = Kvrpcpb_SplitRegionRequest()
            request.context = Self.context(regionID: region.id, epoch: region.epoch, peer: peer)
            request.isRawKv = rawKeys
            // TiKV encodes split keys itself: send the raw user keys (a timestamp suffix is dropped, as TiKV drops it).
            request.splitKeys = try keys.map { (key: [UInt8]) throws(RegionError) in
                if rawKeys { return Data(key) }
                guard let raw = try? Memcomparable.decode(key).key else {
                    throw .keyNotInRegion(key: key, regionID: region.id, startKey: region.startKey, endKey: region.endKey)
                }
                return Data(raw)
            }
            let response: Kvrpcpb_SplitRegionResponse
            do {
                response = try await TikvService.splitRegion(request, on: endpoint.connection.client, options: WireConnection.options(timeout: timeouts.pd))
            } catch {
                let state = WireFailure.state(of: error)
                endpoint.noteCall(error)
                throw .storeNotAvailable(storeID: peer.storeID, state: state == .up ? .down : state)
            }
            if response.hasRegionError {
                let error = RegionError(response.regionError, storeID: peer.storeID) ?? .serverIsBusy(storeID: peer.storeID, reason: response.regionError.message, backoffMillis: 100)
                if case let .notLeader(_, next?) = error {
                    leader = next
                    continue
                }
                throw error
            }
            let regions = response.regions.map(Region.init)
            remember(regions.map { Route(region: $0, leader: nil) })
            return regions.filter { $0.id != region.id }
        }
        throw .notLeader(regionID: region.id, leader: leader)
    }

    /// Waits (a little) until PD knows each new region with a leader and no pending peer, as BR
    /// waits before it scatters (tidb br/pkg/restore/split `hasHealthyRegion`: the region known
    /// and `pending_peers` empty), going on anyway after the wait as BR does. The regions are
    /// read in pages of ScanRegions over their span, not one GetRegionByID each.
    private func waitUntilKnown(_ regions: [Region]) async {
        guard let span = Self.span(of: regions) else { return }
        var waiting = Set(regions.map(\.id))
        let deadline = ContinuousClock.now + .seconds(5)
        while !waiting.isEmpty, ContinuousClock.now < deadline {
            for route in await routes(overlapping: span, page: 1_024) where route.leader != nil && route.pendingPeers == 0 {
                waiting.remove(route.region.id)
            }
            if !waiting.isEmpty { try? await Task.sleep(for: .milliseconds(20)) }
        }
    }

    /// ScatterRegion for the batch (those that fail, one by one), then GetOperator until no
    /// scatter operator runs, up to a minute; a scatter that ended in TIMEOUT, CANCEL or REPLACE
    /// is sent again, as BR's `WaitRegionsScattered` does (tidb br/pkg/restore/split/client.go,
    /// `isScatterRegionFinished`).
    public func scatter(_ regionIDs: [UInt64]) async throws(RegionError) {
        guard !regionIDs.isEmpty else { return }
        await sendScatter(regionIDs)
        let deadline = ContinuousClock.now + .seconds(60)
        var running = Set(regionIDs)
        var rescatters = 0
        while !running.isEmpty, ContinuousClock.now < deadline {
            var again: [UInt64] = []
            // PD answers each region's operator on its own; many are asked at once.
            let operators = await BoundedConcurrency.map(running.sorted(), width: 64) { id in
                var op = Pdpb_GetOperatorRequest()
                op.header = self.header
                op.regionID = id
                return (id, try? await self.pd.call({ try await $0.getOperator(op, options: WireConnection.options(timeout: self.timeouts.pd)) }))
            }
            for (id, answer) in operators {
                guard let response = answer else { continue }
                if response.header.error.type == .regionNotFound || String(decoding: response.desc, as: UTF8.self) != "scatter-region" || response.status == .success {
                    running.remove(id)
                } else if response.status != .running {
                    again.append(id)
                }
            }
            if !again.isEmpty, rescatters < Self.maxRescatters {
                rescatters += 1
                await sendScatter(again)
            } else if !again.isEmpty {
                running.subtract(again)  // scattered as well as PD could; a warning, not a failure
            }
            if !running.isEmpty { try? await Task.sleep(for: .milliseconds(200)) }
        }
        // The leaders moved: their routes are read again, in pages over the regions' span.
        if let span = Self.span(of: routes.withLock { routes in regionIDs.compactMap { routes[$0]?.region } }) {
            _ = await routes(overlapping: span, page: 1_024)
        }
        if !running.isEmpty { throw .timeout(regionID: running.min() ?? 0, after: .seconds(60)) }
    }

    static let maxRescatters = 3

    /// ScatterRegion for the batch; those that fail, one by one.
    private func sendScatter(_ regionIDs: [UInt64]) async {
        var request = Pdpb_ScatterRegionRequest()
        request.header = header
        request.regionsID = regionIDs
        request.skipStoreLimit = true
        var failed = regionIDs
        if let response = try? await pd.call({ try await $0.scatterRegion(request, options: WireConnection.options(timeout: .seconds(60))) }) {
            failed = response.header.error.type == .ok && response.finishedPercentage >= 100 ? response.failedRegionsID : (response.failedRegionsID.isEmpty ? regionIDs : response.failedRegionsID)
        }
        for id in failed {
            var single = Pdpb_ScatterRegionRequest()
            single.header = header
            single.regionID = id
            if let route = routes.withLock({ $0[id] }) {
                single.region = route.region.wire
                if let leader = route.leader { single.leader = leader.wire }
            }
            _ = try? await pd.call { try await $0.scatterRegion(single, options: WireConnection.options(timeout: .seconds(60))) }
        }
    }

    /// The request context TiKV checks: the region, its epoch as the client knows it, the leader's peer.
    static func context(regionID: UInt64, epoch: RegionEpoch, peer: PeerMeta) -> Kvrpcpb_Context {
        var context = Kvrpcpb_Context()
        context.regionID = regionID
        context.regionEpoch = epoch.wire
        context.peer = peer.wire
        return context
    }

    /// The smallest key after `key`.
    static func after(_ key: [UInt8]) -> [UInt8] { key + [0] }

    /// A timestamp from PD's TSO stream (as BR takes an incremental restore's new timestamp).
    public func timestamp() async -> UInt64? {
        var asked = Pdpb_TsoRequest()
        asked.header = header
        asked.count = 1
        let request = asked
        let answer = try? await retrying {
            try await pd.call { client in
                try await client.tso(request: StreamingClientRequest { writer in try await writer.write(request) }, options: WireConnection.options(timeout: timeouts.pd)) { response in
                    for try await message in response.messages { return message }
                    throw RPCError(code: .unavailable, message: "PD's TSO stream ended without a timestamp")
                }
            }
        }
        guard let answer, answer.header.error.type == .ok, answer.hasTimestamp else { return nil }
        return UInt64(answer.timestamp.physical) << 18 + UInt64(answer.timestamp.logical)
    }

    /// The store's free bytes, from the stats of its last heartbeat that PD keeps (GetStore).
    public func disk(ofStore store: UInt64) async -> StoreDisk? {
        var request = Pdpb_GetStoreRequest()
        request.header = header
        request.storeID = store
        guard let response = try? await pd.call({ try await $0.getStore(request, options: WireConnection.options(timeout: timeouts.pd)) }),
              (try? Self.check(response.header, from: "PD at \(pd.address)")) != nil, response.hasStats, response.stats.available > 0
        else { return nil }
        return StoreDisk(availableBytes: response.stats.available)
    }

    /// PD and the import service show no data: only a read of the stores (which a restore over the
    /// wire does not make) could tell.
    public func holdsData(in range: KeyRange) async -> Bool? { nil }

    /// PD does not say which tables hold data; the region boundaries inside the table key space
    /// are what a client can see of it. The largest table id they name.
    public func highestTableIDInUse() async -> Int64 {
        let tables = KeyRange(start: Memcomparable.encode(Array("t".utf8)), end: Memcomparable.encode(Array("u".utf8)))
        var highest: Int64 = 0
        for region in await regions(overlapping: tables) {
            for key in [region.startKey, region.endKey] where !key.isEmpty {
                if let raw = try? Memcomparable.decode(key).key, let id = TableCodec.decode(raw)?.tableID { highest = max(highest, id) }
            }
        }
        return highest
    }
}

/// How many split keys one SplitRegion carries, as BR caps them: at most 6 MiB of keys, below
/// TiKV's 8 MiB Raft entry limit (tidb br/pkg/restore/split/client.go `maxBatchSplitSize`), and
/// at most 10,240 keys (br/pkg/restore/snap_client/client.go `maxSplitKeysOnce`).
enum SplitBatch {
    static let maxBytes = 6 << 20
    static let maxKeys = 10_240

    /// The first batch of `keys` (in order, at least one key), and the keys left for later.
    static func first(of keys: [[UInt8]]) -> (batch: [[UInt8]], rest: [[UInt8]]) {
        var bytes = 0
        var end = 0
        while end < keys.count, end < maxKeys, end == 0 || bytes + keys[end].count <= maxBytes {
            bytes += keys[end].count
            end += 1
        }
        return (Array(keys[..<end]), Array(keys[end...]))
    }
}
