import Foundation
import Testing
@testable import TestSupport
@testable import RestoreTestSupport
@testable import KeyCodec
@testable import ExternalStorage
@testable import BackupFormat
@testable import ClusterAPI
@testable import EmbeddedCluster
@testable import RestoreDriver
@testable import RemoteCluster
@testable import ClusterServer

/// BatchDownload (tikv src/import/sst_service.rs `batch_download`): a region's small files of one
/// column family fetched, rewritten and merged into one SST on each peer, then ingested once.
@Suite(.serialized) struct BatchDownloadTests {
    /// Successful downloads the driver recorded, over every region and peer.
    static func downloads(_ engine: RestoreEngine) -> Int {
        engine.monitor.snapshot().regions.reduce(0) { $0 + $1.history.filter { $0.step == .download && $0.error == nil }.count }
    }

    @Test(arguments: DriverTransport.allCases) func aRegionsSmallFilesTravelInOneBatchPerColumnFamily(transport: DriverTransport) async throws {
        let f = try await RestoreFixture(tables: 2, rows: 6_000, transport: transport)
        f.options.mergeSize = 2 << 20
        let engine = try await f.engine()
        #expect(await engine.run() == .success)
        #expect(try await f.checksumMatches(engine))
        let regions = engine.monitor.snapshot().regions.filter { $0.fileSetsTotal > 0 }.count
        #expect(Self.downloads(engine) <= regions * 2 * 3, "one BatchDownload a column family a peer: \(Self.downloads(engine)) for \(regions) regions")
        #expect(f.client.offersBatchDownload(store: 1))
        await f.close()
        for store in UInt64(1)...3 {
            #expect(try f.ldbUserKeys(store: store, cf: .write).count == 2 * 6_000 * 2, "every row and index entry on store \(store)")
        }

        // The same backup a file a Download: as many downloads as files, the same data.
        let g = try await RestoreFixture(tables: 2, rows: 6_000, transport: transport)
        g.options.mergeSize = 2 << 20
        g.options.batchDownload = nil
        let single = try await g.engine()
        #expect(await single.run() == .success)
        #expect(try await g.checksumMatches(single))
        #expect(Self.downloads(single) > Self.downloads(engine) * 3, "\(Self.downloads(single)) downloads against \(Self.downloads(engine)) batches")
        await g.close()
    }

    /// A batch's files fetched into memory (within the store's quota), to local files (none left),
    /// or some of each, merge into the same keys and values; the quota is whole again after each.
    @Test(arguments: [0, 150_000, 1 << 30] as [UInt64]) func memoryAndFilesMergeAlike(quota: UInt64) async throws {
        let f = try await RestoreFixture(tables: 1, rows: 3_000)
        let engine = try await f.engine()
        let files = f.backup.files.filter { $0.cf == .write }
        let sizes = files.map(\.size)
        #expect(files.count >= 3 && sizes.min()! <= 150_000 && sizes.reduce(0, +) > 150_000, "a quota of 150,000 holds some files and not others: \(sizes)")
        let region = try #require(await f.cluster.region(containing: []))
        let store = try #require(f.cluster.store(1))
        let service = ImportService(store: store, pd: f.cluster.pd, memoryQuota: quota)
        func merged(_ service: ImportService, uuid: String) async throws -> [[UInt8]] {
            let sst = SSTMeta(uuid: uuid, range: region.range, cf: .write, regionID: region.id, epoch: region.epoch)
            var request = DownloadRequest(sst: sst, name: "", storage: f.storage, expected: nil, rules: engine.rules.importRules, mode: engine.rules.mode, format: engine.rules.format)
            request.batch = files.map { BatchFile(name: $0.name, expected: $0.expectedContent) }
            _ = try await service.batchDownload(request)
            var rows: [[UInt8]] = []
            try SSTReader(path: "\(store.importDirectory)/\(sst.fileName)").scan { key, value in
                rows.append(Array(key) + [0xFF] + Array(value))
                return true
            }
            return rows
        }
        let viaFiles = try await merged(ImportService(store: store, pd: f.cluster.pd, memoryQuota: 0), uuid: "batchfiles0001")
        let viaQuota = try await merged(service, uuid: "batchquota\(quota)")
        #expect(!viaFiles.isEmpty)
        #expect(viaQuota == viaFiles)
        #expect(service.memoryQuota.inUse == 0)
        await f.close()
    }

    /// One file of the batch missing, then one corrupt: the batch fails naming it, and nothing is
    /// left to ingest.
    @Test func aMissingOrCorruptFileFailsTheBatchNamingIt() async throws {
        let f = try await RestoreFixture(tables: 1, rows: 3_000)
        let engine = try await f.engine()
        let files = f.backup.files.filter { $0.cf == .write }
        #expect(files.count >= 3)
        let region = try #require(await f.cluster.region(containing: []))
        let sst = SSTMeta(uuid: "batchtest0001", range: region.range, cf: .write, regionID: region.id, epoch: region.epoch)
        func request(_ batch: [BatchFile]) -> DownloadRequest {
            var r = DownloadRequest(sst: sst, name: "", storage: f.storage, expected: nil, rules: engine.rules.importRules, mode: engine.rules.mode, format: engine.rules.format)
            r.batch = batch
            return r
        }
        var batch = files.map { BatchFile(name: $0.name, expected: $0.expectedContent) }
        batch[1] = BatchFile(name: "1_missing_write.sst", expected: nil)
        await #expect { _ = try await f.cluster.batchDownload(request(batch), on: 1) } throws: { "\($0)".contains("1_missing_write.sst") }

        // Files each said to be as large as any SST may be: their sum is refused, not overflowed.
        let huge = ExpectedContent(size: 1 << 48, sha256: [UInt8](repeating: 0, count: 32))
        await #expect { _ = try await f.cluster.batchDownload(request(files.map { BatchFile(name: $0.name, expected: huge) }), on: 1) } throws: {
            "\($0)".contains("total more than any SST")
        }

        let victim = files[2].name
        var bytes = try Data(contentsOf: URL(fileURLWithPath: f.dir.file("backup/\(victim)")))
        bytes[bytes.count / 2] ^= 0x5A
        try bytes.write(to: URL(fileURLWithPath: f.dir.file("backup/\(victim)")))
        batch = files.map { BatchFile(name: $0.name, expected: $0.expectedContent) }
        await #expect { _ = try await f.cluster.batchDownload(request(batch), on: 1) } throws: { "\($0)".contains(victim) }
        let left = try FileManager.default.contentsOfDirectory(atPath: f.cluster.store(1)!.importDirectory).filter { $0.hasPrefix("batchtest0001") }
        #expect(left.isEmpty, "no merged SST for an ingest to find: \(left)")
        #expect(await f.cluster.holdsData(in: KeyRange(start: [], end: [])) == false)
        await f.close()
    }
}
