import Foundation
import Testing
@testable import TestSupport
import SwiftProtobuf
@testable import KeyCodec
@testable import ExternalStorage
@testable import BackupFormat
@testable import KVProto
@testable import KVWire
import LoopbackServer

/// Input made to break things: backupmetas whose figures overflow any sum, and Downloads that no
/// restore sends, from a client built from kvproto's own protos. Each gets a clear refusal; neither
/// the restore nor `cluster serve` dies.
@Suite(.serialized) struct HostileInputTests {
    /// A v1 backup (its files inline in backupmeta), with `change` made to its backupmeta.
    func craftedBackup(_ dir: TemporaryDirectory, _ change: (inout Backup_BackupMeta) -> Void) throws -> String {
        var o = BackupProducer.Options()
        o.tables = 1
        o.rows = 500
        o.metaVersion = 1
        let path = dir.file("backup")
        _ = try BackupProducer(storage: LocalStorage(root: path), options: o).produce()
        let metaPath = path + "/backupmeta"
        var meta = try Backup_BackupMeta(serializedBytes: [UInt8](try Data(contentsOf: URL(fileURLWithPath: metaPath))))
        change(&meta)
        try Data(meta.serializedBytes() as [UInt8]).write(to: URL(fileURLWithPath: metaPath))
        return path
    }

    static let crafted: [(name: String, change: @Sendable (inout Backup_BackupMeta) -> Void, expected: String)] = [
        ("size 2^63", { $0.files[0].size = 1 << 63 }, "size 9223372036854775808 is above 2^48"),
        ("kvs and bytes 2^63 on two files", { meta in
            for i in 0..<2 {
                meta.files[i].totalKvs = 1 << 63
                meta.files[i].totalBytes = 1 << 63
            }
        }, "total_kvs 9223372036854775808 is above 2^48"),
        ("2^63-1 in all three", { meta in
            meta.files[0].size = UInt64(Int64.max)
            meta.files[0].totalKvs = UInt64(Int64.max)
            meta.files[0].totalBytes = UInt64(Int64.max)
        }, "size 9223372036854775807 is above 2^48"),
        ("sizes that sum past 2^56", { meta in
            for i in meta.files.indices { meta.files[i].size = 1 << 48 }
        }, "the backup's sizes sum past 2^56"),
    ]

