import KeyCodec
import ExternalStorage

/// A read-only storage of named byte arrays, so that the backup reader can be fed bytes directly.
struct MemoryStorage: ExternalStorage {
    let objects: [String: [UInt8]]

    init(_ objects: [String: [UInt8]]) { self.objects = objects }

    var displayName: String { "memory" }

    func size(of name: String) throws(StorageError) -> UInt64 { UInt64(try read(name).count) }

    func read(_ name: String) throws(StorageError) -> [UInt8] {
        guard let bytes = objects[name] else { throw .notFound(object: name, storage: displayName) }
        return bytes
    }

    func download(_ name: String, to path: String, expected: ExpectedContent?, limiter: RateLimiter?, progress: (@Sendable (UInt64) -> Void)?) throws(StorageError) {
        throw .localIO(path: path, reason: "memory storage is read-only")
    }

    func fetch(_ name: String, expected: ExpectedContent, limiter: RateLimiter?, progress: (@Sendable (UInt64) -> Void)?) throws(StorageError) -> [UInt8] {
        throw .localIO(path: name, reason: "memory storage serves no downloads")
    }

    func list(prefix: String) throws(StorageError) -> [String] { objects.keys.filter { $0.hasPrefix(prefix) }.sorted() }

    func write(_ name: String, contents: [UInt8]) throws(StorageError) {
        throw .localIO(path: name, reason: "memory storage is read-only")
    }

    func write(_ name: String, fromFile path: String) throws(StorageError) {
        throw .localIO(path: name, reason: "memory storage is read-only")
    }
}
