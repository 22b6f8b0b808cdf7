import KeyCodec

/// The region errors of TiKV's `errorpb.Error`, which tell a client how to retry.
public enum RegionError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The peer asked is not the leader; `leader` is the one it knows of, if any.
    case notLeader(regionID: UInt64, leader: PeerMeta?)
    /// The request's epoch is stale; `currentRegions` are the regions that now cover its range.
    case epochNotMatch(regionID: UInt64, currentRegions: [Region])
    /// The store is overloaded; retry after `backoffMillis`.
    case serverIsBusy(storeID: UInt64, reason: String, backoffMillis: UInt64)
    case keyNotInRegion(key: [UInt8], regionID: UInt64, startKey: [UInt8], endKey: [UInt8])
    case regionNotFound(regionID: UInt64)
    /// The command was already applied, or its file is gone.
    case staleCommand(regionID: UInt64)
    /// The store is down or panicked and answers nothing.
    case storeNotAvailable(storeID: UInt64, state: StoreState)
    /// A proposal did not commit in time (no quorum, or a partition).
    case timeout(regionID: UInt64, after: Duration)

    public var label: String {
        switch self {
        case .notLeader: "NotLeader"
        case .epochNotMatch: "EpochNotMatch"
        case .serverIsBusy: "ServerIsBusy"
        case .keyNotInRegion: "KeyNotInRegion"
        case .regionNotFound: "RegionNotFound"
        case .staleCommand: "StaleCommand"
        case .storeNotAvailable: "StoreNotAvailable"
        case .timeout: "Timeout"
        }
    }

    public var description: String {
        switch self {
        case let .notLeader(region, leader):
            "NotLeader: region \(region) leader is \(leader.map { "store \($0.storeID)" } ?? "unknown")"
        case let .epochNotMatch(region, current):
            "EpochNotMatch: region \(region) changed; now \(current.map { "r\($0.id) \($0.epoch)" }.joined(separator: ", "))"
        case let .serverIsBusy(store, reason, backoff):
            "ServerIsBusy: store \(store) \(reason), retry in \(backoff) ms"
        case let .keyNotInRegion(key, region, start, end):
            "KeyNotInRegion: \(key.hexString) not in region \(region) [\(start.hexString), \(end.hexString))"
        case let .regionNotFound(region): "RegionNotFound: region \(region)"
        case let .staleCommand(region): "StaleCommand: region \(region)"
        case let .storeNotAvailable(store, state): "store \(store) is \(state)"
        case let .timeout(region, .zero): "region \(region): the write's outcome is unknown (no commit in time)"
        case let .timeout(region, after): "region \(region): no commit within \(after)"
        }
    }
}
