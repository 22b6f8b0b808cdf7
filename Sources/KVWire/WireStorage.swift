import Foundation
import ExternalStorage
import KVProto

/// `backup.StorageBackend`: where a store fetches a backup file. Local paths are read on each
/// store's own machine, as TiKV reads them. S3 credentials travel inside, as BR sends them, and
/// nothing here prints them.
public enum WireStorage {
    /// The backend that names `storage`, or why it cannot be sent to a store.
    public static func backend(for storage: any ExternalStorage) throws(StorageError) -> Backup_StorageBackend {
        var backend = Backup_StorageBackend()
        switch storage {
        case let local as LocalStorage:
            // Absolute: each store resolves the path on its own machine, not in our directory.
            backend.local.path = URL(fileURLWithPath: local.root).standardizedFileURL.path
        case let s3 as S3Storage:
            var wire = Backup_S3()
            wire.endpoint = s3.location.endpoint
            wire.region = s3.location.region
            wire.bucket = s3.location.bucket
            wire.prefix = s3.location.prefix
            wire.forcePathStyle = s3.location.forcePathStyle
            if let credentials = s3.credentials {
                wire.accessKey = credentials.accessKey
                wire.secretAccessKey = credentials.secretKey
                wire.sessionToken = credentials.sessionToken ?? ""
            }
            backend.s3 = wire
        default:
            throw .invalidURL(storage.displayName, reason: "a TiKV store fetches backups from local paths or S3 only (kvproto's StorageBackend has no HTTP); copy the backup to S3 or to each store's disk")
        }
        return backend
    }

    /// True when Downloads from `storage` carry a secret (S3 keys) that must not cross an
    /// unencrypted network.
    public static func carriesCredentials(_ storage: any ExternalStorage) -> Bool {
        (storage as? S3Storage)?.credentials != nil
    }

    /// True when `name` is ASCII letters, digits and `extra` only.
    static func isHostLabel(_ name: String, allowing extra: String) -> Bool {
        name.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || extra.unicodeScalars.contains($0)) }
    }

    /// Opens the storage a request names, on the store's side.
    public static func open(_ backend: Backup_StorageBackend, settings: TransferSettings = TransferSettings()) throws(StorageError) -> any ExternalStorage {
        switch backend.backend {
        case let .local(local)?:
            guard local.path.hasPrefix("/") else { throw .invalidURL(local.path, reason: "a local backend needs an absolute path") }
            return LocalStorage(root: local.path)
        case let .s3(s3)?:
            guard !s3.bucket.isEmpty else { throw .invalidURL("s3://", reason: "missing bucket") }
            // The bucket and the region go into the URL's host: a `/`, `?` or `@` in either would
            // send the request to a host that no `--allow-endpoint` names.
            guard Self.isHostLabel(s3.bucket, allowing: "._-") else {
                throw .invalidURL("s3://", reason: "bucket names hold letters, digits, '.', '-' and '_' only")
            }
            guard s3.region.isEmpty || Self.isHostLabel(s3.region, allowing: "-") else {
                throw .invalidURL("s3://\(s3.bucket)", reason: "region names hold letters, digits and '-' only")
            }
            let endpoint = s3.endpoint.isEmpty ? "https://s3.\(s3.region.isEmpty ? "us-east-1" : s3.region).amazonaws.com" : s3.endpoint
            let location = S3Location(
                bucket: s3.bucket, prefix: s3.prefix.split(separator: "/").joined(separator: "/"), endpoint: endpoint,
                region: s3.region.isEmpty ? "us-east-1" : s3.region, forcePathStyle: s3.forcePathStyle)
            let credentials = s3.accessKey.isEmpty ? nil : S3Credentials(accessKey: s3.accessKey, secretKey: s3.secretAccessKey, sessionToken: s3.sessionToken.isEmpty ? nil : s3.sessionToken)
            return S3Storage(location: location, credentials: credentials, settings: settings)
        case nil, .noop?:
            throw .invalidURL("storage_backend", reason: "the request names no storage")
        default:
            throw .invalidURL("storage_backend", reason: "only local and S3 backends are served here")
        }
    }
}
