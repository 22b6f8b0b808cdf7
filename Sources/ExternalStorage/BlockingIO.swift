import Dispatch
import KeyCodec

/// Runs blocking work (file and network I/O, RocksDB calls) on Dispatch's threads, so that it never
/// holds one of the few threads of Swift's cooperative pool.
public enum BlockingIO {
    private static let queue = DispatchQueue(label: "restore-console.blocking-io", attributes: .concurrent)

    public static func run<T: Sendable, E: Error>(_ work: @escaping @Sendable () throws(E) -> T) async throws(E) -> T {
        let result: Result<T, E> = await withCheckedContinuation { continuation in
            queue.async { continuation.resume(returning: Result { () throws(E) -> T in try work() }) }
        }
        return try result.get()
    }
}
