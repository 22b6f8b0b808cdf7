import Foundation
import Testing
@testable import TestSupport
@testable import KeyCodec
@testable import ExternalStorage
@testable import BackupFormat
@testable import ClusterAPI
@testable import EmbeddedCluster
import LoopbackServer

/// A full backup restored, then the incremental one on top of it (`--incremental`: rows ending in
/// 0 updated, in 5 deleted), at a timestamp the cluster's TSO gives, as BR restores one: every
/// replica then reads as the second backup's state. Read here from each store's write and default
/// CFs, the newest version of each row first.
@Suite(.serialized) struct IncrementalTests {
    static let rows = 2_000, tables = 2
    static let map = ["--table-id-map", "100:200,101:201"]

    func produce(_ dir: TemporaryDirectory) throws -> (full: String, incremental: String) {
        var o = BackupProducer.Options()
        o.tables = Self.tables
        o.rows = Self.rows
        o.fileSize = 64 << 10
        try BackupProducer(storage: LocalStorage(root: dir.file("full")), options: o).produce()
        o.incremental = true
        try BackupProducer(storage: LocalStorage(root: dir.file("incremental")), options: o).produce()
        return (dir.file("full"), dir.file("incremental"))
    }

    /// Each store's rows of table `id`: the newest version of each record key (nil when it is a
    /// delete), as a read at the newest timestamp sees them.
    static func rows(of id: Int64, in store: Store) throws -> [Int64: [UInt8]] {
        var newest: [[UInt8]: (record: WriteRecord, ts: UInt64)] = [:]
        // The table's first key encoded sorts before all of its keys (memcomparable keeps order).
        let table = TableCodec.tablePrefix(id)
        try store.db.scan(cf: .write, from: [DataKey.prefix] + Memcomparable.encode(table)) { key, value in
            guard let mvcc = try? MVCCKey(decoding: key.dropFirst()), mvcc.userKey.starts(with: table) else { return false }
            if newest[mvcc.userKey] == nil, let record = try? WriteRecord(decoding: Array(value)) { newest[mvcc.userKey] = (record, mvcc.timestamp) }
            return true
        }
        let defaults = try store.db.makeCursor(cf: .default)
        var out: [Int64: [UInt8]] = [:]
        for (userKey, entry) in newest {
            guard case let .record(_, handle)? = TableCodec.decode(userKey), entry.record.kind == .put else { continue }
            if let short = entry.record.shortValue {
                out[handle] = short
            } else {
                _ = try defaults.withValue(at: [DataKey.prefix] + MVCCKey(userKey: userKey, timestamp: entry.record.startTS).encoded) { out[handle] = Array($0) }
            }
        }
        return out
    }

    /// What the two backups leave: updated rows, deleted rows gone, the rest as the full one has it.
    /// A follower applies what was committed once its region wakes: each is woken until every
    /// store holds the whole table, or 20 seconds pass.
    static func expectSecondState(_ cluster: Cluster, _ comment: Comment) async throws {
        try? await waitUntil(timeout: .seconds(20)) {
            for region in await cluster.pd.allRegions { cluster.pd.awake.wake(region.id) }
            return cluster.stores.values.allSatisfy { store in
                (0..<tables).allSatisfy { t in (try? rows(of: 200 + Int64(t), in: store))?.count == Self.rows - Self.rows / 10 }
            }
        }
        for store in cluster.stores.values {
            for t in 0..<tables {
                let rows = try rows(of: 200 + Int64(t), in: store)
                #expect(rows.count == Self.rows - Self.rows / 10, "store \(store.id) table \(t): \(rows.count) rows; \(comment)")
                for h in [0, 5, 7, 10, 15, 1_999] {
                    let expected: [UInt8]? = h % 10 == 5 ? nil : BackupProducer.rowValue(seed: 1, table: 100 + Int64(t), handle: h, version: h % 10 == 0 ? 1 : 0)
                    #expect(rows[Int64(h)] == expected, "store \(store.id) table \(t) row \(h); \(comment)")
                }
            }
        }
    }

    @Test func anIncrementalBackupRestoresOnTopOfTheFullOneInProcess() async throws {
        let dir = try TemporaryDirectory()
        let (full, incremental) = try produce(dir)
        let first = try runConsole(["restore", "--headless", "--storage", full, "--cluster", dir.file("cluster")] + Self.map)
        #expect(first.status == 0, "\(first.stderr)")
        let dry = try runConsole(["restore", "--dry-run", "--storage", incremental, "--cluster", dir.file("cluster")] + Self.map)
        #expect(dry.stdout.contains("incremental (versions 450000000000000001 to 450000000001000001), restored at timestamp"), "\(dry.stdout)")
        #expect(dry.stdout.contains("(from the cluster's TSO)"), "\(dry.stdout)")
        let second = try runConsole(["restore", "--headless", "--storage", incremental, "--cluster", dir.file("cluster")] + Self.map)
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stderr.contains("checksum skipped: the backup is incremental"), "\(second.stderr)")
        let cluster = try await Cluster.open(directory: dir.file("cluster"))
        try await Self.expectSecondState(cluster, "in process")
        await cluster.close()
    }

    /// Over --pd the new timestamp comes from PD's TSO stream.
    @Test func anIncrementalBackupRestoresOnTopOfTheFullOneOverGRPC() async throws {
        let dir = try TemporaryDirectory()
        let (full, incremental) = try produce(dir)
        let served = try ServedCluster(directory: dir.file("cluster"))
        for backup in [full, incremental] {
            let out = try runConsole(["restore", "--headless", "--storage", backup, "--pd", served.pd, "--state-dir", dir.file("state")] + Self.map)
            #expect(out.status == 0, "\(out.stderr)")
        }
        #expect(served.stop() == 0)
        let cluster = try await Cluster.open(directory: dir.file("cluster"))
        try await Self.expectSecondState(cluster, "over gRPC")
        await cluster.close()
    }
}
