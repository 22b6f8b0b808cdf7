import Foundation
import Testing
@testable import TestSupport
@testable import RestoreTestSupport
@testable import Failpoints
@testable import KeyCodec
@testable import ExternalStorage
@testable import BackupFormat
@testable import ClusterAPI
@testable import EmbeddedCluster
@testable import RestoreDriver
@testable import RestoreDrills

/// The fast subsets of the reliability campaigns (Docs/RELIABILITY.md): a few chaos seeds, crash
/// points in every phase, the committed fuzz corpus, and hostile environments (a full disk, a
/// read-only import directory).
@Suite(.serialized) struct ReliabilityTests {
    static let chaosBinary = "\(repositoryRoot)/.build/debug/restore-chaos"

    /// Seeds that between them drop HTTP responses, panic a store, and move, split, busy, stop
    /// and partition (see `ChaosSchedule`).
    @Test(arguments: [1, 2, 6] as [UInt64])
    func aChaosSeedEndsAsScheduled(seed: UInt64) async throws {
        let dir = try TemporaryDirectory()
        var o = BackupProducer.Options()
        o.tables = 2
        o.rows = 3_000
        o.fileSize = 96 << 10
        try BackupProducer(storage: LocalStorage(root: dir.file("backup")), options: o).produce()
        let schedule = ChaosSchedule(seed: seed)
        var server: TestServer?
        var storage: any ExternalStorage = LocalStorage(root: dir.file("backup"))
        if let drop = schedule.dropAfterBytes {
            server = try TestServer(script: "static_http.py", ["--root", dir.file("backup"), "--drop-after", "\(drop)"])
            storage = HTTPStorage(baseURL: "http://127.0.0.1:\(server!.port)/")
        }
        var run = ChaosRun(schedule: schedule, storage: storage, clusterDirectory: dir.file("cluster"))
        run.timeLimit = .seconds(90)
        let verdict = await run.run()
        #expect(verdict.passed, "\(schedule): \(verdict.outcome) \(verdict.problems)")
        _ = server
    }

    @Test func theSeedsOfTheFastSubsetCoverDropsAndAPanic() {
        let schedules = [1, 2, 6].map { ChaosSchedule(seed: $0) }
        #expect(schedules.contains { $0.dropAfterBytes != nil })
        #expect(schedules.contains { $0.panicStore != nil })
        #expect(ChaosSchedule(seed: 7).description == ChaosSchedule(seed: 7).description, "a seed always gives the same schedule")
    }

    /// SIGKILL at one point of each phase (split, download, rewrite, the two ingest windows,
    /// checksum), then the same command: every resume matches, and no store applied an SST twice.
    @Test func aRestoreKilledInEveryPhaseResumes() throws {
        let points = CrashPoint.allCases.count
        let out = try runExecutable(Self.chaosBinary, ["crash", "--points", "\(points)", "--binary", consoleBinary])
        #expect(out.status == 0, "\(out.stdout)\(out.stderr)")
        #expect(out.stdout.contains("crash: \(points) points, \(points) resumed with a matching checksum"), "\(out.stdout)")
        for phase in CrashPoint.allCases { #expect(out.stdout.contains("crash PASS \(phase.rawValue):"), "\(phase)") }
    }

    /// SIGKILL at seeded random instants, with a busy core beside the restore, then the same
    /// command: a window that no failpoint marks is covered too. The full campaign is
    /// `make crash RANDOM=100`.
    @Test func aRestoreKilledAtRandomInstantsResumes() throws {
        let out = try runExecutable(Self.chaosBinary, ["random-kill", "--runs", "3", "--seed", "1000", "--binary", consoleBinary])
        #expect(out.status == 0, "\(out.stdout)\(out.stderr)")
        #expect(out.stdout.contains("3 resumed with a matching checksum"), "\(out.stdout)")
    }
}

/// A restore into a cluster on a small tmpfs: the precheck refuses it; past the precheck, the disk
/// fills, the restore says so and stops without a crash; with room again, the same command resumes
/// and matches. Needs mount(2) (root).
@Suite(.serialized) struct HostileEnvironmentTests {
    func makeBackup(_ dir: TemporaryDirectory) throws -> String {
        var o = BackupProducer.Options()
        o.tables = 2
        o.rows = 20_000
        o.fileSize = 512 << 10
        try BackupProducer(storage: LocalStorage(root: dir.file("backup")), options: o).produce()
        return dir.file("backup")
    }

