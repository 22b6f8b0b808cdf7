import GRPCCore
import GRPCProtobuf
import KVProto

/// The two methods of TiKV's KV service (`tikvpb.Tikv`) that a restore calls: SplitRegion, and
/// Coprocessor for the checksum. tikvpb.proto pulls in most of TiKV's API, so this names the methods
/// by hand with kvrpcpb's and coprocessor's messages.
public enum TikvService {
    public static let splitRegion = MethodDescriptor(fullyQualifiedService: "tikvpb.Tikv", method: "SplitRegion")
    public static let coprocessor = MethodDescriptor(fullyQualifiedService: "tikvpb.Tikv", method: "Coprocessor")
    /// `coprocessor.Request.tp` of a checksum, `REQ_TYPE_CHECKSUM` (tikv src/coprocessor/mod.rs).
    public static let checksumRequestType: Int64 = 105

    public static func splitRegion<Transport: ClientTransport>(
        _ request: Kvrpcpb_SplitRegionRequest, on client: GRPCClient<Transport>, options: CallOptions
    ) async throws -> Kvrpcpb_SplitRegionResponse {
        try await client.unary(
            request: ClientRequest(message: request), descriptor: splitRegion,
            serializer: ProtobufSerializer<Kvrpcpb_SplitRegionRequest>(), deserializer: ProtobufDeserializer<Kvrpcpb_SplitRegionResponse>(),
            options: options) { try $0.message }
    }

    public static func coprocessor<Transport: ClientTransport>(
        _ request: Coprocessor_Request, on client: GRPCClient<Transport>, options: CallOptions
    ) async throws -> Coprocessor_Response {
        try await client.unary(
            request: ClientRequest(message: request), descriptor: coprocessor,
            serializer: ProtobufSerializer<Coprocessor_Request>(), deserializer: ProtobufDeserializer<Coprocessor_Response>(),
            options: options) { try $0.message }
    }
}
