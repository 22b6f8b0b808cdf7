import Foundation
import GRPCCore
import KeyCodec
import ExternalStorage
import ClusterAPI
import KVProto
import KVProtoGRPC
import KVWire

/// Each store's ImportSST: Download to every peer, MultiIngest on the leader, the import mode and
/// the download rate limit.
extension RemoteCluster {
    /// What TiKV counts these requests under: BR's own source for its Download and MultiIngest
    /// (tidb `kvutil.BuildRequestSource(true, kv.InternalTxnBR, ...)`), as this client does BR's work.
    static let requestSource = "internal_br"

    public func download(_ request: DownloadRequest, on store: UInt64) async throws(ImportError) -> DownloadResponse {
        var wire = try Self.wire(request)
        wire.name = request.name
        wire.sst.length = request.expected?.size ?? 0
        // As BR: the key in cipher_info, each file's iv in its SSTMeta (tidb br/pkg/restore/
        // snap_client/import.go `buildDownloadRequest`, `getSSTMetaFromFile`).
        if request.cipher != nil { wire.sst.cipherIv = Data(request.cipherIV) }
        return try await send(wire, batch: false, size: request.expected?.size, request: request, on: store)
    }

    /// As BR's `batchDownloadSST` (tidb br/pkg/restore/snap_client/import.go): `sst` names the
    /// merged file, and `ssts` maps each backup file's name to its meta, with the file's length
    /// and iv and the merged file's identity (TiKV requires the same region, epoch and cf).
    public func batchDownload(_ request: DownloadRequest, on store: UInt64) async throws(ImportError) -> DownloadResponse {
        var wire = try Self.wire(request)
        for file in request.batch {
            var meta = wire.sst
            meta.length = file.expected?.size ?? 0
            if request.cipher != nil { meta.cipherIv = Data(file.cipherIV) }
            wire.ssts[file.name] = meta
        }
        let size = request.batch.allSatisfy { $0.expected != nil } ? request.batch.reduce(0) { $0 + ($1.expected?.size ?? 0) } : nil
        return try await send(wire, batch: true, size: size, request: request, on: store)
    }

    public func offersBatchDownload(store: UInt64) -> Bool {
        endpoint(store)?.health.withLock(\.batchDownload) ?? false
    }

    /// What a Download and a BatchDownload carry alike: the target SST, the storage, the rule,
    /// the key format, the cipher.
    private static func wire(_ request: DownloadRequest) throws(ImportError) -> ImportSstpb_DownloadRequest {
        var wire = ImportSstpb_DownloadRequest()
        wire.sst = request.sst.wire
        do { wire.storageBackend = try WireStorage.backend(for: request.storage) } catch { throw .storage(error) }
        guard let rule = WireRewrite.rule(for: request.sst.range, in: request.rules, mode: request.mode, format: request.format) else {
            throw .rewrite(name: request.batch.first?.name ?? request.name, error: .wrongKeyPrefix(key: request.sst.range.start))
        }
        wire.rewriteRule = WireRewrite.wire(rule)
        wire.requestType = request.mode == .keyspace ? .keyspace : .legacy
        wire.isRawKv = request.format == .raw
        wire.sst.apiVersion = Kvrpcpb_APIVersion(rawValue: request.apiVersion) ?? .v1
        if let cipher = request.cipher { wire.cipherInfo = cipher.wire }
        wire.context.requestSource = requestSource
        if wire.requestType == .keyspace, !wire.isRawKv {
            // A Keyspace download names its range in plain keys: TiKV encodes them itself.
            do {
                wire.sst.range.start = Data(try WireRewrite.plain(request.sst.range.start))
                wire.sst.range.end = Data(try WireRewrite.plain(request.sst.range.end))
            } catch {
                throw .rewrite(name: request.batch.first?.name ?? request.name, error: .malformedKey(error))
            }
        }
        return wire
    }

    /// Sends a Download or a BatchDownload and reads its answer; `size`: the bytes it fetches,
    /// when known.
    private func send(_ wire: ImportSstpb_DownloadRequest, batch: Bool, size: UInt64?, request: DownloadRequest, on store: UInt64) async throws(ImportError) -> DownloadResponse {
        guard let endpoint = endpoint(store) else { throw .region(.storeNotAvailable(storeID: store, state: .down)) }
        var wire = wire
        wire.storageCacheID = storageCacheID
        // A remote store reports no progress until it answers: the peer shows as downloading.
        request.progress?(0)
        let response: ImportSstpb_DownloadResponse
        do {
            let client = importClient(endpoint), options = WireConnection.options(timeout: timeouts.download)
            response = try await batch ? client.batchDownload(wire, options: options) : client.download(wire, options: options)
        } catch {
            endpoint.noteCall(error)
            throw WireFailure.importError(error, store: store, method: batch ? "BatchDownload" : "Download")
        }
        endpoint.noteCall(nil)
        if response.hasError {
            let error = response.error
            throw error.hasStoreError ? ImportError(error.storeError, storeID: store) : .remote(storeID: store, message: error.message, retryable: true)
        }
        let bytes = size ?? response.length
        endpoint.meter.record(bytes)
        request.progress?(bytes)
        return DownloadResponse(
            range: KeyRange(start: Array(response.range.start), end: Array(response.range.end), endInclusive: true), isEmpty: response.isEmpty,
            entries: 0, length: response.length)
    }

