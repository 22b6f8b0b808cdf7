import Foundation
import KeyCodec
import ExternalStorage
import BackupFormat
import ClusterAPI
import EmbeddedCluster
import RestoreDriver

/// Runs one restore into a new cluster while a `ChaosSchedule` injects its faults, and judges the
/// end: a matching checksum, or exactly the failure that the schedule asked for (a panicked store,
/// with the data still complete on the others); within a time limit; with no temp file left.
public struct ChaosRun: Sendable {
    public struct Verdict: Sendable {
        public var passed: Bool
        public var outcome: String
        public var problems: [String]
        public var seconds: Double
    }

    public let schedule: ChaosSchedule
    public let storage: any ExternalStorage
    public let clusterDirectory: String
    public var options = RestoreOptions()
    public var timeLimit: Duration = .seconds(120)

    public init(schedule: ChaosSchedule, storage: any ExternalStorage, clusterDirectory: String) {
        self.schedule = schedule
        self.storage = storage
        self.clusterDirectory = clusterDirectory
        options.download = RetryPolicy(attempts: 8, initialBackoff: .milliseconds(10), maxBackoff: .milliseconds(200))
        options.ingest = RetryPolicy(attempts: 32, initialBackoff: .milliseconds(20), maxBackoff: .milliseconds(500))
        options.mergeSize = 256 << 10
    }

    public func run() async -> Verdict {
        let start = ContinuousClock.now
        func verdict(_ outcome: String, _ problems: [String]) -> Verdict {
            let elapsed = (ContinuousClock.now - start).components
            return Verdict(passed: problems.isEmpty, outcome: outcome, problems: problems,
                           seconds: Double(elapsed.seconds) + Double(elapsed.attoseconds) * 1e-18)
        }
        let cluster: Cluster
        let engine: RestoreEngine
        do {
            cluster = try await Cluster.open(directory: clusterDirectory, create: .init(stores: 3, replicas: 3))
            engine = try await RestoreEngine.prepare(storage: storage, cluster: cluster, stateDirectory: cluster.directory, options: options)
        } catch {
            return verdict("setup failed", ["\(error)"])
        }
        let faults = Task { await inject(into: engine, cluster: cluster) }
        let restore = Task { await engine.run() }
        let finished = await Self.value(of: restore, within: timeLimit)
        faults.cancel()
        await faults.value
        await heal(cluster)
        guard let outcome = finished else {
            await cluster.close()
            return verdict("hang", ["no end within \(timeLimit): \(engine.monitor.snapshot().counts)"])
        }
        var problems: [String] = []
        let panicked = Set(cluster.stores.values.filter { if case .panicked = $0.state { true } else { false } }.map(\.id))
        switch outcome {
        case .success where panicked.isEmpty:
            break
        case let .storePanicked(stores) where schedule.panicStore.map { Set(stores.keys) == [$0] && panicked == [$0] } == true:
            // Every region has a peer on the panicked store (3 stores, 3 replicas), so nothing can
            // be ingested after the panic without a replica lacking its SSTs (TiKV's rule): the
            // regions wait or fail. What went in before is on the surviving replicas, alike.
            let survivors = cluster.stores.values.filter { !panicked.contains($0.id) }.sorted { $0.id < $1.id }
            if !(await Self.replicasAgree(survivors, in: cluster)) { problems.append("the surviving replicas do not hold the same data") }
        default:
            let expected = schedule.panicStore.map { "store \($0) panicked" } ?? "success"
            problems.append("expected \(expected) with a matching checksum, got \(outcome); panicked stores: \(panicked.sorted())")
            problems += engine.checksumMismatches.map { "checksum mismatch: \($0)" }
            problems += engine.monitor.snapshot().events.filter { $0.level == .error }.suffix(5).map { "error event: \($0.message)" }
        }
        problems += Self.leftovers(in: clusterDirectory)
        await cluster.close()
        return verdict("\(outcome)", problems)
    }

