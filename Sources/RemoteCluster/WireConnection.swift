import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import KVWire

/// One gRPC channel to a PD or a store. Calls fail at once when the peer cannot be reached
/// (no waiting for it to come up), so a down store is seen as down.
final class WireConnection: Sendable {
    let address: WireAddress
    let client: GRPCClient<HTTP2ClientTransport.Posix>
    private let runner: Task<Void, Never>

    init(_ address: WireAddress, security: WireSecurity?) throws(WireError) {
        self.address = address
        let config = HTTP2ClientTransport.Posix.Config.defaults { config in
            config.backoff.initial = .milliseconds(100)
            config.backoff.max = .seconds(2)
        }
        let transport: HTTP2ClientTransport.Posix
        do {
            transport = try HTTP2ClientTransport.Posix(target: Self.target(address), transportSecurity: WireSecurity.client(security), config: config)
        } catch {
            throw .unreachable(what: "the gRPC transport", address: address.description, reason: "\(error)")
        }
        let client = GRPCClient(transport: transport)
        self.client = client
        runner = Task { try? await client.runConnections() }
    }

    /// An IP literal is its own target: TLS sends no SNI for it (an IP address is no valid SNI).
    static func target(_ address: WireAddress) -> any ResolvableTarget {
        var v4 = in_addr(), v6 = in6_addr()
        if inet_pton(AF_INET, address.host, &v4) == 1 { return .ipv4(address: address.host, port: address.port) }
        if inet_pton(AF_INET6, address.host, &v6) == 1 { return .ipv6(address: address.host, port: address.port) }
        return .dns(host: address.host, port: address.port)
    }

    /// Call options with a deadline, a cap on replies, and no waiting for a connection.
    static func options(timeout: Duration) -> CallOptions {
        var options = CallOptions.defaults
        options.timeout = timeout
        options.waitForReady = false
        options.maxResponseMessageBytes = 64 << 20
        // grpc-swift-nio-transport 2.9 bounds the messages a call receives by this one (its
        // client stream handler's maxPayloadSize), not by maxResponseMessageBytes.
        options.maxRequestMessageBytes = 64 << 20
        return options
    }

    func close() async {
        client.beginGracefulShutdown()
        await runner.value
    }
}
