import Foundation
import Testing
@testable import TestSupport
@testable import KeyCodec
@testable import ExternalStorage
@testable import BackupFormat
import LoopbackServer

/// Backups that BR encrypted (`--crypter.method`, `--crypter.key`): the producer writes them as BR
/// and TiKV do (each SST encrypted with an iv of its own and its sha256 over the ciphertext; the
/// meta files and the backupmeta encrypted by BR), and a restore decrypts them on the stores.
@Suite(.serialized) struct EncryptionTests {
    static let key = "0123456789abcdef00112233445566778899aabbccddeeff0f1e2d3c4b5a6978"

    /// A 2-table backup encrypted with `key`, and a file that holds the key.
    func makeBackup(_ dir: TemporaryDirectory, metaVersion: Int = 2) throws -> (backup: String, keyFile: String) {
        var o = BackupProducer.Options()
        o.tables = 2
        o.rows = 3_000
        o.fileSize = 128 << 10
        o.metaVersion = metaVersion
        o.cipher = try BackupCipher(method: .aes256CTR, key: [UInt8](hex: Self.key)!)
        try BackupProducer(storage: LocalStorage(root: dir.file("backup")), options: o).produce()
        try Data((Self.key + "\n").utf8).write(to: URL(fileURLWithPath: dir.file("key")))
        return (dir.file("backup"), dir.file("key"))
    }

