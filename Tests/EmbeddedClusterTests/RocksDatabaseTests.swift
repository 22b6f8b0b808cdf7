import Foundation
import Testing
@testable import TestSupport
@testable import KeyCodec
@testable import ClusterAPI
@testable import EmbeddedCluster

@Suite struct RocksDatabaseTests {
    @Test func ingestMovesFilesIntoAColumnFamilyThatLdbCanScan() throws {
        let dir = try TemporaryDirectory()
        let dbPath = dir.file("db")
        let sst = dir.file("ingest.sst")
        let writer = try SSTWriter(path: sst)
        for i in 0..<500 { try writer.put(key: DataKey.make(bytes(String(format: "k%04d", i))), value: bytes("v\(i)")) }
        try writer.finish()

        do {
            let db = try RocksDatabase(path: dbPath)
            try db.ingest([(cf: .write, path: sst)], move: true)
            #expect(!FileManager.default.fileExists(atPath: sst), "move semantics: the import file is gone")
            #expect(try db.get(bytes("zk0042"), cf: .write) == bytes("v42"))
            #expect(try db.get(bytes("zk0042"), cf: .default) == nil)

            var batch = WriteBatch()
            batch.put(bytes("applied"), bytes("7"), cf: .default)
            batch.put(bytes("zlock"), bytes("L"), cf: .lock)
            try db.write(batch)
            #expect(try db.get(bytes("zlock"), cf: .lock) == bytes("L"))

            var seen = 0
            try db.scan(cf: .write, from: bytes("zk0100")) { _, _ in
                seen += 1
                return true
            }
            #expect(seen == 400)
            try db.flush()
        }

        let out = try runProgram("ldb", ["--db=\(dbPath)", "--column_family=write", "scan"])
        #expect(out.status == 0, "ldb failed: \(out.stderr)")
        let lines = out.stdout.split(separator: "\n")
        #expect(lines.count == 500)
        #expect(lines.first == "zk0000 : v0")
    }

