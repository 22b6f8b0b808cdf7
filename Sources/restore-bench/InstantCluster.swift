import Foundation
import Synchronization
import GRPCCore
import GRPCNIOTransportHTTP2
import KeyCodec
import ClusterAPI
import KVProto
import KVProtoGRPC
import KVWire

/// A TiKV cluster that answers at once and does no data work, for the `wire-overhead` benchmark:
/// PD (members, stores, regions, scatter, operators) and three stores' SplitRegion and ImportSST,
/// all on one port. Regions split as TiKV splits them (each new region a version up), Download
/// and BatchDownload answer with the rewritten range without fetching anything, MultiIngest answers OK: what is
/// left to measure is the client.
final class InstantCluster: Sendable {
    static let clusterID: UInt64 = 0x1257_A11C
    static let storeIDs: [UInt64] = [1, 2, 3]

    /// Regions in key order, and the next id to give.
    private struct Layout {
        var regions: [Region] = []
        var nextID: UInt64 = 10
    }

    private let layout = Mutex(Layout())
    private let published = Mutex(WireAddress(host: "127.0.0.1", port: 0))
    /// Calls answered, by method, for the report.
    let calls = Mutex<[String: Int]>([:])

    init() {
        let peers = Self.storeIDs.map { PeerMeta(id: $0, storeID: $0) }
        layout.withLock { $0.regions = [Region(id: 2, startKey: [], endKey: [], epoch: RegionEpoch(confVer: 1, version: 1), peers: peers)] }
    }

    /// Serves on a free loopback port until the process ends; returns the address.
    func serve() async throws -> WireAddress {
        let config = HTTP2ServerTransport.Posix.Config.defaults { $0.http2.maxConcurrentStreams = 1024 }
        let transport = HTTP2ServerTransport.Posix(address: .ipv4(host: "127.0.0.1", port: 0), transportSecurity: .plaintext, config: config)
        let server = GRPCServer(transport: transport, services: [Service(cluster: self)])
        Task { try? await server.serve() }
        guard let bound = try await transport.listeningAddress.ipv4 else { throw BenchError.failed("the instant cluster is not on IPv4") }
        let address = WireAddress(host: bound.host, port: bound.port)
        published.withLock { $0 = address }
        return address
    }

    /// Each region's leader on one of its peers, spread by id.
    static func leader(_ region: Region) -> PeerMeta { region.peers[Int(region.id % UInt64(region.peers.count))] }

    private func index(containing key: [UInt8], in regions: [Region]) -> Int {
        // The last region that starts at or before `key`.
        max(0, regions.partitionPoint { !keyLess(key, $0.startKey) } - 1)
    }

    func region(containing key: [UInt8]) -> Region? {
        layout.withLock { $0.regions.isEmpty ? nil : $0.regions[index(containing: key, in: $0.regions)] }
    }

    func region(id: UInt64) -> Region? { layout.withLock { $0.regions.first { $0.id == id } } }

    func regions(from start: [UInt8], to end: [UInt8], limit: Int) -> [Region] {
        layout.withLock { layout in
            var out: [Region] = []
            var i = index(containing: start, in: layout.regions)
            while i < layout.regions.count, out.count < (limit > 0 ? limit : Int.max) {
                let region = layout.regions[i]
                if !end.isEmpty, !keyLess(region.startKey, end) { break }
                out.append(region)
                i += 1
            }
            return out
        }
    }

