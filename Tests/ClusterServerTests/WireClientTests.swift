import Foundation
import Testing
@testable import TestSupport
@testable import KeyCodec
@testable import ExternalStorage
@testable import BackupFormat
@testable import ClusterAPI
@testable import EmbeddedCluster
@testable import KVWire
@testable import ClusterServer

/// Our server against a client that is not ours: Tests/WireClient/br_like_client.py, built from
/// kvproto's own protos with grpcio-tools, drives `ClusterServer` as BR does, and `ldb` then reads
/// the rewritten keys on every replica.
@Suite(.serialized) struct WireClientTests {
    static let script = wireClientScripts + "/br_like_client.py"

    /// `batch`: each region's files of a column family in one BatchDownload, merged into one SST.
    @Test(arguments: [false, true]) func aClientBuiltFromKvprotosProtosRestoresATableThroughOurServer(batch: Bool) async throws {
        let f = try await ServedBackup(tables: 2, rows: 4_000)
        let pd = f.pdAddress
        let backupDir = f.dir.file("backup")
        let out = try await BlockingIO.run {
            try runProgram("python3", [Self.script, "--pd", pd.description, "--backup", backupDir, "--old-table", "100", "--new-table", "9100", "--split-handle", "2000"] + (batch ? ["--batch"] : []))
        }
        #expect(out.status == 0, "client: \(out.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [String: Any], "\(out.stdout)")
        #expect(report["wrong_cluster_id"] as? String == "FAILED_PRECONDITION", "PD checks the cluster id")
        #expect(report["duplicate_detect"] as? String == "UNIMPLEMENTED", "unserved methods answer UNIMPLEMENTED")
        // What BR asks before it restores: versions it can parse, timestamps, a GC safe point.
        let versions = report["store_versions"] as? [String] ?? []
        #expect(versions.count == 3 && versions.allSatisfy { $0.split(separator: ".").count == 3 && $0.split(separator: ".").allSatisfy { Int($0) != nil } }, "\(versions)")
        let stamps = report["timestamps"] as? [Int] ?? []
        #expect(stamps.count == 2 && stamps[1] >= stamps[0] + 10, "a batch of 10 takes 10 logical values after the one before: \(stamps)")
        #expect((report["min_safe_point"] as? Int) == (stamps.first ?? 0) - 1)
        #expect(report["tso_refused"] as? [String] == ["UNKNOWN", "UNKNOWN"], "PD refuses a TSO batch of 0 and of 2^18")
        #expect((report["regions"] as? Int ?? 0) >= 2, "the split at the middle row made two regions of the table")
        let ingested = report["ssts_ingested"] as? [String: Int] ?? [:]
        if batch {
            #expect(ingested["write"] == report["regions"] as? Int, "one merged write SST a region: \(ingested)")
            #expect((report["files"] as? Int ?? 0) > (ingested["write"] ?? 0) + (ingested["default"] ?? 0), "fewer SSTs than files")
        }
        await f.close()

        // The backup's own entries of table 100, read with sst_dump, with the table's prefix
        // replaced: exactly what each store must hold for table 9100.
        var expected: [ColumnFamily: Set<[UInt8]>] = [:]
        for file in f.backup.files where file.tableID == 100 {
            let dump = try runProgram("sst_dump", ["--file=\(f.dir.file("backup"))/\(file.name)", "--command=scan", "--output_hex"])
            #expect(dump.status == 0, "sst_dump \(file.name): \(dump.stderr)")
            for line in dump.stdout.split(separator: "\n") where line.contains(" => ") {
                let parts = line.split(separator: " ")
                let key = try #require([UInt8](hex: String(parts[0].dropFirst().dropLast())))
                let value = try #require([UInt8](hex: String(parts.last!)))
                expected[file.cf, default: []].insert(try Self.entry(key, value, from: 100, to: 9100))
            }
        }
        #expect(expected[.write]?.count ?? 0 > 1_000)
        for store in UInt64(1)...3 {
            for cf in [ColumnFamily.write, .default] {
                let scan = try runProgram("ldb", ["--db=\(f.dir.file("cluster"))/stores/\(store)/db", "--column_family=\(cf.name)", "--hex", "scan"])
                #expect(scan.status == 0, "ldb: \(scan.stderr)")
                var restored = Set<[UInt8]>()
                for line in scan.stdout.split(separator: "\n") {
                    let parts = line.split(separator: " ")
                    guard parts.count == 3, let key = [UInt8](hex: String(parts[0])), let value = [UInt8](hex: String(parts[2])),
                          key.first == DataKey.prefix, let user = try? MVCCKey(decoding: key.dropFirst()).userKey,
                          TableCodec.decode(user)?.tableID == 9100 else { continue }
                    restored.insert(try Self.entry(key, value, from: 9100, to: 9100))
                }
                #expect(restored == expected[cf] ?? [], "store \(store) \(cf.name): \(restored.count) entries, \(expected[cf]?.count ?? 0) expected")
            }
        }
    }

    /// A data key and its value as one comparable entry: the user key moved to table `to`, the
    /// timestamp, and the value.
    static func entry(_ dataKey: [UInt8], _ value: [UInt8], from: Int64, to: Int64) throws -> [UInt8] {
        let mvcc = try MVCCKey(decoding: dataKey.dropFirst())
        let user = RewriteRule.table(from: from, to: to).apply(to: mvcc.userKey)
        return user + [0xFF] + Array(withUnsafeBytes(of: mvcc.timestamp.bigEndian, Array.init)) + value
    }
}

/// A backup beside an embedded cluster of three stores, served over kvproto's gRPC on loopback.
final class ServedBackup {
    let dir: TemporaryDirectory
    let backup: Backup
    let cluster: Cluster
    let server: ClusterServer
    let pdAddress: WireAddress

    init(tables: Int, rows: Int) async throws {
        dir = try TemporaryDirectory()
        var options = BackupProducer.Options()
        options.tables = tables
        options.rows = rows
        options.indexes = 1
        options.fileSize = 128 << 10
        backup = try BackupProducer(storage: LocalStorage(root: dir.file("backup")), options: options).produce()
        cluster = try await Cluster.open(directory: dir.file("cluster"), create: .init(stores: 3, replicas: 3))
        server = await ClusterServer(
            cluster: cluster, pd: WireAddress(host: "127.0.0.1", port: 0), pdMembers: 1, storeHost: "127.0.0.1", firstStorePort: 0, security: nil,
            storageAccess: StorageAccess(localRoots: [dir.file("backup")], endpoints: []))
        pdAddress = try await server.start().pd
    }

    func close() async {
        server.stop()
        await server.wait()
        await cluster.close()
    }
}

/// PD's HTTP port parses what any client sends it.
@Suite struct PDQueryTests {
    @Test func aQueryPairWithoutAKeyIsAnEmptyKey() {
        let (path, query) = PDRequestURI.split("/pd/api/v1/version?=&a=1&b&=2")
        #expect(path == "/pd/api/v1/version")
        #expect(query == ["": "2", "a": "1", "b": ""])
    }
}
