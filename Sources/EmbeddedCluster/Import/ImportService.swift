import Foundation
import Synchronization
import KeyCodec
import ExternalStorage
import ClusterAPI

/// One store's import service, in the shape of TiKV's ImportSST: Download fetches a backup file
/// through the store's rate limiter, verifies and rewrites it for a region; Ingest checks leader
/// and epoch and proposes the ingest to the region's Raft group.
public final class ImportService: Sendable {
    public let store: Store
    let pd: PlacementDriver
    public let limiter: RateLimiter
    public let meter = ThroughputMeter()
    /// The mode the client last switched the store to.
    let mode = Mutex(ImportMode.normal)
    /// Files with an ingest in flight (the per-file latch).
    private let latch = Mutex(Set<String>())
    public let proposalTimeout: Duration
    /// Where downloads land before their rewrite, each used by one download at a time.
    let downloadFiles: DownloadFiles
    /// What a batch's small files may hold in memory at once.
    let memoryQuota: MemoryQuota
    /// Rewrites so far, which name their output files: a store's directory is one process's
    /// alone, so a count is unique where a random name cost an open of /dev/urandom each.
    private let rewrites = Atomic<UInt64>(0)

    /// `memoryQuota`: by default 16 MiB, a store's four batches in flight of 256 files of 16 KiB.
    public init(store: Store, pd: PlacementDriver, bytesPerSecond: UInt64 = 0, proposalTimeout: Duration = .seconds(10), memoryQuota: UInt64 = 16 << 20) {
        self.memoryQuota = MemoryQuota(capacity: memoryQuota)
        self.store = store
        self.pd = pd
        limiter = RateLimiter(bytesPerSecond: bytesPerSecond)
        self.proposalTimeout = proposalTimeout
        downloadFiles = DownloadFiles(directory: store.importDirectory)
    }

    private func checkAvailable() throws(ImportError) {
        guard store.isUp else { throw .region(.storeNotAvailable(storeID: store.id, state: store.state)) }
        if let pressure = store.diskPressure() {
            throw .region(.serverIsBusy(storeID: store.id, reason: pressure, backoffMillis: 1_000))
        }
        if let backoff = store.faults.busyBackoff() {
            throw .region(.serverIsBusy(storeID: store.id, reason: "too many pending tasks", backoffMillis: backoff))
        }
    }

    // MARK: Download

    public func download(_ request: DownloadRequest) async throws(ImportError) -> DownloadResponse {
        let started = ContinuousClock.now
        do {
            let response = try await performDownload(request)
            ImportMetrics.rpc("download", store: store.id, started: started, error: nil)
            return response
        } catch {
            ImportMetrics.rpc("download", store: store.id, started: started, error: error)
            throw error
        }
    }

    private func performDownload(_ request: DownloadRequest) async throws(ImportError) -> DownloadResponse {
        try checkAvailable()
        let sst = request.sst
        try await checkRoute(sst)
        // Download is idempotent, as TiKV's: a file this same request already produced (it is
        // only ever renamed into place complete) is answered as it is, without fetching it again.
        if let reused = Self.existing("\(store.importDirectory)/\(sst.fileName)") {
            request.progress?(request.expected?.size ?? reused.length)
            return reused
        }
        let file = BatchFile(name: request.name, expected: request.expected, cipherIV: request.cipherIV)
        let fetch = try await prepareFetch(of: [file], request)
        // A small file is fetched into memory while the quota lasts, as a batch's are: no local
        // file written, truncated and read back for a few KiB.
        let size = fetch.sizes[0]
        let temp = size <= Self.smallDownloadBytes && memoryQuota.take(size) ? nil : downloadFiles.take()
        let rewritten = rewriteOutput(sst)
        let rewriter = SSTRewriter(rules: request.rules, mode: request.mode, format: request.format, cf: sst.cf)
        let (name, range, final) = (request.name, sst.range, "\(store.importDirectory)/\(sst.fileName)")
        let result: SSTRewriter.Result? = try await BlockingIO.run { [downloadFiles, memoryQuota, spares = store.spares] () throws(ImportError) -> SSTRewriter.Result? in
            defer { if let temp { downloadFiles.give(back: temp) } else { memoryQuota.give(back: size) } }
            let source: SSTRewriter.Source
            if let temp {
                try fetch.fetch(0, into: temp, progressBase: 0)
                source = SSTRewriter.Source(path: temp, name: name)
            } else {
                source = SSTRewriter.Source(bytes: try fetch.fetchInMemory(0, progressBase: 0), name: name)
            }
            let rewriting = ContinuousClock.now
            defer { ImportMetrics.stage("rewrite", store: fetch.storeID, started: rewriting) }
            do throws(ImportError) {
                spares.place(at: rewritten)
                let rewrite = if let temp { try rewriter.rewrite(source: temp, destination: rewritten, name: name, region: range) } else { try rewriter.merge([source], into: rewritten, region: range) }
                guard let result = rewrite else { return nil }
                try Self.move(rewritten, to: final)
                return result
            } catch {
                throw fetch.explain(error, sources: [source])
            }
        }
        guard let result else { return DownloadResponse(range: sst.range, isEmpty: true, entries: 0, length: 0) }
        return DownloadResponse(range: KeyRange(start: result.firstKey, end: result.lastKey, endInclusive: true), isEmpty: false, entries: result.entries, length: result.bytes)
    }

