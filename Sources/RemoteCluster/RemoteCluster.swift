import Foundation
import Synchronization
import GRPCCore
import GRPCNIOTransportHTTP2
import KeyCodec
import ExternalStorage
import ClusterAPI
import KVProto
import KVProtoGRPC
import KVWire

/// A TiKV cluster reached over kvproto: PD for the stores and regions, split and scatter; each
/// store's ImportSST for Download and MultiIngest, in the order BR sends them. It cannot read the
/// stores, so a restore through it has no checksum of its own and no fault drills.
public final class RemoteCluster: ClusterClient {
    public let location: String
    /// How many voters the regions keep, as the first regions PD lists show it.
    public var replicas: Int { replicaCount.withLock { $0 } }
    let replicaCount = Mutex(3)
    /// PD's cluster id, sent in every PD request's header.
    public let clusterID: UInt64
    let pd: PDLeader
    let security: WireSecurity?
    let stores = Mutex<[UInt64: StoreEndpoint]>([:])
    /// The client's view of each region and its leader, refreshed from PD and from errors.
    let routes = Mutex<[UInt64: Route]>([:])
    let modeRenewal = Mutex<Task<Void, Never>?>(nil)
    /// Sent with every Download, so that each TiKV builds its storage client (an S3 client, say)
    /// once for the restore, as BR's `cacheKey` (tidb br/pkg/restore/snap_client/import.go).
    let storageCacheID = "restore-console-\(Int(Date().timeIntervalSince1970))-\(UInt64.random(in: 0...UInt64.max))"
    /// When PD's store list was last read.
    let storesRead = Mutex(ContinuousClock.now)
    /// PD's schedulers paused for the restore, until they are set back.
    let schedulePause = Mutex<SchedulePause?>(nil)

    let timeouts: WireTimeouts

    struct Route: Sendable {
        var region: Region
        var leader: PeerMeta?
        /// Peers PD lists as pending (not yet caught up), when the answer said.
        var pendingPeers = 0

        init(region: Region, leader: PeerMeta?) {
            self.region = region
            self.leader = leader
        }

        /// As PD answers: a leader with id 0 (or none) means the region has no leader now.
        init(_ region: Metapb_Region, leader: Metapb_Peer?) {
            self.init(region: Region(region), leader: leader.flatMap { $0.id == 0 ? nil : PeerMeta($0) })
        }
    }

    /// A store as PD lists it, with its connection and what the client has seen of it.
    final class StoreEndpoint: Sendable {
        let id: UInt64
        let connection: WireConnection
        let meter = ThroughputMeter()
        let health = Mutex<Health>(.init())

        struct Health {
            /// As PD last listed it (up, or down when its heartbeats stopped), or panicked, as the
            /// store itself said; never inferred from one failed call.
            var state: StoreState = .up
            /// Whether the last call to it got through: a hint for routing, not its state.
            var reachable = true
            var rateLimit: UInt64 = 0
            var importMode = false
            /// It answered the BatchDownload probe (TiKV v8.5.5 and newer).
            var batchDownload = false
        }

        init(id: UInt64, connection: WireConnection) {
            self.id = id
            self.connection = connection
        }

        /// What a call to the store showed: it answered (nil), or how it failed.
        func noteCall(_ error: (any Error)?) {
            health.withLock { health in
                guard let error else { return health.reachable = true }
                health.reachable = WireFailure.state(of: error) == .up
                if case let .panicked(reason) = WireFailure.state(of: error) { health.state = .panicked(reason: reason) }
            }
        }

        /// PD's view of the store; a panic the store reported is for good.
        func setListedState(_ state: StoreState) {
            health.withLock { health in
                if case .panicked = health.state { return }
                health.state = state
            }
        }
    }

    private init(pd: PDLeader, given: [WireAddress], security: WireSecurity?, clusterID: UInt64, timeouts: WireTimeouts) {
        self.pd = pd
        self.timeouts = timeouts
        self.security = security
        self.clusterID = clusterID
        location = "PD \(given.map(\.description).joined(separator: ","))"
    }

    /// Connects to PD's leader (found from any of `members`), lists the stores, and checks that
    /// each one implements MultiIngest. Fails with a message that names the address and the cause.
    public static func connect(pd members: [WireAddress], security: WireSecurity?, timeouts: WireTimeouts = WireTimeouts()) async throws(WireError) -> RemoteCluster {
        let (leader, members_) = try await PDLeader.connect(members, security: security)
        if members_.header.error.type != .ok {
            await leader.close()
            throw .protocolError(what: "PD at \(leader.address)", reason: members_.header.error.message)
        }
        let cluster = RemoteCluster(pd: leader, given: members, security: security, clusterID: members_.header.clusterID, timeouts: timeouts)
        do {
            try await cluster.loadStores()
            try await cluster.probeMultiIngest()
        } catch {
            await cluster.close()
            throw error
        }
        if let seen = try? await cluster.scan(KeyRange(start: [], end: []), limit: 128).map(\.region.voters.count).max() {
            cluster.replicaCount.withLock { $0 = seen }
        }
        return cluster
    }

