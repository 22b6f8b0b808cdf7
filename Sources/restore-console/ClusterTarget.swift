import ArgumentParser
import Foundation
import ExternalStorage
import ClusterAPI
import EmbeddedCluster
import RemoteCluster
import RestoreDriver
import KVWire

/// Where a restore goes: an embedded cluster in a directory, or a TiKV cluster through its PD.
enum ClusterTarget {
    case embedded(Cluster)
    case remote(RemoteCluster, stateDirectory: String)

    var client: any ClusterClient {
        switch self {
        case let .embedded(cluster): cluster
        case let .remote(cluster, _): cluster
        }
    }

    /// Where the checkpoint lives.
    var stateDirectory: String {
        switch self {
        case let .embedded(cluster): cluster.directory
        case let .remote(_, directory): directory
        }
    }

    func close() async {
        switch self {
        case let .embedded(cluster): await cluster.close()
        case let .remote(cluster, _): await cluster.close()
        }
    }

    /// Opens the target that the arguments name. Over the wire, the backup must be somewhere each
    /// store can fetch it from itself, and a checkpoint made against another cluster is refused.
    static func open(_ arguments: RestoreArguments, storage: any ExternalStorage) async throws -> ClusterTarget {
        guard let pd = arguments.pd else { return .embedded(try await openCluster(arguments)) }
        do { _ = try WireStorage.backend(for: storage) } catch { throw StartFailure(error.description) }
        let address: WireAddress
        do { address = try WireAddress(parsing: pd) } catch { throw ValidationError("--pd: \(error)") }
        let cluster: RemoteCluster
        do { cluster = try await RemoteCluster.connect(pd: address, security: try arguments.tls.security) } catch let error as WireError {
            throw StartFailure(error.description)
        }
        let home = ProcessInfo.processInfo.environment["HOME"] ?? FileManager.default.currentDirectoryPath
        let directory = arguments.stateDirectory ?? "\(home)/.local/state/restore-console/\(cluster.clusterID)"
        do {
            try RemoteState.claim(directory, clusterID: cluster.clusterID, pd: address.description)
        } catch {
            await cluster.close()
            throw StartFailure("\(error)")
        }
        return .remote(cluster, stateDirectory: directory)
    }
}

/// A remote restore's state directory belongs to one cluster: it records the cluster id of the
/// first run, and a resume against another cluster is refused before anything is sent.
enum RemoteState {
    struct Mismatch: Error, CustomStringConvertible {
        var directory: String
        var recorded: String
        var found: UInt64
        var pd: String
        var description: String {
            "\(directory) holds the checkpoint of cluster \(recorded), but PD at \(pd) serves cluster \(found); use another --state-dir"
        }
    }

    static func claim(_ directory: String, clusterID: UInt64, pd: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = directory + "/cluster-id"
        if let recorded = FileManager.default.contents(atPath: path).map({ String(decoding: $0, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) }) {
            guard recorded == String(clusterID) else { throw Mismatch(directory: directory, recorded: recorded, found: clusterID, pd: pd) }
            return
        }
        try Data("\(clusterID)\n".utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}
