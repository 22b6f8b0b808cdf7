import Foundation
import KeyCodec
import ClusterAPI

/// The regions' side of a restore: split and scatter along the plan, one piece of work per region,
/// the workers' loop over it, and the hand-off of a piece whose region split.
extension RestoreEngine {
    func splitAndScatter() async throws {
        reporter.report(.phase(.splitting))
        let started = ContinuousClock.now
        defer { tally.splitDuration.withLock { $0 = ContinuousClock.now - started } }
        for batch in plan.splitBatches {
            let splitting = ContinuousClock.now
            let created: [Region]
            do { created = try await cluster.split(at: batch, rawKeys: rules.format == .raw) } catch {
                RestoreMetrics.recordCall("split", started: splitting, error: .region(error))
                throw error
            }
            RestoreMetrics.recordCall("split", started: splitting, error: nil)
            guard !created.isEmpty else { continue }
            reporter.report(.log(.info, "split \(created.count) regions"))
            let scattering = ContinuousClock.now
            do {
                try await cluster.scatter(created.map(\.id))
                RestoreMetrics.recordCall("scatter", started: scattering, error: nil)
                reporter.report(.log(.info, "scattered \(created.count) regions"))
            } catch {
                RestoreMetrics.recordCall("scatter", started: scattering, error: .region(error))
                reporter.report(.log(.warn, "scatter did not finish: \(error)"))  // a warning, not a failure
            }
        }
    }

    func enqueueInitialWork() async {
        var queued = 0
        // The regions are read once, over the span of every range (one ScanRegions page per many
        // regions, not one call per range), and matched to the ranges in key order.
        var regions: [Region] = []
        if let span = Self.span(of: plan.ranges.map(\.range)) { regions = await cluster.regions(overlapping: span) }
        var first = 0
        for merged in plan.ranges {
            while first < regions.count, !regions[first].endKey.isEmpty, compareKeys(regions[first].endKey, merged.range.start) <= 0 { first += 1 }
            for region in regions[first...].prefix(while: { $0.range.overlaps(merged.range) }) {
                let clipped = Self.clip(merged.range, to: region.range)
                let sets = merged.fileSets.filter { !checkpoint.isDone(set: $0, range: clipped) }
                let leader = await cluster.leader(of: region.id)
                reporter.report(.regionAdded(Self.row(region, leader: leader, fileSets: merged.fileSets.count, done: merged.fileSets.count - sets.count)))
                for id in merged.fileSets { countIfComplete(plan.fileSets[id]) }
                if !sets.isEmpty {
                    queued += 1
                    await queue.push(RegionWork(regionID: region.id, range: clipped, fileSets: sets))
                }
            }
        }
        if checkpoint.isResume { reporter.report(.log(.info, "resuming: \(queued) regions left to restore")) }
        // A resume cleans import directories of files that no pending work needs.
        if let inspection = cluster as? any ClusterInspection {
            for (id, removed) in await inspection.cleanImportDirectories().sorted(by: { $0.key < $1.key }) {
                reporter.report(.log(.info, store: id, "removed \(removed) leftover files from the import directory"))
            }
        }
    }

    /// Regions in flight for each download slot of the cluster. A region holds its slots only
    /// while it downloads, then waits for its ingest: with a worker per slot, the slots of small
    /// regions stood idle while their ingests ran, and each store's ingests had few applies to
    /// share. Twice as many workers (download memory and descriptors stay bounded by the slots)
    /// take a tenth off a 24,145-region restore (Docs/BENCHMARKS.md, stop 50).
    static let regionsPerDownloadSlot = 2

    /// Runs the workers until the queue is empty and no work is in flight.
    func drainQueue() async {
        await withTaskGroup(of: Void.self) { group in
            let workers = Swift.max(1, storeIDs.count * options.downloadsPerStore * Self.regionsPerDownloadSlot)
            for _ in 0..<workers {
                group.addTask { [self] in
                    // A cancelled restore takes no more work; what is queued is left for a resume.
                    while !Task.isCancelled, let work = await queue.next() {
                        await process(work)
                        await queue.finished()
                    }
                }
            }
        }
    }

    /// Queues each piece of a file set that no work restored, by the regions that hold it now;
    /// returns how many pieces were queued.
    func requeueUncovered() async -> Int {
        var queued = 0
        for set in plan.fileSets {
            for range in checkpoint.remaining(set: set.id, range: set.newRange) {
                for region in await cluster.regions(overlapping: range) {
                    if monitor.hasRow(region.id) {
                        reporter.report(.fileSetsAdded(region: region.id, 1))
                    } else {
                        reporter.report(.regionAdded(Self.row(region, leader: await cluster.leader(of: region.id), fileSets: 1, done: 0)))
                    }
                    await queue.push(RegionWork(regionID: region.id, range: Self.clip(range, to: region.range), fileSets: [set.id]))
                    queued += 1
                }
            }
        }
        if queued > 0 { reporter.report(.log(.warn, "\(queued) pieces that no region scan covered are queued again")) }
        return queued
    }

