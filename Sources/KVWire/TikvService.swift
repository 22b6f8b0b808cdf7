import GRPCCore
import GRPCProtobuf
import SwiftProtobuf
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
        try await call(splitRegion, request, on: client, options: options)
    }

    public static func coprocessor<Transport: ClientTransport>(
        _ request: Coprocessor_Request, on client: GRPCClient<Transport>, options: CallOptions
    ) async throws -> Coprocessor_Response {
        try await call(coprocessor, request, on: client, options: options)
    }

    private static func call<Transport: ClientTransport, Request: SwiftProtobuf.Message, Response: SwiftProtobuf.Message>(
        _ method: MethodDescriptor, _ request: Request, on client: GRPCClient<Transport>, options: CallOptions
    ) async throws -> Response {
        try await client.unary(
            request: ClientRequest(message: request), descriptor: method,
            serializer: ProtobufSerializer<Request>(), deserializer: ProtobufDeserializer<Response>(),
            options: options) { try $0.message }
    }
}