    /// TiKV's BatchSplit: the region keeps the first part, each key starts a new region, and
    /// every part's version goes up by the number of new regions.
    func split(regionID: UInt64, version: UInt64, keys: [[UInt8]]) -> Result<[Region], RegionError> {
        layout.withLock { layout in
            guard let i = layout.regions.firstIndex(where: { $0.id == regionID }) else { return .failure(.regionNotFound(regionID: regionID)) }
            let old = layout.regions[i]
            guard old.epoch.version == version else { return .failure(.epochNotMatch(regionID: regionID, currentRegions: [old])) }
            let sorted = Array(Set(keys)).sorted(by: keyLess)
            for key in sorted where !old.contains(key) || key == old.startKey {
                return .failure(.keyNotInRegion(key: key, regionID: regionID, startKey: old.startKey, endKey: old.endKey))
            }
            let epoch = RegionEpoch(confVer: old.epoch.confVer, version: old.epoch.version + UInt64(sorted.count))
            let bounds = [old.startKey] + sorted + [old.endKey]
            var parts: [Region] = []
            for k in 0..<(bounds.count - 1) {
                let id = k == 0 ? old.id : layout.nextID
                if k > 0 { layout.nextID += 1 }
                let peers = Self.storeIDs.map { PeerMeta(id: id * 10 + $0, storeID: $0) }
                parts.append(Region(id: id, startKey: bounds[k], endKey: bounds[k + 1], epoch: epoch, peers: k == 0 ? old.peers : peers))
            }
            layout.regions.replaceSubrange(i...i, with: parts)
            return .success(parts)
        }
    }

    var address: WireAddress { published.withLock { $0 } }
}

/// PD's and the stores' methods that a restore calls, answered from `InstantCluster`.
private struct Service: RegistrableRPCService {
    let cluster: InstantCluster

