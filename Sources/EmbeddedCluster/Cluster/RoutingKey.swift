import KeyCodec
import ClusterAPI

/// A region's end key in the routing table: bytewise order, with the empty end key (the end of
/// the key space) after every other key.
struct RoutingKey: Comparable, Hashable, Sendable {
    let bytes: [UInt8]
    let isInfinite: Bool

    init(end: [UInt8]) {
        bytes = end
        isInfinite = end.isEmpty
    }

    /// The smallest routing key greater than `key`: the first region ending after it holds it.
    static func after(_ key: [UInt8]) -> RoutingKey { RoutingKey(end: key + [0]) }

    static func < (a: RoutingKey, b: RoutingKey) -> Bool {
        if a.isInfinite { return false }
        if b.isInfinite { return true }
        return keyLess(a.bytes, b.bytes)
    }
}
