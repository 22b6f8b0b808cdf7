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
    private let security: WireSecurity?
    /// What a Download may fetch (never the cluster's own directory).
    private let storageAccess: StorageAccess
    private let storeIDs: [UInt64]
    private let bound = AddressBook()
    let faults = WireFaults()
    /// PD's members' endpoints first, then each store's, in `storeIDs` order.
    private let endpoints: Mutex<[Endpoint]>
    /// Which PD member leads: the others answer UNAVAILABLE "not leader", as PD's followers do.
    private let membership: PDMembership
    /// TiKV's rules that the clients broke (none, for a client that keeps them).
    public let rules = TiKVRules()
    /// PD's schedulers and schedule config, served by the HTTP API on PD's port.
    public let schedule: ServedSchedule
    /// Where each PD member's port listens (gRPC and HTTP on one port, as PD's client URL).
    private let pdListen: [WireAddress]
    private let muxes = Mutex<[Int: PDPortMux]>([:])
    private let balancing = Mutex<Task<Void, Never>?>(nil)

    /// Wire payloads up to this size: a ScanRegions answer for thousands of regions is large.
    static let maxMessageBytes = 64 << 20
    /// Calls in flight on one connection, as TiKV's `server.grpc-concurrent-stream` default
    /// (tikv etc/config-template.toml): BR's 128 Downloads and 128 MultiIngests per store, with
    /// room for the calls that switch modes and set limits beside them.
    static let maxStreamsPerConnection = 1_024

    /// One listener and the server on it.
    private struct Endpoint {
        var transport: HTTP2ServerTransport.Posix
        var server: GRPCServer<HTTP2ServerTransport.Posix>
        var task: Task<Void, Never>?
    }

    /// `pd`: PD's address (port 0 picks one); `pdMembers` more than one serves that many PD
    /// members (the others on free ports), the first leading. Stores listen on `storeHost`, from
    /// `firstStorePort` up, one port each (0 picks any free one). `storageAccess`: what a Download
    /// may fetch.
    /// `advertiseHost`: the host that PD's members and the stores are published under (in
    /// GetMembers and GetAllStores), as TiKV's and PD's `advertise-addr`; nil publishes the bound one.
    /// `log`: where PD's schedule changes are said.
    public init(
        cluster: Cluster, pd: WireAddress, pdMembers: Int = 1, storeHost: String, firstStorePort: Int, security: WireSecurity?, storageAccess: StorageAccess,
        advertiseHost: String? = nil, log: (@Sendable (String) -> Void)? = nil
    ) async {
        schedule = ServedSchedule(version: PDService.tikvVersion, log: log)
        self.cluster = cluster
        self.security = security
        self.storageAccess = storageAccess.excluding(cluster.directory)
        let path = URL(fileURLWithPath: cluster.directory).resolvingSymlinksInPath().path
        clusterID = SHA256Digest.hash(Array(path.utf8)).prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) } | 1
        let ids = await cluster.stores().map(\.id)
        storeIDs = ids
        let addresses = bound
        addresses.current.withLock { $0.advertiseHost = advertiseHost }
        membership = PDMembership(count: max(1, pdMembers))
        var made: [Endpoint] = []
        let (timestamps, safePoints) = (TimestampOracle(), ServiceSafePoints())
        for member in 0..<membership.count {
            let service = PDService(
                cluster: cluster, clusterID: clusterID, member: member, membership: membership, addresses: { addresses.current.withLock { $0 } },
                timestamps: timestamps, safePoints: safePoints, scheme: security == nil ? "http" : "https", faults: faults)
            // The member's gRPC server listens on loopback; its port's listener relays to it.
            made.append(Self.endpoint(WireAddress(host: "127.0.0.1", port: 0), security: nil, service: service))
        }
        pdListen = (0..<membership.count).map { WireAddress(host: pd.host, port: $0 == 0 ? pd.port : 0) }
        for (i, id) in ids.enumerated() {
            let address = WireAddress(host: storeHost, port: firstStorePort == 0 ? 0 : firstStorePort + i)
            made.append(Self.endpoint(address, security: security, service: StoreService(cluster: cluster, storeID: id, faults: faults, storageAccess: self.storageAccess, rules: rules)))
        }
        endpoints = Mutex(made)
    }

    private static func endpoint(_ address: WireAddress, security: WireSecurity?, service: any RegistrableRPCService) -> Endpoint {
        let config = HTTP2ServerTransport.Posix.Config.defaults { config in
            config.rpc.maxRequestPayloadSize = maxMessageBytes
            // A bound on a connection's calls in flight, said in HTTP/2's SETTINGS.
            config.http2.maxConcurrentStreams = maxStreamsPerConnection
        }
        let bind: GRPCNIOTransportCore.SocketAddress = address.host.contains(":") ? .ipv6(host: address.host, port: address.port) : .ipv4(host: address.host, port: address.port)
        let transport = HTTP2ServerTransport.Posix(address: bind, transportSecurity: WireSecurity.server(security), config: config)
        return Endpoint(transport: transport, server: GRPCServer(transport: transport, services: [service]))
    }

    /// Starts every listener and returns PD's address and each store's, once they are bound.
    public func start() async throws(WireError) -> (pd: WireAddress, stores: [UInt64: WireAddress]) {
        var addresses: [WireAddress] = []
        let pdCount = membership.count
        for i in 0..<(pdCount + storeIDs.count) {
            do {
                let bound = try await serve(i)
                guard i < pdCount else {
                    addresses.append(bound)
                    continue
                }
                let mux = try await PDPortMux.start(on: pdListen[i], grpc: bound, security: security, api: schedule)
                muxes.withLock { $0[i] = mux }
                addresses.append(mux.address)
            } catch {
                stop()
                throw .unreachable(what: i < pdCount ? "PD's listener" : "store \(storeIDs[i - pdCount])'s listener", address: "", reason: "cannot listen: \(error)")
            }
        }
        let served = bound.current.withLock { current in
            current.pdMembers = Array(addresses.prefix(pdCount))
            current.stores = Dictionary(uniqueKeysWithValues: zip(storeIDs, addresses.dropFirst(pdCount)))
            return current
        }
        return (served.published(served.pd), served.stores.mapValues(served.published))
    }

    /// Every PD member's address, the first one first.
    public var pdMembers: [WireAddress] { bound.current.withLock { bound in bound.pdMembers.map(bound.published) } }

    /// Makes PD member `member` the leader: the others answer "not leader" from now on.
    public func movePDLeader(to member: Int) {
        membership.leader.store(member, ordering: .sequentiallyConsistent)
    }

    /// Closes PD member `member`'s listener, as when that PD stops.
    public func stopServing(pdMember member: Int) async {
        muxes.withLock { $0.removeValue(forKey: member) }?.stop()
        let (server, task) = endpoints.withLock { ($0[member].server, $0[member].task) }
        server.beginGracefulShutdown()
        await task?.value
    }

    /// Runs endpoint `i`'s server and returns the address it listens on.
    private func serve(_ i: Int) async throws -> WireAddress {
        let transport = endpoints.withLock { endpoints in
            let server = endpoints[i].server
            endpoints[i].task = Task { try? await server.serve() }
            return endpoints[i].transport
        }
        let listening = try await transport.listeningAddress
        if let ipv4 = listening.ipv4 { return WireAddress(host: ipv4.host, port: ipv4.port) }
        if let ipv6 = listening.ipv6 { return WireAddress(host: ipv6.host, port: ipv6.port) }
        throw WireError.usage("not an IP address")
    }

    /// Waits until the servers stop.
    public func wait() async {
        for task in endpoints.withLock({ $0.compactMap(\.task) }) { await task.value }
    }

    public func stop() {
        balancing.withLock { $0 }?.cancel()
        for mux in muxes.withLock({ $0.values }) { mux.stop() }
        for endpoint in endpoints.withLock({ $0 }) { endpoint.server.beginGracefulShutdown() }
    }

    /// Runs PD's `balance-leader-scheduler` on the embedded PD every `interval`, while it is not
    /// paused: each store comes to lead about as many regions as the others, and leaders move
    /// under any client that is not pausing it, as in a TiKV cluster.
    public func balanceLeaders(every interval: Duration) {
        let (pd, schedule) = (cluster.pd, schedule)
        let task = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                guard !Task.isCancelled, schedule.isRunning("balance-leader-scheduler") else { continue }
                try? await pd.balanceLeaders(pd.allRegions.map(\.id))
            }
        }
        balancing.withLock { $0 = task }
    }

    // MARK: faults on the wire

    /// Closes a store's listener: its clients see connections refused, as when TiKV stops.
    public func stopServing(store: UInt64) async {
        guard let i = storeIDs.firstIndex(of: store).map({ $0 + membership.count }) else { return }
        let (server, task) = endpoints.withLock { ($0[i].server, $0[i].task) }
        server.beginGracefulShutdown()
        await task?.value
    }

    /// Listens again on the store's address.
    public func resumeServing(store: UInt64) async throws {
        guard let i = storeIDs.firstIndex(of: store).map({ $0 + membership.count }), let address = bound.current.withLock({ $0.stores[store] }) else { return }
        let fresh = Self.endpoint(address, security: security, service: StoreService(cluster: cluster, storeID: store, faults: faults, storageAccess: storageAccess, rules: rules))
        endpoints.withLock { $0[i] = fresh }
        _ = try await serve(i)
    }

    /// The next `count` GetOperator answers for a scatter say it ended in TIMEOUT, as PD's do
    /// when a scatter's steps do not finish.
    public func timeOutScatters(_ count: Int) { faults.timeOutScatters(count) }

    /// The next `count` checksums race a change of their region: before each is read, the region's
    /// leader moves to another store (then its split, for the next), as they may between a
    /// client's lookup and its request; the request then finds NotLeader or EpochNotMatch.
    public func raceChecksums(_ count: Int) { faults.raceChecksums(count) }

    /// How many times PD was asked to scatter each region.
    public var scatterRequests: [UInt64: Int] { faults.scattered.withLock { $0 } }

    /// Every reply of the store comes this much later (a slow disk or network).
    public func delayReplies(store: UInt64, by delay: Duration) {
        faults.delayReplies(store: store, by: delay)
    }
}

