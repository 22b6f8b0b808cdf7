import Foundation
import Testing
@testable import TestSupport
@testable import BackupFormat
@testable import ExternalStorage
import LoopbackServer
import KVWire
@testable import RemoteCluster

/// PD's schedulers and schedule config, as a restore over `--pd` leaves them on every way it can
/// end. What BR v8 does, and so what the client must do, is in tidb br/pkg/pdutil/pd.go: pause
/// the balance, shuffle and evict-slow-store schedulers PD runs (`Schedulers`) for 300 s, set
/// `expectPDCfgGenerators`' values with a TTL, renew both, and set back the values read first
/// (`restoreSchedulers`). PD's side
/// is read by Python's urllib, not by the client under test.
@Suite(.serialized) struct SchedulePauseTests {
    /// BR's pause, for the embedded PD's defaults (4, 2048, 64, 8) and 3 stores: limits times the
    /// stores up to 40, no merging, no location replacement, pending peers unlimited.
    static let pausedConfig = "pd: config enable-location-replacement=false leader-schedule-limit=12 max-pending-peer-count=2147483647 max-snapshot-count=40 merge-schedule-limit=0 region-schedule-limit=40 for 300 s"
    /// The schedulers of BR's list that the embedded PD runs.
    static let balanceSchedulers = ["balance-hot-region-scheduler", "balance-leader-scheduler", "balance-region-scheduler", "evict-slow-store-scheduler"]

    struct Setup {
        let dir: TemporaryDirectory
        let backup: String
        let served: ServedCluster
        let serveLog: String
        let restore: [String]
        let certs: String?

        init(tls: Bool = false, rows: Int = 3_000, storageRoot: String? = nil) throws {
            dir = try TemporaryDirectory()
            var o = BackupProducer.Options()
            o.tables = 2
            o.rows = rows
            o.fileSize = 128 << 10
            try BackupProducer(storage: LocalStorage(root: dir.file("backup")), options: o).produce()
            backup = dir.file("backup")
            serveLog = dir.file("serve.log")
            var serverTLS: [String] = [], clientTLS: [String] = []
            if tls {
                let certs = dir.file("certs")
                try FileManager.default.createDirectory(atPath: certs, withIntermediateDirectories: true)
                try makeCertificates(in: certs, ca: "ca", names: ["server", "client"])
                serverTLS = ["--ca", "\(certs)/ca.pem", "--cert", "\(certs)/server.pem", "--key", "\(certs)/server.key"]
                clientTLS = ["--ca", "\(certs)/ca.pem", "--cert", "\(certs)/client.pem", "--key", "\(certs)/client.key"]
                self.certs = certs
            } else {
                certs = nil
            }
            let root = storageRoot ?? dir.path
            served = try ServedCluster(binary: consoleBinary, directory: dir.file("cluster"), arguments: ["--storage-root", root] + serverTLS, stderr: serveLog)
            restore = ["restore", "--headless", "--storage", backup, "--pd", served.pd, "--state-dir", dir.file("state"), "--merge-size", "256K"] + wireTableIDs(2) + clientTLS
        }

        var base: String { "\(certs == nil ? "http" : "https")://\(served.pd)/pd/api/v1" }

        /// GET from PD's HTTP API through Python's urllib (with the client certificate under TLS).
        func get(_ path: String) throws -> Any {
            let script = """
                import ssl, sys, urllib.request
                ctx = None
                if len(sys.argv) > 2:
                    ctx = ssl.create_default_context(cafile=sys.argv[2] + '/ca.pem')
                    ctx.load_cert_chain(sys.argv[2] + '/client.pem', sys.argv[2] + '/client.key')
                print(urllib.request.urlopen(sys.argv[1], context=ctx, timeout=10).read().decode())
                """
            let out = try runProgram("python3", ["-c", script, base + path] + (certs.map { [$0] } ?? []))
            return try JSONSerialization.jsonObject(with: Data(out.stdout.utf8), options: .fragmentsAllowed)
        }

        func paused() throws -> [String] { (try get("/schedulers?status=paused") as? [String] ?? ["unreadable"]).sorted() }
        func config() throws -> NSDictionary { try get("/config/schedule") as? NSDictionary ?? [:] }

