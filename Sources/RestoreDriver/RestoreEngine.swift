import Foundation
import Logging
import KeyCodec
import ExternalStorage
import BackupFormat
import ClusterAPI

/// The restore driver, as BR's client: it splits and scatters regions along the backup's rewritten
/// file ranges, downloads every file set on every peer of its region, ingests it on the leader, and
/// retries by TiKV's errors. Regions that run out of budget wait, Failed, for the operator; the rest
/// go on. Progress is checkpointed, so the same restore resumes after a quit or a crash.
///
/// The engine coordinates parts that each own their state: what the restore is (`job`), the
/// stores' speed limit, the checkpoint, the operator's control (pauses as wake-ups, Failed
/// regions), the regions' work, the reporter (events into the monitor), the piece restorer (the
/// protocol for one region) and what the run counted.
public final class RestoreEngine: Sendable {
    let job: RestoreJob
    let rate: StoreRateLimit
    let checkpoint: Checkpoint
    let control = RestoreControl()
    let queue = WorkQueue<RegionWork>()
    let reporter: ProgressReporter
    let pieces: PieceRestorer
    let tally = RestoreTally()

    public var monitor: RestoreMonitor { reporter.monitor }
    public var cluster: any ClusterClient { job.cluster }
    /// Where the checkpoint lives (the embedded cluster's directory, or a directory of the operator's).
    public var stateDirectory: String { job.stateDirectory }
    public var backup: Backup { job.backup }
    public var plan: RestorePlan { job.plan }
    public var rules: RuleBuilder { job.rules }
    var storage: any ExternalStorage { job.storage }
    var options: RestoreOptions { job.options }
    var storeIDs: [UInt64] { rate.storeIDs }
    var metrics: RestoreMetrics { tally.metrics }

    public enum Outcome: Sendable, Equatable {
        /// Every region ingested and the checksum matched (or was skipped).
        case success
        case regionsFailed(Int)
        case storePanicked([UInt64: String])
        case checksumMismatch
        /// Every region is in, but the checksum could not be read (why); `verify` takes it again.
        case checksumUnread(String)
        /// The run was cancelled before its end; the checkpoint holds what was done.
        case stopped
    }

    // MARK: preparing

    /// Reads and validates the backup, derives the rules and the plan, and opens the checkpoint.
    /// Nothing is written to the stores here: bad input fails before any write.
    public static func prepare(
        storage: any ExternalStorage, cluster: any ClusterClient, stateDirectory: String, options: RestoreOptions, insecureTLS: Bool = false
    ) async throws(RestoreError) -> RestoreEngine {
        let inputs = try await RestoreInputs.read(storage: storage, survey: cluster, stateDirectory: stateDirectory, options: options)
        return try await prepare(inputs, storage: storage, cluster: cluster, stateDirectory: stateDirectory, options: options, insecureTLS: insecureTLS)
    }

    /// Opens the checkpoint of `inputs` (read from the same cluster and options) and makes the engine.
    public static func prepare(
        _ inputs: RestoreInputs, storage: any ExternalStorage, cluster: any ClusterClient, stateDirectory: String, options: RestoreOptions, insecureTLS: Bool = false
    ) async throws(RestoreError) -> RestoreEngine {
        let rules = inputs.rules
        let header = Checkpoint.Header(
            backup: inputs.backupKey, tableIDs: Dictionary(uniqueKeysWithValues: rules.tableIDs.map { (String($0.key), $0.value) }),
            rules: rules.userRules.rules.map(\.description), newTimestamp: inputs.newTimestamp == 0 ? nil : inputs.newTimestamp)
        let checkpoint = try Checkpoint(clusterDirectory: stateDirectory, header: header)
        guard checkpoint.header.rules == header.rules else {
            throw .checkpoint(path: checkpoint.path, reason: "was made with other rewrite rules (\(checkpoint.header.rules.joined(separator: ", "))); restore with the same options, or into a new cluster")
        }
        let stores = await cluster.stores()
        // Only a limit is sent: BR sets one only when asked (tidb br/pkg/restore/snap_client/client.go).
        if options.rateLimit != 0 { for store in stores { await cluster.setDownloadSpeedLimit(options.rateLimit, on: store.id) } }
        return RestoreEngine(
            storage: storage, cluster: cluster, stateDirectory: stateDirectory, storeIDs: stores.map(\.id), backup: inputs.backup, plan: inputs.plan, rules: rules,
            options: options, checkpoint: checkpoint, backupKey: inputs.backupKey, insecureTLS: insecureTLS)
    }

