import Foundation
import SwiftProtobuf
import KVProto
import Testing
@testable import TestSupport
@testable import KeyCodec
@testable import ExternalStorage
@testable import BackupFormat

@Suite struct BackupTests {
    func options(tables: Int = 3, rows: Int = 4_000, indexes: Int = 2, fileSize: UInt64 = 64 << 10, raw: Bool = false, metaVersion: Int = 2) -> BackupProducer.Options {
        var o = BackupProducer.Options()
        o.tables = tables
        o.rows = rows
        o.indexes = indexes
        o.fileSize = fileSize
        o.raw = raw
        o.metaVersion = metaVersion
        o.seed = 7
        return o
    }

    /// Recomputes a file's BR checksum from the SST itself and checks its keys lie in its range.
    func verify(_ file: BackupFile, in dir: String, raw: Bool) throws {
        let path = dir + "/" + file.name
        let data = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(UInt64(data.count) == file.size, "\(file.name) size")
        #expect(SHA256Digest.hash(data) == file.sha256, "\(file.name) sha256")
        let reader = try SSTReader(path: path)
        try reader.verifyChecksums()
        var sum = KVChecksum()
        var entries: UInt64 = 0
        try reader.scan { key, value in
            entries += 1
            let body = try DataKey.strip(Array(key))
            let userKey = raw ? Array(body) : try MVCCKey(decoding: body).userKey
            #expect(file.range.contains(userKey), "\(file.name): \(userKey.hexString) outside \(file.range)")
            if raw || file.cf == .default {
                sum.add(key: userKey, value: Array(value))
            } else if let short = try WriteRecord(decoding: Array(value)).shortValue {
                sum.add(key: userKey, value: short)
            }
            return true
        }
        #expect(entries == reader.entryCount)
        #expect(sum == file.checksum, "\(file.name) checksum")
    }

    @Test(arguments: [1, 2])
    func produceReadBackAndVerifyEveryFile(metaVersion: Int) throws {
        let dir = try TemporaryDirectory()
        let storage = LocalStorage(root: dir.path)
        let produced = try BackupProducer(storage: storage, options: options(metaVersion: metaVersion)).produce()
        let backup = try BackupReader(storage: storage).read()

        #expect(backup.metaVersion == metaVersion)
        #expect(backup.files == produced.files)
        #expect(backup.tables == produced.tables)
        #expect(backup.tables.map(\.id) == [100, 101, 102])
        #expect(backup.tables.allSatisfy { $0.indexIDs == [1, 2] })
        #expect(backup.files.count > 6, "several files per table")
        #expect(Set(backup.files.map(\.cf)) == [.write, .default], "short values inline and long ones in default")
        // Every row and every index entry is counted exactly once.
        #expect(backup.checksum.totalKVs == 3 * 4_000 * 3)
        for table in backup.tables {
            let files = backup.files.filter { $0.tableID == table.id }
            #expect(files.reduce(into: KVChecksum()) { $0.merge($1.checksum) } == table.checksum)
        }
        for file in backup.files { try verify(file, in: dir.path, raw: false) }
    }

    @Test func rawBackups() throws {
        let dir = try TemporaryDirectory()
        let storage = LocalStorage(root: dir.path)
        try BackupProducer(storage: storage, options: options(tables: 2, rows: 3_000, raw: true)).produce()
        let backup = try BackupReader(storage: storage).read()
        #expect(backup.isRawKV)
        #expect(backup.tables.isEmpty)
        #expect(backup.files.allSatisfy { $0.cf == .default })
        #expect(backup.checksum.totalKVs == 6_000)
        for file in backup.files { try verify(file, in: dir.path, raw: true) }
    }

