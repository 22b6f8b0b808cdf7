import Foundation
import ClusterAPI
import KVProto

// errorpb.Error, both ways. A region error travels inside the response, as TiKV sends it; only
// what errorpb cannot say (a store that is down) travels as a gRPC status.

extension RegionError {
    /// The region error that `wire` carries, or nil when it carries only a message. `storeID` is the
    /// store that answered, which errorpb does not name.
    public init?(_ wire: Errorpb_Error, storeID: UInt64) {
        if wire.hasNotLeader {
            let leader = wire.notLeader.hasLeader ? PeerMeta(wire.notLeader.leader) : nil
            self = .notLeader(regionID: wire.notLeader.regionID, leader: leader)
        } else if wire.hasEpochNotMatch {
            let current = wire.epochNotMatch.currentRegions.map(Region.init)
            self = .epochNotMatch(regionID: current.first?.id ?? 0, currentRegions: current)
        } else if wire.hasServerIsBusy {
            self = .serverIsBusy(storeID: storeID, reason: wire.serverIsBusy.reason, backoffMillis: wire.serverIsBusy.backoffMs)
        } else if wire.hasKeyNotInRegion {
            let e = wire.keyNotInRegion
            self = .keyNotInRegion(key: Array(e.key), regionID: e.regionID, startKey: Array(e.startKey), endKey: Array(e.endKey))
        } else if wire.hasRegionNotFound {
            self = .regionNotFound(regionID: wire.regionNotFound.regionID)
        } else if wire.hasStaleCommand {
            self = .staleCommand(regionID: 0)
        } else if wire.hasUndeterminedResult {
            self = .timeout(regionID: 0, after: .zero)
        } else {
            return nil
        }
    }

    /// `errorpb.Error` with the message TiKV would put beside it.
    public var wire: Errorpb_Error {
        var error = Errorpb_Error()
        error.message = description
        switch self {
        case let .notLeader(region, leader):
            error.notLeader.regionID = region
            if let leader { error.notLeader.leader = leader.wire }
        case let .epochNotMatch(_, current):
            error.epochNotMatch.currentRegions = current.map(\.wire)
        case let .serverIsBusy(_, reason, backoff):
            error.serverIsBusy.reason = reason
            error.serverIsBusy.backoffMs = backoff
        case let .keyNotInRegion(key, region, start, end):
            error.keyNotInRegion.key = Data(key)
            error.keyNotInRegion.regionID = region
            error.keyNotInRegion.startKey = Data(start)
            error.keyNotInRegion.endKey = Data(end)
        case let .regionNotFound(region):
            error.regionNotFound.regionID = region
        case .staleCommand:
            error.staleCommand = Errorpb_StaleCommand()
        case .timeout:
            error.undeterminedResult.message = description
        case .storeNotAvailable:
            break  // sent as a gRPC status by the server (see ImportWire)
        }
        return error
    }
}

extension ImportError {
    /// The error a store put in a Download or Ingest response.
    public init(_ wire: Errorpb_Error, storeID: UInt64) {
        if let region = RegionError(wire, storeID: storeID) {
            self = .region(region)
        } else if wire.hasDiskFull {
            self = .diskFull(storeID: storeID, needed: 0, available: 0)
        } else {
            self = .remote(storeID: storeID, message: wire.message, retryable: true)
        }
    }

    /// `errorpb.Error` for an Ingest response, or a Download's `store_error`.
    public var wire: Errorpb_Error {
        if case let .region(region) = self { return region.wire }
        var error = Errorpb_Error()
        error.message = description
        if case let .diskFull(store, _, _) = self {
            error.diskFull.storeID = [store]
            error.diskFull.reason = description
        }
        return error
    }
}
