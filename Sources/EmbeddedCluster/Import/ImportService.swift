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

    public init(store: Store, pd: PlacementDriver, bytesPerSecond: UInt64 = 0, proposalTimeout: Duration = .seconds(10)) {
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
        if let backoff = store.busyBackoff() {
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
        guard let region = await pd.region(id: sst.regionID) else { throw .region(.regionNotFound(regionID: sst.regionID)) }
        guard region.peer(onStore: store.id) != nil else { throw .region(.regionNotFound(regionID: sst.regionID)) }
        guard region.epoch == sst.epoch else {
            throw .region(.epochNotMatch(regionID: region.id, currentRegions: await pd.regions(overlapping: sst.range)))
        }
        // Download is idempotent, as TiKV's: a file this same request already produced (it is
        // only ever renamed into place complete) is answered as it is, without fetching it again.
        if let reused = Self.existing("\(store.importDirectory)/\(sst.fileName)") {
            request.progress?(request.expected?.size ?? reused.length)
            return reused
        }
        // The object's real size bounds what is written: a request without a length takes the
        // storage's, and the download stops past it.
        let size: UInt64
        if let claimed = request.expected?.size {
            size = claimed
        } else {
            let (storage, name) = (request.storage, request.name)
            do { size = try await BlockingIO.run { () throws(StorageError) in try storage.size(of: name) } } catch { throw .storage(error) }
        }
        guard size <= Self.maxObjectBytes else { throw .invalidRequest(reason: "\(request.name) is said to be \(size) bytes, above any SST (2^48)") }
        let expected = ExpectedContent(size: size, sha256: request.expected?.sha256 ?? [])
        // The download, its rewrite and the ingest's clone.
        let needed = size * 3
        let available = store.availableBytes()
        guard available > needed else { throw .diskFull(storeID: store.id, needed: needed, available: available) }
        if store.takeFault(\.failDownloads) { throw .injected(storeID: store.id, what: "download failure of \(request.name)") }

        // Each attempt downloads and rewrites into files of its own, and only a complete rewrite is
        // renamed to the name an ingest looks for: a failed or concurrent attempt never removes
        // or half-writes a file that a pending ingest needs.
        let attempt = UUID().uuidString.prefix(8)
        let temp = downloadFiles.take()
        let rewritten = "\(store.importDirectory)/\(sst.uuid)_\(sst.regionID)_\(sst.cf.name)_\(attempt).sst.temp"
        let final = "\(store.importDirectory)/\(sst.fileName)"
        let corrupt = store.takeFault(\.corruptDownloads)
        let (storage, meter, limiter, progress) = (request.storage, meter, limiter, request.progress)
        let rewriter = SSTRewriter(rules: request.rules, mode: request.mode, format: request.format, cf: sst.cf)
        let name = request.name, range = sst.range, storeID = store.id
        // An encrypted file is decrypted once fetched (its sha256 is the ciphertext's), as TiKV's
        // download does with `cipher_info` and the SST's `cipher_iv` (tikv components/sst_importer).
        let decryption = request.cipher.flatMap { cipher in request.cipherIV.isEmpty ? nil : (cipher, request.cipherIV) }
        if decryption != nil, request.cipherIV.count != BackupCipher.ivLength {
            throw .invalidRequest(reason: "\(name): a cipher iv of \(request.cipherIV.count) bytes, not 16")
        }
        let result: SSTRewriter.Result? = try await BlockingIO.run { [downloadFiles] () throws(ImportError) -> SSTRewriter.Result? in
            defer { downloadFiles.give(back: temp) }
            let received = Mutex<UInt64>(0)
            let onBytes: @Sendable (UInt64) -> Void = { bytes in
                let delta = received.withLock { last in
                    defer { last = bytes }
                    return bytes - min(last, bytes)
                }
                meter.record(delta)
                progress?(bytes)
            }
            let fetching = ContinuousClock.now
            let fetched = Result { () throws(StorageError) in
                try storage.download(name, to: temp, expected: expected, limiter: limiter, progress: onBytes)
            }
            if case let .failure(error) = fetched { throw .storage(error) }
            ImportMetrics.stage("download", store: storeID, started: fetching)
            ImportMetrics.downloaded(bytes: received.withLock { $0 }, store: storeID)
            if let decryption {
                do throws(StorageError) { try decryption.0.applyInPlace(path: temp, iv: decryption.1) } catch { throw .storage(error) }
            }
            if corrupt { Self.flipByte(in: temp) }
            let rewriting = ContinuousClock.now
            defer { ImportMetrics.stage("rewrite", store: storeID, started: rewriting) }
            let rewrite: SSTRewriter.Result?
            do throws(ImportError) { rewrite = try rewriter.rewrite(source: temp, destination: rewritten, name: name, region: range) } catch let .corruptFile(_, reason) {
                // What was fetched matched the backup's sha256: decrypted, it is what the key makes of it.
                if let decryption, !expected.sha256.isEmpty, !corrupt {
                    throw .corruptBackupFile(name: name, reason: "\(reason), once decrypted with the \(decryption.0.method.name) key given: a wrong --crypter.key reads so")
                }
                throw Self.matchesBackup(temp, expected) ? .corruptBackupFile(name: name, reason: reason) : .corruptFile(name: name, reason: reason)
            }
            guard let result = rewrite else { return nil }
            guard rename(rewritten, final) == 0 else {
                let reason = String(cString: strerror(errno))
                unlink(rewritten)
                throw .io(path: final, reason: reason)
            }
            return result
        }
        guard let result else { return DownloadResponse(range: sst.range, isEmpty: true, entries: 0, length: 0) }
        return DownloadResponse(range: KeyRange(start: result.firstKey, end: result.lastKey, endInclusive: true), isEmpty: false, entries: result.entries, length: result.bytes)
    }

    /// The response for an import file already in place, or nil when there is none (or it is not
    /// a readable SST, which a fresh download then replaces).
    static func existing(_ path: String) -> DownloadResponse? {
        guard FileManager.default.fileExists(atPath: path), let reader = try? SSTReader(path: path),
              let first = try? reader.firstKey, let last = try? reader.lastKey, first.first == DataKey.prefix, last.first == DataKey.prefix
        else { return nil }
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? UInt64) ?? 0
        return DownloadResponse(range: KeyRange(start: Array(first.dropFirst()), end: Array(last.dropFirst()), endInclusive: true), isEmpty: false, entries: reader.entryCount, length: size)
    }

    /// The largest object a Download fetches: no SST is near it, and sizes below it leave room
    /// for every sum and product the store makes of them.
    static let maxObjectBytes: UInt64 = 1 << 48

    /// True when the file at `path` is exactly what the backup holds (its sha256 is known and
    /// matches): then a corrupt block is the backup's own, and not worth downloading again.
    static func matchesBackup(_ path: String, _ expected: ExpectedContent) -> Bool {
        !expected.sha256.isEmpty && SHA256Digest.hash(fileAt: path) == expected.sha256
    }

    /// Simulates a bad disk: flips one byte in the middle of a downloaded file.
    static func flipByte(in path: String) {
        guard let f = fopen(path, "r+b") else { return }
        defer { fclose(f) }
        fseek(f, 0, SEEK_END)
        let size = ftell(f)
        guard size > 0 else { return }
        fseek(f, size / 3, SEEK_SET)
        let byte = fgetc(f)
        fseek(f, size / 3, SEEK_SET)
        fputc(byte ^ 0x55, f)
    }

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
