import Foundation
import Synchronization

/// The restore driver, as BR's client: it splits and scatters regions along the backup's rewritten
/// file ranges, downloads every file set on every peer of its region, ingests it on the leader, and
/// retries by TiKV's errors. Regions that run out of budget wait, Failed, for the operator; the rest
/// go on. Progress is checkpointed, so the same restore resumes after a quit or a crash.
public final class RestoreEngine: Sendable {
    public let monitor: RestoreMonitor
    public let cluster: Cluster
    public let backup: Backup
    public let plan: RestorePlan
    public let rules: RuleBuilder
    let storage: any ExternalStorage
    let options: RestoreOptions
    let services: [UInt64: ImportService]
    let checkpoint: Checkpoint
    let backupKey: String
    private let control = Mutex(Control())
    private let queue = WorkQueue<Work>()
    private let downloadSlots: [UInt64: AsyncSemaphore]
    private let ingestSlots: AsyncSemaphore

    struct Control {
        var pausedAll = false
        var paused = Set<UInt64>()
        var failed: [UInt64: Work] = [:]
        var storePanics: [UInt64: String] = [:]
    }

    /// One region's share of the restore: the file sets to restore into `range`.
    struct Work: Sendable {
        var regionID: UInt64
        var range: KeyRange
        var fileSets: [Int]
    }

    public enum Outcome: Sendable, Equatable {
        /// Every region ingested and the checksum matched (or was skipped).
        case success
        case regionsFailed(Int)
        case storePanicked([UInt64: String])
        case checksumMismatch
    }

    // MARK: preparing

    /// Reads and validates the backup, derives the rules and the plan, and opens the checkpoint.
    /// Nothing is written to the stores here: bad input fails before any write.
    public static func prepare(storage: any ExternalStorage, cluster: Cluster, options: RestoreOptions, insecureTLS: Bool = false) async throws(RestoreError) -> RestoreEngine {
        let backup: Backup
        do { backup = try await BlockingIO.run { () throws(BackupError) -> Backup in try BackupReader(storage: storage).read() } } catch {
            throw .backup(error)
        }
        let key = SHA256Digest.hash(Array(backup.files.map { $0.name + $0.sha256.hexString }.joined().utf8)).prefix(8).hexString
        // A resume keeps the table ids of the first run, whatever is in use by now.
        var effective = options
        let checkpointPath = "\(cluster.directory)/checkpoints/\(key).log"
        if let data = FileManager.default.contents(atPath: checkpointPath),
           let line = data.split(separator: UInt8(ascii: "\n")).first,
           let header = try? JSONDecoder().decode(Checkpoint.Header.self, from: Data(line)) {
            for (old, new) in header.tableIDs { if let o = Int64(old) { effective.tableIDMap[o] = new } }
        }
        let highest = await Self.highestTableID(in: cluster)
        let rules = try RuleBuilder(backup: backup, options: effective, highestTableIDInUse: highest)
        let plan = try RestorePlan(backup: backup, rules: rules, mergeSize: options.mergeSize)
        let header = Checkpoint.Header(
            backup: key, tableIDs: Dictionary(uniqueKeysWithValues: rules.tableIDs.map { (String($0.key), $0.value) }),
            rules: rules.userRules.rules.map(\.description))
        let checkpoint = try Checkpoint(clusterDirectory: cluster.directory, header: header)
        guard checkpoint.header.rules == header.rules else {
            throw .checkpoint(path: checkpoint.path, reason: "was made with other rewrite rules (\(checkpoint.header.rules.joined(separator: ", "))); restore with the same options, or into a new cluster")
        }
        return RestoreEngine(storage: storage, cluster: cluster, backup: backup, plan: plan, rules: rules, options: options, checkpoint: checkpoint, backupKey: key, insecureTLS: insecureTLS)
    }

