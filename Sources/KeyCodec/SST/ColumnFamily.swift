/// TiKV's column families. Backups carry `default` and `write` files; `lock` exists in every store.
public enum ColumnFamily: Int32, CaseIterable, Sendable, Codable, CustomStringConvertible {
    case `default` = 0
    case write = 1
    case lock = 2

    public init?(name: String) {
        switch name {
        case "default", "": self = .default  // BR leaves cf empty for raw backups
        case "write": self = .write
        case "lock": self = .lock
        default: return nil
        }
    }

    public var name: String {
        switch self {
        case .default: "default"
        case .write: "write"
        case .lock: "lock"
        }
    }

    public var description: String { name }
}