    public static func connect(pd address: WireAddress, security: WireSecurity?, timeouts: WireTimeouts = WireTimeouts()) async throws(WireError) -> RemoteCluster {
        try await connect(pd: [address], security: security, timeouts: timeouts)
    }

    /// Every store PD lists that is not a tombstone nor TiFlash, with a connection to each and the
    /// state PD gives it: down once its heartbeats stopped for `StoreHeartbeat.disconnected` (PD's
    /// own rule for a disconnected store, tikv/pd pkg/core/store.go `IsDisconnected`).
    func loadStores() async throws(WireError) {
        var request = Pdpb_GetAllStoresRequest()
        request.header = header
        request.excludeTombstoneStores = true
        let response: Pdpb_GetAllStoresResponse
        do { response = try await pd.call { try await $0.getAllStores(request, options: WireConnection.options(timeout: timeouts.pd)) } } catch {
            throw .protocolError(what: "PD at \(pd.address)", reason: WireFailure.reason(error))
        }
        try Self.check(response.header, from: "PD at \(pd.address)")
        // Each endpoint joins `stores` as soon as it exists, so that `close` closes it whatever fails next.
        let now = Int64(Date().timeIntervalSince1970 * 1e9)
        for store in response.stores where store.state != .tombstone {
            guard !store.labels.contains(where: { $0.key == "engine" && $0.value.lowercased().contains("tiflash") }) else { continue }
            let heard = store.lastHeartbeat > 0 && now - store.lastHeartbeat < Int64(StoreHeartbeat.disconnected.components.seconds) * 1_000_000_000
            if let known = endpoint(store.id) {
                known.setListedState(heard ? .up : .down)
                continue
            }
            let address = try WireAddress(parsing: store.peerAddress.isEmpty ? store.address : store.peerAddress)
            let made = StoreEndpoint(id: store.id, connection: try WireConnection(address, security: security))
            made.setListedState(heard ? .up : .down)
            stores.withLock { $0[store.id] = made }
        }
        storesRead.withLock { $0 = .now }
        guard !stores.withLock(\.isEmpty) else { throw .protocolError(what: "PD at \(pd.address)", reason: "lists no TiKV store that is up") }
    }

    /// BR's probe: an empty MultiIngest to every store. UNIMPLEMENTED means a TiKV too old.
    func probeMultiIngest() async throws(WireError) {
        for endpoint in stores.withLock({ Array($0.values) }).sorted(by: { $0.id < $1.id }) {
            do {
                try await probe(endpoint, timeout: .seconds(5))
            } catch let error as RPCError where error.code == .unimplemented {
                throw .protocolError(what: "store \(endpoint.id) at \(endpoint.connection.address)", reason: "does not implement ImportSST.MultiIngest (TiKV 5.0 or newer is needed)")
            } catch {
                endpoint.noteCall(error)
            }
            await probeBatchDownload(endpoint)
        }
    }

    /// A BatchDownload of no files: a store that has the method refuses it in the response (tikv
    /// src/import/sst_service.rs: "batch_download method only accepts multi-file requests"), one
    /// without answers UNIMPLEMENTED, and its files are then downloaded one by one.
    func probeBatchDownload(_ endpoint: StoreEndpoint) async {
        let answered: Bool
        do {
            _ = try await importClient(endpoint).batchDownload(ImportSstpb_DownloadRequest(), options: WireConnection.options(timeout: .seconds(5)))
            answered = true
        } catch {
            answered = false
        }
        endpoint.health.withLock { $0.batchDownload = answered }
    }

    /// An empty MultiIngest: BR's probe of the method, and the question whether a store answers.
    func probe(_ endpoint: StoreEndpoint, timeout: Duration) async throws {
        _ = try await importClient(endpoint).multiIngest(ImportSstpb_MultiIngestRequest(), options: WireConnection.options(timeout: timeout))
    }

    static func check(_ header: Pdpb_ResponseHeader, from what: String) throws(WireError) {
        guard header.error.type == .ok else { throw .protocolError(what: what, reason: "\(header.error.type): \(header.error.message)") }
    }

    var header: Pdpb_RequestHeader {
        var header = Pdpb_RequestHeader()
        header.clusterID = clusterID
        header.callerComponent = "restore-console"
        return header
    }


    func importClient(_ endpoint: StoreEndpoint) -> ImportSstpb_ImportSST.Client<HTTP2Transport> {
        ImportSstpb_ImportSST.Client(wrapping: endpoint.connection.client)
    }

    func endpoint(_ store: UInt64) -> StoreEndpoint? { stores.withLock { $0[store] } }

