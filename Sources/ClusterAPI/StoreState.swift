import KeyCodec

/// Whether a store serves requests. A panicked store is down for good, with the reason it panicked.
public enum StoreState: Codable, Hashable, Sendable, CustomStringConvertible {
    case up
    case down
    case panicked(reason: String)

    public var isUp: Bool { self == .up }

    public var description: String {
        switch self {
        case .up: "up"
        case .down: "down"
        case let .panicked(reason): "panicked: \(reason)"
        }
    }
}