    // MARK: BatchDownload

    public func batchDownload(_ request: DownloadRequest) async throws(ImportError) -> DownloadResponse {
        let started = ContinuousClock.now
        do {
            let response = try await performBatchDownload(request)
            ImportMetrics.rpc("batch_download", store: store.id, started: started, error: nil)
            return response
        } catch {
            ImportMetrics.rpc("batch_download", store: store.id, started: started, error: error)
            throw error
        }
    }

    /// Every file of the batch fetched, then all of them rewritten and merged into the one SST
    /// that `request.sst` names (tikv components/sst_importer `download_files_ext_with_ssts`): one
    /// file written and synced for the batch, where a Download each writes and syncs one apiece.
    private func performBatchDownload(_ request: DownloadRequest) async throws(ImportError) -> DownloadResponse {
        try checkAvailable()
        guard !request.batch.isEmpty else {
            throw .invalidRequest(reason: "BatchDownload takes several files (ssts); one file is Download's")
        }
        guard Set(request.batch.map(\.name)).count == request.batch.count else { throw .invalidRequest(reason: "BatchDownload names a file twice") }
        let sst = request.sst
        try await checkRoute(sst)
        let final = "\(store.importDirectory)/\(sst.fileName)"
        if let reused = Self.existing(final) {
            request.progress?(request.batch.reduce(0) { $0 &+ min($1.expected?.size ?? 0, Self.maxObjectBytes) })
            return reused
        }
        let fetch = try await prepareFetch(of: request.batch, request)
        // Files within the store's memory quota are fetched into memory; the rest to local files.
        let temps = fetch.sizes.map { memoryQuota.take($0) ? nil : downloadFiles.take() }
        let inMemory = zip(fetch.sizes, temps).reduce(0) { $0 + ($1.1 == nil ? $1.0 : 0) }
        let merged = rewriteOutput(sst)
        let rewriter = SSTRewriter(rules: request.rules, mode: request.mode, format: request.format, cf: sst.cf)
        let (names, range) = (request.batch.map(\.name), sst.range)
        let result: SSTRewriter.Result? = try await BlockingIO.run { [downloadFiles, memoryQuota, spares = store.spares] () throws(ImportError) -> SSTRewriter.Result? in
            defer {
                temps.compactMap { $0 }.forEach(downloadFiles.give(back:))
                memoryQuota.give(back: inMemory)
            }
            var sources: [SSTRewriter.Source] = []
            var base: UInt64 = 0
            for (i, temp) in temps.enumerated() {
                if let temp {
                    try fetch.fetch(i, into: temp, progressBase: base)
                    sources.append(SSTRewriter.Source(path: temp, name: names[i]))
                } else {
                    sources.append(SSTRewriter.Source(bytes: try fetch.fetchInMemory(i, progressBase: base), name: names[i]))
                }
                base += fetch.sizes[i]
            }
            let rewriting = ContinuousClock.now
            defer { ImportMetrics.stage("rewrite", store: fetch.storeID, started: rewriting) }
            do throws(ImportError) {
                spares.place(at: merged)
                guard let result = try rewriter.merge(sources, into: merged, region: range) else { return nil }
                try Self.move(merged, to: final)
                return result
            } catch {
                throw fetch.explain(error, sources: sources)
            }
        }
        guard let result else { return DownloadResponse(range: sst.range, isEmpty: true, entries: 0, length: 0) }
        return DownloadResponse(range: KeyRange(start: result.firstKey, end: result.lastKey, endInclusive: true), isEmpty: false, entries: result.entries, length: result.bytes)
    }

