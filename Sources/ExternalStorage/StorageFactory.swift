import KeyCodec

/// Opens the storage that a location names.
public enum StorageFactory {
    public static func open(
        _ location: StorageLocation, credentials: S3Credentials? = nil, settings: TransferSettings = TransferSettings()
    ) -> any ExternalStorage {
        switch location {
        case let .local(path): LocalStorage(root: path)
        case let .http(base): HTTPStorage(baseURL: base, settings: settings)
        case let .s3(s3): S3Storage(location: s3, credentials: credentials, settings: settings)
        }
    }

    public static func open(
        _ url: String, credentials: S3Credentials? = nil, settings: TransferSettings = TransferSettings()
    ) throws(StorageError) -> any ExternalStorage {
        open(try StorageLocation.parse(url), credentials: credentials, settings: settings)
    }
}
