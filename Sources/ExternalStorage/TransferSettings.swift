import KeyCodec

/// How transfers to HTTP(S) and S3 behave: TLS, timeouts and the resume budget.
public struct TransferSettings: Sendable, Equatable {
    /// An extra CA bundle (PEM) to trust, for servers with a private CA.
    public var caFile: String?
    /// This side's certificate and key, for servers that require mutual TLS (PD's HTTP API in a
    /// TLS cluster).
    public var clientIdentity: ClientIdentity?
    /// Turns TLS verification off. Only by explicit request; the UI shows it.
    public var insecureSkipTLSVerify = false
    public var connectTimeoutSeconds = 10
    /// A transfer slower than `lowSpeedBytesPerSecond` for `lowSpeedSeconds` is dropped and resumed.
    public var lowSpeedBytesPerSecond = 1024
    public var lowSpeedSeconds = 30
    /// How many times one download resumes after a dropped connection before giving up.
    public var resumeAttempts = 5
    /// First backoff between resumes; it doubles, with jitter, up to `maxBackoffSeconds`.
    public var initialBackoffSeconds = 0.2
    public var maxBackoffSeconds = 4.0

    public init() {}
}

/// A client certificate and its key, PEM files.
public struct ClientIdentity: Sendable, Equatable {
    public var certificatePath: String
    public var keyPath: String

    public init(certificatePath: String, keyPath: String) {
        self.certificatePath = certificatePath
        self.keyPath = keyPath
    }
}

/// S3 credentials. `description` never shows them.
public struct S3Credentials: Sendable, Equatable, CustomStringConvertible {
    public var accessKey: String
    public var secretKey: String
    public var sessionToken: String?

    public init(accessKey: String, secretKey: String, sessionToken: String? = nil) {
        self.accessKey = accessKey
        self.secretKey = secretKey
        self.sessionToken = sessionToken
    }

    /// From AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN.
    public static func fromEnvironment(_ env: [String: String]) -> S3Credentials? {
        guard let key = env["AWS_ACCESS_KEY_ID"], !key.isEmpty, let secret = env["AWS_SECRET_ACCESS_KEY"], !secret.isEmpty else {
            return nil
        }
        return S3Credentials(accessKey: key, secretKey: secret, sessionToken: env["AWS_SESSION_TOKEN"].flatMap { $0.isEmpty ? nil : $0 })
    }

    public var description: String { "S3Credentials(***)" }
}
