import Foundation
import KeyCodec

/// What a download must match: the backup meta's length and sha256. An empty sha256 checks the
/// length alone (a request over kvproto's Download carries no digest).
public struct ExpectedContent: Sendable, Equatable {
    public var size: UInt64
    public var sha256: [UInt8]

    public init(size: UInt64, sha256: [UInt8]) {
        self.size = size
        self.sha256 = sha256
    }
}

/// Where backups live: a local directory, an HTTP(S) server or an S3 bucket. Calls block, so
/// callers run them off the cooperative pool (see `BlockingIO`).
public protocol ExternalStorage: Sendable {
    /// The location with any credential removed, for messages and the UI.
    var displayName: String { get }

    func size(of name: String) throws(StorageError) -> UInt64

    /// A whole object, for small files such as backupmeta.
    func read(_ name: String) throws(StorageError) -> [UInt8]

    /// Streams an object into a local file. It checks length and sha256 when `expected` is given,
    /// and removes `path` on any failure, so a caller never sees half a file.
    func download(
        _ name: String, to path: String, expected: ExpectedContent?, limiter: RateLimiter?,
        progress: (@Sendable (UInt64) -> Void)?
    ) throws(StorageError)

    /// A small object whole into memory, checked as `download` checks a file: no local file is
    /// created, written or read back.
    func fetch(
        _ name: String, expected: ExpectedContent, limiter: RateLimiter?, progress: (@Sendable (UInt64) -> Void)?
    ) throws(StorageError) -> [UInt8]

    /// Object names under `prefix`, relative to the storage root.
    func list(prefix: String) throws(StorageError) -> [String]

    func write(_ name: String, contents: [UInt8]) throws(StorageError)

    /// Uploads a local file.
    func write(_ name: String, fromFile path: String) throws(StorageError)

    /// Uploads a local file that the caller no longer needs: it is gone afterwards.
    func move(_ name: String, fromFile path: String) throws(StorageError)
}

extension ExternalStorage {
    public func move(_ name: String, fromFile path: String) throws(StorageError) {
        try write(name, fromFile: path)
        unlink(path)
    }
}
