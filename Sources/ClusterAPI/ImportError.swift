import KeyCodec
import ExternalStorage

/// Why a Download or Ingest failed. `label` is a stable name for counting, as TiKV's importer
/// labels its errors; `isRetryable` says whether the client should try again.
public enum ImportError: Error, Equatable, Sendable, CustomStringConvertible {
    case region(RegionError)
    case storage(StorageError)
    case corruptFile(name: String, reason: String)
    /// The file fails its block checksums although it matches the backup's sha256: the backup's
    /// own copy is corrupt, and no download will heal it.
    case corruptBackupFile(name: String, reason: String)
    /// A request no store would carry out, whatever it is retried: a size past any real SST.
    case invalidRequest(reason: String)
    case rewrite(name: String, error: RewriteError)
    case diskFull(storeID: UInt64, needed: UInt64, available: UInt64)
    case injected(storeID: UInt64, what: String)
    case storePanicked(storeID: UInt64, reason: String)
    case io(path: String, reason: String)
    /// The leader was asked to ingest a file it never downloaded (it became leader after the
    /// downloads): download to it, then ingest again.
    case fileNotDownloaded(storeID: UInt64, name: String)
    /// A store reached over the wire answered with a message only, or the call itself failed.
    case remote(storeID: UInt64, message: String, retryable: Bool)

    public var label: String {
        switch self {
        case let .region(e): e.label
        case .storage(.checksumMismatch): "ChecksumMismatch"
        case .storage(.lengthMismatch): "LengthMismatch"
        case .storage: "Storage"
        case .corruptFile: "CorruptSST"
        case .corruptBackupFile: "CorruptBackupFile"
        case .invalidRequest: "InvalidRequest"
        case .rewrite(_, .wrongKeyPrefix): "WrongKeyPrefix"
        case .rewrite: "Rewrite"
        case .diskFull: "DiskFull"
        case .injected: "InjectedFault"
        case .storePanicked: "StorePanicked"
        case .io: "IO"
        case .fileNotDownloaded: "SSTNotFound"
        case .remote: "StoreError"
        }
    }

    public var isRetryable: Bool {
        switch self {
        case let .region(e):
            switch e {
            case .notLeader, .epochNotMatch, .serverIsBusy, .regionNotFound, .timeout, .keyNotInRegion, .storeNotAvailable: true
            case .staleCommand: false
            }
        case let .storage(e): e.isRetryable
        case .corruptFile, .injected, .io, .fileNotDownloaded: true
        case .rewrite, .diskFull, .storePanicked, .corruptBackupFile, .invalidRequest: false
        case let .remote(_, _, retryable): retryable
        }
    }

    public var description: String {
        switch self {
        case let .region(e): e.description
        case let .storage(e): e.description
        case let .corruptFile(name, reason): "downloaded \(name) is corrupt: \(reason)"
        case let .corruptBackupFile(name, reason): "backup file \(name) is corrupt in the backup itself (it matches the backupmeta's sha256): \(reason)"
        case let .invalidRequest(reason): "invalid request: \(reason)"
        case let .rewrite(name, error): "cannot rewrite \(name): \(error)"
        case let .diskFull(store, 0, _):
            "store \(store) is out of disk space: free disk space and retry"
        case let .diskFull(store, needed, available):
            "store \(store) has \(ByteFormat.size(available)) free, needs \(ByteFormat.size(needed)): free disk space and retry"
        case let .injected(store, what): "store \(store): injected \(what)"
        case let .storePanicked(store, reason): "store \(store) panicked: \(reason)"
        case let .io(path, reason): "\(path): \(reason)"
        case let .fileNotDownloaded(store, name): "store \(store) leads the region but never downloaded \(name)"
        case let .remote(store, message, _): message.hasPrefix("store \(store)") ? message : "store \(store): \(message)"
        }
    }
}
