import ArgumentParser
import Foundation
import KeyCodec
import BackupFormat
import Synchronization

struct RandomKillCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "random-kill",
        abstract: "Kill restore-console with SIGKILL at seeded random instants, some runs twice, then resume with the same command.",
        discussion: """
            A window that no failpoint marks is where crash bugs hide. Each run draws one or two kill \
            instants from its seed (printed, so `--seed S --runs 1` repeats it), with one core kept \
            busy beside the restore. After the last kill the same command must exit 0 with a matching \
            checksum, every store must reopen (our open and `ldb`), and no store may have applied an \
            SST twice.
            """
    )

    @Option(name: .long, help: "How many runs.")
    var runs = 100

    @Option(name: .long, help: "The seed of the first run; run i uses seed + i.")
    var seed: UInt64 = 1

    @Option(name: .long, help: "The restore-console binary (default: next to this one).")
    var binary: String?

    @Flag(name: .long, inversion: .prefixedNo, help: "Keep one core busy during the runs.")
    var busyCore = true

    func run() async throws {
        let console = binary ?? URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("restore-console").path
        let backup = try CampaignBackup(tables: 3, rows: 4_000)
        defer { backup.remove() }
        let busy = busyCore ? BusyCore() : nil
        defer { busy?.stop() }

        // One whole restore first: it must pass, and its length bounds the kill instants.
        let calibration = backup.directory + "/cluster-calibration"
        let started = ContinuousClock.now
        let whole = ChildProcess.run(console, ResumeCheck.arguments(backup: backup.backup, cluster: calibration), environment: [:])
        let length = ContinuousClock.now - started
        guard whole.status == 0 else { throw CampaignFailed(description: "the restore without a kill failed (\(whole.status)): \(whole.stderr.suffix(600))") }
        try? FileManager.default.removeItem(atPath: calibration)
        let seconds = Double(length.components.seconds) + Double(length.components.attoseconds) / 1e18
        print(String(format: "random-kill: a whole restore takes %.2f s; kills fall in (0, %.2f s]", seconds, seconds))

        var failures: [UInt64] = []
        var killedCount = 0
        for i in 0..<UInt64(max(runs, 0)) {
            let runSeed = seed + i
            let plan = KillPlan(seed: runSeed, restoreSeconds: seconds)
            let cluster = backup.directory + "/cluster-seed-\(runSeed)"
            let arguments = ResumeCheck.arguments(backup: backup.backup, cluster: cluster)
            var kills: [String] = []
            for instant in plan.instants {
                let run = ChildProcess.run(console, arguments, environment: [:], killAfter: instant)
                kills.append(String(format: "%.3fs%@", instant, run.signal == SIGKILL ? "" : " (finished first)"))
                if run.signal == SIGKILL { killedCount += 1 }
            }
            let problems = await ResumeCheck.resume(console: console, arguments: arguments, cluster: cluster)
            print("random-kill \(problems.isEmpty ? "PASS" : "FAIL") seed=\(runSeed) kills=\(kills.joined(separator: ","))")
            for problem in problems { print("  problem: \(problem)") }
            fflush(nil)
            if problems.isEmpty {
                try? FileManager.default.removeItem(atPath: cluster)
            } else {
                failures.append(runSeed)
                let kept = NSTemporaryDirectory() + "restore-chaos-failed-seed-\(runSeed)"
                try? FileManager.default.removeItem(atPath: kept)
                try? FileManager.default.moveItem(atPath: cluster, toPath: kept)
                print("  cluster kept in \(kept)")
            }
        }
        print("random-kill: \(runs) runs, \(killedCount) kills, \(runs - failures.count) resumed with a matching checksum")
        if !failures.isEmpty { throw CampaignFailed(description: "failing seeds: \(failures.map(String.init).joined(separator: " "))") }
    }
}

/// The kill instants of one run, from its seed: one kill, or (one run in three) a second one
/// during the first resume.
struct KillPlan {
    var instants: [Double]

    init(seed: UInt64, restoreSeconds: Double) {
        var random = SyntheticRandom(seed: seed)
        func uniform(_ upper: Double) -> Double { max(0.01, Double(random.next() % 1_000_000) / 1_000_000 * upper) }
        instants = [uniform(restoreSeconds)]
        if random.next() % 3 == 0 { instants.append(uniform(restoreSeconds)) }
    }
}

/// A thread that spins until stopped, so that the restore shares the machine with a busy core.
final class BusyCore: Sendable {
    private let running = Atomic<Bool>(true)

    init() {
        Thread.detachNewThread { [self] in
            var x: UInt64 = 1
            while running.load(ordering: .relaxed) { x = x &* 6364136223846793005 &+ 1 }
            _ = x
        }
    }

    func stop() { running.store(false, ordering: .relaxed) }
}
