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
        guard let endpoint = endpoint(store) else { throw .region(.storeNotAvailable(storeID: store, state: .down)) }
        var wire = ImportSstpb_DownloadRequest()
        wire.sst = request.sst.wire
        wire.sst.length = request.expected?.size ?? 0
        wire.name = request.name
        do { wire.storageBackend = try WireStorage.backend(for: request.storage) } catch { throw .storage(error) }
        guard let rule = WireRewrite.rule(for: request.sst.range, in: request.rules, mode: request.mode, format: request.format) else {
            throw .rewrite(name: request.name, error: .wrongKeyPrefix(key: request.sst.range.start))
        }
        wire.rewriteRule = WireRewrite.wire(rule)
        wire.requestType = request.mode == .keyspace ? .keyspace : .legacy
        wire.isRawKv = request.format == .raw
        wire.storageCacheID = storageCacheID
        wire.sst.apiVersion = Kvrpcpb_APIVersion(rawValue: request.apiVersion) ?? .v1
        // As BR: the key in cipher_info, each file's iv in its SSTMeta (tidb br/pkg/restore/
        // snap_client/import.go `buildDownloadRequest`, `getSSTMetaFromFile`).
        if let cipher = request.cipher {
            wire.cipherInfo = cipher.wire
            wire.sst.cipherIv = Data(request.cipherIV)
        }
        wire.context.requestSource = Self.requestSource
        if wire.requestType == .keyspace, !wire.isRawKv {
            // A Keyspace download names its range in plain keys: TiKV encodes them itself.
            do {
                wire.sst.range.start = Data(try WireRewrite.plain(request.sst.range.start))
                wire.sst.range.end = Data(try WireRewrite.plain(request.sst.range.end))
            } catch {
                throw .rewrite(name: request.name, error: .malformedKey(error))
            }
        }
        // A remote store reports no progress until it answers: the peer shows as downloading.
        request.progress?(0)
        let response: ImportSstpb_DownloadResponse
        do {
            response = try await importClient(endpoint).download(wire, options: WireConnection.options(timeout: timeouts.download))
        } catch {
            endpoint.noteCall(error)
            throw WireFailure.importError(error, store: store, method: "Download")
        }
        endpoint.noteCall(nil)
        if response.hasError {
            let error = response.error
            throw error.hasStoreError ? ImportError(error.storeError, storeID: store) : .remote(storeID: store, message: error.message, retryable: true)
        }
        let size = request.expected?.size ?? response.length
        endpoint.meter.record(size)
        request.progress?(size)
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
