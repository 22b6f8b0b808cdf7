import Foundation
import Glibc

/// Keeps the console's thread ahead of the restore's on the CPU. On a machine whose cores the
/// restore keeps busy, the console's thread was preempted many times within a frame (2 to 25
/// involuntary switches in a slow one): its frames took 5 to 10 ms where their own work is under
/// 2. An unprivileged process cannot raise a thread's priority, but it may lower its own threads':
/// every thread of the process but the console's runs at `workerNice`. Threads come and go (the
/// pools grow), so the console applies it again now and then.
public enum WorkerPriority {
    /// The nice value of the restore's threads: the console's thread, at the process's own
    /// value (0), weighs about nine times as much as each of them (1024 against 110).
    public static let workerNice: Int32 = 10

    /// The calling thread's id (`/proc/thread-self` names it: `<pid>/task/<tid>`); nil where
    /// there is no /proc.
    public static var currentThread: pid_t? {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/thread-self")).flatMap { pid_t($0.split(separator: "/").last ?? "") }
    }

    /// Lowers every thread of the process except `keep` to `workerNice`, and returns how many
    /// it changed. A thread that ended meanwhile is skipped.
    @discardableResult
    public static func lowerWorkers(except keep: pid_t) -> Int {
        guard let tasks = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task") else { return 0 }
        var lowered = 0
        for name in tasks {
            guard let tid = Int32(name), tid != keep else { continue }
            let which = __priority_which_t(PRIO_PROCESS.rawValue)
            errno = 0
            let nice = getpriority(which, id_t(tid))
            guard errno == 0, nice < workerNice, setpriority(which, id_t(tid), workerNice) == 0 else { continue }
            lowered += 1
        }
        return lowered
    }

    /// Lowers the other threads once a second, from the console's loop.
    public struct Keeper {
        let console = WorkerPriority.currentThread
        var last: ContinuousClock.Instant?

        public init() {}

        public mutating func tick(now: ContinuousClock.Instant = .now) {
            guard let console, last.map({ now - $0 >= .seconds(1) }) ?? true else { return }
            last = now
            WorkerPriority.lowerWorkers(except: console)
        }
    }
}
