import KeyCodec

/// Why external storage failed. Messages name the object and the storage, never a credential.
public enum StorageError: Error, Equatable, Sendable, CustomStringConvertible {
    case invalidURL(String, reason: String)
    case unsafeObjectName(String)
    case notFound(object: String, storage: String)
    case accessDenied(object: String, storage: String, status: Int)
    case unreachable(storage: String, reason: String)
    case httpStatus(object: String, storage: String, status: Int)
    case transfer(object: String, storage: String, reason: String)
    case lengthMismatch(object: String, expected: UInt64, actual: UInt64)
    case checksumMismatch(object: String, expected: String, actual: String)
    case localIO(path: String, reason: String)
    case readOnly(storage: String)
    case tlsVerification(storage: String, reason: String)
    case listingUnsupported(storage: String)

    /// Whether trying again may help: the network and the server may recover, a wrong name won't.
    public var isRetryable: Bool {
        switch self {
        case .unreachable, .transfer, .lengthMismatch, .checksumMismatch: true
        case let .httpStatus(_, _, status): status >= 500 || status == 429 || status == 408
        default: false
        }
    }

    public var description: String {
        switch self {
        case let .invalidURL(url, reason): "invalid storage URL \(url): \(reason)"
        case let .unsafeObjectName(name): "object name \(name) escapes its directory (absolute path or '..')"
        case let .notFound(object, storage): "\(object) not found in \(storage)"
        case let .accessDenied(object, storage, status): "access to \(object) in \(storage) denied (HTTP \(status)): check the credentials and permissions"
        case let .unreachable(storage, reason): "cannot reach \(storage): \(reason)"
        case let .httpStatus(object, storage, status): "\(storage) answered HTTP \(status) for \(object)"
        case let .transfer(object, storage, reason): "transfer of \(object) from \(storage) failed: \(reason)"
        case let .lengthMismatch(object, expected, actual): "\(object) is \(actual) bytes, the backup says \(expected)"
        case let .checksumMismatch(object, expected, actual): "\(object) sha256 mismatch: expected \(expected), got \(actual)"
        case let .localIO(path, reason): "\(path): \(reason)"
        case let .readOnly(storage): "\(storage) is read-only: backups can be written to local or S3 storage"
        case let .tlsVerification(storage, reason):
            "TLS verification of \(storage) failed (\(reason)): trust its CA with --storage.ca, or skip verification with --insecure-skip-tls-verify"
        case let .listingUnsupported(storage): "\(storage) cannot list objects (plain HTTP has no listing)"
        }
    }
}
