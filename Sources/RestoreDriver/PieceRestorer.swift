import Foundation
import KeyCodec
import ExternalStorage
import ClusterAPI
import Synchronization

/// Restores one piece (a batch of a region's file sets, into the part of their range that the
/// region holds): Download of every file on every peer, then one Ingest of them all on the
/// leader, as BR ingests a range's files with one MultiIngest; each failure is acted on as the
/// `RetryRules` says. Nothing is ingested until every peer of the region holds every file: TiKV
/// replicates the ingest through Raft, and a replica whose store lacks the SST panics on apply
/// (tikv components/raftstore/src/store/fsm/apply.rs `handle_ingest_sst`), as BR's
/// `downloadSST` downloads to every peer and fails the set if any one fails
/// (tidb br/pkg/restore/snap_client/import.go).
/// It talks to the cluster through `ClusterClient` and tells the `ProgressReporter` what happens.
struct PieceRestorer: Sendable {
    enum Outcome: Equatable {
        /// The piece is in; `bytes` were restored by this run (0 when it was in already).
        case done(bytes: UInt64)
        /// The region no longer covers the piece (it split or merged): restore it into its parts.
        case regionChanged
        case failed(String)
        /// The restore was cancelled: the piece is left for a resume.
        case stopped
    }

    let cluster: any ClusterClient
    let storage: any ExternalStorage
    /// The rules every Download carries, and how the stores apply them.
    let rules: RewriteRules
    let mode: KeyRewriter.Mode
    let format: KeyRewriter.KeyFormat
    /// The keys' API version for each Download (`DownloadRequest.apiVersion`).
    var apiVersion = 0
    /// The backup's key, when BR encrypted it: each Download carries it with the file's iv.
    var cipher: BackupCipher?
    let retries: RetryRules
    let reporter: ProgressReporter
    let control: RestoreControl
    let downloadSlots: StoreSlots
    let ingestSlots: AsyncSemaphore
    /// A name for this restore, part of every SST's uuid.
    let backupKey: String
    /// Which files travel in BatchDownloads, where every peer's store takes them; nil: none.
    var batching: BatchPolicy?

    func restore(sets: [FileSet], regionID: UInt64, range: KeyRange, deadline: ContinuousClock.Instant) async -> Outcome {
        var downloadFailures = 0
        var attempts = 0
        while true {
            await waitWhilePaused(regionID)
            // Cancelled, every wait below returns at once: the piece would go round forever.
            if Task.isCancelled { return .stopped }
            guard ContinuousClock.now < deadline else { return .failed("retry deadline passed") }
            attempts += 1
            reporter.report(.attempts(region: regionID, attempts))
            guard let region = await cluster.region(id: regionID), region.range.covers(range) else { return .regionChanged }
            let named = sets.map { (set: $0, uuid: uuid(of: $0, in: region, range: range)) }
            let batchable = batching != nil && region.peers.allSatisfy { cluster.offersBatchDownload(store: $0.storeID) }
            let pending = (batching ?? BatchPolicy()).units(of: named, batching: batchable).filter { !isIngested($0, in: region) }
            if pending.isEmpty { return .done(bytes: 0) }
            // A pause asked for while the batch waits for download slots or downloads holds it
            // before its ingest (nil); on resume the downloads done are found again.
            guard let downloaded = await downloadEverywhere(pending, region: region, range: range), !control.pauses.isPaused(regionID) else { continue }
            switch downloaded {
            case let .success(files):
                if files.isEmpty { return .done(bytes: 0) }  // no key of the sets falls in the region
                switch await ingest(files: files, region: region, deadline: deadline) {
                case .done: return .done(bytes: pending.reduce(0) { $0 + $1.size })
                case .downloadAgain: continue
                case .regionChanged:
                    _ = await cluster.refreshRegion(id: regionID)
                    continue  // the top of the loop hands the piece to the new regions
                case let .failed(reason): return .failed(reason)
                }
            case let .failure(error):
                downloadFailures += 1
                switch retries.action(after: error, in: .download, attempt: downloadFailures) {
                case .refreshRegion:
                    downloadFailures -= 1
                    _ = await cluster.refreshRegion(id: regionID)
                case let .retry(wait, counts):
                    if !counts { downloadFailures -= 1 }
                    // A peer's store did not answer: PD may have moved the peer meanwhile.
                    if case .region(.storeNotAvailable) = error { _ = await cluster.refreshRegion(id: regionID) }
                    let reason: WaitReason = if case let .region(.serverIsBusy(store, _, _)) = error {
                        .serverIsBusy(store: store, retryIn: wait)
                    } else {
                        .retry(step: .download, label: error.label, attempt: downloadFailures + 1, attempts: retries.download.attempts, retryIn: wait)
                    }
                    if counts {
                        reporter.report(.retrying(region: regionID, reason))
                        reporter.report(.log(.warn, region: regionID, "download failed (\(downloadFailures)/\(retries.download.attempts)): \(error); retrying"))
                    } else {
                        reporter.report(.waiting(region: regionID, reason))
                    }
                    try? await Task.sleep(for: wait)
                    reporter.report(.waiting(region: regionID, nil))
                case let .fail(reason):
                    return .failed(reason)
                case .retryOnLeader, .downloadAgain, .done:
                    continue  // not a download's answer
                }
            }
        }
    }

