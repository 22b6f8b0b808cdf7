import Foundation
import Failpoints
import KeyCodec

/// Takes a download into a local file, or into memory for a small one, while counting and hashing
/// it. `finish` checks length and sha256 against the backup meta; any failure removes the file.
final class VerifyingSink {
    /// Where the bytes go: a file written with `write(2)` straight from the caller's buffer (no
    /// stdio copy in between), or memory.
    private enum Target {
        case file(path: String, descriptor: Int32?)
        case memory
    }

    let object: String
    let expected: ExpectedContent?
    private var target: Target
    /// What a memory sink holds.
    private(set) var bytes: [UInt8] = []
    /// A file's digest, hashed beside the writes; memory is hashed whole at the end.
    private let digest: PipelinedDigest?
    private(set) var written: UInt64 = 0

    init(path: String, object: String, expected: ExpectedContent?) throws(StorageError) {
        self.object = object
        self.expected = expected
        digest = PipelinedDigest(expectedBytes: expected?.size)
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .localIO(path: path, reason: String(cString: strerror(errno))) }
        target = .file(path: path, descriptor: fd)
    }

    /// A sink in memory, for an object of `expected.size` bytes at most.
    init(inMemory object: String, expected: ExpectedContent) {
        self.object = object
        self.expected = expected
        digest = nil
        target = .memory
        bytes.reserveCapacity(Int(expected.size))
    }

    deinit { if case let .file(_, fd?) = target { close(fd) } }

    func append(_ chunk: UnsafeRawBufferPointer) throws(StorageError) {
        if let expected, written + UInt64(chunk.count) > expected.size {
            abandon()
            throw .lengthMismatch(object: object, expected: expected.size, actual: written + UInt64(chunk.count))
        }
        switch target {
        case .memory:
            bytes.append(contentsOf: chunk)
        case let .file(path, fd?):
            var offset = 0
            while offset < chunk.count {
                let n = write(fd, chunk.baseAddress! + offset, chunk.count - offset)
                if n < 0, errno == EINTR { continue }
                guard n > 0 else {
                    let reason = String(cString: strerror(n < 0 ? errno : ENOSPC))
                    abandon()
                    throw .localIO(path: path, reason: reason)
                }
                offset += n
            }
        case let .file(path, nil):
            throw .localIO(path: path, reason: "file already closed")
        }
        digest?.update(chunk)
        written += UInt64(chunk.count)
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
        if case let .file(path, descriptor) = target {
            guard let fd = descriptor else { throw .localIO(path: path, reason: "file already closed") }
            target = .file(path: path, descriptor: nil)
            guard close(fd) == 0 else {
                let reason = String(cString: strerror(errno))
                unlink(path)
                throw .localIO(path: path, reason: reason)
            }
        }
        guard let expected else { return }
        if written != expected.size {
            abandon()
            throw .lengthMismatch(object: object, expected: expected.size, actual: written)
        }
        guard !expected.sha256.isEmpty else { return }
        let actual = digest?.finish() ?? SHA256Digest.hash(bytes)
        if actual != expected.sha256 {
            abandon()
            throw .checksumMismatch(object: object, expected: expected.sha256.hexString, actual: actual.hexString)
        }
    }

    /// Closes and removes the partial file, or drops what memory holds.
    func abandon() {
        switch target {
        case .memory:
            bytes = []
        case let .file(path, descriptor):
            if let descriptor { close(descriptor) }
            target = .file(path: path, descriptor: nil)
            unlink(path)
        }
    }
}
