import Foundation
import Testing
@testable import TestSupport
@testable import KeyCodec
@testable import ExternalStorage
@testable import BackupFormat
@testable import EmbeddedCluster
import LoopbackServer
import KVWire
import RemoteCluster

extension ServedCluster {
    /// The debug build's `cluster serve`, as the tests run it: Downloads may read the test's
    /// directory (where its backups are), which holds the cluster's.
    convenience init(directory: String, extra: [String] = [], stderr: String? = nil) throws {
        let root = (directory as NSString).deletingLastPathComponent
        try self.init(binary: consoleBinary, directory: directory, arguments: ["--storage-root", root] + extra, stderr: stderr)
    }
}

/// `--table-id-map` for the first `tables` tables of a produced backup (ids from 100): over
/// `--pd` the new ids are the operator's (TiDB's), never guessed.
func wireTableIDs(_ tables: Int) -> [String] {
    ["--table-id-map", (0..<tables).map { "\(100 + $0):\(1100 + $0)" }.joined(separator: ",")]
}

@Suite(.serialized) struct WireCLITests {
    func makeBackup(_ dir: TemporaryDirectory, rows: Int = 3_000) throws -> String {
        var o = BackupProducer.Options()
        o.tables = 2
        o.rows = rows
        o.fileSize = 128 << 10
        try BackupProducer(storage: LocalStorage(root: dir.file("backup")), options: o).produce()
        return dir.file("backup")
    }

    /// A restore over gRPC into `cluster serve`, its checksum taken by each region's leader, then
    /// the checksum in process on the served cluster.
    @Test func aRestoreOverGRPCMatchesTheBackup() throws {
        let dir = try TemporaryDirectory()
        let backup = try makeBackup(dir)
        let served = try ServedCluster(directory: dir.file("cluster"))
        let out = try runConsole(["restore", "--headless", "--json", "--storage", backup, "--pd", served.pd, "--state-dir", dir.file("state"), "--merge-size", "256K"] + wireTableIDs(2))
        #expect(out.status == 0, "\(out.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data((out.stdout.split(separator: "\n").last ?? "").utf8)) as? [String: Any])
        #expect(json["status"] as? String == "ok")
        #expect(json["kvs"] as? Int == 2 * 3_000 * 2)
        #expect(json["checksum_match"] as? Bool == true, "each region's leader took its checksum: \(out.stderr)")
        // The checksum again, alone, over the wire; and a restore told to skip it.
        let verify = try runConsole(["verify", "--storage", backup, "--pd", served.pd, "--state-dir", dir.file("state")] + wireTableIDs(2))
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
        #expect(verify.stdout.contains("checksum: each region's leader reads its keys at "), "\(verify.stdout)")
        #expect(verify.stdout.contains("checksum matched: crc64xor="), "\(verify.stdout)")
        let unchecked = try runConsole(["restore", "--headless", "--json", "--storage", backup, "--pd", served.pd, "--state-dir", dir.file("state"), "--checksum=false"] + wireTableIDs(2))
        #expect(unchecked.status == 0, "\(unchecked.stderr)")
        let skipped = try #require(try JSONSerialization.jsonObject(with: Data((unchecked.stdout.split(separator: "\n").last ?? "").utf8)) as? [String: Any])
        #expect(skipped["checksum_match"] == nil || skipped["checksum_match"] is NSNull, "--checksum=false skips it")
        #expect(served.stop() == 0)

        try expectServedClusterMatches(backup: backup, cluster: dir.file("cluster"), state: dir.file("state"))
    }

