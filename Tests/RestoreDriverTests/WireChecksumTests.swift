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
@testable import KVWire
@testable import RemoteCluster
@testable import ClusterServer

/// The checksum over the wire, as BR takes it: a Coprocessor checksum from each region's leader
/// (tidb br/pkg/checksum/executor.go, tikv src/coprocessor/checksum.rs), held to TiKV's rules by
/// the server and compared with the stores read in process and with an independent client.
@Suite(.serialized) struct WireChecksumTests {
    @Test func aRestoreOverTheWireEndsWithEachLeadersChecksum() async throws {
        let f = try await RestoreFixture(tables: 2, rows: 3_000, transport: .grpc)
        let engine = try await f.engine()
        #expect(await engine.run() == .success)
        let messages = engine.monitor.snapshot().events.map(\.message)
        #expect(messages.contains { $0.hasPrefix("checksum: each region's leader reads its keys at ") }, "\(messages.suffix(5))")
        #expect(engine.monitor.snapshot().tables.allSatisfy { $0.checksum == .matched })
        // The figures are the backup's, and the stores read in process say the same.
        let total = f.backup.tables.reduce(into: KVChecksum()) { $0.merge($1.checksum) }
        #expect(RestoreFixture.matchedFigures(engine) == "checksum matched: \(total)", "\(messages.suffix(5))")
        #expect(try await f.checksumMatches(engine))
        #expect(try #require(f.server).rules.violations.isEmpty, "\(f.server?.rules.violations ?? [])")
        await f.close()
    }

    @Test func theChecksumFollowsLeadersAndSplitsThatRaceIt() async throws {
        let f = try await RestoreFixture(tables: 2, rows: 3_000, transport: .grpc)
        f.options.verifyChecksum = false
        let engine = try await f.engine()
        #expect(await engine.run() == .success)
        let server = try #require(f.server)
        let regionsBefore = await f.cluster.pd.allRegions.count
        server.raceChecksums(6)
        #expect(await engine.verifyChecksum() == .matched, "\(engine.monitor.snapshot().events.map(\.message).suffix(5))")
        #expect(server.faults.checksumRaced.load(ordering: .relaxed) == 6)
        #expect(await f.cluster.pd.allRegions.count > regionsBefore, "the races split regions")
        #expect(server.rules.violations.isEmpty, "\(server.rules.violations)")
        await f.close()
    }