    private init(storage: any ExternalStorage, cluster: Cluster, backup: Backup, plan: RestorePlan, rules: RuleBuilder, options: RestoreOptions, checkpoint: Checkpoint, backupKey: String, insecureTLS: Bool) {
        self.storage = storage
        self.cluster = cluster
        self.backup = backup
        self.plan = plan
        self.rules = rules
        self.options = options
        self.checkpoint = checkpoint
        self.backupKey = backupKey
        var services: [UInt64: ImportService] = [:]
        var slots: [UInt64: AsyncSemaphore] = [:]
        for (id, store) in cluster.stores {
            services[id] = ImportService(store: store, pd: cluster.pd, bytesPerSecond: options.rateLimit)
            slots[id] = AsyncSemaphore(options.downloadsPerStore)
        }
        self.services = services
        downloadSlots = slots
        ingestSlots = AsyncSemaphore(options.concurrentIngests)
        monitor = RestoreMonitor(source: storage.displayName, clusterDirectory: cluster.directory, storeCount: cluster.stores.count, replicas: cluster.configuration.replicas, insecureTLS: insecureTLS)
        monitor.update { s in
            s.totalBytes = plan.totalSize
            s.totalKVs = plan.totalKVs
        }
    }

    /// The largest TiDB table id with data in the cluster: the last `z` + `t...` key of any store.
    static func highestTableID(in cluster: Cluster) async -> Int64 {
        var highest: Int64 = 0
        for store in cluster.stores.values where store.isUp {
            for cf in [ColumnFamily.write, .default] {
                var last: [UInt8]?
                try? store.db.scan(cf: cf, from: DataKey.make(Memcomparable.encode([UInt8(ascii: "t")]))) { key, _ in
                    guard key.count > 1, key[1] == UInt8(ascii: "t") else { return false }
                    last = Array(key)
                    return true
                }
                if let last, let user = try? MVCCKey(decoding: last.dropFirst()).userKey, let id = TableCodec.decode(user)?.tableID {
                    highest = Swift.max(highest, id)
                }
            }
        }
        return highest
    }

    // MARK: control

    /// Pauses a region at its next protocol step; a region still queued shows Paused at once.
    public func pause(region id: UInt64) {
        control.withLock { _ = $0.paused.insert(id) }
        monitor.updateRow(id) { row in
            guard row.phase == .queued else { return }
            row.phase = .paused
            row.setEveryPeer(.paused)
        }
        monitor.event(.info, region: id, "paused by operator")
    }

    public func resume(region id: UInt64) {
        control.withLock { _ = $0.paused.remove(id) }
        monitor.updateRow(id) { row in
            guard row.phase == .paused else { return }
            row.phase = .queued
            row.setEveryPeer(.queued)
        }
        monitor.event(.info, region: id, "resumed by operator")
    }

    public func pauseAll() {
        control.withLock { $0.pausedAll = true }
        monitor.event(.info, "all regions paused by operator")
    }

    public func resumeAll() {
        control.withLock {
            $0.pausedAll = false
            $0.paused.removeAll()
        }
        monitor.event(.info, "all regions resumed by operator")
    }

    public func isPaused(region id: UInt64) -> Bool { control.withLock { $0.pausedAll || $0.paused.contains(id) } }

    /// Puts a Failed region back to work; returns false when it is not Failed.
    @discardableResult
    public func retry(region id: UInt64) async -> Bool {
        guard let work = control.withLock({ $0.failed.removeValue(forKey: id) }) else { return false }
        monitor.updateRow(id) { row in
            row.phase = .queued
            row.attempts = 0
            row.setEveryPeer(.queued)
        }
        monitor.event(.info, region: id, "retry requested by operator")
        await queue.push(work)
        return true
    }

    public func retryFailed() async -> Int {
        let ids = control.withLock { Array($0.failed.keys) }
        for id in ids { await retry(region: id) }
        return ids.count
    }

    public var failedRegions: [UInt64] { control.withLock { Array($0.failed.keys).sorted() } }

