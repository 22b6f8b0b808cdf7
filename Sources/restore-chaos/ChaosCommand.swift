import ArgumentParser
import Foundation
import LoopbackServer
import KeyCodec
import ExternalStorage
import ClusterAPI
import RestoreDrills

struct ChaosCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chaos",
        abstract: "Restore under a seeded random schedule of faults, once per seed; every run must match or fail exactly as scheduled.",
        discussion: "A failing seed reproduces with --seed N (make chaos SEED=N)."
    )

    @Option(name: .long, help: "Run seeds 1...N.")
    var seeds = 10

    @Option(name: .long, help: "Run this one seed only.")
    var seed: UInt64?

    @Option(name: .customLong("time-limit"), help: "Seconds a run may take before it counts as a hang.")
    var timeLimit = 120

    @Option(name: .customLong("repository"), help: "The repository root, where scripts/test-servers is.")
    var repository = FileManager.default.currentDirectoryPath

    @Flag(name: .long, help: "Keep the backup and the clusters of failed runs, and print where they are.")
    var keep = false

    func run() async throws {
        let list: [UInt64] = seed.map { [$0] } ?? Array(1...UInt64(max(1, seeds)))
        let backup = try CampaignBackup(tables: 3, rows: 4_000)
        defer { if keep { print("kept: \(backup.directory)") } else { backup.remove() } }
        var failures: [UInt64] = []
        var seconds: [Double] = []
        for seed in list {
            let schedule = ChaosSchedule(seed: seed)
            var server: LoopbackServer?
            let storage: any ExternalStorage
            if let drop = schedule.dropAfterBytes {
                let started = try LoopbackServer(path: repository + "/scripts/test-servers/static_http.py", ["--root", backup.backup, "--drop-after", "\(drop)"])
                server = started
                storage = HTTPStorage(baseURL: "http://127.0.0.1:\(started.port)/")
            } else {
                storage = LocalStorage(root: backup.backup)
            }
            var run = ChaosRun(schedule: schedule, storage: storage, clusterDirectory: backup.directory + "/cluster-\(seed)")
            run.timeLimit = .seconds(timeLimit)
            let verdict = await run.run()
            server?.stop()
            seconds.append(verdict.seconds)
            print(String(format: "chaos %@ %@ in %.1fs: %@", verdict.passed ? "PASS" : "FAIL", "seed \(seed)", verdict.seconds, verdict.outcome))
            print("  \(schedule)")
            for problem in verdict.problems { print("  problem: \(problem)") }
            fflush(nil)
            if verdict.passed {
                try? FileManager.default.removeItem(atPath: backup.directory + "/cluster-\(seed)")
            } else {
                failures.append(seed)
                // A hung run cannot be stopped from here: report what there is and end.
                if verdict.outcome == "hang" { break }
            }
        }
        let ran = seconds.count
        print(String(format: "chaos: %d runs, %d passed, %d failed, longest %.1fs", ran, ran - failures.count, failures.count, seconds.max() ?? 0))
        if !failures.isEmpty {
            throw CampaignFailed(description: "failing seeds: \(failures.map(String.init).joined(separator: " ")); reproduce with make chaos SEED=\(failures[0])")
        }
    }
}