    private init(
        storage: any ExternalStorage, cluster: any ClusterClient, stateDirectory: String, storeIDs: [UInt64], backup: Backup, plan: RestorePlan,
        rules: RuleBuilder, options: RestoreOptions, checkpoint: Checkpoint, backupKey: String, insecureTLS: Bool
    ) {
        job = RestoreJob(
            storage: storage, cluster: cluster, stateDirectory: stateDirectory, backup: backup, backupKey: backupKey, plan: plan, rules: rules, options: options)
        rate = StoreRateLimit(initial: options.rateLimit, storeIDs: storeIDs, cluster: cluster)
        self.checkpoint = checkpoint
        var source = storage.displayName + (options.cipher.map { " (encrypted, \($0.method.name))" } ?? "")
        if backup.startVersion != 0 {
            source += " (incremental: versions \(backup.startVersion) to \(backup.endVersion), at timestamp \(rules.userRules.rules.first?.newTimestamp ?? 0))"
        }
        let monitor = RestoreMonitor(source: source, clusterLocation: cluster.location, storeCount: storeIDs.count, replicas: cluster.replicas, insecureTLS: insecureTLS)
        reporter = ProgressReporter(monitor: monitor)
        reporter.report(.totals(bytes: plan.totalSize, kvs: plan.totalKVs))
        reporter.report(.tables(Self.tableRows(backup: backup, plan: plan, rules: rules)))
        var pieces = PieceRestorer(
            cluster: cluster, storage: storage, rules: rules.importRules, mode: rules.mode, format: rules.format, retries: RetryRules(download: options.download, ingest: options.ingest),
            reporter: reporter, control: control,
            downloadSlots: StoreSlots(width: options.downloadsPerStore),
            ingestSlots: AsyncSemaphore(options.concurrentIngests), backupKey: backupKey)
        // As BR: a raw backup's keys are of its own API version; TiDB's keys are V1's.
        pieces.apiVersion = backup.isRawKV ? backup.apiVersion.rawValue : 0
        pieces.cipher = options.cipher
        pieces.batching = options.batchDownload
        self.pieces = pieces
    }

    /// Each table with what it holds: its files, regions (merged ranges), kvs and bytes.
    static func tableRows(backup: Backup, plan: RestorePlan, rules: RuleBuilder) -> [TableRow] {
        backup.tables.map { table in
            let ids = Set(table.physicalIDs)
            let sets = plan.fileSets.filter { $0.tableID.map(ids.contains) ?? false }
            let regions = plan.ranges.filter { plan.fileSets[$0.fileSets[0]].tableID.map(ids.contains) ?? false }.count
            return TableRow(
                name: table.displayName, oldIDs: table.physicalIDs, newIDs: table.physicalIDs.compactMap { rules.tableIDs[$0] },
                regions: regions, files: sets.reduce(0) { $0 + $1.files.count }, kvs: sets.reduce(0) { $0 + $1.checksum.totalKVs },
                bytes: sets.reduce(0) { $0 + $1.size })
        }
    }

    /// Writes the restore's events to `logger` as structured records, from now on.
    public func logEvents(to logger: Logger) {
        reporter.log.attach(logger, fileSets: plan.fileSets)
    }

    // MARK: running

    /// Runs the restore until every region is ingested, or nothing is left but Failed regions.
    /// Call again after retrying failed regions.
    public func run() async -> Outcome {
        let outcome = await runToEnd()
        // Nothing moves once the run is over: the rates fall to zero instead of keeping the last.
        await refreshStores(idle: true)
        reporter.log.record(RestoreSummary(engine: self, outcome: outcome))
        return outcome
    }

    private func runToEnd() async -> Outcome {
        let statsTask = Task { [weak self] in
            while !Task.isCancelled {
                await self?.refreshStores()
                try? await Task.sleep(for: .milliseconds(500))
            }
        }
        defer { statsTask.cancel() }
        if monitor.snapshot().phase == .reading {
            do { try await splitAndScatter() } catch {
                reporter.report(.log(.error, "split failed: \(error)"))
            }
            await enqueueInitialWork()
            reporter.report(.phase(.restoring))
        }
        await switchMode(.import)
        if rateLimit != 0 { for id in storeIDs { await cluster.setDownloadSpeedLimit(rateLimit, on: id) } }
        await drainQueue()
        if Task.isCancelled {
            await leaveImport()
            return .stopped
        }
        // A region scan that missed part of the key space (a PD mid-change) leaves pieces that no
        // work covered: they are queued again, by the regions that hold them now.
        for _ in 0..<3 where control.state.withLock({ $0.failed.isEmpty }) {
            guard await requeueUncovered() > 0 else { break }
            await drainQueue()
        }
        await leaveImport()
        // Followers apply the last ingests after the leaders: the outcome waits for them, so that
        // a replica whose apply panicked its store is in it (where the stores can be read).
        if let inspection = cluster as? any ClusterInspection { await inspection.waitForReplicasToApply(timeout: .seconds(10)) }
        await refreshStores()
        let panics = control.state.withLock { $0.storePanics }.merging(Self.panickedStores(await cluster.stores())) { a, _ in a }
        let failed = control.state.withLock { $0.failed.count }
        if failed > 0 {
            reporter.report(.log(.error, "\(failed) regions failed; retry them (r/R in the console) or rerun the same command"))
            return panics.isEmpty ? .regionsFailed(failed) : .storePanicked(panics)
        }
        let uncovered = plan.fileSets.filter { !checkpoint.remaining(set: $0.id, range: $0.newRange).isEmpty }
        if !uncovered.isEmpty {
            reporter.report(.log(.error, "\(uncovered.count) file sets have ranges that no region covered; rerun the same command to restore them"))
            return .regionsFailed(uncovered.count)
        }
        if options.verifyChecksum {
            reporter.report(.phase(.checksum))
            let verdict = await verifyChecksum()
            reporter.report(.phase(.done))
            switch verdict {
            case .matched: break
            case .mismatched: return .checksumMismatch
            case let .unread(why): return .checksumUnread(why)
            }
        } else {
            reporter.report(.tableChecksums(mismatched: nil))
            reporter.report(.phase(.done))
        }
        return panics.isEmpty ? .success : .storePanicked(panics)
    }
}
