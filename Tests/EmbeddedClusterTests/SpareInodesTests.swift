import Foundation
import Testing
@testable import TestSupport
@testable import KeyCodec
@testable import EmbeddedCluster

/// Inodes of ingested files reused for new SSTs, never while RocksDB still links them.
@Suite struct SpareInodesTests {
    private func inode(_ path: String) -> ino_t? {
        var info = stat()
        return stat(path, &info) == 0 ? info.st_ino : nil
    }

    private func writeSST(_ path: String, key: String, value: String) throws {
        let writer = try SSTWriter(path: path)
        try writer.put(key: Array(key.utf8), value: Array(value.utf8))
        _ = try writer.finish()
    }

    /// The spare of inode `kept` is not placed while RocksDB links its table; after a compaction of
    /// the whole default CF (with `key` flushed), which rewrites the table and deletes it, it is
    /// placed at a new SST's path and written there. Returns that path.
    private func expectSpareBackAfterCompaction(_ store: Store, kept: ino_t, adding key: String) throws -> String {
        let target = store.importDirectory + "/b.sst.temp"
        #expect(!store.spares.place(at: target), "RocksDB still links the table")
        #expect(inode(target) == nil)
        try store.db.put(Array(key.utf8), Array("x".utf8))
        try store.db.flush()
        try store.db.compactRange([], Array("z".utf8), cf: .default)
        #expect(store.spares.place(at: target))
        #expect(inode(target) == kept, "the new file has the spare's inode")
        try writeSST(target, key: key + "-new", value: "second")
        return target
    }

    @Test func anIngestedFileIsReusedOnlyOnceRocksDBDeletedItsTable() throws {
        let dir = try TemporaryDirectory()
        let store = try Store(id: 1, clusterDirectory: dir.path)
        let imported = store.importDirectory + "/a.sst"
        try writeSST(imported, key: "k1", value: "first")
        let kept = try #require(inode(imported))
        // As `SSTIngestion` does: RocksDB takes a hard-linked clone by move.
        #expect(link(imported, imported + ".clone") == 0)
        try store.db.ingest([(cf: .default, path: imported + ".clone")], move: true)
        unlink(imported + ".clone")
        store.spares.keep(imported, bytes: 100)
        #expect(inode(imported) == nil, "the import name moved to the spares")

        let target = try expectSpareBackAfterCompaction(store, kept: kept, adding: "k0")
        #expect(try store.db.get(Array("k1".utf8)) == Array("first".utf8), "the table's data is untouched")
        #expect(!store.spares.place(at: target + "2"), "each spare is placed once")
        store.close()
    }

    @Test func anApplyRecordsInodeComesBackOnceItsTableIsCompactedAway() throws {
        let dir = try TemporaryDirectory()
        let store = try Store(id: 1, clusterDirectory: dir.path)
        let record = store.importDirectory + "/apply-1-5.sst"
        try writeSST(record, key: "r1", value: "")
        let kept = try #require(inode(record))
        // As `SSTIngestion` does: a second name, then the record ingested by move (its own name goes).
        store.spares.keepLink(to: record)
        try store.db.ingest([(cf: .default, path: record)], move: true)
        #expect(inode(record) == nil)

        _ = try expectSpareBackAfterCompaction(store, kept: kept, adding: "r0")
        #expect(try store.db.get(Array("r1".utf8)) == [], "the record is still in the DB")
        store.close()
    }

    @Test func largeFilesAreNotKeptAndSparesGoWhenTheStoreClosesOrOpens() throws {
        let dir = try TemporaryDirectory()
        var store = try Store(id: 1, clusterDirectory: dir.path)
        let large = store.importDirectory + "/large.sst"
        try writeSST(large, key: "k", value: "v")
        store.spares.keep(large, bytes: SpareInodes.largestFile + 1)
        #expect(inode(large) == nil)
        #expect(try FileManager.default.contentsOfDirectory(atPath: store.spares.directory).isEmpty)

        let small = store.importDirectory + "/small.sst"
        try writeSST(small, key: "k", value: "v")
        store.spares.keep(small, bytes: 10)
        #expect(try FileManager.default.contentsOfDirectory(atPath: store.spares.directory).count == 1)
        store.close()
        #expect(try FileManager.default.contentsOfDirectory(atPath: store.spares.directory).isEmpty)
        // One left by a kill goes when the store opens.
        try writeSST(store.spares.directory + "/7", key: "k", value: "v")
        store = try Store(id: 1, clusterDirectory: dir.path)
        #expect(try FileManager.default.contentsOfDirectory(atPath: store.spares.directory).isEmpty)
        store.close()
    }
}
