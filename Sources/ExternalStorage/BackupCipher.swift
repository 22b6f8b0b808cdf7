import CCrypto
import Foundation
import KeyCodec

/// How a BR backup is encrypted: AES in counter mode with a 128, 192 or 256-bit key, as BR's
/// `--crypter.method` names it (tidb br/pkg/task/common.go `parseCipherType`) and kvproto's
/// `encryptionpb.EncryptionMethod` numbers it. `description` never shows the key.
public struct BackupCipher: Sendable, Equatable, CustomStringConvertible {
    public enum Method: Int, Sendable, CaseIterable {
        case aes128CTR = 2
        case aes192CTR = 3
        case aes256CTR = 4

        /// BR's names, in lower or upper case as BR takes them.
        public init?(name: String) {
            switch name {
            case "aes128-ctr", "AES128-CTR": self = .aes128CTR
            case "aes192-ctr", "AES192-CTR": self = .aes192CTR
            case "aes256-ctr", "AES256-CTR": self = .aes256CTR
            default: return nil
            }
        }

        public var name: String {
            switch self {
            case .aes128CTR: "aes128-ctr"
            case .aes192CTR: "aes192-ctr"
            case .aes256CTR: "aes256-ctr"
            }
        }

        public var keyLength: Int {
            switch self {
            case .aes128CTR: 16
            case .aes192CTR: 24
            case .aes256CTR: 32
            }
        }

        var evp: OpaquePointer? {
            switch self {
            case .aes128CTR: EVP_aes_128_ctr()
            case .aes192CTR: EVP_aes_192_ctr()
            case .aes256CTR: EVP_aes_256_ctr()
            }
        }
    }

    public let method: Method
    public let key: [UInt8]

    public struct KeyError: Error, CustomStringConvertible {
        public let description: String

        public init(description: String) { self.description = description }
    }

    /// A key of the method's length, or an error that says the lengths (never the key).
    public init(method: Method, key: [UInt8]) throws(KeyError) {
        guard key.count == method.keyLength else {
            throw KeyError(description: "\(method.name) needs a key of \(method.keyLength) bytes (\(method.keyLength * 2) hex digits), got \(key.count) bytes")
        }
        self.method = method
        self.key = key
    }

    public var description: String { "\(method.name) (key not shown)" }

    /// The length of the initial counter block BR and TiKV write beside each object.
    public static let ivLength = 16

    /// A fresh random iv, from OpenSSL's generator as TiKV's `Iv::new_ctr`.
    public static func randomIV() -> [UInt8] {
        var iv = [UInt8](repeating: 0, count: ivLength)
        _ = RAND_bytes(&iv, Int32(ivLength))
        return iv
    }

    /// A stream that en- or decrypts consecutive chunks (counter mode is its own inverse). The iv
    /// is the whole first counter block, which goes up as one 128-bit big-endian number, as in
    /// OpenSSL, Go's crypto/cipher and TiKV's `Iv::add_offset`.
    public func stream(iv: [UInt8]) -> CTRStream { CTRStream(cipher: self, iv: iv) }

    /// `data` en- or decrypted whole.
    public func apply(_ data: [UInt8], iv: [UInt8]) -> [UInt8] {
        stream(iv: iv).update(data)
    }

    /// En- or decrypts the file at `path` in place, a chunk at a time.
    public func applyInPlace(path: String, iv: [UInt8]) throws(StorageError) {
        let fd = open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { throw .localIO(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        let stream = stream(iv: iv)
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var offset: off_t = 0
        while true {
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, offset) }
            guard n >= 0 else { throw .localIO(path: path, reason: String(cString: strerror(errno))) }
            if n == 0 { return }
            buffer.withUnsafeMutableBytes { bytes in
                let chunk = UnsafeMutableRawBufferPointer(rebasing: bytes[..<n])
                stream.update(UnsafeRawBufferPointer(chunk), into: chunk)
            }
            let written = buffer.withUnsafeBytes { pwrite(fd, $0.baseAddress, n, offset) }
            guard written == n else { throw .localIO(path: path, reason: written < 0 ? String(cString: strerror(errno)) : "short write") }
            offset += off_t(n)
        }
    }

    /// BR's `--crypter.method` and `--crypter.key` (hex) or `--crypter.key-file` (hex, one
    /// trailing newline dropped): nil for `plaintext`; an error names what is wrong, never the key
    /// (tidb br/pkg/task/common.go `parseCipherInfo`, `GetCipherKeyContent`, `checkCipherKeyMatch`).
    public static func parse(method name: String, key: String?, keyFile: String?) throws(KeyError) -> BackupCipher? {
        if name == "plaintext" || name == "PLAINTEXT" { return nil }
        guard let method = Method(name: name) else {
            throw KeyError(description: "--crypter.method \(name): not one of plaintext, aes128-ctr, aes192-ctr, aes256-ctr")
        }
        let text: String
        switch (key, keyFile) {
        case let (key?, nil): text = key
        case let (nil, file?):
            guard let data = FileManager.default.contents(atPath: file) else { throw KeyError(description: "--crypter.key-file \(file): cannot read it") }
            var content = String(decoding: data, as: UTF8.self)
            if content.hasSuffix("\n") { content.removeLast() }
            text = content
        default: throw KeyError(description: "\(method.name) needs exactly one of --crypter.key and --crypter.key-file")
        }
        guard let bytes = [UInt8](hex: text) else { throw KeyError(description: "the \(method.name) key must be hexadecimal") }
        return try BackupCipher(method: method, key: bytes)
    }
}

/// One pass of AES-CTR over consecutive chunks. Not shared between threads.
public final class CTRStream {
    private let context: OpaquePointer

    init(cipher: BackupCipher, iv: [UInt8]) {
        precondition(iv.count == BackupCipher.ivLength, "an AES-CTR iv is 16 bytes")
        context = EVP_CIPHER_CTX_new()
        _ = cipher.key.withUnsafeBufferPointer { key in
            iv.withUnsafeBufferPointer { iv in EVP_EncryptInit_ex(context, cipher.method.evp, nil, key.baseAddress, iv.baseAddress) }
        }
    }

    deinit { EVP_CIPHER_CTX_free(context) }

    public func update(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) {
        precondition(output.count >= input.count)
        guard input.count > 0 else { return }
        var written: Int32 = 0
        var offset = 0
        // EVP takes an Int32 length: long inputs go in slices.
        while offset < input.count {
            let n = min(input.count - offset, 1 << 30)
            EVP_EncryptUpdate(context, output.baseAddress!.advanced(by: offset).assumingMemoryBound(to: UInt8.self), &written,
                              input.baseAddress!.advanced(by: offset).assumingMemoryBound(to: UInt8.self), Int32(n))
            offset += n
        }
    }

    public func update(_ input: [UInt8]) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: input.count)
        input.withUnsafeBytes { i in output.withUnsafeMutableBytes { o in update(i, into: o) } }
        return output
    }
}
