import Foundation
import GRPCNIOTransportHTTP2

/// Mutual TLS as TiKV clusters use it: a CA that signs every component, and this side's own
/// certificate and key. Verification is always on: a client checks the server's chain and that
/// its certificate names the address dialled, a server checks the client's chain (TiKV checks no
/// client name unless `cert-allowed-cn` is set). Without all three files the wire is plaintext.
public struct WireSecurity: Sendable, Equatable {
    public var caPath: String
    public var certificatePath: String
    public var keyPath: String

    /// nil when none of the three is given; an error names what is missing or unreadable.
    public init?(ca: String?, cert: String?, key: String?) throws(WireError) {
        if ca == nil && cert == nil && key == nil { return nil }
        guard let ca, let cert, let key else { throw .usage("TLS needs all of --ca, --cert and --key") }
        for (flag, path) in [("--ca", ca), ("--cert", cert), ("--key", key)] where !FileManager.default.isReadableFile(atPath: path) {
            throw .usage("\(flag) \(path): no such readable file")
        }
        caPath = ca
        certificatePath = cert
        keyPath = key
    }

    var trustRoots: TLSConfig.TrustRootsSource { .certificates([.file(path: caPath, format: .pem)]) }
    var chain: [TLSConfig.CertificateSource] { [.file(path: certificatePath, format: .pem)] }
    var key: TLSConfig.PrivateKeySource { .file(path: keyPath, format: .pem) }

    public static func client(_ security: WireSecurity?) -> HTTP2ClientTransport.Posix.TransportSecurity {
        guard let security else { return .plaintext }
        return .mTLS(certificateChain: security.chain, privateKey: security.key) { config in
            config.trustRoots = security.trustRoots
            // The chain and the name: a certificate of the same CA for another host (or a client
            // certificate) must not pass for PD or a store. For an IP literal the IP SANs are
            // matched against the address dialled (swift-nio-ssl's validIdentityForService).
            config.serverCertificateVerification = .fullVerification
        }
    }

    public static func server(_ security: WireSecurity?) -> HTTP2ServerTransport.Posix.TransportSecurity {
        guard let security else { return .plaintext }
        return .mTLS(certificateChain: security.chain, privateKey: security.key) { config in
            config.trustRoots = security.trustRoots
            config.clientCertificateVerification = .noHostnameVerification
        }
    }
}

/// A `HOST:PORT` address, as PD and TiKV write them.
public struct WireAddress: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// `HOST:PORT`, `http(s)://HOST:PORT` (PD's client URLs) or `[v6]:PORT`.
    public init(parsing text: String) throws(WireError) {
        var rest = Substring(text)
        for scheme in ["http://", "https://"] where rest.hasPrefix(scheme) { rest = rest.dropFirst(scheme.count) }
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        guard let colon = rest.lastIndex(of: ":"), let port = Int(rest[rest.index(after: colon)...]), (0...65535).contains(port) else {
            throw .usage("'\(text)' is not an address HOST:PORT")
        }
        var host = String(rest[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { throw .usage("'\(text)' has no host") }
        self.init(host: host, port: port)
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// True for `localhost` and the loopback addresses (127.0.0.0/8, ::1): traffic that never
    /// leaves this machine.
    public static func isLoopback(_ host: String) -> Bool {
        if host == "localhost" || host == "::1" { return true }
        var v4 = in_addr()
        return inet_pton(AF_INET, host, &v4) == 1 && UInt32(bigEndian: v4.s_addr) >> 24 == 127
    }
}

/// What goes wrong on the wire before a restore can start.
public enum WireError: Error, Equatable, Sendable, CustomStringConvertible {
    case usage(String)
    case unreachable(what: String, address: String, reason: String)
    case protocolError(what: String, reason: String)

    public var description: String {
        switch self {
        case let .usage(message): message
        case let .unreachable(what, address, reason): "cannot reach \(what) at \(address): \(reason)"
        case let .protocolError(what, reason): "\(what): \(reason)"
        }
    }
}