    /// What is stored is ciphertext: no SST and no backupmeta can be read without the key.
    @Test func whatTheProducerStoresIsCiphertext() throws {
        let dir = try TemporaryDirectory()
        let (backup, _) = try makeBackup(dir)
        let ssts = try FileManager.default.contentsOfDirectory(atPath: backup).filter { $0.hasSuffix(".sst") }
        #expect(ssts.count > 4)
        for name in ssts { #expect((try? SSTReader(path: "\(backup)/\(name)")) == nil, "\(name) opens as an SST") }
        #expect(throws: BackupError.self) { try BackupReader(storage: LocalStorage(root: backup)).read() }
        let cipher = try BackupCipher(method: .aes256CTR, key: [UInt8](hex: Self.key)!)
        let read = try BackupReader(storage: LocalStorage(root: backup), cipher: cipher).read()
        #expect(read.files.count == ssts.count && read.files.allSatisfy { $0.cipherIV.count == 16 })
        // Counter mode with the iv as the first block, as OpenSSL and Go's crypto/cipher have it:
        // NIST SP 800-38A F.5.5, AES-256 CTR, first block.
        let nist = try BackupCipher(method: .aes256CTR, key: [UInt8](hex: "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4")!)
        let out = nist.apply([UInt8](hex: "6bc1bee22e409f96e93d7e117393172a")!, iv: [UInt8](hex: "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff")!)
        #expect(out.hexString == "601ec313775789a5b7a7f504bbf3d228")
    }

    /// Restored in process (both backupmeta versions) and over gRPC into `cluster serve`, with
    /// the key from a file: the checksum matches, on every replica.
    @Test(arguments: [1, 2]) func anEncryptedBackupRestoresInProcess(metaVersion: Int) throws {
        let dir = try TemporaryDirectory()
        let (backup, keyFile) = try makeBackup(dir, metaVersion: metaVersion)
        let out = try runConsole(["restore", "--headless", "--json", "--storage", backup, "--cluster", dir.file("cluster"), "--crypter.method", "aes256-ctr", "--crypter.key-file", keyFile])
        #expect(out.status == 0, "\(out.stderr)")
        #expect(out.stdout.contains("\"checksum_match\":true"), "\(out.stdout)")
    }

    @Test func anEncryptedBackupRestoresOverGRPC() throws {
        let dir = try TemporaryDirectory()
        let (backup, keyFile) = try makeBackup(dir)
        let served = try ServedCluster(directory: dir.file("cluster"), stderr: dir.file("serve.log"))
        let crypter = ["--crypter.method", "aes256-ctr", "--crypter.key-file", keyFile]
        let out = try runConsole(["restore", "--headless", "--storage", backup, "--pd", served.pd, "--state-dir", dir.file("state")] + wireTableIDs(2) + crypter)
        #expect(out.status == 0, "\(out.stderr)")
        #expect(served.stop() == 0)
        // The key went to the stores in every Download; neither side kept or said it.
        let serveLog = (try? String(contentsOfFile: dir.file("serve.log"), encoding: .utf8)) ?? ""
        _ = expectNoCredential(key: Self.key, secret: Self.key.uppercased(), in: [out.stdout, out.stderr, serveLog], filesUnder: [dir.file("cluster"), dir.file("state")])
        try FileManager.default.createDirectory(atPath: dir.file("cluster/checkpoints"), withIntermediateDirectories: true)
        for name in try FileManager.default.contentsOfDirectory(atPath: dir.file("state/checkpoints")) {
            try FileManager.default.copyItem(atPath: dir.file("state/checkpoints/\(name)"), toPath: dir.file("cluster/checkpoints/\(name)"))
        }
        let verify = try runConsole(["verify", "--storage", backup, "--cluster", dir.file("cluster")] + crypter)
        #expect(verify.status == 0 && verify.stdout.contains("checksum matched"), "\(verify.stdout)\(verify.stderr)")
    }

    /// An encrypted backup in S3 (the S3-compatible server on loopback), in process and over
    /// gRPC: the stores fetch the ciphertext with the credentials and decrypt it with the key.
    @Test func anEncryptedBackupInS3Restores() throws {
        let s3 = try TestServer(script: "s3_server.py", [])
        let (access, secret) = ("AKIAENCRYPTEDS3TEST", "encrypted-s3-secret-key")
        let cipher = try BackupCipher(method: .aes256CTR, key: [UInt8](hex: Self.key)!)
        let url = try makeS3Backup(port: s3.port, prefix: "encrypted", key: access, secret: secret, cipher: cipher)
        let dir = try TemporaryDirectory()
        let env = ["AWS_ACCESS_KEY_ID": access, "AWS_SECRET_ACCESS_KEY": secret]
        let crypter = ["--crypter.method", "aes256-ctr", "--crypter.key", Self.key]
        let local = try runConsole(["restore", "--headless", "--json", "--storage", url, "--cluster", dir.file("cluster")] + crypter, environment: env)
        #expect(local.status == 0 && local.stdout.contains("\"checksum_match\":true"), "\(local.stderr)")
        let served = try ServedCluster(directory: dir.file("served"), extra: ["--allow-endpoint", "http://127.0.0.1:\(s3.port)"])
        let wire = try runConsole(["restore", "--headless", "--storage", url, "--pd", served.pd, "--state-dir", dir.file("state")] + wireTableIDs(2) + crypter, environment: env)
        #expect(wire.status == 0, "\(wire.stderr)")
        #expect(served.stop() == 0)
    }

    /// A wrong key, a wrong method or no key: refused at start (exit 2) with what is wrong, and
    /// nothing written, for both backupmeta versions.
    @Test(arguments: [1, 2]) func aWrongOrMissingKeyIsRefusedAtStart(metaVersion: Int) throws {
        let dir = try TemporaryDirectory()
        let (backup, _) = try makeBackup(dir, metaVersion: metaVersion)
        let wrongKey = String(Self.key.reversed())
        let cases: [([String], String)] = [
            (["--crypter.method", "aes256-ctr", "--crypter.key", wrongKey], "does not decrypt with the aes256-ctr key given"),
            (["--crypter.method", "aes128-ctr", "--crypter.key", String(Self.key.prefix(32))], "does not decrypt with the aes128-ctr key given"),
            ([], "encrypted (then give --crypter.method and --crypter.key)"),
            (["--crypter.method", "aes256-ctr", "--crypter.key", String(Self.key.prefix(32))], "aes256-ctr needs a key of 32 bytes"),
        ]
        for (flags, message) in cases {
            let out = try runConsole(["restore", "--headless", "--storage", backup, "--cluster", dir.file("cluster")] + flags)
            #expect(out.status == 2, "\(flags): \(out.stderr)")
            #expect(out.stderr.contains(message), "\(flags): \(out.stderr)")
            #expect(!out.stderr.contains(wrongKey) && !out.stderr.contains(Self.key), "a key in the message")
            #expect(!FileManager.default.fileExists(atPath: dir.file("cluster")), "\(flags): nothing is written")
        }
    }

    /// The key given on the command line appears in no output, log, checkpoint or store file.
    @Test func theKeyAppearsNowhere() throws {
        let dir = try TemporaryDirectory()
        let (backup, _) = try makeBackup(dir)
        let flags = ["--crypter.method", "aes256-ctr", "--crypter.key", Self.key]
        let ok = try runConsole(["restore", "--headless", "--json", "--storage", backup, "--cluster", dir.file("cluster")] + flags)
        #expect(ok.status == 0, "\(ok.stderr)")
        let dry = try runConsole(["restore", "--dry-run", "--json", "--storage", backup, "--cluster", dir.file("cluster2")] + flags)
        #expect(dry.stdout.contains("encrypted (aes256-ctr)"), "\(dry.stdout)")
        let read = expectNoCredential(key: Self.key, secret: Self.key.uppercased(), in: [ok.stdout, ok.stderr, dry.stdout, dry.stderr], filesUnder: [dir.file("cluster")])
        #expect(read > 20)
    }
}
