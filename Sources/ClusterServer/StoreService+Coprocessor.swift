import Foundation
import KeyCodec
import ClusterAPI
import KVProto
import KVWire

/// TiKV's coprocessor, for the one request a restore sends it: the checksum (tikv
/// src/coprocessor/endpoint.rs, checksum.rs). Failures travel in the response as TiKV sends them:
/// a region error to retry elsewhere, anything else in `other_error`.
extension StoreService {
    func coprocessor(_ request: Coprocessor_Request) async -> Coprocessor_Response {
        var response = Coprocessor_Response()
        do throws(ImportError) {
            let checksumRequest = try Self.checksumRequest(request, storeID: storeID)
            if let violation = await rules.checkChecksumRequest(checksumRequest, in: cluster) { throw .invalidRequest(reason: violation) }
            if let race = faults.takeChecksumRace() { await changeRegion(of: checksumRequest, split: race % 2 == 1) }
            let sum = try await cluster.checksum(checksumRequest)
            var answer = Tipb_ChecksumResponse()
            answer.checksum = sum.crc64xor
            answer.totalKvs = sum.totalKVs
            answer.totalBytes = sum.totalBytes
            response.data = (try? answer.serializedData()) ?? Data()
        } catch let .region(error) {
            response.regionError = error.wire
        } catch {
            response.otherError = error.description
        }
        return response
    }

    /// The request read as TiKV reads it: type 105, a `tipb.ChecksumRequest` with CRC64-XOR, the
    /// timestamp in the request or else in the checksum's deprecated `start_ts_fallback`.
    static func checksumRequest(_ request: Coprocessor_Request, storeID: UInt64) throws(ImportError) -> RegionChecksumRequest {
        guard request.tp == TikvService.checksumRequestType else {
            throw .invalidRequest(reason: "coprocessor request type \(request.tp) is not served here: only the checksum (\(TikvService.checksumRequestType))")
        }
        let checksum: Tipb_ChecksumRequest
        do { checksum = try Tipb_ChecksumRequest(serializedBytes: request.data) } catch {
            throw .invalidRequest(reason: "the checksum request does not parse: \(error)")
        }
        guard checksum.algorithm == .crc64Xor else { throw .invalidRequest(reason: "unknown checksum algorithm \(checksum.algorithm)") }
        let context = request.context
        return RegionChecksumRequest(
            regionID: context.regionID, epoch: RegionEpoch(context.regionEpoch), peer: PeerMeta(id: context.peer.id, storeID: storeID),
            ranges: request.ranges.map { KeyRange(start: Array($0.start), end: Array($0.end)) },
            readTS: request.startTs != 0 ? request.startTs : checksum.startTsFallback,
            oldPrefix: Array(checksum.rule.oldPrefix), newPrefix: Array(checksum.rule.newPrefix), scanOn: checksum.scanOn == .index ? .index : .table)
    }

    /// A fault for the tests: the request's region changes before it is read.
    private func changeRegion(of request: RegionChecksumRequest, split: Bool) async {
        guard let region = await cluster.refreshRegion(id: request.regionID), let range = request.ranges.first else { return }
        if split {
            let key = Memcomparable.encode(range.start + [0])
            if region.contains(key), key != region.startKey { _ = try? await cluster.split(regionID: region.id, at: [key]) }
        } else if let leader = await cluster.leader(of: region.id), let other = region.peers.first(where: { $0.storeID != leader.storeID }) {
            try? await cluster.transferLeader(regionID: region.id, toStore: other.storeID)
        }
    }
}
