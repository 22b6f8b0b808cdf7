import Foundation
import KeyCodec
import ExternalStorage
import ClusterAPI

/// The embedded cluster: stores with real RocksDB instances under `<dir>/stores/<id>`, the
/// placement driver, the Raft groups of every region, and the clock that drives them.
public final class Cluster: Sendable {
    public static let formatName = "restore-console-cluster"
    public static let formatVersion = 1
    /// The description's name while it is written.
    static let creatingName = "cluster.json.creating"
    /// One Raft tick.
    public static let tickInterval: Duration = .milliseconds(10)

    public struct Configuration: Codable, Sendable, Equatable {
        public var format: String
        public var version: Int
        public var stores: Int
        public var replicas: Int

        public init(stores: Int, replicas: Int) {
            format = Cluster.formatName
            version = Cluster.formatVersion
            self.stores = stores
            self.replicas = replicas
        }
    }

    public let directory: String
    public let configuration: Configuration
    public let stores: [UInt64: Store]
    public let pd: PlacementDriver
    public let transport: Transport
    /// Each store's ImportSST service.
    public let importers: [UInt64: ImportService]
    private let clock: Task<Void, Never>

    private init(directory: String, configuration: Configuration, stores: [UInt64: Store], pd: PlacementDriver, transport: Transport, awake: AwakeRegions) {
        self.directory = directory
        self.configuration = configuration
        self.stores = stores
        self.pd = pd
        self.transport = transport
        importers = stores.mapValues { ImportService(store: $0, pd: pd) }
        clock = Task.detached {
            while !Task.isCancelled {
                try? await Task.sleep(for: Cluster.tickInterval)
                // Side by side, so that the groups' writes share their stores' fsyncs.
                await withDiscardingTaskGroup { ticks in
                    // A group takes itself off the list when it has nothing left to do.
                    for group in awake.all {
                        ticks.addTask { _ = await group.tick() }
                    }
                }
            }
        }
    }

    deinit { clock.cancel() }

    /// Stops the clock and every region's group, then closes the stores' databases once their
    /// pending compactions are done. Call it when nothing else uses the cluster.
    public func close() async {
        clock.cancel()
        await clock.value
        await pd.shutdown()
        for importer in importers.values { importer.downloadFiles.removeAll() }
        // Side by side: each store's last merge of its small tables is a compaction of its own,
        // and after a restore of many small files one store after another took seconds.
        await withTaskGroup(of: Void.self) { group in
            for store in stores.values { group.addTask { await BlockingIO.run { store.close() } } }
        }
    }

    /// Opens the cluster in `directory`, or creates one there (with `create`'s layout) when the
    /// directory is missing or empty. Anything else there is refused. Each store's RocksDB keeps at
    /// most `maxOpenFilesPerStore` SSTs open (by default, what the process's open-files limit
    /// leaves with the default concurrency).
    public static func open(directory: String, create: Configuration? = nil, maxOpenFilesPerStore: Int? = nil) async throws(ClusterError) -> Cluster {
        let path = (directory as NSString).standardizingPath
        let metaPath = path + "/cluster.json"
        let fm = FileManager.default
        let configuration: Configuration
        var isNew = false
        if let config = try readConfiguration(directory: path) {
            configuration = config
        } else {
            guard let create else { throw .notACluster(path: path) }
            guard create.stores >= 1, create.replicas >= 1, create.replicas <= create.stores else {
                throw .invalidConfiguration("need 1 <= replicas (\(create.replicas)) <= stores (\(create.stores))")
            }
            do {
                try fm.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
                // Written under a name of our own and renamed, so that a kill at any instant leaves
                // either no description or a whole one, and nothing else in the directory.
                let creating = path + "/" + creatingName
                try JSONEncoder().encode(create).write(to: URL(fileURLWithPath: creating))
                chmod(creating, 0o600)
                guard rename(creating, metaPath) == 0 else { throw ClusterError.io(path: metaPath, reason: String(cString: strerror(errno))) }
            } catch {
                throw .io(path: path, reason: "cannot create the cluster: \(error)")
            }
            configuration = create
            isNew = true
        }
        var stores: [UInt64: Store] = [:]
        // By default, what the restore's default concurrency leaves.
        let perStore = maxOpenFilesPerStore ?? OpenFileBudget(
            limit: OpenFileBudget.processLimit, stores: configuration.stores, downloadsPerStore: ImportConcurrency.downloadsPerStore,
            concurrentIngests: ImportConcurrency.concurrentIngests
        ).perStore
        for id in 1...UInt64(configuration.stores) { stores[id] = try Store(id: id, clusterDirectory: path, maxOpenFiles: perStore) }
        let transport = Transport()
        let awake = AwakeRegions()
        let pd = PlacementDriver(directory: path, stores: stores, transport: transport, awake: awake, replicas: configuration.replicas)
        if isNew || !fm.fileExists(atPath: path + "/pd.json") {
            try await pd.bootstrap()
        } else {
            try await pd.load()
        }
        return Cluster(directory: path, configuration: configuration, stores: stores, pd: pd, transport: transport, awake: awake)
    }

    /// The description of the cluster in `directory` (standardized); nil for a directory that is
    /// missing or empty, or that a creation killed before its description landed. Anything else
    /// there is refused.
    static func readConfiguration(directory path: String) throws(ClusterError) -> Configuration? {
        let metaPath = path + "/cluster.json"
        guard let data = FileManager.default.contents(atPath: metaPath) else {
            let contents = ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).filter { $0 != creatingName }
            guard contents.isEmpty else { throw .notACluster(path: path) }
            return nil
        }
        guard let config = try? JSONDecoder().decode(Configuration.self, from: data), config.format == formatName else {
            throw .corruptMetadata(path: metaPath, reason: "not a restore-console cluster description")
        }
        guard config.version <= formatVersion else { throw .unsupportedFormat(path: path, version: config.version) }
        return config
    }

    public func store(_ id: UInt64) -> Store? { stores[id] }

    // MARK: faults and drills

    /// Takes a store down (its peers stop; the others elect new leaders if they keep a quorum) or up.
    public func setStore(_ id: UInt64, up: Bool) async throws(ClusterError) {
        guard let store = stores[id] else { throw .invalidConfiguration("no store \(id)") }
        try store.setState(up ? .up : .down)
        await pd.wakeRegions(onStore: id)
    }

    /// Cuts a store off from the others, or heals it.
    public func setPartitioned(_ id: UInt64, _ partitioned: Bool) async {
        transport.setIsolated(id, partitioned)
        await pd.wakeRegions(onStore: id)
    }

    public func failNextDownloads(onStore id: UInt64, count: Int) { stores[id]?.faults.arm { $0.failDownloads += count } }
    public func corruptNextDownloads(onStore id: UInt64, count: Int) { stores[id]?.faults.arm { $0.corruptDownloads += count } }
    public func failNextApplies(onStore id: UInt64, count: Int) { stores[id]?.faults.arm { $0.failApplies += count } }
    public func exhaustDescriptors(onStore id: UInt64, applies count: Int) { stores[id]?.faults.arm { $0.exhaustDescriptors += count } }
    public func makeBusy(store id: UInt64, for duration: Duration) {
        stores[id]?.faults.arm { $0.busyUntil = .now + duration }
    }
}