    /// A dry run over gRPC claims no state directory, takes each store's free space from PD's store
    /// stats (GetStore), and says that a TiKV cluster does not let it look for existing data.
    @Test func aDryRunOverGRPCReadsPDAndWritesNothing() throws {
        let dir = try TemporaryDirectory()
        let backup = try makeBackup(dir)
        let served = try ServedCluster(directory: dir.file("cluster"))
        let out = try runConsole(["restore", "--storage", backup, "--pd", served.pd, "--state-dir", dir.file("state"), "--dry-run", "--json"] + wireTableIDs(2))
        #expect(out.status == 0, "\(out.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.file("state")), "no state directory is claimed")
        let plan = try #require(try JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [String: Any])
        let stores = try #require(plan["stores"] as? [[String: Any]])
        #expect(stores.count == 3)
        #expect(stores.allSatisfy { (($0["available"] as? NSNumber)?.uint64Value ?? 0) > 0 }, "free space from PD: \(stores)")
        let checks = try #require(plan["checks"] as? [[String: Any]])
        let byName = Dictionary(uniqueKeysWithValues: checks.compactMap { c in (c["name"] as? String).map { ($0, c["status"] as? String ?? "") } })
        #expect(byName == ["disk": "passed", "open-files": "passed", "existing-data": "unknown", "storage": "passed", "checksums": "passed", "pd-schedulers": "passed"], "\(checks)")
        #expect(served.stop() == 0)
    }

    /// The checksum that a remote client cannot run: `verify` in process on the served cluster's
    /// own files, with the remote restore's checkpoint (and so its table ids).
    func expectServedClusterMatches(backup: String, cluster: String, state: String) throws {
        try FileManager.default.createDirectory(atPath: cluster + "/checkpoints", withIntermediateDirectories: true)
        for name in try FileManager.default.contentsOfDirectory(atPath: state + "/checkpoints") {
            try FileManager.default.copyItem(atPath: "\(state)/checkpoints/\(name)", toPath: "\(cluster)/checkpoints/\(name)")
        }
        let verify = try runConsole(["verify", "--storage", backup, "--cluster", cluster])
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
        #expect(verify.stdout.contains("checksum matched"))
    }

    @Test func badInputOverTheWireExitsWithTwoAtStart() throws {
        let dir = try TemporaryDirectory()
        let backup = try makeBackup(dir, rows: 200)
        func restore(_ extra: [String]) throws -> CommandOutput {
            try runConsole(["restore", "--headless", "--storage", backup] + extra)
        }
        // Nothing listens on a port that was just free.
        let closed = try freePort()
        let unreachable = try restore(["--pd", "127.0.0.1:\(closed)", "--state-dir", dir.file("s1")])
        #expect(unreachable.status == 2)
        #expect(unreachable.stderr.contains("cannot reach PD at 127.0.0.1:\(closed)"), "\(unreachable.stderr)")

        let old = try TestServer(path: wireClientScripts + "/old_tikv.py", [])
        let unimplemented = try restore(["--pd", "127.0.0.1:\(old.port)", "--state-dir", dir.file("s2")])
        #expect(unimplemented.status == 2)
        #expect(unimplemented.stderr.contains("does not implement ImportSST.MultiIngest"), "\(unimplemented.stderr)")
        old.stop()

        let served = try ServedCluster(directory: dir.file("cluster"))
        let viaHTTP = try runConsole(["restore", "--headless", "--storage", "http://127.0.0.1:1/backup", "--pd", served.pd, "--state-dir", dir.file("s3")])
        #expect(viaHTTP.status == 2)
        #expect(viaHTTP.stderr.contains("no HTTP"), "\(viaHTTP.stderr)")

        // A state directory keeps the checkpoint of one cluster only.
        try FileManager.default.createDirectory(atPath: dir.file("s4"), withIntermediateDirectories: true)
        try Data("12345\n".utf8).write(to: URL(fileURLWithPath: dir.file("s4/cluster-id")))
        let otherCluster = try restore(["--pd", served.pd, "--state-dir", dir.file("s4")] + wireTableIDs(2))
        #expect(otherCluster.status == 2)
        #expect(otherCluster.stderr.contains("holds the checkpoint of cluster 12345"), "\(otherCluster.stderr)")

        // Over the wire the tables' new ids are TiDB's: none is guessed.
        let guessed = try restore(["--pd", served.pd, "--state-dir", dir.file("s5")])
        #expect(guessed.status == 2)
        #expect(guessed.stderr.contains("demo.t1 (id 100) has no new id: over --pd the ids come from TiDB"), "\(guessed.stderr)")
        #expect(served.stop() == 0)
    }
}

