import GRPCCore
import ClusterAPI

/// What a failed call (a gRPC status, not an error inside a response) means for a store.
enum WireFailure {
    /// The metadata key in which our server carries a panicked store's reason.
    static let panicMetadataKey = "x-store-panic"

    /// `panicIsThisCall`: an ingest whose apply may have been what panicked the store (the leader
    /// then changes); for any other call the store was simply not available, as a store that is
    /// down, and the driver goes on with the other peers.
    static func importError(_ error: any Error, store: UInt64, method: String, panicIsThisCall: Bool = false) -> ImportError {
        guard let rpc = error as? RPCError else { return .remote(storeID: store, message: "\(method): \(error)", retryable: true) }
        if let reason = panicReason(rpc) {
            return panicIsThisCall ? .storePanicked(storeID: store, reason: reason) : .region(.storeNotAvailable(storeID: store, state: .panicked(reason: reason)))
        }
        switch rpc.code {
        case .unavailable:
            return .region(.storeNotAvailable(storeID: store, state: .down))
        case .unimplemented:
            return .remote(storeID: store, message: "does not implement \(method)", retryable: false)
        case .deadlineExceeded:
            return .remote(storeID: store, message: "\(method) did not answer in time", retryable: true)
        case .cancelled, .aborted, .resourceExhausted, .internalError:
            return .remote(storeID: store, message: "\(method): \(rpc.code): \(rpc.message)", retryable: true)
        default:
            // TiKV answers UNKNOWN for internal failures, and BR does not retry them.
            return .remote(storeID: store, message: "\(method): \(rpc.code): \(rpc.message)", retryable: false)
        }
    }

    /// The state a failed call shows the store to be in.
    static func state(of error: any Error) -> StoreState {
        guard let rpc = error as? RPCError else { return .up }
        if let reason = panicReason(rpc) { return .panicked(reason: reason) }
        return rpc.code == .unavailable ? .down : .up
    }

    static func panicReason(_ error: RPCError) -> String? {
        guard error.code == .unavailable else { return nil }
        return error.metadata[stringValues: panicMetadataKey].first(where: { _ in true })
    }

    /// A short reason for messages: the status and its text, without the transport's detail.
    static func reason(_ error: any Error) -> String {
        guard let rpc = error as? RPCError else { return "\(error)" }
        switch rpc.code {
        case .unavailable: return "unavailable (\(rpc.message))"
        case .deadlineExceeded: return "no answer in time"
        default: return "\(rpc.code): \(rpc.message)"
        }
    }
}
