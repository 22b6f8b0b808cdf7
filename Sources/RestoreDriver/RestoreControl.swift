import Synchronization
import KeyCodec

/// One region's share of the restore: the file sets to restore into `range`.
struct RegionWork: Sendable {
    var regionID: UInt64
    var range: KeyRange
    var fileSets: [Int]
}

/// What changes while a restore runs, beside the cluster: the regions the operator paused, the
/// Failed regions with the work they have left, and the stores that panicked.
final class RestoreControl: Sendable {
    let pauses = PauseSwitch()

    struct State {
        var failed: [UInt64: RegionWork] = [:]
        var storePanics: [UInt64: String] = [:]
    }

    let state = Mutex(State())
}