/// A TCP port that was free a moment ago.
func freePort() throws -> Int {
    let out = try runProgram("python3", ["-c", "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])"])
    return Int(out.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 1
}

struct CertificateFailure: Error {
    var output: String
}

/// A CA and certificates signed by it, made with openssl for one test: `name.pem` and `name.key`
/// for each name, all valid for `subjectAltName` (127.0.0.1 unless told).
func makeCertificates(in dir: String, ca: String, names: [String], subjectAltName: String = "IP:127.0.0.1") throws {
    var script = """
        set -e; cd '\(dir)'
        [ -f \(ca).key ] || openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout \(ca).key -out \(ca).pem -days 2 -subj /CN=\(ca) 2>/dev/null
        printf 'subjectAltName=\(subjectAltName)\\nextendedKeyUsage=serverAuth,clientAuth\\n' > leaf.ext

        """
    for name in names {
        script += """
            openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout \(name).key -out \(name).csr -subj /CN=\(name) 2>/dev/null
            openssl x509 -req -in \(name).csr -CA \(ca).pem -CAkey \(ca).key -CAcreateserial -out \(name).pem -days 2 -extfile leaf.ext 2>/dev/null

            """
    }
    let out = try runShell(script)
    guard out.status == 0 else { throw CertificateFailure(output: out.stderr) }
}

extension WireCLITests {
    /// Mutual TLS on both sides, verified: a client with the cluster's CA and a certificate it
    /// signed restores; one without TLS, or with another CA's certificate, is refused at start.
    @Test func mutualTLSIsRequiredAndVerified() throws {
        let dir = try TemporaryDirectory()
        let backup = try makeBackup(dir, rows: 500)
        let certs = dir.file("certs")
        try FileManager.default.createDirectory(atPath: certs, withIntermediateDirectories: true)
        try makeCertificates(in: certs, ca: "ca", names: ["server", "client"])
        try makeCertificates(in: certs, ca: "other-ca", names: ["stranger"])
        func tls(_ ca: String, _ leaf: String) -> [String] { ["--ca", "\(certs)/\(ca).pem", "--cert", "\(certs)/\(leaf).pem", "--key", "\(certs)/\(leaf).key"] }
        let served = try ServedCluster(directory: dir.file("cluster"), extra: tls("ca", "server"))

        let trusted = try runConsole(["restore", "--headless", "--json", "--storage", backup, "--pd", served.pd, "--state-dir", dir.file("s1")] + tls("ca", "client") + wireTableIDs(2))
        #expect(trusted.status == 0, "\(trusted.stderr)")
        let plain = try runConsole(["restore", "--headless", "--storage", backup, "--pd", served.pd, "--state-dir", dir.file("s2")])
        #expect(plain.status == 2)
        #expect(plain.stderr.contains("cannot reach PD at \(served.pd)"), "\(plain.stderr)")
        let stranger = try runConsole(["restore", "--headless", "--storage", backup, "--pd", served.pd, "--state-dir", dir.file("s3")] + tls("other-ca", "stranger"))
        #expect(stranger.status == 2)
        #expect(stranger.stderr.contains("cannot reach PD at \(served.pd)"), "\(stranger.stderr)")
        let half = try runConsole(["restore", "--headless", "--storage", backup, "--pd", served.pd, "--ca", "\(certs)/ca.pem"])
        #expect(half.status == 2)
        #expect(half.stderr.contains("TLS needs all of --ca, --cert and --key"), "\(half.stderr)")
        #expect(served.stop() == 0)

        // A certificate of the same CA for another name (another service's) cannot pose as PD at
        // 127.0.0.1: the client checks the name against the address it dialled.
        try makeCertificates(in: certs, ca: "ca", names: ["impostor"], subjectAltName: "DNS:other.example")
        let impostor = try ServedCluster(directory: dir.file("cluster2"), extra: tls("ca", "impostor"))
        let fooled = try runConsole(["restore", "--headless", "--storage", backup, "--pd", impostor.pd, "--state-dir", dir.file("s4")] + tls("ca", "client") + wireTableIDs(2))
        #expect(fooled.status == 2)
        #expect(fooled.stderr.contains("cannot reach PD at \(impostor.pd)"), "\(fooled.stderr)")
        #expect(impostor.stop() == 0)
    }
}

extension WireCLITests {
    /// A server bound to every address publishes the one given with --advertise-addr (clients
    /// cannot dial 0.0.0.0), and refuses to start without it.
    @Test func theAdvertisedAddressIsWhatClientsAreTold() async throws {
        let dir = try TemporaryDirectory()
        let refused = try runConsole(["cluster", "serve", "--cluster", dir.file("c1"), "--pd", "0.0.0.0:0"])
        #expect(refused.status != 0 && refused.stderr.contains("give --advertise-addr"), "\(refused.stderr)")
        let served = try ServedCluster(binary: consoleBinary, directory: dir.file("cluster"), pd: "0.0.0.0:0", arguments: ["--advertise-addr", "127.0.0.1"])
        #expect(served.pd.hasPrefix("127.0.0.1:"), "\(served.pd)")
        let cluster = try await RemoteCluster.connect(pd: try WireAddress(parsing: served.pd), security: nil)
        let stores = await cluster.stores()
        #expect(stores.count == 3 && stores.allSatisfy { $0.address.hasPrefix("127.0.0.1:") && $0.state == .up }, "\(stores)")
        await cluster.close()
        #expect(served.stop() == 0)
    }

    /// kill -9 of a restore over gRPC, then the same command: it resumes from the state
    /// directory's checkpoint with the regions read from PD again, the data matches, and no store
    /// applied any SST twice.
    @Test func aKilledRestoreOverGRPCResumesWithoutIngestingTwice() async throws {
        let dir = try TemporaryDirectory()
        let backup = try makeBackup(dir, rows: 12_000)
        let served = try ServedCluster(directory: dir.file("cluster"))
        let args = ["restore", "--headless", "--storage", backup, "--pd", served.pd, "--state-dir", dir.file("state"), "--merge-size", "256K"] + wireTableIDs(2)
        let process = try startConsole(args + ["--rate", "1M"])
        try await killAfterThreePieces(process, checkpoints: dir.file("state/checkpoints"))

        let resumed = try runConsole(args)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stderr.contains("resuming"))
        #expect(served.stop() == 0)

        try expectServedClusterMatches(backup: backup, cluster: dir.file("cluster"), state: dir.file("state"))
        try await expectEachSSTAppliedOnce(clusterDirectory: dir.file("cluster"))
    }

    /// S3 credentials travel inside each Download's StorageBackend to the stores, which fetch the
    /// backup from S3 themselves; neither side prints or writes them anywhere.
    @Test func credentialsOverTheWireNeverAppearInAnyOutput() async throws {
        let s3 = try TestServer(script: "s3_server.py", [])
        let secret = "wJalrXUtnFEMI-K7MDENG-WIRESECRET"
        let key = "AKIAIOSFODNN7WIREKEY"
        let url = try makeS3Backup(port: s3.port, prefix: "wire", key: key, secret: secret)

        let dir = try TemporaryDirectory()
        let serveLog = dir.file("serve.log")
        let served = try ServedCluster(directory: dir.file("cluster"), extra: ["--allow-endpoint", "http://127.0.0.1:\(s3.port)"], stderr: serveLog)
        let env = ["AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret]
        let ok = try runConsole(["restore", "--headless", "--json", "--storage", url, "--pd", served.pd, "--state-dir", dir.file("state")] + wireTableIDs(2), environment: env)
        #expect(ok.status == 0, "\(ok.stderr)")
        // A backup that is not there: refused at start, with a message that names no secret.
        let denied = try runConsole(
            ["restore", "--headless", "--storage", "s3://restore-bk/missing?endpoint=http://127.0.0.1:\(s3.port)", "--pd", served.pd, "--state-dir", dir.file("state2")],
            environment: env)
        #expect(denied.status == 2, "\(denied.stderr)")
        #expect(served.stop() == 0)

        let texts = [ok.stdout, ok.stderr, denied.stdout, denied.stderr, (try? String(contentsOfFile: serveLog, encoding: .utf8)) ?? ""]
        let read = expectNoCredential(key: key, secret: secret, in: texts, filesUnder: [dir.file("cluster"), dir.file("state"), dir.file("state2")])
        #expect(read > 10)
    }
}
