import Synchronization
import KeyCodec
import ClusterAPI

/// The in-process network between stores' peers. Tests and drills make it drop messages, delay
/// them, or cut stores off from each other.
public final class Transport: Sendable {
    struct Rules {
        var isolated = Set<UInt64>()
        var dropPercent: UInt64 = 0
        var delayTicks = 0
        var random = SyntheticRandom(seed: 42)
    }

    private let rules = Mutex(Rules())

    public init() {}

    /// Cuts `store` off from every other store (both directions), or heals it.
    public func setIsolated(_ store: UInt64, _ isolated: Bool) {
        rules.withLock { if isolated { $0.isolated.insert(store) } else { $0.isolated.remove(store) } }
    }

    /// Drops this share of messages at random (0...100).
    public func setDropPercent(_ percent: UInt64) { rules.withLock { $0.dropPercent = min(100, percent) } }

    /// Holds every message for this many ticks.
    public func setDelay(ticks: Int) { rules.withLock { $0.delayTicks = max(0, ticks) } }

    public var isolatedStores: Set<UInt64> { rules.withLock { $0.isolated } }

    /// nil: drop the message; otherwise the ticks to hold it.
    func route(from: UInt64, to: UInt64) -> Int? {
        rules.withLock { r in
            if from != to, r.isolated.contains(from) || r.isolated.contains(to) { return nil }
            if r.dropPercent > 0, r.random.next() % 100 < r.dropPercent { return nil }
            return r.delayTicks
        }
    }
}
