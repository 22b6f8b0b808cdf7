import ArgumentParser
import Dispatch
import Foundation
import EmbeddedCluster
import ClusterServer
import KVWire

struct ClusterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cluster",
        abstract: "Embedded clusters on TiKV's wire protocol.",
        subcommands: [ServeCommand.self]
    )
}

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve an embedded cluster as PD and TiKV stores speak it (kvproto over gRPC), until SIGINT or SIGTERM.",
        discussion: """
            Prints `pd HOST:PORT cluster-id N` and one `store ID HOST:PORT` line per store on stdout once \
            every listener is bound. Port 0 picks a free port.
            """
    )

    @Option(name: .long, help: "The cluster directory; created when new or empty.")
    var cluster: String

    @Option(name: .long, help: "PD's address.")
    var pd = "127.0.0.1:2379"

    @Option(name: .customLong("store-port"), help: "The first store's port; the others follow it (0: any free port).")
    var storePort = 20160

    @Option(name: .long, help: "Stores of a new cluster.")
    var stores = 3

    @Option(name: .long, help: "Replicas of each region in a new cluster.")
    var replicas = 3

    @Option(name: .customLong("advertise-addr"), help: "The host that PD's members and the stores are published under, as TiKV's and PD's advertise-addr (needed when --pd binds 0.0.0.0 or ::).")
    var advertiseHost: String?

    @Option(name: .customLong("storage-root"), help: "A directory that Downloads with a local backend may read under (repeatable). None: local backends are refused.")
    var storageRoots: [String] = []

    @Option(name: .customLong("allow-endpoint"), help: "An S3 endpoint that Downloads may name, as scheme://host[:port] (repeatable). AWS's own (no endpoint) is always allowed.")
    var allowedEndpoints: [String] = []

    @Option(name: .customLong("balance-interval"), help: "Seconds between runs of PD's balance-leader-scheduler, which moves leaders unless a client pauses it (0: never).")
    var balanceInterval = 60

    @OptionGroup var tls: TLSOptions

    @OptionGroup var metrics: MetricsOptions

    func validate() throws {
        guard balanceInterval >= 0 else { throw ValidationError("--balance-interval must be 0 or more seconds") }
        guard stores >= 1, replicas >= 1, replicas <= stores else { throw ValidationError("need 1 <= --replicas <= --stores") }
        guard (0...65535).contains(storePort) else { throw ValidationError("--store-port must be a port") }
        for root in storageRoots {
            var isDirectory: ObjCBool = false
            guard root.hasPrefix("/"), FileManager.default.fileExists(atPath: root, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw ValidationError("--storage-root \(root): not an absolute path to a directory")
            }
        }
        for endpoint in allowedEndpoints where StorageAccess.normalized(endpoint) == nil {
            throw ValidationError("--allow-endpoint \(endpoint): not an http(s) URL")
        }
    }

    func run() async throws {
        let address: WireAddress
        do { address = try WireAddress(parsing: pd) } catch { throw ValidationError("--pd: \(error)") }
        guard advertiseHost != nil || !["0.0.0.0", "::"].contains(address.host) else {
            throw ValidationError("--pd \(pd) listens on every address, which no client can dial: give --advertise-addr HOST")
        }
        let embedded: Cluster
        do {
            embedded = try await Cluster.open(directory: cluster, create: .init(stores: stores, replicas: replicas))
        } catch {
            throw StartFailure(error.description)
        }
        let endpoint: MetricsEndpoint?
        do { endpoint = try await metrics.start() } catch {
            await embedded.close()
            throw error
        }
        let server = await ClusterServer(cluster: embedded, pd: address, storeHost: address.host, firstStorePort: storePort, security: try tls.security,
            storageAccess: StorageAccess(localRoots: storageRoots, endpoints: allowedEndpoints), advertiseHost: advertiseHost,
            log: { FileHandle.standardError.write(Data(($0 + "\n").utf8)) })
        let bound: (pd: WireAddress, stores: [UInt64: WireAddress])
        do { bound = try await server.start() } catch {
            await embedded.close()
            throw StartFailure(error.description)
        }
        var lines = ["pd \(bound.pd) cluster-id \(server.clusterID)"]
        lines += bound.stores.sorted { $0.key < $1.key }.map { "store \($0.key) \($0.value)" }
        FileHandle.standardOutput.write(Data((lines.joined(separator: "\n") + "\n").utf8))
        FileHandle.standardError.write(Data("serving \(cluster) as PD \(bound.pd); SIGINT or SIGTERM stops\n".utf8))
        if balanceInterval > 0 { server.balanceLeaders(every: .seconds(balanceInterval)) }
        let stop = Signals.on([SIGINT, SIGTERM]) { server.stop() }
        await server.wait()
        stop.forEach { $0.cancel() }
        await endpoint?.stop()
        await embedded.close()
    }
}
