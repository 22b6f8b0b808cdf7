import Foundation
import Synchronization
import Testing
@testable import ExternalStorage

@Suite struct BlockingIOTests {
    /// A value that escaping closures share.
    final class Shared<Value: Sendable>: Sendable {
        let value: Mutex<Value>
        init(_ value: Value) { self.value = Mutex(value) }
    }

    /// Sixteen jobs that each wait for the others hold sixteen threads at once, on two cores,
    /// while the test's own task (on the cooperative pool) still runs and releases them.
    @Test(.timeLimit(.minutes(1))) func blockingJobsGetThreadsOfTheirOwn() async {
        let jobs = 16
        let started = Shared(0)
        let release = DispatchSemaphore(value: 0)
        let (allStarted, startedAll) = AsyncStream<Void>.makeStream()
        let running = Task {
            await withTaskGroup(of: Bool.self) { group in
                for _ in 0..<jobs {
                    group.addTask {
                        await BlockingIO.run {
                            if started.value.withLock({ $0 += 1; return $0 }) == jobs { startedAll.yield() }
                            return release.wait(timeout: .now() + 30) == .success
                        }
                    }
                }
                return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
        }
        for await _ in allStarted { break }
        for _ in 0..<jobs { release.signal() }
        #expect(await running.value == jobs)
    }

    /// A pool at its limit queues the rest and never runs more than the limit at once: two
    /// jobs that block hold both threads, the other four wait for them; and the threads go when no
    /// work comes for the idle time.
    @Test(.timeLimit(.minutes(1))) func thePoolKeepsItsLimitAndShrinksWhenIdle() async {
        let pool = BlockingThreads(limit: 2, idleTime: .milliseconds(20))
        struct Counts { var running = 0, most = 0 }
        let counts = Shared(Counts())
        let release = DispatchSemaphore(value: 0)
        let (events, event) = AsyncStream<String>.makeStream()
        for _ in 0..<6 {
            pool.submit {
                let running = counts.value.withLock { $0.running += 1; $0.most = max($0.most, $0.running); return $0.running }
                if running == 2 { event.yield("two running") }
                _ = release.wait(timeout: .now() + 30)
                counts.value.withLock { $0.running -= 1 }
                event.yield("done")
            }
        }
        var finished = 0
        for await what in events {
            if what == "two running", finished == 0 { for _ in 0..<6 { release.signal() } }
            if what == "done" { finished += 1 }
            if finished == 6 { break }
        }
        #expect(counts.value.withLock { $0.most } == 2)
        #expect(pool.threads <= 2)
        // Idle threads leave: the pool is empty again once no work came for the idle time.
        let deadline = ContinuousClock.now + .seconds(10)
        while pool.threads > 0, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(5)) }
        #expect(pool.threads == 0)
    }
}
