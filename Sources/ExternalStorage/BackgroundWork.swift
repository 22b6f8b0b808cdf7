import Dispatch

/// A serial background queue whose work can be waited for (a store's, before its DB closes).
public final class BackgroundWork: Sendable {
    private let queue: DispatchQueue
    private let idle = DispatchGroup()

    public init(label: String, qos: DispatchQoS = .unspecified) {
        queue = DispatchQueue(label: label, qos: qos)
    }

    public func run(_ work: @escaping @Sendable () -> Void) {
        idle.enter()
        queue.async {
            work()
            self.idle.leave()
        }
    }

    /// Returns when nothing runs or waits.
    public func wait() { idle.wait() }
}
