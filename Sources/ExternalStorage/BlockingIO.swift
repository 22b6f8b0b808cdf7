import Foundation
import Synchronization

/// Runs blocking work (file and network I/O, fsync, RocksDB calls) on threads of its own, so that
/// it never holds one of the cooperative pool's threads. On Linux that pool is Dispatch's
/// default-QoS root queue, one thread a core, and a concurrent `DispatchQueue` runs on the same
/// threads: a rewrite waiting for its fsync there stalled half of all async work on two cores.
public enum BlockingIO {
    private static let pool = BlockingThreads(limit: 64)

    public static func run<T: Sendable, E: Error>(_ work: @escaping @Sendable () throws(E) -> T) async throws(E) -> T {
        let result: Result<T, E> = await withCheckedContinuation { continuation in
            pool.submit { continuation.resume(returning: Result { () throws(E) -> T in try work() }) }
        }
        return try result.get()
    }
}

/// A pool of threads that grows while work waits and no thread is idle (up to `limit`), and lets
/// a thread go after `idleTime` without work. Work beyond the limit queues in order.
final class BlockingThreads: Sendable {
    typealias Job = @Sendable () -> Void

    private struct State {
        var jobs: [Job] = []
        /// The first job not yet taken (the array is compacted when it is all taken).
        var head = 0
        var threads = 0
        /// Threads waiting for a job (or woken for one and not yet holding it).
        var idle = 0

        var queued: Int { jobs.count - head }

        mutating func take() -> Job {
            let job = jobs[head]
            head += 1
            if head == jobs.count { jobs.removeAll(keepingCapacity: true); head = 0 }
            return job
        }
    }

    private let limit: Int
    private let idleTime: DispatchTimeInterval
    private let state = Mutex(State())
    /// One signal per job submitted: a thread that waits on it successfully has a job to take.
    private let ready = DispatchSemaphore(value: 0)

    init(limit: Int, idleTime: DispatchTimeInterval = .seconds(5)) {
        self.limit = limit
        self.idleTime = idleTime
    }

    /// Threads alive now.
    var threads: Int { state.withLock { $0.threads } }

    func submit(_ job: @escaping Job) {
        let spawn = state.withLock { s -> Bool in
            s.jobs.append(job)
            guard s.queued > s.idle, s.threads < limit else { return false }
            s.threads += 1
            return true
        }
        ready.signal()
        if spawn {
            Thread.detachNewThread { [self] in work() }
        }
    }

    /// Takes jobs until none comes for `idleTime`.
    private func work() {
        Thread.current.name = "blocking-io"
        while true {
            state.withLock { $0.idle += 1 }
            let woken = ready.wait(timeout: .now() + idleTime) == .success
            let job = state.withLock { s -> Job? in
                s.idle -= 1
                if woken { return s.take() }
                // Timed out; a job that no other idle thread will take keeps this one.
                guard s.queued > s.idle else {
                    s.threads -= 1
                    return nil
                }
                return { }
            }
            guard let job else { return }
            job()
        }
    }
}