    /// Changes every store's download rate limit, live.
    public func setRateLimit(_ bytesPerSecond: UInt64) {
        for service in services.values { service.limiter.bytesPerSecond = bytesPerSecond }
        monitor.event(.info, "download rate limit set to \(bytesPerSecond == 0 ? "unlimited" : ByteFormat.rate(Double(bytesPerSecond))) per store")
    }

    public var rateLimit: UInt64 { services.values.first?.limiter.bytesPerSecond ?? 0 }

    // MARK: running

    /// Runs the restore until every region is ingested, or nothing is left but Failed regions.
    /// Call again after retrying failed regions.
    public func run() async -> Outcome {
        let statsTask = Task { [weak self] in
            while !Task.isCancelled {
                self?.refreshStores()
                try? await Task.sleep(for: .milliseconds(500))
            }
        }
        defer { statsTask.cancel() }
        if monitor.snapshot().phase == .reading {
            do { try await splitAndScatter() } catch {
                monitor.event(.error, "split failed: \(error)")
            }
            await enqueueInitialWork()
            monitor.setPhase(.restoring)
        }
        await withTaskGroup(of: Void.self) { group in
            let workers = Swift.max(1, cluster.stores.count * options.downloadsPerStore)
            for _ in 0..<workers {
                group.addTask { [self] in
                    while let work = await queue.next() {
                        await process(work)
                        await queue.finished()
                    }
                }
            }
        }
        refreshStores()
        let panics = control.withLock { $0.storePanics }.merging(Self.panickedStores(cluster)) { a, _ in a }
        let failed = control.withLock { $0.failed.count }
        if failed > 0 {
            monitor.event(.error, "\(failed) regions failed; retry them (r/R in the console) or rerun the same command")
            return panics.isEmpty ? .regionsFailed(failed) : .storePanicked(panics)
        }
        if options.verifyChecksum {
            monitor.setPhase(.checksum)
            let matched = await verifyChecksum()
            monitor.setPhase(.done)
            if !matched { return .checksumMismatch }
        } else {
            monitor.setPhase(.done)
        }
        return panics.isEmpty ? .success : .storePanicked(panics)
    }

    /// Runs the checksum alone; true when everything matches.
    public func verifyChecksum() async -> Bool {
        do {
            let report = try await ChecksumVerifier(cluster: cluster, plan: plan, rules: rules, backup: backup).verify()
            monitor.update { $0.checksumMatch = report.isMatch }
            if report.isMatch {
                monitor.event(.info, "checksum matched: crc64xor=\(report.total.crc64xor) kvs=\(report.total.totalKVs) bytes=\(report.total.totalBytes)")
            } else {
                for m in report.mismatches { monitor.event(.error, "checksum mismatch: \(m)") }
                if report.mismatches.isEmpty {
                    monitor.event(.error, "checksum mismatch: expected \(report.expected), restored \(report.total)")
                }
            }
            lastMismatches.withLock { $0 = report.mismatches }
            return report.isMatch
        } catch {
            monitor.update { $0.checksumMatch = false }
            monitor.event(.error, "checksum failed: \(error)")
            return false
        }
    }

    let lastMismatches = Mutex<[ChecksumVerifier.Mismatch]>([])
    public var checksumMismatches: [ChecksumVerifier.Mismatch] { lastMismatches.withLock { $0 } }

    private func splitAndScatter() async throws {
        monitor.setPhase(.splitting)
        let keys = plan.splitKeys
        // Split in two batches, as BR: every 128th key first, so the second batch splits in parallel regions.
        let sparse = stride(from: 0, to: keys.count, by: 128).map { keys[$0] }
        for batch in [sparse, keys] where !batch.isEmpty {
            let created = try await cluster.pd.splitAt(batch)
            if !created.isEmpty {
                monitor.event(.info, "split \(created.count) regions")
                do { try await cluster.pd.scatter(created.map(\.id)) } catch {
                    monitor.event(.warn, "scatter did not finish: \(error)")  // a warning, not a failure
                }
            }
        }
    }