    /// One seed gives the same files, ranges and contents; another seed gives other contents.
    /// (SST bytes differ run to run: RocksDB records a session id and creation time in each file.)
    @Test func aSeedAlwaysGivesTheSameData() throws {
        func produce(seed: UInt64) throws -> [BackupFile] {
            let dir = try TemporaryDirectory()
            var o = options(rows: 1_000)
            o.seed = seed
            return try BackupProducer(storage: LocalStorage(root: dir.path), options: o).produce().files
        }
        let contents = { (files: [BackupFile]) in files.map { [$0.name, $0.startKey.hexString, $0.endKey.hexString, "\($0.checksum)", $0.cf.name] } }
        let first = try produce(seed: 7)
        #expect(contents(first) == contents(try produce(seed: 7)))
        #expect(first.map(\.checksum) != (try produce(seed: 8)).map(\.checksum))
    }

    /// protoc, with kvproto's own brpb.proto (its descriptors), decodes our backupmeta into the same entries that the reader returns.
    @Test func protocDecodesOurBackupmeta() throws {
        let dir = try TemporaryDirectory()
        let storage = LocalStorage(root: dir.path)
        try BackupProducer(storage: storage, options: options(rows: 2_000)).produce()
        let backup = try BackupReader(storage: storage).read()
        let protoDir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("proto").path
        let schema = "--descriptor_set_in='\(protoDir)/kvproto.descriptors'"

        let meta = try runShell("protoc \(schema) --decode=backup.BackupMeta brpb.proto < '\(dir.file("backupmeta"))'")
        #expect(meta.status == 0, "\(meta.stderr)")
        #expect(meta.stdout.contains("version: 2"))
        #expect(meta.stdout.contains("end_version: \(backup.endVersion)"))
        var names: [String] = []
        for name in try storage.list(prefix: "backupmeta.datafile.") {
            let decoded = try runShell("protoc \(schema) --decode=backup.MetaFile brpb.proto < '\(dir.file(name))'")
            #expect(decoded.status == 0)
            names += decoded.stdout.split(separator: "\n").compactMap { line in
                let t = line.trimmingCharacters(in: .whitespaces)
                return t.hasPrefix("name: \"") ? String(t.dropFirst(7).dropLast()) : nil
            }
        }
        #expect(names == backup.files.map(\.name))
    }

    // MARK: hostile input

    func writeMeta(_ meta: Backup_BackupMeta, to dir: TemporaryDirectory) throws {
        try LocalStorage(root: dir.path).write("backupmeta", contents: try meta.serializedBytes())
    }

    func goodEntry(_ name: String = "1_2_1_abc_5_write.sst") -> Backup_File {
        var e = Backup_File()
        e.name = name
        e.sha256 = Data(repeating: 1, count: 32)
        e.startKey = Data("a".utf8)
        e.endKey = Data("b".utf8)
        e.cf = "write"
        e.size = 100
        e.totalKvs = 2
        e.totalBytes = 20
        e.crc64Xor = 5
        e.endVersion = 10
        return e
    }

    func readError(_ meta: Backup_BackupMeta) throws -> BackupError? {
        let dir = try TemporaryDirectory()
        try writeMeta(meta, to: dir)
        do {
            _ = try BackupReader(storage: LocalStorage(root: dir.path)).read()
            return nil
        } catch {
            return error
        }
    }

    @Test func aValidHandMadeMetaIsAccepted() throws {
        var meta = Backup_BackupMeta()
        meta.files = [goodEntry()]
        #expect(try readError(meta) == nil)
    }

    @Test(arguments: [
        ("../escape.sst", "escapes"), ("/etc/passwd.sst", "escapes"), ("a/../../b.sst", "escapes"), ("", "escapes"),
        ("notes.txt", "not an .sst"),
    ])
    func hostileNamesAreRejected(name: String, reason: String) throws {
        var meta = Backup_BackupMeta()
        meta.files = [goodEntry(name)]
        let error = try #require(try readError(meta))
        #expect(error.description.contains(reason), "\(error)")
    }

