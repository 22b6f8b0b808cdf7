import Foundation
import CCrypto
import KeyCodec

/// Incremental SHA-256 over OpenSSL's EVP interface. One instance belongs to one task.
public final class SHA256Digest {
    private let context: OpaquePointer

    public init() {
        context = EVP_MD_CTX_new()
        EVP_DigestInit_ex(context, EVP_sha256(), nil)
    }

    deinit { EVP_MD_CTX_free(context) }

    public func update(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        EVP_DigestUpdate(context, bytes.baseAddress, bytes.count)
    }

    public func update(_ bytes: [UInt8]) { bytes.withUnsafeBytes { update($0) } }

    /// The 32-byte digest; the instance is spent afterwards.
    public func finish() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        EVP_DigestFinal_ex(context, &out, &length)
        return out
    }

    /// The digest of the file at `path`, or nil when it cannot be read.
    public static func hash(fileAt path: String) -> [UInt8]? {
        guard let input = fopen(path, "rb") else { return nil }
        defer { fclose(input) }
        let digest = SHA256Digest()
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buffer.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, input) }
            guard n > 0 else { break }
            buffer.withUnsafeBytes { digest.update(UnsafeRawBufferPointer(rebasing: $0[..<n])) }
        }
        return ferror(input) == 0 ? digest.finish() : nil
    }

    public static func hash(_ bytes: [UInt8]) -> [UInt8] {
        let digest = SHA256Digest()
        digest.update(bytes)
        return digest.finish()
    }
}
