import Foundation
import Synchronization
import GRPCCore
import GRPCNIOTransportHTTP2
import ExternalStorage
import EmbeddedCluster
import KVWire

/// Serves an embedded cluster on TiKV's wire protocol: PD's client API on one address and each
/// store's SplitRegion and ImportSST on an address of its own, registered in PD's store list.
public final class ClusterServer: Sendable {
    public let cluster: Cluster
    /// The id that every PD request must carry: derived from the cluster directory, so it stays
    /// the same across restarts.
    public let clusterID: UInt64
    private let servers: [GRPCServer<HTTP2ServerTransport.Posix>]
    private let transports: [HTTP2ServerTransport.Posix]
    private let storeIDs: [UInt64]
    private let bound = AddressBook()
    private let tasks = Mutex<[Task<Void, Never>]>([])

    /// Wire payloads up to this size: a ScanRegions answer for thousands of regions is large.
    static let maxMessageBytes = 64 << 20

    /// `pd`: PD's address (port 0 picks one). Stores listen on `storeHost`, from `firstStorePort`
    /// up, one port each (0 picks any free one).
    public init(cluster: Cluster, pd: WireAddress, storeHost: String, firstStorePort: Int, security: WireSecurity?) async {
        self.cluster = cluster
        let path = URL(fileURLWithPath: cluster.directory).resolvingSymlinksInPath().path
        clusterID = SHA256Digest.hash(Array(path.utf8)).prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) } | 1
        let ids = await cluster.stores().map(\.id)
        storeIDs = ids
        let config = HTTP2ServerTransport.Posix.Config.defaults { $0.rpc.maxRequestPayloadSize = Self.maxMessageBytes }
        func transport(_ host: String, _ port: Int) -> HTTP2ServerTransport.Posix {
            HTTP2ServerTransport.Posix(address: .ipv4(host: host, port: port), transportSecurity: WireSecurity.server(security), config: config)
        }
        let pdTransport = transport(pd.host, pd.port)
        let storeTransports = ids.enumerated().map { i, _ in transport(storeHost, firstStorePort == 0 ? 0 : firstStorePort + i) }
        transports = [pdTransport] + storeTransports
        let addresses = bound
        let pdService = PDService(cluster: cluster, clusterID: clusterID, addresses: { addresses.current.withLock { $0 } })
        servers = [GRPCServer(transport: pdTransport, services: [pdService])]
            + zip(ids, storeTransports).map { id, t in GRPCServer(transport: t, services: [StoreService(cluster: cluster, storeID: id)]) }
    }

    /// Starts every listener and returns PD's address and each store's, once they are bound.
    public func start() async throws(WireError) -> (pd: WireAddress, stores: [UInt64: WireAddress]) {
        tasks.withLock { tasks in
            tasks = servers.map { server in Task { try? await server.serve() } }
        }
        var addresses: [WireAddress] = []
        for (i, transport) in transports.enumerated() {
            do {
                guard let ipv4 = try await transport.listeningAddress.ipv4 else { throw WireError.usage("not an IPv4 address") }
                addresses.append(WireAddress(host: ipv4.host, port: ipv4.port))
            } catch {
                stop()
                let what = i == 0 ? "PD" : "store \(storeIDs[i - 1])"
                throw .unreachable(what: "\(what)'s listener", address: "", reason: "cannot listen: \(error)")
            }
        }
        let served = BoundAddresses(pd: addresses[0], stores: Dictionary(uniqueKeysWithValues: zip(storeIDs, addresses.dropFirst())))
        bound.current.withLock { $0 = served }
        return (served.pd, served.stores)
    }

    /// Waits until the servers stop.
    public func wait() async {
        for task in tasks.withLock({ $0 }) { await task.value }
    }

    public func stop() {
        for server in servers { server.beginGracefulShutdown() }
    }
}

/// Where PD and each store listen, once bound.
struct BoundAddresses: Sendable {
    var pd: WireAddress
    var stores: [UInt64: WireAddress]
}

final class AddressBook: Sendable {
    let current = Mutex(BoundAddresses(pd: WireAddress(host: "", port: 0), stores: [:]))
}
