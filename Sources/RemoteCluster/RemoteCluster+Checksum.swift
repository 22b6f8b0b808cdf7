import Foundation
import KeyCodec
import ClusterAPI
import KVProto
import KVWire

/// A region's checksum from its leader's coprocessor, sent as BR sends it through TiDB's distsql
/// (tidb br/pkg/checksum/executor.go): request type 105, a `tipb.ChecksumRequest` with CRC64-XOR
/// and the rule's prefixes, the snapshot's timestamp in `start_ts`, at low priority.
extension RemoteCluster: RegionChecksumming {
    public func checksum(_ request: RegionChecksumRequest) async throws(ImportError) -> KVChecksum {
        let store = request.peer.storeID
        guard let endpoint = endpoint(store) else { throw .region(.storeNotAvailable(storeID: store, state: .down)) }
        let wire: Coprocessor_Request
        do { wire = try Self.coprocessorRequest(request) } catch { throw .invalidRequest(reason: "the checksum request does not serialize: \(error)") }
        let response: Coprocessor_Response
        do {
            response = try await TikvService.coprocessor(wire, on: endpoint.connection.client, options: WireConnection.options(timeout: timeouts.checksum))
        } catch {
            endpoint.noteCall(error)
            throw WireFailure.importError(error, store: store, method: "Coprocessor")
        }
        endpoint.noteCall(nil)
        if response.hasRegionError {
            let error = RegionError(response.regionError, storeID: store)
                ?? .serverIsBusy(storeID: store, reason: response.regionError.message, backoffMillis: 100)
            learn(from: error, regionID: request.regionID)
            throw .region(error)
        }
        if response.hasLocked {
            // A lock at or below the snapshot: another transaction is writing there (tikv
            // src/storage/mvcc/reader/point_getter.rs); the read is tried again later.
            throw .remote(storeID: store, message: "Coprocessor: key \(KeyDescription(Array(response.locked.key)).summary) is locked by the transaction at \(response.locked.lockVersion)", retryable: true)
        }
        guard response.otherError.isEmpty else { throw .remote(storeID: store, message: "Coprocessor: \(response.otherError)", retryable: false) }
        let answer: Tipb_ChecksumResponse
        do { answer = try Tipb_ChecksumResponse(serializedBytes: response.data) } catch {
            throw .remote(storeID: store, message: "Coprocessor: the checksum response does not parse: \(error)", retryable: false)
        }
        return KVChecksum(crc64xor: answer.checksum, totalKVs: answer.totalKvs, totalBytes: answer.totalBytes)
    }

    static func coprocessorRequest(_ request: RegionChecksumRequest) throws -> Coprocessor_Request {
        var checksum = Tipb_ChecksumRequest()
        checksum.scanOn = request.scanOn == .index ? .index : .table
        checksum.algorithm = .crc64Xor
        checksum.rule.oldPrefix = Data(request.oldPrefix)
        checksum.rule.newPrefix = Data(request.newPrefix)
        var wire = Coprocessor_Request()
        wire.context = context(regionID: request.regionID, epoch: request.epoch, peer: request.peer)
        wire.context.requestSource = requestSource
        // BR's checksum gives way to the cluster's own reads (executor.go: kv.PriorityLow).
        wire.context.priority = .low
        wire.tp = TikvService.checksumRequestType
        wire.startTs = request.readTS
        wire.data = try checksum.serializedData()
        wire.ranges = request.ranges.map { range in
            var wire = Coprocessor_KeyRange()
            wire.start = Data(range.start)
            wire.end = Data(range.end)
            return wire
        }
        return wire
    }
}
