import Synchronization
import ExternalStorage
import BackupFormat
import ClusterAPI

/// What a restore is and never changes while it runs: the backup and where it is read from, the
/// cluster it goes into, the rules and plan made for it, the options, and where its checkpoint lives.
struct RestoreJob: Sendable {
    let storage: any ExternalStorage
    let cluster: any ClusterClient
    let stateDirectory: String
    let backup: Backup
    let backupKey: String
    let plan: RestorePlan
    let rules: RuleBuilder
    let options: RestoreOptions
}

/// The download speed limit of every store: the operator's latest, applied to the stores in the
/// order it was set (one at a time, so an older limit never lands after a newer one).
final class StoreRateLimit: Sendable {
    let storeIDs: [UInt64]
    private let value: Mutex<UInt64>
    private let updates: AsyncStream<UInt64>.Continuation
    private let applier: Task<Void, Never>

    init(initial: UInt64, storeIDs: [UInt64], cluster: any ClusterClient) {
        self.storeIDs = storeIDs
        value = Mutex(initial)
        let (stream, continuation) = AsyncStream.makeStream(of: UInt64.self)
        updates = continuation
        applier = Task {
            for await limit in stream {
                for id in storeIDs { await cluster.setDownloadSpeedLimit(limit, on: id) }
            }
        }
    }

    var current: UInt64 { value.withLock { $0 } }

    func set(_ bytesPerSecond: UInt64) {
        value.withLock { $0 = bytesPerSecond }
        updates.yield(bytesPerSecond)
    }

    deinit {
        updates.finish()
        applier.cancel()
    }
}

/// What the run has counted for its summary and metrics.
final class RestoreTally: Sendable {
    /// The file sets whose files count as restored.
    let countedSets = Mutex(Set<Int>())
    /// How long the split and scatter took.
    let splitDuration = Mutex(Duration.zero)
    let lastMismatches = Mutex<[ChecksumVerifier.Mismatch]>([])
    let metrics = RestoreMetrics()
}