    /// MultiIngest on the leader's store. TiKV answers StaleCommand for an SST that is not on
    /// its disk: never downloaded there (the leader changed), or ingested and gone. Either way the
    /// files are downloaded again and ingested again, as BR does; it is never taken as done.
    public func ingest(_ request: IngestRequest, on store: UInt64) async throws(ImportError) {
        guard let endpoint = endpoint(store) else { throw .region(.storeNotAvailable(storeID: store, state: .down)) }
        // The peer that leads, as the client last saw it (TiKV checks the context's peer).
        let route = routes.withLock { $0[request.regionID] }
        var peer = route?.leader.flatMap { $0.storeID == store ? $0 : nil } ?? route?.region.peer(onStore: store)
        if peer == nil { peer = await refreshRegion(id: request.regionID)?.peer(onStore: store) }
        var wire = ImportSstpb_MultiIngestRequest()
        wire.context = Self.context(regionID: request.regionID, epoch: request.epoch, peer: peer ?? PeerMeta(id: 0, storeID: store))
        wire.context.requestSource = Self.requestSource
        wire.ssts = request.files.map { $0.wire(regionID: request.regionID, epoch: request.epoch) }
        let response: ImportSstpb_IngestResponse
        do {
            response = try await importClient(endpoint).multiIngest(wire, options: WireConnection.options(timeout: timeouts.ingest))
        } catch {
            endpoint.noteCall(error)
            // The leader's store failed: ask PD for the next leader rather than this one again.
            routes.withLock { $0[request.regionID]?.leader = nil }
            throw WireFailure.importError(error, store: store, method: "MultiIngest", panicIsThisCall: true)
        }
        endpoint.noteCall(nil)
        guard response.hasError else { return }
        let error = ImportError(response.error, storeID: store)
        if case .region(.staleCommand) = error {
            throw .fileNotDownloaded(storeID: store, name: request.files[0].fileName(regionID: request.regionID, epoch: request.epoch))
        }
        if case let .region(regionError) = error { learn(from: regionError, regionID: request.regionID) }
        throw error
    }

    /// What a region error tells of the route: the leader NotLeader names, the regions
    /// EpochNotMatch lists in place of the stale one.
    func learn(from error: RegionError, regionID: UInt64) {
        switch error {
        case let .notLeader(_, leader?):
            routes.withLock { $0[regionID]?.leader = leader }
        case let .epochNotMatch(_, current):
            _ = routes.withLock { $0.removeValue(forKey: regionID) }
            remember(current.map { Route(region: $0, leader: nil) })
        default:
            break
        }
    }

    public func setDownloadSpeedLimit(_ bytesPerSecond: UInt64, on store: UInt64) async {
        guard let endpoint = endpoint(store) else { return }
        var request = ImportSstpb_SetDownloadSpeedLimitRequest()
        request.speedLimit = bytesPerSecond
        do {
            _ = try await importClient(endpoint).setDownloadSpeedLimit(request, options: WireConnection.options(timeout: timeouts.pd))
            endpoint.health.withLock { $0.rateLimit = bytesPerSecond }
        } catch {
            endpoint.noteCall(error)
        }
    }

    /// SwitchMode; import mode is sent again every minute while it lasts, since TiKV falls back to
    /// normal by itself after ten minutes.
    public func switchMode(_ mode: ImportMode, on store: UInt64) async throws(ImportError) {
        guard let endpoint = endpoint(store) else { throw .region(.storeNotAvailable(storeID: store, state: .down)) }
        try await sendMode(mode, to: endpoint)
        endpoint.health.withLock { $0.importMode = mode == .import }
        let anyImporting = stores.withLock { $0.values.contains { $0.health.withLock(\.importMode) } }
        modeRenewal.withLock { task in
            if !anyImporting {
                task?.cancel()
                task = nil
            } else if task == nil {
                task = Task { [weak self] in
                    while !Task.isCancelled {
                        try? await Task.sleep(for: .seconds(60))
                        guard let self, !Task.isCancelled else { return }
                        for endpoint in self.stores.withLock({ Array($0.values) }) where endpoint.health.withLock(\.importMode) {
                            try? await self.sendMode(.import, to: endpoint)
                        }
                    }
                }
            }
        }
    }

    private func sendMode(_ mode: ImportMode, to endpoint: StoreEndpoint) async throws(ImportError) {
        var request = ImportSstpb_SwitchModeRequest()
        request.mode = mode == .import ? .import : .normal
        do {
            _ = try await importClient(endpoint).switchMode(request, options: WireConnection.options(timeout: timeouts.pd))
        } catch {
            endpoint.noteCall(error)
            throw WireFailure.importError(error, store: endpoint.id, method: "SwitchMode")
        }
    }
}