    /// The name of a set's files in one region, the same on every attempt and after a resume, so
    /// that a download already done is found again.
    private func uuid(of set: FileSet, in region: Region, range: KeyRange) -> String {
        SHA256Digest.hash(Array("\(backupKey)/\(set.id)/\(region.id)/\(region.epoch)/\(range.start.hexString)".utf8)).prefix(12).hexString
    }

    /// Returns once the operator lets the region go on.
    private func waitWhilePaused(_ region: UInt64) async {
        guard control.pauses.isPaused(region) else { return }
        reporter.report(.paused(region: region))
        await control.pauses.whilePaused(region)
        if Task.isCancelled { return }  // the restore stops
        reporter.report(.unpaused(region: region))
    }

    /// After a crash a store may hold the piece though the checkpoint missed it: the unit's SST
    /// has its apply record there. Only a cluster that lets the client read its records can say;
    /// elsewhere the piece is restored again, which TiKV's ingest takes as a no-op.
    private func isIngested(_ unit: DownloadUnit, in region: Region) -> Bool {
        guard let inspection = cluster as? any ClusterInspection else { return false }
        return region.peers.contains { inspection.hasIngested(uuid: unit.uuid, onStore: $0.storeID) }
    }

    private func downloadEverywhere(_ units: [DownloadUnit], region: Region, range: KeyRange) async -> Result<[IngestFile], ImportError>? {
        // Every peer, learners too: whichever store PD calls down is tried as well, and a failure
        // there holds the whole piece back until the store answers or PD replaces the peer.
        let peers = region.peers
        let up = Set(await cluster.stores().filter(\.state.isUp).map(\.id))
        reporter.report(.downloading(region: region, upStores: up))
        enum Outcome: Sendable {
            case store(UInt64, Result<[IngestFile], ImportError>?)
            case paused, watched
        }
        let results = await withTaskGroup(of: Outcome.self) { group in
            for peer in peers {
                group.addTask { .store(peer.storeID, await download(units, region: region, range: range, store: peer.storeID)) }
            }
            // A pause asked for while the stores wait for slots calls the waits off; downloads
            // under way finish, and the region holds before its ingest.
            group.addTask { [control] in
                await control.pauses.untilPaused(region.id)
                return Task.isCancelled ? .watched : .paused
            }
            var out: [(UInt64, Result<[IngestFile], ImportError>)] = []
            var paused = false
            for await outcome in group {
                switch outcome {
                case let .store(store, result?): out.append((store, result))
                case .store(_, nil), .paused:
                    paused = true
                    group.cancelAll()
                case .watched: break
                }
                if out.count == peers.count { group.cancelAll() }
            }
            return paused ? nil : out
        }
        guard let results else { return nil }
        var files: [IngestFile]?
        for (store, result) in results {
            switch result {
            case let .failure(error):
                reporter.report(.stepFailed(region: region.id, store: store, error))
                return .failure(error)
            case let .success(f):
                reporter.report(.peer(region: region.id, store: store, .ready))
                files = files ?? f
            }
        }
        reporter.report(.ready(region: region.id))
        return .success(files ?? [])
    }

