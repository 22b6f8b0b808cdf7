import Foundation

/// Small local files that must survive a power loss whole (a checkpoint, an id reservation):
/// replaced through a synced temporary file, or appended to and synced.
public enum DurableFile {
    /// What failed, as the system said it.
    public struct Failure: Error, CustomStringConvertible {
        public let description: String

        init() { description = String(cString: strerror(errno)) }
    }

    /// Replaces the file at `path` with `contents`, or leaves it as it was: a temporary file is
    /// written and synced, renamed into place, and the directory synced, so that after a crash the
    /// file is the old one or the new one, never a part.
    public static func replace(_ path: String, with contents: [UInt8]) throws(Failure) {
        let temp = path + ".new"
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw Failure() }
        let written = writeAll(fd, contents) && fsync(fd) == 0
        let failure = Failure()
        close(fd)
        guard written else {
            unlink(temp)
            throw failure
        }
        guard rename(temp, path) == 0 else { throw Failure() }
        try syncDirectory((path as NSString).deletingLastPathComponent)
    }

    /// Appends `bytes` to the open file `fd` and syncs it. On a failure the file is cut back to
    /// where it ended, so that no torn record is left for the next append to follow.
    public static func append(_ bytes: [UInt8], to fd: Int32) throws(Failure) {
        let end = lseek(fd, 0, SEEK_END)
        guard writeAll(fd, bytes), fsync(fd) == 0 else {
            let failure = Failure()
            if end >= 0 { _ = ftruncate(fd, end) }
            throw failure
        }
    }

    /// Syncs a directory, so that the names created or renamed in it are on disk.
    public static func syncDirectory(_ directory: String) throws(Failure) {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw Failure() }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw Failure() }
    }

    /// Writes all of `bytes`; false, with errno set, when a write fails.
    private static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                offset += n
            }
            return true
        }
    }
}