    func mount(_ arguments: [String]) throws {
        let out = try runProgram("mount", arguments)
        try #require(out.status == 0, "mount \(arguments): \(out.stderr)")
    }

    @Test func aFullDiskEndsWithAClearErrorAndResumesWithRoom() throws {
        let dir = try TemporaryDirectory()
        let backup = try makeBackup(dir)
        let disk = dir.file("disk")
        try FileManager.default.createDirectory(atPath: disk, withIntermediateDirectories: true)
        try mount(["-t", "tmpfs", "-o", "size=12m", "tmpfs", disk])
        defer { _ = try? runProgram("umount", [disk]) }
        let args = ["restore", "--headless", "--json", "--storage", backup, "--cluster", disk + "/cluster", "--download-attempts", "2", "--region-deadline", "20"]
        // The precheck sees that the disk is too small, and writes nothing.
        let refused = try runConsole(args)
        #expect(refused.status == 2, "\(refused.stderr)")
        #expect(refused.stderr.contains("precheck disk failed: stores 1, 2, 3 (one disk): "), "\(refused.stderr)")
        #expect(refused.stderr.contains("free, the restore needs") && refused.stderr.contains("--skip-precheck disk"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: disk).isEmpty, "nothing is written")

        // Past the precheck, the disk fills during the restore.
        let full = try runConsole(args + ["--skip-precheck", "disk"])
        #expect(full.status == 1 || full.status == 3, "\(full.stderr)")
        #expect(full.stderr.contains("disk") || full.stderr.contains("No space left"), "\(full.stderr)")
        #expect(ChaosRun.leftovers(in: disk + "/cluster").isEmpty)

        try mount(["-o", "remount,size=512m", disk])
        let resumed = try runConsole(args)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stdout.contains("\"checksum_match\":true"))
    }

    /// Fills the file system at `directory` with one file; returns its path.
    func fill(_ directory: String) -> String {
        let filler = directory + "/filler"
        let fd = open(filler, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        let chunk = [UInt8](repeating: 0x5A, count: 64 << 10)
        while chunk.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) > 0 {}
        close(fd)
        return filler
    }

    /// A store whose disk falls below its reserve takes no Raft write: the proposals it leads are
    /// told to come back later, no store panics (nor is one persisted as panicked), and once there
    /// is room the region goes on.
    @Test func aFullDiskHoldsRaftWritesUntilThereIsRoom() async throws {
        let dir = try TemporaryDirectory()
        let disk = dir.file("disk")
        try FileManager.default.createDirectory(atPath: disk, withIntermediateDirectories: true)
        try mount(["-t", "tmpfs", "-o", "size=64m", "tmpfs", disk])
        defer { _ = try? runProgram("umount", [disk]) }
        let cluster = try await Cluster.open(directory: disk + "/cluster", create: .init(stores: 3, replicas: 3))
        let leader = try await cluster.pd.waitForLeader(1)
        let group = try #require(await cluster.pd.group(1))
        #expect(await group.propose(.noop, viaStore: leader.storeID, timeout: .seconds(5)) == .applied)
        // Allocated, not written: the disk goes below the reserve at once, never to zero.
        let store = try #require(cluster.store(leader.storeID))
        let filler = disk + "/filler"
        let fd = open(filler, O_WRONLY | O_CREAT, 0o600)
        #expect(posix_fallocate(fd, 0, off_t(store.availableBytes() - store.reservedBytes / 2)) == 0)
        close(fd)
        #expect(store.diskPressure() != nil)
        let refused = await group.propose(.noop, viaStore: leader.storeID, timeout: .seconds(5))
        guard case let .rejected(.serverIsBusy(_, reason, _)) = refused else {
            Issue.record("expected ServerIsBusy, got \(refused)")
            return
        }
        #expect(reason.contains("almost full"), "\(reason)")
        #expect(cluster.stores.values.allSatisfy { $0.state == .up })

        unlink(filler)
        try await waitUntil(timeout: .seconds(20)) {
            guard let l = await group.leader else { return false }
            return await group.propose(.noop, viaStore: l.storeID, timeout: .seconds(2)) == .applied
        }
        await cluster.close()
        let reopened = try await Cluster.open(directory: disk + "/cluster")
        #expect(reopened.stores.values.allSatisfy { $0.state == .up }, "no store was persisted as panicked")
        await reopened.close()
    }

