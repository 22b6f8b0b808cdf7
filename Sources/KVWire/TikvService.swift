import GRPCCore
import GRPCProtobuf
import KVProto

/// `tikvpb.Tikv/SplitRegion`, the one method of TiKV's KV service that a restore calls. tikvpb.proto
/// pulls in most of TiKV's API, so this names the method by hand with kvrpcpb's messages.
public enum TikvService {
    public static let splitRegion = MethodDescriptor(fullyQualifiedService: "tikvpb.Tikv", method: "SplitRegion")

    public static func splitRegion<Transport: ClientTransport>(
        _ request: Kvrpcpb_SplitRegionRequest, on client: GRPCClient<Transport>, options: CallOptions
    ) async throws -> Kvrpcpb_SplitRegionResponse {
        try await client.unary(
            request: ClientRequest(message: request), descriptor: splitRegion,
            serializer: ProtobufSerializer<Kvrpcpb_SplitRegionRequest>(), deserializer: ProtobufDeserializer<Kvrpcpb_SplitRegionResponse>(),
            options: options) { try $0.message }
    }
}