        /// PD's changes, as `cluster serve` says them.
        var changes: [String] {
            ((try? String(contentsOfFile: serveLog, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init).filter { $0.hasPrefix("pd: ") }
        }

        /// Waits until the restore has paused everything at PD.
        func waitForThePause() async throws {
            try await waitUntil(timeout: .seconds(30)) { changes.contains(SchedulePauseTests.pausedConfig) }
        }

        /// Everything paused was resumed after the pause, and the config is what it was.
        func expectSetBack(to original: NSDictionary, _ comment: Comment? = nil) throws {
            let changes = changes
            let paused = changes.lastIndex(of: SchedulePauseTests.pausedConfig)
            for scheduler in SchedulePauseTests.balanceSchedulers {
                let resumed = changes.lastIndex(of: "pd: resumed \(scheduler)")
                #expect(resumed != nil && paused != nil && resumed! > paused!, "\(scheduler) resumed after the pause: \(changes)")
            }
            #expect(try self.paused() == [], comment)
            #expect(try config() == original, comment)
        }
    }

    /// A restore over mutual TLS pauses exactly BR's schedulers (those of its list that PD runs)
    /// and sets BR's config, then sets every value back.
    @Test func aRestorePausesPDsSchedulersAsBRDoesAndSetsThemBack() async throws {
        let s = try Setup(tls: true)
        let original = try s.config()
        #expect(original["merge-schedule-limit"] as? Int == 8)
        let out = try runConsole(s.restore)
        #expect(out.status == 0, "\(out.stderr)")
        let changes = s.changes
        for scheduler in Self.balanceSchedulers { #expect(changes.contains("pd: paused \(scheduler) for 300 s"), "\(changes)") }
        #expect(changes.contains(Self.pausedConfig), "\(changes)")
        #expect(changes.filter { $0.hasPrefix("pd: paused ") }.count == Self.balanceSchedulers.count, "\(changes)")
        try s.expectSetBack(to: original)
        #expect(!FileManager.default.fileExists(atPath: s.dir.file("state/pd-schedule-pause.json")), "the record goes with the pause")
        #expect(s.served.stop() == 0)
    }

    /// SIGINT or SIGTERM in the middle of a headless restore: it stops (exit 1), and PD's
    /// schedulers and config are set back before the process ends.
    @Test(arguments: [SIGINT, SIGTERM]) func aSignalStopsTheRestoreAndSetsPDBack(_ signal: Int32) async throws {
        let s = try Setup(rows: 12_000)
        let original = try s.config()
        let process = try startConsole(s.restore + ["--rate", "1M"], stderr: s.dir.file("restore.err"))
        try await s.waitForThePause()
        kill(process.processIdentifier, signal)
        process.waitUntilExit()
        let stderr = (try? String(contentsOfFile: s.dir.file("restore.err"), encoding: .utf8)) ?? ""
        #expect(process.terminationReason == .exit && process.terminationStatus == 1, "\(stderr)")
        #expect(stderr.contains("[restore stopped]") || stderr.contains("stopped"), "\(stderr)")
        try s.expectSetBack(to: original, "\(stderr)")
        #expect(s.served.stop() == 0)
    }

    /// A restore whose downloads all fail (the server may not read the backup) ends in failure
    /// and still sets PD back.
    @Test func aFailedRestoreSetsPDBack() async throws {
        let elsewhere = try TemporaryDirectory()
        let s = try Setup(storageRoot: elsewhere.path)
        let original = try s.config()
        let out = try runConsole(s.restore)
        #expect(out.status != 0, "\(out.stderr)")
        try s.expectSetBack(to: original, "\(out.stderr)")
        #expect(s.served.stop() == 0)
    }

    /// kill -9 leaves the pause at PD (until its TTL) and the record in the state directory: a
    /// dry run says so, and the next run says so and sets back the recorded values, not the
    /// paused ones PD shows it.
    @Test func aKilledRestoreLeavesARecordThatTheNextRunSetsBack() async throws {
        let s = try Setup(rows: 12_000)
        let original = try s.config()
        let process = try startConsole(s.restore + ["--rate", "1M"])
        try await s.waitForThePause()
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(try s.paused() == Self.balanceSchedulers)
        #expect(try s.config()["merge-schedule-limit"] as? Int == 0)
        #expect(FileManager.default.fileExists(atPath: s.dir.file("state/pd-schedule-pause.json")))

        let dry = try runConsole(s.restore + ["--dry-run"])
        #expect(dry.stdout.contains("an earlier restore that was killed left them paused"), "\(dry.stdout)")
        let resumed = try runConsole(s.restore)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stderr.contains("an earlier restore paused PD's balance-hot-region-scheduler, balance-leader-scheduler, balance-region-scheduler, evict-slow-store-scheduler"), "\(resumed.stderr)")
        try s.expectSetBack(to: original, "\(resumed.stderr)")
        #expect(s.served.stop() == 0)
    }
}

/// PD's HTTP API that does not answer: the error names the API, each address tried and why, so
/// that the precheck (and `--keep-schedulers`) can say what to do.
@Suite struct PDHTTPTests {
    @Test func anUnreachableHTTPAPIIsNamed() async throws {
        let closed = try freePort()
        let api = PDHTTP(addresses: { [WireAddress(host: "127.0.0.1", port: closed)] }, security: nil)
        do {
            _ = try await SchedulePause.pausedNow(api)
            Issue.record("a closed port answered")
        } catch {
            #expect(error.description.contains("cannot reach PD's HTTP API at 127.0.0.1:\(closed)"), "\(error)")
            #expect(error.description.contains("GET http://127.0.0.1:\(closed)/pd/api/v1/schedulers?status=paused"), "\(error)")
        }
    }
}