    /// Each crafted backupmeta ends a dry run and a restore with exit code 2, naming the file and
    /// the field, and the restore writes nothing.
    @Test(arguments: 0..<crafted.count) func aBackupmetaWithFiguresPastAnySumIsRefused(_ index: Int) throws {
        let (name, change, expected) = Self.crafted[index]
        let dir = try TemporaryDirectory()
        let backup = try craftedBackup(dir) { meta in
            // Enough files for the 2^56 case: 256 files of 2^48 reach it.
            let produced = meta.files.count
            while meta.files.count < 300 {
                var copy = meta.files[meta.files.count % produced]
                copy.name = "copy-\(meta.files.count).sst"
                meta.files.append(copy)
            }
            change(&meta)
        }
        for args in [["--dry-run"], ["--headless"]] {
            let out = try runConsole(["restore", "--storage", backup, "--cluster", dir.file("cluster")] + args)
            #expect(out.status == 2, "\(name) \(args): \(out.stderr)")
            #expect(out.stderr.contains(expected), "\(name) \(args): \(out.stderr)")
            #expect(out.stderr.contains("backup file entry "), "\(name): the message names the file: \(out.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: dir.file("cluster/stores")), "\(name): nothing written")
    }

    /// A plain backup whose files carry a cipher iv (TiKV's backup writer sets one on every file,
    /// encrypted or not: tikv components/backup/src/writer.rs) restores: the iv means something
    /// only with a key. An incremental backup takes its new timestamp from --new-ts, else from
    /// the cluster (an embedded one's clock), and the dry run says which.
    @Test func ivsWithoutAKeyAndIncrementalBackupsAtStart() throws {
        let ivDir = try TemporaryDirectory()
        let withIVs = try craftedBackup(ivDir) { meta in
            for i in meta.files.indices { meta.files[i].cipherIv = Data(repeating: 7, count: 16) }
        }
        let restored = try runConsole(["restore", "--headless", "--storage", withIVs, "--cluster", ivDir.file("cluster")])
        #expect(restored.status == 0, "\(restored.stderr)")
        let oddDir = try TemporaryDirectory()
        let odd = try craftedBackup(oddDir) { $0.files[0].cipherIv = Data(repeating: 7, count: 5) }
        let refused = try runConsole(["restore", "--dry-run", "--storage", odd, "--cluster", ivDir.file("cluster2")])
        #expect(refused.status == 2 && refused.stderr.contains("its cipher iv is 5 bytes, not 16"), "\(refused.stderr)")

        let incrementalDir = try TemporaryDirectory()
        let incremental = try craftedBackup(incrementalDir) { $0.startVersion = 449_000_000_000_000_000 }
        let withoutTS = try runConsole(["restore", "--dry-run", "--storage", incremental, "--cluster", incrementalDir.file("cluster")])
        #expect(withoutTS.status == 0, "\(withoutTS.stderr)")
        #expect(withoutTS.stdout.contains("incremental (versions 449000000000000000 to") && withoutTS.stdout.contains("(from the cluster's TSO)"), "\(withoutTS.stdout)")
        let withTS = try runConsole(["restore", "--dry-run", "--storage", incremental, "--cluster", incrementalDir.file("cluster"), "--new-ts", "460000000000000000"])
        #expect(withTS.status == 0, "\(withTS.stderr)")
        #expect(withTS.stdout.contains("restored at timestamp 460000000000000000 (from --new-ts)"), "\(withTS.stdout)")
        #expect(!FileManager.default.fileExists(atPath: incrementalDir.file("cluster/stores")), "nothing written")
    }

    /// A file whose bytes are what the backupmeta says (its sha256 matches) but whose blocks fail
    /// their checksums is corrupt in the backup itself: no download can heal it, so the region
    /// fails at once, naming it, instead of downloading it again and again.
    @Test func aCorruptFileThatMatchesItsSha256IsNotRetried() throws {
        let dir = try TemporaryDirectory()
        var corrupted = ""
        let backup = try craftedBackup(dir) { meta in
            let i = meta.files.firstIndex { $0.cf == "write" }!
            let path = dir.file("backup") + "/" + meta.files[i].name
            var bytes = [UInt8](FileManager.default.contents(atPath: path)!)
            bytes[bytes.count / 3] ^= 0x55
            _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
            meta.files[i].sha256 = Data(SHA256Digest.hash(bytes))
            corrupted = meta.files[i].name
        }
        let out = try runConsole(["restore", "--headless", "--json", "--storage", backup, "--cluster", dir.file("cluster"), "--download-attempts", "8"])
        #expect(out.status == 1, "\(out.stderr)")
        #expect(out.stderr.contains("backup file \(corrupted) is corrupt in the backup itself"), "\(out.stderr)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [String: Any], "\(out.stdout)")
        let retries = summary["retries"] as? [String: Int] ?? [:]
        #expect((retries["CorruptBackupFile"] ?? 0) <= 3, "one failure a peer at most: \(retries)")
        #expect(retries["CorruptSST"] == nil, "\(retries)")
    }

    /// `cluster serve` against Downloads that no restore sends: each is answered with a refusal
    /// that reveals nothing outside the storage roots, and PD and every store still answer.
    @Test func hostileDownloadsAreRefusedAndTheServerStaysUp() throws {
        let dir = try TemporaryDirectory()
        let backup = try craftedBackup(dir) { _ in }
        let file = try #require(try BackupReader(storage: LocalStorage(root: backup)).read().files.first { $0.cf == .write })
        let served = try ServedCluster(binary: consoleBinary, directory: dir.file("cluster"), arguments: ["--storage-root", dir.path])
        let out = try runProgram("python3", [wireClientScripts + "/hostile_client.py", "--pd", served.pd, "--backup", backup, "--file", file.name, "--cluster", dir.file("cluster")])
        #expect(out.status == 0, "client: \(out.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [String: Any], "\(out.stdout)")
        func message(_ key: String) -> String { ((report[key] as? [String: Any])?["message"] as? String) ?? "(no answer)" }
        #expect(message("huge_length").contains("above any SST"), "\(message("huge_length"))")
        let outside = "not under a storage root of this server"
        #expect(message("outside_existing").contains(outside), "\(message("outside_existing"))")
        // The same words whether the file exists or not: nothing is learnt of the server's disk.
        #expect(message("outside_existing").replacingOccurrences(of: "passwd", with: "") == message("outside_missing").replacingOccurrences(of: "no-such-file", with: ""))
        #expect(message("dotdot").contains("escapes its directory"), "\(message("dotdot"))")
        #expect(message("store_directory").contains(outside), "\(message("store_directory"))")
        #expect(message("s3_endpoint").contains("endpoint http://169.254.169.254 is not allowed here"), "\(message("s3_endpoint"))")
        // No length: the object's own size bounds the download, which goes ahead.
        #expect(message("zero_length") == "", "\(message("zero_length"))")
        let split = try #require(report["split_other_conf_ver"] as? [String: Any])
        #expect(split["region_error"] as? String == "" && split["regions"] as? Int == 2, "a split checks the epoch's version alone: \(split)")
        let alive = try #require(report["alive"] as? [String: Any])
        #expect(alive["pd"] as? Bool == true)
        #expect((alive["stores"] as? [Int])?.count == 3)
        #expect(served.stop() == 0, "the server ran until told to stop")
    }

    /// Mutated requests of every method a restore calls, as raw bytes: each is answered and
    /// `cluster serve` stays up (`make fuzz` sends a million; scripts/wire-fuzz).
    @Test func mutatedWireRequestsAreAnsweredAndTheServerStaysUp() throws {
        let dir = try TemporaryDirectory()
        let backup = try craftedBackup(dir) { _ in }
        let file = try #require(try BackupReader(storage: LocalStorage(root: backup)).read().files.first { $0.cf == .write })
        let served = try ServedCluster(binary: consoleBinary, directory: dir.file("cluster"), arguments: ["--storage-root", backup])
        let out = try runProgram("python3", [wireClientScripts + "/wire_fuzz.py", "--pd", served.pd, "--backup", backup, "--file", file.name, "--runs", "1000", "--seed", "7"])
        #expect(out.status == 0, "fuzzer: \(out.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [String: Any], "\(out.stdout)")
        #expect(report["runs"] as? Int == 1_000, "\(report)")
        #expect((report["failures"] as? [String])?.isEmpty == true, "\(report["failures"] ?? "")")
        #expect(((report["alive"] as? [String: Any])?["stores"] as? [Int])?.count == 3)
        #expect(served.stop() == 0, "the server ran until told to stop")
    }
}
