import Dispatch

/// A store's serial background queue whose work can be waited for, before its DB closes.
final class BackgroundWork: Sendable {
    private let queue: DispatchQueue
    private let idle = DispatchGroup()

    init(label: String, qos: DispatchQoS = .unspecified) {
        queue = DispatchQueue(label: label, qos: qos)
    }

    func run(_ work: @escaping @Sendable () -> Void) {
        idle.enter()
        queue.async {
            work()
            self.idle.leave()
        }
    }

    /// Returns when nothing runs or waits.
    func wait() { idle.wait() }
}
