import KeyCodec
import ExternalStorage
import ClusterAPI

/// A region's checksum taken on its leader's store, as TiKV's coprocessor takes it: the route
/// checked as for a read (the leader, the epoch's version, the ranges in the region), a read
/// index so that everything committed is applied, then a snapshot read at the request's timestamp.
extension Cluster: RegionChecksumming {
    public func checksum(_ request: RegionChecksumRequest) async throws(ImportError) -> KVChecksum {
        let storeID = request.peer.storeID
        guard let store = stores[storeID], store.isUp else {
            throw .region(.storeNotAvailable(storeID: storeID, state: stores[storeID]?.state ?? .down))
        }
        guard let region = await pd.refresh(request.regionID), region.peer(onStore: storeID) != nil else {
            throw .region(.regionNotFound(regionID: request.regionID))
        }
        // A read checks the epoch's version alone (tikv components/raftstore/src/store/util.rs
        // check_region_epoch: NORMAL_REQ_CHECK_VER, not NORMAL_REQ_CHECK_CONF_VER).
        guard request.epoch.version == region.epoch.version else {
            throw .region(.epochNotMatch(regionID: region.id, currentRegions: [region]))
        }
        var bounds: [KeyRange] = []
        for range in request.ranges {
            let start = Memcomparable.encode(range.start)
            guard region.contains(start) else {
                throw .region(.keyNotInRegion(key: range.start, regionID: region.id, startKey: region.startKey, endKey: region.endKey))
            }
            // TiKV's region snapshot bounds its iterators by the region: a range past its end is cut.
            let end = range.end.isEmpty ? region.endKey : Memcomparable.encode(range.end)
            let regionEnd = region.endKey
            bounds.append(KeyRange(start: start, end: !regionEnd.isEmpty && (end.isEmpty || keyLess(regionEnd, end)) ? regionEnd : end))
        }
        if let leader = await pd.leader(of: region.id), leader.storeID != storeID {
            throw .region(.notLeader(regionID: region.id, leader: leader))
        }
        let leader: PeerMeta
        do { leader = try await pd.readBarrier(region.id) } catch { throw .region(error) }
        guard leader.storeID == storeID else { throw .region(.notLeader(regionID: region.id, leader: leader)) }
        let reader = StoreReader(database: store.db)
        return try await BlockingIO.run { [bounds] () throws(ImportError) -> KVChecksum in
            var sum = KVChecksum()
            do {
                for bound in bounds {
                    try reader.forEachVisibleRow(from: bound.start, to: bound.end, readAt: request.readTS) { key, value in
                        guard request.add(key: key, value: value, to: &sum) else { throw WrongPrefix(key: key) }
                    }
                }
            } catch let wrong as WrongPrefix {
                throw .invalidRequest(reason: "key \(KeyDescription(wrong.key).summary) in region \(region.id) lacks the rule's new prefix \(KeyDescription(request.newPrefix).summary) (TiKV: Wrong prefix expect)")
            } catch {
                throw .io(path: store.directory, reason: "checksum of region \(region.id): \(error)")
            }
            return sum
        }
    }
}

private struct WrongPrefix: Error {
    var key: [UInt8]
}
