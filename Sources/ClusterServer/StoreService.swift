import Foundation
import GRPCCore
import KeyCodec
import ExternalStorage
import ClusterAPI
import EmbeddedCluster
import KVProto
import KVProtoGRPC
import KVWire

/// One embedded store on the wire: TiKV's `Tikv/SplitRegion` and `Tikv/Coprocessor` (the
/// checksum) and the ImportSST methods that a restore calls, BatchDownload among them. Errors travel inside the responses, as TiKV sends them; a store that is down
/// answers UNAVAILABLE, and a panicked one says why in the status and its metadata.
struct StoreService: RegistrableRPCService {
    let cluster: Cluster
    let storeID: UInt64
    let faults: WireFaults
    let storageAccess: StorageAccess
    let rules: TiKVRules

    /// The metadata key that carries a panicked store's reason.
    static let panicMetadataKey = "x-store-panic"

    func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
        typealias M = ImportSstpb_ImportSST.Method
        router.unary(TikvService.splitRegion) { (request: Kvrpcpb_SplitRegionRequest) in
            try await checkUp()
            return await split(request)
        }
        router.unary(TikvService.coprocessor) { (request: Coprocessor_Request) in
            try await checkUp()
            return await coprocessor(request)
        }
        router.unary(M.SwitchMode.descriptor) { (request: ImportSstpb_SwitchModeRequest) in
            try await checkUp()
            do throws(ImportError) { try await cluster.switchMode(request.mode == .import ? .import : .normal, on: storeID) } catch {
                throw RPCError(code: .unknown, message: error.description)
            }
            return ImportSstpb_SwitchModeResponse()
        }
        router.unary(M.SetDownloadSpeedLimit.descriptor) { (request: ImportSstpb_SetDownloadSpeedLimitRequest) in
            try await checkUp()
            await cluster.setDownloadSpeedLimit(request.speedLimit, on: storeID)
            return ImportSstpb_SetDownloadSpeedLimitResponse()
        }
        router.unary(M.Download.descriptor) { (request: ImportSstpb_DownloadRequest) in
            try await checkUp()
            return await download(request)
        }
        router.unary(M.BatchDownload.descriptor) { (request: ImportSstpb_DownloadRequest) in
            try await checkUp()
            return await batchDownload(request)
        }
        router.unary(M.Ingest.descriptor) { (request: ImportSstpb_IngestRequest) in
            try await checkUp()
            return try await ingest(context: request.context, ssts: request.hasSst ? [request.sst] : [])
        }
        router.unary(M.MultiIngest.descriptor) { (request: ImportSstpb_MultiIngestRequest) in
            try await checkUp()
            return try await ingest(context: request.context, ssts: request.ssts)
        }
    }

    /// A store that is down does not answer; one that panicked answers with its reason.
    private func checkUp() async throws {
        if let delay = faults.delay(of: storeID) { try await Task.sleep(for: delay) }
        guard let store = await cluster.stores().first(where: { $0.id == storeID }) else {
            throw RPCError(code: .unavailable, message: "store \(storeID) is gone")
        }
        switch store.state {
        case .up: return
        case .down: throw RPCError(code: .unavailable, message: "store \(storeID) is down")
        case let .panicked(reason): throw Self.panicked(storeID, reason)
        }
    }

    static func panicked(_ store: UInt64, _ reason: String) -> RPCError {
        var metadata = Metadata()
        metadata.addString(reason, forKey: panicMetadataKey)
        return RPCError(code: .unavailable, message: "store \(store) panicked: \(reason)", metadata: metadata)
    }

    // MARK: SplitRegion

    private func split(_ request: Kvrpcpb_SplitRegionRequest) async -> Kvrpcpb_SplitRegionResponse {
        var response = Kvrpcpb_SplitRegionResponse()
        let context = request.context
        guard let region = await cluster.refreshRegion(id: context.regionID), region.peer(onStore: storeID) != nil else {
            response.regionError = RegionError.regionNotFound(regionID: context.regionID).wire
            return response
        }
        let leader = await cluster.leader(of: region.id)
        guard let leader, leader.storeID == storeID else {
            response.regionError = RegionError.notLeader(regionID: region.id, leader: leader).wire
            return response
        }
        // A split checks the version alone, as TiKV's check_region_epoch does for (Batch)Split
        // (tikv components/raftstore/src/store/util.rs): a conf change does not stale it.
        guard RegionEpoch(context.regionEpoch).version == region.epoch.version else {
            response.regionError = RegionError.epochNotMatch(regionID: region.id, currentRegions: [region]).wire
            return response
        }
        var keys = request.splitKeys.map { Array($0) }
        if !request.splitKey.isEmpty { keys.append(Array(request.splitKey)) }
        // Split keys arrive raw; TiKV encodes them itself unless the cluster holds raw keys.
        if !request.isRawKv { keys = keys.map { Memcomparable.encode($0) } }
        for key in keys where !region.contains(key) {
            response.regionError = RegionError.keyNotInRegion(key: key, regionID: region.id, startKey: region.startKey, endKey: region.endKey).wire
            return response
        }
        do {
            let regions = try await cluster.split(regionID: region.id, at: keys)
            response.regions = regions.sorted { keyLess($0.startKey, $1.startKey) }.map(\.wire)
        } catch {
            response.regionError = error.wire
        }
        return response
    }

    // MARK: ImportSST

    private func download(_ request: ImportSstpb_DownloadRequest) async -> ImportSstpb_DownloadResponse {
        await answer { () throws(ImportError) in
            guard request.ssts.isEmpty else { throw .remote(storeID: storeID, message: "Download takes one sst; ssts is for BatchDownload", retryable: false) }
            var download = try downloadRequest(request, names: [request.name])
            download.name = request.name
            download.expected = request.sst.length > 0 ? ExpectedContent(size: request.sst.length, sha256: []) : nil
            download.cipherIV = Array(request.sst.cipherIv)
            return try await cluster.download(download, on: storeID)
        }
    }

    /// As TiKV's `batch_download` (tikv src/import/sst_service.rs and `download_request_dispatcher`):
    /// several files, each meta for the region, epoch and cf of `sst`, merged into the SST that
    /// `sst` names over the union of their ranges.
    private func batchDownload(_ request: ImportSstpb_DownloadRequest) async -> ImportSstpb_DownloadResponse {
        await answer { () throws(ImportError) in
            guard !request.ssts.isEmpty else {
                throw .invalidRequest(reason: "batch_download method only accepts multi-file requests, use download for single-file requests")
            }
            let target = request.sst
            for (name, meta) in request.ssts
            where meta.regionID != target.regionID || meta.regionEpoch != target.regionEpoch || meta.cfName != target.cfName || meta.endKeyExclusive != target.endKeyExclusive {
                throw .invalidRequest(reason: "sst \(name) is not for the region, epoch and column family of the batch's sst")
            }
            let files = request.ssts.sorted { $0.key < $1.key }
            var download = try downloadRequest(request, names: files.map(\.key))
            download.batch = files.map { name, meta in
                BatchFile(name: name, expected: meta.length > 0 ? ExpectedContent(size: meta.length, sha256: []) : nil, cipherIV: Array(meta.cipherIv))
            }
            for (_, meta) in files {
                let range = try Self.targetRange(of: meta, request)
                if keyLess(range.start, download.sst.range.start) { download.sst.range.start = range.start }
                if !download.sst.range.end.isEmpty, range.end.isEmpty || keyLess(download.sst.range.end, range.end) { download.sst.range.end = range.end }
            }
            return try await cluster.batchDownload(download, on: storeID)
        }
    }

    /// What a Download and a BatchDownload carry alike, read and checked: the target SST, the
    /// storage (each of `names` allowed to this server), the rule, the format and the cipher.
    private func downloadRequest(_ request: ImportSstpb_DownloadRequest, names: [String]) throws(ImportError) -> DownloadRequest {
        var sst = try SSTMeta(request.sst)
        sst.range = try Self.targetRange(of: request.sst, request)
        let storage: any ExternalStorage
        do {
            for name in names { try storageAccess.check(request.storageBackend, object: name) }
            storage = try WireStorage.open(request.storageBackend)
        } catch { throw .storage(error) }
        let rules: RewriteRules
        do { rules = try RewriteRules([WireRewrite.rule(request.rewriteRule)]) } catch { throw .rewrite(name: names.first ?? "", error: error) }
        var download = DownloadRequest(
            sst: sst, name: names.first ?? "", storage: storage, expected: nil, rules: rules,
            mode: request.requestType == .keyspace ? .keyspace : .legacy, format: request.isRawKv ? .raw : .transactional)
        do { download.cipher = try BackupCipher.from(wire: request.cipherInfo) } catch { throw .invalidRequest(reason: error.description) }
        return download
    }

    /// The range a meta names, as region bounds: Keyspace downloads name theirs in plain keys, as
    /// TiKV's do_pre_rewrite reads them.
    private static func targetRange(of meta: ImportSstpb_SSTMeta, _ request: ImportSstpb_DownloadRequest) throws(ImportError) -> KeyRange {
        let range = try SSTMeta(meta).range
        guard request.requestType == .keyspace, !request.isRawKv else { return range }
        return KeyRange(start: WireRewrite.encoded(range.start), end: WireRewrite.encoded(range.end), endInclusive: range.endInclusive)
    }

    /// A (Batch)Download's answer: its range, or its error as TiKV puts it in the response.
    private func answer(_ body: () async throws(ImportError) -> DownloadResponse) async -> ImportSstpb_DownloadResponse {
        var response = ImportSstpb_DownloadResponse()
        do throws(ImportError) {
            let result = try await body()
            response.isEmpty = result.isEmpty
            response.range.start = Data(result.range.start)
            response.range.end = Data(result.range.end)
            response.length = result.length
        } catch {
            response.error.message = error.description
            // What errorpb can say travels as a store error too, so that the client can act on it.
            switch error {
            case .region, .diskFull: response.error.storeError = error.wire
            default: break
            }
        }
        return response
    }

    private func ingest(context: Kvrpcpb_Context, ssts: [ImportSstpb_SSTMeta]) async throws -> ImportSstpb_IngestResponse {
        var response = ImportSstpb_IngestResponse()
        // An empty request is the client's probe for MultiIngest: a normal answer.
        guard !ssts.isEmpty else { return response }
        do throws(ImportError) {
            let metas = try ssts.map { (wire: ImportSstpb_SSTMeta) throws(ImportError) in try SSTMeta(wire) }
            let request = IngestRequest(
                regionID: context.regionID, epoch: RegionEpoch(context.regionEpoch),
                files: metas.map { IngestFile(uuid: $0.uuid, cf: $0.cf, range: $0.range) })
            if let violation = await rules.checkEveryPeerHolds(request, in: cluster) {
                throw ImportError.remote(storeID: storeID, message: violation, retryable: false)
            }
            do { try await cluster.ingest(request, on: storeID) } catch .region(.staleCommand) {
                // The store refuses a set that it applied before. TiKV ingests a file downloaded
                // again once more and succeeds; here the set's apply records on this store (which
                // enter in one atomic ingest with its files) say that it is in.
                guard request.files.allSatisfy({ cluster.hasIngested(uuid: $0.uuid, onStore: storeID) }) else {
                    throw ImportError.region(.staleCommand(regionID: context.regionID))
                }
            }
        } catch .fileNotDownloaded, .region(.staleCommand) {
            // TiKV's answer for an SST that is not on the store's disk.
            response.error = RegionError.staleCommand(regionID: context.regionID).wire
        } catch let .storePanicked(store, reason) {
            // A TiKV whose ingest fails to apply panics, and the call fails with it.
            throw Self.panicked(store, reason)
        } catch {
            response.error = error.wire
        }
        return response
    }
}