    /// Downloads every unit of the piece on one store, one after another; nil when the region was
    /// paused while it waited for a slot (or its wait was called off, another store's being paused).
    private func download(_ units: [DownloadUnit], region: Region, range: KeyRange, store: UInt64) async -> Result<[IngestFile], ImportError>? {
        let slots = downloadSlots[store]
        guard await slots.acquire() else { return nil }
        if control.pauses.isPaused(region.id) || Task.isCancelled {
            await slots.signal()
            return nil
        }
        reporter.report(.storeLoad(store: store, downloads: 1))
        reporter.report(.peer(region: region.id, store: store, .downloading(percent: 0)))
        defer {
            reporter.report(.storeLoad(store: store, downloads: -1))
            Task { await slots.signal() }
        }
        var files: [IngestFile] = []
        var before: UInt64 = 0
        let total = units.reduce(0) { $0 + $1.size }
        for unit in units {
            let started = Date(), clock = ContinuousClock.now
            let meta = SSTMeta(uuid: unit.uuid, range: range, cf: unit.cf, regionID: region.id, epoch: region.epoch)
            let (base, size, reporter, gate) = (before, unit.size, reporter, ProgressGate())
            let first = unit.members[0].file
            var request = DownloadRequest(
                sst: meta, name: first.name, storage: storage, expected: first.expectedContent, rules: rules, mode: mode, format: format,
                progress: { bytes in
                    guard gate.passes(rewriting: bytes >= size) else { return }
                    let percent = Int(Double(base + bytes) * 100 / Double(max(1, total)))
                    reporter.report(.peer(region: region.id, store: store, bytes >= size ? .rewriting : .downloading(percent: min(99, percent))))
                })
            request.apiVersion = apiVersion
            request.cipher = cipher
            if cipher != nil { request.cipherIV = first.cipherIV }
            if unit.isBatch {
                request.batch = unit.members.map { BatchFile(name: $0.file.name, expected: $0.file.expectedContent, cipherIV: cipher == nil ? [] : $0.file.cipherIV) }
            }
            do {
                let response = try await unit.isBatch ? cluster.batchDownload(request, on: store) : cluster.download(request, on: store)
                record(region.id, store, .download, unit.members[0].setID, started, clock, bytes: size, error: nil)
                if !response.isEmpty { files.append(IngestFile(uuid: meta.uuid, cf: unit.cf, range: response.range)) }
            } catch {
                record(region.id, store, .download, unit.members[0].setID, started, clock, bytes: 0, error: error)
                return .failure(error)
            }
            before += size
        }
        return .success(files)
    }

    private enum IngestOutcome {
        case done, downloadAgain, regionChanged
        case failed(String)
    }