    // MARK: Fetching

    /// The region must be here, on this store, at the request's epoch.
    private func checkRoute(_ sst: SSTMeta) async throws(ImportError) {
        guard let region = await pd.region(id: sst.regionID) else { throw .region(.regionNotFound(regionID: sst.regionID)) }
        guard region.peer(onStore: store.id) != nil else { throw .region(.regionNotFound(regionID: sst.regionID)) }
        guard region.epoch == sst.epoch else {
            throw .region(.epochNotMatch(regionID: region.id, currentRegions: await pd.regions(overlapping: sst.range)))
        }
    }

    /// What fetching `files` takes, checked before anything is fetched: each object's size (the
    /// claimed one, or the storage's: the download stops past it), the room on disk for the
    /// downloads, their rewrite and the ingest's clone, and the key for encrypted ones.
    private func prepareFetch(of files: [BatchFile], _ request: DownloadRequest) async throws(ImportError) -> DownloadFetch {
        var sizes: [UInt64] = [], total: UInt64 = 0
        for file in files {
            let size: UInt64
            if let claimed = file.expected?.size {
                size = claimed
            } else {
                let (storage, name) = (request.storage, file.name)
                do { size = try await BlockingIO.run { () throws(StorageError) in try storage.size(of: name) } } catch { throw .storage(error) }
            }
            guard size <= Self.maxObjectBytes else { throw .invalidRequest(reason: "\(file.name) is said to be \(size) bytes, above any SST (2^48)") }
            if request.cipher != nil, !file.cipherIV.isEmpty, file.cipherIV.count != BackupCipher.ivLength {
                throw .invalidRequest(reason: "\(file.name): a cipher iv of \(file.cipherIV.count) bytes, not 16")
            }
            sizes.append(size)
            // Each file is below the cap, and so must their sum be: a batch of files said to be
            // huge would otherwise overflow the sums below.
            total += size
            guard total <= Self.maxObjectBytes else {
                throw .invalidRequest(reason: "the batch's files are said to total more than any SST (2^48 bytes)")
            }
        }
        let needed = total * 3
        let available = store.availableBytes()
        guard available > needed else { throw .diskFull(storeID: store.id, needed: needed, available: available) }
        if store.faults.fire(\.failDownloads) { throw .injected(storeID: store.id, what: "download failure of \(files.map(\.name).joined(separator: ", "))") }
        return DownloadFetch(
            files: files, sizes: sizes, storage: request.storage, cipher: request.cipher, limiter: limiter, meter: meter, progress: request.progress,
            storeID: store.id, corrupt: store.faults.fire(\.corruptDownloads))
    }

