import CRocksDB
import Foundation
import KeyCodec
import BackupFormat
import ClusterAPI
import EmbeddedCluster

/// SST rewrite speed on one core: the importer's rewrite of a write-CF file (table 100 to 200,
/// legacy mode) against a plain C++ read+write copy of the same file through RocksDB.
enum RewriteBenchmark {
    struct Result {
        var rewriteMBps: Double
        var copyMBps: Double
        var fileBytes: UInt64
    }

    static func run(directory: String, targetBytes: UInt64) throws -> Result {
        let source = directory + "/source.sst"
        let writer = try SSTWriter(path: source)
        var handle: Int64 = 0
        var random = SyntheticRandom(seed: 9)
        while writer.fileSize < targetBytes {
            var key: [UInt8] = [DataKey.prefix]
            Memcomparable.encode(TableCodec.recordKey(tableID: 100, handle: handle), into: &key)
            DescendingTimestamp.append(450_000_000_000_000_000 - UInt64(handle % 1000), to: &key)
            let value = (0..<120).map { _ in UInt8(truncatingIfNeeded: random.next() % 26 + 97) }
            try writer.put(key: key, value: WriteRecord(kind: .put, startTS: 449_999_999_999_999_000, shortValue: value).encoded)
            handle += 1
        }
        let size = try writer.finish()

        let rules = try RewriteRules([RewriteRule.table(from: 100, to: 200).encoded])
        let rewriter = SSTRewriter(rules: rules, mode: .legacy, format: .transactional, cf: .write)
        // Alternate the two, five times each, and keep the best of each: on a shared machine the
        // slow runs measure the neighbours (and the disk's writeback), not the code.
        var copies: [Double] = [], rewrites: [Double] = []
        for round in 0..<5 {
            let copyStart = ContinuousClock.now
            if let error = copySST(source, to: directory + "/copy-\(round).sst") { throw BenchError.failed("copy: \(error)") }
            copies.append(seconds(ContinuousClock.now - copyStart))
            let start = ContinuousClock.now
            guard try rewriter.rewrite(source: source, destination: directory + "/rewritten-\(round).sst", name: "source.sst", region: .all) != nil else {
                throw BenchError.failed("the rewrite wrote nothing")
            }
            rewrites.append(seconds(ContinuousClock.now - start))
            unlink(directory + "/copy-\(round).sst")
            unlink(directory + "/rewritten-\(round).sst")
        }
        let mb = Double(size) / 1e6
        return Result(rewriteMBps: mb / rewrites.min()!, copyMBps: mb / copies.min()!, fileBytes: size)
    }

    /// RocksDB's own copy of an SST (`SstFileReader` to `SstFileWriter`, synced), the baseline of
    /// the rewrite and the floors; nil when it worked, or what went wrong.
    static func copySST(_ source: String, to destination: String) -> String? {
        var err: UnsafeMutablePointer<CChar>?
        return crdb_copy_sst(source, destination, &err) < 0 ? takeRocksDBError(err) : nil
    }

    static func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18 }
}

enum BenchError: Error {
    case failed(String)
}
