import Foundation
import Testing
@testable import TestSupport
import KVProto
@testable import KeyCodec
@testable import ExternalStorage
@testable import BackupFormat
@testable import EmbeddedCluster

/// Table filters, key ranges, the dry run and the prechecks, run as an operator runs them: the
/// binary on real backups and clusters, the stores read back with `ldb`.
@Suite(.serialized) struct DryRunTests {
    func makeBackup(_ dir: TemporaryDirectory, raw: Bool = false, metaVersion: Int = 2) throws -> String {
        var o = BackupProducer.Options()
        o.tables = 3
        o.rows = 2_000
        o.fileSize = 64 << 10
        o.raw = raw
        o.metaVersion = metaVersion
        try BackupProducer(storage: LocalStorage(root: dir.file("backup")), options: o).produce()
        return dir.file("backup")
    }

    /// Every file and directory under `root`, with the size and sha256 of each file's bytes.
    func snapshot(_ root: String) throws -> [String: String] {
        var entries: [String: String] = [:]
        let walker = try #require(FileManager.default.enumerator(atPath: root))
        while let name = walker.nextObject() as? String {
            var isDirectory: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: root + "/" + name, isDirectory: &isDirectory)
            guard !isDirectory.boolValue else {
                entries[name] = "directory"
                continue
            }
            let data = try #require(FileManager.default.contents(atPath: root + "/" + name))
            entries[name] = "\(data.count) \(SHA256Digest.hash(Array(data)).hexString)"
        }
        return entries
    }

    func plan(_ out: CommandOutput) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [String: Any], "\(out.stdout)")
    }

    /// The new ids of the plan's tables, by name.
    func newIDs(_ plan: [String: Any]) throws -> [String: Int64] {
        let tables = try #require(plan["tables"] as? [[String: Any]])
        return Dictionary(uniqueKeysWithValues: try tables.map { t in
            (try #require(t["name"] as? String), try #require((t["newIDs"] as? [NSNumber])?.first?.int64Value))
        })
    }

    /// The user keys in a store's column family, read by `ldb`.
    func userKeys(store: Int, cluster: String, cf: String, raw: Bool) throws -> [[UInt8]] {
        let out = try runProgram("ldb", ["--db=\(cluster)/stores/\(store)/db", "--column_family=\(cf)", "scan", "--hex"])
        try #require(out.status == 0, "\(out.stderr)")
        return try out.stdout.split(separator: "\n").compactMap { line in
            guard let hex = line.split(separator: " ").first, let key = [UInt8](hex: String(hex)), key.first == DataKey.prefix else { return nil }
            return raw ? Array(key.dropFirst()) : try MVCCKey(decoding: key.dropFirst()).userKey
        }
    }

    /// A dry run into a new directory creates nothing; one against a cluster that holds a restore
    /// leaves every byte of it as it was, and its plan (text and JSON) names the tables, ids,
    /// split keys, the stores' shares and the checks.
    @Test func aDryRunWritesNothing() throws {
        let dir = try TemporaryDirectory()
        let backup = try makeBackup(dir)
        let cluster = dir.file("cluster")
        let fresh = try runConsole(["restore", "--storage", backup, "--cluster", cluster, "--dry-run"])
        #expect(fresh.status == 0, "\(fresh.stderr)")
        #expect(!FileManager.default.fileExists(atPath: cluster), "a dry run creates no cluster")
        for text in ["Dry run: nothing was written.", "demo.t1", "demo.t2", "demo.t3", "Rewrite rules (legacy mode)", "split at table", "ok      disk", "ok      existing-data", "Every check passed"] {
            #expect(fresh.stdout.contains(text), "\(text) in \(fresh.stdout)")
        }

        let first = try runConsole(["restore", "--headless", "--storage", backup, "--cluster", cluster, "--filter", "demo.t1"])
        #expect(first.status == 0, "\(first.stderr)")
        let before = try snapshot(cluster)
        #expect(before.count > 10)
        let text = try runConsole(["restore", "--storage", backup, "--cluster", cluster, "--dry-run"])
        let json = try runConsole(["restore", "--storage", backup, "--cluster", cluster, "--dry-run", "--json"])
        #expect(text.status == 0 && json.status == 0, "\(text.stderr) \(json.stderr)")
        #expect(try snapshot(cluster) == before, "a dry run changes no file of the cluster")

        let p = try plan(json)
        let ids = try newIDs(p)
        #expect(ids.count == 3)
        #expect(ids.values.allSatisfy { $0 > 102 }, "new ids go above the restored table's: \(ids)")
        #expect((p["regionsNow"] as? Int ?? 0) > 1, "the first restore split the cluster")
        #expect(!((p["newSplitKeys"] as? [String]) ?? []).isEmpty)
        let stores = try #require(p["stores"] as? [[String: Any]])
        let bytes = try #require((p["bytes"] as? NSNumber)?.uint64Value)
        #expect(stores.count == 3)
        #expect(stores.allSatisfy { ($0["receives"] as? NSNumber)?.uint64Value == bytes }, "3 replicas over 3 stores: each receives the whole backup")
        let checks = try #require(p["checks"] as? [[String: Any]])
        #expect(Set(checks.compactMap { $0["name"] as? String }) == ["disk", "open-files", "existing-data", "storage", "checksums"])
    }

    /// `--filter` in TiDB's syntax restores exactly the tables it selects: their keys only, under
    /// their new ids, with a checksum that matches; one that selects nothing names the tables.
    @Test func aFilterRestoresOnlyItsTables() throws {
        let dir = try TemporaryDirectory()
        let backup = try makeBackup(dir)
        let cluster = dir.file("cluster")
        let args = ["restore", "--storage", backup, "--cluster", cluster, "--filter", "*.*", "--filter", "!demo.t[13]"]
        let ids = try newIDs(try plan(try runConsole(args + ["--dry-run", "--json"])))
        #expect(Array(ids.keys) == ["demo.t2"])
        let out = try runConsole(args + ["--headless", "--json"])
        #expect(out.status == 0, "\(out.stderr)")
        #expect(out.stdout.contains("\"checksum_match\":true"))
        for store in 1...3 {
            let tables = Set(try userKeys(store: store, cluster: cluster, cf: "write", raw: false).compactMap { TableCodec.decode($0)?.tableID })
            #expect(tables == [ids["demo.t2"]!], "store \(store) holds tables \(tables)")
        }

        let none = try runConsole(["restore", "--storage", backup, "--cluster", dir.file("other"), "--filter", "DEMO.t9"])
        #expect(none.status == 2)
        #expect(none.stderr.contains("matches none of the backup's 3 tables: demo.t1, demo.t2, demo.t3"), "\(none.stderr)")
        #expect(!none.stderr.contains("Usage:"), "a runtime error prints no usage")
        let usage = try runConsole(["restore", "--storage", backup, "--cluster", dir.file("other"), "--filtre", "x.y"])
        #expect(usage.status != 0 && usage.stderr.contains("Usage:"), "a usage error does: \(usage.stderr)")
        let bad = try runConsole(["restore", "--storage", backup, "--cluster", dir.file("other"), "--filter", "demo.t%"])
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("--filter 'demo.t%': unexpected special character '%'"), "\(bad.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.file("other")))
    }

    /// `--start-key`/`--end-key` restore the keys in the range and no other, for raw and
    /// transactional backups: the range cuts files, and the checksum counts their selected keys
    /// from the files themselves. A filter on a raw backup is refused.
    @Test(arguments: [true, false])
    func aKeyRangeRestoresOnlyItsKeys(raw: Bool) throws {
        let dir = try TemporaryDirectory()
        let backup = try makeBackup(dir, raw: raw)
        let cluster = dir.file("cluster")
        let (start, end): ([UInt8], [UInt8]) = raw
            ? (Array("raw/t101/0000000500".utf8), Array("raw/t101/0000001500".utf8))
            : (TableCodec.recordKey(tableID: 101, handle: 500), TableCodec.recordKey(tableID: 101, handle: 1_500))
        let out = try runConsole(["restore", "--headless", "--json", "--storage", backup, "--cluster", cluster, "--start-key", start.hexString, "--end-key", end.hexString])
        #expect(out.status == 0, "\(out.stderr)")
        #expect(out.stdout.contains("\"checksum_match\":true"), "\(out.stderr)")
        #expect(out.stderr.contains("checksum matched:") && out.stderr.contains("kvs=1000 "), "1000 rows in the range: \(out.stderr)")
        let rules = raw ? nil : (old: TableCodec.tablePrefix(101), new: TableCodec.tablePrefix(104))
        for store in 1...3 {
            let keys = try userKeys(store: store, cluster: cluster, cf: raw ? "default" : "write", raw: raw)
            #expect(keys.count == 1_000, "store \(store) holds \(keys.count) keys")
            for key in keys {
                // Back to the backup's key space: the table rule swaps the table prefix.
                let old = rules.map { $0.old + key.dropFirst($0.new.count) } ?? key
                #expect(keyLess(old, end) && !keyLess(old, start), "\(old.hexString) is outside the range")
            }
        }
        if raw {
            let filtered = try runConsole(["restore", "--storage", backup, "--cluster", dir.file("other"), "--filter", "*.*"])
            #expect(filtered.status == 2)
            #expect(filtered.stderr.contains("a raw backup holds none; select keys with --start-key and --end-key"), "\(filtered.stderr)")
        }
    }

    /// Data where the restore would write refuses it, naming the table and id and both flags, and
    /// writes nothing; `--allow-existing-data` lets it go on knowingly.
    @Test func existingDataIsRefusedUnlessAllowed() throws {
        let dir = try TemporaryDirectory()
        let backup = try makeBackup(dir)
        let cluster = dir.file("cluster")
        let first = try runConsole(["restore", "--headless", "--storage", backup, "--cluster", cluster, "--filter", "demo.t2", "--table-id-map", "101:500"])
        #expect(first.status == 0, "\(first.stderr)")
        let before = try snapshot(cluster)
        let over = ["restore", "--headless", "--storage", backup, "--cluster", cluster, "--filter", "demo.t3", "--table-id-map", "102:500", "--checksum=false"]
        let refused = try runConsole(over)
        #expect(refused.status == 2, "\(refused.stderr)")
        #expect(refused.stderr.contains("precheck existing-data failed: the cluster already holds data where the restore would write: table demo.t3 as id 500"), "\(refused.stderr)")
        #expect(refused.stderr.contains("--table-id-map") && refused.stderr.contains("--allow-existing-data"))
        #expect(try snapshot(cluster) == before, "a refused restore writes nothing")
        let again = try runConsole(["restore", "--headless", "--storage", backup, "--cluster", cluster, "--filter", "demo.t2", "--table-id-map", "101:500"])
        #expect(again.status == 0, "a resume of the first restore is not refused: \(again.stderr)")
        let allowed = try runConsole(over + ["--allow-existing-data"])
        #expect(allowed.status == 0, "\(allowed.stderr)")
    }

    /// A store whose creation a kill cut short (its RocksDB made with fewer column families; `ldb`
    /// makes one with `default` alone) holds no data: the survey passes over it, and the restore
    /// completes it and matches (found by random kills).
    @Test func aStoreCutShortAtCreationIsSurveyedAndCompleted() async throws {
        let dir = try TemporaryDirectory()
        let backup = try makeBackup(dir)
        // What a kill in the middle of creating store 3 leaves: the description, stores 1 and 2, and
        // store 3's RocksDB without all its column families; no layout yet.
        let cluster = dir.file("cluster")
        await (try await Cluster.open(directory: dir.file("whole"), create: .init(stores: 3, replicas: 3))).close()
        try FileManager.default.createDirectory(atPath: cluster + "/stores/3", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: dir.file("whole/cluster.json"), toPath: cluster + "/cluster.json")
        for store in 1...2 {
            try FileManager.default.createDirectory(atPath: "\(cluster)/stores/\(store)", withIntermediateDirectories: true)
            _ = try RocksDatabase(path: "\(cluster)/stores/\(store)/db")
        }
        let made = try runProgram("ldb", ["--db=\(cluster)/stores/3/db", "--create_if_missing", "put", "created", "cut-short"])
        try #require(made.status == 0, "\(made.stderr)")
        let plan = try runConsole(["restore", "--storage", backup, "--cluster", cluster, "--dry-run"])
        #expect(plan.status == 0, "\(plan.stderr)")
        let restored = try runConsole(["restore", "--headless", "--json", "--storage", backup, "--cluster", cluster])
        #expect(restored.status == 0, "\(restored.stderr)")
        #expect(restored.stdout.contains("\"checksum_match\":true"))
    }

    /// TiKV's backup writer counts each kv in the file that holds its value, so a write CF file whose
    /// values all live in the default CF has 0 kvs while its default file has them: a backup of that
    /// shape passes the checks and its checksum matches.
    @Test func aWriteFileWithoutKVsOfItsOwnIsNoMissingChecksum() throws {
        let dir = try TemporaryDirectory()
        let backup = try makeBackup(dir, metaVersion: 1)
        var meta = try Backup_BackupMeta(serializedBytes: try LocalStorage(root: backup).read("backupmeta"))
        let write = try #require(meta.files.indices.first { i in
            meta.files[i].cf == "write" && meta.files.contains { $0.cf == "default" && $0.startKey == meta.files[i].startKey && $0.endKey == meta.files[i].endKey }
        })
        let partner = try #require(meta.files.indices.first { meta.files[$0].cf == "default" && meta.files[$0].startKey == meta.files[write].startKey && meta.files[$0].endKey == meta.files[write].endKey })
        meta.files[partner].crc64Xor ^= meta.files[write].crc64Xor
        meta.files[partner].totalKvs += meta.files[write].totalKvs
        meta.files[partner].totalBytes += meta.files[write].totalBytes
        meta.files[write].crc64Xor = 0
        meta.files[write].totalKvs = 0
        meta.files[write].totalBytes = 0
        try LocalStorage(root: backup).write("backupmeta", contents: try meta.serializedBytes())
        let out = try runConsole(["restore", "--headless", "--json", "--storage", backup, "--cluster", dir.file("cluster")])
        #expect(out.status == 0, "\(out.stderr)")
        let line = try #require(out.stdout.split(separator: "\n").last)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(json["checksum_match"] as? Bool == true)
    }

    /// A backup file missing from the storage, or a backupmeta without checksums, is refused before
    /// anything is written, naming the file and the flag.
    @Test func aMissingFileOrAMissingChecksumIsRefusedAtStart() throws {
        let dir = try TemporaryDirectory()
        let backup = try makeBackup(dir, metaVersion: 1)
        let cluster = dir.file("cluster")
        let read = try BackupReader(storage: LocalStorage(root: backup)).read()
        let victim = read.files[7].name
        try FileManager.default.moveItem(atPath: backup + "/" + victim, toPath: dir.file("moved.sst"))
        let missing = try runConsole(["restore", "--headless", "--storage", backup, "--cluster", cluster])
        #expect(missing.status == 2, "\(missing.stderr)")
        #expect(missing.stderr.contains("precheck storage failed: 1 of the backup's \(read.files.count) files are not in"), "\(missing.stderr)")
        #expect(missing.stderr.contains(victim) && missing.stderr.contains("--skip-precheck storage"))
        #expect(!FileManager.default.fileExists(atPath: cluster))
        try FileManager.default.moveItem(atPath: dir.file("moved.sst"), toPath: backup + "/" + victim)

        // The files of one range (its write and default files) without their figures.
        var meta = try Backup_BackupMeta(serializedBytes: try LocalStorage(root: backup).read("backupmeta"))
        let range = (meta.files[3].startKey, meta.files[3].endKey)
        for i in meta.files.indices where (meta.files[i].startKey, meta.files[i].endKey) == range {
            meta.files[i].crc64Xor = 0
            meta.files[i].totalKvs = 0
            meta.files[i].totalBytes = 0
        }
        try LocalStorage(root: backup).write("backupmeta", contents: try meta.serializedBytes())
        let sets = Set(read.files.map { [$0.startKey, $0.endKey] }).count
        let unchecked = try runConsole(["restore", "--headless", "--storage", backup, "--cluster", cluster])
        #expect(unchecked.status == 2, "\(unchecked.stderr)")
        #expect(unchecked.stderr.contains("precheck checksums failed: 1 of \(sets) file sets have no checksum in the backupmeta (0 kvs in all their files), e.g. "), "\(unchecked.stderr)")
        #expect(unchecked.stderr.contains(meta.files[3].name))
        #expect(unchecked.stderr.contains("--checksum=false"))
        #expect(!FileManager.default.fileExists(atPath: cluster))
        let plan = try runConsole(["restore", "--storage", backup, "--cluster", cluster, "--dry-run", "--checksum=false"])
        #expect(plan.status == 0, "\(plan.stderr)")
        #expect(plan.stdout.contains("skipped checksums: no checksum at the end (--checksum=false)"), "\(plan.stdout)")
    }
}
