import Foundation
import Synchronization

/// Failpoints for crash tests, in the manner of TiKV's `fail` crate: with
/// `RESTORE_CONSOLE_CRASH_AT=point:n` in the environment, the process kills itself with SIGKILL
/// the n-th time it passes `point`, exactly as an operator's `kill -9` or a power cut would end it
/// there. Without the variable a pass costs one load of a constant.
public enum CrashPoint: String, Sendable, CaseIterable {
    /// After a region split is applied.
    case split
    /// After a chunk of a download is written to the import directory.
    case download
    /// After each 512 entries written to a rewritten SST.
    case rewrite
    /// After a replica linked the clones of a file set's SSTs, before it ingests them.
    case ingestLinked
    /// After a replica ingested a file set into RocksDB, while the import files still share their
    /// inodes with the live SSTs, before it saves its applied index.
    case ingest
    /// After the checksum has read one part of the restored data.
    case checksum

    public static let environmentVariable = "RESTORE_CONSOLE_CRASH_AT"

    private static let armed: (point: CrashPoint, count: Int)? = ProcessInfo.processInfo.environment[environmentVariable].flatMap(arming)

    /// The point and the pass count that `spec` (`point:n`, n > 0) arms, or nil.
    static func arming(_ spec: String) -> (point: CrashPoint, count: Int)? {
        let parts = spec.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let point = CrashPoint(rawValue: String(parts[0])), let count = Int(parts[1]), count > 0 else { return nil }
        return (point, count)
    }

    private static let passes = Atomic<Int>(0)

    @inline(__always)
    public func pass() {
        guard let armed = Self.armed, armed.point == self else { return }
        if Self.passes.add(1, ordering: .relaxed).newValue == armed.count { kill(getpid(), SIGKILL) }
    }
}