    func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
        typealias PD = Pdpb_PD.Method
        typealias Import = ImportSstpb_ImportSST.Method
        let cluster = cluster
        @Sendable func count(_ method: String) { cluster.calls.withLock { $0[method, default: 0] += 1 } }
        @Sendable func header() -> Pdpb_ResponseHeader {
            var header = Pdpb_ResponseHeader()
            header.clusterID = InstantCluster.clusterID
            return header
        }
        @Sendable func store(_ id: UInt64) -> Metapb_Store {
            var store = Metapb_Store()
            store.id = id
            store.address = cluster.address.description
            store.state = .up
            store.nodeState = .serving
            store.version = "8.5.0"
            store.lastHeartbeat = Int64(Date().timeIntervalSince1970 * 1e9)
            return store
        }
        @Sendable func regionResponse(_ region: Region?) -> Pdpb_GetRegionResponse {
            var response = Pdpb_GetRegionResponse()
            response.header = header()
            if let region {
                response.region = region.wire
                response.leader = InstantCluster.leader(region).wire
            }
            return response
        }
        router.unary(PD.GetMembers.descriptor) { (_: Pdpb_GetMembersRequest) in
            count("GetMembers")
            var response = Pdpb_GetMembersResponse()
            response.header = header()
            var member = Pdpb_Member()
            member.name = "instant"
            member.memberID = 1
            member.clientUrls = ["http://\(cluster.address)"]
            response.members = [member]
            response.leader = member
            response.etcdLeader = member
            return response
        }
        router.unary(PD.GetAllStores.descriptor) { (_: Pdpb_GetAllStoresRequest) in
            count("GetAllStores")
            var response = Pdpb_GetAllStoresResponse()
            response.header = header()
            response.stores = InstantCluster.storeIDs.map(store)
            return response
        }
        router.unary(PD.GetStore.descriptor) { (request: Pdpb_GetStoreRequest) in
            count("GetStore")
            var response = Pdpb_GetStoreResponse()
            response.header = header()
            response.store = store(request.storeID)
            response.stats.storeID = request.storeID
            response.stats.capacity = 1 << 40
            response.stats.available = 1 << 40
            return response
        }
        router.unary(PD.GetRegion.descriptor) { (request: Pdpb_GetRegionRequest) in
            count("GetRegion")
            return regionResponse(cluster.region(containing: Array(request.regionKey)))
        }
        router.unary(PD.GetRegionByID.descriptor) { (request: Pdpb_GetRegionByIDRequest) in
            count("GetRegionByID")
            return regionResponse(cluster.region(id: request.regionID))
        }
        router.unary(PD.ScanRegions.descriptor) { (request: Pdpb_ScanRegionsRequest) in
            count("ScanRegions")
            var response = Pdpb_ScanRegionsResponse()
            response.header = header()
            for region in cluster.regions(from: Array(request.startKey), to: Array(request.endKey), limit: Int(request.limit)) {
                var entry = Pdpb_Region()
                entry.region = region.wire
                entry.leader = InstantCluster.leader(region).wire
                response.regions.append(entry)
                response.regionMetas.append(entry.region)
                response.leaders.append(entry.leader)
            }
            return response
        }
        router.unary(PD.ScatterRegion.descriptor) { (_: Pdpb_ScatterRegionRequest) in
            count("ScatterRegion")
            var response = Pdpb_ScatterRegionResponse()
            response.header = header()
            response.finishedPercentage = 100
            return response
        }
        router.unary(PD.GetOperator.descriptor) { (request: Pdpb_GetOperatorRequest) in
            count("GetOperator")
            var response = Pdpb_GetOperatorResponse()
            response.header = header()
            response.regionID = request.regionID
            response.desc = Data("scatter-region".utf8)
            response.status = .success
            return response
        }
        router.unary(TikvService.splitRegion) { (request: Kvrpcpb_SplitRegionRequest) in
            count("SplitRegion")
            var response = Kvrpcpb_SplitRegionResponse()
            var keys = request.splitKeys.map { Array($0) }
            if !request.splitKey.isEmpty { keys.append(Array(request.splitKey)) }
            if !request.isRawKv { keys = keys.map { Memcomparable.encode($0) } }
            switch cluster.split(regionID: request.context.regionID, version: request.context.regionEpoch.version, keys: keys) {
            case let .success(regions): response.regions = regions.map(\.wire)
            case let .failure(error): response.regionError = error.wire
            }
            return response
        }
        router.unary(Import.SwitchMode.descriptor) { (_: ImportSstpb_SwitchModeRequest) in
            count("SwitchMode")
            return ImportSstpb_SwitchModeResponse()
        }
        router.unary(Import.SetDownloadSpeedLimit.descriptor) { (_: ImportSstpb_SetDownloadSpeedLimitRequest) in
            count("SetDownloadSpeedLimit")
            return ImportSstpb_SetDownloadSpeedLimitResponse()
        }
        // The SST's range with the rule's prefix, as TiKV answers once it has rewritten the file.
        router.unary(Import.Download.descriptor) { (request: ImportSstpb_DownloadRequest) in
            count("Download")
            var response = ImportSstpb_DownloadResponse()
            let rule = request.rewriteRule
            func rewritten(_ key: Data) -> Data {
                key.starts(with: rule.oldKeyPrefix) ? rule.newKeyPrefix + key.dropFirst(rule.oldKeyPrefix.count) : key
            }
            response.range.start = rewritten(request.sst.range.start)
            response.range.end = rewritten(request.sst.range.end)
            response.length = request.sst.length
            return response
        }
        // As TiKV's batch_download: no files is refused in the answer (the client's probe).
        router.unary(Import.BatchDownload.descriptor) { (request: ImportSstpb_DownloadRequest) in
            count("BatchDownload")
            var response = ImportSstpb_DownloadResponse()
            guard !request.ssts.isEmpty else {
                response.error.message = "batch_download method only accepts multi-file requests, use download for single-file requests"
                return response
            }
            let rule = request.rewriteRule
            func rewritten(_ key: Data) -> Data {
                key.starts(with: rule.oldKeyPrefix) ? rule.newKeyPrefix + key.dropFirst(rule.oldKeyPrefix.count) : key
            }
            response.range.start = rewritten(request.sst.range.start)
            response.range.end = rewritten(request.sst.range.end)
            response.length = request.ssts.values.reduce(0) { $0 + $1.length }
            return response
        }
        router.unary(Import.MultiIngest.descriptor) { (_: ImportSstpb_MultiIngestRequest) in
            count("MultiIngest")
            return ImportSstpb_IngestResponse()
        }
    }
}
