import Synchronization
import KeyCodec

/// Bytes per second over a sliding window of one-second buckets, safe to update from any thread.
public final class ThroughputMeter: Sendable {
    struct State {
        var buckets: [UInt64]
        var bucketStart: ContinuousClock.Instant
        var current = 0
        var total: UInt64 = 0
    }

    private let state: Mutex<State>
    private let window: Int

    public init(windowSeconds: Int = 5) {
        window = max(1, windowSeconds)
        state = Mutex(State(buckets: Array(repeating: 0, count: max(1, windowSeconds) + 1), bucketStart: .now))
    }

    public func record(_ bytes: UInt64) {
        state.withLock { s in
            advance(&s)
            s.buckets[s.current] += bytes
            s.total += bytes
        }
    }

    /// The average over the last `window` whole seconds plus the current partial one.
    public var bytesPerSecond: Double {
        state.withLock { s in
            advance(&s)
            let elapsed = ContinuousClock.now - s.bucketStart
            let partial = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
            let sum = s.buckets.reduce(0, +)
            return Double(sum) / (Double(window) + partial)
        }
    }

    public var totalBytes: UInt64 { state.withLock { $0.total } }

    private func advance(_ s: inout State) {
        var elapsed = ContinuousClock.now - s.bucketStart
        var steps = 0
        while elapsed >= .seconds(1), steps <= window {
            s.current = (s.current + 1) % s.buckets.count
            s.buckets[s.current] = 0
            s.bucketStart += .seconds(1)
            elapsed -= .seconds(1)
            steps += 1
        }
        if elapsed >= .seconds(1) { s.bucketStart = .now }  // idle longer than the window
    }
}
