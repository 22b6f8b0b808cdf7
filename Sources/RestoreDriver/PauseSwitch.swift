import Synchronization

/// Which regions the operator paused, and the workers waiting on a change: a pause or a resume
/// reaches a waiting worker as a wake-up, never as a flag that it polls.
final class PauseSwitch: Sendable {
    enum Awaited: Sendable {
        case pause, resume
    }

    private struct Waiter {
        var token: UInt64
        var region: UInt64
        var awaited: Awaited
        var continuation: CheckedContinuation<Void, Never>
    }

    private struct State {
        var all = false
        var regions = Set<UInt64>()
        var waiters: [Waiter] = []
        var nextToken: UInt64 = 0

        func isPaused(_ region: UInt64) -> Bool { all || regions.contains(region) }
        func holds(_ waiter: Waiter) -> Bool { isPaused(waiter.region) == (waiter.awaited == .pause) }
    }

    private let state = Mutex(State())

    func isPaused(_ region: UInt64) -> Bool { state.withLock { $0.isPaused(region) } }

    /// Workers waiting on a change now.
    var waiting: Int { state.withLock { $0.waiters.count } }

    func pause(_ region: UInt64) { change { _ = $0.regions.insert(region) } }
    func resume(_ region: UInt64) { change { _ = $0.regions.remove(region) } }
    func pauseAll() { change { $0.all = true } }

    /// Lifts every pause: the one over all regions and each region's own.
    func resumeAll() {
        change { state in
            state.all = false
            state.regions.removeAll()
        }
    }

    /// Returns once `region` is paused, or at once when the task is cancelled.
    func untilPaused(_ region: UInt64) async { await wait(region, for: .pause) }

    /// Returns once `region` is not paused, or at once when the task is cancelled.
    func whilePaused(_ region: UInt64) async { await wait(region, for: .resume) }

    /// Applies a change and wakes the waiters whose wait it ends.
    private func change(_ body: (inout State) -> Void) {
        let woken = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            body(&state)
            var ready: [CheckedContinuation<Void, Never>] = []
            var waiting: [Waiter] = []
            for waiter in state.waiters {
                if state.holds(waiter) { ready.append(waiter.continuation) } else { waiting.append(waiter) }
            }
            state.waiters = waiting
            return ready
        }
        for continuation in woken { continuation.resume() }
    }

    private func wait(_ region: UInt64, for awaited: Awaited) async {
        let token = state.withLock { state in
            defer { state.nextToken += 1 }
            return state.nextToken
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                // The cancellation flag is read under the lock that the handler takes: a cancel
                // either finds this waiter listed, or is seen here before it is listed.
                let done = state.withLock { state in
                    let waiter = Waiter(token: token, region: region, awaited: awaited, continuation: continuation)
                    if state.holds(waiter) || Task.isCancelled { return true }
                    state.waiters.append(waiter)
                    return false
                }
                if done { continuation.resume() }
            }
        } onCancel: {
            let cancelled = state.withLock { state -> CheckedContinuation<Void, Never>? in
                guard let i = state.waiters.firstIndex(where: { $0.token == token }) else { return nil }
                return state.waiters.remove(at: i).continuation
            }
            cancelled?.resume()
        }
    }
}
