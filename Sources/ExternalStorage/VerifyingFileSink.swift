import Foundation
import Failpoints
import KeyCodec

/// Writes a download to a local file while counting and hashing it. `finish` checks length and
/// sha256 against the backup meta; any failure removes the file.
final class VerifyingFileSink {
    let path: String
    let object: String
    let expected: ExpectedContent?
    /// Written with `write(2)` straight from the caller's buffer: no stdio copy in between.
    private var file: Int32?
    private let digest: PipelinedDigest
    private(set) var written: UInt64 = 0

    init(path: String, object: String, expected: ExpectedContent?) throws(StorageError) {
        self.path = path
        self.object = object
        self.expected = expected
        digest = PipelinedDigest(expectedBytes: expected?.size)
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .localIO(path: path, reason: String(cString: strerror(errno))) }
        file = fd
    }

    deinit { if let file { close(file) } }

    func append(_ bytes: UnsafeRawBufferPointer) throws(StorageError) {
        guard let file else { throw .localIO(path: path, reason: "file already closed") }
        if let expected, written + UInt64(bytes.count) > expected.size {
            abandon()
            throw .lengthMismatch(object: object, expected: expected.size, actual: written + UInt64(bytes.count))
        }
        var offset = 0
        while offset < bytes.count {
            let n = write(file, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0, errno == EINTR { continue }
            guard n > 0 else {
                let reason = String(cString: strerror(n < 0 ? errno : ENOSPC))
                abandon()
                throw .localIO(path: path, reason: reason)
            }
            offset += n
        }
        digest.update(bytes)
        written += UInt64(bytes.count)
        CrashPoint.download.pass()
    }

    /// Appends through the rate limiter in small slices, reporting progress after each, so that a
    /// slow (limited) transfer moves smoothly instead of in bursts of a whole buffer. Without a
    /// limit (none, or one set to unlimited) the chunk goes in one write.
    func appendPaced(_ bytes: UnsafeRawBufferPointer, limiter: RateLimiter?, progress: (@Sendable (UInt64) -> Void)?) throws(StorageError) {
        let limited = (limiter?.bytesPerSecond ?? 0) > 0
        let slice = limited ? 64 * 1024 : max(bytes.count, 1)
        var offset = 0
        while offset < bytes.count {
            let n = min(slice, bytes.count - offset)
            limiter?.acquire(n)
            try append(UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + n)]))
            progress?(written)
            offset += n
        }
    }

    /// Closes and verifies; on a mismatch the file is removed. There is no fsync: a download is
    /// verified here and consumed by the same import call, never trusted after a restart (the
    /// durable copy is the rewritten SST that RocksDB syncs when it ingests it).
    func finish() throws(StorageError) {
        guard let fd = file else { throw .localIO(path: path, reason: "file already closed") }
        file = nil
        guard close(fd) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(path)
            throw .localIO(path: path, reason: reason)
        }
        guard let expected else { return }
        if written != expected.size {
            unlink(path)
            throw .lengthMismatch(object: object, expected: expected.size, actual: written)
        }
        let actual = digest.finish()
        if !expected.sha256.isEmpty, actual != expected.sha256 {
            unlink(path)
            throw .checksumMismatch(object: object, expected: expected.sha256.hexString, actual: actual.hexString)
        }
    }

    /// Closes and removes the partial file.
    func abandon() {
        if let file { close(file) }
        file = nil
        unlink(path)
    }
}
