import Foundation
import Testing
@testable import TestSupport
@testable import EmbeddedCluster

/// The store's record of which entry ingested each SST, read back from a real RocksDB.
@Suite struct IngestRecordsTests {
    @Test func anIngestRecordEntersWithItsFilesAndCountsOnce() throws {
        let dir = try TemporaryDirectory()
        let store = try Store(id: 1, clusterDirectory: dir.path)
        let record = dir.file("record.sst")
        try IngestRecords.write([(uuids: ["u2write", "u2default"], entry: 12)], to: record)
        try store.db.ingest([(cf: .default, path: record)])
        let records = IngestRecords(db: store.db)
        #expect(try records.ingestingEntry(uuid: "u2write") == 12)
        #expect(try records.ingestingEntry(uuid: "u2") == nil, "a uuid is matched whole, not by prefix")
        #expect(try records.counts() == ["u2write": 1, "u2default": 1])
    }
}
