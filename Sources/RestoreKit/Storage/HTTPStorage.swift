/// A read-only backup behind a static HTTP(S) server, through libcurl.
public struct HTTPStorage: ExternalStorage {
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

    public func size(of name: String) throws(StorageError) -> UInt64 {
        try client.size(url: url(name), object: name)
    }

    public func read(_ name: String) throws(StorageError) -> [UInt8] {
        try client.read(url: url(name), object: name)
    }

    public func download(
        _ name: String, to path: String, expected: ExpectedContent?, limiter: RateLimiter?,
        progress: (@Sendable (UInt64) -> Void)?
    ) throws(StorageError) {
        try client.download(url: url(name), object: name, to: path, expected: expected, limiter: limiter, progress: progress)
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
