import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import KVWire

/// PD's client port answers gRPC and the HTTP API on one address, as PD does (it splits them by
/// protocol: tikv/pd server/server.go, `cmux`). This listener reads the first bytes of each
/// connection, after TLS: HTTP/2's preface goes to the member's gRPC server, relayed byte for
/// byte to its loopback listener; anything else is HTTP/1.1 for PD's HTTP API (`ServedSchedule`).
final class PDPortMux: Sendable {
    let address: WireAddress
    private let channel: any Channel

    private init(address: WireAddress, channel: any Channel) {
        self.address = address
        self.channel = channel
    }

    /// Listens on `address` (port 0 picks one) and relays gRPC to `grpc`.
    static func start(on address: WireAddress, grpc: WireAddress, security: WireSecurity?, api: ServedSchedule) async throws -> PDPortMux {
        let tls = try security.map { security in
            var config = TLSConfiguration.makeServerConfiguration(
                certificateChain: try NIOSSLCertificate.fromPEMFile(security.certificatePath).map { .certificate($0) },
                privateKey: .privateKey(try NIOSSLPrivateKey(file: security.keyPath, format: .pem)))
            config.trustRoots = .file(security.caPath)
            config.certificateVerification = .noHostnameVerification
            // By this side's preference: gRPC clients offer grpc-exp (grpc-swift) or h2 alone (Go's
            // gRPC); HTTP clients such as curl offer h2 and http/1.1, and get HTTP/1.1.
            config.applicationProtocols = ["grpc-exp", "http/1.1", "h2"]
            return try NIOSSLContext(configuration: config)
        }
        let target = try SocketAddress(ipAddress: grpc.host, port: grpc.port)
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls { try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls)) }
                    try channel.pipeline.syncOperations.addHandler(ProtocolSniffer(grpc: target, api: api))
                }
            }
        let channel = try await bootstrap.bind(host: address.host, port: address.port).get()
        let port = channel.localAddress?.port ?? address.port
        return PDPortMux(address: WireAddress(host: address.host, port: port), channel: channel)
    }

    func stop() {
        channel.close(promise: nil)
    }
}

/// Reads a connection's first three bytes and hands it over: `PRI` (HTTP/2's preface) to a relay
/// to the gRPC server, anything else to the HTTP/1.1 pipeline.
private final class ProtocolSniffer: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let grpc: SocketAddress
    private let api: ServedSchedule
    private var received: ByteBuffer?
    private var decided = false

    init(grpc: SocketAddress, api: ServedSchedule) {
        self.grpc = grpc
        self.api = api
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        if received == nil { received = incoming } else { received!.writeBuffer(&incoming) }
        guard !decided, let bytes = received, bytes.readableBytes >= 3 else { return }
        decided = true
        if bytes.readableBytesView.starts(with: "PRI".utf8) { relay(context) } else { serveHTTP(context) }
    }

    private func serveHTTP(_ context: ChannelHandlerContext) {
        do {
            try context.pipeline.syncOperations.configureHTTPServerPipeline(withPipeliningAssistance: false)
            try context.pipeline.syncOperations.addHandler(PDHTTPHandler(api: api))
        } catch {
            context.close(promise: nil)
            return
        }
        if let received { context.fireChannelRead(wrapInboundOut(received)) }
        received = nil
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    /// Connects to the gRPC server on this connection's event loop, then relays both ways; what
    /// arrived meanwhile goes first.
    private func relay(_ context: ChannelHandlerContext) {
        let local = context.channel
        ClientBootstrap(group: context.eventLoop)
            .channelInitializer { peer in peer.eventLoop.makeCompletedFuture { try peer.pipeline.syncOperations.addHandler(RelayHandler()) } }
            .connect(to: grpc)
            .assumeIsolated()
            .whenComplete { result in
                guard case let .success(peer) = result,
                      let theirs = try? peer.pipeline.syncOperations.handler(type: RelayHandler.self)
                else {
                    local.close(promise: nil)
                    return
                }
                let mine = RelayHandler()
                mine.partner = theirs
                theirs.partner = mine
                do { try context.pipeline.syncOperations.addHandler(mine) } catch {
                    peer.close(promise: nil)
                    local.close(promise: nil)
                    return
                }
                if let received = self.received { peer.writeAndFlush(received, promise: nil) }
                self.received = nil
                context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
                theirs.readIfPending()
                mine.readIfPending()
            }
    }
}

/// One end of a relay between two channels of one event loop: what one reads the other writes,
/// and a side reads only while the other can write (so a slow side holds the fast one back).
private final class RelayHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    typealias OutboundIn = NIOAny
    typealias OutboundOut = NIOAny

    var partner: RelayHandler?
    private var context: ChannelHandlerContext?
    private var pendingRead = false

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        partner = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        partner?.context?.write(data, promise: nil)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        partner?.context?.flush()
    }

    func channelInactive(context: ChannelHandlerContext) {
        partner?.context?.close(promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { partner?.readIfPending() }
        context.fireChannelWritabilityChanged()
    }

    func read(context: ChannelHandlerContext) {
        if let other = partner?.context, other.channel.isWritable { context.read() } else { pendingRead = true }
    }

    func readIfPending() {
        guard pendingRead, let context else { return }
        pendingRead = false
        context.read()
    }
}

/// Answers one HTTP/1.1 request from `ServedSchedule`, then closes the connection.
private final class PDHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let api: ServedSchedule
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []

    init(api: ServedSchedule) { self.api = api }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case let .head(request):
            head = request
            body = []
        case var .body(chunk):
            // PD's requests are small; a body past 1 MiB is cut and then refused as malformed.
            if body.count < 1 << 20, let bytes = chunk.readBytes(length: min(chunk.readableBytes, (1 << 20) - body.count)) { body += bytes }
        case .end:
            guard let head else { return }
            let (path, query) = PDRequestURI.split(head.uri)
            let answer = api.answer(method: head.method.rawValue, path: path, query: query, body: body)
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: "application/json; charset=UTF-8")
            headers.add(name: "Content-Length", value: String(answer.json.count))
            headers.add(name: "Connection", value: "close")
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .init(statusCode: answer.status), headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: answer.json)))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        }
    }
}

/// A request URI as PD's HTTP API reads it.
enum PDRequestURI {
    /// The path and the query's parameters (percent-decoded).
    static func split(_ uri: String) -> (String, [String: String]) {
        let parts = uri.split(separator: "?", maxSplits: 1)
        var query: [String: String] = [:]
        for pair in parts.dropFirst().first?.split(separator: "&") ?? [] {
            // Empty pieces kept: `=` alone would otherwise split into nothing.
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map { String($0).removingPercentEncoding ?? String($0) }
            query[kv[0]] = kv.count > 1 ? kv[1] : ""
        }
        return (parts.first.map(String.init) ?? "/", query)
    }
}
