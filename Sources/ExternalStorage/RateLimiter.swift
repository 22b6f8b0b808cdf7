import Foundation
import Synchronization
import KeyCodec

/// A token bucket in bytes per second, like TiKV's SetDownloadSpeedLimit; 0 means unlimited. The
/// rate can change while transfers run. `acquire` blocks, so it belongs on I/O threads.
public final class RateLimiter: Sendable {
    struct State {
        var bytesPerSecond: UInt64
        /// May go negative: a large chunk borrows from the future and later callers wait it out.
        var tokens: Double
        var lastRefill: ContinuousClock.Instant
    }

    /// The time the limiter reads and the way it waits: the system's, or a test's own.
    public struct Clock: Sendable {
        public var now: @Sendable () -> ContinuousClock.Instant
        public var sleep: @Sendable (Duration) -> Void

        public init(now: @escaping @Sendable () -> ContinuousClock.Instant, sleep: @escaping @Sendable (Duration) -> Void) {
            self.now = now
            self.sleep = sleep
        }

        public static let system = Clock(now: { .now }, sleep: { Thread.sleep(forTimeInterval: RateLimiter.seconds($0)) })
    }

    private let state: Mutex<State>
    private let clock: Clock
    /// Longest single sleep, so that a rate change takes effect quickly.
    private static let maxSleep: Duration = .milliseconds(100)

    public init(bytesPerSecond: UInt64, clock: Clock = .system) {
        self.clock = clock
        state = Mutex(State(bytesPerSecond: bytesPerSecond, tokens: 0, lastRefill: clock.now()))
    }

    public var bytesPerSecond: UInt64 {
        get { state.withLock { $0.bytesPerSecond } }
        set {
            state.withLock {
                $0.bytesPerSecond = newValue
                $0.tokens = 0
                $0.lastRefill = clock.now()
            }
        }
    }

    /// Waits until `count` more bytes may pass. The bytes are taken at once (the bucket may go
    /// into debt), then the caller sleeps, in short steps, until the debt is paid.
    public func acquire(_ count: Int) {
        var taken = false
        while true {
            let wait: Duration? = state.withLock { s in
                guard s.bytesPerSecond > 0 else { return nil }
                let rate = Double(s.bytesPerSecond)
                let now = clock.now()
                let burst = max(rate / 20, 64 * 1024)  // 50 ms of traffic
                s.tokens = min(burst, s.tokens + Self.seconds(now - s.lastRefill) * rate)
                s.lastRefill = now
                if !taken { s.tokens -= Double(count) }
                return s.tokens < 0 ? .nanoseconds(Int64(-s.tokens / rate * 1e9)) : .zero
            }
            taken = true
            guard let wait, wait > .zero else { return }
            clock.sleep(min(wait, Self.maxSleep))
        }
    }

    static func seconds(_ d: Duration) -> TimeInterval {
        Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }
}
