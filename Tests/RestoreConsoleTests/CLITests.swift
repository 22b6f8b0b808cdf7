import Foundation
import Testing
@testable import TestSupport
@testable import KeyCodec
@testable import ExternalStorage
@testable import BackupFormat
@testable import ClusterAPI
@testable import EmbeddedCluster
import RestoreDriver

/// Waits until a restore's checkpoint holds its header and three pieces, then kills it with SIGKILL.
func killAfterThreePieces(_ process: Process, checkpoints: String) async throws {
    try await waitUntil(timeout: .seconds(60)) {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: checkpoints)) ?? []
        guard let name = names.first, let data = FileManager.default.contents(atPath: checkpoints + "/" + name) else { return false }
        return data.split(separator: UInt8(ascii: "\n")).count >= 4
    }
    kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
    #expect(process.terminationReason == .uncaughtSignal)
}

/// Every store applied each SST it holds once: one apply record per SST, and no more.
func expectEachSSTAppliedOnce(clusterDirectory: String) async throws {
    let cluster = try await Cluster.open(directory: clusterDirectory)
    for store in cluster.stores.values {
        let counts = try store.appliedIngestCounts()
        #expect(!counts.isEmpty)
        for (uuid, count) in counts { #expect(count == 1, "store \(store.id) applied \(uuid) \(count) times") }
    }
    await cluster.close()
}

/// A small backup (2 tables) in a new bucket of the S3 server on `port`, written with these
/// credentials; returns its URL.
func makeS3Backup(port: Int, prefix: String, key: String, secret: String, cipher: BackupCipher? = nil) throws -> String {
    let url = "s3://restore-bk/\(prefix)?endpoint=http://127.0.0.1:\(port)"
    let storage = S3Storage(location: try #require({ if case let .s3(l) = try StorageLocation.parse(url) { l } else { nil } }()), credentials: S3Credentials(accessKey: key, secretKey: secret))
    try storage.createBucket()
    var o = BackupProducer.Options()
    o.tables = 2
    o.rows = 2_000
    o.fileSize = 128 << 10
    o.cipher = cipher
    try BackupProducer(storage: storage, options: o).produce()
    return url
}

/// Neither credential is in any of `texts` or in any file under `roots`; returns how many texts
/// and files were read.
@discardableResult
func expectNoCredential(key: String, secret: String, in texts: [String], filesUnder roots: [String]) -> Int {
    var all = texts
    for root in roots {
        let walker = FileManager.default.enumerator(atPath: root)!
        while let name = walker.nextObject() as? String {
            if let data = FileManager.default.contents(atPath: root + "/" + name) { all.append(String(decoding: data, as: UTF8.self)) }
        }
    }
    for text in all {
        #expect(!text.contains(secret), "the secret leaked")
        #expect(!text.contains(key), "the access key leaked")
    }
    return all.count
}

@Suite(.serialized) struct CLITests {
    func makeBackup(_ dir: TemporaryDirectory, rows: Int = 4_000) throws -> String {
        var o = BackupProducer.Options()
        o.tables = 3
        o.rows = rows
        o.fileSize = 128 << 10
        try BackupProducer(storage: LocalStorage(root: dir.file("backup")), options: o).produce()
        return dir.file("backup")
    }

    func summary(_ out: CommandOutput) throws -> [String: Any] {
        let line = try #require(out.stdout.split(separator: "\n").last)
        return try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    }

    /// The open-files limit, hard and soft, set by the shell before the console starts.
    func runConsoleUnder(openFiles: Int, _ arguments: [String]) throws -> CommandOutput {
        let quoted = ([consoleBinary] + arguments).map { "'\($0)'" }.joined(separator: " ")
        return try runShell("ulimit -n \(openFiles) && exec \(quoted)")
    }

    /// A limit too low for the stores and the concurrency is refused before anything is written,
    /// naming the limit, what is needed and the flag; a limit that is enough restores with bounded
    /// table caches, and every store reopens.
    @Test func theOpenFilesLimitIsBudgetedAtStart() throws {
        let dir = try TemporaryDirectory()
        let backup = try makeBackup(dir, rows: 2_000)
        let arguments = ["restore", "--headless", "--json", "--storage", backup, "--cluster", dir.file("cluster"), "--merge-size", "64K"]
        let defaults = RestoreOptions()
        let needed = OpenFileBudget(limit: 0, stores: 3, downloadsPerStore: defaults.downloadsPerStore, concurrentIngests: defaults.concurrentIngests).needed
        let refused = try runConsoleUnder(openFiles: 200, arguments)
        #expect(refused.status == 2, "\(refused.stderr)")
        #expect(refused.stderr.contains("the open-files limit is 200, and this restore needs at least \(needed)"), "\(refused.stderr)")
        #expect(refused.stderr.contains("--downloads-per-store"))
        #expect(!FileManager.default.fileExists(atPath: dir.file("cluster")), "nothing is written")

        let restored = try runConsoleUnder(openFiles: needed, arguments)
        #expect(restored.status == 0, "\(restored.stderr.suffix(800))")
        #expect(try summary(restored)["checksum_match"] as? Bool == true)
        for store in 1...3 {
            let ldb = try runProgram("ldb", ["--db=\(dir.file("cluster"))/stores/\(store)/db", "--column_family=write", "scan", "--max_keys=1"])
            #expect(ldb.status == 0, "store \(store): \(ldb.stderr)")
        }
    }

    /// The shape of a real backup: well over a thousand small files into a thousand regions, under
    /// a soft open-files limit of 256 (the process raises it to the hard limit and budgets from
    /// there). Every store reopens, and the apply records are compacted as they go.
    @Test func aThousandRegionsOfSmallFilesUnderALowSoftLimit() async throws {
        let dir = try TemporaryDirectory()
        var o = BackupProducer.Options()
        o.tables = 4
        o.rows = 45_000
        o.fileSize = 48 << 10
        let backup = try BackupProducer(storage: LocalStorage(root: dir.file("backup")), options: o).produce()
        #expect(backup.files.count > 1_500)
        let out = try runShell("ulimit -Sn 256 && exec '\(consoleBinary)' restore --headless --json --storage '\(dir.file("backup"))' --cluster '\(dir.file("cluster"))' --merge-size 16K")
        #expect(out.status == 0, "\(out.stderr.suffix(800))")
        let json = try summary(out)
        #expect(json["checksum_match"] as? Bool == true)
        #expect((json["regions_total"] as? Int ?? 0) >= 1_000)
        for store in 1...3 {
            let ldb = try runProgram("ldb", ["--db=\(dir.file("cluster"))/stores/\(store)/db", "--column_family=write", "scan", "--max_keys=1"])
            #expect(ldb.status == 0, "store \(store): \(ldb.stderr)")
            let ssts = try FileManager.default.contentsOfDirectory(atPath: dir.file("cluster/stores/\(store)/db")).filter { $0.hasSuffix(".sst") }.count
            // A region per file set or two: in-flight regions lie between ingested ones, and small
            // neighbours still merge.
            #expect(ssts < backup.files.count / 10, "store \(store) holds \(ssts) SSTs for \(backup.files.count) backup files")
        }
        let reopened = try await Cluster.open(directory: dir.file("cluster"))
        #expect(await reopened.pd.regionCount >= 1_000)
        await reopened.close()
    }

    /// Many small files in few regions: they are ingested in batches, and each batch's small
    /// files are compacted, so no store keeps one SST per backup file.
    @Test func smallFilesInFewRegionsLeaveFewTablesInEachStore() async throws {
        let dir = try TemporaryDirectory()
        var o = BackupProducer.Options()
        o.tables = 1
        o.rows = 20_000
        o.fileSize = 4 << 10
        let backup = try BackupProducer(storage: LocalStorage(root: dir.file("backup")), options: o).produce()
        #expect(backup.files.count > 1_000)
        let out = try runConsole(["restore", "--headless", "--json", "--storage", dir.file("backup"), "--cluster", dir.file("cluster")])
        #expect(out.status == 0, "\(out.stderr.suffix(800))")
        #expect(try summary(out)["checksum_match"] as? Bool == true)
        for store in 1...3 {
            let db = dir.file("cluster/stores/\(store)/db")
            let ssts = try FileManager.default.contentsOfDirectory(atPath: db).filter { $0.hasSuffix(".sst") }.count
            #expect(ssts < backup.files.count / 10, "store \(store) holds \(ssts) SSTs for \(backup.files.count) backup files")
            // An independent reader finds every record of the first table's rows under the new id.
            let ldb = try runProgram("ldb", ["--db=\(db)", "--column_family=write", "--hex", "scan"])
            #expect(ldb.status == 0, "store \(store): \(ldb.stderr)")
            #expect(ldb.stdout.split(separator: "\n").count == o.tables * (o.rows + o.rows * o.indexes), "store \(store): every write record")
        }
    }

    /// The console allocates with jemalloc (Package.swift): a build that fell back to glibc's
    /// malloc would bring back its arena locks without a word. jemalloc prints its statistics at
    /// exit when `MALLOC_CONF` asks; glibc's malloc ignores the variable.
    @Test func theConsoleAllocatesWithJemalloc() throws {
        let out = try runConsole(["--help"], environment: ["MALLOC_CONF": "stats_print:true"])
        #expect(out.status == 0, "\(out.stderr.suffix(400))")
        #expect(out.stderr.contains("Begin jemalloc statistics"), "\(out.stderr.prefix(400))")
    }

    @Test func aRestorePrintsItsJSONSummaryAndExitsZero() throws {
        let dir = try TemporaryDirectory()
        let backup = try makeBackup(dir)
        let out = try runConsole(["restore", "--headless", "--json", "--storage", backup, "--cluster", dir.file("cluster"), "--merge-size", "256K"])
        #expect(out.status == 0, "\(out.stderr)")
        let json = try summary(out)
        #expect(json["status"] as? String == "ok")
        #expect(json["checksum_match"] as? Bool == true)
        #expect(json["kvs"] as? Int == 3 * 4_000 * 2)
        #expect((json["regions_total"] as? Int ?? 0) >= 3)
        for key in ["regions_ingested", "regions_failed", "files", "bytes", "elapsed_s", "retries"] { #expect(json[key] != nil, "\(key)") }
        #expect(out.stderr.contains("[restore ok]"))

        let verify = try runConsole(["verify", "--storage", backup, "--cluster", dir.file("cluster")])
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
        #expect(verify.stdout.contains("checksum matched"))

        let inspect = try runConsole(["inspect", "--cluster", dir.file("cluster"), "--json"])
        #expect(inspect.status == 0)
        #expect(inspect.stdout.contains("\"regions\""))

        // Only the owner can read the cluster: 0600 files, 0700 directories, RocksDB's included.
        var checked = 0
        let walker = FileManager.default.enumerator(atPath: dir.file("cluster"))!
        while let name = walker.nextObject() as? String {
            var info = stat()
            #expect(lstat(dir.file("cluster") + "/" + name, &info) == 0)
            let mode = info.st_mode & 0o777
            if info.st_mode & S_IFMT == S_IFDIR {
                #expect(mode == 0o700, "\(name) is \(String(mode, radix: 8))")
            } else if info.st_mode & S_IFMT == S_IFREG {
                #expect(mode & 0o077 == 0, "\(name) is \(String(mode, radix: 8))")
            }
            checked += 1
        }
        #expect(checked > 20)
    }

    @Test func aRestoreFromHTTPMatches() throws {
        let dir = try TemporaryDirectory()
        let backup = try makeBackup(dir, rows: 2_000)
        let server = try TestServer(script: "static_http.py", ["--root", backup])
        let out = try runConsole(["restore", "--headless", "--json", "--storage", "http://127.0.0.1:\(server.port)/", "--cluster", dir.file("cluster")])
        #expect(out.status == 0, "\(out.stderr)")
        #expect(try summary(out)["checksum_match"] as? Bool == true)
    }

    @Test func badInputExitsWithTwoAndAClearMessage() throws {
        let dir = try TemporaryDirectory()
        let missing = try runConsole(["restore", "--headless", "--storage", dir.file("nothing"), "--cluster", dir.file("c")])
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("backupmeta"))
        let backup = try makeBackup(dir, rows: 100)
        let badRule = try runConsole(["restore", "--headless", "--storage", backup, "--cluster", dir.file("c2"), "--rewrite", "nonsense"])
        #expect(badRule.status == 2)
        #expect(badRule.stderr.contains("OLD=NEW"))
        let scheme = try runConsole(["restore", "--headless", "--storage", "ftp://host/x", "--cluster", dir.file("c3")])
        #expect(scheme.status == 2)
        #expect(scheme.stderr.contains("unknown scheme"))
    }

    /// kill -9 in the middle of a restore, then the same command: it resumes from the checkpoint,
    /// matches the checksum, and no SST is ingested twice.
    @Test func aKilledRestoreResumesWithoutIngestingTwice() async throws {
        let dir = try TemporaryDirectory()
        let backup = try makeBackup(dir, rows: 12_000)
        let args = ["restore", "--headless", "--storage", backup, "--cluster", dir.file("cluster"), "--merge-size", "256K"]
        let process = try startConsole(args + ["--rate", "1M"])
        try await killAfterThreePieces(process, checkpoints: dir.file("cluster") + "/checkpoints")

        let resumed = try runConsole(args + ["--json"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(try summary(resumed)["checksum_match"] as? Bool == true)
        #expect(resumed.stderr.contains("resuming"))

        try await expectEachSSTAppliedOnce(clusterDirectory: dir.file("cluster"))
    }

    /// A restore from S3 with credentials: no output, log or file shows the secret.
    @Test func credentialsNeverAppearInAnyOutput() async throws {
        let server = try TestServer(script: "s3_server.py", [])
        let secret = "wJalrXUtnFEMI-K7MDENG-SECRET"
        let key = "AKIAIOSFODNN7EXAMPLE"
        let url = try makeS3Backup(port: server.port, prefix: "run1", key: key, secret: secret)

        let dir = try TemporaryDirectory()
        let env = ["AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret]
        let ok = try runConsole(["restore", "--headless", "--json", "--storage", url, "--cluster", dir.file("cluster")], environment: env)
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(try summary(ok)["checksum_match"] as? Bool == true)
        let failing = try runConsole(["restore", "--headless", "--json", "--storage", "s3://restore-bk/missing?endpoint=http://127.0.0.1:\(server.port)", "--cluster", dir.file("c2")], environment: env)
        #expect(failing.status == 2)
        let flagged = try runConsole(["restore", "--headless", "--storage", url, "--cluster", dir.file("c3"), "--s3-access-key", key, "--s3-secret-key", secret])
        #expect(flagged.status == 0)

        let plan = try runConsole(["restore", "--storage", url, "--cluster", dir.file("c5"), "--dry-run", "--json"], environment: env)
        #expect(plan.status == 0, "\(plan.stderr)")
        #expect(plan.stdout.contains("\"source\""))

        #expect(FileManager.default.fileExists(atPath: dir.file("cluster") + "/logs/restore.log"), "the log is read below, with every file of the cluster")
        var texts = [ok.stdout, ok.stderr, failing.stdout, failing.stderr, flagged.stdout, flagged.stderr, plan.stdout, plan.stderr]
        texts += try consoleScreens(url: url, cluster: dir.file("c4"), environment: env)
        expectNoCredential(key: key, secret: secret, in: texts, filesUnder: [dir.file("cluster"), dir.file("c3"), dir.file("c4")])
    }

    /// The console, in a real terminal (tmux), restoring with the credentials in its environment:
    /// every screen from start to end, and the help and detail views.
    func consoleScreens(url: String, cluster: String, environment: [String: String]) throws -> [String] {
        let socket = "restore-console-secrets-\(UUID().uuidString.prefix(8))"
        // Through popen, as the console tests do: tmux's server outlives the call.
        func tmux(_ arguments: String) throws -> String {
            guard let pipe = popen("tmux -L \(socket) \(arguments) 2>/dev/null </dev/null", "r") else { throw CocoaError(.fileReadUnknown) }
            var output = [UInt8]()
            var buffer = [UInt8](repeating: 0, count: 4096)
            while case let n = fread(&buffer, 1, buffer.count, pipe), n > 0 { output += buffer[0..<n] }
            pclose(pipe)
            return String(decoding: output, as: UTF8.self)
        }
        defer { _ = try? tmux("kill-server") }
        let env = environment.map { "\($0.key)='\($0.value)'" }.joined(separator: " ")
        _ = try tmux("new-session -d -s s -x 120 -y 36 \"env \(env) \(consoleBinary) restore --storage '\(url)' --cluster \(cluster) --rate 256K; sleep 30\"")
        var screens: [String] = []
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            let screen = try tmux("capture-pane -t s -p")
            screens.append(screen)
            if screens.count == 10 { _ = try tmux("send-keys -t s '?'") }
            if screens.count == 15 { _ = try tmux("send-keys -t s Escape Enter") }
            if screen.contains("checksum [match]") { break }
            Thread.sleep(forTimeInterval: 0.2)
        }
        #expect(screens.last?.contains("checksum [match]") == true, "\(screens.last ?? "")")
        return screens
    }
}
