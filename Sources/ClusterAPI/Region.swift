/// A region's version: `confVer` grows with every peer change, `version` with every split.
public struct RegionEpoch: Codable, Hashable, Sendable, CustomStringConvertible {
    public var confVer: UInt64
    public var version: UInt64

    public init(confVer: UInt64 = 1, version: UInt64 = 1) {
        self.confVer = confVer
        self.version = version
    }

    public var description: String { "\(version)/\(confVer)" }
}

/// One replica of a region, on one store. A learner receives the log but neither votes nor counts
/// for a quorum: a peer being added is a learner until it has caught up.
public struct PeerMeta: Codable, Hashable, Sendable, CustomStringConvertible {
    public var id: UInt64
    public var storeID: UInt64
    public var isLearner: Bool

    public init(id: UInt64, storeID: UInt64, isLearner: Bool = false) {
        self.id = id
        self.storeID = storeID
        self.isLearner = isLearner
    }

    enum CodingKeys: CodingKey { case id, storeID, isLearner }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(UInt64.self, forKey: .id)
        storeID = try c.decode(UInt64.self, forKey: .storeID)
        isLearner = try c.decodeIfPresent(Bool.self, forKey: .isLearner) ?? false
    }

    public var description: String { "\(isLearner ? "learner" : "peer") \(id) on store \(storeID)" }
}

/// A range of the key space and the peers that replicate it. Bounds are encoded keys without the
/// `z` prefix, as in TiKV; an empty end is the end of the key space.
public struct Region: Codable, Hashable, Sendable {
    public var id: UInt64
    public var startKey: [UInt8]
    public var endKey: [UInt8]
    public var epoch: RegionEpoch
    public var peers: [PeerMeta]

    public init(id: UInt64, startKey: [UInt8], endKey: [UInt8], epoch: RegionEpoch, peers: [PeerMeta]) {
        self.id = id
        self.startKey = startKey
        self.endKey = endKey
        self.epoch = epoch
        self.peers = peers
    }

    public var range: KeyRange { KeyRange(start: startKey, end: endKey) }

    public func contains(_ key: some ContiguousBytes) -> Bool { range.contains(key) }

    public func peer(onStore store: UInt64) -> PeerMeta? { peers.first { $0.storeID == store } }

    public func peer(id: UInt64) -> PeerMeta? { peers.first { $0.id == id } }

    /// The peers that vote and count for a quorum.
    public var voters: [PeerMeta] { peers.filter { !$0.isLearner } }
}

import Foundation
import KeyCodec