/// Where PD's members and each store listen, once bound.
struct BoundAddresses: Sendable {
    var pdMembers: [WireAddress]
    var stores: [UInt64: WireAddress]
    var advertiseHost: String?

    /// The address clients are told: the advertised host with the bound port.
    func published(_ address: WireAddress) -> WireAddress {
        advertiseHost.map { WireAddress(host: $0, port: address.port) } ?? address
    }

    /// The first member's address.
    var pd: WireAddress { pdMembers.first ?? WireAddress(host: "", port: 0) }
}

/// Which of the served PD members leads.
final class PDMembership: Sendable {
    let count: Int
    let leader = Atomic<Int>(0)

    init(count: Int) {
        self.count = count
    }
}

final class AddressBook: Sendable {
    let current = Mutex(BoundAddresses(pdMembers: [], stores: [:]))
}

/// Faults that only the wire has, for the tests; the server asks this seam only, and until a test
/// arms a fault the answer is a relaxed atomic load. (It also counts the scatters asked.)
final class WireFaults: Sendable {
    private let armed = Atomic<Bool>(false)
    private let delays = Mutex<[UInt64: Duration]>([:])
    /// Scatter operators still to report as timed out (then as done), and the scatters asked.
    private let scatterTimeouts = Mutex(0)
    let scattered = Mutex<[UInt64: Int]>([:])
    /// Checksums still to race a change of their region, and how many have.
    private let checksumRaces = Mutex(0)
    let checksumRaced = Atomic(0)

