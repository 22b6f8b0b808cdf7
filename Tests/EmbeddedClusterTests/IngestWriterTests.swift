import Foundation
import Testing
@testable import TestSupport
@testable import KeyCodec
@testable import ClusterAPI
@testable import EmbeddedCluster
@testable import ExternalStorage

/// A store's applies of many regions go into one RocksDB ingest.
@Suite(.serialized) struct IngestWriterTests {
    /// Closed ranges of integers stand for the applies: those that overlap never share an ingest.
    @Test func anApplyThatOverlapsAnEarlierOneWaitsAndKeepsItsPlace() {
        let overlaps = { (a: ClosedRange<Int>, b: ClosedRange<Int>) in a.overlaps(b) }
        var pending = [0...10, 5...15, 20...30, 12...13, 40...50]
        #expect(GroupCommit<Int, Never>.takeBatch(from: &pending, max: 64, conflict: overlaps) == [0...10, 20...30, 40...50])
        // 12...13 overlaps nothing taken, but 5...15 before it: it waits behind it.
        #expect(pending == [5...15, 12...13])
        #expect(GroupCommit<Int, Never>.takeBatch(from: &pending, max: 64, conflict: overlaps) == [5...15])
        #expect(GroupCommit<Int, Never>.takeBatch(from: &pending, max: 64, conflict: overlaps) == [12...13])
        #expect(pending.isEmpty)

        var many = (0..<100).map { $0 * 10...$0 * 10 + 5 }
        #expect(GroupCommit<Int, Never>.takeBatch(from: &many, max: 64, conflict: overlaps).count == 64)
        #expect(many.first == 640...645, "the rest in order")
    }

    /// Eight regions' files on one store, ingested in one go: one apply record for all of them,
    /// each file recorded with its own entry, every key readable, by us and by `ldb`.
    @Test func theAppliesOfManyRegionsEnterInOneIngestWithOneRecord() async throws {
        let f = try await ImportFixture()
        let regions = try await splitTable(of: f, into: 8)
        let store = f.cluster.store(1)!
        var batch: [SSTIngestion] = []
        for (i, region) in regions.enumerated() {
            let files = try await f.download(for: region, uuidSuffix: "-\(region.id)")
            batch.append(SSTIngestion(store: store, command: IngestCommand(regionID: region.id, epoch: region.epoch, files: files), entry: UInt64(100 + i)))
        }
        #expect(!batch.indices.contains { i in batch.indices.contains { j in i != j && batch[i].overlaps(batch[j]) } })
        let recordTables = { store.db.tableFiles(cf: .default).filter { $0.smallest.starts(with: IngestRecords.start) }.count }
        let recordsBefore = recordTables()

        try SSTIngestion.run(batch, on: store)

        #expect(recordTables() == recordsBefore + 1, "one apply record for the eight applies")
        let records = IngestRecords(db: store.db)
        for ingestion in batch {
            for file in ingestion.command.files {
                #expect(try records.ingestingEntry(uuid: file.uuid) == ingestion.entry)
                #expect(!FileManager.default.fileExists(atPath: SSTIngestion.importPath(of: file, in: ingestion.command, store: store)))
            }
        }
        var keys = 0
        try store.db.scan(cf: .write, from: [DataKey.prefix]) { _, _ in keys += 1; return true }
        #expect(keys == 2_000 + 2_000)
        await f.close()
        #expect(try f.ldbKeys(store: 1, cf: .write).count == 2_000 + 2_000)
    }

    /// A store that held no apply record when it opened answers for a uuid it never ingested
    /// without reading the DB, and finds what it ingested; over a DB that already holds records
    /// (a reopened store), every lookup asks the DB.
    @Test func recordsAreFoundWithAndWithoutReadingTheDB() async throws {
        let f = try await ImportFixture()
        let region = try await splitTable(of: f, into: 2)[0]
        let store = f.cluster.store(1)!
        let files = try await f.download(for: region, uuidSuffix: "-known")
        #expect(!store.knownIngests.mayHold(files[0].uuid))
        #expect(!store.hasIngested(uuid: files[0].uuid))
        try SSTIngestion.run([SSTIngestion(store: store, command: IngestCommand(regionID: region.id, epoch: region.epoch, files: files), entry: 42)], on: store)
        for file in files {
            #expect(store.hasIngested(uuid: file.uuid))
            #expect(try store.records.ingestingEntry(uuid: file.uuid) == 42)
        }
        #expect(!store.knownIngests.mayHold("never-ingested"))
        let reopened = KnownIngests(db: store.db)
        #expect(reopened.mayHold("never-ingested"), "records from before: the DB must say")
        #expect(IngestRecords(db: store.db, known: reopened).wasIngested(uuid: files[0].uuid))
        #expect(!IngestRecords(db: store.db, known: reopened).wasIngested(uuid: "never-ingested"))
        await f.close()
    }

    /// Sixteen regions ingested at once through their leaders: every replica holds every key, and
    /// no file is ingested twice, whichever applies shared an ingest.
    @Test func concurrentIngestsOfManyRegionsEachApplyOnce() async throws {
        let f = try await ImportFixture()
        let regions = try await splitTable(of: f, into: 16)
        var requests: [(IngestRequest, UInt64)] = []
        for region in regions {
            let files = try await f.download(for: region, uuidSuffix: "-\(region.id)")
            let leader = try await f.cluster.pd.waitForLeader(region.id)
            requests.append((IngestRequest(regionID: region.id, epoch: region.epoch, files: files), leader.storeID))
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (request, store) in requests {
                let service = f.services[store]!
                group.addTask { try await service.ingest(request) }
            }
            try await group.waitForAll()
        }
        for region in regions { try await waitUntilApplied(f, region: region.id) }
        let uuids = Set(requests.flatMap { $0.0.files.map(\.uuid) })
        for store in 1...3 {
            let counts = try f.cluster.store(UInt64(store))!.appliedIngestCounts()
            #expect(Set(counts.keys) == uuids, "store \(store)")
            #expect(counts.values.allSatisfy { $0 == 1 }, "store \(store): \(counts.filter { $0.value != 1 })")
        }
        await f.close()
        for store in 1...3 { #expect(try f.ldbKeys(store: UInt64(store), cf: .write).count == 2_000 + 2_000, "store \(store)") }
    }

    /// Splits the fixture's table 200 (2,000 rows) into `count` regions of equal row counts.
    private func splitTable(of f: ImportFixture, into count: Int) async throws -> [Region] {
        let bounds = (1..<count).map { Memcomparable.encode(TableCodec.recordKey(tableID: 200, handle: Int64($0 * 2_000 / count))) }
        _ = try await f.cluster.pd.splitAt([f.tableStart] + bounds + [f.tableEnd])
        let regions = await f.cluster.pd.regions(overlapping: KeyRange(start: f.tableStart, end: f.tableEnd))
        #expect(regions.count == count)
        return regions
    }
}
