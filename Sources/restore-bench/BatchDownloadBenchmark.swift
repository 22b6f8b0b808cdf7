import Foundation
import KeyCodec
import ExternalStorage
import BackupFormat
import ClusterAPI
import EmbeddedCluster

/// One region's small files onto its three peers and into one MultiIngest: through a
/// BatchDownload per column family (each peer merges them into one SST) against a Download a
/// file, each into a fresh embedded cluster, in the same run.
enum BatchDownloadBenchmark {
    struct Result {
        var batchSeconds: Double
        var singleSeconds: Double
        var files: Int
    }

    static func run(directory: String, files wanted: Int = 256) async throws -> Result {
        let storage = LocalStorage(root: "\(directory)/batch-backup")
        var o = BackupProducer.Options()
        o.tables = 1
        o.indexes = 0
        o.rows = wanted * 60
        o.fileSize = 16 << 10
        let backup = try BackupProducer(storage: storage, options: o).produce()
        let files = Array(backup.files.prefix(wanted))
        guard files.count == wanted else { throw BenchError.failed("the backup holds \(backup.files.count) files, not \(wanted)") }
        let batch = try await restore(files, storage: storage, directory: "\(directory)/batch-cluster", batched: true)
        let single = try await restore(files, storage: storage, directory: "\(directory)/single-cluster", batched: false)
        return Result(batchSeconds: batch, singleSeconds: single, files: files.count)
    }

    /// The seconds from the first download to the ingest applied.
    private static func restore(_ files: [BackupFile], storage: LocalStorage, directory: String, batched: Bool) async throws -> Double {
        let cluster = try await Cluster.open(directory: directory, create: .init(stores: 3, replicas: 3))
        defer { try? FileManager.default.removeItem(atPath: directory) }
        guard let region = await cluster.region(containing: []) else { throw BenchError.failed("no region") }
        let rules = try RewriteRules([RewriteRule.table(from: 100, to: 200).encoded])
        let started = ContinuousClock.now
        let perPeer = try await withThrowingTaskGroup(of: [IngestFile].self) { group in
            for peer in region.peers {
                group.addTask {
                    var out: [IngestFile] = []
                    func request(_ uuid: String, _ cf: ColumnFamily, _ file: BackupFile) -> DownloadRequest {
                        let sst = SSTMeta(uuid: uuid, range: region.range, cf: cf, regionID: region.id, epoch: region.epoch)
                        return DownloadRequest(sst: sst, name: file.name, storage: storage, expected: file.expectedContent, rules: rules, mode: .legacy, format: .transactional)
                    }
                    if batched {
                        for cf in [ColumnFamily.default, .write] {
                            let group = files.filter { $0.cf == cf }
                            guard let first = group.first else { continue }
                            var r = request("batch\(cf.name)", cf, first)
                            r.batch = group.map { BatchFile(name: $0.name, expected: $0.expectedContent) }
                            let response = try await cluster.batchDownload(r, on: peer.storeID)
                            if !response.isEmpty { out.append(IngestFile(uuid: r.sst.uuid, cf: cf, range: response.range)) }
                        }
                    } else {
                        for (i, file) in files.enumerated() {
                            let r = request("file\(i)\(file.cf.name)", file.cf, file)
                            let response = try await cluster.download(r, on: peer.storeID)
                            if !response.isEmpty { out.append(IngestFile(uuid: r.sst.uuid, cf: file.cf, range: response.range)) }
                        }
                    }
                    return out
                }
            }
            var all: [[IngestFile]] = []
            for try await files in group { all.append(files) }
            return all
        }
        let leader = try await cluster.waitForLeader(of: region.id, timeout: .seconds(10))
        try await cluster.ingest(IngestRequest(regionID: region.id, epoch: region.epoch, files: perPeer[0]), on: leader.storeID)
        _ = try await cluster.readBarrier(region.id)
        let seconds = RewriteBenchmark.seconds(ContinuousClock.now - started)
        await cluster.close()
        return seconds
    }
}
