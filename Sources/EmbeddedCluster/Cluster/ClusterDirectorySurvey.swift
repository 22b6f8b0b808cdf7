import Foundation
import KeyCodec
import ClusterAPI

/// A look at an embedded cluster's directory that writes nothing: its description, its regions as
/// `pd.json` records them, its stores' states, and their databases opened read-only. A dry run and
/// the prechecks read it before the cluster is opened (which writes). A directory that is missing
/// or empty is the cluster that a restore would create there: its stores, one region, no data.
public final class ClusterDirectorySurvey: ClusterSurvey {
    public let location: String
    public let replicas: Int
    /// True when no cluster is there yet.
    public let isNew: Bool
    /// Each store, its address being its directory.
    private let storeInfos: [StoreInfo]
    private let layout: [Region]
    private let databases: [RocksDatabase]

    public init(directory: String, create: Cluster.Configuration) throws(ClusterError) {
        let path = (directory as NSString).standardizingPath
        location = path
        let configuration = try Cluster.readConfiguration(directory: path)
        isNew = configuration == nil
        let config = configuration ?? create
        replicas = config.replicas
        var infos: [StoreInfo] = [], databases: [RocksDatabase] = []
        for id in 1...UInt64(max(1, config.stores)) {
            let storeDirectory = "\(path)/stores/\(id)"
            var state = StoreState.up
            if let data = FileManager.default.contents(atPath: storeDirectory + "/store.json"),
               let persisted = try? JSONDecoder().decode(Store.Persisted.self, from: data) {
                state = persisted.state
            }
            infos.append(StoreInfo(id: id, address: storeDirectory, state: state))
            // A store whose creation a kill cut short holds no data yet; its next open completes it.
            if !isNew, state.isUp, RocksDatabase.hasEveryColumnFamily(path: storeDirectory + "/db") {
                do { databases.append(try RocksDatabase(path: storeDirectory + "/db", readOnly: true)) } catch { throw .database(error) }
            }
        }
        storeInfos = infos
        self.databases = databases
        let pdPath = path + "/pd.json"
        if !isNew, FileManager.default.fileExists(atPath: pdPath) {
            layout = try PlacementDriver.readLayout(directory: path).regions.sorted { keyLess($0.startKey, $1.startKey) }
        } else {
            // What bootstrap creates: one region over every key, on the first stores.
            let peers = infos.prefix(config.replicas).enumerated().map { PeerMeta(id: UInt64($0.offset + 2), storeID: $0.element.id) }
            layout = [Region(id: 1, startKey: [], endKey: [], epoch: RegionEpoch(), peers: peers)]
        }
    }

    deinit { close() }

    /// Closes the stores' read-only databases, before the cluster is opened to write.
    public func close() { for db in databases { db.close() } }

    public func stores() async -> [StoreInfo] { storeInfos }

    public func regions(overlapping range: KeyRange) async -> [Region] {
        layout.filter { $0.range.overlaps(range) }
    }

    public func highestTableIDInUse() async -> Int64 { databases.map(StoreDataFacts.highestTableID(in:)).max() ?? 0 }

    public func holdsData(in range: KeyRange) async -> Bool? { databases.contains { StoreDataFacts.holdsData($0, in: range) } }

    public func disk(ofStore store: UInt64) async -> StoreDisk? {
        storeInfos.first { $0.id == store }.flatMap { StoreDataFacts.disk(at: $0.address) }
    }
}