    private func enqueueInitialWork() async {
        var pieces = 0
        for merged in plan.ranges {
            for region in await cluster.pd.regions(overlapping: merged.range) {
                let clipped = Self.clip(merged.range, to: region.range)
                let sets = merged.fileSets.filter { !checkpoint.isDone(set: $0, range: clipped) }
                let leader = await cluster.pd.leader(of: region.id)
                let row = makeRow(region, leader: leader, fileSets: merged.fileSets.count, done: merged.fileSets.count - sets.count, phase: sets.isEmpty ? .ingested : .queued)
                monitor.setRow(row)
                for id in merged.fileSets { countIfComplete(plan.fileSets[id]) }
                if !sets.isEmpty {
                    pieces += 1
                    await queue.push(Work(regionID: region.id, range: clipped, fileSets: sets))
                }
            }
        }
        if checkpoint.isResume { monitor.event(.info, "resuming: \(pieces) regions left to restore") }
        // A resume cleans import directories of files that no pending work needs.
        let pending = await cluster.pd.pendingIngestFiles()
        for (id, service) in services where service.store.isUp {
            let removed = service.cleanImportDirectory(keeping: pending[id] ?? [])
            if removed > 0 { monitor.event(.info, store: id, "removed \(removed) leftover files from the import directory") }
        }
    }

    func makeRow(_ region: Region, leader: PeerMeta?, fileSets: Int, done: Int, phase: RegionPhase) -> RegionRow {
        RegionRow(
            id: region.id, startKey: region.startKey, endKey: region.endKey, epoch: region.epoch, leaderStore: leader?.storeID,
            peers: region.peers.map { PeerProgress(storeID: $0.storeID, phase: phase == .ingested ? .ingested : .queued, isLeader: $0.storeID == leader?.storeID) },
            phase: phase, attempts: 0, lastError: nil, waitingFor: nil, since: Date(), fileSetsDone: done, fileSetsTotal: fileSets,
            bytes: 0, history: [])
    }

    static func clip(_ range: KeyRange, to region: KeyRange) -> KeyRange {
        let start = keyLess(range.start, region.start) ? region.start : range.start
        var end = range.end
        if end.isEmpty || (!region.end.isEmpty && keyLess(region.end, end)) { end = region.end }
        return KeyRange(start: start, end: end)
    }

    static func panickedStores(_ cluster: Cluster) -> [UInt64: String] {
        var out: [UInt64: String] = [:]
        for store in cluster.stores.values { if case let .panicked(reason) = store.state { out[store.id] = reason } }
        return out
    }

    /// Refreshes the per-store figures of the snapshot.
    func refreshStores() {
        let current = monitor.snapshot()
        let known = Set(current.stores.filter { if case .panicked = $0.state { true } else { false } }.map(\.id))
        for (id, reason) in Self.panickedStores(cluster) where !known.contains(id) {
            monitor.event(.error, store: id, "store \(id) PANICKED: \(reason)")
        }
        let rows: [StoreRow] = cluster.stores.values.sorted { $0.id < $1.id }.map { store in
            let service = services[store.id]!
            let previous = current.stores.first { $0.id == store.id }
            var history = previous?.history ?? []
            history.append(service.meter.bytesPerSecond)
            if history.count > RestoreMonitor.historyLimit { history.removeFirst() }
            return StoreRow(
                id: store.id, state: store.state, leaders: previous?.leaders ?? 0, downloadsInFlight: previous?.downloadsInFlight ?? 0,
                downloadSlots: options.downloadsPerStore, ingestsQueued: previous?.ingestsQueued ?? 0,
                bytesPerSecond: service.meter.bytesPerSecond, rateLimit: service.limiter.bytesPerSecond,
                bytesDownloaded: service.meter.totalBytes, bytesIngested: previous?.bytesIngested ?? 0, history: history)
        }
        monitor.update { s in
            var leaders: [UInt64: Int] = [:]
            for r in s.regions { if let l = r.leaderStore { leaders[l, default: 0] += 1 } }
            s.stores = rows.map { row in
                var r = row
                r.leaders = leaders[row.id] ?? 0
                return r
            }
            s.bytesPerSecond = rows.reduce(0) { $0 + $1.bytesPerSecond } / Double(Swift.max(1, cluster.configuration.replicas))
            s.memory = ProcessMemory.current()
        }
    }