    @Test func aReplicaChangedBehindTheServersBackIsAMismatchOnBothSides() async throws {
        let f = try await RestoreFixture(tables: 2, rows: 1_500, transport: .grpc)
        f.options.verifyChecksum = false
        let engine = try await f.engine()
        #expect(await engine.run() == .success)
        // One row's value changed on the replica that leads its region, and only there.
        let table = try #require(engine.rules.tableIDs[100])
        let userKey = TableCodec.recordKey(tableID: table, handle: 7)
        let region = try #require(await f.cluster.region(containing: Memcomparable.encode(userKey)))
        let leader = try await f.cluster.readBarrier(region.id)
        try RestoreFixture.tamper(userKey, in: try #require(f.cluster.stores[leader.storeID]).db)

        #expect(await engine.verifyChecksum() == .mismatched)
        #expect(engine.checksumMismatches.map(\.description).contains { $0.hasPrefix("table `demo`.`t1`: expected crc64xor=") }, "\(engine.checksumMismatches)")
        #expect(engine.checksumMismatches.count == 1, "only that table: \(engine.checksumMismatches)")
        // The same cluster read in process finds it too.
        f.options.verifyChecksum = true
        let inProcess = try await RestoreEngine.prepare(storage: f.storage, cluster: f.cluster, stateDirectory: f.stateDirectory, options: f.options)
        #expect(await inProcess.verifyChecksum() == .mismatched)
        #expect(inProcess.checksumMismatches.contains { $0.description.hasPrefix("table `demo`.`t1`") })
        await f.close()
    }

    /// Requests that TiKV would answer wrongly without an error are refused and recorded; region
    /// errors come back as TiKV sends them.
    @Test func theServerHoldsChecksumsToTiKVsRules() async throws {
        let f = try await RestoreFixture(tables: 1, rows: 1_000, transport: .grpc)
        let engine = try await f.engine()
        #expect(await engine.run() == .success)
        let remote = try #require(f.remote)
        let server = try #require(f.server)
        let table = try #require(engine.rules.tableIDs[100])
        let prefix = TableCodec.recordPrefix(table)
        let region = try #require(await remote.region(containing: Memcomparable.encode(prefix)))
        let leader = try #require(await f.cluster.leader(of: region.id))
        let readTS = try #require(await remote.timestamp())
        var request = RegionChecksumRequest(
            regionID: region.id, epoch: region.epoch, peer: leader, ranges: [KeyRange(start: prefix, end: RewriteRule.prefixEnd(prefix))], readTS: readTS,
            oldPrefix: TableCodec.recordPrefix(100), newPrefix: prefix, scanOn: .table)
        if !region.endKey.isEmpty {
            // A range past the region's end: TiKV would answer the region's part as if whole.
            request.ranges = [KeyRange(start: prefix, end: [0xFF])]
            await #expect { try await remote.checksum(request) } throws: { "\($0)".contains("ends past the region") }
        }
        let tableEnd = RewriteRule.prefixEnd(prefix)
        let regionEnd = region.endKey.isEmpty ? tableEnd : try Memcomparable.decode(region.endKey).key
        request.ranges = [KeyRange(start: prefix, end: keyLess(regionEnd, tableEnd) ? regionEnd : tableEnd)]
        request.readTS = 0
        await #expect { try await remote.checksum(request) } throws: { "\($0)".contains("start_ts 0") }
        #expect(server.rules.violations.count == (region.endKey.isEmpty ? 1 : 2))

        request.readTS = readTS
        var stale = request
        stale.epoch.version -= 1
        await #expect { try await remote.checksum(stale) } throws: { error in
            if case .region(.epochNotMatch) = error as? ImportError { return true }
            return false
        }
        let follower = try #require(region.peers.first { $0.storeID != leader.storeID })
        var misrouted = request
        misrouted.peer = follower
        await #expect { try await remote.checksum(misrouted) } throws: { error in
            if case let .region(.notLeader(_, named)) = error as? ImportError { return named?.storeID == leader.storeID }
            return false
        }
        let inProcess = try await f.cluster.checksum(request)
        #expect(try await remote.checksum(request) == inProcess)
        #expect(inProcess.totalKVs > 0)
        await f.close()
    }

    @Test func aPythonClientFromKvprotoAndTipbProtosGetsTheBackupsFigures() async throws {
        let f = try await RestoreFixture(tables: 2, rows: 2_500, transport: .grpc)
        let engine = try await f.engine()
        #expect(await engine.run() == .success)
        let pd = try #require(f.pdAddress)
        let table = try #require(engine.rules.tableIDs[100])
        let script = wireClientScripts + "/checksum_client.py"
        let out = try await BlockingIO.run { try runProgram("python3", [script, "--pd", pd.description, "--old-table", "100", "--new-table", "\(table)"]) }
        #expect(out.status == 0, "client: \(out.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [String: Any], "\(out.stdout)")
        let expected = try #require(f.backup.tables.first { $0.id == 100 }).checksum
        #expect(report["checksum"] as? UInt64 == expected.crc64xor, "\(report) vs \(expected)")
        #expect(report["total_kvs"] as? UInt64 == expected.totalKVs)
        #expect(report["total_bytes"] as? UInt64 == expected.totalBytes)
        #expect(report["requests"] as? Int ?? 0 >= 2, "the rows and the index, each in every region")
        #expect(try #require(f.server).rules.violations.isEmpty)
        await f.close()
    }
}