    /// Restores a region's file sets in batches, one ingest each.
    func process(_ work: RegionWork) async {
        var remaining = work.fileSets[...]
        let deadline = ContinuousClock.now + options.regionDeadline
        while !remaining.isEmpty {
            let batch = nextBatch(of: remaining)
            switch await pieces.restore(sets: batch.map { plan.fileSets[$0] }, regionID: work.regionID, range: work.range, deadline: deadline) {
            case let .done(bytes):
                guard await record(batch, of: work) else { return }
                for id in batch { countIfComplete(plan.fileSets[id]) }
                reporter.report(.pieceDone(region: work.regionID, sets: batch.count, bytes: bytes))
                remaining.removeFirst(batch.count)
            case .regionChanged:
                var rest = work
                rest.fileSets = Array(remaining)
                await handOff(rest)
                return
            case let .failed(reason):
                var rest = work
                rest.fileSets = Array(remaining)
                control.state.withLock { $0.failed[work.regionID] = rest }
                reporter.report(.regionFailed(region: work.regionID, reason: reason))
                return
            case .stopped:
                return
            }
        }
        reporter.report(.regionIngested(region: work.regionID))
    }

    /// Records restored file sets in the checkpoint, waiting out a full disk or an I/O error (the
    /// data is in; only its record is missing, and a resume must not restore it again). False
    /// when the restore was cancelled meanwhile.
    private func record(_ sets: [Int], of work: RegionWork) async -> Bool {
        var failed = false
        while true {
            do throws(RestoreError) {
                try await checkpoint.markDone(sets: sets, range: work.range)
                if failed { reporter.report(.waiting(region: work.regionID, nil)) }
                return true
            } catch {
                failed = true
                let wait = Duration.seconds(1)
                reporter.report(.retrying(region: work.regionID, .checkpointWrite(retryIn: wait)))
                reporter.report(.log(.warn, region: work.regionID, "\(error); retrying in 1 s"))
                do { try await Task.sleep(for: wait) } catch { return false }
            }
        }
    }

    /// The first file sets of `remaining` that one ingest takes: at least one, and then as many
    /// as fit in the batch's count and bytes.
    func nextBatch(of remaining: ArraySlice<Int>) -> [Int] {
        var batch: [Int] = []
        var bytes: UInt64 = 0
        for id in remaining {
            let size = plan.fileSets[id].size
            guard batch.isEmpty || (batch.count < options.setsPerIngest && bytes + size <= options.bytesPerIngest) else { break }
            batch.append(id)
            bytes += size
        }
        return batch
    }

    /// A file set's bytes and kvs count once, when its last piece is done (a split spreads one
    /// set over several regions).
    func countIfComplete(_ set: FileSet) {
        guard checkpoint.remaining(set: set.id, range: set.newRange).isEmpty,
              tally.countedSets.withLock({ $0.insert(set.id).inserted }) else { return }
        reporter.report(.counted(bytes: set.size, kvs: set.checksum.totalKVs, files: set.files.count, table: set.tableID))
    }

    /// The region split (or merged) since the work was planned: queue each part of it.
    private func handOff(_ work: RegionWork) async {
        let parts = await cluster.regions(overlapping: work.range)
        guard !parts.isEmpty else {
            control.state.withLock { $0.failed[work.regionID] = work }
            reporter.report(.regionFailed(region: work.regionID, reason: "no region covers \(work.range)"))
            return
        }
        reporter.report(.regionSplit(region: work.regionID, into: parts))
        reporter.report(.log(.info, region: work.regionID, "EpochNotMatch: region split; restoring its parts \(parts.map { "r\($0.id)" }.joined(separator: ", "))"))
        for part in parts {
            let clipped = Self.clip(work.range, to: part.range)
            let sets = work.fileSets.filter { !checkpoint.isDone(set: $0, range: clipped) }
            guard !sets.isEmpty else { continue }
            if part.id == work.regionID || monitor.hasRow(part.id) {
                if part.id != work.regionID { reporter.report(.fileSetsAdded(region: part.id, sets.count)) }
            } else {
                reporter.report(.regionAdded(Self.row(part, leader: await cluster.leader(of: part.id), fileSets: sets.count, done: 0)))
            }
            await queue.push(RegionWork(regionID: part.id, range: clipped, fileSets: sets))
        }
    }

    static func row(_ region: Region, leader: PeerMeta?, fileSets: Int, done: Int) -> RegionRow {
        let phase: RegionPhase = done == fileSets ? .ingested : .queued
        return RegionRow(
            id: region.id, startKey: region.startKey, endKey: region.endKey, epoch: region.epoch, leaderStore: leader?.storeID,
            peers: region.peers.map { PeerProgress(storeID: $0.storeID, phase: phase == .ingested ? .ingested : .queued, isLeader: $0.storeID == leader?.storeID) },
            phase: phase, attempts: 0, lastError: nil, waitingFor: nil, since: Date(), fileSetsDone: done, fileSetsTotal: fileSets,
            bytes: 0, history: [])
    }

    /// From the first range's start to the last one's end (ranges in key order).
    static func span(of ranges: [KeyRange]) -> KeyRange? {
        guard let first = ranges.first, let last = ranges.last else { return nil }
        return KeyRange(start: first.start, end: last.end, endInclusive: last.endInclusive)
    }

    static func clip(_ range: KeyRange, to region: KeyRange) -> KeyRange {
        let start = keyLess(range.start, region.start) ? region.start : range.start
        var end = range.end
        if end.isEmpty || (!region.end.isEmpty && keyLess(region.end, end)) { end = region.end }
        return KeyRange(start: start, end: end)
    }
}