    func adjustStore(_ id: UInt64, downloads: Int = 0, ingests: Int = 0, ingested: UInt64 = 0) {
        monitor.update { s in
            guard let i = s.stores.firstIndex(where: { $0.id == id }) else { return }
            s.stores[i].downloadsInFlight += downloads
            s.stores[i].ingestsQueued += ingests
            s.stores[i].bytesIngested += ingested
        }
    }

    // MARK: one region

    private func process(_ work: Work) async {
        var remaining = work.fileSets
        let deadline = ContinuousClock.now + options.regionDeadline
        while let setID = remaining.first {
            switch await restore(set: plan.fileSets[setID], work: work, deadline: deadline) {
            case .done:
                remaining.removeFirst()
                monitor.updateRow(work.regionID) { $0.fileSetsDone += 1 }
            case .handedOff:
                return
            case let .failed(reason):
                var rest = work
                rest.fileSets = remaining
                control.withLock { $0.failed[work.regionID] = rest }
                monitor.updateRow(work.regionID) { row in
                    row.phase = .failed
                    row.lastError = reason
                    row.waitingFor = nil
                }
                monitor.event(.error, region: work.regionID, "failed: \(reason)")
                return
            }
        }
        monitor.updateRow(work.regionID) { row in
            row.phase = .ingested
            row.waitingFor = nil
            row.setEveryPeer(.ingested)
        }
    }

    enum PieceResult {
        case done
        /// The region split; its parts went back to the queue.
        case handedOff
        case failed(String)
    }

    private func waitWhilePaused(_ regionID: UInt64) async {
        guard isPaused(region: regionID) else { return }
        monitor.updateRow(regionID) { row in
            row.phase = .paused
            row.setEveryPeer(.paused)
        }
        while isPaused(region: regionID) { try? await Task.sleep(for: .milliseconds(50)) }
        monitor.updateRow(regionID) { $0.phase = .queued }
    }

