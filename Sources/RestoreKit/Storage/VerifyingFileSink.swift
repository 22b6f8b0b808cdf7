import Foundation

/// Writes a download to a local file while counting and hashing it. `finish` checks length and
/// sha256 against the backup meta; any failure removes the file.
final class VerifyingFileSink {
    let path: String
    let object: String
    let expected: ExpectedContent?
    private var file: UnsafeMutablePointer<FILE>?
    private let digest = SHA256Digest()
    private(set) var written: UInt64 = 0

    init(path: String, object: String, expected: ExpectedContent?) throws(StorageError) {
        self.path = path
        self.object = object
        self.expected = expected
        file = fopen(path, "wb")
        guard file != nil else { throw .localIO(path: path, reason: String(cString: strerror(errno))) }
        setvbuf(file, nil, _IOFBF, 1 << 20)
    }

    deinit { if let file { fclose(file) } }

    func append(_ bytes: UnsafeRawBufferPointer) throws(StorageError) {
        guard let file else { throw .localIO(path: path, reason: "file already closed") }
        if let expected, written + UInt64(bytes.count) > expected.size {
            abandon()
            throw .lengthMismatch(object: object, expected: expected.size, actual: written + UInt64(bytes.count))
        }
        guard fwrite(bytes.baseAddress, 1, bytes.count, file) == bytes.count else {
            let reason = String(cString: strerror(errno))
            abandon()
            throw .localIO(path: path, reason: reason)
        }
        digest.update(bytes)
        written += UInt64(bytes.count)
    }

    /// Appends through the rate limiter in small slices, reporting progress after each, so that a
    /// slow (limited) transfer moves smoothly instead of in bursts of a whole buffer.
    func appendPaced(_ bytes: UnsafeRawBufferPointer, limiter: RateLimiter?, progress: (@Sendable (UInt64) -> Void)?) throws(StorageError) {
        let slice = 64 * 1024
        var offset = 0
        while offset < bytes.count {
            let n = min(slice, bytes.count - offset)
            limiter?.acquire(n)
            try append(UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + n)]))
            progress?(written)
            offset += n
        }
    }

    /// Flushes, syncs and verifies; on a mismatch the file is removed.
    func finish() throws(StorageError) {
        guard let f = file else { throw .localIO(path: path, reason: "file already closed") }
        let flushed = fflush(f) == 0 && fsync(fileno(f)) == 0
        let reason = String(cString: strerror(errno))
        fclose(f)
        file = nil
        guard flushed else {
            unlink(path)
            throw .localIO(path: path, reason: reason)
        }
        guard let expected else { return }
        if written != expected.size {
            unlink(path)
            throw .lengthMismatch(object: object, expected: expected.size, actual: written)
        }
        let actual = digest.finish()
        if actual != expected.sha256 {
            unlink(path)
            throw .checksumMismatch(object: object, expected: expected.sha256.hexString, actual: actual.hexString)
        }
    }

    /// Closes and removes the partial file.
    func abandon() {
        if let file { fclose(file) }
        file = nil
        unlink(path)
    }
}