    @Test func ingestOfAMissingFileIsAnError() throws {
        let dir = try TemporaryDirectory()
        let db = try RocksDatabase(path: dir.file("db"))
        #expect { try db.ingest([(cf: .default, path: dir.file("nope.sst"))]) } throws: {
            ($0 as? DatabaseError)?.description.contains("nope.sst") == true
        }
    }

    /// The mechanism of a damaged store: an ingested SST that shares its inode with another name
    /// (an import file, or a link left by a crash) must never be written into, even when the same
    /// inode is ingested again over newer data and gets a global seqno above 0.
    @Test func anIngestedFileIsNeverWrittenInto() throws {
        let dir = try TemporaryDirectory()
        let dbPath = dir.file("db"), imported = dir.file("import.sst")
        let writer = try SSTWriter(path: imported)
        for i in 0..<100 { try writer.put(key: DataKey.make(bytes(String(format: "k%03d", i))), value: bytes("v\(i)")) }
        _ = try writer.finish()
        let original = try #require(FileManager.default.contents(atPath: imported))
        do {
            let db = try RocksDatabase(path: dbPath)
            #expect(link(imported, imported + ".clone") == 0)
            try db.ingest([(cf: .write, path: imported + ".clone")])
            var info = stat()
            #expect(stat(imported, &info) == 0 && info.st_nlink == 2, "the import file and the DB share the inode")
            // Newer writes over the same keys, then the same inode ingested again (as a replay
            // without records would): RocksDB assigns it a global seqno above 0.
            try db.put(DataKey.make(bytes("k005")), bytes("newer"), cf: .write)
            #expect(link(imported, imported + ".clone") == 0)
            try db.ingest([(cf: .write, path: imported + ".clone")])
            db.close()
        }
        #expect(FileManager.default.contents(atPath: imported) == original, "not a byte of the shared inode changed")
        let reopened = try RocksDatabase(path: dbPath)
        #expect(try reopened.get(DataKey.make(bytes("k042")), cf: .write) == bytes("v42"))
        reopened.close()
        let out = try runProgram("ldb", ["--db=\(dbPath)", "--column_family=write", "scan"])
        #expect(out.status == 0, "ldb: \(out.stderr)")
    }

    /// The checksum's scan of a real store reads what TiKV's snapshot read sees (tikv
    /// src/storage/mvcc/reader/point_getter.rs): a key's newest write at or below the read
    /// timestamp when it is a put, nothing when it is a delete, and past locks and rollbacks; long
    /// values from the default CF; keys longer than one 8-byte group; only the region's keys.
    @Test func aVisibleRowScanReadsWhatASnapshotReadSees() throws {
        let dir = try TemporaryDirectory()
        let db = try RocksDatabase(path: dir.file("db"))
        defer { db.close() }
        let longKey = bytes("a key longer than two memcomparable groups")
        let longValue = [UInt8](repeating: 7, count: 300)
        var batch = WriteBatch()
        func write(_ key: String, _ kind: WriteRecord.Kind, commit: UInt64, start: UInt64, short: String? = nil) {
            let record = WriteRecord(kind: kind, startTS: start, shortValue: short.map(bytes))
            batch.put(DataKey.make(MVCCKey(userKey: bytes(key), timestamp: commit).encoded), record.encoded, cf: .write)
        }
        write("a", .put, commit: 30, start: 29, short: "a30")
        write("a", .put, commit: 20, start: 19, short: "a20")
        write("b", .delete, commit: 40, start: 39)
        write("b", .put, commit: 10, start: 9, short: "b10")
        write("c", .rollback, commit: 50, start: 50)
        write("c", .lock, commit: 45, start: 44)
        write("c", .put, commit: 5, start: 4)
        batch.put(DataKey.make(MVCCKey(userKey: bytes("c"), timestamp: 4).encoded), longValue, cf: .default)
        write(String(decoding: longKey, as: UTF8.self), .put, commit: 7, start: 6, short: "long key")
        write("e", .put, commit: 60, start: 59, short: "e60")
        write("z", .put, commit: 3, start: 2, short: "outside")
        try db.write(batch)

        let reader = StoreReader(database: db)
        func rows(at readTS: UInt64) throws -> [String: [UInt8]] {
            var seen: [String: [UInt8]] = [:]
            try reader.forEachVisibleRow(from: Memcomparable.encode(bytes("a")), to: Memcomparable.encode(bytes("f")), readAt: readTS) { key, value in
                seen[String(decoding: key, as: UTF8.self)] = Array(value)
            }
            return seen
        }
        let newest = try rows(at: .max)
        #expect(newest == ["a": bytes("a30"), "c": longValue, String(decoding: longKey, as: UTF8.self): bytes("long key"), "e": bytes("e60")])
        let older = try rows(at: 35)
        #expect(older == ["a": bytes("a30"), "b": bytes("b10"), "c": longValue, String(decoding: longKey, as: UTF8.self): bytes("long key")])
        let oldest = try rows(at: 25)
        #expect(oldest["a"] == bytes("a20") && oldest["e"] == nil)

        // A put whose value is missing from the default CF is an error that names the key.
        var missing = WriteBatch()
        missing.put(DataKey.make(MVCCKey(userKey: bytes("d"), timestamp: 8).encoded), WriteRecord(kind: .put, startTS: 7).encoded, cf: .write)
        try db.write(missing)
        #expect(throws: MissingValue.self) { try rows(at: .max) }
    }

    @Test func lastKeyBeforeABoundIsOneSeekFromTheEnd() throws {
        let dir = try TemporaryDirectory()
        let db = try RocksDatabase(path: dir.file("db"))
        #expect(try db.lastKey(cf: .write, before: bytes("m")) == nil, "an empty column family")
        var batch = WriteBatch()
        for key in ["b", "d", "f"] { batch.put(bytes(key), bytes("v"), cf: .write) }
        try db.write(batch)
        #expect(try db.lastKey(cf: .write, before: bytes("a")) == nil)
        #expect(try db.lastKey(cf: .write, before: bytes("b")) == nil, "the bound itself is excluded")
        #expect(try db.lastKey(cf: .write, before: bytes("c")) == bytes("b"))
        #expect(try db.lastKey(cf: .write, before: bytes("d")) == bytes("b"))
        #expect(try db.lastKey(cf: .write, before: bytes("z")) == bytes("f"), "past the last key")
        #expect(try db.lastKey(cf: .default, before: bytes("z")) == nil, "another column family")
    }

    /// The highest table id in use is the last table key's, in either column family; keys
    /// around the tables' (`m...`, `u...`) and the newest versions do not confuse it.
    @Test func theHighestTableIDIsTheLastTableKeysOfEitherColumnFamily() throws {
        let dir = try TemporaryDirectory()
        let db = try RocksDatabase(path: dir.file("db"))
        func put(_ user: [UInt8], ts: UInt64, cf: ColumnFamily) throws {
            var batch = WriteBatch()
            batch.put(DataKey.make(MVCCKey(userKey: user, timestamp: ts).encoded), bytes("v"), cf: cf)
            try db.write(batch)
        }
        #expect(StoreDataFacts.highestTableID(in: db) == 0)
        try put(bytes("m-meta"), ts: 5, cf: .write)
        try put(bytes("u-after-tables"), ts: 5, cf: .write)
        #expect(StoreDataFacts.highestTableID(in: db) == 0, "no table key")
        for table: Int64 in [5, 70] {
            for handle: Int64 in 1...3 { try put(TableCodec.recordKey(tableID: table, handle: handle), ts: 9, cf: .write) }
        }
        try put(TableCodec.indexKey(tableID: 70, indexID: 2, encodedValues: TableCodec.intDatum(4)), ts: 9, cf: .write)
        #expect(StoreDataFacts.highestTableID(in: db) == 70)
        try put(TableCodec.recordKey(tableID: 90, handle: 1), ts: 8, cf: .default)
        #expect(StoreDataFacts.highestTableID(in: db) == 90, "the default column family's")
        try put(TableCodec.recordKey(tableID: 1 << 40, handle: -1), ts: 1, cf: .write)
        #expect(StoreDataFacts.highestTableID(in: db) == 1 << 40)
    }
}