    /// Restores one file set into one region: Download on every up peer, then Ingest on the leader,
    /// with the retries that TiKV's errors call for.
    private func restore(set: FileSet, work: Work, deadline: ContinuousClock.Instant) async -> PieceResult {
        let regionID = work.regionID
        var downloadFailures = 0
        var attempts = 0
        while true {
            await waitWhilePaused(regionID)
            guard ContinuousClock.now < deadline else { return .failed("retry deadline of \(options.regionDeadline) passed") }
            attempts += 1
            monitor.updateRow(regionID) { $0.attempts = attempts }
            guard let region = await cluster.pd.region(id: regionID), region.range.covers(work.range) else {
                return await handOff(set: set, work: work)
            }
            let range = work.range
            let uuid = SHA256Digest.hash(Array("\(backupKey)/\(set.id)/\(region.id)/\(region.epoch)/\(range.start.hexString)".utf8)).prefix(12).hexString
            // After a crash, a store may hold the piece though the checkpoint missed it: every file
            // of the set has its apply record there.
            if region.peers.contains(where: { peer in set.files.allSatisfy { cluster.store(peer.storeID)?.hasIngested(uuid: uuid + $0.cf.name) == true } }) {
                checkpoint.markDone(set: set.id, range: range)
                finish(set, region: regionID, bytes: 0)
                return .done
            }
            // Download.
            switch await downloadEverywhere(set: set, region: region, range: range, uuid: uuid) {
            case let .success(files):
                if files.isEmpty {
                    checkpoint.markDone(set: set.id, range: range)
                    finish(set, region: regionID, bytes: 0)
                    return .done
                }
                switch await ingest(files: files, region: region, deadline: deadline) {
                case .done:
                    checkpoint.markDone(set: set.id, range: range)
                    finish(set, region: regionID, bytes: set.size)
                    return .done
                case .handedOff:
                    continue  // the epoch changed: start over, which hands the new regions off
                case let .failed(reason):
                    return .failed(reason)
                }
            case let .failure(error):
                if case let .region(regionError) = error {
                    switch regionError {
                    case .epochNotMatch, .regionNotFound, .keyNotInRegion:
                        await cluster.pd.refresh(regionID)
                        continue
                    case let .serverIsBusy(store, _, backoff):
                        let wait = max(Duration.milliseconds(Int64(backoff)), options.ingest.initialBackoff)
                        monitor.updateRow(regionID) { $0.waitingFor = "ServerIsBusy on store \(store), retry in \(String(format: "%.1f", Self.seconds(wait))) s" }
                        try? await Task.sleep(for: wait)
                        monitor.updateRow(regionID) { $0.waitingFor = nil }
                        continue
                    default: break
                    }
                }
                guard error.isRetryable else { return .failed(error.description) }
                downloadFailures += 1
                guard downloadFailures < options.download.attempts else {
                    return .failed("download failed \(downloadFailures)/\(options.download.attempts): \(error)")
                }
                let wait = options.download.backoff(attempt: downloadFailures)
                monitor.updateRow(regionID) { row in
                    row.phase = .retrying
                    row.waitingFor = "\(error.label), retry \(downloadFailures + 1)/\(options.download.attempts) in \(String(format: "%.1f", Self.seconds(wait))) s"
                }
                monitor.event(.warn, region: regionID, "download failed (\(downloadFailures)/\(options.download.attempts)): \(error); retrying")
                try? await Task.sleep(for: wait)
                monitor.updateRow(regionID) { $0.waitingFor = nil }
            }
        }
    }

