import Synchronization
import KeyCodec
import ClusterAPI

/// The regions whose Raft groups need ticks. Quiet groups hibernate (as TiKV's hibernate regions
/// do), so the cost of time does not grow with the number of regions. The clock finds the groups
/// here, not by asking the placement driver for each one on every tick: thousands of ticks a
/// second through its actor kept the splits' events waiting behind them.
final class AwakeRegions: Sendable {
    /// Weak: the placement driver holds the groups, and each group holds this.
    private struct Entry {
        weak var group: RaftGroup?
    }

    private let state = Mutex((groups: [UInt64: Entry](), awake: Set<UInt64>()))

    /// Makes `group` known to the clock (the placement driver registers every group it starts).
    func register(_ group: RaftGroup) { state.withLock { $0.groups[group.regionID] = Entry(group: group) } }

    func wake(_ id: UInt64) { _ = state.withLock { $0.awake.insert(id) } }
    func sleep(_ id: UInt64) { _ = state.withLock { $0.awake.remove(id) } }

    /// The groups of the awake regions; a region with no group any more goes to sleep.
    var all: [RaftGroup] {
        state.withLock { s in
            var groups: [RaftGroup] = [], gone: [UInt64] = []
            groups.reserveCapacity(s.awake.count)
            for id in s.awake {
                if let group = s.groups[id]?.group { groups.append(group) } else { gone.append(id) }
            }
            s.awake.subtract(gone)
            return groups
        }
    }
}
