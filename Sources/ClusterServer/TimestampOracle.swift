import Foundation
import Synchronization
import KVProto

/// PD's timestamps: physical milliseconds and an 18-bit logical counter, never going back
/// (tikv/pd pkg/tso/tso.go): a batch of `count` takes `count` logical values, and the answer is
/// the last of them, as PD's client expects. As PD's `getTS`, a count of 0 is refused, and so is
/// one that no millisecond's counter can hold (PD retries it until it gives up).
final class TimestampOracle: Sendable {
    static let logicalBits = 18
    private let last = Mutex((physical: Int64(0), logical: Int64(0)))

    /// PD's answers (`errs.ErrGenerateTimestamp`), which its TSO stream returns as gRPC's Unknown.
    enum Refusal: Error, Equatable, CustomStringConvertible {
        case zeroCount, tooMany(UInt32)

        var description: String {
            switch self {
            case .zeroCount: "generate timestamp failed, tso count should be positive"
            case let .tooMany(count): "generate timestamp failed, generate tso maximum number of retries exceeded (a batch of \(count) exceeds the \(1 << TimestampOracle.logicalBits) logical values of a millisecond)"
            }
        }
    }

    func next(count: UInt32) throws(Refusal) -> Pdpb_Timestamp {
        guard count > 0 else { throw .zeroCount }
        let wanted = Int64(count)
        guard wanted < 1 << Self.logicalBits else { throw .tooMany(count) }
        let now = Int64(Date().timeIntervalSince1970 * 1_000)
        let (physical, logical) = last.withLock { last in
            if now > last.physical {
                last = (now, 0)
            }
            if last.logical + wanted >= 1 << Self.logicalBits {
                last = (last.physical + 1, 0)  // the counter ran out within a millisecond
            }
            last.logical += wanted
            return last
        }
        var timestamp = Pdpb_Timestamp()
        timestamp.physical = physical
        timestamp.logical = logical
        return timestamp
    }
}

/// The services' GC safe points (BR keeps one while it restores, tidb br/pkg/utils/safe_point.go):
/// PD keeps each until its TTL runs out and answers the smallest. The embedded cluster collects no
/// garbage, so they are bookkeeping that a client can read back.
final class ServiceSafePoints: Sendable {
    private let points = Mutex<[Data: (safePoint: UInt64, expires: Date)]>([:])

    /// Sets (or, with a TTL of 0 or less, removes) `service`'s safe point; returns the smallest.
    func update(service: Data, ttl: Int64, safePoint: UInt64) -> UInt64 {
        points.withLock { points in
            let now = Date()
            points = points.filter { $0.value.expires > now }
            if ttl > 0 {
                points[service] = (safePoint, now.addingTimeInterval(TimeInterval(min(ttl, Int64(Int32.max)))))
            } else {
                points[service] = nil
            }
            return points.values.map(\.safePoint).min() ?? safePoint
        }
    }
}