    static func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18 }

    /// Records a finished piece. A file set's bytes and kvs count once, when its last piece is done
    /// (a split spreads one set over several regions).
    private func finish(_ set: FileSet, region: UInt64, bytes: UInt64) {
        countIfComplete(set)
        monitor.updateRow(region) { row in
            row.bytes += set.size
            row.waitingFor = nil
        }
    }

    private func countIfComplete(_ set: FileSet) {
        guard checkpoint.remaining(set: set.id, range: set.newRange).isEmpty,
              countedSets.withLock({ $0.insert(set.id).inserted }) else { return }
        monitor.update { s in
            s.doneBytes += set.size
            s.doneKVs += set.checksum.totalKVs
        }
    }

    private let countedSets = Mutex(Set<Int>())

    /// The region split since the work was planned: queue each part, and let this worker go.
    private func handOff(set: FileSet, work: Work) async -> PieceResult {
        let parts = await cluster.pd.regions(overlapping: work.range)
        guard !parts.isEmpty else { return .failed("no region covers \(work.range)") }
        let keepsItsID = parts.contains { $0.id == work.regionID }
        monitor.updateRow(work.regionID) { row in
            row.phase = keepsItsID ? .queued : .ingested
            row.waitingFor = nil
            row.lastError = "split into \(parts.map { "r\($0.id)" }.joined(separator: ", "))"
            if let part = parts.first(where: { $0.id == work.regionID }) {
                row.startKey = part.startKey
                row.endKey = part.endKey
                row.epoch = part.epoch
            }
        }
        monitor.event(.info, region: work.regionID, "EpochNotMatch: region split; restoring its parts \(parts.map { "r\($0.id)" }.joined(separator: ", "))")
        for part in parts {
            let clipped = Self.clip(work.range, to: part.range)
            let sets = work.fileSets.filter { !checkpoint.isDone(set: $0, range: clipped) }
            guard !sets.isEmpty else { continue }
            if monitor.row(part.id) == nil {
                monitor.setRow(makeRow(part, leader: await cluster.pd.leader(of: part.id), fileSets: sets.count, done: 0, phase: .queued))
            } else if part.id != work.regionID {
                monitor.updateRow(part.id) { $0.fileSetsTotal += sets.count }
            }
            await queue.push(Work(regionID: part.id, range: clipped, fileSets: sets))
        }
        return .handedOff
    }

    private func downloadEverywhere(set: FileSet, region: Region, range: KeyRange, uuid: String) async -> Result<[IngestFile], ImportError> {
        let peers = region.peers.filter { cluster.store($0.storeID)?.isUp == true }
        // Learners get the files too, but only voters make a quorum.
        guard peers.filter({ !$0.isLearner }).count >= region.voters.count / 2 + 1 else {
            return .failure(.region(.storeNotAvailable(storeID: region.peers.first { cluster.store($0.storeID)?.isUp != true }?.storeID ?? 0, state: .down)))
        }
        monitor.updateRow(region.id) { row in
            row.phase = .downloading
            row.epoch = region.epoch
            row.peers = region.peers.map { p in
                PeerProgress(storeID: p.storeID, phase: peers.contains(p) ? .queued : .down, isLeader: p.storeID == row.leaderStore)
            }
        }
        let results = await withTaskGroup(of: (UInt64, Result<[IngestFile], ImportError>).self) { group in
            for peer in peers {
                group.addTask { [self] in
                    (peer.storeID, await self.download(set: set, region: region, range: range, uuid: uuid, store: peer.storeID))
                }
            }
            var out: [(UInt64, Result<[IngestFile], ImportError>)] = []
            for await r in group { out.append(r) }
            return out
        }
        var files: [IngestFile]?
        for (store, result) in results {
            switch result {
            case let .failure(error):
                monitor.setPeer(region.id, store: store, .retrying(error.label))
                monitor.updateRow(region.id) { $0.lastError = error.description }
                monitor.countRetry(error.label)
                return .failure(error)
            case let .success(f):
                monitor.setPeer(region.id, store: store, .ready)
                files = files ?? f
            }
        }
        monitor.updateRow(region.id) { $0.phase = .ready }
        return .success(files ?? [])
    }

    /// Downloads every file of the set on one store.
    private func download(set: FileSet, region: Region, range: KeyRange, uuid: String, store: UInt64) async -> Result<[IngestFile], ImportError> {
        guard let service = services[store], let slots = downloadSlots[store] else { return .failure(.region(.storeNotAvailable(storeID: store, state: .down))) }
        await slots.wait()
        adjustStore(store, downloads: 1)
        monitor.setPeer(region.id, store: store, .downloading(percent: 0))
        defer {
            adjustStore(store, downloads: -1)
            Task { await slots.signal() }
        }
        var files: [IngestFile] = []
        let total = set.size
        var before: UInt64 = 0
        for file in set.files {
            let started = Date()
            let clock = ContinuousClock.now
            let meta = SSTMeta(uuid: uuid + file.cf.name, range: range, cf: file.cf, regionID: region.id, epoch: region.epoch)
            let base = before
            let monitor = self.monitor
            let request = DownloadRequest(
                sst: meta, name: file.name, storage: storage, expected: file.expectedContent, rules: rules.importRules,
                mode: rules.mode, format: rules.format,
                progress: { bytes in
                    let percent = Int(Double(base + bytes) * 100 / Double(Swift.max(1, total)))
                    monitor.setPeer(region.id, store: store, bytes >= file.size ? .rewriting : .downloading(percent: Swift.min(99, percent)))
                })
            do {
                let response = try await service.download(request)
                monitor.record(region.id, AttemptRecord(storeID: store, step: .download, fileSet: set.id, started: started, duration: ContinuousClock.now - clock, bytes: file.size, error: nil))
                if !response.isEmpty { files.append(IngestFile(uuid: meta.uuid, cf: file.cf, range: response.range)) }
            } catch {
                monitor.record(region.id, AttemptRecord(storeID: store, step: .download, fileSet: set.id, started: started, duration: ContinuousClock.now - clock, bytes: 0, error: error.description))
                return .failure(error)
            }
            before += file.size
        }
        return .success(files)
    }

    /// Ingests on the leader, following NotLeader and waiting out busy stores.
    private func ingest(files: [IngestFile], region: Region, deadline: ContinuousClock.Instant) async -> PieceResult {
        var leader = await cluster.pd.leader(of: region.id)
        for attempt in 1...options.ingest.attempts {
            guard ContinuousClock.now < deadline else { break }
            if leader == nil { leader = try? await cluster.pd.waitForLeader(region.id, timeout: .seconds(3)) }
            guard let target = leader, let service = services[target.storeID] else {
                try? await Task.sleep(for: options.ingest.backoff(attempt: attempt))
                continue
            }
            monitor.updateRow(region.id) { row in
                row.phase = .ingesting
                row.leaderStore = target.storeID
                row.peers = row.peers.map { p in
                    PeerProgress(storeID: p.storeID, phase: p.storeID == target.storeID ? .ingesting : p.phase, isLeader: p.storeID == target.storeID)
                }
            }
            let started = Date(), clock = ContinuousClock.now
            adjustStore(target.storeID, ingests: 1)
            await ingestSlots.wait()
            let result: Result<Void, ImportError>
            do {
                try await service.ingest(IngestRequest(regionID: region.id, epoch: region.epoch, files: files))
                result = .success(())
            } catch {
                result = .failure(error)
            }
            await ingestSlots.signal()
            adjustStore(target.storeID, ingests: -1)
            let errorText: String? = if case let .failure(e) = result { e.description } else { nil }
            monitor.record(region.id, AttemptRecord(storeID: target.storeID, step: .ingest, fileSet: -1, started: started, duration: ContinuousClock.now - clock, bytes: 0, error: errorText))
            switch result {
            case .success:
                adjustStore(target.storeID, ingested: files.count > 0 ? 1 : 0)
                return .done
            case let .failure(error):
                monitor.countRetry(error.label)
                monitor.updateRow(region.id) { $0.lastError = error.description }
                switch error {
                case let .region(.notLeader(_, newLeader)):
                    monitor.event(.warn, region: region.id, "NotLeader: leader is now \(newLeader.map { "s\($0.storeID)" } ?? "unknown"), retrying")
                    leader = newLeader
                    if newLeader == nil { try? await Task.sleep(for: options.ingest.backoff(attempt: attempt)) }
                case .region(.epochNotMatch):
                    monitor.event(.warn, region: region.id, "EpochNotMatch on ingest: \(error)")
                    await cluster.pd.refresh(region.id)
                    return .handedOff
                case let .region(.serverIsBusy(store, _, backoff)):
                    // Wait at least the policy's backoff, so a busy store cannot burn the budget at once.
                    let wait = max(Duration.milliseconds(Int64(backoff)), options.ingest.backoff(attempt: attempt))
                    monitor.updateRow(region.id) { $0.waitingFor = "ServerIsBusy on store \(store), retry in \(String(format: "%.1f", Self.seconds(wait))) s" }
                    monitor.event(.warn, region: region.id, store: store, "ServerIsBusy, retry in \(String(format: "%.1f", Self.seconds(wait))) s")
                    try? await Task.sleep(for: wait)
                    monitor.updateRow(region.id) { $0.waitingFor = nil }
                case .region(.staleCommand):
                    return .done  // already applied (the file was moved into the DB)
                case .fileNotDownloaded:
                    monitor.event(.warn, region: region.id, "\(error), downloading again")
                    return .handedOff  // start the piece over: download to every live peer, the new leader included
                case let .storePanicked(store, reason):
                    control.withLock { $0.storePanics[store] = reason }
                    monitor.event(.error, store: store, "store \(store) panicked: \(reason)")
                    leader = nil
                case .region:
                    leader = nil
                    try? await Task.sleep(for: options.ingest.backoff(attempt: attempt))
                default:
                    return .failed(error.description)
                }
            }
        }
        return .failed("ingest failed \(options.ingest.attempts) times")
    }
}