    /// Renames a complete rewrite to the name an ingest looks for.
    static func move(_ path: String, to final: String) throws(ImportError) {
        guard rename(path, final) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(path)
            throw .io(path: final, reason: reason)
        }
    }

    /// The response for an import file already in place, or nil when there is none (or it is not
    /// a readable SST, which a fresh download then replaces).
    static func existing(_ path: String) -> DownloadResponse? {
        // A plain stat, not FileManager's: nearly every download looks here and finds nothing.
        var info = stat()
        guard stat(path, &info) == 0, let reader = try? SSTReader(path: path),
              let first = try? reader.firstKey, let last = try? reader.lastKey, first.first == DataKey.prefix, last.first == DataKey.prefix
        else { return nil }
        return DownloadResponse(range: KeyRange(start: Array(first.dropFirst()), end: Array(last.dropFirst()), endInclusive: true), isEmpty: false, entries: reader.entryCount,
                                length: UInt64(info.st_size))
    }

    /// The largest file a Download fetches into memory (within the store's quota), as a batch's
    /// small files are; larger ones go to a local file that the rewrite reads with readahead.
    static let smallDownloadBytes: UInt64 = 2 << 20

    /// The largest object a Download fetches: no SST is near it, and sizes below it leave room
    /// for every sum and product the store makes of them.
    static let maxObjectBytes: UInt64 = 1 << 48

    // MARK: Ingest

    public func ingest(_ request: IngestRequest) async throws(ImportError) {
        let started = ContinuousClock.now
        do {
            try await performIngest(request)
            ImportMetrics.rpc("multi_ingest", store: store.id, started: started, error: nil)
        } catch {
            ImportMetrics.rpc("multi_ingest", store: store.id, started: started, error: error)
            throw error
        }
    }

    private func performIngest(_ request: IngestRequest) async throws(ImportError) {
        try checkAvailable()
        guard let group = await pd.group(request.regionID) else { throw .region(.regionNotFound(regionID: request.regionID)) }
        let region = await group.region
        guard let leader = await group.leader, leader.storeID == store.id else {
            throw .region(.notLeader(regionID: request.regionID, leader: await group.leader))
        }
        guard region.epoch == request.epoch else {
            let span = KeyRange(start: request.files.map(\.range.start).min(by: keyLess) ?? region.startKey, end: request.files.map(\.range.end).max(by: keyLess) ?? region.endKey, endInclusive: true)
            throw .region(.epochNotMatch(regionID: region.id, currentRegions: await pd.regions(overlapping: span)))
        }
        let names = request.files.map { $0.fileName(regionID: request.regionID, epoch: request.epoch) }
        let missing = zip(request.files, names).filter { !FileManager.default.fileExists(atPath: "\(store.importDirectory)/\($1)") }
        // A file gone because it was ingested needs nothing more; one never here must be downloaded.
        if let absent = missing.first(where: { !store.hasIngested(uuid: $0.0.uuid) }) {
            throw .fileNotDownloaded(storeID: store.id, name: absent.1)
        }
        if missing.count == names.count { throw .region(.staleCommand(regionID: request.regionID)) }
        let acquired = latch.withLock { held in
            guard names.allSatisfy({ !held.contains($0) }) else { return false }
            held.formUnion(names)
            return true
        }
        guard acquired else {
            throw .region(.serverIsBusy(storeID: store.id, reason: "ingest of the same file in flight", backoffMillis: 100))
        }
        defer { latch.withLock { $0.subtract(names) } }
        pd.awake.wake(request.regionID)
        let command = IngestCommand(regionID: request.regionID, epoch: request.epoch, files: request.files)
        switch await group.propose(.ingest(command), viaStore: store.id, timeout: proposalTimeout) {
        case .applied: return
        case let .rejected(error): throw .region(error)
        case let .storePanicked(storeID, reason): throw .storePanicked(storeID: storeID, reason: reason)
        }
    }

    /// Where a rewrite of `sst` writes before its file is renamed into place.
    private func rewriteOutput(_ sst: SSTMeta) -> String {
        "\(store.importDirectory)/\(sst.uuid)_\(sst.regionID)_\(sst.cf.name)_\(rewrites.add(1, ordering: .relaxed).newValue).sst.temp"
    }

    /// Removes files in the import directory that no pending work names (after a resume).
    public func cleanImportDirectory(keeping: Set<String>) -> Int {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: store.importDirectory)) ?? []
        var removed = 0
        for name in names where !keeping.contains(name) {
            if unlink("\(store.importDirectory)/\(name)") == 0 { removed += 1 }
        }
        return removed
    }
}

/// The files that downloads are written to, reused from one download to the next (truncated on
/// open) instead of created and deleted for each: on a file system without a journal, ext4 skips
/// recently deleted inodes when it allocates one, and with thousands of small downloads that
/// search cost more than the downloads themselves.
final class DownloadFiles: Sendable {
    private let directory: String
    private let state = Mutex<(free: [String], next: Int)>(([], 0))

    init(directory: String) {
        self.directory = directory
    }

    func take() -> String {
        state.withLock { s in
            if let path = s.free.popLast() { return path }
            s.next += 1
            return "\(directory)/download-\(s.next).temp"
        }
    }

    /// Returns a file for the next download, emptied (its blocks freed, its inode kept).
    func give(back path: String) {
        truncate(path, 0)
        state.withLock { $0.free.append(path) }
    }

    /// Removes every file (when the store closes).
    func removeAll() {
        state.withLock { s in
            for n in stride(from: 1, through: s.next, by: 1) { unlink("\(directory)/download-\(n).temp") }
            s = ([], 0)
        }
    }
}