    /// True once every store of `stores` holds the same keys and values (followers catch up
    /// within a few seconds).
    static func replicasAgree(_ stores: [Store], in cluster: Cluster) async -> Bool {
        func digest(_ store: Store) -> KVChecksum {
            var sum = KVChecksum()
            for cf in [ColumnFamily.write, .default] {
                try? store.db.scan(cf: cf, from: [DataKey.prefix]) { key, value in
                    sum.add(key: key, value: value)
                    return true
                }
            }
            return sum
        }
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            await cluster.pd.wakeEveryRegion()
            if Set(stores.map(digest)).count <= 1 { return true }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return false
    }

    /// Injects each step when the restore reaches its point of progress; timed faults are undone
    /// after their time, or when the run ends.
    private func inject(into engine: RestoreEngine, cluster: Cluster) async {
        for step in schedule.steps {
            guard await Self.waitForProgress(engine, step.atProgress) else { return }
            let snapshot = engine.monitor.snapshot()
            engine.monitor.event(.warn, "chaos: \(step.fault)")
            switch step.fault {
            case let .failDownloads(store, count):
                cluster.failNextDownloads(onStore: store, count: count)
            case let .corruptDownload(store):
                cluster.corruptNextDownloads(onStore: store, count: 1)
            case .transferLeader:
                var random = SyntheticRandom(seed: schedule.seed ^ UInt64(step.atProgress * 1_000))
                if let row = snapshot.regions.randomElement(using: &random) { await engine.drillTransferLeader(region: row.id) }
            case .split:
                if let row = snapshot.regions.first(where: { $0.phase == .queued || $0.phase == .downloading }) { await engine.drillSplit(region: row.id) }
            case let .busy(store, ms):
                cluster.makeBusy(store: store, for: .milliseconds(ms))
            case let .storeDown(store, ms):
                try? await cluster.setStore(store, up: false)
                try? await Task.sleep(for: .milliseconds(ms))
                if cluster.store(store)?.state == .down { try? await cluster.setStore(store, up: true) }
            case let .partition(store, ms):
                await cluster.setPartitioned(store, true)
                try? await Task.sleep(for: .milliseconds(ms))
                await cluster.setPartitioned(store, false)
            case let .failApply(store):
                cluster.failNextApplies(onStore: store, count: 1)
            }
        }
    }

    /// Brings back every store that a cancelled step left down or partitioned.
    private func heal(_ cluster: Cluster) async {
        for (id, store) in cluster.stores {
            await cluster.setPartitioned(id, false)
            if store.state == .down { try? await cluster.setStore(id, up: true) }
        }
    }

    /// False when the restore ended (or the task was cancelled) before reaching `fraction`.
    private static func waitForProgress(_ engine: RestoreEngine, _ fraction: Double) async -> Bool {
        while !Task.isCancelled {
            let s = engine.monitor.snapshot()
            if s.phase == .done || s.phase == .checksum { return false }
            if s.totalBytes > 0, Double(s.doneBytes) >= fraction * Double(s.totalBytes) { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return false
    }

    private static func value<T: Sendable>(of task: Task<T, Never>, within limit: Duration) async -> T? {
        await withTaskGroup(of: T?.self) { group in
            group.addTask { await task.value }
            group.addTask {
                try? await Task.sleep(for: limit)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }

    /// Temp files of downloads and rewrites that outlived the restore. A store keeps its download
    /// files for reuse, emptied after each download: only one with data in it is left behind.
    static func leftovers(in directory: String) -> [String] {
        guard let walker = FileManager.default.enumerator(atPath: directory) else { return [] }
        var found: [String] = []
        while let name = walker.nextObject() as? String {
            guard name.hasSuffix(".temp") else { continue }
            let size = (try? FileManager.default.attributesOfItem(atPath: directory + "/" + name)[.size] as? UInt64) ?? 0
            if !((name as NSString).lastPathComponent.hasPrefix("download-") && size == 0) { found.append("temp file left behind: \(name)") }
        }
        return found
    }
}
