import Foundation
import Synchronization
import KeyCodec

/// A store's free space and the reserve it keeps back, as TiKV's `storage.reserve-space`. Asked
/// before each write (a Raft write, an apply state, a download, an ingest: 29 times a region),
/// it reads the file system at most every `freshFor` while far above the reserve, and every time
/// near it: no write path here can fill `margin` within `freshFor`, so a value that old cannot
/// hide the reserve being crossed.
final class DiskRoom: Sendable {
    static let freshFor: Duration = .milliseconds(100)
    static let margin: UInt64 = 1 << 30

    let directory: String
    let reserve: UInt64
    private let last = Mutex<(free: UInt64, at: ContinuousClock.Instant)?>(nil)

    init(directory: String) {
        self.directory = directory
        reserve = Self.reserve(for: directory)
    }

    /// Bytes free on the store's file system.
    func available() -> UInt64 {
        let now = ContinuousClock.now
        if let last = last.withLock({ $0 }), now - last.at < Self.freshFor, last.free > reserve + Self.margin { return last.free }
        let free = Self.statFree(directory)
        last.withLock { $0 = (free, now) }
        return free
    }

    /// Why the store cannot take writes now (its disk is below the reserve), or nil.
    func pressure() -> String? {
        let free = available()
        guard free < reserve else { return nil }
        return "the disk is almost full: \(ByteFormat.size(free)) free, below the store's reserve of \(ByteFormat.size(reserve))"
    }

    private static func statFree(_ directory: String) -> UInt64 {
        var info = statvfs()
        guard statvfs(directory, &info) == 0 else { return 0 }
        return UInt64(info.f_bavail) * UInt64(info.f_frsize)
    }

    /// 5% of the file system, at most 32 MiB: room for a memtable flush and the writes in flight.
    private static func reserve(for directory: String) -> UInt64 {
        var info = statvfs()
        guard statvfs(directory, &info) == 0 else { return 0 }
        return min(32 << 20, UInt64(info.f_blocks) * UInt64(info.f_frsize) / 20)
    }
}
