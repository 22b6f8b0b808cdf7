import GRPCCore
import GRPCProtobuf
import SwiftProtobuf

extension RPCRouter {
    /// Registers a unary protobuf method. Methods never registered answer UNIMPLEMENTED, as a
    /// TiKV or PD that lacks them would.
    public mutating func unary<Request: SwiftProtobuf.Message, Response: SwiftProtobuf.Message>(
        _ method: MethodDescriptor, _ body: @Sendable @escaping (Request) async throws -> Response
    ) {
        registerHandler(forMethod: method, deserializer: ProtobufDeserializer<Request>(), serializer: ProtobufSerializer<Response>()) { request, _ in
            let single = try await ServerRequest(stream: request)
            return StreamingServerResponse(single: ServerResponse(message: try await body(single.message)))
        }
    }
}