    /// Ingests on the leader, following NotLeader and waiting out busy stores.
    private func ingest(files: [IngestFile], region: Region, deadline: ContinuousClock.Instant) async -> IngestOutcome {
        var leader = await cluster.leader(of: region.id)
        var attempt = 0
        while ContinuousClock.now < deadline {
            attempt += 1
            if leader == nil { leader = try? await cluster.waitForLeader(of: region.id, timeout: .seconds(3)) }
            guard let target = leader else {
                guard attempt < retries.ingest.attempts else { break }
                try? await Task.sleep(for: retries.ingest.backoff(attempt: attempt))
                continue
            }
            reporter.report(.ingesting(region: region.id, leader: target.storeID))
            let started = Date(), clock = ContinuousClock.now
            reporter.report(.storeLoad(store: target.storeID, ingests: 1))
            await ingestSlots.wait()
            let failure: ImportError?
            do {
                try await cluster.ingest(IngestRequest(regionID: region.id, epoch: region.epoch, files: files), on: target.storeID)
                failure = nil
            } catch {
                failure = error
            }
            await ingestSlots.signal()
            reporter.report(.storeLoad(store: target.storeID, ingests: -1))
            record(region.id, target.storeID, .ingest, -1, started, clock, bytes: 0, error: failure)
            guard let error = failure else {
                reporter.report(.storeLoad(store: target.storeID, ingested: 1))
                return .done
            }
            reporter.report(.stepFailed(region: region.id, store: nil, error))
            switch retries.action(after: error, in: .ingest, attempt: attempt) {
            case let .retryOnLeader(next, wait):
                if case let .region(.notLeader(_, named)) = error {
                    reporter.report(.log(.warn, region: region.id, "NotLeader: leader is now \(named.map { "s\($0.storeID)" } ?? "unknown"), retrying"))
                } else if case let .storePanicked(store, reason) = error {
                    control.state.withLock { $0.storePanics[store] = reason }
                    reporter.report(.log(.error, store: store, "store \(store) panicked: \(reason)"))
                }
                leader = next
                if wait > .zero {
                    reporter.report(.waiting(region: region.id, .noLeader(retryIn: wait)))
                    try? await Task.sleep(for: wait)
                    reporter.report(.waiting(region: region.id, nil))
                }
            case let .retry(wait, _):
                let store = if case let .region(.serverIsBusy(s, _, _)) = error { s } else { target.storeID }
                reporter.report(.waiting(region: region.id, .serverIsBusy(store: store, retryIn: wait)))
                reporter.report(.log(.warn, region: region.id, store: store, "ServerIsBusy, retry in \(String(format: "%.1f", wait.seconds)) s"))
                try? await Task.sleep(for: wait)
                reporter.report(.waiting(region: region.id, nil))
            case .refreshRegion:
                reporter.report(.log(.warn, region: region.id, "\(error.label) on ingest: \(error)"))
                return .regionChanged
            case .downloadAgain:
                reporter.report(.log(.warn, region: region.id, "\(error), downloading again"))
                return .downloadAgain
            case .done:
                return .done  // applied already (the file was moved into the DB)
            case let .fail(reason):
                return .failed(reason)
            }
        }
        return .failed("ingest gave up after \(attempt) attempts: the region's retry deadline passed")
    }

    private func record(_ region: UInt64, _ store: UInt64, _ step: AttemptRecord.Step, _ set: Int, _ started: Date, _ clock: ContinuousClock.Instant, bytes: UInt64, error: ImportError?) {
        RestoreMetrics.recordCall(step.rawValue, started: clock, error: error)
        reporter.report(.attempt(region: region, AttemptRecord(
            storeID: store, step: step, fileSet: set, started: started, duration: ContinuousClock.now - clock, bytes: bytes, error: error?.description)))
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}

/// A download's progress reaches the monitor at most every `interval`, and at once when the
/// download turns to the rewrite: a batch of small files reports after each file, and every
/// report takes the monitor's lock that every download shares.
final class ProgressGate: Sendable {
    static let interval = Duration.milliseconds(50)
    private let last = Mutex<(at: ContinuousClock.Instant, rewriting: Bool)?>(nil)

    func passes(rewriting: Bool, now: ContinuousClock.Instant = .now) -> Bool {
        last.withLock { last in
            if let last, last.rewriting == rewriting, now - last.at < Self.interval { return false }
            last = (now, rewriting)
            return true
        }
    }
}
