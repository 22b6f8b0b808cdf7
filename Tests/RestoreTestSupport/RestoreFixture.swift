import Foundation
import Testing
@testable import TestSupport
@testable import KeyCodec
@testable import ExternalStorage
@testable import BackupFormat
@testable import ClusterAPI
@testable import EmbeddedCluster
@testable import RestoreDriver
@testable import KVWire
@testable import RemoteCluster
@testable import ClusterServer

/// How the driver reaches the cluster: in process, or over kvproto's gRPC on loopback, to the
/// same embedded cluster served by `ClusterServer`.
enum DriverTransport: String, CaseIterable, CustomTestStringConvertible {
    case inProcess
    case grpc

    var testDescription: String { rawValue }
}

/// A backup and a fresh cluster to restore it into, with fast retry budgets.
final class RestoreFixture {
    let dir: TemporaryDirectory
    let storage: LocalStorage
    let backup: Backup
    let cluster: Cluster
    let transport: DriverTransport
    /// Over gRPC: the server in front of `cluster`, and the client the driver uses.
    private(set) var server: ClusterServer?
    private(set) var remote: RemoteCluster?
    private(set) var pdAddress: WireAddress?
    var options = RestoreOptions()

    init(
        tables: Int = 3, rows: Int = 6_000, raw: Bool = false, stores: Int = 3, transport: DriverTransport = .inProcess, wireTimeouts: WireTimeouts = WireTimeouts(),
        pdMembers: Int = 1
    ) async throws {
        self.transport = transport
        dir = try TemporaryDirectory()
        storage = LocalStorage(root: dir.file("backup"))
        var o = BackupProducer.Options()
        o.tables = tables
        o.rows = rows
        o.indexes = 1
        o.fileSize = 128 << 10
        o.raw = raw
        backup = try BackupProducer(storage: storage, options: o).produce()
        cluster = try await Cluster.open(directory: dir.file("cluster"), create: .init(stores: stores, replicas: 3))
        options.mergeSize = 400 << 10
        options.download = RetryPolicy(attempts: 4, initialBackoff: .milliseconds(10), maxBackoff: .milliseconds(50))
        options.ingest = RetryPolicy(attempts: 16, initialBackoff: .milliseconds(20), maxBackoff: .seconds(1))
        if transport == .grpc {
            let server = await ClusterServer(cluster: cluster, pd: WireAddress(host: "127.0.0.1", port: 0), pdMembers: pdMembers, storeHost: "127.0.0.1", firstStorePort: 0, security: nil,
                storageAccess: StorageAccess(localRoots: [dir.file("backup")], endpoints: []))
            let bound = try await server.start()
            self.server = server
            pdAddress = bound.pd
            remote = try await RemoteCluster.connect(pd: bound.pd, security: nil, timeouts: wireTimeouts)
        }
    }

    /// The cluster as the driver sees it.
    var client: any ClusterClient { remote ?? cluster }

    /// The checkpoint's directory: the cluster's own, or the remote client's state directory.
    var stateDirectory: String { transport == .grpc ? dir.file("state") : cluster.directory }

    func engine() async throws -> RestoreEngine {
        try await RestoreEngine.prepare(storage: storage, cluster: client, stateDirectory: stateDirectory, options: options)
    }

    /// True when the restored data matches the backup: the engine's own checksum. Over the wire,
    /// where that checksum is each region leader's (TiKV's coprocessor), the served cluster's
    /// stores are also read in process (with the remote restore's checkpoint, and so its table
    /// ids): the two must agree, figure for figure. A raw backup has no checksum over the wire.
    func checksumMatches(_ engine: RestoreEngine) async throws -> Bool {
        let own = engine.monitor.snapshot().checksumMatch
        guard transport == .grpc else { return own == true }
        let verifier = try await RestoreEngine.prepare(storage: storage, cluster: cluster, stateDirectory: stateDirectory, options: options)
        let matched = await verifier.verifyChecksum() == .matched
        if !matched {
            let regions = engine.monitor.snapshot().regions.map { "r\($0.id) \($0.phase) \($0.lastError ?? "")" }
            let events = engine.monitor.snapshot().events.map { "r\($0.regionID ?? 0) s\($0.storeID ?? 0) \($0.message)" }
            Issue.record("over the wire: \(verifier.monitor.snapshot().events.map(\.message).suffix(5)); regions \(regions); events \(events)")
        }
        if backup.isRawKV || !options.verifyChecksum { return matched && own == nil }
        #expect(Self.matchedFigures(engine) == Self.matchedFigures(verifier), "the wire checksum and the stores read in process agree: \(engine.monitor.snapshot().events.map(\.message).suffix(4))")
        return matched && own == true
    }

    /// Changes the value of a restored row (its newest write) in one store's RocksDB, behind the
    /// cluster's back.
    static func tamper(_ userKey: [UInt8], in db: RocksDatabase) throws {
        var found: ([UInt8], [UInt8])?
        try db.scan(cf: .write, from: DataKey.make(Memcomparable.encode(userKey))) { k, v in
            found = (Array(k), Array(v))
            return false
        }
        let (key, value) = try #require(found)
        var record = try WriteRecord(decoding: value)
        record.shortValue = Array("tampered".utf8)
        try db.put(key, record.encoded, cf: .write)
    }

    /// The figures of the checksum that matched, as the engine logs them.
    static func matchedFigures(_ engine: RestoreEngine) -> String? {
        engine.monitor.snapshot().events.map(\.message).first { $0.hasPrefix("checksum matched:") }
    }

    /// Closes the client, the server and the cluster.
    func close() async {
        await remote?.close()
        server?.stop()
        await server?.wait()
        await cluster.close()
    }

    /// Every data key of `cf` on a store, read with `ldb` (an independent reader), as user keys.
    func ldbUserKeys(store: UInt64, cf: ColumnFamily, raw: Bool = false) throws -> [[UInt8]] {
        let out = try runProgram("ldb", ["--db=\(dir.file("cluster"))/stores/\(store)/db", "--column_family=\(cf.name)", "--hex", "scan"])
        #expect(out.status == 0, "ldb: \(out.stderr)")
        return out.stdout.split(separator: "\n").compactMap { line in
            guard let hex = line.split(separator: " ").first, let key = [UInt8](hex: String(hex)), key.first == DataKey.prefix else { return nil }
            return raw ? Array(key.dropFirst()) : try? MVCCKey(decoding: key.dropFirst()).userKey
        }
    }
}