    func delayReplies(store: UInt64, by delay: Duration) {
        delays.withLock { $0[store] = delay }
        armed.store(true, ordering: .relaxed)
    }

    func timeOutScatters(_ count: Int) {
        scatterTimeouts.withLock { $0 = count }
        armed.store(true, ordering: .relaxed)
    }

    func raceChecksums(_ count: Int) {
        checksumRaces.withLock { $0 = count }
        armed.store(true, ordering: .relaxed)
    }

    /// How long the store's replies wait, if a test slowed it.
    func delay(of store: UInt64) -> Duration? {
        guard armed.load(ordering: .relaxed) else { return nil }
        return delays.withLock { $0[store] }
    }

    /// Takes one scatter to answer TIMEOUT; false when none is left.
    func takeScatterTimeout() -> Bool {
        guard armed.load(ordering: .relaxed) else { return false }
        return Self.take(scatterTimeouts)
    }

    /// Takes one race: nil when none is left, else its ordinal (0, 1, ...).
    func takeChecksumRace() -> Int? {
        guard armed.load(ordering: .relaxed), Self.take(checksumRaces) else { return nil }
        return checksumRaced.add(1, ordering: .relaxed).oldValue
    }

    private static func take(_ counter: borrowing Mutex<Int>) -> Bool {
        counter.withLock { left in
            guard left > 0 else { return false }
            left -= 1
            return true
        }
    }
}
