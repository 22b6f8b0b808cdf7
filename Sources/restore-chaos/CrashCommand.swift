import ArgumentParser
import Foundation
import Failpoints
import KeyCodec
import ClusterAPI
import EmbeddedCluster

struct CrashCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "crash",
        abstract: "Kill restore-console with SIGKILL at crash points spread over a restore, then resume each with the same command.",
        discussion: "Every resumed run must end with a matching checksum, and no store may have applied an SST twice."
    )

    /// Twenty-three points over the phases of a restore of the campaign backup: a point is `phase:n`,
    /// the n-th pass of that failpoint (`CrashPoint`).
    static let allPoints = [
        "split:1", "split:4", "split:9",
        "download:1", "download:5", "download:20", "download:60",
        "rewrite:1", "rewrite:3", "rewrite:8", "rewrite:16",
        "ingestLinked:1", "ingestLinked:4", "ingestLinked:10",
        "ingest:1", "ingest:2", "ingest:5", "ingest:12", "ingest:25", "ingest:40",
        "checksum:1", "checksum:3", "checksum:6",
    ]

    @Option(name: .long, help: "Use the first N points, spread over the phases (at most 23).")
    var points = 23

    @Option(name: .long, help: "The restore-console binary (default: next to this one).")
    var binary: String?

    func run() async throws {
        let console = binary ?? URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("restore-console").path
        let backup = try CampaignBackup(tables: 3, rows: 4_000)
        defer { backup.remove() }
        var failures: [String] = []
        let chosen = Self.spread(points)
        for point in chosen {
            let cluster = backup.directory + "/cluster-" + point.replacingOccurrences(of: ":", with: "-")
            let problems = await crashAndResume(console: console, backup: backup.backup, cluster: cluster, point: point)
            print("crash \(problems.isEmpty ? "PASS" : "FAIL") \(point)")
            for problem in problems { print("  problem: \(problem)") }
            fflush(nil)
            if problems.isEmpty { try? FileManager.default.removeItem(atPath: cluster) } else { failures.append(point) }
        }
        print("crash: \(chosen.count) points, \(chosen.count - failures.count) resumed with a matching checksum")
        if !failures.isEmpty { throw CampaignFailed(description: "failing points: \(failures.joined(separator: " "))") }
    }

    /// `count` points taken from the phases in turn, so that a few still cover every phase.
    static func spread(_ count: Int) -> [String] {
        var byPhase = CrashPoint.allCases.map { phase in allPoints.filter { $0.hasPrefix(phase.rawValue + ":") }[...] }
        var chosen: [String] = []
        while chosen.count < min(max(count, 1), allPoints.count) {
            for i in byPhase.indices { if chosen.count < count, let next = byPhase[i].popFirst() { chosen.append(next) } }
        }
        return chosen
    }

    private func crashAndResume(console: String, backup: String, cluster: String, point: String) async -> [String] {
        let arguments = ResumeCheck.arguments(backup: backup, cluster: cluster)
        let killed = ChildProcess.run(console, arguments, environment: [CrashPoint.environmentVariable: point])
        guard killed.signal == SIGKILL else {
            return ["the restore was not killed at \(point) (exit status \(killed.status)): the point was never reached"]
        }
        return await ResumeCheck.resume(console: console, arguments: arguments, cluster: cluster)
    }
}

/// What every crash campaign checks after the last kill: the same command resumes to exit 0 with a
/// matching checksum, every store reopens (with our open and with RocksDB's own `ldb`), and no
/// store applied an SST twice (its apply records, not the Raft log).
enum ResumeCheck {
    static func arguments(backup: String, cluster: String) -> [String] {
        ["restore", "--headless", "--json", "--storage", backup, "--cluster", cluster, "--merge-size", "256K"]
    }

    static func resume(console: String, arguments: [String], cluster: String) async -> [String] {
        let resumed = ChildProcess.run(console, arguments, environment: [:])
        var problems: [String] = []
        if resumed.status != 0 { problems.append("the resumed restore exited with \(resumed.status): \(resumed.stderr.suffix(600))") }
        if !resumed.stdout.contains("\"checksum_match\":true") { problems.append("the resumed restore did not report a matching checksum") }
        let storeDirectories = ((try? FileManager.default.contentsOfDirectory(atPath: cluster + "/stores")) ?? []).sorted()
        if storeDirectories.isEmpty { problems.append("no store directory in \(cluster)") }
        for store in storeDirectories {
            let ldb = ChildProcess.run("/usr/bin/env", ["ldb", "--db=\(cluster)/stores/\(store)/db", "--column_family=write", "scan", "--max_keys=1"], environment: [:])
            if ldb.status != 0 { problems.append("ldb cannot open store \(store): \(ldb.stderr.suffix(400))") }
        }
        do {
            let opened = try await Cluster.open(directory: cluster)
            for store in opened.stores.values.sorted(by: { $0.id < $1.id }) {
                for (uuid, count) in try store.appliedIngestCounts() where count > 1 {
                    problems.append("store \(store.id) applied SST \(uuid) \(count) times")
                }
            }
            await opened.close()
        } catch {
            problems.append("cannot reopen the cluster: \(error)")
        }
        return problems
    }
}

/// A child process run to its end, with its output captured in files (no pipe to fill up).
struct ChildProcess {
    var status: Int32
    var signal: Int32?
    var stdout: String
    var stderr: String

    /// With `killAfter`, the child gets SIGKILL once that many seconds have passed, if it still runs.
    static func run(_ executable: String, _ arguments: [String], environment: [String: String], killAfter: Double? = nil) -> ChildProcess {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let out = NSTemporaryDirectory() + "restore-chaos-\(UUID().uuidString)"
        _ = FileManager.default.createFile(atPath: out + ".out", contents: nil)
        _ = FileManager.default.createFile(atPath: out + ".err", contents: nil)
        defer {
            unlink(out + ".out")
            unlink(out + ".err")
        }
        do {
            process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: out + ".out"))
            process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: out + ".err"))
            try process.run()
        } catch {
            return ChildProcess(status: -1, signal: nil, stdout: "", stderr: "cannot start \(executable): \(error)")
        }
        if let killAfter {
            // The campaign's point is the instant: sleeping until it is the synchronisation.
            Thread.sleep(forTimeInterval: killAfter)
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
        process.waitUntilExit()
        let signaled = process.terminationReason == .uncaughtSignal
        return ChildProcess(
            status: signaled ? -1 : process.terminationStatus, signal: signaled ? process.terminationStatus : nil,
            stdout: (try? String(contentsOfFile: out + ".out", encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOfFile: out + ".err", encoding: .utf8)) ?? "")
    }
}
