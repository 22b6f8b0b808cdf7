import KeyCodec
import ClusterAPI

/// Faults injected into one store, for tests, the demo and the console's drills. Each counter is
/// consumed as the fault fires.
public struct StoreFaults: Sendable, Equatable {
    /// The next N downloads fail with an injected error.
    public var failDownloads = 0
    /// The next N downloads are corrupted (a byte flipped) after they arrive.
    public var corruptDownloads = 0
    /// Requests are refused with ServerIsBusy until this instant.
    public var busyUntil: ContinuousClock.Instant?
    /// The next N ingests fail on apply, which panics the store.
    public var failApplies = 0
    /// The next N ingests find no file descriptor free (EMFILE) on apply: they wait and are tried again.
    public var exhaustDescriptors = 0

    public init() {}
}
