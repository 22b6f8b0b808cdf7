import Synchronization
import KeyCodec
import ClusterAPI

/// The regions whose Raft groups need ticks. Quiet groups hibernate (as TiKV's hibernate regions
/// do), so the cost of time does not grow with the number of regions.
final class AwakeRegions: Sendable {
    private let regions = Mutex(Set<UInt64>())

    func wake(_ id: UInt64) { _ = self.regions.withLock { $0.insert(id) } }
    func sleep(_ id: UInt64) { _ = self.regions.withLock { $0.remove(id) } }
    var all: [UInt64] { self.regions.withLock { Array($0) } }
}
