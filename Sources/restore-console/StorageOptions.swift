import ArgumentParser
import Foundation
import KeyCodec
import ExternalStorage

/// Options shared by every command that reaches external storage.
struct StorageOptions: ParsableArguments {
    @Option(name: .customLong("s3-access-key"), help: "S3 access key (default: $AWS_ACCESS_KEY_ID). Never printed.")
    var accessKey: String?

    @Option(name: .customLong("s3-secret-key"), help: "S3 secret key (default: $AWS_SECRET_ACCESS_KEY). Never printed.")
    var secretKey: String?

    @Option(name: .customLong("s3-session-token"), help: "S3 session token (default: $AWS_SESSION_TOKEN). Never printed.")
    var sessionToken: String?

    @Option(name: .customLong("ca-file"), help: "A PEM CA bundle to trust for HTTPS and S3 endpoints.")
    var caFile: String?

    @Flag(name: .customLong("insecure-skip-tls-verify"), help: "Do not verify TLS certificates (unsafe; shown in the UI).")
    var insecureSkipTLSVerify = false

    var credentials: S3Credentials? {
        let env = ProcessInfo.processInfo.environment
        if let accessKey, let secretKey {
            return S3Credentials(accessKey: accessKey, secretKey: secretKey, sessionToken: sessionToken ?? env["AWS_SESSION_TOKEN"])
        }
        return S3Credentials.fromEnvironment(env)
    }

    var settings: TransferSettings {
        var s = TransferSettings()
        s.caFile = caFile
        s.insecureSkipTLSVerify = insecureSkipTLSVerify
        return s
    }

    func open(_ url: String) throws -> any ExternalStorage {
        do {
            return try StorageFactory.open(url, credentials: credentials, settings: settings)
        } catch {
            throw StartFailure(error.description)
        }
    }
}
