import CRocksDB

/// Why an SST file could not be written or read. Every case names the file.
public enum SSTError: Error, Equatable, Sendable, CustomStringConvertible {
    case cannotCreate(path: String, reason: String)
    case cannotOpen(path: String, reason: String)
    case corrupt(path: String, reason: String)
    case outOfOrder(path: String, previous: [UInt8], key: [UInt8])
    case writeFailed(path: String, reason: String)
    case alreadyFinished(path: String)

    public var path: String {
        switch self {
        case let .cannotCreate(p, _), let .cannotOpen(p, _), let .corrupt(p, _), let .outOfOrder(p, _, _),
            let .writeFailed(p, _), let .alreadyFinished(p):
            p
        }
    }

    public var description: String {
        switch self {
        case let .cannotCreate(path, reason): "cannot create SST \(path): \(reason)"
        case let .cannotOpen(path, reason): "cannot open SST \(path): \(reason)"
        case let .corrupt(path, reason): "SST \(path) is corrupt: \(reason)"
        case let .outOfOrder(path, previous, key):
            "SST \(path): key \(key.hexString) is not greater than the previous key \(previous.hexString)"
        case let .writeFailed(path, reason): "cannot write SST \(path): \(reason)"
        case let .alreadyFinished(path): "SST \(path) is already finished"
        }
    }
}

/// Takes the message that a CRocksDB call stored in `err`, and frees it.
package func takeRocksDBError(_ err: UnsafeMutablePointer<CChar>?) -> String {
    guard let err else { return "unknown RocksDB error" }
    defer { crdb_free(err) }
    return String(cString: err)
}