    @Test func invalidEntriesAreRejectedWithTheirName() throws {
        let cases: [(String, (inout Backup_File) -> Void)] = [
            ("size is 0", { $0.size = 0 }),
            ("sha256 is 3 bytes", { $0.sha256 = Data([1, 2, 3]) }),
            ("unknown column family 'lock'", { $0.cf = "lock" }),
            ("unknown column family 'data'", { $0.cf = "data" }),
            ("is after end key", { $0.startKey = Data("z".utf8) }),
            ("0 kvs but", { $0.totalKvs = 0 }),
            ("kvs in", { $0.totalKvs = 50 }),
            ("start version", { $0.startVersion = 11 }),
        ]
        for (reason, mutate) in cases {
            var entry = goodEntry()
            mutate(&entry)
            var meta = Backup_BackupMeta()
            meta.files = [entry]
            let error = try #require(try readError(meta), "\(reason)")
            #expect(error.description.contains(reason), "\(error)")
            #expect(error.description.contains("1_2_1_abc_5_write.sst"))
        }
        var meta = Backup_BackupMeta()
        meta.files = [goodEntry(), goodEntry()]
        #expect(try readError(meta) == .duplicateFile(name: "1_2_1_abc_5_write.sst"))
        meta.files = [goodEntry()]
        meta.isRawKv = true
        #expect(try readError(meta)?.description.contains("raw backups have only default-CF") == true)
    }

    @Test func truncatedGarbageAndMissingMetaAreClearErrors() throws {
        let dir = try TemporaryDirectory()
        let storage = LocalStorage(root: dir.path)
        #expect(throws: BackupError.metaMissing(storage: storage.displayName)) { try BackupReader(storage: storage).read() }

        try BackupProducer(storage: storage, options: options(tables: 1, rows: 500, metaVersion: 1)).produce()
        let meta = try storage.read("backupmeta")
        for bad in [Array(meta.prefix(meta.count / 2)), [UInt8](repeating: 0xFF, count: 64), []] {
            try storage.write("backupmeta", contents: bad)
            #expect {
                try BackupReader(storage: storage).read()
            } throws: { error in
                guard case .malformedMeta(let object, _) = error as? BackupError else { return false }
                return object == "backupmeta"
            }
        }
    }

    @Test func aTamperedMetaFileIsRejected() throws {
        let dir = try TemporaryDirectory()
        let storage = LocalStorage(root: dir.path)
        try BackupProducer(storage: storage, options: options(tables: 1, rows: 500)).produce()
        let name = "backupmeta.datafile.000000001"
        var bytes = try storage.read(name)
        bytes[bytes.count / 2] ^= 0x01
        try storage.write(name, contents: bytes)
        #expect(throws: BackupError.malformedMeta(object: name, reason: "sha256 does not match the index")) {
            try BackupReader(storage: storage).read()
        }
    }

    @Test func badSchemasAreRejected() throws {
        var meta = Backup_BackupMeta()
        var schema = Backup_Schema()
        schema.db = Data(#"{"id":1,"db_name":{"O":"d","L":"d"}}"#.utf8)
        schema.table = Data("not json".utf8)
        meta.schemas = [schema]
        #expect(try readError(meta)?.description.contains("schema entry 0") == true)

        schema.table = Data(#"{"id":7,"name":{"O":"t","L":"t"}}"#.utf8)
        meta.schemas = [schema, schema]
        #expect(try readError(meta)?.description.contains("table id 7 appears twice") == true)

        schema.table = Data(#"{"id":7,"name":{"O":"t","L":"t"},"partition":{"definitions":[{"id":8,"name":{"O":"p0","L":"p0"}}]}}"#.utf8)
        meta.schemas = [schema]
        let dir = try TemporaryDirectory()
        try writeMeta(meta, to: dir)
        let backup = try BackupReader(storage: LocalStorage(root: dir.path)).read()
        #expect(backup.tables.first?.physicalIDs == [7, 8])
    }
}
