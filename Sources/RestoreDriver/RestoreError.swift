import KeyCodec
import BackupFormat
import ClusterAPI

/// Why a restore cannot start or finish. Bad input is found before anything is written.
public enum RestoreError: Error, Equatable, Sendable, CustomStringConvertible {
    case backup(BackupError)
    case rules(String)
    case missingRule(file: String, key: [UInt8])
    case split(RegionError)
    case checkpoint(path: String, reason: String)
    /// `--filter`, `--start-key` or `--end-key` that select nothing, or that a backup cannot take.
    case selection(String)
    /// The checksum could not be taken (not a mismatch: that is a result).
    case checksum(String)

    public var description: String {
        switch self {
        case let .backup(e): e.description
        case let .rules(reason): "rewrite rules: \(reason)"
        case let .missingRule(file, key):
            "no rewrite rule covers key \(KeyDescription(key).summary) of backup file \(file): add a --rewrite, --prefix or --table-id-map"
        case let .split(e): "cannot split regions: \(e)"
        case let .checkpoint(path, reason): "checkpoint \(path): \(reason)"
        case let .selection(reason): reason
        case let .checksum(reason): "checksum: \(reason)"
        }
    }
}
