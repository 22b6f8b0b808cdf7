import Foundation
import Synchronization
import KeyCodec
import ExternalStorage
import ClusterAPI

/// Fetches a Download's objects (one, or a BatchDownload's several) into the store's download
/// files: each verified against its size and sha256 as it arrives, counted in the store's meter,
/// and decrypted once whole, as TiKV's download decrypts with `cipher_info` and the SST's
/// `cipher_iv` (tikv components/sst_importer): the sha256 is the ciphertext's.
struct DownloadFetch: Sendable {
    let files: [BatchFile]
    /// Each object's size: the claimed one, or the storage's.
    let sizes: [UInt64]
    let storage: any ExternalStorage
    let cipher: BackupCipher?
    let limiter: RateLimiter
    let meter: ThroughputMeter
    /// Bytes received of the whole request.
    let progress: (@Sendable (UInt64) -> Void)?
    let storeID: UInt64
    /// A drill: a byte of what was fetched is flipped, as a bad disk would.
    let corrupt: Bool

    /// Fetches file `i` into `temp`; `progressBase` is what the files before it brought.
    func fetch(_ i: Int, into temp: String, progressBase: UInt64) throws(ImportError) {
        try transfer(i, progressBase: progressBase) { expected, onBytes throws(StorageError) in
            try storage.download(files[i].name, to: temp, expected: expected, limiter: limiter, progress: onBytes)
        }
        if let decryption = decryption(of: files[i]) {
            do throws(StorageError) { try decryption.cipher.applyInPlace(path: temp, iv: decryption.iv) } catch { throw .storage(error) }
        }
        if corrupt { FaultInjector.flipByte(in: temp) }
    }

    /// Fetches file `i` into memory, checked and decrypted as `fetch(_:into:)` does a file.
    func fetchInMemory(_ i: Int, progressBase: UInt64) throws(ImportError) -> [UInt8] {
        var bytes: [UInt8] = []
        try transfer(i, progressBase: progressBase) { expected, onBytes throws(StorageError) in
            bytes = try storage.fetch(files[i].name, expected: expected, limiter: limiter, progress: onBytes)
        }
        if let decryption = decryption(of: files[i]) { bytes = decryption.cipher.apply(bytes, iv: decryption.iv) }
        if corrupt { FaultInjector.flipByte(in: &bytes) }
        return bytes
    }

    /// Runs one object's transfer with the store's meter, the request's progress and the
    /// download's metrics.
    private func transfer(
        _ i: Int, progressBase: UInt64, _ body: (ExpectedContent, @escaping @Sendable (UInt64) -> Void) throws(StorageError) -> Void
    ) throws(ImportError) {
        let (meter, progress) = (meter, progress)
        let received = Mutex<UInt64>(0)
        let onBytes: @Sendable (UInt64) -> Void = { bytes in
            let delta = received.withLock { last in
                defer { last = bytes }
                return bytes - min(last, bytes)
            }
            meter.record(delta)
            progress?(progressBase + bytes)
        }
        let fetching = ContinuousClock.now
        do throws(StorageError) { try body(expected(i), onBytes) } catch { throw .storage(error) }
        ImportMetrics.stage("download", store: storeID, started: fetching)
        ImportMetrics.downloaded(bytes: received.withLock { $0 }, store: storeID)
    }

    private func expected(_ i: Int) -> ExpectedContent {
        ExpectedContent(size: sizes[i], sha256: files[i].expected?.sha256 ?? [])
    }

    /// The key and iv of an encrypted file; nil for a plain one.
    private func decryption(of file: BatchFile) -> (cipher: BackupCipher, iv: [UInt8])? {
        cipher.flatMap { file.cipherIV.isEmpty ? nil : ($0, file.cipherIV) }
    }

    /// A file that does not read as an SST, said the more precisely: what was fetched matched the
    /// backup's sha256, so the backup's own file is bad (not worth fetching again), or decrypted it
    /// is what a wrong key makes of it.
    func explain(_ error: ImportError, sources: [SSTRewriter.Source]) -> ImportError {
        guard case let .corruptFile(name, reason) = error, let source = sources.first(where: { $0.name == name }),
              let i = files.firstIndex(where: { $0.name == name }) else { return error }
        if let decryption = decryption(of: files[i]), !expected(i).sha256.isEmpty, !corrupt {
            return .corruptBackupFile(name: name, reason: "\(reason), once decrypted with the \(decryption.cipher.method.name) key given: a wrong --crypter.key reads so")
        }
        let sha256 = expected(i).sha256
        let fetched: [UInt8]? = switch source.content {
        case let .file(path): SHA256Digest.hash(fileAt: path)
        case let .memory(bytes): SHA256Digest.hash(bytes)
        }
        return !sha256.isEmpty && fetched == sha256 ? .corruptBackupFile(name: name, reason: reason) : error
    }
}
