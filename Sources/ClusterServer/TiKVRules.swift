import Foundation
import Synchronization
import KeyCodec
import ClusterAPI
import EmbeddedCluster

/// Rules a real TiKV holds its clients to, which the embedded cluster is lenient about, checked
/// on every call the server takes: a client that breaks one would harm a TiKV cluster. Each break
/// is kept with what TiKV would have done, for the tests to read, and the call is refused.
public final class TiKVRules: Sendable {
    private let broken = Mutex<[String]>([])

    public init() {}

    /// What clients did that TiKV would not have survived or allowed, in order.
    public var violations: [String] { broken.withLock { $0 } }

    /// A MultiIngest is replicated through Raft to every peer, and a replica whose store lacks an
    /// SST panics on apply (tikv components/raftstore/src/store/fsm/apply.rs `handle_ingest_sst`,
    /// and again on every restart, as it replays the entry). Every peer of the region must hold
    /// every file, or have ingested it already.
    func checkEveryPeerHolds(_ request: IngestRequest, in cluster: Cluster) async -> String? {
        // Another epoch is refused with EpochNotMatch before anything is proposed.
        guard let region = await cluster.refreshRegion(id: request.regionID), region.epoch == request.epoch else { return nil }
        for peer in region.peers {
            guard let store = cluster.store(peer.storeID) else { continue }
            for file in request.files {
                let path = store.importDirectory + "/" + file.fileName(regionID: request.regionID, epoch: request.epoch)
                guard !FileManager.default.fileExists(atPath: path), !store.hasIngested(uuid: file.uuid) else { continue }
                let violation = "MultiIngest of region \(request.regionID) while its peer on store \(peer.storeID) lacks SST \(file.uuid): TiKV would panic applying it"
                broken.withLock { $0.append(violation) }
                return violation
            }
        }
        return nil
    }

    /// A checksum must name a timestamp and ranges inside its region: TiKV reads a range past the
    /// region's end only up to that end and answers without an error (its region snapshot bounds
    /// the scan: tikv components/raftstore/src/store/region_snapshot.rs), and at timestamp 0 it
    /// reads no version at all. A client would take a part for the whole.
    func checkChecksumRequest(_ request: RegionChecksumRequest, in cluster: Cluster) async -> String? {
        let violation: String
        if request.readTS == 0 {
            violation = "checksum of region \(request.regionID) at start_ts 0: TiKV reads no version and answers an empty checksum"
        } else if request.ranges.isEmpty {
            violation = "checksum of region \(request.regionID) with no range: TiKV answers an empty checksum"
        } else {
            // Another epoch is refused with EpochNotMatch, a start outside with KeyNotInRegion.
            guard let region = await cluster.refreshRegion(id: request.regionID), region.epoch.version == request.epoch.version,
                  !region.endKey.isEmpty,
                  let past = request.ranges.first(where: { $0.end.isEmpty || keyLess(region.endKey, Memcomparable.encode($0.end)) })
            else { return nil }
            violation = "checksum of region \(request.regionID) over a range that ends past the region (\(KeyDescription(past.end).summary)): TiKV reads up to the region's end and answers a partial checksum without an error"
        }
        broken.withLock { $0.append(violation) }
        return violation
    }
}
