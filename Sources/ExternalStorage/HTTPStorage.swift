import KeyCodec

/// A read-only backup behind a static HTTP(S) server, through libcurl.
public struct HTTPStorage: HTTPBackedStorage {
    public let baseURL: String
    let client: HTTPObjectClient

    public init(baseURL: String, settings: TransferSettings = TransferSettings()) {
        self.baseURL = baseURL
        client = HTTPObjectClient(storageName: baseURL, settings: settings, sign: nil)
    }

    public var displayName: String { baseURL }

    func url(_ name: String) throws(StorageError) -> String {
        try ObjectName.validate(name)
        return baseURL + "/" + percentEncodedPath(name)
    }

    public func list(prefix: String) throws(StorageError) -> [String] {
        throw .listingUnsupported(storage: baseURL)
    }

    public func write(_ name: String, contents: [UInt8]) throws(StorageError) {
        throw .readOnly(storage: baseURL)
    }

    public func write(_ name: String, fromFile path: String) throws(StorageError) {
        throw .readOnly(storage: baseURL)
    }
}
