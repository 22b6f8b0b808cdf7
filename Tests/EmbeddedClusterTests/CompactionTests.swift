import Foundation
import Testing
@testable import TestSupport
@testable import KeyCodec
@testable import ClusterAPI
@testable import EmbeddedCluster

@Suite struct CompactionTests {
    private func table(_ name: String, _ bytes: UInt64) -> TableFile {
        TableFile(smallest: Array("\(name)a".utf8), largest: Array("\(name)z".utf8), bytes: bytes)
    }

    private func spans(_ tables: [TableFile]) -> [String] {
        SmallTableMerge.spans(tables).map { "\(String(decoding: $0.start, as: UTF8.self))-\(String(decoding: $0.end, as: UTF8.self))" }
    }

    @Test func smallNeighboursMergeAndLargeTablesAreNeverRewritten() {
        let k = SmallTableMerge.smallTableBytes / 128, big = SmallTableMerge.smallTableBytes
        // Three small tables, a large one, two small ones: each side of the large one is a run.
        #expect(spans([table("a", 8 * k), table("b", 8 * k), table("c", 8 * k), table("d", big), table("e", 8 * k), table("f", 8 * k)])
            == ["aa-cz", "ea-fz"])
        // A lone small table beside a large one has nothing to merge with.
        #expect(spans([table("a", big), table("b", 8 * k), table("c", 64 * big)]).isEmpty)
        #expect(spans([]).isEmpty)
    }

    @Test func aRunIsSplitAtATableLargerThanTheRestTogether() {
        let u = SmallTableMerge.smallTableBytes / 128
        // Half a large table beside two small ones: merging would rewrite it for little; the two merge alone.
        #expect(spans([table("a", 64 * u), table("b", u), table("c", u)]) == ["ba-cz"])
        // Two outputs of like size, and a straggler between them: all three become one.
        #expect(spans([table("a", 50 * u), table("b", u), table("c", 50 * u)]) == ["aa-cz"])
        // Split on both sides of the largest, recursively.
        #expect(spans([table("a", u), table("b", u), table("c", 120 * u), table("d", 5 * u), table("e", 30 * u), table("f", 25 * u)])
            == ["aa-bz", "da-fz"])
    }

    /// Ingests one small SST per key span in an order with stragglers (every fifth span comes last),
    /// as regions in flight leave them, and merges as the store's compactor does: the store ends with few tables,
    /// every key readable.
    @Test func stragglersEndInFewTablesOnARealStore() throws {
        let dir = try TemporaryDirectory()
        let db = try RocksDatabase(path: dir.file("db"))
        let compactor = IngestCompactor(db: db, label: "test-compaction")
        let spans = 400
        let order = (0..<spans).filter { $0 % 5 != 0 } + (0..<spans).filter { $0 % 5 == 0 }
        for (n, span) in order.enumerated() {
            let sst = dir.file("in-\(span).sst")
            let writer = try SSTWriter(path: sst)
            for row in 0..<20 {
                try writer.put(key: DataKey.make(bytes(String(format: "t%05d_%03d", span, row))), value: [UInt8](repeating: UInt8(row), count: 200))
            }
            try writer.finish()
            try db.ingest([(cf: .write, path: sst)], move: true)
            if n % 64 == 63 { compactor.mergeSmallTables() }
        }
        compactor.mergeSmallTables()
        let tables = db.tableFiles(cf: .write)
        #expect(tables.count <= 4, "\(tables.count) tables after \(spans) ingests")
        #expect(zip(tables, tables.dropFirst()).allSatisfy { keyLess($0.largest, $1.smallest) }, "tables in key order, not overlapping")
        var keys = 0
        try db.scan(cf: .write) { _, _ in keys += 1; return true }
        #expect(keys == spans * 20)
        #expect(try db.get(DataKey.make(bytes("t00395_019")), cf: .write)?.count == 200)
    }
}
