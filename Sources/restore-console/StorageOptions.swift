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

    @Option(name: .customLong("storage.ca"), help: "A PEM CA bundle to trust for the backup storage's HTTPS and S3 endpoints (the cluster's CA is --ca).")
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

/// BR's crypter flags (tidb br/pkg/task/common.go), for a backup it encrypted. The key is never
/// printed, logged or written: errors name the method and lengths only.
struct CrypterOptions: ParsableArguments {
    @Option(name: .customLong("crypter.method"), help: "How the backup is encrypted, as BR's flag: plaintext, aes128-ctr, aes192-ctr or aes256-ctr.")
    var method = "plaintext"

    @Option(name: .customLong("crypter.key"), help: "The key, in hex (a command line is visible to other users: prefer --crypter.key-file).")
    var key: String?

    @Option(name: .customLong("crypter.key-file"), help: "A file that holds the key, in hex.")
    var keyFile: String?

    /// The cipher the flags name; nil for plaintext.
    func cipher() throws -> BackupCipher? {
        do { return try BackupCipher.parse(method: method, key: key, keyFile: keyFile) } catch { throw ValidationError(error.description) }
    }
}
