import KeyCodec
import ClusterAPI

/// What applying a proposed command did on the replica that proposed it.
public enum ApplyOutcome: Sendable, Equatable {
    case applied
    /// The command was checked on apply and refused (a stale epoch, a range outside the region,
    /// a file already ingested).
    case rejected(RegionError)
    /// Executing the command failed; the store panicked and is down for good.
    case storePanicked(storeID: UInt64, reason: String)
}

/// What a group tells the placement driver.
enum GroupEvent: Sendable {
    /// A replica on `storeID` applied a split: `parent` is what is left of the region, and its
    /// peers of `children` now exist.
    case splitApplied(storeID: UInt64, parent: Region, children: [Region])
    /// A store panicked while applying.
    case storePanicked(storeID: UInt64, reason: String)
}

/// One peer's state for display and tests.
public struct PeerStatus: Sendable, Equatable {
    public var peer: PeerMeta
    public var isLeader: Bool
    public var term: UInt64
    public var appliedIndex: UInt64
    public var isLive: Bool
    /// The log it keeps: entries after `truncatedIndex` up to `lastIndex`.
    public var truncatedIndex: UInt64 = 0
    public var lastIndex: UInt64 = 0
}
