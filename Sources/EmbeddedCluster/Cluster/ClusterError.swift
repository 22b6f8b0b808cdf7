import KeyCodec
import ClusterAPI

/// Why a cluster directory cannot be opened or changed.
public enum ClusterError: Error, Equatable, Sendable, CustomStringConvertible {
    case notACluster(path: String)
    case unsupportedFormat(path: String, version: Int)
    case corruptMetadata(path: String, reason: String)
    case io(path: String, reason: String)
    case database(DatabaseError)
    case invalidConfiguration(String)
    case region(RegionError)

    public var description: String {
        switch self {
        case let .notACluster(path): "\(path) is not a restore-console cluster (no cluster.json) and is not empty"
        case let .unsupportedFormat(path, version): "\(path) has cluster format \(version), which this version cannot read"
        case let .corruptMetadata(path, reason): "\(path) is corrupt: \(reason)"
        case let .io(path, reason): "\(path): \(reason)"
        case let .database(error): error.description
        case let .invalidConfiguration(reason): "invalid cluster configuration: \(reason)"
        case let .region(error): error.description
        }
    }
}
