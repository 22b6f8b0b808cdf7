import Foundation
import GRPCCore
import GRPCProtobuf
import KeyCodec
import ClusterAPI
import EmbeddedCluster
import KVProto
import KVProtoGRPC
import KVWire

/// PD's client API (`pdpb.PD`) over the embedded cluster's placement driver: the members, the
/// stores with the addresses they serve on, regions, scatter and its operators. Every request's
/// header must carry this cluster's id.
struct PDService: RegistrableRPCService {
    let cluster: Cluster
    let clusterID: UInt64
    /// This member's place among PD's members, and which of them leads.
    let member: Int
    let membership: PDMembership
    /// Where PD and each store listen.
    let addresses: @Sendable () -> BoundAddresses
    let timestamps: TimestampOracle
    let safePoints: ServiceSafePoints
    /// "https" under TLS, so that a client URL says how to reach PD.
    let scheme: String
    let faults: WireFaults

    func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
        typealias M = Pdpb_PD.Method
        // Any member answers GetMembers, naming the leader (tikv/pd server/grpc_service.go).
        router.unary(M.GetMembers.descriptor) { (_: Pdpb_GetMembersRequest) in
            var response = Pdpb_GetMembersResponse()
            response.header = header()
            let bound = addresses()
            response.members = bound.pdMembers.map(bound.published).enumerated().map { i, address in
                var member = Pdpb_Member()
                member.name = "restore-console-pd-\(i)"
                member.memberID = clusterID &+ UInt64(i)
                member.clientUrls = ["\(scheme)://\(address)"]
                return member
            }
            let leader = membership.leader.load(ordering: .sequentiallyConsistent)
            if leader < response.members.count {
                response.leader = response.members[leader]
                response.etcdLeader = response.members[leader]
            }
            return response
        }
        // Timestamps as PD's TSO stream gives them; BR takes its restore's from it.
        router.registerHandler(
            forMethod: M.Tso.descriptor, deserializer: ProtobufDeserializer<Pdpb_TsoRequest>(), serializer: ProtobufSerializer<Pdpb_TsoResponse>()
        ) { request, _ in
            StreamingServerResponse { writer in
                for try await asked in request.messages {
                    try check(asked.header)
                    var response = Pdpb_TsoResponse()
                    response.header = header()
                    response.count = asked.count
                    do throws(TimestampOracle.Refusal) {
                        response.timestamp = try timestamps.next(count: asked.count)
                    } catch {
                        throw RPCError(code: .unknown, message: error.description)
                    }
                    try await writer.write(response)
                }
                return [:]
            }
        }
        router.unary(M.GetGCSafePoint.descriptor) { (request: Pdpb_GetGCSafePointRequest) in
            try check(request.header)
            var response = Pdpb_GetGCSafePointResponse()
            response.header = header()
            return response  // no GC runs here: nothing is collected below any version
        }
        router.unary(M.UpdateServiceGCSafePoint.descriptor) { (request: Pdpb_UpdateServiceGCSafePointRequest) in
            try check(request.header)
            var response = Pdpb_UpdateServiceGCSafePointResponse()
            response.header = header()
            response.serviceID = request.serviceID
            response.ttl = request.ttl
            response.minSafePoint = safePoints.update(service: request.serviceID, ttl: request.ttl, safePoint: request.safePoint)
            return response
        }
        router.unary(M.GetAllStores.descriptor) { (request: Pdpb_GetAllStoresRequest) in
            try check(request.header)
            var response = Pdpb_GetAllStoresResponse()
            response.header = header()
            response.stores = await cluster.stores().map(wireStore)
            return response
        }
        router.unary(M.GetStore.descriptor) { (request: Pdpb_GetStoreRequest) in
            try check(request.header)
            var response = Pdpb_GetStoreResponse()
            guard let store = await cluster.stores().first(where: { $0.id == request.storeID }) else {
                response.header = header(error: .unknown, "invalid store ID \(request.storeID), not found")
                return response
            }
            response.header = header()
            response.store = wireStore(store)
            // As a TiKV's heartbeat reports it: the free bytes of the store's disk.
            response.stats.storeID = store.id
            if let disk = await cluster.disk(ofStore: store.id) { response.stats.available = disk.availableBytes }
            return response
        }
        router.unary(M.ScanRegions.descriptor) { (request: Pdpb_ScanRegionsRequest) in
            try check(request.header)
            var regions = await cluster.regions(overlapping: KeyRange(start: Array(request.startKey), end: Array(request.endKey)))
            if request.limit > 0 { regions = Array(regions.prefix(Int(request.limit))) }
            var response = Pdpb_ScanRegionsResponse()
            response.header = header()
            let up = await upStores()
            for region in regions {
                let leader = await liveLeader(region.id, up: up, within: .milliseconds(100))
                response.regionMetas.append(region.wire)
                response.leaders.append(leader?.wire ?? Metapb_Peer())
                var entry = Pdpb_Region()
                entry.region = region.wire
                if let leader { entry.leader = leader.wire }
                response.regions.append(entry)
            }
            return response
        }
        router.unary(M.GetRegion.descriptor) { (request: Pdpb_GetRegionRequest) in
            try check(request.header)
            return await regionResponse(await cluster.region(containing: Array(request.regionKey)))
        }
        router.unary(M.GetRegionByID.descriptor) { (request: Pdpb_GetRegionByIDRequest) in
            try check(request.header)
            return await regionResponse(await cluster.refreshRegion(id: request.regionID))
        }
        router.unary(M.ScatterRegion.descriptor) { (request: Pdpb_ScatterRegionRequest) in
            try check(request.header)
            var ids = request.regionsID
            if ids.isEmpty { ids = [request.hasRegion ? request.region.id : request.regionID] }
            faults.scattered.withLock { for id in ids { $0[id, default: 0] += 1 } }
            var response = Pdpb_ScatterRegionResponse()
            response.header = header()
            do {
                try await cluster.scatter(ids)
                response.finishedPercentage = 100
            } catch {
                response.header = header(error: .unknown, "scatter failed: \(error)")
                response.failedRegionsID = ids
            }
            return response
        }
        router.unary(M.GetOperator.descriptor) { (request: Pdpb_GetOperatorRequest) in
            try check(request.header)
            var response = Pdpb_GetOperatorResponse()
            response.regionID = request.regionID
            // Scatter returns once its moves are done, so no operator is ever running.
            guard await cluster.region(id: request.regionID) != nil else {
                response.header = header(error: .regionNotFound, "region \(request.regionID) not found")
                return response
            }
            response.header = header()
            response.desc = Data("scatter-region".utf8)
            let timedOut = faults.takeScatterTimeout()
            response.status = timedOut ? .timeout : .success
            return response
        }
    }

    /// PD answers a wrong cluster id with FailedPrecondition, naming both ids.
    private func check(_ header: Pdpb_RequestHeader) throws {
        try checkLeader()
        guard header.clusterID == clusterID else {
            throw RPCError(code: .failedPrecondition, message: "mismatch cluster id, need \(clusterID) but got \(header.clusterID)")
        }
    }

    /// A member that does not lead refuses what only the leader serves, as PD's followers do
    /// (tikv/pd server/grpc_service.go `validateRoleInRequest`: UNAVAILABLE "not leader").
    private func checkLeader() throws {
        guard membership.leader.load(ordering: .sequentiallyConsistent) == member else { throw RPCError(code: .unavailable, message: "not leader") }
    }

    private func header(error type: Pdpb_ErrorType? = nil, _ message: String = "") -> Pdpb_ResponseHeader {
        var header = Pdpb_ResponseHeader()
        header.clusterID = clusterID
        if let type {
            header.error.type = type
            header.error.message = message
        }
        return header
    }

    static let tikvVersion = "8.5.0"

    private func wireStore(_ store: StoreInfo) -> Metapb_Store {
        var wire = Metapb_Store()
        wire.id = store.id
        let bound = addresses()
        wire.address = bound.stores[store.id].map(bound.published)?.description ?? ""
        wire.state = .up
        wire.nodeState = .serving
        // BR parses it as semver and wants a TiKV of its own major version or the one before
        // (tidb br/pkg/version/version.go CheckVersionForBR): the TiKV whose import protocol
        // (kvproto) these stores speak.
        wire.version = Self.tikvVersion
        wire.gitHash = "restore-console"
        if store.state.isUp { wire.lastHeartbeat = Int64(Date().timeIntervalSince1970 * 1e9) }
        return wire
    }

    private func regionResponse(_ region: Region?) async -> Pdpb_GetRegionResponse {
        var response = Pdpb_GetRegionResponse()
        response.header = header()
        guard let region else { return response }
        response.region = region.wire
        if let leader = await liveLeader(region.id, up: await upStores(), within: .milliseconds(500)) { response.leader = leader.wire }
        return response
    }

    /// The region's leader if it is on a store in `up`. A region whose leader is gone (its store
    /// down or panicked) is woken, and given a moment, to elect another, as TiKV's regions do by
    /// themselves; the embedded regions sleep while idle, and one with a live leader stays asleep.
    private func liveLeader(_ regionID: UInt64, up: Set<UInt64>, within wait: Duration) async -> PeerMeta? {
        if let leader = await cluster.leader(of: regionID), up.contains(leader.storeID) { return leader }
        let deadline = ContinuousClock.now + wait
        repeat {
            if let leader = try? await cluster.waitForLeader(of: regionID, timeout: .milliseconds(20)), up.contains(leader.storeID) { return leader }
            try? await Task.sleep(for: .milliseconds(10))
        } while ContinuousClock.now < deadline
        return nil
    }

    private func upStores() async -> Set<UInt64> { Set(await cluster.stores().filter(\.state.isUp).map(\.id)) }
}
