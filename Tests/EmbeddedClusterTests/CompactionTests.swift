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

    private func table(_ smallest: String, _ largest: String, _ bytes: UInt64, number: UInt64) -> TableFile {
        TableFile(smallest: Array(smallest.utf8), largest: Array(largest.utf8), bytes: bytes, number: number)
    }

    private func spans(_ tables: [TableFile], settledThrough: UInt64 = .max, final: Bool = false) -> [String] {
        SmallTableMerge.spans(tables, settledThrough: settledThrough, final: final).map { "\(String(decoding: $0.start, as: UTF8.self))-\(String(decoding: $0.end, as: UTF8.self))" }
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
        // The last pass, when no ingest comes any more, merges each run whole; large tables stay.
        #expect(spans([table("a", u), table("b", u), table("c", 120 * u), table("d", 5 * u), table("e", 30 * u), table("f", 25 * u)], final: true)
            == ["aa-fz"])
        #expect(spans([table("a", 64 * u), table("b", u), table("c", 128 * u), table("d", u)], final: true) == ["aa-bz"])
    }

    /// Tables newer than the last pass wait a pass: a region still in flight lands between them,
    /// and a merge that closed over its gap would be rewritten for it.
    @Test func newTablesWaitAPassAndSplitRuns() {
        let u = SmallTableMerge.smallTableBytes / 128
        let tables = [table("aa", "az", u, number: 1), table("ba", "bz", u, number: 2), table("ca", "cz", u, number: 9),
                      table("da", "dz", u, number: 3), table("ea", "ez", u, number: 4)]
        #expect(spans(tables, settledThrough: 5) == ["aa-bz", "da-ez"])
        #expect(spans(tables, settledThrough: 9) == ["aa-ez"])
        #expect(spans(tables, settledThrough: 0).isEmpty)
    }

    /// Files ingested into the gaps of a merged table lie in a level above it, over its range: a
    /// compaction of any of them rewrites the table, so they count with it, and are merged into it
    /// once `tablesPerUnit` have gathered, however large it is.
    @Test func tablesOverATableGoWithIt() {
        let u = SmallTableMerge.smallTableBytes / 128
        let merged = table("ba", "yz", 100 * u, number: 1)
        let late = (0..<3).map { table("c\($0)a", "c\($0)z", u, number: 10 + UInt64($0)) }
        // A small neighbour does not pull the merged table and the files over it into a merge.
        #expect(spans([table("aa", "az", u, number: 2), merged] + late).isEmpty)
        // Two like-sized units merge whole: the span covers the files over the table.
        #expect(spans([table("aa", "az", 103 * u, number: 2), merged] + late) == ["aa-yz"])
        // A fresh file over it keeps the whole unit for a later pass.
        #expect(spans([table("aa", "az", 103 * u, number: 2), merged] + late, settledThrough: 10).isEmpty)
        // Enough files over a large table: the unit is merged alone.
        let large = table("ba", "yz", 200 * u, number: 1)
        let many = (0..<SmallTableMerge.tablesPerUnit - 1).map { table("c\($0)a", "c\($0)z", u, number: 10 + UInt64($0)) }
        #expect(spans([large] + many.dropLast()).isEmpty)
        #expect(spans([large] + many) == ["ba-yz"])
    }

    /// Ingests one small SST per key span in an order with stragglers (every fifth span comes last),
    /// as regions in flight leave them, with the store's compactor passing as it does in a restore
    /// and finishing at the end: the store ends with few tables, every key readable.
    @Test func stragglersEndInFewTablesOnARealStore() throws {
        let dir = try TemporaryDirectory()
        let db = try RocksDatabase(path: dir.file("db"))
        let compactor = IngestCompactor(db: db, label: "test-compaction")
        let spans = 400
        let order = (0..<spans).filter { $0 % 5 != 0 } + (0..<spans).filter { $0 % 5 == 0 }
        for span in order {
            let sst = dir.file("in-\(span).sst")
            let writer = try SSTWriter(path: sst)
            for row in 0..<20 {
                try writer.put(key: DataKey.make(bytes(String(format: "t%05d_%03d", span, row))), value: [UInt8](repeating: UInt8(row), count: 200))
            }
            try writer.finish()
            let bytes = try FileManager.default.attributesOfItem(atPath: sst)[.size] as! UInt64
            try db.ingest([(cf: .write, path: sst)], move: true)
            compactor.ingested(bytes: [bytes])
        }
        compactor.finish()
        let tables = db.tableFiles(cf: .write)
        #expect(tables.count <= 4, "\(tables.count) tables after \(spans) ingests")
        #expect(zip(tables, tables.dropFirst()).allSatisfy { keyLess($0.largest, $1.smallest) }, "tables in key order, not overlapping")
        var keys = 0
        try db.scan(cf: .write) { _, _ in keys += 1; return true }
        #expect(keys == spans * 20)
        #expect(try db.get(DataKey.make(bytes("t00395_019")), cf: .write)?.count == 200)
    }
}