    /// Sets back what the restore changed, then closes.
    public func close() async {
        for notice in await setBack() { FileHandle.standardError.write(Data("warning: \(notice)\n".utf8)) }
        for endpoint in stores.withLock({ Array($0.values) }) { await endpoint.connection.close() }
        await pd.close()
    }

    /// Sets back what a restore changed on the cluster, whichever way it ends (a quit or a failure
    /// may not have): every store in normal mode with no speed limit, PD's schedulers resumed and
    /// its config restored. Returns what could not be set back. Calls in flight may go on.
    public func setBack() async -> [String] {
        // The renewal stops first, so that no Import it sends can arrive after the Normal below.
        let renewal = modeRenewal.withLock { task in
            defer { task = nil }
            return task
        }
        renewal?.cancel()
        await renewal?.value
        // PD first (its pauses would hold for 5 minutes more), then every store at once.
        let notices = await resumeSchedulers()
        await withTaskGroup(of: Void.self) { group in
            for endpoint in stores.withLock({ Array($0.values) }) {
                group.addTask {
                    if endpoint.health.withLock({ $0.importMode }) { try? await self.switchMode(.normal, on: endpoint.id) }
                    if endpoint.health.withLock({ $0.rateLimit }) != 0 { await self.setDownloadSpeedLimit(0, on: endpoint.id) }
                }
            }
        }
        return notices
    }

    // MARK: PD's schedulers

    var pdHTTP: PDHTTP { PDHTTP(addresses: { [pd] in pd.addresses }, security: security) }

    /// Pauses PD's balance schedulers and sets its schedule config for the restore, as BR does,
    /// recording what it changes at `recordPath` first. Returns what the operator should know.
    public func pauseSchedulers(recordAt recordPath: String) async throws(WireError) -> [String] {
        let (pause, notices) = try await SchedulePause.begin(pdHTTP, stores: stores.withLock(\.count), recordPath: recordPath)
        schedulePause.withLock { $0 = pause }
        return notices
    }

    /// Resumes what `pauseSchedulers` paused (once); returns what PD did not take.
    public func resumeSchedulers() async -> [String] {
        guard let pause = schedulePause.withLock({ $0.take() }) else { return [] }
        let failures = await pause.end()
        return failures.isEmpty ? [] : ["PD's schedule was not all set back (PD resumes each pause by itself within \(SchedulePause.pauseSeconds) s): " + failures.joined(separator: "; ")]
    }

    /// The balance schedulers that PD has paused now.
    public func pausedSchedulers() async throws(WireError) -> [String] {
        try await SchedulePause.pausedNow(pdHTTP)
    }

    // MARK: stores

    /// The stores as PD lists them, read again at most every `StoreHeartbeat.reread` (a store that
    /// joined since is listed too), each in the state PD gives it. BR probes MultiIngest once;
    /// asking every store every second would log an import error on each TiKV each time.
    public func stores() async -> [StoreInfo] {
        if storesRead.withLock({ ContinuousClock.now - $0 > StoreHeartbeat.reread }) { try? await loadStores() }
        let endpoints = stores.withLock { Array($0.values) }.sorted { $0.id < $1.id }
        return endpoints.map { StoreInfo(id: $0.id, address: $0.connection.address.description, state: $0.health.withLock { $0.state }) }
    }

    public func traffic(of store: UInt64) -> StoreTraffic? {
        endpoint(store).map { StoreTraffic(bytesPerSecond: $0.meter.bytesPerSecond, totalBytes: $0.meter.totalBytes, rateLimit: $0.health.withLock { $0.rateLimit }) }
    }
}

typealias HTTP2Transport = HTTP2ClientTransport.Posix

/// How long each kind of call may take before it counts as failed (and is retried).
public struct WireTimeouts: Sendable {
    /// PD requests, SplitRegion, SwitchMode: short.
    public var pd = Duration.seconds(10)
    /// Download: a whole file, under the store's rate limit: BR's 25 minutes
    /// (tidb br/pkg/restore/snap_client/import.go `gRPCTimeOut`).
    public var download = Duration.seconds(1_500)
    /// MultiIngest: BR sets no deadline of its own; ours is as long as a Download's.
    public var ingest = Duration.seconds(1_500)
    /// A region's checksum: a scan of the region, client-go's `ReadTimeoutMedium` for requests
    /// that may scan a region (tikv/client-go internal/client/client.go).
    public var checksum = Duration.seconds(60)

    public init() {}
}

/// How the client reads PD's store list.
enum StoreHeartbeat {
    /// A store PD has not heard from for this long is disconnected (tikv/pd pkg/core/store.go,
    /// `storeDisconnectDuration`): the client shows it down.
    static let disconnected = Duration.seconds(20)
    /// How often the client reads the list again.
    static let reread = Duration.seconds(2)
}
