import KeyCodec
import ExternalStorage

/// Why a backup cannot be used. Each case names the file or entry, so an operator can find it.
public enum BackupError: Error, Equatable, Sendable, CustomStringConvertible {
    case metaMissing(storage: String)
    case malformedMeta(object: String, reason: String)
    case invalidFile(name: String, reason: String)
    case duplicateFile(name: String)
    case invalidSchema(index: Int, reason: String)
    case metaIndexTooDeep(object: String)
    /// BR encrypted the backup (`--crypter.method`) and no key was given: its meta files carry a
    /// cipher iv.
    case encrypted(object: String)
    /// The key given does not decrypt the object (a wrong key or method).
    case wrongKey(object: String, cipher: String, reason: String)
    case storage(StorageError)
    case production(reason: String)

    public var description: String {
        switch self {
        case let .metaMissing(storage): "no backupmeta in \(storage): is this a BR backup directory?"
        case let .malformedMeta(object, reason): "\(object) is malformed: \(reason)"
        case let .invalidFile(name, reason): "backup file entry \(name.isEmpty ? "(unnamed)" : name) is invalid: \(reason)"
        case let .duplicateFile(name): "backup file \(name) is listed twice"
        case let .invalidSchema(index, reason): "schema entry \(index) is invalid: \(reason)"
        case let .metaIndexTooDeep(object): "meta file index at \(object) nests too deep (a cycle?)"
        case let .encrypted(object): "the backup is encrypted (BR's --crypter.method: \(object) has a cipher iv): give its --crypter.method and --crypter.key (or --crypter.key-file)"
        case let .wrongKey(object, cipher, reason): "\(object) does not decrypt with the \(cipher) key given (\(reason)): a wrong --crypter.key or --crypter.method"
        case let .storage(error): error.description
        case let .production(reason): "cannot produce the backup: \(reason)"
        }
    }
}