    /// A checkpoint on a full disk: a record that cannot be written throws, naming the file, and
    /// leaves the file as it was (no torn line); with room again, it is written.
    @Test func aCheckpointOnAFullDiskThrowsAndLeavesTheFileWhole() async throws {
        let dir = try TemporaryDirectory()
        let checkpoints = dir.file("checkpoints")
        try FileManager.default.createDirectory(atPath: checkpoints, withIntermediateDirectories: true)
        try mount(["-t", "tmpfs", "-o", "size=256k", "tmpfs", checkpoints])
        defer { _ = try? runProgram("umount", [checkpoints]) }
        let checkpoint = try Checkpoint(clusterDirectory: dir.path, header: .init(backup: "bk", tableIDs: [:], rules: []))
        let range = KeyRange(start: [1], end: [2])
        try await checkpoint.markDone(sets: [1], range: range)
        let before = try #require(FileManager.default.contents(atPath: checkpoint.path))
        let filler = fill(checkpoints)
        do {
            try await checkpoint.markDone(sets: Array(2..<2_000), range: range)
            Issue.record("a write to a full disk succeeded")
        } catch {
            #expect(error.description.contains(checkpoint.path) && error.description.contains("No space left on device"), "\(error)")
        }
        #expect(FileManager.default.contents(atPath: checkpoint.path) == before, "nothing torn is left")
        #expect(!checkpoint.isDone(set: 2, range: range))
        unlink(filler)
        try await checkpoint.markDone(sets: [2], range: range)
        let reopened = try Checkpoint(clusterDirectory: dir.path, header: .init(backup: "bk", tableIDs: [:], rules: []))
        #expect(reopened.isDone(set: 1, range: range) && reopened.isDone(set: 2, range: range))
    }

    /// A restore whose checkpoint's disk fills: the regions whose data is in wait, counted and
    /// shown as CheckpointWrite, instead of failing or trapping; once there is room the restore
    /// ends and every piece is recorded.
    @Test func aRestoreWaitsOutAFullCheckpointDisk() async throws {
        let f = try await RestoreFixture(tables: 2, rows: 3_000)
        let checkpoints = f.stateDirectory + "/checkpoints"
        try FileManager.default.createDirectory(atPath: checkpoints, withIntermediateDirectories: true)
        try mount(["-t", "tmpfs", "-o", "size=256k", "tmpfs", checkpoints])
        defer { _ = try? runProgram("umount", [checkpoints]) }
        let engine = try await f.engine()
        // The header's page of the file has room for lines without a new block: fill it with
        // blank lines (which a reader skips), so that the next line needs the disk.
        let log = try #require(try FileManager.default.contentsOfDirectory(atPath: checkpoints).first { $0.hasSuffix(".log") })
        let handle = try #require(FileHandle(forWritingAtPath: checkpoints + "/" + log))
        let size = handle.seekToEndOfFile()
        handle.write(Data(repeating: UInt8(ascii: "\n"), count: Int(4096 - size % 4096)))
        try handle.close()
        let filler = fill(checkpoints)
        let run = Task { await engine.run() }
        try await waitUntil(timeout: .seconds(60)) { (engine.monitor.snapshot().retries["CheckpointWrite"] ?? 0) > 0 }
        #expect(engine.monitor.snapshot().regions.contains { $0.waitingFor == .checkpointWrite(retryIn: .seconds(1)) })
        unlink(filler)
        #expect(await run.value == .success)
        #expect(try await f.checksumMatches(engine))
        let saved = try #require(try Checkpoint.read(at: checkpoints + "/" + log))
        #expect(saved.pieces.count == engine.plan.fileSets.count, "every file set is recorded")
        await f.close()
    }

    @Test func aReadOnlyImportDirectoryFailsItsDownloadsClearly() async throws {
        let dir = try TemporaryDirectory()
        let backup = try makeBackup(dir)
        let cluster = try await Cluster.open(directory: dir.file("cluster"), create: .init(stores: 3, replicas: 3))
        let importDirectory = cluster.store(1)!.importDirectory
        await cluster.close()
        try mount(["-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", importDirectory])
        defer { _ = try? runProgram("umount", [importDirectory]) }
        let out = try runConsole(["restore", "--headless", "--storage", backup, "--cluster", dir.file("cluster"), "--download-attempts", "2", "--region-deadline", "20"])
        #expect(out.status == 1, "\(out.stderr)")
        #expect(out.stderr.contains("Read-only file system"), "\(out.stderr)")
        #expect(out.stderr.contains(importDirectory), "the message names the directory")
    }
}
