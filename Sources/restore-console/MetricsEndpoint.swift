import ArgumentParser
import Foundation
import Metrics
import NIOCore
import NIOHTTP1
import NIOPosix
import Prometheus
import KVWire

/// `--metrics-addr HOST:PORT`: everything recorded through swift-metrics, in Prometheus's text
/// format at `/metrics`, on SwiftNIO's HTTP/1 server.
final class MetricsEndpoint: Sendable {
    let address: String
    private let channel: any Channel

    private init(address: String, channel: any Channel) {
        self.address = address
        self.channel = channel
    }

    /// Bootstraps swift-metrics with a Prometheus registry (once per process) and serves it.
    static func start(_ address: String) async throws -> MetricsEndpoint {
        let parsed: WireAddress
        do { parsed = try WireAddress(parsing: address) } catch { throw StartFailure("--metrics-addr: \(error)") }
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        // From 1 ms, doubling, to about 17 minutes: TiKV's importer buckets, started lower.
        factory.defaultDurationHistogramBuckets = (0..<21).map { .milliseconds(1 << $0) }
        factory.valueHistogramBuckets["tikv_import_download_bytes"] = (0..<14).map { 1024 * pow(4, Double($0)) / 4 }
        MetricsSystem.bootstrap(factory)
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(MetricsHandler(registry: registry))
                }
            }
        do {
            let channel = try await bootstrap.bind(host: parsed.host, port: parsed.port).get()
            let bound = channel.localAddress?.port.map { WireAddress(host: parsed.host, port: $0).description } ?? parsed.description
            return MetricsEndpoint(address: bound, channel: channel)
        } catch {
            throw StartFailure("--metrics-addr \(address): cannot listen: \(error)")
        }
    }

    func stop() async { try? await channel.close() }
}

/// Answers `GET /metrics` with the registry's text, anything else with 404, and closes.
private final class MetricsHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let registry: PrometheusCollectorRegistry
    private var path = ""

    init(registry: PrometheusCollectorRegistry) { self.registry = registry }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case let .head(head): path = head.uri.split(separator: "?").first.map(String.init) ?? head.uri
        case .body: break
        case .end:
            let found = path == "/metrics"
            let body = found ? registry.emitToBuffer() : Array("not found: try /metrics\n".utf8)
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: found ? "text/plain; version=0.0.4; charset=utf-8" : "text/plain")
            headers.add(name: "Content-Length", value: String(body.count))
            headers.add(name: "Connection", value: "close")
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: found ? .ok : .notFound, headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil)
            // Closed once the response is out; the callback runs on the channel's event loop.
            context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        }
    }
}

/// `--metrics-addr` and `--metrics-linger`, shared by the commands that serve metrics.
struct MetricsOptions: ParsableArguments {
    @Option(name: .customLong("metrics-addr"), help: "Serve Prometheus metrics at http://HOST:PORT/metrics.")
    var address: String?

    @Option(name: .customLong("metrics-linger"), help: "restore and demo: seconds to keep serving metrics after the restore ends, for a last scrape.")
    var linger = 0

    /// Starts the endpoint when asked for, and says where it is.
    func start() async throws -> MetricsEndpoint? {
        guard let address else { return nil }
        let endpoint = try await MetricsEndpoint.start(address)
        FileHandle.standardError.write(Data("metrics: http://\(endpoint.address)/metrics\n".utf8))
        return endpoint
    }

    /// After a restore: serves for `linger` seconds more, then stops.
    func finish(_ endpoint: MetricsEndpoint?) async {
        guard let endpoint else { return }
        if linger > 0 { try? await Task.sleep(for: .seconds(linger)) }
        await endpoint.stop()
    }
}
